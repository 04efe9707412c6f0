"""MQTT.js (npm package mqtt 5, the usual browser and Node.js client) against the node (issue 4).

tests/js/mqttjs_client.mjs connects over ws, wss or mqtts, subscribes and publishes, and prints JSON lines; these
tests run it with Node.js and read them. The package is installed by tools/setup (`npm ci --prefix tests/js`
from the committed package-lock.json). Under mosquitto the WebSocket cases are skipped (conftest: no
libwebsockets in Debian's build); the mqtts cases run there.
"""

import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from mqtt_helpers import V5, mosquitto_deviates, unique_id
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)
from tls_helpers import issue_cert, make_ca, sign

JS_DIR = os.path.join(REPO, "tests", "js")
SCRIPT = os.path.join(JS_DIR, "mqttjs_client.mjs")
VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


@pytest.fixture(scope="module", autouse=True)
def mqttjs_installed():
    # A missing install is a broken setup, not a reason to skip: CI must run these.
    if shutil.which("node") is None:
        pytest.fail("Node.js is missing: run tools/setup (Debian packages nodejs npm)")
    if not os.path.exists(os.path.join(JS_DIR, "node_modules", "mqtt", "package.json")):
        pytest.fail("MQTT.js is not installed: run tools/setup (npm ci --prefix tests/js)")


def url(broker, network):
    scheme = {"mqtt": "mqtt", "mqtts": "mqtts", "ws": "ws", "wss": "wss"}[network]
    path = "/mqtt" if network in ("ws", "wss") else ""
    return f"{scheme}://127.0.0.1:{broker.ports[network]}{path}"


