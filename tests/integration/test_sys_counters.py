"""`$SYS` statistics (README, "$SYS topics"): published (retained) every `--sys-interval` seconds, with values that
follow the traffic. `$SYS/broker/clients/connected` is checked in test_session_wake.py and
`$SYS/broker/messages/dropped` in test_queue_limit.py; this file checks the other five and `--sys-interval 0`.

Each test starts its own node with `--sys-interval 1` and reads a topic's values as they come: the retained one
on subscribing, then one a second. mqhub only: the harness starts mosquitto without a `$SYS` interval of 1 s, and
mosquitto's counters mean other things (its messages/received and /sent count packets of every type).
"""

import queue
import re
import time

import pytest

from mqtt_helpers import V5, mqhub_only, unique_id
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)

pytestmark = mqhub_only("--sys-interval, and the meaning of mqhub's $SYS counters (README)")

SYS = ["--sys-interval", "1"]
UPDATE_TIMEOUT = 5.0  # for one update due every second, on a loaded machine


class SysReader:
    """A client subscribed to one `$SYS` topic; `values` are the payloads it got, in order, parsed."""

    def __init__(self, clients, broker, topic, parse):
        self.topic = topic
        self.parse = parse
        self.values = []
        self.client = clients(broker, protocol=V5)
        self.client.subscribe(topic, 0)

    def _take(self, m):
        assert m.topic == self.topic, f"expected only {self.topic} messages, got {m.topic!r}"
        self.values.append(self.parse(m.payload.decode(errors="replace")))
        return self.values[-1]

    def next(self):
        return self._take(self.client.receive(timeout=UPDATE_TIMEOUT, what=f"a {self.topic} update (every "
                                                                              f"second); values so far {self.values}"))

    def settled(self, of=lambda index, value: value):
        """The value once the counts have caught up with the traffic so far: takes the updates already delivered
        (taken before now), then reads until two in a row give the same `of(index, value)`; returns that. A count
        passing through the expected value on its way elsewhere does not pass."""
        while True:
            try:
                self._take(self.client.messages.get_nowait())
            except queue.Empty:
                break
        last = None
        while True:
            now = of(len(self.values), self.next())
            if now == last:
                return now
            assert len(self.values) < 20, f"expected {self.topic} to settle, got {self.values}"
            last = now


def count(text):
    assert re.fullmatch(r"\d+", text), f"expected a decimal count, got {text!r}"
    return int(text)


def test_messages_received_counts_the_publish_packets_clients_sent(start_broker, clients):
    broker = start_broker(SYS)
    received = SysReader(clients, broker, "$SYS/broker/messages/received", count)
    # Nothing published yet: the watcher only subscribed.
    assert received.next() == 0, f"expected 0 messages received before any PUBLISH, got {received.values}"
    topic = f"sys/received/{unique_id()}"
    subscriber = clients(broker)
    subscriber.subscribe(topic, 2)
    pub = clients(broker)
    for qos, n in ((0, 5), (1, 3), (2, 2)):
        for i in range(n):
            pub.publish(topic, f"{qos}-{i}".encode(), qos=qos)
    subscriber.receive_n(10, what="the 10 messages")
    # Each PUBLISH received from a client counts once, whatever its QoS (acknowledgements are no messages).
    value = received.settled()
    assert value == 10, f"expected 10 after 10 PUBLISHes (5 at QoS 0, 3 at QoS 1, 2 at QoS 2), got {received.values}"
    pub.publish(f"{topic}/nobody", b"x", qos=1)  # received, though nobody subscribes
    value = received.settled()
    assert value == 11, f"expected 11 after one more PUBLISH, to a topic nobody subscribes, got {received.values}"


def test_messages_sent_counts_the_publish_packets_delivered_to_clients(start_broker, clients):
    broker = start_broker(SYS)
    sent = SysReader(clients, broker, "$SYS/broker/messages/sent", count)
    # The reader's own updates are deliveries too: each value counts the updates it had been sent before it
    # (`index` of them). Subtracting them leaves the rest of the traffic.
    def others(index, value):
        return value - index

    before = others(0, sent.next())
    topic = f"sys/sent/{unique_id()}"
    at_qos0, at_qos1 = clients(broker), clients(broker)
    at_qos0.subscribe(topic, 0)
    at_qos1.subscribe(topic, 1)
    pub = clients(broker)
    for i in range(10):
        pub.publish(topic, f"m{i}".encode(), qos=1)
    at_qos0.receive_n(10, what="the 10 messages at QoS 0")
    at_qos1.receive_n(10, what="the 10 messages at QoS 1")
    # 10 messages to 2 subscribers: 20 PUBLISHes sent (one written by a shard, one by a connection or session).
    value = sent.settled(others) - before
    assert value == 20, f"expected 20 more PUBLISHes sent than before beside the reader's own updates, got " \
                        f"{value} ({sent.values}, {before} before)"


