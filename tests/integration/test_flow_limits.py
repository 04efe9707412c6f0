"""Two MQTT 5 behaviours of issue 21, point 3: the node's own topic aliases towards a client that announced a
Topic Alias Maximum (3.3.2.3.4), and DISCONNECT 0x93 for a client that exceeds the node's Receive Maximum
(3.3.4, 4.9).

mosquitto 2.0.11 sends no topic aliases and acknowledges QoS 1 at once, so both run against mqhub only.
"""

import pytest

import raw_mqtt
from mqtt_helpers import mqhub_only, unique_id
from test_mqttjs import mqttjs_installed, run  # noqa: F401 (fixture)

pytestmark = mqhub_only("the node's topic aliases, --receive-maximum and acknowledgements after the commit")


def connected(broker, properties=()):
    c = raw_mqtt.RawClient(broker.host, broker.port)
    _, code, props = c.connect(version=5, client_id=unique_id("raw"), properties=properties)
    assert code == 0, f"expected CONNACK 0, got {code:#x}"
    return c, props


def publishes(c, n):
    out = []
    for _ in range(n):
        flags, body = c.expect(raw_mqtt.PUBLISH)
        out.append(raw_mqtt.parse_publish(flags, body))
    return out


# Issue 21: "the first PUBLISH carries the topic and the alias, and later ones carry the alias with an empty
# topic", the least recently used alias going to a new topic when all are taken.
def test_repeated_topics_go_as_aliases_and_the_least_recently_used_alias_is_reused(start_broker):
    broker = start_broker()
    base = unique_id("alias")
    sub, _ = connected(broker, [(raw_mqtt.TOPIC_ALIAS_MAXIMUM, 2)])
    sub.send(raw_mqtt.subscribe(1, [(f"{base}/#", 0)]))
    sub.expect(raw_mqtt.SUBACK)
    pub, _ = connected(broker)
    sent = ["a", "a", "b", "a", "c", "b", "c"]
    t = lambda leaf: f"{base}/t/{leaf}"  # noqa: E731  (one shard for all: the first two levels choose it)
    for i, leaf in enumerate(sent):
        pub.send(raw_mqtt.publish(t(leaf), f"m{i}", qos=0))
    got = [(p.topic, p.properties.get(raw_mqtt.TOPIC_ALIAS), p.payload) for p in publishes(sub, len(sent))]
    assert got == [
        (t("a"), 1, b"m0"),  # a new topic: sent whole, with the alias the client keeps for it
        ("", 1, b"m1"),      # then the alias alone
        (t("b"), 2, b"m2"),
        ("", 1, b"m3"),
        (t("c"), 2, b"m4"),  # both aliases taken: b's was used least recently
        (t("b"), 1, b"m5"),  # a's now, b having lost its own
        ("", 2, b"m6"),
    ], f"got {got}"
    sub.close()
    pub.close()


def test_no_alias_is_sent_to_a_client_that_did_not_ask_for_them(start_broker):
    broker = start_broker()
    topic = f"alias/{unique_id()}"
    sub, _ = connected(broker)
    sub.send(raw_mqtt.subscribe(1, [(topic, 1)]))
    sub.expect(raw_mqtt.SUBACK)
    pub, _ = connected(broker)
    for i in range(3):
        pub.send(raw_mqtt.publish(topic, f"m{i}", qos=1, packet_id=i + 1))
    got = publishes(sub, 3)
    assert [(p.topic, p.properties.has(raw_mqtt.TOPIC_ALIAS)) for p in got] == [(topic, False)] * 3  # MQTT-3.3.2-7


def test_a_large_payload_and_qos1_go_through_aliases(start_broker):
    # A payload from 64 KiB on travels as a buffer of its own, and QoS 1 carries a packet id before the
    # properties: both must come through the rewrite whole.
    broker = start_broker()
    topic = f"alias/{unique_id()}"
    sub, _ = connected(broker, [(raw_mqtt.TOPIC_ALIAS_MAXIMUM, 5)])
    sub.send(raw_mqtt.subscribe(1, [(topic, 1)]))
    sub.expect(raw_mqtt.SUBACK)
    pub, _ = connected(broker)
    big = bytes(range(256)) * 1024
    for i in range(3):
        pub.send(raw_mqtt.publish(topic, big + bytes([i]), qos=1, packet_id=i + 1))
    got = publishes(sub, 3)
    assert [(p.topic, p.properties.get(raw_mqtt.TOPIC_ALIAS), p.qos) for p in got] == \
        [(topic, 1, 1), ("", 1, 1), ("", 1, 1)]
    assert [p.payload for p in got] == [big + bytes([i]) for i in range(3)]


def test_mqttjs_resolves_the_nodes_aliases(start_broker, mqttjs_installed):  # noqa: F811
    broker = start_broker(networks=("ws",))
    topic = f"js/alias/{unique_id()}"
    result = run(broker, "ws", "roundtrip", topic=topic, qos=1, count=5, topic_alias_maximum=10)
    assert result.done["ok"], f"expected the MQTT.js round trip with aliases to succeed: {result.events}"
    messages = [(e["topic"], e["payload"]) for e in result.events if e["event"] == "message"]
    assert messages == [(topic, f"mqttjs {i}") for i in range(5)], f"got {messages}"


# MQTT-3.3.4-9 and 4.9: more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum in the CONNACK is a
# protocol error: DISCONNECT 0x93. Before, the node just stopped reading for QoS 1.
@pytest.mark.parametrize("mix", ["qos1", "qos2", "both"])
def test_a_client_beyond_the_receive_maximum_gets_disconnect_0x93(start_broker, mix):
    broker = start_broker(["--receive-maximum", "5"])
    c, props = connected(broker)
    assert props.get(raw_mqtt.RECEIVE_MAXIMUM) == 5
    qos = {"qos1": [1] * 6, "qos2": [2] * 6, "both": [2, 2, 2, 1, 1, 1]}[mix]
    # In one write, so that the node reads them before any commit could send an acknowledgement; QoS 2
    # without PUBREL stays unacknowledged anyway.
    c.send(b"".join(raw_mqtt.publish(f"rm/{unique_id()}", b"x", qos=q, packet_id=i + 1) for i, q in enumerate(qos)))
    packets = c.wait_closed(10)
    assert packets is not None, "expected the node to close the connection"
    disconnects = [raw_mqtt.parse_disconnect(body) for t, _, body in packets if t == raw_mqtt.DISCONNECT]
    assert [d[0] for d in disconnects] == [0x93], f"expected DISCONNECT 0x93, got {packets}"


def test_a_client_within_the_receive_maximum_goes_on(start_broker):
    broker = start_broker(["--receive-maximum", "5"])
    c, _ = connected(broker)
    for round_ in range(3):  # each time 5 unacknowledged, then acknowledged: never more than 5
        c.send(b"".join(raw_mqtt.publish("rm/ok", b"x", qos=1, packet_id=i + 1) for i in range(5)))
        for _ in range(5):
            c.expect(raw_mqtt.PUBACK)
    c.send(b"".join(raw_mqtt.publish("rm/ok2", b"x", qos=2, packet_id=i + 1) for i in range(5)))
    for _ in range(5):
        c.expect(raw_mqtt.PUBREC)
    c.send(b"".join(raw_mqtt.pubrel(i + 1) for i in range(5)))  # PUBCOMP follows: they no longer count
    for _ in range(5):
        c.expect(raw_mqtt.PUBCOMP)
    c.send(raw_mqtt.publish("rm/ok3", b"x", qos=2, packet_id=6))
    c.expect(raw_mqtt.PUBREC)
    c.close()