class MqttJs:
    """One run of mqttjs_client.mjs: `events` are its JSON lines, `done` the last one."""

    def __init__(self, broker, network, mode, topic="", qos=1, count=1, version=5, ca="hub", cert=None,
                 timeout_ms=10000, topic_alias_maximum=0):
        cmd = ["node", SCRIPT, "--url", url(broker, network), "--mode", mode, "--qos", str(qos),
               "--count", str(count), "--protocol-version", str(version), "--timeout-ms", str(timeout_ms),
               "--client-id", unique_id("js")]
        if topic:
            cmd += ["--topic", topic]
        if topic_alias_maximum:
            cmd += ["--topic-alias-maximum", str(topic_alias_maximum)]
        if ca == "hub":
            ca = broker.ca_path
        if ca and network in ("mqtts", "wss"):
            cmd += ["--ca", ca]
        if cert:
            cmd += ["--cert", cert[0], "--key", cert[1]]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events = []

    def wait_for(self, event, timeout=15):
        """Reads lines until one with this event (returned), or the end of the output (AssertionError)."""
        for line in self.proc.stdout:
            self.events.append(json.loads(line))
            if self.events[-1]["event"] == event:
                return self.events[-1]
        raise AssertionError(f"expected MQTT.js to report {event!r}; it printed {self.events}, "
                             f"stderr: {self.proc.stderr.read()[-2000:]}")

    def finish(self, timeout=30):
        out, err = self.proc.communicate(timeout=timeout)
        self.events += [json.loads(line) for line in out.splitlines() if line.strip()]
        done = [e for e in self.events if e["event"] == "done"]
        assert done, f"expected MQTT.js to print a 'done' line; got {self.events}, stderr: {err[-2000:]}"
        self.done = done[-1]
        return self

    def messages(self):
        return [e["payload"] for e in self.events if e["event"] == "message"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run(broker, network, mode, **kwargs):
    return MqttJs(broker, network, mode, **kwargs).finish()


@pytest.fixture
def ws_broker(start_broker):
    return start_broker(networks=("mqtts", "ws", "wss"))


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(networks=("mqtts",))


@pytest.mark.parametrize("network", ["ws", "wss"])
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mqttjs_round_trip_over_websocket(ws_broker, network, version, qos):
    topic = f"js/{unique_id('t')}"
    result = run(ws_broker, network, "roundtrip", topic=topic, qos=qos, count=5, version=version)
    # Issue 4: MQTT.js (a browser-style WebSocket client, subprotocol mqtt on /mqtt, wss checked against the
    # hub CA) connects, subscribes and gets its five messages back in order.
    assert result.done["ok"], f"expected the MQTT.js round trip over {network} to succeed: {result.events}"
    assert result.messages() == [f"mqttjs {i}" for i in range(5)], \
        f"expected mqttjs 0..4 in order over {network}, got {result.messages()}"


@pytest.mark.parametrize("version", VERSIONS)
def test_mqttjs_round_trip_over_mutual_tls(tls_broker, tmp_path, version):
    cert = issue_cert(tls_broker, "js-device", tmp_path)
    result = run(tls_broker, "mqtts", "roundtrip", topic=f"js/mtls/{unique_id('t')}", count=3, version=version,
                 cert=cert)
    assert result.done["ok"], f"expected MQTT.js over mTLS with an issued certificate to succeed: {result.events}"
    assert result.messages() == ["mqttjs 0", "mqttjs 1", "mqttjs 2"], f"got {result.messages()}"


@pytest.mark.parametrize("network", ["mqtts", "wss"])
def test_mqttjs_refuses_a_server_it_does_not_trust(start_broker, tmp_path, network):
    broker = start_broker(networks=(network,))
    other_ca, _ = make_ca(str(tmp_path), cn="some other CA")
    for ca in (None, other_ca):
        result = run(broker, network, "connect", ca=ca, timeout_ms=5000)
        # rejectUnauthorized: neither Node's default CAs nor another CA vouch for the hub's certificate.
        assert not result.done["ok"], f"expected MQTT.js trusting {ca or 'the default CAs'} to refuse the " \
                                      f"server over {network}: {result.events}"
        assert "certificate" in result.done.get("error", ""), \
            f"expected a certificate error, got {result.done}"


@mosquitto_deviates("does not ask for a client certificate when it is optional, so it accepts the connection")
@pytest.mark.parametrize("version", VERSIONS)
def test_mqttjs_with_a_certificate_from_another_ca_is_not_authorized(tls_broker, tmp_path, version):
    other_ca = make_ca(str(tmp_path / "other"), cn="some other CA")
    cert = sign(*other_ca, str(tmp_path / "other"), "js-intruder")
    result = run(tls_broker, "mqtts", "connect", cert=cert, version=version, timeout_ms=5000)
    # Issue 4 contract: CONNACK "not authorized" (MQTT 5 0x87 = 135, 3.1.1 return code 5), which MQTT.js reports
    # as an error with that code.
    expected = 135 if version == 5 else 5
    assert not result.done["ok"], f"expected the connection to be refused: {result.events}"
    assert result.done.get("code") == expected, f"expected MQTT.js to report code {expected}, got {result.done}"


def test_mqttjs_on_websocket_and_paho_on_tls_reach_each_other(ws_broker, clients):
    topic = f"js/cross/{unique_id('t')}"
    # MQTT.js subscribes over wss; paho publishes over mqtts.
    js_sub = MqttJs(ws_broker, "wss", "sub", topic=topic + "/to-js", count=2, qos=1)
    try:
        js_sub.wait_for("subscribed")
        paho_pub = clients(ws_broker, protocol=V5, network="mqtts")
        paho_pub.publish(topic + "/to-js", b"from paho 1", qos=1)
        paho_pub.publish(topic + "/to-js", b"from paho 2", qos=1)
        js_sub.finish()
    finally:
        js_sub.kill()
    assert js_sub.done["ok"] and js_sub.messages() == ["from paho 1", "from paho 2"], \
        f"expected MQTT.js over wss to get paho's two TLS publishes, got {js_sub.events}"
    # paho subscribes over plain MQTT; MQTT.js publishes over ws.
    paho_sub = clients(ws_broker, protocol=V5)
    paho_sub.subscribe(topic + "/to-paho", 1)
    result = run(ws_broker, "ws", "pub", topic=topic + "/to-paho", count=3, qos=1)
    assert result.done["ok"], f"expected MQTT.js to publish over ws: {result.events}"
    got = [m.payload for m in paho_sub.receive_n(3, what="MQTT.js's messages")]
    assert got == [b"mqttjs 0", b"mqttjs 1", b"mqttjs 2"], f"expected MQTT.js's messages in order, got {got}"
