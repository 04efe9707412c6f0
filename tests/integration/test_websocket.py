"""MQTT over WebSocket and secure WebSocket (issue 4; DESIGN §8: path /mqtt, subprotocol mqtt).

paho-mqtt (transport "websockets") shows that a real client gets through over ws and wss. A hand-written client
(ws_client.py) checks what a library hides: the HTTP upgrade (path, subprotocol, Origin), MQTT packets split over
frames or joined in one frame, control frames (ping, close) and the frame size limit.

Skipped under mosquitto: Debian's mosquitto 2.0.11 is built without WebSocket support (conftest).
"""

import struct

import pytest

import raw_mqtt
import tls_helpers
from conftest import HOST
from mqtt_helpers import V311, V5, unique_id
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)
from ws_client import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, WsRawClient

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


@pytest.fixture
def ws_broker(start_broker):
    return start_broker(networks=("ws", "wss"))


def ws(broker, **kwargs):
    return WsRawClient(HOST, broker.ports["ws"], **kwargs)


def wss(broker, **kwargs):
    return WsRawClient(HOST, broker.ports["wss"], tls_context=tls_helpers.client_context(broker.ca_path), **kwargs)


def assert_serves_mqtt(client, what):
    """CONNECT (MQTT 5) on an upgraded connection gets CONNACK success."""
    _, code, _ = client.connect(version=5, client_id=unique_id("ws"))
    assert code == 0, f"expected CONNACK success {what}, got 0x{code:02x}"


def assert_still_serves(broker):
    with ws(broker) as good:
        assert_serves_mqtt(good, "for a well-behaved WebSocket client afterwards")


def status_of(broker, **kwargs):
    client = ws(broker, upgrade=False)
    try:
        return client.upgrade(**kwargs)
    finally:
        client.close()


# ------------------------------------------------------------------------------------------------- real clients


@pytest.mark.parametrize("network", ["ws", "wss"])
@pytest.mark.parametrize("protocol", VERSIONS)
def test_paho_publishes_and_receives_over_websocket(ws_broker, clients, network, protocol):
    topic = f"ws/{unique_id('t')}"
    sub = clients(ws_broker, protocol=protocol, network=network)
    sub.subscribe(topic, 1)
    pub = clients(ws_broker, protocol=protocol, network=network)
    pub.publish(topic, b"over " + network.encode(), qos=1)
    # Issue 4: MQTT over WebSocket is the same MQTT; a PUBACKed QoS 1 message reaches the subscriber.
    m = sub.receive(what=f"the QoS 1 message published over {network}")
    assert (m.topic, m.payload) == (topic, b"over " + network.encode()), \
        f"expected the message published over {network}, got {m.topic!r} {m.payload!r}"


def test_paho_over_wss_refuses_a_server_it_does_not_trust(ws_broker, tmp_path):
    import ssl

    import paho.mqtt.client as mqtt
    other_ca, _ = tls_helpers.make_ca(str(tmp_path), cn="some other CA")
    c = mqtt.Client(client_id=unique_id("wss"), protocol=V5, transport="websockets")
    c.ws_set_options(path="/mqtt")
    c.tls_set(ca_certs=other_ca)
    # wss is really TLS with the hub's certificate: a client trusting another CA must fail the handshake.
    with pytest.raises(ssl.SSLError):
        c.connect(HOST, ws_broker.ports["wss"])
    assert_still_serves(ws_broker)


# ------------------------------------------------------------------------------------------------- HTTP upgrade


@pytest.mark.parametrize("subprotocol", ["mqtt", "mqttv3.1"])
def test_upgrade_selects_the_mqtt_subprotocol(ws_broker, subprotocol):
    client = ws(ws_broker, protocols=(subprotocol,))
    # RFC 6455 4.2.2 / MQTT 6.0 [MQTT-6.0.0-3]: the server selects one of the offered subprotocols and says which.
    assert client.response.header("sec-websocket-protocol") == subprotocol, \
        f"expected Sec-WebSocket-Protocol: {subprotocol} in the 101 response, got {client.response}"
    assert_serves_mqtt(client, f"over a WebSocket with subprotocol {subprotocol}")
    client.close()


def test_upgrade_over_wss_then_mqtt(ws_broker):
    client = wss(ws_broker)
    assert client.response.header("sec-websocket-protocol") == "mqtt", \
        f"expected Sec-WebSocket-Protocol: mqtt over wss, got {client.response}"
    assert_serves_mqtt(client, "over wss")
    client.close()


