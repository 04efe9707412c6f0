"""Issue 22: a persistent session follows its client across a cluster of real mqhub nodes (tools/cluster-up). A
client that reconnects at another node with Clean Start 0 finds its session there: Session Present 1, its
subscriptions, its queued QoS 1 and 2 messages in order, and its unacknowledged ones resent with DUP; nothing
published meanwhile is lost, and the node it left keeps no copy."""

import threading
import time

import pytest

import raw_mqtt
from cluster_helpers import wait_until
from mqtt_helpers import UNDER_MOSQUITTO, V311, clients, unique_id  # noqa: F401,F811 (fixture)
from test_cluster_routing import three_nodes, until_routed  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(UNDER_MOSQUITTO, reason="mqhub only: a cluster of mqhub nodes")

EXPIRY = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, 600)]


def payloads(client, n):
    return [m.payload.decode() for m in client.receive_n(n)]


def offline_session(clients, c, at, client_id, topic_filter, qos, publisher_at):
    """A persistent 3.1.1 session at node `at` subscribed to `topic_filter`, its client gone; and a publisher at
    node `publisher_at` whose messages to the filter are known to reach that node."""
    subscriber = clients(c.node(at), client_id=client_id, protocol=V311, clean=False)
    subscriber.subscribe(topic_filter, qos=qos)
    publisher = clients(c.node(publisher_at))
    until_routed(publisher, subscriber, topic_filter.replace("#", "probe"))
    subscriber.disconnect()
    return publisher


def test_a_session_resumed_at_another_node_brings_its_subscriptions_and_queue(three_nodes, clients):
    c = three_nodes
    base = unique_id("roam")
    client_id = unique_id("traveller")
    publisher = offline_session(clients, c, 1, client_id, f"{base}/#", 2, publisher_at=3)

    # A stream in QoS 1 and one in QoS 2 (order holds per topic; paho hands a QoS 2 message over only at its
    # PUBREL), and a topic for each of several owners.
    for i in range(60):
        publisher.publish(f"{base}/qos{1 + i % 2}", f"s{i}".encode(), qos=1 + i % 2)
    spread = [f"{base}/t{i}" for i in range(12)]
    for topic in spread:
        publisher.publish(topic, topic.encode(), qos=1)

    moved = clients(c.node(2), client_id=client_id, protocol=V311, clean=False)
    assert moved.session_present, "the session did not follow its client to n2"
    got = [(m.topic, m.payload.decode()) for m in moved.receive_n(72)]
    assert [p for t, p in got if t == f"{base}/qos1"] == [f"s{i}" for i in range(0, 60, 2)]
    assert [p for t, p in got if t == f"{base}/qos2"] == [f"s{i}" for i in range(1, 60, 2)]
    assert sorted(p for t, p in got if t in spread) == sorted(spread)
    assert moved.drain() == []

    # Its subscription is served at n2 now, once: n1 dropped its own.
    publisher.publish(f"{base}/after", b"after", qos=1)
    assert payloads(moved, 1) == ["after"]
    moved.assert_nothing_for(1.0, "one delivery")

    # And it moves back, with what was queued at n2 meanwhile.
    moved.disconnect()
    for i in range(5):
        publisher.publish(f"{base}/qos1", f"back{i}".encode(), qos=1)
    back = clients(c.node(1), client_id=client_id, protocol=V311, clean=False)
    assert back.session_present
    assert payloads(back, 5) == [f"back{i}" for i in range(5)]


