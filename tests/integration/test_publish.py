"""PUBLISH at QoS 0/1/2: acknowledgement flows, delivery QoS, redelivery with DUP, exactly-once for QoS 2."""

import contextlib
import os
import threading
import time

import pytest
from paho.mqtt.packettypes import PacketTypes

import raw_mqtt
from mqtt_helpers import V311, V5, mosquitto_deviates, mqhub_only, props, unique_id

from mqtt_helpers import clients, raws  # noqa: F401,F811 (pytest fixtures)

PROTOCOLS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
RAW_VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


def topic(name):
    return f"pub/{name}/{unique_id('t')}"


def pub_sub(clients, broker, protocol, sub_qos, t):
    sub = clients(broker, protocol=protocol)
    granted = sub.subscribe(t, sub_qos)
    assert granted == [sub_qos], f"expected the SUBACK to grant QoS {sub_qos}, got {granted}"
    pub = clients(broker, protocol=protocol)
    return pub, sub


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_message_is_acknowledged_and_delivered_at_its_qos(broker, clients, protocol, qos):
    t = topic("qos")
    pub, sub = pub_sub(clients, broker, protocol, 2, t)
    payload = f"hello qos {qos}".encode()
    # Client -> broker: on_publish fires only after PUBACK (QoS 1) / PUBREC+PUBREL+PUBCOMP (QoS 2)
    # (MQTT-4.3.2-1/2, MQTT-4.3.3-1/2); publish() asserts that it does.
    pub.publish(t, payload, qos=qos)
    # Broker -> client: paho hands a QoS 2 message over only after the broker's PUBREL (MQTT-4.3.3).
    m = sub.receive(what=f"the QoS {qos} message on {t}")
    assert (m.topic, m.payload) == (t, payload), f"expected {t!r} {payload!r}, got {m.topic!r} {m.payload!r}"
    # MQTT 3.8.4: delivered QoS = min(published QoS, granted QoS) = published QoS here.
    assert m.qos == qos, f"expected the message delivered at QoS {qos} to a QoS 2 subscription, got QoS {m.qos}"
    sub.assert_nothing_for(0.3, what="exactly one delivery")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("pub_qos,sub_qos", [(2, 1), (2, 0), (1, 0), (0, 2)])
def test_delivery_qos_is_the_minimum_of_published_and_subscribed(broker, clients, protocol, pub_qos, sub_qos):
    t = topic("downgrade")
    pub, sub = pub_sub(clients, broker, protocol, sub_qos, t)
    pub.publish(t, b"x", qos=pub_qos)
    m = sub.receive(what=f"the QoS {pub_qos} message")
    # MQTT-3.8.4-6 (3.1.1) / MQTT-3.8.4-8 (5.0): delivered QoS = min(QoS of the PUBLISH, granted QoS).
    expected = min(pub_qos, sub_qos)
    assert m.qos == expected, \
        f"expected a QoS {pub_qos} message on a QoS {sub_qos} subscription delivered at QoS {expected}, got {m.qos}"


def session_props(protocol):
    return props(PacketTypes.CONNECT, SessionExpiryInterval=60) if protocol == V5 else None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_messages_for_an_offline_session_are_delivered_on_reconnect(broker, clients, protocol):
    cid, t = unique_id("offline"), topic("offline")
    session = session_props(protocol)
    sub = clients(broker, client_id=cid, protocol=protocol, clean=False, properties=session)
    sub.subscribe(t, 2)
    sub.disconnect()
    pub = clients(broker, protocol=protocol)
    sent = [(b"q1-a", 1), (b"q2-b", 2), (b"q1-c", 1), (b"q0-d", 0)]
    for payload, qos in sent:
        pub.publish(t, payload, qos=qos)
    back = clients(broker, client_id=cid, protocol=protocol, clean=False, properties=session)
    assert back.session_present, "expected Session Present 1 when resuming the subscriber's session"
    # MQTT-3.1.2-5 (3.1.1) / MQTT 5 4.1: the session keeps QoS 1 and QoS 2 messages pending transmission and
    # delivers them when the client reconnects (QoS 0 may be dropped for an offline client, so it is not required).
    got = []
    while len([g for g in got if g[1] > 0]) < 3:
        m = back.receive(what=f"the 3 queued QoS 1/2 messages (got {got} so far)")
        got.append((m.payload, m.qos))
    got += [(m.payload, m.qos) for m in back.drain(0.3)]  # anything more: at most the QoS 0 one may come
    queued = [g for g in got if g[1] > 0]
    assert sorted(queued) == [(b"q1-a", 1), (b"q1-c", 1), (b"q2-b", 2)], \
        f"expected the 3 queued QoS 1/2 messages once each at their QoS, got {got}"
    # MQTT 4.6: same topic, same QoS -> publish order (paho hands QoS 2 over only after PUBREL, so the order
    # between QoS 1 and QoS 2 messages is not observable here).
    assert [g for g in got if g[1] == 1] == [(b"q1-a", 1), (b"q1-c", 1)], f"expected QoS 1 in publish order: {got}"
    assert len(got) <= 4, f"expected no duplicates, got {got}"


