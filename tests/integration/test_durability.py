"""Durable sessions, queues and retained messages (issue 3; DESIGN §4; README `--durability`, `--data-dir`).

With `--durability sync` (the default) or `wal`, a QoS 1 PUBACK / QoS 2 PUBREC is sent only after the message and
its queue entries are committed, and a node started on the same `--data-dir` recovers persistent sessions (MQTT
3.1.1 Clean Session 0, MQTT 5 Session Expiry Interval > 0) with their subscriptions and options, queued messages,
outbound in-flight state, inbound QoS 2 state and retained messages, before it prints `listening mqtt ...`.
Each test restarts the node on the same port and data directory, either gracefully (SIGTERM, which must exit 0)
or with SIGKILL ("kill").

A kill right after a SUBSCRIBE, UNSUBSCRIBE or DISCONNECT is only expected to keep that change when a later QoS 1
PUBLISH was acknowledged: its commit comes after theirs in the node's one ordered writer. Tests that kill right
after an operation without such an ack use a graceful restart instead.

The mass crash test (20,000 messages, kill -9 mid-stream) is in test_crash.py.
"""

import os
import re
import signal
import subprocess
import time

import pytest
from paho.mqtt.packettypes import PacketTypes

import raw_mqtt
from conftest import HOST, REPO, free_port
from mqtt_helpers import (V5, V311, clients, mosquitto_pub, mqhub_only, props, raws,  # noqa: F401 (fixtures)
                          unique_id, wait_until, will_at_session_end)

pytestmark = mqhub_only("durable storage is mqhub's --durability / --data-dir; the harness runs mosquitto with "
                        "persistence off")

MQHUB = os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))
SYNC = ["--durability", "sync"]
WAL = ["--durability", "wal"]
EXPIRY = 300
SHORT_EXPIRY = 3
RAW_SESSION = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, EXPIRY)]
RESTARTS = ["graceful", "kill"]

NO_LOCAL = 0x04
RETAIN_AS_PUBLISHED = 0x08


# --------------------------------------------------------------------------------------------------- helpers


def restart(broker, how):
    """Stops the node (SIGTERM, which must exit 0, or SIGKILL) and starts it again on the same port and data
    directory; start() returns once the node prints `listening mqtt ...`, i.e. after recovery."""
    if how == "graceful":
        log = broker.log()
        code = broker.stop()
        assert code == 0, f"expected exit code 0 on SIGTERM before the restart, got {code}:\n{log}"
    else:
        broker.kill()
    broker.start()


def persistent(clients, broker, client_id, version=V5, first=False, expiry=EXPIRY):
    """A paho client with a persistent session: 3.1.1 Clean Session 0; MQTT 5 Session Expiry Interval `expiry`
    (Clean Start 1 on the `first` connect, 0 afterwards)."""
    if version == V311:
        return clients(broker, client_id=client_id, protocol=V311, clean=False)
    return clients(broker, client_id=client_id, protocol=V5, clean=first,
                   properties=props(PacketTypes.CONNECT, SessionExpiryInterval=expiry))


def park(clients, broker, topic, version=V5, qos=1, prefix="parked"):
    """A persistent subscriber to `topic` that then disconnects; returns its client id."""
    client_id = unique_id(prefix)
    sub = persistent(clients, broker, client_id, version, first=True)
    assert not sub.session_present, "expected Session Present 0 for a new client id"
    assert sub.subscribe(topic, qos=qos) == [qos], f"expected the subscription to {topic!r} granted at QoS {qos}"
    sub.disconnect()
    return client_id


def publish_all(clients, broker, topic, payloads, qos=1, retain=False):
    """Publishes each payload and waits for its PUBACK / PUBCOMP (so each is committed), then disconnects."""
    pub = clients(broker)
    for p in payloads:
        pub.publish(topic, p, qos=qos, retain=retain)
    pub.disconnect()


def resume(clients, broker, client_id, version=V5, expect_present=True):
    sub = persistent(clients, broker, client_id, version)
    assert sub.session_present == expect_present, \
        f"expected Session Present {int(expect_present)} for {client_id} after the restart"
    return sub


def payloads(messages):
    return [m.payload for m in messages]


def raw_session(raws, broker, client_id, clean):
    raw = raws(broker, version=5)
    present, code, _ = raw.connect(client_id, clean=clean, properties=RAW_SESSION)
    assert code == 0, f"expected CONNACK success for {client_id}, got 0x{code:02x}"
    return raw, present


def expect_resent_with_dup_and_their_packet_ids(raws, broker, client_id, first):
    """Resumes the session of `client_id` and expects the PUBLISHes `first` again, in order, with DUP=1 and their
    packet ids (MQTT-4.4.0-1, MQTT-3.3.1-1); completes them and expects nothing more."""
    sub, present = raw_session(raws, broker, client_id, clean=False)
    assert present, "expected Session Present 1 after the restart"
    again = [sub.expect_publish() for _ in first]
    assert [p.payload for p in again] == [p.payload for p in first], f"expected the messages again in order: {again}"
    assert [p.dup for p in again] == [True] * len(first), f"expected DUP=1 on the re-sent PUBLISHes, got {again}"
    assert [p.packet_id for p in again] == [p.packet_id for p in first], \
        f"expected the original packet ids {[p.packet_id for p in first]}, got {[p.packet_id for p in again]}"
    complete(sub, again)
    expect_silence(sub)