def test_the_server_picks_mqtt_among_other_offered_subprotocols(ws_broker):
    client = ws(ws_broker, protocols=("chat", "mqtt"))
    # RFC 6455 4.2.2: the server picks one subprotocol the client offered; here only `mqtt` is MQTT.
    assert client.response.header("sec-websocket-protocol") == "mqtt", \
        f"expected the server to select mqtt from 'chat, mqtt', got {client.response}"
    client.close()


@pytest.mark.parametrize("protocols", [pytest.param((), id="none"), pytest.param(("chat",), id="chat")])
def test_upgrade_without_the_mqtt_subprotocol_is_refused_with_400(ws_broker, protocols):
    response = status_of(ws_broker, protocols=protocols)
    # Issue 4 contract: the subprotocol mqtt (or mqttv3.1) is required, otherwise HTTP 400 and no upgrade
    # (MQTT 6.0 [MQTT-6.0.0-4]: the client MUST include "mqtt"; the server need not speak to one that does not).
    assert response.status == 400, f"expected HTTP 400 for subprotocols {protocols}, got {response}"
    assert_still_serves(ws_broker)


@pytest.mark.parametrize("path", ["/", "/mqttx", "/other", "/mqtt/sub"])
def test_upgrade_on_another_path_is_refused_with_404(ws_broker, path):
    response = status_of(ws_broker, path=path)
    # DESIGN §8: MQTT over WebSocket is served on /mqtt only; any other path: HTTP 404, no upgrade.
    assert response.status == 404, f"expected HTTP 404 for path {path}, got {response}"
    assert_still_serves(ws_broker)


def test_any_origin_is_accepted_without_an_allow_list(ws_broker):
    client = ws(ws_broker, origin="https://anything.example")
    # Issue 4 contract: no --ws-origins means any Origin is allowed (WsRawClient asserts the 101).
    assert_serves_mqtt(client, "with an Origin header and no allow-list")
    client.close()


def test_origin_outside_the_allow_list_is_refused_with_403(start_broker):
    broker = start_broker(["--ws-origins", "https://good.example", "--ws-origins", "https://also.example"],
                          networks=("ws",))
    for origin in ("https://good.example", "https://also.example"):
        client = ws(broker, origin=origin)  # asserts HTTP 101
        assert_serves_mqtt(client, f"with the allowed Origin {origin}")
        client.close()
    for origin in ("https://evil.example", "http://good.example", "https://good.example.evil.example"):
        response = status_of(broker, origin=origin)
        # Issue 4 contract: --ws-origins lists the allowed Origin values; any other gets HTTP 403, no upgrade.
        assert response.status == 403, f"expected HTTP 403 for Origin {origin}, got {response}"
    assert_still_serves(broker)


# ------------------------------------------------------------------------------------------------- framing


def test_mqtt_packets_split_across_frames_and_joined_in_one_frame(ws_broker):
    client = ws(ws_broker)
    topic = f"ws/frames/{unique_id('t')}"
    connect = raw_mqtt.connect(client_id=unique_id("ws"), version=5)
    subscribe = raw_mqtt.subscribe(1, [(topic, 1)], version=5)
    # MQTT 6.0 [MQTT-6.0.0-2]: a packet may span WebSocket frames and a frame may carry several packets; the
    # receiver must not assume alignment. CONNECT split into two binary messages, the second joined with SUBSCRIBE:
    client.send_frame(BINARY, connect[:5])
    client.send_frame(BINARY, connect[5:] + subscribe)
    _, body = client.expect(raw_mqtt.CONNACK)
    assert raw_mqtt.parse_connack(body)[1] == 0, "expected CONNACK success for a CONNECT split over two frames"
    _, body = client.expect(raw_mqtt.SUBACK)
    assert raw_mqtt.parse_suback(body)[1] == [1], \
        "expected SUBACK granting QoS 1 for a SUBSCRIBE that shared a frame with the end of CONNECT"
    # A PUBLISH fragmented in one WebSocket message (RFC 6455 5.4: FIN 0 + continuation frames), then two
    # PUBLISHes in one frame.
    first = raw_mqtt.publish(topic, b"fragmented", qos=0, version=5)
    client.send_frame(BINARY, first[:1], fin=False)
    client.send_frame(CONTINUATION, first[1:4], fin=False)
    client.send_frame(CONTINUATION, first[4:], fin=True)
    client.send_frame(BINARY, raw_mqtt.publish(topic, b"joined 1", version=5)
                      + raw_mqtt.publish(topic, b"joined 2", version=5))
    got = []
    for _ in range(3):
        flags, body = client.expect(raw_mqtt.PUBLISH)
        got.append(raw_mqtt.parse_publish(flags, body).payload)
    # The subscriber is the publisher itself (MQTT 5 No Local is 0 by default), so all three come back in order.
    assert got == [b"fragmented", b"joined 1", b"joined 2"], f"expected the three messages in order, got {got}"
    client.close()


