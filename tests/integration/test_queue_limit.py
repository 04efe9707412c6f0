"""Per-session queue limit (`--session-queue-limit`): an offline session keeps at most that many messages, QoS 0
goes first, and every drop is counted in `$SYS/broker/messages/dropped` (README, Configuration reference).

All tests need mqhub's flags (the harness starts mosquitto with its own fixed queue limit and no $SYS interval),
so they are skipped under mosquitto. MQTT 4.1 lets a Server limit the Session State it stores without saying which
message to drop, so only the count, the order and "QoS 0 first" (mqhub's documented rule) are asserted.
"""

import os
import re

import pytest
from paho.mqtt.packettypes import PacketTypes

import raw_mqtt
from mqtt_helpers import clients, props, unique_id  # noqa: F401 (clients is a fixture)

MOSQUITTO = os.environ.get("MQHUB_TEST_BROKER") == "mosquitto"
pytestmark = pytest.mark.skipif(MOSQUITTO, reason="needs mqhub's --session-queue-limit and --sys-interval flags "
                                                  "(the harness starts mosquitto with max_queued_messages 1000000)")

QUEUE_LIMIT = 10
DROPPED_TOPIC = "$SYS/broker/messages/dropped"
ARGS = ["--session-queue-limit", str(QUEUE_LIMIT), "--sys-interval", "1"]


def session_props():
    return props(PacketTypes.CONNECT, SessionExpiryInterval=300)


def park_subscriber(broker, clients, topic):
    """A persistent (300 s) QoS 1 subscriber to topic that then goes offline; returns its client id."""
    client_id = unique_id("offline")
    sub = clients(broker, client_id=client_id, clean=True, properties=session_props())
    sub.subscribe(topic, qos=1)
    sub.disconnect()
    return client_id


def resume_and_collect(broker, clients, client_id, expected_at_least):
    """Reconnects the parked session and returns every payload delivered from its queue."""
    sub = clients(broker, client_id=client_id, clean=False, properties=session_props())
    assert sub.session_present, "expected Session Present 1 for the parked 300 s session"
    got = [m.payload for m in sub.receive_n(expected_at_least, what="the queued messages")]
    return got + [m.payload for m in sub.drain(0.5)]  # what comes beyond them, for the caller to refuse


def miss_messages(broker, clients, count, qos=1, prefix="m"):
    """Publishes `count` messages to a new parked subscriber's topic; returns (client id, topic)."""
    topic = f"queue/{unique_id()}"
    client_id = park_subscriber(broker, clients, topic)
    pub = clients(broker)
    for i in range(count):
        pub.publish(topic, f"{prefix}{i:02d}".encode(), qos=qos)
    return client_id, topic


def in_publish_order(payloads):
    return payloads == sorted(set(payloads))


def test_an_offline_session_keeps_only_the_queue_limit_of_missed_messages(start_broker, clients):
    # MQTT 4.1: the Server may limit the stored Session State; mqhub keeps --session-queue-limit messages.
    broker = start_broker(ARGS)
    client_id, _ = miss_messages(broker, clients, 30)
    got = resume_and_collect(broker, clients, client_id, QUEUE_LIMIT)
    assert len(got) == QUEUE_LIMIT, f"expected exactly {QUEUE_LIMIT} of the 30 missed messages, got {len(got)}: {got}"
    assert in_publish_order(got), f"expected the kept messages distinct and in publish order, got {got}"
    # README Durability: drops are logged per session, never silent.
    assert f"session {client_id}: queue full" in broker.log(), "expected a log line naming the session's drops"


def test_dropped_queue_messages_are_counted_in_sys_messages_dropped(start_broker, clients):
    # README $SYS topics: every message dropped from a full session queue is counted in
    # $SYS/broker/messages/dropped, published (retained) every --sys-interval seconds.
    broker = start_broker(ARGS)
    miss_messages(broker, clients, 30)  # 30 into a queue of 10: 20 drops
    watcher = clients(broker)
    watcher.subscribe(DROPPED_TOPIC, qos=0)
    seen = []
    for _ in range(6):  # the retained value plus up to 5 periodic updates (1 s interval)
        msg = watcher.receive(timeout=3, what=f"a {DROPPED_TOPIC} update (every 1 s); values so far {seen}")
        value = msg.payload.decode(errors="replace").strip()
        assert msg.topic == DROPPED_TOPIC, f"expected only {DROPPED_TOPIC} messages, got {msg.topic!r}"
        assert re.fullmatch(r"\d+", value), f"expected a decimal count on {DROPPED_TOPIC}, got {value!r}"
        seen.append(int(value))
        if int(value) >= 20:
            return
    pytest.fail(f"expected {DROPPED_TOPIC} to reach >= 20 after 20 drops, saw {seen}")


