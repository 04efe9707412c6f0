"""Retained messages: stored, replaced, cleared, delivered on subscribe (paho and mosquitto_pub/mosquitto_sub)."""

import pytest

from mqtt_helpers import V311, V5, mosquitto_pub, mosquitto_sub_once, unique_id
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)

PROTOCOLS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
CLI_VERSIONS = ["mqttv311", "mqttv5"]


def base(name):
    return f"ret-{name}-{unique_id('t')}"


def retain(broker, clients, protocol, t, payload):
    """Publish a retained message at QoS 1 and wait for the PUBACK, so it is stored before anyone subscribes."""
    clients(broker, protocol=protocol).publish(t, payload, qos=1, retain=True)


def retained_for(broker, clients, protocol, topic_filter, expected_count):
    """Subscribe a new client; return what it receives: `expected_count` messages, then 0.5 s of silence."""
    sub = clients(broker, protocol=protocol)
    sub.subscribe(topic_filter, 1)
    got = sub.receive_n(expected_count, what="retained messages") if expected_count else []
    return got + sub.drain(0.5)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retained_message_is_delivered_on_subscribe_with_the_retain_flag(broker, clients, protocol):
    t = base("deliver")
    retain(broker, clients, protocol, t, b"state")
    got = retained_for(broker, clients, protocol, t, 1)
    # MQTT-3.3.1-6 (3.1.1) / MQTT 5 3.3.1.3: a new subscription gets the retained message of each matching topic;
    # MQTT-3.3.1-8 (3.1.1): sent with RETAIN 1 because it results from a new subscription.
    assert [(m.topic, m.payload, m.retain) for m in got] == [(t, b"state", True)], \
        f"expected exactly the retained message with RETAIN=1, got {[(m.topic, m.payload, m.retain) for m in got]}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_newer_retained_message_replaces_the_older(broker, clients, protocol):
    t = base("replace")
    retain(broker, clients, protocol, t, b"old")
    retain(broker, clients, protocol, t, b"new")
    got = [m.payload for m in retained_for(broker, clients, protocol, t, 1)]
    # MQTT-3.3.1-5 (5.0) / MQTT-3.3.1-5 (3.1.1): a retained PUBLISH replaces any existing retained message.
    assert got == [b"new"], f"expected only the newest retained message b'new', got {got}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_retained_payload_clears_the_retained_message(broker, clients, protocol):
    b = base("clear")
    retain(broker, clients, protocol, f"{b}/cleared", b"gone soon")
    retain(broker, clients, protocol, f"{b}/kept", b"stays")
    retain(broker, clients, protocol, f"{b}/cleared", b"")
    got = [(m.topic, m.payload) for m in retained_for(broker, clients, protocol, f"{b}/#", 1)]
    # MQTT-3.3.1-6/7 (5.0) / MQTT-3.3.1-10/11 (3.1.1): a zero-byte retained PUBLISH removes the retained message
    # and is not stored itself; the other topic's retained message is untouched.
    assert got == [(f"{b}/kept", b"stays")], f"expected only {b}/kept to remain retained, got {got}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_retained_publish_still_reaches_current_subscribers(broker, clients, protocol):
    t = base("empty-live")
    sub = clients(broker, protocol=protocol)
    sub.subscribe(t, 1)
    clients(broker, protocol=protocol).publish(t, b"", qos=1, retain=True)
    m = sub.receive(what="the zero-byte retained PUBLISH")
    # MQTT-3.3.1-10 (3.1.1) / MQTT-3.3.1-6 (5.0): the zero-byte retained message is processed (forwarded) normally.
    assert m.payload == b"", f"expected an empty payload, got {m.payload!r}"


def test_wildcard_subscribe_gets_every_matching_retained_message(broker, clients):
    b = base("wild")
    topics = {f"{b}/a": b"1", f"{b}/b/c": b"2", f"{b}/d": b"3", f"{b}x/a": b"no", f"other/{b}": b"no"}
    for t, payload in topics.items():
        retain(broker, clients, V5, t, payload)
    hash_got = sorted((m.topic, m.payload) for m in retained_for(broker, clients, V5, f"{b}/#", 3))
    # MQTT 5 3.3.1.3 / MQTT-3.3.1-6 (3.1.1): the last retained message on EACH matching topic is sent.
    assert hash_got == [(f"{b}/a", b"1"), (f"{b}/b/c", b"2"), (f"{b}/d", b"3")], \
        f"expected the 3 retained messages under {b}/#, got {hash_got}"
    plus_got = sorted(m.topic for m in retained_for(broker, clients, V5, f"{b}/+", 2))
    assert plus_got == [f"{b}/a", f"{b}/d"], f"expected the 2 retained messages matching {b}/+, got {plus_got}"


@pytest.mark.parametrize("version", CLI_VERSIONS)
def test_mosquitto_pub_retained_reaches_a_later_mosquitto_sub(broker, version):
    t = base("cli")
    mosquitto_pub(broker, t, "retained by cli", version=version, qos=1, retain=True)
    code, lines, err = mosquitto_sub_once(broker, t, version=version, count=1, wait=5, extra=["-F", "%r %t %p"])
    assert code == 0, f"expected mosquitto_sub to get one message and exit 0, got {code}: {err}"
    # MQTT-3.3.1-8 (3.1.1) / MQTT 5 3.3.1.3: sent on subscribe with RETAIN 1 (%r prints the flag).
    assert lines == [f"1 {t} retained by cli"], f"expected the retained message with retain flag 1, got {lines}"


@pytest.mark.parametrize("version", CLI_VERSIONS)
def test_mosquitto_pub_null_message_clears_the_retained_message(broker, version):
    t = base("cli-clear")
    mosquitto_pub(broker, t, "to be cleared", version=version, qos=1, retain=True)
    mosquitto_pub(broker, t, None, version=version, qos=1, retain=True, extra=["-n"])
    code, lines, _ = mosquitto_sub_once(broker, t, version=version, count=1, wait=1)
    # MQTT-3.3.1-6/7 (5.0) / MQTT-3.3.1-10/11 (3.1.1): the empty retained message cleared it; nothing to deliver.
    assert lines == [], f"expected no retained message after mosquitto_pub -r -n, got {lines}"
    assert code != 0, "expected mosquitto_sub -W 1 to time out (non-zero exit) with nothing retained"