def complete(raw, publishes):
    """Acknowledges received PUBLISHes: PUBACK, or PUBREC then (after the PUBRELs) PUBCOMP."""
    released = []
    for p in publishes:
        if p.qos == 1:
            raw.puback(p.packet_id)
        else:
            raw.sock.send(raw_mqtt.pubrec(p.packet_id))
    for p in publishes:
        if p.qos == 2:
            _, body = raw.expect(raw_mqtt.PUBREL)
            released.append(raw_mqtt.parse_ack(body)[0])
            raw.sock.send(raw_mqtt.pubcomp(released[-1]))
    expected = sorted(p.packet_id for p in publishes if p.qos == 2)
    assert sorted(released) == expected, f"expected a PUBREL for each PUBREC {expected}, got {released}"
    # A round trip, so the node has read the acks before the test stops it: bytes still in the socket when
    # SIGTERM comes are lost, and their flows rightly resumed after the restart.
    raw.sock.send(raw_mqtt.pingreq())
    raw.expect(raw_mqtt.PINGRESP)


def expect_silence(raw, seconds=0.5):
    pkt = raw.sock.read_packet(seconds)
    assert pkt is None, f"expected nothing more, got {raw_mqtt.PACKET_NAMES.get(pkt[0], pkt[0])} {pkt[2]!r}"


# --------------------------------------------------------------------------------------------------- sessions


@pytest.mark.parametrize("version,how,mode", [
    (V311, "graceful", SYNC), (V311, "kill", SYNC), (V5, "graceful", SYNC), (V5, "kill", SYNC),
    (V5, "kill", WAL), (V311, "kill", WAL)],
    ids=["v311-graceful-sync", "v311-kill-sync", "v5-graceful-sync", "v5-kill-sync", "v5-kill-wal",
         "v311-kill-wal"])
def test_a_persistent_session_keeps_its_queue_and_subscription_over_a_restart(start_broker, clients, version,
                                                                              how, mode):
    # Issue 3: queued messages are delivered after the restart (they were acknowledged, so committed), and the
    # recovered subscription catches messages published after the restart; Session Present 1 [MQTT-3.2.2-2].
    broker = start_broker(mode)
    topic = f"durable/{unique_id()}"
    client_id = park(clients, broker, topic, version)
    before = [f"before-{i}".encode() for i in range(5)]
    after = [f"after-{i}".encode() for i in range(5)]
    publish_all(clients, broker, topic, before)
    restart(broker, how)
    publish_all(clients, broker, topic, after)
    sub = resume(clients, broker, client_id, version)
    got = payloads(sub.receive_n(10, what="messages (5 queued before the restart, 5 published after it)"))
    assert got[:5] == before, f"expected the 5 messages queued before the restart first, in order, got {got}"
    assert got[5:] == after, (f"expected the 5 messages published after the restart (recovered subscription) "
                              f"after them, in order, got {got[5:]}")
    sub.assert_nothing_for(0.5, "each message once")


@pytest.mark.parametrize("how", RESTARTS)
def test_subscription_options_survive_a_restart(start_broker, clients, raws, how):
    # MQTT 5 subscription options and Subscription Identifier are part of the session [MQTT-3.3.4-3,
    # MQTT-3.8.3-3, MQTT-3.3.1-12]: after the restart the QoS, No Local, Retain As Published and the
    # identifier still apply.
    broker = start_broker(SYNC)
    topic = f"options/{unique_id()}"
    client_id = unique_id("options")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    _, codes, _ = sub.subscribe(1, [(topic, 1 | NO_LOCAL | RETAIN_AS_PUBLISHED)],
                                properties=[(raw_mqtt.SUBSCRIPTION_IDENTIFIER, 42)])
    assert codes == [1], f"expected the subscription granted at QoS 1, got {codes}"
    sub.disconnect()
    publish_all(clients, broker, topic, [b"queued-retained"], retain=True)  # also orders the SUBSCRIBE's commit
    restart(broker, how)

    sub, present = raw_session(raws, broker, client_id, clean=False)
    assert present, "expected Session Present 1 after the restart"
    p = sub.expect_publish()
    assert p.payload == b"queued-retained", f"expected the queued message, got {p}"
    assert (p.qos, p.retain) == (1, True), \
        f"expected QoS 1 and RETAIN 1 (Retain As Published) for the queued message, got QoS {p.qos} RETAIN {p.retain}"
    assert p.properties.get(raw_mqtt.SUBSCRIPTION_IDENTIFIER) == 42, \
        f"expected Subscription Identifier 42 on the queued message, got {list(p.properties)}"
    sub.puback(p.packet_id)

    sub.publish(topic, b"own", qos=1, packet_id=9)
    _, body = sub.expect(raw_mqtt.PUBACK)
    assert raw_mqtt.parse_ack(body)[0] == 9, "expected the PUBACK of the subscriber's own message"
    expect_silence(sub)  # No Local: its own message must not come back [MQTT-3.8.3-3]

    publish_all(clients, broker, topic, [b"live"])
    p = sub.expect_publish()
    assert (p.payload, p.qos, p.retain) == (b"live", 1, False), f"expected 'live' at QoS 1 without RETAIN, got {p}"
    assert p.properties.get(raw_mqtt.SUBSCRIPTION_IDENTIFIER) == 42, \
        f"expected Subscription Identifier 42 after the restart, got {list(p.properties)}"


