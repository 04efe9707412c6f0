"""Graceful shutdown (DESIGN §9): on SIGTERM the node tells MQTT 5 clients why (DISCONNECT 0x8B), closes every
connection and exits 0 promptly."""

import signal
import time

import raw_mqtt
from mqtt_helpers import mqhub_only, unique_id

SERVER_SHUTTING_DOWN = 0x8B


def connected(broker, version):
    client = raw_mqtt.RawClient(broker.host, broker.port)
    _, code, _ = client.connect(version=version, client_id=unique_id("s"))
    assert code == 0, f"expected CONNACK success, got 0x{code:02x}"
    return client


@mqhub_only("mosquitto closes without a DISCONNECT on SIGTERM")
def test_sigterm_sends_disconnect_0x8b_to_mqtt5_clients_and_exits_0(start_broker):
    broker = start_broker()
    v5 = connected(broker, 5)
    v311 = connected(broker, 4)
    started = time.monotonic()
    code = broker.stop(signal.SIGTERM)
    assert code == 0, f"expected exit code 0 after SIGTERM, got {code}"
    assert time.monotonic() - started < 5, "expected the node to stop within 5 s of SIGTERM"
    packets = v5.wait_closed(timeout=2)
    assert packets is not None, "expected the MQTT 5 connection to be closed"
    assert [p[0] for p in packets] == [raw_mqtt.DISCONNECT], f"expected one DISCONNECT, got {packets}"
    reason, _ = raw_mqtt.parse_disconnect(packets[0][2])
    assert reason == SERVER_SHUTTING_DOWN, f"expected DISCONNECT 0x8B, got 0x{reason:02x}"
    # 3.1.1 has no server DISCONNECT: the connection is just closed.
    assert v311.wait_closed(timeout=2) == [], "expected the 3.1.1 connection to be closed without a packet"


def test_sigint_stops_an_idle_node_with_exit_0(start_broker):
    broker = start_broker()
    assert broker.stop(signal.SIGINT) == 0, "expected exit code 0 after SIGINT"