def test_unacknowledged_deliveries_are_resent_with_dup_at_the_new_node(three_nodes, clients):
    c = three_nodes
    base = unique_id("unacked")
    client_id = unique_id("slow")
    on1, on2 = c.node(1), c.node(2)
    first = raw_mqtt.RawClient(on1.host, on1.port)
    first.connect(client_id=client_id, clean_start=False, properties=EXPIRY)
    first.send(raw_mqtt.subscribe(1, [(f"{base}/#", 2)]))
    first.expect(raw_mqtt.SUBACK)
    publisher = clients(c.node(3))
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "no probe reached the subscriber on n1"
        publisher.publish(f"{base}/probe", b"probe")
        if first.read_packet(0.1) is not None:
            break
    while first.read_packet(0.3) is not None:
        pass

    publisher.publish(f"{base}/one", b"qos1", qos=1)
    publisher.publish(f"{base}/two", b"qos2", qos=2)
    sent = {}
    for _ in range(2):
        flags, body = first.expect(raw_mqtt.PUBLISH, 10)
        p = raw_mqtt.parse_publish(flags, body)
        sent[p.payload] = p.packet_id  # neither is acknowledged
    first.close()

    second = raw_mqtt.RawClient(on2.host, on2.port)
    session_present, code, _ = second.connect(client_id=client_id, clean_start=False, properties=EXPIRY)
    assert (session_present, code) == (True, 0)
    resent = {}
    for _ in range(2):
        flags, body = second.expect(raw_mqtt.PUBLISH, 10)
        p = raw_mqtt.parse_publish(flags, body)
        assert p.dup, f"{p} resent without DUP (MQTT-4.4.0-1)"
        resent[p.payload] = p.packet_id
    assert resent == sent, "resent under other packet ids"
    second.send(raw_mqtt.puback(sent[b"qos1"]))
    second.send(raw_mqtt.pubrec(sent[b"qos2"]))
    flags, body = second.expect(raw_mqtt.PUBREL, 10)
    second.send(raw_mqtt.pubcomp(sent[b"qos2"]))
    second.close()


def test_no_message_is_lost_while_a_session_moves(three_nodes, clients):
    c = three_nodes
    base = unique_id("moving")
    topics = [f"{base}/t{i}" for i in range(16)]  # owned by all three nodes
    client_id = unique_id("mover")
    subscriber = clients(c.node(1), client_id=client_id, protocol=V311, clean=False)
    subscriber.subscribe(f"{base}/#", qos=1)
    publisher = clients(c.node(3))
    until_routed(publisher, subscriber, topics[0])

    acknowledged = []
    stop = threading.Event()

    def publish_all():
        for n in range(600):
            if stop.is_set():
                return
            publisher.publish(topics[n % len(topics)], str(n).encode(), qos=1)  # waits for the PUBACK
            acknowledged.append(str(n))

    got = set(m.payload.decode() for m in subscriber.receive_up_to(100, timeout=0.2))
    worker = threading.Thread(target=publish_all)
    worker.start()
    try:
        assert wait_until(lambda: len(acknowledged) >= 150, 30)
        got.update(m.payload.decode() for m in subscriber.drain(quiet=0))
        subscriber.disconnect()
        got.update(m.payload.decode() for m in subscriber.drain(quiet=0))
        moved = clients(c.node(2), client_id=client_id, protocol=V311, clean=False)
        assert moved.session_present
        worker.join(60)
    finally:
        stop.set()
        worker.join()
    assert len(acknowledged) == 600
    wait_until(lambda: got.update(m.payload.decode() for m in moved.receive_up_to(200, timeout=0.2))
               or set(acknowledged) <= got, 30)
    lost = [n for n in acknowledged if n not in got]
    assert not lost, f"{len(lost)} acknowledged messages never reached the moving subscriber: {lost[:20]}"


def test_a_session_its_client_left_while_its_node_was_down_ends_when_the_node_is_back(cluster, clients):
    c = cluster(3)
    base = unique_id("stale")
    client_id = unique_id("left")
    publisher = offline_session(clients, c, 3, client_id, f"{base}/#", 1, publisher_at=1)
    publisher.publish(f"{base}/old", b"before the kill", qos=1)

    all_three = "cluster: 3 nodes: n1, n2, n3 "
    rejoined = c.occurrences(1, all_three)
    two = "cluster: 2 nodes: n1, n2 "
    seen_two = c.occurrences(2, two)
    c.kill(3)
    assert wait_until(lambda: c.occurrences(2, two) > seen_two, 10), c.log(2)
    elsewhere = clients(c.node(2), client_id=client_id, protocol=V311, clean=False)
    assert not elsewhere.session_present, "its session is on n3, which is down: the client starts anew"
    elsewhere.disconnect()
    c.restart(3)
    assert wait_until(lambda: c.occurrences(1, all_three) > rejoined, 30), c.log(1)
    assert wait_until(lambda: any("its session there ends" in c.log(i) for i in (1, 2, 3)), 10), \
        "no member told n3 that its restored session is stale"

    # The copy n3 restored is gone: nothing it had queued, nor anything for its subscription, comes back.
    publisher.publish(f"{base}/old", b"after the restart", qos=1)
    back = clients(c.node(3), client_id=client_id, protocol=V311, clean=False)
    back.assert_nothing_for(1.5, "nothing of the session the client left")