def test_an_unsubscribe_survives_a_restart(start_broker, clients):
    broker = start_broker(SYNC)
    base = f"unsub/{unique_id()}"
    client_id = unique_id("unsub")
    sub = persistent(clients, broker, client_id, first=True)
    sub.subscribe(f"{base}/kept", qos=1)
    sub.subscribe(f"{base}/dropped", qos=1)
    sub.unsubscribe(f"{base}/dropped")
    sub.disconnect()
    publish_all(clients, broker, f"{base}/kept", [b"before"])  # orders the UNSUBSCRIBE's commit before the kill
    restart(broker, "kill")
    publish_all(clients, broker, f"{base}/dropped", [b"to-dropped"])
    publish_all(clients, broker, f"{base}/kept", [b"to-kept"])
    sub = resume(clients, broker, client_id)
    got = payloads(sub.receive_n(2, what="the two messages for the kept subscription"))
    assert got == [b"before", b"to-kept"], f"expected only the kept subscription's messages, got {got}"
    sub.assert_nothing_for(0.5, "nothing for the dropped subscription")


def test_a_session_ended_by_clean_session_stays_gone_after_a_restart(start_broker, clients):
    # MQTT-3.1.2-6: Clean Session 1 discards the previous session; the stored copy must go too.
    broker = start_broker(SYNC)
    topic = f"cleaned/{unique_id()}"
    client_id = park(clients, broker, topic, V311)
    publish_all(clients, broker, topic, [b"queued"])
    cleaner = clients(broker, client_id=client_id, protocol=V311, clean=True)
    assert cleaner.session_present is False, "expected Session Present 0 with Clean Session 1 [MQTT-3.2.2-1]"
    cleaner.disconnect()
    publish_all(clients, broker, topic, [b"after-clean"])  # no subscriber any more; orders the commit
    restart(broker, "kill")
    publish_all(clients, broker, topic, [b"after-restart"])
    sub = resume(clients, broker, client_id, V311, expect_present=False)
    sub.assert_nothing_for(0.5, "no message for a session that Clean Session 1 ended")


@pytest.mark.parametrize("expires,how", [("during-downtime", "graceful"), ("during-downtime", "kill"),
                                         ("before-shutdown", "graceful")])
def test_sessions_whose_expiry_passed_are_gone_after_a_restart(start_broker, clients, expires, how):
    # MQTT-3.1.2-23 / 4.1: a session is kept for Session Expiry Interval seconds after the disconnect, also
    # across a restart, and the time the node was down counts.
    broker = start_broker(SYNC)
    topic, ended = f"expiry/{unique_id()}", f"expiry/ended/{unique_id()}"
    watcher = clients(broker)
    watcher.subscribe(ended, qos=1)
    short_id, long_id = unique_id("short"), unique_id("long")
    long = persistent(clients, broker, long_id, first=True)
    long.subscribe(topic, qos=1)
    long.disconnect()
    short = clients(broker, client_id=short_id, protocol=V5, clean=True, will=will_at_session_end(ended),
                    properties=props(PacketTypes.CONNECT, SessionExpiryInterval=SHORT_EXPIRY))
    short.subscribe(topic, qos=1)
    short.disconnect_keeping_will()
    disconnected_at = time.monotonic()
    publish_all(clients, broker, topic, [b"queued"])
    if expires == "before-shutdown":
        # The session's will goes out as the session ends (its delay is an hour): the sign that it expired.
        watcher.receive(timeout=SHORT_EXPIRY + 10, what="the will of the short session as it expired")
        restart(broker, how)
    else:
        if how == "graceful":
            assert broker.stop() == 0, "expected exit code 0 on SIGTERM"
        else:
            broker.kill()
        assert time.monotonic() - disconnected_at < SHORT_EXPIRY, \
            f"the node took {time.monotonic() - disconnected_at:.1f} s to stop: the {SHORT_EXPIRY} s session " \
            f"expired before the downtime this case is about"
        stay_down_until(disconnected_at + SHORT_EXPIRY + 1)
        broker.start()
    short = persistent(clients, broker, short_id, expiry=SHORT_EXPIRY)
    assert not short.session_present, f"expected Session Present 0: the {SHORT_EXPIRY} s session expired"
    short.assert_nothing_for(0.5, "no message for an expired session")
    long = resume(clients, broker, long_id)
    assert payloads(long.receive_n(1, what="the queued message of the 300 s session")) == [b"queued"]


def test_a_message_queued_for_several_sessions_survives_until_each_has_it(start_broker, clients):
    # DESIGN §4: a message is stored once and referenced by each queue; one session consuming it must not take
    # it from the others, across restarts of both kinds.
    broker = start_broker(SYNC)
    base = f"shared/{unique_id()}"
    a = park(clients, broker, f"{base}/t", V5, prefix="a")
    b = park(clients, broker, f"{base}/+", V311, prefix="b")
    c = park(clients, broker, f"{base}/#", V5, prefix="c")
    sent = [f"m{i}".encode() for i in range(5)]
    publish_all(clients, broker, f"{base}/t", sent)
    restart(broker, "kill")

    sub = resume(clients, broker, a)
    assert payloads(sub.receive_n(5, what="a's 5 messages")) == sent
    sub.wait_acks_taken()  # else the stop may come before the node has read them, and it must resend
    sub.disconnect()
    restart(broker, "graceful")

    sub = resume(clients, broker, b, V311)
    assert payloads(sub.receive_n(5, what="b's 5 messages")) == sent
    sub.wait_acks_queued()
    sub.disconnect()
    sub = resume(clients, broker, a)
    sub.assert_nothing_for(0.5, "nothing for a: it acknowledged every message before the graceful restart")
    sub.disconnect()
    restart(broker, "kill")

    sub = resume(clients, broker, c)
    assert payloads(sub.receive_n(5, what="c's 5 messages")) == sent


