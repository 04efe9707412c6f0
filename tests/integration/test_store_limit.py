"""Node-wide store size limit (`--max-store-bytes`, README Durability): over it, a QoS 1 or 2 message that would
be stored for a persistent subscriber is refused with PUBACK / PUBREC 0x97 (quota exceeded) in MQTT 5, and a 3.1.1
publisher, which has no reason code, is disconnected so that it resends later. Nothing acknowledged is lost: the refused
message is not delivered either. mqhub only (mosquitto has no such limit)."""

import raw_mqtt
from mqtt_helpers import mqhub_only, unique_id

pytestmark = mqhub_only("--max-store-bytes is an mqhub flag")

SESSION_EXPIRY = (0x11, 300)
QUOTA_EXCEEDED = 0x97
# One byte: the store is over the limit as soon as it holds anything, e.g. the subscriber's session record.
FULL = ["--durability", "sync", "--max-store-bytes", "1"]


def park_subscriber(broker, topic, qos=1):
    client_id = unique_id("parked")
    sub = raw_mqtt.RawClient(broker.host, broker.port)
    sub.connect(client_id=client_id, clean_start=True, properties=[SESSION_EXPIRY])
    sub.send(raw_mqtt.subscribe(1, [(topic, qos)]))
    sub.expect(raw_mqtt.SUBACK)
    sub.send(raw_mqtt.disconnect())
    sub.wait_closed()
    return client_id


def test_full_store_refuses_a_v5_qos1_publish_with_quota_exceeded(start_broker):
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    park_subscriber(broker, topic)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(topic, b"refused", qos=1, packet_id=7))
    flags, body = pub.expect(raw_mqtt.PUBACK)
    packet_id, reason, _ = raw_mqtt.parse_ack(body)
    assert packet_id == 7
    assert reason == QUOTA_EXCEEDED, f"expected PUBACK reason 0x97 from a full store, got {reason:#x}"


def test_a_connected_subscriber_does_not_get_a_message_the_full_store_refused(start_broker):
    # A QoS 1 message normally reaches connected subscribers before it is committed (only its PUBACK waits);
    # one the store is about to refuse must not, since its publisher hears that it was not accepted.
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    sub = raw_mqtt.RawClient(broker.host, broker.port)
    sub.connect(client_id=unique_id("online"), clean_start=True, properties=[SESSION_EXPIRY])
    sub.send(raw_mqtt.subscribe(1, [(topic, 1)]))
    sub.expect(raw_mqtt.SUBACK)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(topic, b"refused", qos=1, packet_id=9))
    _, body = pub.expect(raw_mqtt.PUBACK)
    assert raw_mqtt.parse_ack(body)[1] == QUOTA_EXCEEDED, "expected PUBACK 0x97 from a full store"
    got = sub.read_packet(0.5)
    assert got is None, f"expected the refused message not delivered, got {raw_mqtt.PACKET_NAMES.get(got[0])} {got[2]!r}"


def test_full_store_disconnects_a_v311_publisher_instead_of_acknowledging(start_broker):
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    park_subscriber(broker, topic)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(version=4, client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(topic, b"refused", qos=1, packet_id=7, version=4))
    packets = pub.wait_closed()
    assert packets is not None, "expected the 3.1.1 publisher disconnected, not left waiting for its PUBACK"
    assert all(p[0] != raw_mqtt.PUBACK for p in packets), "a message that was not stored must not be acknowledged"


def test_without_a_persistent_subscriber_nothing_is_stored_so_a_full_store_still_acknowledges(start_broker):
    broker = start_broker(FULL)
    park_subscriber(broker, f"full/{unique_id()}")  # fills the store
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(f"elsewhere/{unique_id()}", b"x", qos=1, packet_id=3))
    _, body = pub.expect(raw_mqtt.PUBACK)
    assert raw_mqtt.parse_ack(body)[1] == 0, "expected PUBACK success for a message nobody persistent is owed"


def test_full_store_refuses_a_v5_qos2_publish_with_pubrec_quota_exceeded(start_broker):
    # MQTT 5 3.5.2.1: PUBREC 0x97 Quota exceeded; a PUBREC reason code of 0x80 or more ends the flow (no PUBREL,
    # MQTT 4.3.3), so the packet id is free again: the publisher's retry under it is a new message, refused too.
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    parked = park_subscriber(broker, topic, qos=2)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(client_id=unique_id("pub"))
    for attempt in ("first", "retry"):
        pub.send(raw_mqtt.publish(topic, b"refused", qos=2, packet_id=7, dup=attempt == "retry"))
        _, body = pub.expect(raw_mqtt.PUBREC)
        packet_id, reason, _ = raw_mqtt.parse_ack(body)
        assert (packet_id, reason) == (7, QUOTA_EXCEEDED), \
            f"expected PUBREC 7 with reason 0x97 from a full store ({attempt}), got {packet_id} {reason:#x}"
    # Nothing was stored for the parked subscriber: its session holds no message.
    sub = raw_mqtt.RawClient(broker.host, broker.port)
    present, code, _ = sub.connect(client_id=parked, clean_start=False, properties=[SESSION_EXPIRY])
    assert (present, code) == (True, 0), f"expected the parked session back, got {present} 0x{code:02x}"
    got = sub.read_packet(0.5)
    assert got is None, f"expected nothing stored for the parked session, got {raw_mqtt.PACKET_NAMES.get(got[0])}"


def test_a_connected_subscriber_does_not_get_a_qos2_message_the_full_store_refused(start_broker):
    # QoS 2 reaches subscribers only after the commit (README Durability); one the store refuses never does.
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    sub = raw_mqtt.RawClient(broker.host, broker.port)
    sub.connect(client_id=unique_id("online"), clean_start=True, properties=[SESSION_EXPIRY])
    sub.send(raw_mqtt.subscribe(1, [(topic, 2)]))
    sub.expect(raw_mqtt.SUBACK)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(topic, b"refused", qos=2, packet_id=9))
    _, body = pub.expect(raw_mqtt.PUBREC)
    assert raw_mqtt.parse_ack(body)[1] == QUOTA_EXCEEDED, "expected PUBREC 0x97 from a full store"
    got = sub.read_packet(0.5)
    assert got is None, f"expected the refused message not delivered, got {raw_mqtt.PACKET_NAMES.get(got[0])}"


def test_full_store_disconnects_a_v311_qos2_publisher_instead_of_sending_pubrec(start_broker):
    broker = start_broker(FULL)
    topic = f"full/{unique_id()}"
    park_subscriber(broker, topic, qos=2)
    pub = raw_mqtt.RawClient(broker.host, broker.port)
    pub.connect(version=4, client_id=unique_id("pub"))
    pub.send(raw_mqtt.publish(topic, b"refused", qos=2, packet_id=7, version=4))
    packets = pub.wait_closed()
    assert packets is not None, "expected the 3.1.1 publisher disconnected, not left waiting for its PUBREC"
    assert all(p[0] != raw_mqtt.PUBREC for p in packets), "a message that was not stored must not be acknowledged"
