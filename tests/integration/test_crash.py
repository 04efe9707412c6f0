"""The crash test of issue 3 (README: "never loses an acknowledged message"; DESIGN §4): a publisher sends 20,000
messages to a persistent subscriber, the broker is killed with SIGKILL after a given number of acknowledgements
(PUBACK for QoS 1, PUBREC for QoS 2), restarted on the same data directory, the publisher reconnects with its
persistent session and finishes the flows it had in progress (PUBLISH DUP=1 for those without an ack, PUBREL for
those with a PUBREC, MQTT 4.4), and the subscriber reconnects and collects.

- QoS 1: every acknowledged message must be received (duplicates are allowed by QoS 1 and only counted).
- QoS 2: every acknowledged message must be received exactly once.
- The subscriber is offline (parked before the run) in the issue's scenario; the "online" runs keep it connected
  and acking while the node is killed, so its in-flight deliveries are interrupted too.
- In memory mode the same run must lose messages: that shows the check can fail.

Client code is in crash_harness.py (raw sockets; paho is too slow for this many messages), shared with
bench/crash-soak (the same scenario with many kills). Run with -s to see each run's counts and timings.
"""

import pytest

from crash_harness import run_with_kills, summary
from mqtt_helpers import mqhub_only

pytestmark = mqhub_only("kills the broker and restarts it on its --data-dir with --durability")

TOTAL = 20_000


def start(start_broker, durability):
    return start_broker(["--durability", durability, "--session-queue-limit", "100000"])


def crash_run(broker, qos, kill_at, online=False, pub_version=5, sub_version=5, total=TOTAL, idle_timeout=5.0):
    run = run_with_kills(broker, qos, total, [] if kill_at is None else [kill_at], online=online, finish=False,
                         pub_version=pub_version, sub_version=sub_version, idle_timeout=idle_timeout)
    print(f"\nQoS {qos}, kill after {kill_at} acks, subscriber {'online' if online else 'offline'}: {summary(run)}")
    return run


def assert_sound(run, kill_at):
    """What every run in sync or wal mode must show."""
    assert run.failure is None, f"expected the run to complete, got {run.failure}"
    assert len(run.acked_at_first_kill) >= kill_at, "expected the publisher to reach the kill point"
    assert run.publisher.sessions_lost == 0 and run.subscriber.sessions_lost == 0, \
        (f"expected Session Present 1 on every reconnect; publisher lost its session {run.publisher.sessions_lost} "
         f"times, subscriber {run.subscriber.sessions_lost}")
    assert not run.publisher.errors, f"expected only successful acks, got {run.publisher.errors[:10]}"
    assert run.publisher.done(), "expected the publisher to finish every flow after the restart"
    lost_at_kill = sorted(run.acked_at_first_kill - set(run.subscriber.counts))
    assert not lost_at_kill, (f"expected every message acknowledged before the kill to reach the subscriber; "
                              f"{len(lost_at_kill)} did not: {summary(run)}")
    assert not run.verdict.lost, f"expected every acknowledged message to reach the subscriber; {summary(run)}"


@pytest.mark.parametrize("durability,kill_at", [("sync", 2_000), ("wal", 10_000), ("sync", 18_000)],
                         ids=["sync-10pct", "wal-50pct", "sync-90pct"])
def test_kill_9_loses_no_acknowledged_qos1_message(start_broker, durability, kill_at):
    # Issue 3 acceptance: PUBACK only after the message and the subscriber's queue entry are committed.
    broker = start(start_broker, durability)
    run = crash_run(broker, qos=1, kill_at=kill_at, pub_version=4, sub_version=5)
    assert_sound(run, kill_at)


@pytest.mark.parametrize("durability,kill_at", [("sync", 10_000), ("wal", 2_000), ("wal", 18_000)],
                         ids=["sync-50pct", "wal-10pct", "wal-90pct"])
def test_kill_9_during_qos2_flows_delivers_each_acknowledged_message_exactly_once(start_broker, durability,
                                                                                  kill_at):
    # Issue 3: PUBREC only after commit; the inbound QoS 2 state (packet ids awaiting PUBREL) survives, so a
    # re-sent PUBLISH DUP=1 is not routed twice and a PUBREL finds its packet id [MQTT-4.3.3-10, MQTT-4.4.0-1].
    broker = start(start_broker, durability)
    run = crash_run(broker, qos=2, kill_at=kill_at, pub_version=5, sub_version=4)
    assert_sound(run, kill_at)
    assert not run.verdict.duplicates, f"expected no message delivered twice at QoS 2; {summary(run)}"


ONLINE_KILLS = [300, 1_000, 2_000, 3_000, 4_500, 6_000, 7_500, 9_000, 11_000, 13_000, 15_000, 17_500]


@pytest.mark.parametrize("qos", [1, 2])
@pytest.mark.parametrize("durability", ["sync", "wal"])
def test_kill_9_with_an_online_subscriber(start_broker, durability, qos):
    # The subscriber is connected and acking when the node dies (12 times here), so deliveries in flight to it
    # are interrupted: after each restart the node must resume them under their packet ids with DUP=1
    # (MQTT-4.4.0-1) — for QoS 2 exactly once, which needs the packet id recorded before the PUBLISH is sent and
    # the PUBREC before the PUBREL is sent: the subscriber forgets a packet id once it has the PUBREL.
    broker = start(start_broker, durability)
    run = run_with_kills(broker, qos, TOTAL, ONLINE_KILLS, online=True, idle_timeout=5.0)
    print(f"\nQoS {qos}, kills after {ONLINE_KILLS} acks, subscriber online: {summary(run)}")
    assert_sound(run, ONLINE_KILLS[0])
    if qos == 2:
        assert not run.verdict.duplicates, f"expected no message delivered twice at QoS 2; {summary(run)}"


def test_memory_mode_loses_acknowledged_messages_on_kill_9_so_the_check_can_fail(start_broker):
    # --durability memory promises nothing over a crash: the same run must report lost messages.
    broker = start(start_broker, "memory")
    run = crash_run(broker, qos=1, kill_at=2_000, pub_version=4, sub_version=5, idle_timeout=1.0)
    assert run.subscriber.sessions_lost == 1, "expected the subscriber's session gone after a restart in memory mode"
    assert run.verdict.lost, f"expected the check to report lost messages in memory mode; {summary(run)}"


@pytest.mark.parametrize("qos", [1, 2])
def test_without_a_crash_the_harness_sees_every_message_once(start_broker, qos):
    # The harness itself: no kill, so every message must be acknowledged and received exactly once.
    broker = start(start_broker, "memory")
    run = crash_run(broker, qos=qos, kill_at=None, total=5_000)
    assert run.failure is None and run.publisher.done() and not run.publisher.errors, summary(run)
    assert run.verdict.acknowledged == 5_000, summary(run)
    assert not run.verdict.lost and not run.verdict.duplicates, summary(run)
