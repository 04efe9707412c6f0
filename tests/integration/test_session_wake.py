"""Clients whose session holds nothing yet: a clean session that ends with its connection, before the client
subscribes or sends anything that needs session state. mqhub gives such a session no actor until then (README,
Layout: dormant sessions); these tests check that clients cannot tell, whichever state their session is in when
something happens to it."""

import re

import pytest

import raw_mqtt
from mqtt_helpers import V5, mosquitto_deviates, mqhub_only, unique_id, wait_until
from mqtt_helpers import clients, raws  # noqa: F401,F811 (pytest fixtures)

RAW_VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]
CONNECTED_TOPIC = "$SYS/broker/clients/connected"


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_a_subscribe_sent_with_the_connect_is_answered_after_the_connack(broker, clients, raws, version):
    t = f"wake/{unique_id('t')}"
    r = raws(broker, version)
    # One write: the SUBSCRIBE reaches the broker before its CONNACK is even sent, so the session that answers
    # it must be made while the packet waits.
    r.sock.send(raw_mqtt.connect(unique_id("w"), version=version) + raw_mqtt.subscribe(1, [(t, 1)], version))
    first = r.sock.read_packet()
    assert first is not None and first[0] == raw_mqtt.CONNACK, \
        f"expected the CONNACK first (MQTT-3.2.0-1), got {first}"
    _, body = r.expect(raw_mqtt.SUBACK)
    packet_id, codes, _ = raw_mqtt.parse_suback(body, version)
    assert (packet_id, codes) == (1, [1]), f"expected SUBACK for packet id 1 granting QoS 1, got {packet_id} {codes}"
    clients(broker, protocol=V5).publish(t, b"after", qos=1)
    m = r.expect_publish()
    assert (m.topic, m.payload) == (t, b"after"), f"expected the message on {t}, got {m.topic!r} {m.payload!r}"


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_a_client_taken_over_while_its_subscribe_is_on_the_way_keeps_nothing(broker, clients, raws, version):
    cid, t = unique_id("w"), f"wake/{unique_id('t')}"
    first = raws(broker, version)
    first.connect(cid)
    # The SUBSCRIBE and the takeover race: whichever wins, the subscription must not outlive the first
    # connection (clean sessions, MQTT-3.1.2-6), and the second connection owns the client id.
    first.sock.send(raw_mqtt.subscribe(1, [(t, 0)], version))
    second = raws(broker, version)
    session_present, code, _ = second.connect(cid)
    assert (code, session_present) == (0, False), \
        f"expected the takeover accepted with a new session (Session Present 0), got 0x{code:02x} {session_present}"
    assert first.wait_closed(3.0) is not None, "expected the first connection closed by the takeover"
    clients(broker, protocol=V5).publish(t, b"nobody", qos=1)
    second.sock.send(raw_mqtt.pingreq())
    packet = second.sock.read_packet()
    assert packet is not None and packet[0] == raw_mqtt.PINGRESP, \
        f"expected only a PINGRESP on the second connection, got {packet}"


@mosquitto_deviates("it closes the taken-over connection without a DISCONNECT packet")
def test_a_persistent_session_takes_over_a_client_that_only_connected(broker, clients, raws):
    cid, will_topic = unique_id("w"), f"will/{unique_id('t')}"
    observer = clients(broker, protocol=V5)
    observer.subscribe(will_topic, 1)
    first = raws(broker, 5)
    first.connect(cid, will=dict(topic=will_topic, payload=b"gone", qos=1, retain=False, properties=()))
    second = raws(broker, 5)
    expiry = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, 300)]
    session_present, code, _ = second.connect(cid, clean=False, properties=expiry)
    assert (code, session_present) == (0, False), f"expected a new session, got 0x{code:02x} {session_present}"
    packets = first.wait_closed(3.0)
    assert packets is not None, "expected the first connection closed by the takeover"
    reasons = [raw_mqtt.parse_disconnect(body)[0] for ptype, _, body in packets if ptype == raw_mqtt.DISCONNECT]
    assert reasons == [0x8E], f"expected DISCONNECT 0x8E (MQTT-3.1.4-3), got {reasons}"
    m = observer.receive(what="the first connection's will (its session ended with the takeover)")
    assert m.payload == b"gone", f"expected the will b'gone', got {m.payload!r}"
    second.subscribe(1, [(f"wake/{unique_id('t')}", 1)])
    second.disconnect()
    again = raws(broker, 5)
    session_present, code, _ = again.connect(cid, clean=False, properties=expiry)
    assert (code, session_present) == (0, True), \
        f"expected the persistent session resumed (Session Present 1), got 0x{code:02x} {session_present}"


def connected_count(watcher, at_least_updates=1):
    """The newest $SYS/broker/clients/connected value after at least one fresh periodic update."""
    value = None
    for _ in range(at_least_updates + 1):  # the retained value, then the periodic updates
        m = watcher.receive(timeout=4, what=f"a {CONNECTED_TOPIC} update")
        assert re.fullmatch(rb"\d+", m.payload), f"expected a decimal count, got {m.payload!r}"
        value = int(m.payload)
    return value


@mqhub_only("$SYS/broker/clients/connected is published every --sys-interval seconds")
def test_clients_connected_counts_each_client_once_whether_or_not_its_session_woke(start_broker, clients, raws):
    broker = start_broker(["--sys-interval", "1"])
    watcher = clients(broker, protocol=V5)
    watcher.subscribe(CONNECTED_TOPIC, 0)
    only_connected = [raws(broker, 5) for _ in range(2)]
    for r in only_connected:
        r.connect(unique_id("idle"))
    subscribed = raws(broker, 4)
    subscribed.connect(unique_id("sub"))
    subscribed.subscribe(1, [(f"wake/{unique_id('t')}", 0)])
    # The watcher, two clients that only connected and one whose session woke for its SUBSCRIBE.
    assert wait_until(lambda: connected_count(watcher) == 4, timeout=8), \
        f"expected {CONNECTED_TOPIC} to reach 4, last {connected_count(watcher)}"
    for r in [*only_connected, subscribed]:
        r.abort()
    assert wait_until(lambda: connected_count(watcher) == 1, timeout=8), \
        f"expected {CONNECTED_TOPIC} back to 1 after three clients left, last {connected_count(watcher)}"
