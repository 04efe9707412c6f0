"""SUBSCRIBE / UNSUBSCRIBE: wildcard matching, $-topics, subscription identifiers, MQTT 5 subscription options,
shared subscriptions."""

import time

import pytest

import raw_mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqtt_helpers import TIMEOUT, V5, mosquitto_differs, props, unique_id
from mqtt_helpers import clients, raws  # noqa: F401,F811 (pytest fixtures)

def base(name):
    return f"sub-{name}-{unique_id('t')}"


def deliveries(sub, expected_count):
    """The messages a subscriber gets: exactly `expected_count`, then 0.5 s of silence to catch extra ones."""
    got = sub.receive_n(expected_count) if expected_count else []
    extra = sub.drain(0.5)
    return got + extra


def assert_routing(broker, clients, topic_filter, matching, not_matching):
    sub = clients(broker)
    sub.subscribe(topic_filter, 1)
    pub = clients(broker)
    for t in not_matching + matching:
        pub.publish(t, t.encode(), qos=1)
    got = sorted(m.topic for m in deliveries(sub, len(matching)))
    assert got == sorted(matching), \
        f"expected filter {topic_filter!r} to match exactly {sorted(matching)} (not {not_matching}), got {got}"


def test_plus_matches_exactly_one_level(broker, clients):
    b = base("plus")
    # MQTT 4.7.1.3: '+' matches exactly one topic level (an empty level is a level too).
    assert_routing(broker, clients, f"{b}/+/x",
                   matching=[f"{b}/a/x", f"{b}/bb/x", f"{b}//x"],
                   not_matching=[f"{b}/x", f"{b}/a/b/x", f"{b}/a/x/y", f"{b}/a/y"])


def test_hash_matches_the_parent_and_every_level_below(broker, clients):
    b = base("hash")
    # MQTT 4.7.1.2: 'sport/#' matches 'sport' itself and any number of levels below it.
    assert_routing(broker, clients, f"{b}/h/#",
                   matching=[f"{b}/h", f"{b}/h/a", f"{b}/h/a/b/c", f"{b}/h/"],
                   not_matching=[f"{b}/hx", f"{b}/hx/a", f"{b}/x/h/a"])


def test_plus_and_hash_combine(broker, clients):
    b = base("combo")
    assert_routing(broker, clients, f"{b}/+/m/#",
                   matching=[f"{b}/a/m", f"{b}/a/m/z", f"{b}/b/m/z/z"],
                   not_matching=[f"{b}/m", f"{b}/a/b/m", f"{b}/a/n/z"])


def test_subscribing_again_to_the_same_filter_replaces_the_subscription(broker, clients):
    t = base("replace")
    sub = clients(broker)
    sub.subscribe(t, 0)
    sub.subscribe(t, 2)
    clients(broker).publish(t, b"one", qos=2)
    got = [(m.payload, m.qos) for m in deliveries(sub, 1)]
    # MQTT-3.8.4-3 (3.1.1 and 5.0): an identical topic filter MUST completely replace the existing subscription
    # (one delivery, at the new QoS).
    assert got == [(b"one", 2)], f"expected one delivery at the new QoS 2, got {got}"


def test_leading_wildcards_do_not_match_dollar_topics(start_broker, clients):
    broker = start_broker(["--sys-interval", "1"])
    hash_all, plus_first = clients(broker), clients(broker)
    hash_all.subscribe("#", 0)
    plus_first.subscribe("+/x", 0)
    dollar = clients(broker)
    dollar.subscribe("$test/#", 0)
    sys_watcher = clients(broker)
    sys_watcher.subscribe("$SYS/#", 0)
    clients(broker).publish("$test/x", b"dollar", qos=1)
    # '$test/#' does match '$test/x' ...
    m = dollar.receive(what="the $test/x message on a '$test/#' subscription")
    assert m.topic == "$test/x", f"expected $test/x, got {m.topic!r}"
    # ... and the broker does publish $SYS topics (so the '#' check below is not vacuous).
    sys_msg = sys_watcher.receive(timeout=12, what="a $SYS message on a '$SYS/#' subscription")
    assert sys_msg.topic.startswith("$SYS/"), f"expected a $SYS topic, got {sys_msg.topic!r}"
    # MQTT-4.7.2-1: a filter starting with a wildcard MUST NOT match a topic name starting with '$'.
    leaked = [m.topic for m in hash_all.drain(0.5) + plus_first.drain(0.01)]
    assert leaked == [], f"expected '#' and '+/x' to match no $-topic, got {leaked}"