def test_ping_is_answered_with_pong_carrying_the_same_data(ws_broker):
    client = ws(ws_broker)
    assert_serves_mqtt(client, "before the ping")
    client.send_frame(PING, b"are you there")
    reply = client.read_frame(5.0)
    # RFC 6455 5.5.2/5.5.3: a Ping is answered with a Pong with the same Application data.
    assert reply is not None, "expected a Pong within 5 s"
    assert reply[1:] == (PONG, b"are you there"), f"expected Pong b'are you there', got {reply}"
    client.send(raw_mqtt.pingreq())
    client.expect(raw_mqtt.PINGRESP)  # the MQTT connection is unharmed
    client.close()


def test_close_handshake_is_answered(ws_broker):
    client = ws(ws_broker)
    assert_serves_mqtt(client, "before the close")
    client.send_frame(CLOSE, struct.pack("!H", 1000) + b"bye")
    close = client.wait_close_frame(5.0)
    # RFC 6455 5.5.1: an endpoint that receives a Close frame sends a Close frame in response (echoing the status
    # code), then the server closes the TCP connection (7.1.1).
    assert close is not None, f"expected a Close frame in response; frames seen: {client.frames}"
    assert close[0] in (1000, None), f"expected the Close frame to echo 1000 (or carry no code), got {close}"
    assert client.tcp_closed_within(5.0), "expected the server to close the TCP connection after the close handshake"
    assert_still_serves(ws_broker)


def test_frame_larger_than_the_maximum_packet_size_closes_with_1009(start_broker):
    broker = start_broker(["--max-packet-size", "1024"], networks=("ws",))
    client = ws(broker)
    assert_serves_mqtt(client, "before the oversized frame")
    topic = f"ws/big/{unique_id('t')}"
    client.send(raw_mqtt.subscribe(1, [(topic, 0)]))
    client.expect(raw_mqtt.SUBACK)
    # The boundary: a 1000-byte PUBLISH (under the 1024-byte maximum) in one frame is an ordinary message.
    client.send(raw_mqtt.publish(topic, b"y" * 980, version=5))
    flags, body = client.expect(raw_mqtt.PUBLISH)
    assert raw_mqtt.parse_publish(flags, body).payload == b"y" * 980, "expected the 980-byte message back"
    client.send(raw_mqtt.publish(topic, b"x" * 65536, version=5))
    close = client.wait_close_frame(5.0)
    # Issue 4 contract / RFC 6455 7.4.1: a frame larger than the maximum packet size (plus a header) is refused
    # with Close 1009 "message too big".
    assert close is not None, f"expected a Close frame for a 64 KiB frame (max packet size 1024); " \
                              f"frames seen: {client.frames}"
    assert close[0] == 1009, f"expected Close code 1009, got {close}"
    assert client.tcp_closed_within(5.0), "expected the TCP connection to end after Close 1009"
    assert_still_serves(broker)


def test_packet_above_the_maximum_in_small_frames_is_refused_with_0x95(start_broker):
    broker = start_broker(["--max-packet-size", "1024"], networks=("ws",))
    client = ws(broker)
    assert_serves_mqtt(client, "before the large packet")
    packet = raw_mqtt.publish(f"ws/big/{unique_id('t')}", b"x" * 4096, qos=1, packet_id=1, version=5)
    for i in range(0, len(packet), 512):  # every frame is under the limit, the packet is not
        client.send_frame(BINARY, packet[i:i + 512])
    # MQTT 5 3.2.2.3.6 / 4.13: the Maximum Packet Size applies to the MQTT packet whatever the WebSocket framing:
    # DISCONNECT 0x95 Packet too large, as over TCP (test_mqtt5_features).
    try:
        pkt = client.read_packet(5.0)
    except raw_mqtt.Closed:
        pkt = None
    assert pkt is not None and pkt[0] == raw_mqtt.DISCONNECT, \
        f"expected DISCONNECT for a 4 KiB packet sent in 512-byte frames; got {pkt}, close frame {client.close_frame}"
    assert raw_mqtt.parse_disconnect(pkt[2])[0] == raw_mqtt.RC_PACKET_TOO_LARGE, \
        f"expected reason 0x95 Packet too large, got {raw_mqtt.parse_disconnect(pkt[2])}"
    assert_still_serves(broker)


