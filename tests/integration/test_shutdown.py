"""Graceful shutdown (DESIGN §9): on SIGTERM the node tells MQTT 5 clients why (DISCONNECT 0x8B), closes every
connection and exits 0 promptly (10 s allows for a loaded machine)."""

import signal
import threading
import time

import raw_mqtt
from mqtt_helpers import mosquitto_differs, unique_id, wait_until

SERVER_SHUTTING_DOWN = 0x8B


def connected(broker, version):
    client = raw_mqtt.RawClient(broker.host, broker.port)
    _, code, _ = client.connect(version=version, client_id=unique_id("s"))
    assert code == 0, f"expected CONNACK success, got 0x{code:02x}"
    return client


@mosquitto_differs("it closes without a DISCONNECT on SIGTERM; mqhub sends 0x8B (a MAY in MQTT 5, DESIGN §9)")
def test_sigterm_sends_disconnect_0x8b_to_mqtt5_clients_and_exits_0(start_broker):
    broker = start_broker()
    v5 = connected(broker, 5)
    v311 = connected(broker, 4)
    started = time.monotonic()
    code = broker.stop(signal.SIGTERM, timeout=30)
    assert code == 0, f"expected exit code 0 after SIGTERM, got {code}"
    assert time.monotonic() - started < 10, "expected the node to stop within 10 s of SIGTERM"
    packets = v5.wait_closed(timeout=2)
    assert packets is not None, "expected the MQTT 5 connection to be closed"
    assert [p[0] for p in packets] == [raw_mqtt.DISCONNECT], f"expected one DISCONNECT, got {packets}"
    reason, _ = raw_mqtt.parse_disconnect(packets[0][2])
    assert reason == SERVER_SHUTTING_DOWN, f"expected DISCONNECT 0x8B, got 0x{reason:02x}"
    # 3.1.1 has no server DISCONNECT: the connection is just closed.
    assert v311.wait_closed(timeout=2) == [], "expected the 3.1.1 connection to be closed without a packet"


@mosquitto_differs("it closes without a DISCONNECT on SIGTERM; mqhub sends 0x8B (a MAY in MQTT 5, DESIGN §9)")
def test_clients_connecting_during_sigterm_each_get_0x8b_or_no_connack(start_broker):
    """A client accepted just as the listeners stop must not be missed by the shutdown: each one that got its
    CONNACK gets DISCONNECT 0x8B, none is left open, and the node still exits 0 promptly. Each thread keeps only
    its latest client open, so connects are still under way when SIGTERM comes."""
    broker = start_broker()
    stop = threading.Event()
    open_clients = []  # per thread, the last client that got CONNACK success
    acknowledged = [0]
    lock = threading.Lock()

    def connect_until_stopped():
        latest = None
        while not stop.is_set():
            try:
                client = raw_mqtt.RawClient(broker.host, broker.port, timeout=2)
            except OSError:
                continue  # refused once the listener is closed: it goes on until told to stop
            try:
                client.send(raw_mqtt.connect(version=5, client_id=unique_id("storm")))
                packet = client.read_packet(timeout=2)
            except (raw_mqtt.Closed, OSError):
                client.close()
                continue
            if packet is None or packet[0] != raw_mqtt.CONNACK or raw_mqtt.parse_connack(packet[2])[1] != 0:
                client.close()
                continue
            with lock:
                acknowledged[0] += 1
            if latest is not None:
                try:
                    latest.send(raw_mqtt.disconnect())
                except OSError:
                    pass  # the shutdown closed it already
                latest.close()
            latest = client
        if latest is not None:
            with lock:
                open_clients.append(latest)

    threads = [threading.Thread(target=connect_until_stopped) for _ in range(4)]
    for thread in threads:
        thread.start()
    # SIGTERM once connects are well under way (each thread then always has one in progress).
    under_way = wait_until(lambda: acknowledged[0] >= 10, timeout=10)
    started = time.monotonic()
    code = broker.stop(signal.SIGTERM, timeout=30)
    stop.set()
    for thread in threads:
        thread.join()
    assert under_way, f"expected 10 clients to connect before SIGTERM, got {acknowledged[0]}"
    assert code == 0, f"expected exit code 0 after SIGTERM, got {code}"
    assert time.monotonic() - started < 10, "expected the node to stop within 10 s of SIGTERM"
    for client in open_clients:
        packets = client.wait_closed(timeout=2)
        client.close()
        assert packets is not None, "expected every acknowledged connection to be closed"
        assert [p[0] for p in packets] == [raw_mqtt.DISCONNECT], f"expected one DISCONNECT, got {packets}"
        reason, _ = raw_mqtt.parse_disconnect(packets[0][2])
        assert reason == SERVER_SHUTTING_DOWN, f"expected DISCONNECT 0x8B, got 0x{reason:02x}"


def test_sigint_stops_an_idle_node_with_exit_0(start_broker):
    broker = start_broker()
    assert broker.stop(signal.SIGINT) == 0, "expected exit code 0 after SIGINT"
