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
    return got + [m.payload for m in sub.drain(0.5)]


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
