"""mosquitto_pub -> broker -> mosquitto_sub, with Debian's mosquitto-clients, MQTT 3.1.1 and 5.0."""

import re

import pytest

from mqtt_helpers import mosquitto_pub, unique_id
from mqtt_helpers import subs  # noqa: F401,F811 (pytest fixtures)

VERSIONS = ["mqttv311", "mqttv5"]


def delivered_qos(sub):
    """QoS of each PUBLISH mosquitto_sub received, from its debug lines '... received PUBLISH (d0, q1, r0, ...'."""
    return [int(re.search(r"\(d\d, q(\d)", line).group(1)) for line in sub.publishes()]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_reaches_mosquitto_sub(broker, subs, version, qos):
    t = f"cli/{unique_id('t')}"
    sub = subs(broker, t, version=version, qos=2, count=1)
    mosquitto_pub(broker, t, f"hello {version} qos {qos}", version=version, qos=qos)
    lines = sub.read(1)
    assert lines == [f"hello {version} qos {qos}"], f"expected mosquitto_sub to print the message, got {lines}"
    assert sub.wait_exit() == 0, "expected mosquitto_sub -C 1 to exit 0 after one message"
    # MQTT 3.8.4: delivered at min(published QoS, granted QoS 2) = the published QoS.
    assert delivered_qos(sub) == [qos], f"expected one PUBLISH delivered at QoS {qos}, got {delivered_qos(sub)}"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_thousand_lines_arrive_complete_and_in_order(broker, subs, version):
    t = f"cli/lines/{unique_id('t')}"
    n = 1000
    sent = [f"line {i:04d}" for i in range(n)]
    sub = subs(broker, t, version=version, qos=1, count=n, wait=20)
    mosquitto_pub(broker, t, version=version, qos=1, lines=sent)
    got = sub.read(n, timeout=20)
    # MQTT 4.6: messages on one topic from one publisher are delivered in the order they were published;
    # QoS 1 (MQTT 4.3.2): none may be lost.
    assert len(got) == n, f"expected all {n} lines, got {len(got)} (first missing index {len(got)})"
    first_diff = next((i for i, (a, b) in enumerate(zip(sent, got)) if a != b), None)
    assert first_diff is None, \
        f"expected lines in publish order; first difference at {first_diff}: sent {sent[first_diff]!r}, " \
        f"got {got[first_diff]!r}"
    assert sub.wait_exit() == 0, f"expected mosquitto_sub -C {n} to exit 0"