@pytest.mark.parametrize("first, second", [pytest.param(V311, V5, id="v311-then-v5"),
                                           pytest.param(V5, V311, id="v5-then-v311")])
@pytest.mark.parametrize("handover", ["reconnect", "takeover"])
def test_a_resumed_session_gets_qos0_on_its_new_connection_in_its_new_protocol(broker, clients, first, second,
                                                                               handover):
    # Shards write QoS 0 straight to a subscriber's connection (DESIGN §3): a resumed session must be reached on
    # its new connection without subscribing again, encoded for the protocol version it now speaks.
    cid, t = unique_id("resume0"), topic("resume0")
    sub = clients(broker, client_id=cid, protocol=first, clean=False, properties=session_props(first))
    sub.subscribe(t, 0)
    if handover == "reconnect":
        sub.disconnect()
    back = clients(broker, client_id=cid, protocol=second, clean=False, properties=session_props(second))
    assert back.session_present, f"expected Session Present 1 when the session resumes by {handover}"
    if handover == "takeover":
        assert sub.disconnected.wait(5), "expected the first connection to be closed by the takeover"
    pub = clients(broker)
    sent = [b"m%d" % i for i in range(20)]
    for payload in sent:
        pub.publish(t, payload, qos=0)
    got = [(m.topic, m.payload, m.qos) for m in back.receive_n(20, what="the QoS 0 messages")]
    assert got == [(t, p, 0) for p in sent], f"expected the 20 QoS 0 messages in order, got {got}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_offline_session_keeps_qos1_messages_but_not_qos0(broker, clients, protocol):
    # QoS 0 is not kept for an offline session (DESIGN §3; as mosquitto's default and managed IoT hubs): what
    # the session does keep, QoS 1, still arrives.
    cid, t = unique_id("keep"), topic("keep")
    sub = clients(broker, client_id=cid, protocol=protocol, clean=False, properties=session_props(protocol))
    sub.subscribe(t, 1)
    sub.disconnect()
    pub = clients(broker, protocol=protocol)
    pub.publish(t, b"q0", qos=0)
    pub.publish(t, b"q1", qos=1)
    back = clients(broker, client_id=cid, protocol=protocol, clean=False, properties=session_props(protocol))
    got = [(m.payload, m.qos) for m in back.receive_n(1, what="the queued QoS 1 message")]
    assert got == [(b"q1", 1)], f"expected only the QoS 1 message, got {got}"
    back.assert_nothing_for(0.5, "nothing but the QoS 1 message")


def persistent_connect(raw, client_id, version):
    properties = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, 60)] if version == 5 else ()
    return raw.connect(client_id, clean=False, properties=properties)


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_unacknowledged_qos1_message_is_resent_with_dup_after_reconnect(broker, clients, raws, version):
    cid, t = unique_id("dup"), topic("dup")
    first = raws(broker, version)
    persistent_connect(first, cid, version)
    _, codes, _ = first.subscribe(1, [(t, 1)])
    assert codes == [1], f"expected QoS 1 granted, got {codes}"
    clients(broker, protocol=V5).publish(t, b"redeliver me", qos=1)
    original = first.expect_publish()
    assert (original.qos, original.dup) == (1, False), \
        f"expected the first delivery at QoS 1 without DUP, got qos={original.qos} dup={original.dup}"
    first.abort()  # no PUBACK

    second = raws(broker, version)
    session_present, code, _ = persistent_connect(second, cid, version)
    assert code == 0 and session_present, f"expected the stored session to resume, got code {code} sp={session_present}"
    again = second.expect_publish()
    # MQTT-4.4.0-1 (3.1.1) / MQTT-4.4.0-1 (5.0): on reconnect with a kept session, unacknowledged PUBLISHes are
    # resent with their original Packet Identifiers; MQTT-3.3.1-1: DUP is 1 on such a re-delivery.
    assert again.dup is True, f"expected DUP=1 on the re-delivered PUBLISH, got {again!r}"
    assert again.packet_id == original.packet_id, \
        f"expected the same packet id {original.packet_id} on re-delivery, got {again.packet_id}"
    assert (again.topic, again.payload, again.qos) == (t, b"redeliver me", 1), \
        f"expected the same message re-delivered, got {again!r}"
    second.puback(again.packet_id)
    assert second.sock.read_packet(0.3) is None, "expected no further delivery once the message is acknowledged"