def test_overlapping_subscriptions_each_deliver_their_subscription_identifier(broker, clients):
    b = base("subid")
    sub = clients(broker, protocol=V5)
    sub.subscribe(f"{b}/+", properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1),
                  options=SubscribeOptions(qos=1))
    sub.subscribe(f"{b}/#", properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2),
                  options=SubscribeOptions(qos=1))
    clients(broker, protocol=V5).publish(f"{b}/t", b"both", qos=1)
    got = deliveries(sub, 1)
    ids = sorted(i for m in got for i in m.properties.SubscriptionIdentifier)
    # MQTT-3.3.4-4/5 (5.0): one copy carries the identifiers of all matching subscriptions, or each copy carries
    # the identifier of its own subscription; either way both identifiers reach the client, each once.
    assert ids == [1, 2], f"expected subscription identifiers 1 and 2 across the deliveries, got {ids}"
    # MQTT-3.3.4-2 (5.0): overlapping subscriptions -> delivered at the maximum QoS of the matching subscriptions.
    assert all(m.qos == 1 for m in got), f"expected QoS 1 deliveries, got {[m.qos for m in got]}"


@mosquitto_differs("MQTT 3.3.4 lets a server send one copy per matching subscription (mosquitto does); mqhub "
                   "promises one")
def test_overlapping_subscriptions_give_one_delivery_with_all_identifiers(broker, clients):
    b = base("subid1")
    sub = clients(broker, protocol=V5)
    sub.subscribe(f"{b}/+", properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1),
                  options=SubscribeOptions(qos=0))
    sub.subscribe(f"{b}/#", properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2),
                  options=SubscribeOptions(qos=1))
    clients(broker, protocol=V5).publish(f"{b}/t", b"once", qos=1)
    got = deliveries(sub, 1)
    # MQTT-3.3.4-4 (5.0): when the server sends a single copy it MUST include the identifiers of all matching
    # subscriptions; MQTT-3.3.4-2: at the maximum QoS of the matching subscriptions.
    assert len(got) == 1, f"expected one delivery for two overlapping subscriptions, got {len(got)}"
    assert sorted(got[0].properties.SubscriptionIdentifier) == [1, 2], \
        f"expected subscription identifiers [1, 2] on the single delivery, got {got[0].properties}"
    assert got[0].qos == 1, f"expected the single delivery at the maximum QoS 1, got {got[0].qos}"


def test_no_local_does_not_send_a_client_its_own_messages(broker, clients):
    t = base("nolocal")
    me = clients(broker, protocol=V5)
    me.subscribe(t, options=SubscribeOptions(qos=1, noLocal=True))
    other = clients(broker, protocol=V5)
    other.subscribe(t, 1)
    me.publish(t, b"mine", qos=1)
    assert other.receive(what="the message on another client's subscription").payload == b"mine"
    # MQTT-3.8.3-3 (5.0): No Local 1 -> messages MUST NOT be forwarded to the connection that published them.
    me.assert_nothing_for(0.5, what="no copy of its own message with No Local")
    other.publish(t, b"theirs", qos=1)
    assert me.receive(what="another client's message despite No Local").payload == b"theirs"


