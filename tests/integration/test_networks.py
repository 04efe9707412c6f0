"""One hub, every network (issue 4; DESIGN §6 "Networks", §8 ports): a message published on any of mqtt, mqtts,
mqtts with a client certificate ("mqtts-cert"), ws and wss reaches subscribers on every one of them.

One broker with all four listeners; one paho subscriber per network on a shared filter, then one publisher per
network. Every (publisher network, subscriber network) pair is checked, and a failure names the pairs that did
not deliver. Skipped under mosquitto, whose Debian build has no WebSocket listener (conftest); the TLS-only
pairs are covered against mosquitto by test_tls.py.
"""

import pytest

from mqtt_helpers import V311, V5, MosquittoSub, mosquitto_pub, unique_id
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)
from tls_helpers import issue_cert

NETWORKS = ["mqtt", "mqtts", "mqtts-cert", "ws", "wss"]


@pytest.fixture
def all_networks(start_broker):
    return start_broker(networks=("mqtts", "ws", "wss"))


def make_client(clients, broker, network, cert, protocol):
    if network == "mqtts-cert":
        return clients(broker, protocol=protocol, network="mqtts", certfile=cert[0], keyfile=cert[1])
    return clients(broker, protocol=protocol, network=network)


@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("protocol", [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")])
def test_every_network_reaches_every_network(all_networks, clients, tmp_path, protocol, qos):
    cert = issue_cert(all_networks, "net-device", tmp_path)
    base = f"net/{unique_id('t')}"
    subscribers = {}
    for network in NETWORKS:
        sub = make_client(clients, all_networks, network, cert, protocol)
        sub.subscribe(f"{base}/#", 2)
        subscribers[network] = sub
    for network in NETWORKS:
        pub = make_client(clients, all_networks, network, cert, protocol)
        pub.publish(f"{base}/{network}", f"from {network}".encode(), qos=qos)
    missing = []
    for network, sub in subscribers.items():
        got = {}
        for m in sub.receive_up_to(len(NETWORKS), timeout=10):
            got[m.topic.rsplit("/", 1)[1]] = m.payload
        for source in NETWORKS:
            if got.get(source) != f"from {source}".encode():
                missing.append(f"{source} -> {network}")
    # Issue 4: the networks are ways into one hub; a subscription does not depend on how either side connected.
    assert not missing, f"expected every publisher network to reach every subscriber network (QoS {qos}); " \
                        f"not delivered: {missing}"
    for network, sub in subscribers.items():
        sub.assert_nothing_for(0.1, f"each message once on {network}")


def test_mosquitto_clients_cross_plain_and_tls(all_networks, tmp_path):
    # mosquitto_sub over mTLS receives what mosquitto_pub sends over plain MQTT, and the other way round.
    cert = issue_cert(all_networks, "cli-device", tmp_path)
    tls_port = all_networks.ports["mqtts"]
    tls = ["--cafile", all_networks.ca_path, "--cert", cert[0], "--key", cert[1]]
    topic = f"net/cli/{unique_id('t')}"
    on_tls = MosquittoSub(all_networks, topic, qos=1, count=1, port=tls_port, extra=tls).start()
    on_plain = MosquittoSub(all_networks, topic + "/back", qos=1, count=1).start()
    try:
        mosquitto_pub(all_networks, topic, "plain to tls", qos=1)
        mosquitto_pub(all_networks, topic + "/back", "tls to plain", qos=1, port=tls_port, extra=tls)
        assert on_tls.read(1) == ["plain to tls"], "expected mosquitto_sub over mTLS to get the plain publish"
        assert on_plain.read(1) == ["tls to plain"], "expected mosquitto_sub over plain MQTT to get the TLS publish"
    finally:
        for s in (on_tls, on_plain):
            s.stop()