def send_qos2(raw, t, payload, packet_id, dup=False):
    raw.publish(t, payload, qos=2, dup=dup, packet_id=packet_id)
    _, body = raw.expect(raw_mqtt.PUBREC)
    got_id, reason, _ = raw_mqtt.parse_ack(body, raw.version)
    assert got_id == packet_id and reason < 0x80, \
        f"expected PUBREC for packet {packet_id} with a success code, got id {got_id} reason 0x{reason:02x}"


def release(raw, packet_id):
    raw.pubrel(packet_id)
    _, body = raw.expect(raw_mqtt.PUBCOMP)
    got_id, reason, _ = raw_mqtt.parse_ack(body, raw.version)
    assert got_id == packet_id and reason == 0, f"expected PUBCOMP for packet {packet_id}, got id {got_id}"


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_qos2_publish_sent_twice_before_pubrel_is_delivered_once(broker, clients, raws, version):
    t = topic("once")
    sub = clients(broker, protocol=V5)
    sub.subscribe(t, 2)
    pub = raws(broker, version)
    pub.connect(unique_id())
    send_qos2(pub, t, b"only once", 7)
    send_qos2(pub, t, b"only once", 7, dup=True)
    release(pub, 7)
    m = sub.receive(what="the QoS 2 message")
    assert m.payload == b"only once", f"expected the QoS 2 payload, got {m.payload!r}"
    # MQTT-4.3.3-2 (3.1.1) / MQTT-4.3.3-9,10 (5.0): until PUBREL, a PUBLISH with the same packet id is answered
    # with PUBREC and MUST NOT cause duplicate delivery to onward recipients.
    sub.assert_nothing_for(0.5, what="the duplicated QoS 2 PUBLISH delivered only once")


def test_qos2_packet_id_reused_after_pubcomp_is_a_new_message(broker, clients, raws):
    t = topic("reuse")
    sub = clients(broker, protocol=V5)
    sub.subscribe(t, 2)
    pub = raws(broker, 5)
    pub.connect(unique_id())
    for payload in (b"first", b"second"):
        send_qos2(pub, t, payload, 9)
        release(pub, 9)
    # MQTT-4.3.3-3 (3.1.1) / MQTT-4.3.3-11 (5.0): after PUBCOMP, a PUBLISH with that packet id is a new publication.
    got = [m.payload for m in sub.receive_n(2, what="both QoS 2 messages sharing packet id 9")]
    assert got == [b"first", b"second"], f"expected both publications in order, got {got}"


def check_a_stalled_subscriber_gets_every_byte_in_order(b, raws, version):
    t = topic("stall")
    sub = raws(b, version)
    sub.connect(unique_id("stall"))
    sub.sock.sock.setsockopt(raw_mqtt.socket.SOL_SOCKET, raw_mqtt.socket.SO_RCVBUF, 65536)
    _, codes, _ = sub.subscribe(1, [(t, 1)])
    assert codes == [1], f"expected QoS 1 granted, got {codes}"
    pub = raws(b, version)
    pub.connect(unique_id("stall-pub"))
    count, size = 24, 256 * 1024
    for i in range(count):
        pub.publish(t, bytes([i]) * size, qos=1, packet_id=i + 1)
        pub.expect(raw_mqtt.PUBACK)
    for i in range(count):
        m = sub.expect_publish(timeout=10)
        assert m.topic == t
        assert m.payload == bytes([i]) * size, f"message {i}: {len(m.payload)} bytes, first {m.payload[:1]!r}"
        sub.puback(m.packet_id)


@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_a_subscriber_that_stops_reading_gets_every_byte_in_order_when_it_reads_again(broker, raws, version):
    # Far more than the socket buffers hold: the broker's writes end part way through a packet and the rest
    # must follow from where the socket stopped, in order, with nothing lost or repeated.
    check_a_stalled_subscriber_gets_every_byte_in_order(broker, raws, version)


@mqhub_only("--durability memory")
@pytest.mark.parametrize("version", RAW_VERSIONS)
def test_a_stalled_subscriber_sent_to_by_the_publishers_thread_gets_every_byte_in_order(start_broker, raws,
                                                                                       version):
    # In memory one message per flush is light load: the publisher's thread sends to the subscriber's socket
    # itself (connection_send_now.cpp). Once the socket fills part way through a packet, the subscriber's own
    # thread must go on from the byte where that send stopped.
    check_a_stalled_subscriber_gets_every_byte_in_order(start_broker(["--durability", "memory"]), raws, version)