# Issue 21, point 4: a filter that goes to every shard was counted once per shard ('#' and 'a/b/c' read 5).
def test_subscriptions_count_counts_a_filter_on_every_shard_once(start_broker, clients):
    broker = start_broker(SYS)
    subscriptions = SysReader(clients, broker, "$SYS/broker/subscriptions/count", count)
    everything, one = clients(broker), clients(broker)
    everything.subscribe("#", 0)  # on every shard: it may match any topic
    one.subscribe("a/b/c", 0)
    value = subscriptions.settled()
    assert value == 3, f"expected 3: the reader's subscription, '#' and 'a/b/c', got {subscriptions.values}"


def test_subscriptions_count_follows_subscribe_unsubscribe_and_the_end_of_a_session(start_broker, clients):
    # Filters without wildcards, each on one shard (see the test above for '#').
    broker = start_broker(SYS)
    subscriptions = SysReader(clients, broker, "$SYS/broker/subscriptions/count", count)
    assert subscriptions.settled() == 1, f"expected 1: the reader's own subscription, got {subscriptions.values}"
    base = f"sys/subs/{unique_id()}"
    first, second = clients(broker), clients(broker)
    first.subscribe(f"{base}/a", 0)
    first.subscribe(f"{base}/b", 1)
    second.subscribe(f"{base}/a", 2)
    first.subscribe(f"{base}/b", 2)  # replaces the subscription (MQTT-3.8.4-3): no new one
    assert subscriptions.settled() == 4, \
        f"expected 4: the reader's, two of the first client and one of the second, got {subscriptions.values}"
    first.unsubscribe(f"{base}/a")
    assert subscriptions.settled() == 3, f"expected 3 after an UNSUBSCRIBE, got {subscriptions.values}"
    first.disconnect()  # a clean session: its subscriptions end with it (MQTT-3.1.2-6)
    assert subscriptions.settled() == 2, \
        f"expected 2 after the first client's clean session ended, got {subscriptions.values}"


def test_retained_messages_count_follows_what_is_retained(start_broker, clients):
    broker = start_broker(SYS)
    retained = SysReader(clients, broker, "$SYS/broker/retained messages/count", count)
    base = retained.settled()  # the node's own retained $SYS topics
    prefix = f"sys/retained/{unique_id()}"
    pub = clients(broker)
    for name in ("a", "b", "c"):
        pub.publish(f"{prefix}/{name}", name.encode(), qos=1, retain=True)
    assert retained.settled() == base + 3, \
        f"expected {base + 3} after 3 retained messages ({base} before), got {retained.values}"
    pub.publish(f"{prefix}/a", b"", qos=1, retain=True)  # clears a (MQTT-3.3.1-6, 5.0)
    assert retained.settled() == base + 2, f"expected {base + 2} after one was cleared, got {retained.values}"
    pub.publish(f"{prefix}/d", b"d", qos=1, retain=True)
    pub.publish(f"{prefix}/b", b"b again", qos=1, retain=True)  # replaces b (MQTT-3.3.1-5): no new one
    pub.publish(f"{prefix}/e", b"e", qos=0)  # not retained
    assert retained.settled() == base + 3, \
        f"expected {base + 3} after a new retained message, a replaced one and one not retained, got {retained.values}"


def test_uptime_counts_the_seconds_since_the_start(start_broker, clients):
    started = time.monotonic()
    broker = start_broker(SYS)

    def seconds(text):
        match = re.fullmatch(r"(\d+) seconds", text)
        assert match, f"expected 'N seconds', got {text!r}"
        return int(match.group(1))

    uptime = SysReader(clients, broker, "$SYS/broker/uptime", seconds)
    while uptime.next() < 3:
        assert len(uptime.values) < 10, f"expected the uptime to reach 3 seconds, got {uptime.values}"
    value = uptime.values[-1]
    elapsed = time.monotonic() - started
    # The value was taken at the last update (at most a second ago, plus delivery) and is truncated to seconds.
    assert elapsed - 3 <= value <= elapsed + 1, \
        f"expected an uptime close to the {elapsed:.1f} s since the node was started, got {value} ({uptime.values})"
    assert uptime.values == sorted(uptime.values) and len(set(uptime.values)) >= 3, \
        f"expected the uptime to grow with each update, got {uptime.values}"


def test_sys_interval_0_publishes_no_sys_topics(start_broker, clients):
    # README: --sys-interval 0 turns the $SYS topics off: none is published, so none is retained either. With an
    # interval the first values go out at the start (test_subscribe.py sees them with --sys-interval 1).
    broker = start_broker(["--sys-interval", "0"])
    watcher = clients(broker)
    watcher.subscribe("$SYS/#", 0)
    watcher.assert_nothing_for(2.5, "no $SYS message with --sys-interval 0")
