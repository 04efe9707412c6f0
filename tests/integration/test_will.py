"""Last Will: published when the connection ends abnormally, not on a normal DISCONNECT; MQTT 5 will delay."""

import threading
import time

import pytest

import raw_mqtt
from mqtt_helpers import V5, mosquitto_deviates, mqhub_only, unique_id
from mqtt_helpers import clients, raws  # noqa: F401,F811 (pytest fixtures)

RAW_VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


def will_topic():
    return f"will/{unique_id('t')}"


def watch(broker, clients, t):
    """A subscriber on the will topic."""
    observer = clients(broker, protocol=V5)
    observer.subscribe(t, 1)
    return observer


def connect_with_will(broker, raws, version, t, payload=b"gone", client_id=None, keepalive=60, will_props=(),
                      properties=(), clean=True, retain=False):
    r = raws(broker, version)
    _, code, _ = r.connect(client_id or unique_id("w"), clean=clean, keepalive=keepalive, properties=properties,
                           will=dict(topic=t, payload=payload, qos=1, retain=retain, properties=will_props))
    assert code == 0, f"expected CONNACK success for the client with a will, got 0x{code:02x}"
    return r


def assert_will(observer, t, payload=b"gone", timeout=5.0, why=""):
    m = observer.receive(timeout=timeout, what=f"the will message on {t} ({why})")
    assert (m.topic, m.payload) == (t, payload), f"expected will {t!r} {payload!r}, got {m.topic!r} {m.payload!r}"


@pytest.mark.parametrize("version", RAW_VERSIONS)
@pytest.mark.parametrize("subscribed", [pytest.param(False, id="only-connected"), pytest.param(True, id="subscribed")])
def test_will_is_published_when_the_socket_closes_without_disconnect(broker, clients, raws, version, subscribed):
    t = will_topic()
    observer = watch(broker, clients, t)
    r = connect_with_will(broker, raws, version, t)
    if subscribed:  # mqhub: the session is then an actor, not the directory's dormant entry (README, Layout)
        r.subscribe(1, [(f"{t}/other", 0)])
    r.abort()
    # MQTT-3.1.2-8 (3.1.1) / MQTT 5 3.1.2.5: the will is published when the network connection is closed
    # without a DISCONNECT.
    assert_will(observer, t, why="socket closed without DISCONNECT")


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_will_is_published_on_keepalive_timeout(broker, clients, raws, version):
    t = will_topic()
    observer = watch(broker, clients, t)
    connect_with_will(broker, raws, version, t, keepalive=1)  # and then silence
    # MQTT 3.1.2.5 (3.1.1) / 3.1.2.5 (5.0): failing to communicate within the Keep Alive publishes the will.
    assert_will(observer, t, timeout=7.0, why="keepalive 1 s expired")


def test_will_with_retain_flag_is_kept_as_a_retained_message(broker, clients, raws):
    t = will_topic()
    observer = watch(broker, clients, t)
    connect_with_will(broker, raws, 4, t, payload=b"offline", retain=True).abort()
    assert_will(observer, t, payload=b"offline", why="socket closed without DISCONNECT")
    later = clients(broker, protocol=V5)
    later.subscribe(t, 1)
    m = later.receive(what="the retained will message on subscribe")
    # MQTT-3.1.2-17 (3.1.1) / MQTT-3.1.2-15 (5.0): Will Retain 1 -> the will is published as a retained message.
    assert (m.payload, m.retain) == (b"offline", True), \
        f"expected the will retained (b'offline', retain=1) for a later subscriber, got {(m.payload, m.retain)}"


def test_v5_will_is_published_on_takeover_with_will_delay_0(broker, clients, raws):
    t, cid = will_topic(), unique_id("w")
    observer = watch(broker, clients, t)
    connect_with_will(broker, raws, 5, t, client_id=cid)
    _, code, _ = raws(broker, 5).connect(cid)
    assert code == 0, f"expected the taking-over connection to be accepted, got 0x{code:02x}"
    # MQTT 5 3.1.3.2.2 / 3.1.4: the will of the existing connection is sent unless the new connection has Clean
    # Start 0 and a will delay > 0; with delay 0 it is sent when the existing connection closes.
    assert_will(observer, t, why="session taken over")