@pytest.mark.parametrize("sub_qos", [0, 1])
def test_a_burst_and_the_single_messages_after_it_arrive_in_order(broker, raws, sub_qos):
    # A burst is routed by the shards' actors, a lone message on the thread that read it (issue 5): the switch
    # must not let a message overtake the burst before it (MQTT-4.6.0-6).
    t = topic("burst")
    sub = raws(broker, 5)
    sub.connect(unique_id("burst-sub"))
    _, codes, _ = sub.subscribe(1, [(t, sub_qos)])
    assert codes == [sub_qos], f"expected QoS {sub_qos} granted, got {codes}"
    pub = raws(broker, 5)
    pub.connect(unique_id("burst-pub"))
    # QoS 1 within the broker's Receive Maximum (1,024), and within a subscriber's window and queue.
    burst, singles = 1000, 30
    pub.sock.send(b"".join(raw_mqtt.publish(t, str(i).encode(), qos=1, packet_id=i + 1) for i in range(burst)))
    for i in range(burst, burst + singles):
        time.sleep(0.002)  # the input, not a wait: a read each, while the burst is still being routed
        pub.sock.send(raw_mqtt.publish(t, str(i).encode(), qos=1, packet_id=i + 1))
    got = []
    for _ in range(burst + singles):
        m = sub.expect_publish(timeout=10)
        got.append(int(m.payload))
        if m.qos:
            sub.puback(m.packet_id)
    assert got == list(range(burst + singles)), \
        f"expected 0..{burst + singles - 1} in order; first out of place at index " \
        f"{next(i for i, v in enumerate(got) if v != i)}"
    for _ in range(burst + singles):
        pub.sock.expect(raw_mqtt.PUBACK)


def slow_qos0_subscriber(broker, raws, t, receive_buffer):
    """A raw MQTT 5 client subscribed to `t` at QoS 0 with a small socket receive buffer; it reads only when told."""
    sub = raws(broker, 5)
    sub.connect(unique_id("slow0"))
    sub.sock.sock.setsockopt(raw_mqtt.socket.SOL_SOCKET, raw_mqtt.socket.SO_RCVBUF, receive_buffer)
    _, codes, _ = sub.subscribe(1, [(t, 0)])
    assert codes == [0], f"expected QoS 0 granted, got {codes}"
    return sub


@mqhub_only("--write-buffer-limit")
def test_qos0_for_a_subscriber_that_stops_reading_is_dropped_beyond_the_write_buffer_limit(start_broker, raws):
    # Bounded memory per client: once a connection holds --write-buffer-limit bytes unwritten, QoS 0 for it is
    # dropped (by its shard, which writes QoS 0 itself). What the subscriber does get is whole and in order.
    b = start_broker(["--write-buffer-limit", "262144"])
    t = topic("slow0")
    sub = slow_qos0_subscriber(b, raws, t, 65536)
    pub = raws(b, 5)
    pub.connect(unique_id("slow0-pub"))
    # 40 MiB: far beyond the limit plus what the kernel's socket buffers can absorb.
    count, size = 2560, 16 * 1024
    for i in range(count):
        pub.publish(t, i.to_bytes(4, "big") + b"x" * (size - 4))
    pub.sock.send(raw_mqtt.pingreq())
    pub.expect(raw_mqtt.PINGRESP, timeout=30)  # every PUBLISH before it was read
    got = []
    while (pkt := sub.sock.read_packet(timeout=1.0)) is not None:
        assert pkt[0] == raw_mqtt.PUBLISH, f"expected only PUBLISHes, got {raw_mqtt.PACKET_NAMES.get(pkt[0])}"
        m = raw_mqtt.parse_publish(pkt[1], pkt[2], 5)
        assert len(m.payload) == size, f"expected whole {size}-byte payloads, got {len(m.payload)}"
        got.append(int.from_bytes(m.payload[:4], "big"))
    assert got, "expected the subscriber to get the messages sent before its connection filled up"
    assert got == sorted(set(got)), "expected what arrives to be in publish order without repeats"
    assert len(got) < count, f"expected QoS 0 beyond the write buffer limit to be dropped, got all {count}"