def test_the_queue_limit_counts_the_messages_recovered_from_the_database(start_broker, clients):
    # --session-queue-limit applies to the recovered queue plus what arrives after the restart.
    broker = start_broker(SYNC + ["--session-queue-limit", "10"])
    topic = f"limit/{unique_id()}"
    client_id = park(clients, broker, topic)
    publish_all(clients, broker, topic, [f"a{i}".encode() for i in range(6)])
    restart(broker, "kill")
    publish_all(clients, broker, topic, [f"b{i}".encode() for i in range(6)])
    sub = resume(clients, broker, client_id)
    got = payloads(sub.receive_n(10, what="10 queued messages"))
    assert got == sorted(set(got)), f"expected distinct messages in publish order, got {got}"
    sub.assert_nothing_for(0.5, "no more than the queue limit (10) of the 12 messages")


def test_mosquitto_sub_persistent_client_gets_its_messages_after_kill_9(start_broker):
    # A client nobody here wrote: mosquitto_sub -c (Clean Session 0) -i ID -q 1.
    broker = start_broker(SYNC)
    topic = f"msub/{unique_id()}"
    client_id = unique_id("msub")
    base = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-V", "mqttv311", "-c", "-i", client_id,
            "-q", "1", "-t", topic]
    first = subprocess.run(base + ["-E"], capture_output=True, text=True, timeout=15)
    assert first.returncode == 0, f"expected mosquitto_sub -E to subscribe and exit 0: {first.stderr}"
    lines = [f"line-{i}" for i in range(5)]
    mosquitto_pub(broker, topic, qos=1, lines=lines)
    restart(broker, "kill")
    second = subprocess.run(base + ["-C", "5", "-W", "5"], capture_output=True, text=True, timeout=15)
    assert second.stdout.splitlines() == lines, \
        f"expected the 5 queued lines in order after kill -9, got {second.stdout!r} (stderr {second.stderr!r})"


# --------------------------------------------------------------------------------------------------- in flight


@pytest.mark.parametrize("qos", [1, 2])
@pytest.mark.parametrize("how", RESTARTS)
def test_unacknowledged_deliveries_are_resent_with_dup_and_their_packet_ids(start_broker, clients, raws, how, qos):
    # MQTT-4.4.0-1: on reconnect with a session present the server re-sends unacknowledged PUBLISHes with their
    # original packet identifiers, DUP=1 [MQTT-3.3.1-1]; issue 3: this state survives a restart.
    broker = start_broker(SYNC)
    topic = f"inflight/{unique_id()}"
    client_id = unique_id("inflight")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    sub.subscribe(1, [(topic, qos)])
    publish_all(clients, broker, topic, [b"m0", b"m1", b"m2"], qos=qos)
    first = [sub.expect_publish() for _ in range(3)]
    assert [(p.payload, p.dup) for p in first] == [(b"m0", False), (b"m1", False), (b"m2", False)], \
        f"expected the 3 messages in order with DUP=0, got {first}"
    if qos == 1 and how == "kill":
        # Only a delivery the node has recorded as sent can be re-sent as one. A QoS 2 send is recorded before the
        # PUBLISH goes out; a QoS 1 send 100 ms after it (README Durability), which nothing outside the node can
        # see: wait that out with room to spare, then make a later commit that must follow the record's in the
        # node's one ordered writer (an acknowledged QoS 1 PUBLISH) before the kill.
        time.sleep(1.0)
        publish_all(clients, broker, f"{topic}/order", [b"x"])
    sub.abort()
    restart(broker, how)
    expect_resent_with_dup_and_their_packet_ids(raws, broker, client_id, first)


def test_a_graceful_stop_right_after_qos1_sends_keeps_their_packet_ids_and_dup(start_broker, clients, raws):
    # A QoS 1 delivery's move to inflight is stored late (most are acknowledged first, and then never): the
    # node's stop must store the ones still waiting, while their subscriber is connected, or the restart would
    # resend them as new messages under new packet ids.
    broker = start_broker(SYNC)
    topic = f"inflight/stop/{unique_id()}"
    client_id = unique_id("inflight-stop")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    sub.subscribe(1, [(topic, 1)])
    publish_all(clients, broker, topic, [b"m0", b"m1", b"m2"], qos=1)
    first = [sub.expect_publish() for _ in range(3)]
    assert [p.payload for p in first] == [b"m0", b"m1", b"m2"], f"expected the 3 messages in order: {first}"
    restart(broker, "graceful")  # at once, the subscriber still connected
    expect_resent_with_dup_and_their_packet_ids(raws, broker, client_id, first)