@mosquitto_deviates("it waits out the will delay although the taken-over session ended")
@pytest.mark.parametrize("subscribed", [pytest.param(False, id="only-connected"), pytest.param(True, id="subscribed")])
def test_v5_delayed_will_is_published_at_once_when_a_session_without_expiry_is_taken_over(broker, clients, raws,
                                                                                        subscribed):
    t, cid = will_topic(), unique_id("w")
    observer = watch(broker, clients, t)
    r = connect_with_will(broker, raws, 5, t, client_id=cid, will_props=[(raw_mqtt.WILL_DELAY_INTERVAL, 30)])
    if subscribed:
        r.subscribe(1, [(f"{t}/other", 0)])
    _, code, _ = raws(broker, 5).connect(cid, clean=False)
    assert code == 0, f"expected the taking-over connection to be accepted, got 0x{code:02x}"
    # MQTT-3.1.3-9 (5.0): the will goes out when the will delay passes or the session ends, whichever is first;
    # with session expiry 0 the session ends with the taken-over connection, Clean Start 0 notwithstanding.
    assert_will(observer, t, timeout=3.0, why="session with expiry 0 taken over, will delay 30 s")


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_will_is_not_published_after_normal_disconnect(broker, clients, raws, version):
    t = will_topic()
    observer = watch(broker, clients, t)
    connect_with_will(broker, raws, version, t).disconnect(0x00)
    # MQTT-3.1.2-10 (3.1.1) / MQTT-3.14.4-3 (5.0): DISCONNECT (0x00) discards the will without publishing it.
    observer.assert_nothing_for(0.5, what="no will after a normal DISCONNECT")
    clients(broker, protocol=V5).publish(t, b"probe", qos=1)
    assert observer.receive(what="the probe on the will topic").payload == b"probe", \
        "expected the observer to still receive messages on the will topic (first message must be the probe)"


def test_v5_will_is_published_on_disconnect_with_will_message(broker, clients, raws):
    t = will_topic()
    observer = watch(broker, clients, t)
    connect_with_will(broker, raws, 5, t).disconnect(0x04)
    # MQTT 5 3.14.2.1: reason 0x04 "Disconnect with Will Message" -> the server publishes the will.
    assert_will(observer, t, why="DISCONNECT 0x04")


def test_v5_will_delay_postpones_the_will(broker, clients, raws):
    t = will_topic()
    observer = watch(broker, clients, t)
    r = connect_with_will(broker, raws, 5, t, will_props=[(raw_mqtt.WILL_DELAY_INTERVAL, 2)],
                          properties=[(raw_mqtt.SESSION_EXPIRY_INTERVAL, 10)], clean=True)
    r.abort()
    closed_at = time.monotonic()
    assert_will(observer, t, timeout=6.0, why="will delay 2 s")
    elapsed = time.monotonic() - closed_at
    # MQTT-3.1.3-9 (5.0): the will is published after the Will Delay Interval (or when the session ends, if
    # sooner: here the session lasts 10 s).
    assert elapsed >= 1.8, \
        f"expected the will about 2 s after the disconnect (will delay 2 s), got it after {elapsed:.2f} s"


