"""The node's command line and TOML configuration (README, "Configuration reference"; DESIGN §9): options take
effect, flags override the file, and bad input stops the start with a clear message instead of being ignored."""

import os
import socket
import subprocess
import tempfile

import raw_mqtt
from conftest import HOST, REPO
from mqtt_helpers import mosquitto_pub, mqhub_only, unique_id
from mqtt_helpers import subs  # noqa: F401,F811 (pytest fixtures)

pytestmark = mqhub_only("mqhub's own command line")

SERVER_KEEP_ALIVE = raw_mqtt.SERVER_KEEP_ALIVE
MQHUB = os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))


def server_keep_alive(broker):
    client = raw_mqtt.RawClient(broker.host, broker.port)
    _, code, props = client.connect(version=5, client_id="config", keepalive=60)
    client.close()
    assert code == 0, f"expected CONNACK success, got 0x{code:02x}"
    return dict(props).get(SERVER_KEEP_ALIVE)


NO_LISTENERS = ["--mqtt-port", "0", "--mqtts-port", "0", "--ws-port", "0", "--wss-port", "0", "--http-port", "0",
                "--cluster-port", "0"]


def run_node(*args, timeout=10):
    """Runs the node to its exit with every listener off, so that no port clash can stop it: a start refused
    here was refused for what `args` say."""
    # A node that gets as far as opening its database must not leave one in the source tree.
    with tempfile.TemporaryDirectory(prefix="mqhub-test-") as data_dir:
        own_dir = [] if "--data-dir" in args else ["--data-dir", data_dir]
        return subprocess.run([MQHUB, *NO_LISTENERS, *own_dir, *args], capture_output=True, text=True,
                              timeout=timeout)


def test_option_from_the_config_file_takes_effect(start_broker, tmp_path):
    config = tmp_path / "mqhub.toml"
    config.write_text("max-keepalive = 5\n")
    broker = start_broker(["--config", str(config)])
    assert server_keep_alive(broker) == 5, "expected Server Keep Alive 5 from max-keepalive in the TOML file"


def test_flag_overrides_the_config_file(start_broker, tmp_path):
    config = tmp_path / "mqhub.toml"
    config.write_text("max-keepalive = 5\n")
    broker = start_broker(["--config", str(config), "--max-keepalive", "7"])
    assert server_keep_alive(broker) == 7, "expected the flag's Server Keep Alive 7 to win over the file's 5"


def test_one_io_and_one_actor_thread_still_carry_every_qos(start_broker, subs):
    # --actor-threads and --io-threads size the two pools; one thread each must not deadlock a round trip
    # that needs both (CONNECT, SUBSCRIBE, QoS 2 through the session and the shard, and back).
    broker = start_broker(["--actor-threads", "1", "--io-threads", "1"])
    t = f"config/{unique_id('t')}"
    sub = subs(broker, t, qos=2, count=3)
    for qos in (0, 1, 2):
        mosquitto_pub(broker, t, f"qos {qos}", qos=qos)
    lines = sub.read(3)
    assert lines == ["qos 0", "qos 1", "qos 2"], f"expected the three messages in order, got {lines}"


def test_unknown_key_in_the_config_file_stops_the_start(tmp_path):
    config = tmp_path / "mqhub.toml"
    config.write_text("max_keep_alive = 5\n")
    result = run_node("--config", str(config))
    assert result.returncode != 0, "expected a misspelt config key to stop the start"
    # The command-line parser's own error (CLI11 calls every config file INI), not any later failure.
    assert "INI was not able to parse max_keep_alive" in result.stderr, \
        f"expected the error to name the unknown key, got exit code {result.returncode}: {result.stderr!r}"


def test_unknown_flag_stops_the_start_with_a_message():
    result = run_node("--no-such-flag")
    assert result.returncode != 0, "expected an unknown flag to stop the start"
    assert "The following argument was not expected: --no-such-flag" in result.stderr, \
        f"expected the error to name the flag, got exit code {result.returncode}: {result.stderr!r}"


def test_out_of_range_value_stops_the_start():
    result = run_node("--receive-maximum", "0")
    assert result.returncode != 0, "expected --receive-maximum 0 to be refused (MQTT 5 forbids 0)"
    assert "--receive-maximum: Value 0 not in range 1 to 65535" in result.stderr, \
        f"expected the error to name the flag and its range, got exit code {result.returncode}: {result.stderr!r}"


def test_unusable_data_dir_stops_the_start_with_a_message(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    result = run_node("--data-dir", str(blocker), "--durability", "sync")
    assert result.returncode == 1, f"expected exit code 1, got {result.returncode}"
    assert "data directory" in result.stderr, "expected the message to name the data directory"
    assert blocker.read_text().startswith("a file"), "the node must not touch what is in the way"


def test_port_in_use_stops_the_start_with_a_message(tmp_path):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([MQHUB, "--data-dir", str(tmp_path), "--bind", HOST, "--mqtt-port", str(port),
                                 "--mqtts-port", "0", "--ws-port", "0", "--wss-port", "0", "--http-port", "0",
                                 "--cluster-port", "0"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1, f"expected exit code 1 when the port is taken, got {result.returncode}"
    assert "cannot listen" in result.stderr, "expected a message saying the node cannot listen"