@pytest.mark.parametrize("qos", [1, 2])
def test_completed_deliveries_are_not_resent_after_a_restart(start_broker, clients, raws, qos):
    broker = start_broker(SYNC)
    topic = f"done/{unique_id()}"
    client_id = unique_id("done")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    sub.subscribe(1, [(topic, qos)])
    publish_all(clients, broker, topic, [b"m0", b"m1"], qos=qos)
    complete(sub, [sub.expect_publish() for _ in range(2)])
    sub.disconnect()
    restart(broker, "graceful")
    sub, present = raw_session(raws, broker, client_id, clean=False)
    assert present, "expected Session Present 1 after the restart"
    expect_silence(sub)


@pytest.mark.parametrize("how", RESTARTS)
def test_a_pubrel_owed_to_a_subscriber_is_resent_after_a_restart(start_broker, clients, raws, how):
    # MQTT-4.4.0-1: unacknowledged PUBREL packets are re-sent too; the message itself must not come again.
    broker = start_broker(SYNC)
    topic = f"pubrel/{unique_id()}"
    client_id = unique_id("pubrel")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    sub.subscribe(1, [(topic, 2)])
    publish_all(clients, broker, topic, [b"once"], qos=2)
    p = sub.expect_publish()
    sub.sock.send(raw_mqtt.pubrec(p.packet_id))
    _, body = sub.expect(raw_mqtt.PUBREL)
    assert raw_mqtt.parse_ack(body)[0] == p.packet_id
    # No pause: the node records the PUBREC before it sends the PUBREL (see the kill -9 test below).
    sub.abort()
    restart(broker, how)

    sub, present = raw_session(raws, broker, client_id, clean=False)
    assert present, "expected Session Present 1 after the restart"
    pkt = sub.sock.read_packet(5)
    assert pkt is not None, "expected the PUBREL to be re-sent after the restart, got nothing"
    assert pkt[0] == raw_mqtt.PUBREL, \
        f"expected PUBREL (the message was already received), got {raw_mqtt.PACKET_NAMES.get(pkt[0], pkt[0])}"
    assert raw_mqtt.parse_ack(pkt[2])[0] == p.packet_id, "expected the PUBREL for the original packet id"
    sub.sock.send(raw_mqtt.pubcomp(p.packet_id))
    expect_silence(sub)


@pytest.mark.parametrize("stage", ["publish-sent", "pubrel-sent"])
def test_a_qos2_delivery_interrupted_by_kill_9_right_after_a_send_resumes_where_it_was(start_broker, clients, raws,
                                                                                      stage):
    # Exactly once towards a subscriber across a crash: the subscriber's session state is keyed by packet id. Once
    # it has seen PUBLISH id X, the node must re-send X with DUP=1 and the same id [MQTT-4.4.0-1], never the
    # message under a new id (the subscriber would deliver it twice) nor another message under X while X is
    # unreleased (the subscriber would drop it as a duplicate, MQTT-4.3.3-10). Once it has seen PUBREL X (and
    # dropped X from its state), the node must re-send PUBREL X, never the PUBLISH. So the node has to record the
    # packet id, and the PUBREC, before it sends the PUBLISH, and the PUBREL. No pause before the kill here, unlike
    # the tests above: the client has seen the packet, that is all it takes.
    broker = start_broker(SYNC)
    topic = f"qos2-crash/{unique_id()}"
    client_id = unique_id("qos2-crash")
    sub, _ = raw_session(raws, broker, client_id, clean=True)
    sub.subscribe(1, [(topic, 2)])
    publish_all(clients, broker, topic, [b"once"], qos=2)
    p = sub.expect_publish()
    if stage == "pubrel-sent":
        sub.sock.send(raw_mqtt.pubrec(p.packet_id))
        _, body = sub.expect(raw_mqtt.PUBREL)
        assert raw_mqtt.parse_ack(body)[0] == p.packet_id
    broker.kill()
    sub.close()
    broker.start()

    sub, present = raw_session(raws, broker, client_id, clean=False)
    assert present, "expected Session Present 1 after the restart"
    pkt = sub.sock.read_packet(5)
    assert pkt is not None, f"expected the interrupted QoS 2 flow to resume after the restart, got nothing"
    name = raw_mqtt.PACKET_NAMES.get(pkt[0], pkt[0])
    if stage == "pubrel-sent":
        assert pkt[0] == raw_mqtt.PUBREL, \
            f"expected PUBREL {p.packet_id} again (the subscriber already released the message), got {name}" + (
                f" {raw_mqtt.parse_publish(pkt[1], pkt[2])} DUP={int(bool(pkt[1] & 8))}" if name == "PUBLISH" else "")
        assert raw_mqtt.parse_ack(pkt[2])[0] == p.packet_id, "expected the PUBREL for the original packet id"
    else:
        assert pkt[0] == raw_mqtt.PUBLISH, f"expected the PUBLISH again, got {name}"
        again = raw_mqtt.parse_publish(pkt[1], pkt[2])
        assert (again.payload, again.packet_id, again.dup) == (b"once", p.packet_id, True), \
            f"expected 'once' re-sent with packet id {p.packet_id} and DUP=1, got {again} DUP={int(again.dup)}"