@pytest.mark.parametrize("rap", [True, False])
def test_retain_as_published_controls_the_retain_flag_of_live_messages(broker, clients, rap):
    t = base("rap")
    sub = clients(broker, protocol=V5)
    sub.subscribe(t, options=SubscribeOptions(qos=1, retainAsPublished=rap))
    clients(broker, protocol=V5).publish(t, b"r", qos=1, retain=True)
    m = sub.receive(what="the live retained publish")
    # MQTT-3.3.1-12 (5.0): Retain As Published 0 -> RETAIN 0; MQTT-3.3.1-13: 1 -> RETAIN as in the PUBLISH.
    assert m.retain == rap, f"expected RETAIN={int(rap)} with Retain As Published {int(rap)}, got {int(m.retain)}"


@pytest.mark.parametrize("handling,first,again", [(0, True, True), (1, True, False), (2, False, False)])
def test_retain_handling(broker, clients, handling, first, again):
    t = base(f"rh{handling}")
    clients(broker, protocol=V5).publish(t, b"kept", qos=1, retain=True)
    sub = clients(broker, protocol=V5)
    for attempt, expected in (("first subscribe", first), ("subscribe again (subscription exists)", again)):
        sub.subscribe(t, options=SubscribeOptions(qos=1, retainHandling=handling))
        # MQTT-3.3.1-9/10/11 (5.0): 0 -> always send retained; 1 -> only if the subscription is new; 2 -> never.
        if expected:
            m = sub.receive(what=f"the retained message (retain handling {handling}, {attempt})")
            assert m.payload == b"kept", f"retain handling {handling}, {attempt}: expected b'kept', got {m.payload!r}"
        sub.assert_nothing_for(0.5, f"{'nothing more' if expected else 'nothing'} (retain handling {handling}, "
                                    f"{attempt})")


def split_between(members, n):
    """The payloads (ints) each member of a shared subscription got, once the members together got `n` messages;
    then nothing more may come to any of them."""
    per_member = [[] for _ in members]
    deadline = time.monotonic() + TIMEOUT
    while sum(map(len, per_member)) < n:
        assert time.monotonic() < deadline, f"expected the members to get {n} messages together, got {per_member}"
        for i, member in enumerate(members):
            per_member[i] += [int(m.payload) for m in member.receive_up_to(n, timeout=0.05)]
    for member in members:
        member.assert_nothing_for(0.3, "no message beyond the ones expected")
    return per_member


def test_shared_subscription_splits_messages_between_members(broker, clients):
    t = base("shared")
    members = [clients(broker, protocol=V5) for _ in range(2)]
    for member in members:
        member.subscribe(f"$share/g/{t}", 1)
    pub = clients(broker, protocol=V5)
    n = 20
    for i in range(n):
        pub.publish(t, str(i).encode(), qos=1)
    per_member = split_between(members, n)
    everything = sorted(per_member[0] + per_member[1])
    # MQTT 4.8.2 (5.0): each message to a shared subscription goes to exactly one of its members.
    assert everything == list(range(n)), \
        f"expected the two members together to get each of the {n} messages exactly once, got {per_member}"
    assert all(per_member), f"expected both members to receive some of the messages, got {per_member}"


