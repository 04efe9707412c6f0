"""The crash test of issue 3 (README: "never loses an acknowledged message"; DESIGN §4): a publisher sends 20,000
messages to a persistent subscriber that is offline, the broker is killed with SIGKILL after a given number of
acknowledgements, restarted on the same data directory, and the subscriber reconnects.

- QoS 1: every message whose PUBACK reached the publisher must be received (duplicates are allowed by QoS 1 and
  only counted).
- QoS 2: the publisher reconnects with its persistent session and finishes its flows (PUBLISH DUP=1 for those
  without PUBREC, PUBREL for those with one, MQTT 4.4); then every message must be received exactly once.
- In memory mode the same run must lose messages: that shows the check can fail.

Client code is in crash_harness.py (raw sockets; paho is too slow for this many messages), shared with
bench/crash-soak. Run with -s to see each run's counts and timings.
"""

import collections
import time

import pytest

from crash_harness import Publisher, Subscriber, compare, describe
from mqtt_helpers import mqhub_only, unique_id

pytestmark = mqhub_only("kills the broker and restarts it on its --data-dir with --durability")

TOTAL = 20_000


def broker_args(durability):
    return ["--durability", durability, "--session-queue-limit", "100000"]


Outcome = collections.namedtuple("Outcome", "verdict acked_at_kill publisher subscriber pub_present sub_present")


def crash_run(broker, qos, kill_at, pub_version, sub_version, total=TOTAL, idle_timeout=5.0):
    """Parks a persistent subscriber, publishes until `kill_at` messages are acknowledged, kills the broker
    (kill_at None: no kill), restarts it, lets a QoS 2 publisher finish its flows, then collects."""
    topic = f"crash/{unique_id()}"
    sub = Subscriber(topic, qos, sub_version, unique_id("crash-sub"))
    sub.connect(broker)
    sub.subscribe()
    sub.disconnect()

    pub = Publisher(topic, qos, pub_version, unique_id("crash-pub"), total)
    pub.connect(broker)
    started = time.monotonic()
    pub.pump(stop_at_acks=kill_at)
    published = time.monotonic()
    pub_present = None
    if kill_at is not None:
        broker.kill()
        pub.drain()
        broker.start()
        if qos == 2:
            pub.total = pub.next_seq  # finish the flows in progress, start no new ones
            pub_present = pub.connect(broker)
            pub.pump()
    recovered = time.monotonic()
    acked_at_kill = set(pub.acked)
    pub.close()

    sub_present = sub.connect(broker)
    sub.collect(pub.acked, idle_timeout=idle_timeout)
    sub.disconnect()
    verdict = compare(pub.acked, sub.counts)
    print(f"\nQoS {qos}, kill after {kill_at} acks: published {pub.next_seq} "
          f"in {published - started:.2f}s, restart + resume {recovered - published:.2f}s, "
          f"collect {time.monotonic() - recovered:.2f}s; {describe(verdict)}; "
          f"subscriber got {sub.dup_flags} PUBLISHes with DUP=1; publisher errors {pub.errors[:5]}")
    return Outcome(verdict, acked_at_kill, pub, sub, pub_present, sub_present)


def assert_nothing_lost(outcome, acked):
    lost = sorted(set(acked) - set(outcome.subscriber.counts))
    assert not lost, (f"expected every acknowledged message to reach the subscriber after kill -9 and restart; "
                      f"{describe(outcome.verdict)}")


@pytest.mark.parametrize("durability,kill_at", [("sync", 2_000), ("wal", 10_000), ("sync", 18_000)],
                         ids=["sync-10pct", "wal-50pct", "sync-90pct"])
def test_kill_9_loses_no_acknowledged_qos1_message(start_broker, durability, kill_at):
    # Issue 3 acceptance: PUBACK only after the message and the subscriber's queue entry are committed.
    broker = start_broker(broker_args(durability))
    outcome = crash_run(broker, qos=1, kill_at=kill_at, pub_version=4, sub_version=5)
    assert len(outcome.acked_at_kill) >= kill_at, "expected the publisher to reach the kill point"
    assert outcome.sub_present, "expected Session Present 1 for the subscriber's persistent session after restart"
    assert not outcome.publisher.errors, f"expected only successful PUBACKs, got {outcome.publisher.errors[:10]}"
    assert_nothing_lost(outcome, outcome.acked_at_kill)


@pytest.mark.parametrize("durability,kill_at", [("sync", 10_000), ("wal", 2_000), ("wal", 18_000)],
                         ids=["sync-50pct", "wal-10pct", "wal-90pct"])
def test_kill_9_during_qos2_flows_delivers_each_acknowledged_message_exactly_once(start_broker, durability,
                                                                                  kill_at):
    # Issue 3: PUBREC only after commit; the inbound QoS 2 state (packet ids awaiting PUBREL) survives, so a
    # re-sent PUBLISH DUP=1 is not routed twice and a PUBREL finds its packet id [MQTT-4.3.3-10, MQTT-4.4.0-1].
    broker = start_broker(broker_args(durability))
    outcome = crash_run(broker, qos=2, kill_at=kill_at, pub_version=5, sub_version=4)
    pub = outcome.publisher
    assert len(outcome.acked_at_kill) >= kill_at, "expected the publisher to reach the kill point"
    assert outcome.pub_present, "expected Session Present 1 for the publisher's persistent session after restart"
    assert not pub.errors, f"expected every PUBREC/PUBCOMP after the restart to succeed, got {pub.errors[:10]}"
    assert pub.done(), (f"expected the publisher to finish every flow after the restart; "
                        f"{len(pub.inflight)} PUBLISHes and {len(pub.releasing)} PUBRELs still unanswered")
    assert outcome.sub_present, "expected Session Present 1 for the subscriber's persistent session after restart"
    assert_nothing_lost(outcome, outcome.acked_at_kill)
    assert_nothing_lost(outcome, pub.acked)
    assert not outcome.verdict.duplicates, (f"expected no message delivered twice at QoS 2 (exactly once); "
                                            f"{describe(outcome.verdict)}")


def test_memory_mode_loses_acknowledged_messages_on_kill_9_so_the_check_can_fail(start_broker):
    # --durability memory promises nothing over a crash: the same run must report lost messages.
    broker = start_broker(broker_args("memory"))
    outcome = crash_run(broker, qos=1, kill_at=2_000, pub_version=4, sub_version=5, idle_timeout=1.0)
    assert not outcome.sub_present, "expected no session after a restart in memory mode"
    assert outcome.verdict.lost, f"expected the check to report lost messages in memory mode; {describe(outcome.verdict)}"


@pytest.mark.parametrize("qos", [1, 2])
def test_without_a_crash_the_harness_sees_every_message_once(start_broker, qos):
    # The harness itself: no kill, so every message must be acknowledged and received exactly once.
    broker = start_broker(broker_args("memory"))
    outcome = crash_run(broker, qos=qos, kill_at=None, pub_version=5, sub_version=4, total=5_000)
    assert outcome.publisher.done() and not outcome.publisher.errors, outcome.publisher.errors[:10]
    assert outcome.verdict.acknowledged == 5_000
    assert not outcome.verdict.lost and not outcome.verdict.duplicates, describe(outcome.verdict)