@pytest.mark.parametrize("resend_publish", [False, True], ids=["pubrel", "dup-publish-then-pubrel"])
@pytest.mark.parametrize("how", RESTARTS)
def test_inbound_qos2_state_survives_a_restart(start_broker, clients, raws, how, resend_publish):
    # Issue 3: the PUBREC is sent after commit; the packet id awaiting PUBREL survives a restart, so a PUBREL
    # completes (PUBCOMP 0x00, not 0x92 Packet Identifier not found) and a re-sent PUBLISH DUP=1 is not routed
    # again: the subscriber gets the message exactly once [MQTT-4.3.3-10, MQTT-4.4.0-1].
    broker = start_broker(SYNC)
    topic = f"inbound/{unique_id()}"
    sub_id = park(clients, broker, topic, V311, qos=2)
    pub_id = unique_id("pub")
    pub, _ = raw_session(raws, broker, pub_id, clean=True)
    pub.publish(topic, b"exactly-once", qos=2, packet_id=7)
    _, body = pub.expect(raw_mqtt.PUBREC)
    pid, code, _ = raw_mqtt.parse_ack(body)
    assert (pid, code) == (7, 0), f"expected PUBREC 7 success, got {pid} 0x{code:02x}"
    pub.abort()
    restart(broker, how)

    pub, present = raw_session(raws, broker, pub_id, clean=False)
    assert present, "expected Session Present 1 for the publisher after the restart"
    if resend_publish:
        pub.publish(topic, b"exactly-once", qos=2, dup=True, packet_id=7)
        _, body = pub.expect(raw_mqtt.PUBREC)
        pid, code, _ = raw_mqtt.parse_ack(body)
        assert pid == 7 and code < 0x80, f"expected PUBREC 7 success for the re-sent PUBLISH, got {pid} 0x{code:02x}"
    pub.pubrel(7)
    _, body = pub.expect(raw_mqtt.PUBCOMP)
    pid, code, _ = raw_mqtt.parse_ack(body)
    assert (pid, code) == (7, 0), \
        f"expected PUBCOMP 7 with 0x00 (0x92 means the packet id was forgotten), got {pid} 0x{code:02x}"
    sub = resume(clients, broker, sub_id, V311)
    assert payloads(sub.receive_n(1, what="the QoS 2 message")) == [b"exactly-once"]
    sub.assert_nothing_for(0.5, "the QoS 2 message only once")


# --------------------------------------------------------------------------------------------------- retained


@pytest.mark.parametrize("how", RESTARTS)
def test_retained_messages_their_replacement_and_deletion_survive_a_restart(start_broker, clients, how):
    # MQTT-3.3.1-5 / -10 / -11 across a restart: the last retained message per topic is kept, and an empty
    # retained message deletes it for good.
    broker = start_broker(SYNC)
    base = f"retained/{unique_id()}"
    pub = clients(broker)
    pub.publish(f"{base}/kept", b"kept", qos=1, retain=True)
    pub.publish(f"{base}/replaced", b"old", qos=1, retain=True)
    pub.publish(f"{base}/replaced", b"new", qos=1, retain=True)
    pub.publish(f"{base}/deleted", b"doomed", qos=1, retain=True)
    pub.publish(f"{base}/deleted", b"", qos=1, retain=True)
    pub.disconnect()
    restart(broker, how)
    sub = clients(broker)
    sub.subscribe(f"{base}/#", qos=1)
    got = sub.receive_n(2, what="the 2 retained messages")
    seen = sorted((m.topic, m.payload, m.retain) for m in got)
    assert seen == [(f"{base}/kept", b"kept", True), (f"{base}/replaced", b"new", True)], \
        f"expected exactly kept='kept' and replaced='new' with RETAIN 1 (deleted stays deleted), got {seen}"
    sub.assert_nothing_for(0.5, "no retained message for the deleted topic")


# --------------------------------------------------------------------------------------------------- modes


def test_the_default_durability_keeps_acknowledged_messages_over_kill_9(start_broker, clients):
    # README: --durability defaults to sync.
    broker = start_broker()
    topic = f"default/{unique_id()}"
    client_id = park(clients, broker, topic)
    publish_all(clients, broker, topic, [b"acked"])
    restart(broker, "kill")
    sub = resume(clients, broker, client_id)
    assert payloads(sub.receive_n(1, what="the acknowledged message")) == [b"acked"]


def test_memory_mode_keeps_sessions_while_running_and_forgets_them_on_restart(start_broker, clients):
    # --durability memory: sessions persist across reconnects of a running node, not across a restart.
    broker = start_broker(["--durability", "memory"])
    topic = f"memory/{unique_id()}"
    client_id = park(clients, broker, topic)
    publish_all(clients, broker, topic, [b"while-running"])
    sub = resume(clients, broker, client_id)
    assert payloads(sub.receive_n(1, what="the message queued while offline")) == [b"while-running"]
    sub.wait_acks_queued()
    sub.disconnect()
    publish_all(clients, broker, topic, [b"before-restart"])
    restart(broker, "graceful")
    sub = resume(clients, broker, client_id, expect_present=False)
    sub.assert_nothing_for(0.5, "nothing after a restart in memory mode")


def test_a_store_size_limit_that_is_not_reached_changes_nothing(start_broker, clients):
    # --max-store-bytes N (0 = no limit): under the limit, messages are stored and recovered as usual.
    broker = start_broker(SYNC + ["--max-store-bytes", str(1 << 30)])
    topic = f"limit/{unique_id()}"
    client_id = park(clients, broker, topic)
    publish_all(clients, broker, topic, [b"stored"])
    restart(broker, "kill")
    sub = resume(clients, broker, client_id)
    assert payloads(sub.receive_n(1, what="the stored message")) == [b"stored"]