def test_qos0_messages_are_dropped_before_qos1_messages(start_broker, clients):
    # README --session-queue-limit: beyond the limit QoS 0 is dropped first. 5 QoS 0 then 10 QoS 1 messages into a
    # queue of 10: all 10 QoS 1 messages must survive (QoS 0 ones may be dropped or never queued offline).
    broker = start_broker(ARGS)
    topic = f"queue/{unique_id()}"
    client_id = park_subscriber(broker, clients, topic)
    pub = clients(broker)
    for i in range(5):
        pub.publish(topic, f"q0-{i:02d}".encode(), qos=0)
    for i in range(QUEUE_LIMIT):
        pub.publish(topic, f"q1-{i:02d}".encode(), qos=1)
    got = resume_and_collect(broker, clients, client_id, QUEUE_LIMIT)
    expected = [f"q1-{i:02d}".encode() for i in range(QUEUE_LIMIT)]
    assert got == expected, f"expected the {QUEUE_LIMIT} QoS 1 messages kept (QoS 0 dropped first), got {got}"


def test_a_connected_subscriber_that_stops_acknowledging_keeps_only_the_queue_limit_and_the_drops_are_logged(
        start_broker, clients):
    # A clean session's QoS 1 goes out from its connection (packet ids from 32768 on); beyond the client's window
    # it waits in a queue of --session-queue-limit like a session's, and what overflows is logged the same way.
    broker = start_broker(ARGS)
    topic = f"queue/{unique_id()}"
    client_id = unique_id("stalled")
    sub = raw_mqtt.RawClient(broker.host, broker.port)
    sub.connect(client_id=client_id, properties=[(raw_mqtt.RECEIVE_MAXIMUM, 8)])
    sub.send(raw_mqtt.subscribe(1, [(topic, 1)]))
    sub.expect(raw_mqtt.SUBACK)
    pub = clients(broker)
    for i in range(40):
        pub.publish(topic, f"m{i:02d}".encode(), qos=1)

    def read_publishes(quiet=1.0):
        """Waits for a PUBLISH, then reads PUBLISHes until none comes for `quiet` s (the window is full)."""
        pkt = sub.read_packet(timeout=5.0)
        assert pkt is not None, "expected a PUBLISH within 5 s"
        got = []
        while pkt is not None:
            assert pkt[0] == raw_mqtt.PUBLISH, f"expected only PUBLISH packets, got type {pkt[0]}"
            got.append(raw_mqtt.parse_publish(pkt[1], pkt[2]))
            pkt = sub.read_packet(timeout=quiet)
        assert len(got) <= 8, f"expected at most Receive Maximum (8) unacknowledged, got {got}"
        return got

    window = read_publishes()
    assert all(p.packet_id >= 32768 for p in window), f"expected the connection's own packet ids, got {window}"
    assert broker.wait_for_log(f"session {client_id}: queue full ({QUEUE_LIMIT} messages"), \
        "expected a log line naming the connected client's queue drops"
    received = list(window)
    batch = window
    # All 40 were published (acknowledged) before the first read: the window went out, QUEUE_LIMIT wait in the
    # queue, the rest were dropped.
    while len(received) < len(window) + QUEUE_LIMIT:  # acknowledging frees the window for the queued ones
        for p in batch:
            sub.send(raw_mqtt.puback(p.packet_id))
        batch = read_publishes()
        received += batch
    for p in batch:
        sub.send(raw_mqtt.puback(p.packet_id))
    assert sub.read_packet(timeout=0.5) is None, \
        f"expected nothing beyond the window and the {QUEUE_LIMIT} queued messages"
    got = [p.payload for p in received]
    assert len(got) == len(window) + QUEUE_LIMIT, f"expected the window then the {QUEUE_LIMIT} queued, got {got}"
    assert got == sorted(set(got)), f"expected them distinct and in publish order, got {got}"
    sub.close()