def test_a_burst_on_one_topic_is_routed_per_message(broker, clients, raws):
    # One TCP write of PUBLISHes mostly on one topic, with a second topic in between: the broker routes such a
    # burst as one batch, so each message must still get its own shared member, its overlapping subscriptions'
    # identifiers and No Local, and the other topic's subscribers only their topic.
    t, other_topic = base("burst"), base("burst-other")
    members = [clients(broker, protocol=V5) for _ in range(2)]
    for member in members:
        member.subscribe(f"$share/g/{t}", 1)
    overlapping = clients(broker, protocol=V5)
    overlapping.subscribe(t, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1),
                          options=SubscribeOptions(qos=1))
    overlapping.subscribe(f"{t}/#", properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2),
                          options=SubscribeOptions(qos=1))
    other = clients(broker, protocol=V5)
    other.subscribe(other_topic, 1)
    publisher = raws(broker, version=5)
    publisher.connect(unique_id("burst"))
    publisher.subscribe(1, [(t, 0x04)])  # No Local, QoS 0
    n = 40
    topics = [other_topic if i % 10 == 5 else t for i in range(n)]
    publisher.sock.send(b"".join(raw_mqtt.publish(topic, str(i).encode(), version=5) for i, topic in enumerate(topics)))
    on_t = [i for i, topic in enumerate(topics) if topic == t]
    got = deliveries(overlapping, len(on_t))
    ids_of = {}
    for m in got:
        ids_of.setdefault(int(m.payload), []).extend(m.properties.SubscriptionIdentifier)
    # MQTT-3.3.4-4/5 (5.0): one copy with both identifiers, or one copy per subscription with its own.
    assert list(ids_of) == on_t, f"expected the burst's messages on {t} in order, got {list(ids_of)}"
    assert all(sorted(ids) == [1, 2] for ids in ids_of.values()), f"expected identifiers 1 and 2 each: {ids_of}"
    per_member = split_between(members, len(on_t))
    # MQTT 4.8.2 (5.0): each message to a shared subscription goes to exactly one of its members.
    assert sorted(per_member[0] + per_member[1]) == on_t, f"expected each message once across members: {per_member}"
    assert all(per_member), f"expected both members to get part of the burst, got {per_member}"
    assert [int(m.payload) for m in deliveries(other, n - len(on_t))] == [i for i in range(n) if i not in on_t]
    # MQTT-3.8.3-3 (5.0): No Local.
    assert publisher.sock.read_packet(0.3) is None, "expected no copy of its own burst with No Local"


def test_a_subscriber_added_between_bursts_gets_the_next_burst(broker, clients, raws):
    # The subscriptions a burst's topic matched are not reused by the next burst: a new subscriber counts.
    t = base("burst-new")
    first = clients(broker, protocol=V5)
    first.subscribe(t, 1)
    publisher = raws(broker, version=5)
    publisher.connect(unique_id("burst"))

    def burst(tag):
        publisher.sock.send(b"".join(raw_mqtt.publish(t, f"{tag}{i}".encode(), version=5) for i in range(10)))

    burst("a")
    assert len(deliveries(first, 10)) == 10, "expected the first burst at the first subscriber"
    second = clients(broker, protocol=V5)
    second.subscribe(t, 1)
    burst("b")
    got = [m.payload for m in deliveries(second, 10)]
    assert got == [f"b{i}".encode() for i in range(10)], f"expected the second burst at the new subscriber, got {got}"


@mosquitto_differs("it keeps choosing offline members of a shared subscription; mqhub skips them (DESIGN §3)")
def test_shared_subscription_passes_over_an_offline_member(broker, clients):
    t = base("shared-offline")
    online = clients(broker, protocol=V5)
    online.subscribe(f"$share/g/{t}", 1)
    # A persistent member that goes away: its session stays, but it is offline (DESIGN §3: skipped).
    offline = clients(broker, protocol=V5, clean=False,
                      properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    offline.subscribe(f"$share/g/{t}", 1)
    offline.disconnect()
    pub = clients(broker, protocol=V5)
    n = 10
    for i in range(n):
        pub.publish(t, str(i).encode(), qos=1)
    got = sorted(int(m.payload) for m in deliveries(online, n))
    assert got == list(range(n)), f"expected the online member to get all {n} messages, got {got}"


def test_unsubscribe_stops_delivery(broker, clients):
    t = base("unsub")
    sub, observer = clients(broker), clients(broker)
    sub.subscribe(t, 1)
    observer.subscribe(t, 1)
    pub = clients(broker)
    pub.publish(t, b"before", qos=1)
    assert sub.receive().payload == b"before", "expected delivery while subscribed"
    observer.receive()
    sub.unsubscribe(t)
    pub.publish(t, b"after", qos=1)
    assert observer.receive().payload == b"after", "expected the observer to still get messages"
    # MQTT-3.10.4-2 (3.1.1) / MQTT-3.10.4-2 (5.0): after UNSUBSCRIBE the server MUST stop adding new messages.
    sub.assert_nothing_for(0.5, what="nothing after UNSUBSCRIBE")