# --------------------------------------------------------------------------------------------------- damage

ROCKSDB_FILE = re.compile(r"^(CURRENT|IDENTITY|LOCK|LOG(\.old\.\d+)?|MANIFEST-\d+|OPTIONS-\d+|\d+\.(sst|log|blob))$")
GARBAGE = b"\xde\xad\xbe\xef not a rocksdb file \x00\xff" * 64


def files_under(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def run_until_exit(data_dir, timeout=15):
    """Starts the node on `data_dir`; returns (exit code, output), or fails if it is still running."""
    cmd = [MQHUB, "--data-dir", data_dir, "--bind", HOST, "--mqtt-port", str(free_port()), "--mqtts-port", "0",
           "--ws-port", "0", "--wss-port", "0", "--http-port", "0", "--cluster-port", "0", *SYNC]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"expected the node to refuse to start on a corrupt database; still running after {timeout}s:"
                    f"\n{out}")
    return proc.returncode, out


@pytest.mark.parametrize("damage", ["current-and-manifest", "every-rocksdb-file"])
def test_a_corrupt_database_stops_the_start_and_is_left_in_place(start_broker, clients, damage):
    # Issue 3: a damaged database is an error for the operator, never silently repaired or replaced.
    broker = start_broker(SYNC)
    topic = f"corrupt/{unique_id()}"
    park(clients, broker, topic)
    publish_all(clients, broker, topic, [b"queued"], retain=True)
    assert broker.stop() == 0, "expected exit code 0 on SIGTERM"

    before = files_under(broker.data_dir)
    names = sorted(before)
    assert any(os.path.basename(p) == "CURRENT" for p in names), \
        f"expected a RocksDB database (a CURRENT file) under --data-dir, found {names}"
    if damage == "current-and-manifest":
        victims = [p for p in names if re.match(r"^(CURRENT|MANIFEST-\d+)$", os.path.basename(p))]
    else:
        victims = [p for p in names if ROCKSDB_FILE.match(os.path.basename(p))]
    for p in victims:
        with open(os.path.join(broker.data_dir, p), "wb") as f:
            f.write(GARBAGE)

    code, out = run_until_exit(broker.data_dir)
    assert code != 0, f"expected a non-zero exit code on a corrupt database, got {code}:\n{out}"
    assert re.search(r"database|rocksdb", out, re.IGNORECASE), \
        f"expected the error to mention the database, got:\n{out}"
    after = files_under(broker.data_dir)
    missing = sorted(set(before) - set(after))
    assert not missing, f"expected every file of the data directory kept, missing {missing} (corrupted {victims})"
    changed = [p for p in victims if not os.path.basename(p).startswith("LOG") and after[p] != GARBAGE]
    assert not changed, f"expected the corrupt files left as they were (not repaired or replaced), changed {changed}"


# --------------------------------------------------------------------------------------------------- wills


def test_a_will_given_on_reconnect_survives_kill_9_and_replaces_the_retained_state(start_broker, clients, raws):
    # MQTT-3.1.2-8: a connection that ends without DISCONNECT publishes its will; the node dying counts. The
    # will comes with the reconnect (no SUBSCRIBE follows that would store the session again), and the usual
    # pattern retains "online" first: after the restart new subscribers must see the will, not "online".
    broker = start_broker(["--durability", "sync"])
    topic = f"status/{unique_id()}"
    watcher_id = park(clients, broker, topic)
    device_id = unique_id("device")
    first, _ = raw_session(raws, broker, device_id, clean=True)
    first.disconnect()
    device = raws(broker)
    present, code, _ = device.connect(device_id, clean=False, properties=RAW_SESSION,
                                      will=dict(topic=topic, payload=b"offline", qos=1, retain=True))
    assert (present, code) == (1, 0), "expected the device's session back"
    device.publish(topic, b"online", qos=1, retain=True, packet_id=1)
    device.expect(raw_mqtt.PUBACK)
    broker.kill()
    broker.start()

    watcher = resume(clients, broker, watcher_id)
    got = [m.payload for m in watcher.receive_n(2, what="the queued 'online' and then the will")]
    assert got == [b"online", b"offline"], f"expected the queued 'online' then the will 'offline', got {got}"
    late = clients(broker)
    late.subscribe(topic, qos=1)
    retained = late.receive(what=f"the retained message of {topic}")
    assert retained.payload == b"offline", f"expected the will to be the retained state, got {retained.payload!r}"


def drop(broker, raw):
    """Closes the raw client's connection without DISCONNECT and waits until the node has closed its side of it;
    returns the time of the drop (time.monotonic())."""
    client_port = raw.sock.sock.getsockname()[1]
    assert broker.holds_connection_from(client_port), "expected the node to hold the client's connection"
    raw.abort()
    dropped_at = time.monotonic()
    assert wait_until(lambda: not broker.holds_connection_from(client_port), timeout=10), \
        "expected the node to close the connection the client dropped within 10 s"
    return dropped_at


def stay_down_until(moment):
    """Keeps the stopped node down until time.monotonic() reaches `moment`: the downtime is part of the scenario
    (it must count towards an interval), not a wait for something to happen."""
    time.sleep(max(0.0, moment - time.monotonic()))


WILL_DELAY = 6
DOWNTIME = 3