def peak_rss_kib(broker):
    with open(f"/proc/{broker.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


@mqhub_only("--write-buffer-limit, and the broker's RSS read from /proc")
@pytest.mark.skipif(os.environ.get("MQHUB_SANITIZE", "") != "",
                    reason="a sanitizer's quarantine keeps freed memory: the RSS says nothing about the backlog")
def test_a_publisher_faster_than_its_shard_is_read_no_faster_than_the_shard_routes(start_broker, raws):
    # Bounded memory per client, inbound: the connection decodes a QoS 0 burst faster than the topic's shard can
    # route it to 50 subscribers. Once 1 MiB of its messages wait in shard mailboxes it stops reading until the
    # shard catches up, so TCP slows the client instead of the backlog growing the broker. Without that, the
    # 600,000 messages here pile up in the shard's mailbox: about 175 MiB. With it, 7-12 MiB on an idle machine and
    # up to 35 MiB on a loaded one (larger batches, each routed to 50 subscribers).
    b = start_broker(["--write-buffer-limit", "65536"])  # the subscribers' queues stay small: QoS 0 is dropped
    t = topic("flood")
    for _ in range(50):
        slow_qos0_subscriber(b, raws, t, 4096)
    pub = raws(b, 5)
    pub.connect(unique_id("flood-pub"))
    chunk = b"".join(raw_mqtt.publish(t, b"x" * 64) for _ in range(1000))
    before = peak_rss_kib(b)
    for _ in range(600):
        pub.sock.send(chunk)
    pub.sock.send(raw_mqtt.pingreq())
    pub.expect(raw_mqtt.PINGRESP, timeout=60)  # every PUBLISH before it was read
    # A SUBSCRIBE to the same topic waits behind what the shard has not routed yet: a bounded backlog answers it.
    late = raws(b, 5)
    late.connect(unique_id("flood-late"))
    _, codes, _ = late.subscribe(1, [(t, 0)])
    assert codes == [0], f"expected QoS 0 granted, got {codes}"
    growth_mib = (peak_rss_kib(b) - before) / 1024
    assert growth_mib < 64, f"expected the broker's peak RSS to grow by less than 64 MiB, it grew {growth_mib:.1f} MiB"


@contextlib.contextmanager
def streaming_qos0(broker, raws, t):
    """A publisher sending QoS 0 to `t` as fast as it can while the block runs; yields how many it sent."""
    pub = raws(broker, 5)
    pub.connect(unique_id("stream"))
    stop = threading.Event()
    sent = [0]

    def run():
        while not stop.is_set():
            pub.publish(t, b"live-%d" % sent[0])
            sent[0] += 1

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(5)


def test_a_retained_message_reaches_a_new_subscriber_after_its_suback_and_before_live_ones(broker, clients, raws):
    # Live QoS 0 is written by the topic's shard, the SUBACK and the retained message by the session: the shard
    # holds the new subscriber's live messages until those are out, or a newer value could arrive before the
    # retained one and the client would keep the stale one.
    t = topic("retained-first")
    clients(broker).publish(t, b"retained", qos=0, retain=True)
    for _ in range(10):
        with streaming_qos0(broker, raws, t):
            sub = raws(broker, 5)
            sub.connect(unique_id("retained-first"))
            _, codes, _ = sub.subscribe(1, [(t, 0)])  # asserts the SUBACK is the first packet
            assert codes == [0], f"expected QoS 0 granted, got {codes}"
            first = sub.expect_publish()
            assert (first.payload, first.retain) == (b"retained", True), \
                f"expected the retained message first, got {first.payload!r} retain={first.retain}"
            second = sub.expect_publish()
            assert second.payload.startswith(b"live-") and not second.retain, f"then live ones, got {second.payload!r}"
            sub.disconnect()


@mosquitto_deviates("it closes the taken-over connection without a DISCONNECT packet")
def test_a_taken_over_connection_gets_nothing_after_its_disconnect(broker, raws):
    # The session's DISCONNECT (0x8E) and the close are one step for the connection: QoS 0 a shard writes at that
    # moment must not follow the DISCONNECT (MQTT-3.14.0-1 is about the client; the server's last packet is it).
    t = topic("takeover-last")
    for _ in range(10):
        cid = unique_id("takeover-last")
        first = raws(broker, 5)
        persistent_connect(first, cid, 5)
        first.subscribe(1, [(t, 0)])
        with streaming_qos0(broker, raws, t):
            assert first.expect_publish().payload.startswith(b"live-")
            persistent_connect(raws(broker, 5), cid, 5)
            packets = first.sock.wait_closed(timeout=10)
        assert packets is not None, "expected the taken-over connection to be closed"
        assert packets and packets[-1][0] == raw_mqtt.DISCONNECT, \
            f"expected a DISCONNECT as the last packet, got {[raw_mqtt.PACKET_NAMES[p[0]] for p in packets[-3:]]}"
        assert packets[-1][2][:1] == bytes([0x8E]), f"expected reason 0x8E (session taken over), got {packets[-1][2][:1]!r}"