def test_text_frame_closes_the_connection(ws_broker):
    client = ws(ws_broker)
    assert_serves_mqtt(client, "before the text frame")
    topic = f"ws/text/{unique_id('t')}"
    client.send(raw_mqtt.subscribe(1, [(topic, 0)]))
    client.expect(raw_mqtt.SUBACK)
    client.send_frame(TEXT, raw_mqtt.publish(topic, b"in a text frame"))  # a valid PUBLISH, in a text frame
    # MQTT 6.0 [MQTT-6.0.0-1]: MQTT Control Packets MUST be sent in binary data frames; if any other type of data
    # frame is received the recipient MUST close the Network Connection.
    close = client.wait_close_frame(5.0)
    # RFC 6455 7.4.1: if the server says why, it is 1003 (a data type it cannot accept).
    assert close is None or close[0] == 1003, f"expected Close 1003 (or none) for a text frame, got {close}"
    assert not client.buf, f"expected the text frame's PUBLISH not to be processed, got {bytes(client.buf)!r}"
    assert client.tcp_closed_within(5.0), "expected the server to close the connection after a text frame"
    assert_still_serves(ws_broker)


def test_unmasked_client_frame_closes_the_connection(ws_broker):
    client = ws(ws_broker)
    client.send_frame(BINARY, raw_mqtt.connect(client_id=unique_id("ws"), version=5), mask=False)
    # RFC 6455 5.1: a server MUST close the connection upon receiving a frame that is not masked.
    packets = []
    closed = False
    try:
        while (pkt := client.read_packet(5.0)) is not None:
            packets.append(pkt)
    except raw_mqtt.Closed:
        closed = True
    assert closed, "expected the server to close the connection after an unmasked frame"
    assert not packets, f"expected no CONNACK for an unmasked CONNECT, got {packets}"
    assert_still_serves(ws_broker)


def test_plain_mqtt_on_the_websocket_port_is_closed(ws_broker):
    import socket
    with socket.create_connection((HOST, ws_broker.ports["ws"]), timeout=5) as sock:
        sock.sendall(raw_mqtt.connect(client_id=unique_id("raw"), version=5))
        closed, data = tls_helpers.closed_within(sock, 15.0)
    # A WebSocket listener speaks HTTP first: bytes that are not an HTTP request get no CONNACK (at most an HTTP
    # error), the connection is closed, and the node keeps serving others.
    assert closed, f"expected the node to close a connection that sent raw MQTT to the ws port; got {data[:80]!r}"
    assert not data.startswith(b"\x20"), f"expected no MQTT CONNACK on the WebSocket port, got {data[:80]!r}"
    assert_still_serves(ws_broker)


@pytest.mark.parametrize("network", ["ws", "wss"])
def test_sigterm_sends_disconnect_0x8b_over_websocket(ws_broker, network):
    import signal
    import time
    client = ws(ws_broker) if network == "ws" else wss(ws_broker)
    assert_serves_mqtt(client, f"over {network} before SIGTERM")
    started = time.monotonic()
    code = ws_broker.stop(signal.SIGTERM, timeout=30)
    # DESIGN §9 (as test_shutdown.py over TCP): on SIGTERM MQTT 5 clients get DISCONNECT 0x8B, the node exits 0
    # promptly; over WebSocket the DISCONNECT travels in a binary frame.
    assert code == 0, f"expected exit code 0 after SIGTERM, got {code}"
    assert time.monotonic() - started < 10, "expected the node to stop within 10 s of SIGTERM"
    try:
        pkt = client.read_packet(2.0)
    except raw_mqtt.Closed:
        pkt = None
    assert pkt is not None and pkt[0] == raw_mqtt.DISCONNECT, \
        f"expected a DISCONNECT over {network}, got {pkt} (close frame {client.close_frame})"
    assert raw_mqtt.parse_disconnect(pkt[2])[0] == 0x8B, \
        f"expected DISCONNECT 0x8B Server shutting down, got {raw_mqtt.parse_disconnect(pkt[2])}"
    client.close()