def test_a_will_delay_that_spans_a_restart_goes_on_from_where_it_was(start_broker, clients, raws):
    # MQTT-3.1.3-9 (5.0): the will is published once the Will Delay Interval has passed since the connection
    # closed (the session, 300 s, lasts longer). Issue 3 / README: the will is stored with the session, so a node
    # stopped and started within the delay must neither publish it at start (at ~3 s) nor wait the whole delay
    # again from the start (at ~9 s): it goes out at ~6 s after the drop.
    broker = start_broker(SYNC)
    topic = f"will-delay/{unique_id()}"
    watcher_id = park(clients, broker, topic)
    device = raws(broker)
    _, code, _ = device.connect(unique_id("device"), properties=RAW_SESSION,
                                will=dict(topic=topic, payload=b"offline", qos=1,
                                          properties=[(raw_mqtt.WILL_DELAY_INTERVAL, WILL_DELAY)]))
    assert code == 0, f"expected CONNACK success for the device, got 0x{code:02x}"
    dropped_at = drop(broker, device)
    assert broker.stop() == 0, f"expected exit code 0 on SIGTERM:\n{broker.log()}"
    stay_down_until(dropped_at + DOWNTIME)
    broker.start()
    watcher = resume(clients, broker, watcher_id)
    will = watcher.receive(timeout=WILL_DELAY + 10, what="the will once its delay passed")
    after = time.monotonic() - dropped_at
    assert will.payload == b"offline", f"expected the will b'offline', got {will.payload!r}"
    # A second of slack below: a will delay kept in whole seconds of wall-clock time may end up to 1 s early.
    assert after >= WILL_DELAY - 1, \
        f"expected the will {WILL_DELAY} s after the drop, not before; it came after {after:.1f} s " \
        f"(the node was down for the first {DOWNTIME} s)"
    assert after < DOWNTIME + WILL_DELAY - 0.5, \
        f"expected the will {WILL_DELAY} s after the drop (the delay goes on over the restart), got it after " \
        f"{after:.1f} s: the whole delay counted again from the start at {DOWNTIME} s?"
    watcher.assert_nothing_for(0.5, "the will only once")


@pytest.mark.parametrize("how", RESTARTS)
def test_the_will_of_a_session_that_expired_while_the_node_was_down_goes_out_at_start(start_broker, clients, raws,
                                                                                     how):
    # MQTT-3.1.3-9 (5.0): the will goes out when the session ends, if that comes before the will delay (300 s
    # here); README Durability: on start the node removes sessions that expired meanwhile and their wills go out.
    broker = start_broker(SYNC)
    topic = f"will-expired/{unique_id()}"
    watcher_id = park(clients, broker, topic)
    watcher = resume(clients, broker, watcher_id)
    device_id = unique_id("device")
    device = raws(broker)
    _, code, _ = device.connect(device_id, properties=[(raw_mqtt.SESSION_EXPIRY_INTERVAL, 2)],
                                will=dict(topic=topic, payload=b"expired", qos=1,
                                          properties=[(raw_mqtt.WILL_DELAY_INTERVAL, 300)]))
    assert code == 0, f"expected CONNACK success for the device, got 0x{code:02x}"
    dropped_at = drop(broker, device)
    # Orders the commit of the disconnect before a kill (see the module's docstring).
    publish_all(clients, broker, f"{topic}/order", [b"x"])
    watcher.assert_nothing_for(0.5, "no will while the device's session (2 s) lasts")
    if how == "graceful":
        assert broker.stop() == 0, f"expected exit code 0 on SIGTERM:\n{broker.log()}"
    else:
        broker.kill()
    stay_down_until(dropped_at + 3)  # the 2 s session expires while the node is down
    broker.start()
    watcher = resume(clients, broker, watcher_id)
    will = watcher.receive(what="the will of the session that expired during the downtime")
    assert will.payload == b"expired", f"expected the will b'expired', got {will.payload!r}"
    device = raws(broker)
    present, code, _ = device.connect(device_id, clean=False, properties=[(raw_mqtt.SESSION_EXPIRY_INTERVAL, 2)])
    assert (present, code) == (False, 0), \
        f"expected Session Present 0: the device's session expired during the downtime, got {present}, 0x{code:02x}"


@pytest.mark.parametrize("version", [V311, V5], ids=["v311", "v5"])
@pytest.mark.parametrize("how", RESTARTS)
def test_a_shared_subscription_of_a_persistent_session_works_after_a_restart(start_broker, clients, version, how):
    # MQTT 4.8.2 (5.0): a shared subscription is part of the member's session (a message for an offline session
    # is queued for it); issue 3: it survives a restart like any other subscription of a persistent session.
    broker = start_broker(SYNC)
    topic = f"shared-durable/{unique_id()}"
    client_id = park(clients, broker, f"$share/g/{topic}", version)
    publish_all(clients, broker, topic, [b"before"])  # queued; also orders the SUBSCRIBE's commit before a kill
    restart(broker, how)
    publish_all(clients, broker, topic, [b"offline-after"])
    sub = resume(clients, broker, client_id, version)
    got = payloads(sub.receive_n(2, what="messages (queued before the restart and after it)"))
    assert got == [b"before", b"offline-after"], \
        f"expected the message queued before the restart and the one published after it, in order, got {got}"
    publish_all(clients, broker, topic, [b"live"])
    assert payloads(sub.receive_n(1, what="a message published while connected")) == [b"live"]
    sub.assert_nothing_for(0.5, "each message once")
