"""A subscription takes effect as soon as the node has read the SUBSCRIBE (issue 21, point 3): a PUBLISH that
another connection sends right after it, without waiting for the SUBACK, reaches the subscriber. A
single-threaded broker behaves so, and scripts and test suites rely on it (request/response, No Local).

With one I/O thread (`--io-threads 1`) the node reads the two sockets in the order the bytes came, as a
single-threaded broker does; before this, a dormant session's first SUBSCRIBE took effect only once its session
actor had started, and the message was lost every time.
"""

import threading
import time

import pytest

import raw_mqtt
from mqtt_helpers import UNDER_MOSQUITTO, clients, mqhub_only, props, unique_id  # noqa: F401 (fixtures)
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

ONE_THREAD = [] if UNDER_MOSQUITTO else ["--io-threads", "1"]
# What "right after" means here: the other client's PUBLISH leaves this long after the SUBSCRIBE, as in the
# scenarios the issue measured, so that a single-threaded broker has read the SUBSCRIBE first.
RIGHT_AFTER = 0.0002


def raw_client(broker, client_id, version=5, properties=()):
    c = raw_mqtt.RawClient(broker.host, broker.port)
    present, code, _ = c.connect(version=version, client_id=client_id, clean_start=True, properties=properties)
    assert code == 0, f"expected CONNACK 0 for {client_id}, got {code:#x}"
    return c


# Against mosquitto these raw-socket races depend on the order in which its loop reads the two sockets, which a
# loaded machine varies: they ran green there alone and failed once in a parallel CI run.
raw_timing = mqhub_only("reads the two sockets in the order the bytes came only with --io-threads 1")


@raw_timing
@pytest.mark.parametrize("session", ["ends-with-connection", "persistent", "mqtt311"])
@pytest.mark.parametrize("qos", [0, 1])
def test_a_publish_right_after_a_subscribe_on_another_connection_reaches_the_subscriber(start_broker, session, qos):
    broker = start_broker(ONE_THREAD)
    topic = f"order/{unique_id()}"
    version = 4 if session == "mqtt311" else 5
    expiry = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, 300)] if session == "persistent" else []
    subscriber = raw_client(broker, unique_id("sub"), version, expiry)
    publisher = raw_client(broker, unique_id("pub"))
    try:
        subscriber.send(raw_mqtt.subscribe(1, [(topic, qos)], version=version))
        time.sleep(RIGHT_AFTER)
        publisher.send(raw_mqtt.publish(topic, b"right after", qos=qos, packet_id=7 if qos else None))
        got = []
        for _ in range(2):  # the SUBACK and the message, in either order (MQTT 3.8.4 allows PUBLISH first)
            pkt = subscriber.read_packet(timeout=5)
            assert pkt is not None, f"expected the SUBACK and the message, got {got}"
            got.append(pkt[0])
            if pkt[0] == raw_mqtt.PUBLISH:
                assert raw_mqtt.parse_publish(pkt[1], pkt[2], version).payload == b"right after"
        assert sorted(got) == [raw_mqtt.PUBLISH, raw_mqtt.SUBACK], f"got {[raw_mqtt.PACKET_NAMES[t] for t in got]}"
    finally:
        subscriber.close()
        publisher.close()


@raw_timing
def test_a_no_local_subscription_takes_effect_before_another_clients_publish(start_broker):
    broker = start_broker(ONE_THREAD)
    topic = f"nolocal/{unique_id()}"
    subscriber = raw_client(broker, unique_id("sub"))
    other = raw_client(broker, unique_id("other"))
    try:
        subscriber.send(raw_mqtt.subscribe(1, [(topic, 0x04 | 1)]))  # No Local, QoS 1
        subscriber.send(raw_mqtt.publish(topic, b"own", qos=0))  # not for it (MQTT-3.8.3-3)
        time.sleep(RIGHT_AFTER)
        other.send(raw_mqtt.publish(topic, b"other's", qos=0))
        payloads = []
        while len(payloads) < 1:
            pkt = subscriber.read_packet(timeout=5)
            assert pkt is not None, "expected the other client's message"
            if pkt[0] == raw_mqtt.PUBLISH:
                payloads.append(raw_mqtt.parse_publish(pkt[1], pkt[2]).payload)
        assert payloads == [b"other's"]
    finally:
        subscriber.close()
        other.close()


def test_a_request_gets_its_response_when_the_reply_subscription_was_not_acknowledged_yet(start_broker, clients):
    # The requester subscribes to its reply topic and publishes its request at once; the responder answers as
    # soon as it gets the request. A real paho client on each side.
    broker = start_broker(ONE_THREAD)
    base = unique_id("rpc")
    responder = clients(broker)
    responder.subscribe(f"{base}/requests", qos=1)

    def answer():
        request = responder.receive(what="the request")
        reply_to = request.properties.ResponseTopic
        responder.publish(reply_to, b"response to " + request.payload, qos=1, wait=False)

    thread = threading.Thread(target=answer)
    thread.start()
    requester = clients(broker)
    reply = f"{base}/replies/{requester.client_id}"
    requester.paho.subscribe(reply, options=SubscribeOptions(qos=1))  # no wait for the SUBACK
    requester.publish(f"{base}/requests", b"ping", qos=1, wait=False,
                      properties=props(PacketTypes.PUBLISH, ResponseTopic=reply))
    thread.join(10)
    assert requester.receive(what="the response").payload == b"response to ping"