def test_v5_will_is_not_published_if_the_client_reconnects_within_the_delay(broker, clients, raws):
    t, cid = will_topic(), unique_id("w")
    observer = watch(broker, clients, t)
    session = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, 10)]
    connect_with_will(broker, raws, 5, t, client_id=cid, will_props=[(raw_mqtt.WILL_DELAY_INTERVAL, 2)],
                      properties=session).abort()
    again = raws(broker, 5)
    session_present, code, _ = again.connect(cid, clean=False, properties=session)
    assert code == 0 and session_present, f"expected to resume the session, got code {code} sp={session_present}"
    # MQTT-3.1.3-9 (5.0): a new connection to the session before the delay passes -> the will MUST NOT be sent.
    observer.assert_nothing_for(2.7, what="no will: the client reconnected within the 2 s will delay")


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_will_is_published_when_the_client_leaves_before_its_connack(broker, clients, version):
    t = will_topic()
    observer = watch(broker, clients, t)
    # CONNECT and gone at once: the connection may close while its session is still being set up, and the
    # session must still learn that the client left abnormally (MQTT-3.1.2-8).
    sock = raw_mqtt.RawClient(broker.host, broker.port)
    sock.send(raw_mqtt.connect(unique_id("early"), version=version, will=(t, b"gone", 1, False)))
    sock.close()
    assert_will(observer, t, why="client closed before CONNACK")


@pytest.mark.parametrize("subscribed", [pytest.param(False, id="only-connected"), pytest.param(True, id="subscribed")])
@mqhub_only("--write-buffer-limit, so that the observer misses nothing of the flood")
def test_a_taken_over_clients_will_comes_after_every_message_it_sent_on_the_same_topic(start_broker, raws,
                                                                                       subscribed):
    # The old connection hands what it read to the shards before it publishes the will, so on the topic of both
    # the will is the last of that client's messages. Under load a connection batches several reads; the will
    # used to go out from the session directory or the session at once, ahead of the batch still waiting.
    broker = start_broker(["--write-buffer-limit", str(256 << 20)])
    t, cid = will_topic(), unique_id("w")
    observer = raws(broker, 5)
    observer.connect(unique_id("observer"))
    observer.subscribe(1, [(t, 0)])
    old = raws(broker, 5)
    _, code, _ = old.connect(cid, will=dict(topic=t, payload=b"will", qos=0, retain=False, properties=()))
    assert code == 0, f"expected CONNACK success for the client with a will, got 0x{code:02x}"
    if subscribed:
        old.subscribe(1, [(f"{t}/other", 0)])
    burst = b"".join(raw_mqtt.publish(t, b"m%d" % i) for i in range(200))
    stop = threading.Event()

    def stream():  # as fast as it can until the broker closes the connection
        try:
            while not stop.is_set():
                old.sock.send(burst)
        except OSError:
            pass

    streamer = threading.Thread(target=stream)
    streamer.start()
    payloads = []
    try:
        # The takeover comes once the flood reaches the observer.
        first = observer.sock.read_packet(timeout=5.0)
        assert first is not None and first[0] == raw_mqtt.PUBLISH, \
            f"expected the flood to reach the observer, got {first}"
        payloads.append(raw_mqtt.parse_publish(first[1], first[2], 5).payload)
        _, code, _ = raws(broker, 5).connect(cid)
        assert code == 0, f"expected the taking-over connection to be accepted, got 0x{code:02x}"
    finally:
        stop.set()
        streamer.join(5)
    deadline = time.monotonic() + 10
    while b"will" not in payloads:  # all the flood before it, then the will
        pkt = observer.sock.read_packet(timeout=max(deadline - time.monotonic(), 0.01))
        assert pkt is not None, f"expected the will within 10 s of the takeover, after {len(payloads)} messages"
        if pkt[0] == raw_mqtt.PUBLISH:
            payloads.append(raw_mqtt.parse_publish(pkt[1], pkt[2], 5).payload)
    while (pkt := observer.sock.read_packet(timeout=1.0)) is not None:  # anything after the will is wrong
        if pkt[0] == raw_mqtt.PUBLISH:
            payloads.append(raw_mqtt.parse_publish(pkt[1], pkt[2], 5).payload)
    after = payloads[payloads.index(b"will") + 1:]
    assert not after, f"expected nothing from the old client after its will, got {len(after)} more, first {after[0]!r}"
