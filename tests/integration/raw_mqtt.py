"""A tiny raw-socket MQTT 3.1.1 / 5.0 encoder and decoder for tests.

Only for inputs a real client library cannot produce (malformed packets, never-acking receivers, exact flow
control). Encoders return bytes; `RawClient` sends them and reads packets back as (type, flags, body).
"""

import socket
import struct
import time

# Packet types (MQTT 2.1.2).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

PACKET_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
                8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
                14: "DISCONNECT", 15: "AUTH"}

# Property identifiers (MQTT 2.2.2.2).
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

_BYTE, _U16, _U32, _VARINT, _UTF8, _BINARY, _PAIR = range(7)
PROPERTY_TYPES = {
    PAYLOAD_FORMAT_INDICATOR: _BYTE, MESSAGE_EXPIRY_INTERVAL: _U32, CONTENT_TYPE: _UTF8, RESPONSE_TOPIC: _UTF8,
    CORRELATION_DATA: _BINARY, SUBSCRIPTION_IDENTIFIER: _VARINT, SESSION_EXPIRY_INTERVAL: _U32,
    ASSIGNED_CLIENT_IDENTIFIER: _UTF8, SERVER_KEEP_ALIVE: _U16, AUTHENTICATION_METHOD: _UTF8,
    AUTHENTICATION_DATA: _BINARY, REQUEST_PROBLEM_INFORMATION: _BYTE, WILL_DELAY_INTERVAL: _U32,
    REQUEST_RESPONSE_INFORMATION: _BYTE, RESPONSE_INFORMATION: _UTF8, SERVER_REFERENCE: _UTF8,
    REASON_STRING: _UTF8, RECEIVE_MAXIMUM: _U16, TOPIC_ALIAS_MAXIMUM: _U16, TOPIC_ALIAS: _U16,
    MAXIMUM_QOS: _BYTE, RETAIN_AVAILABLE: _BYTE, USER_PROPERTY: _PAIR, MAXIMUM_PACKET_SIZE: _U32,
    WILDCARD_SUBSCRIPTION_AVAILABLE: _BYTE, SUBSCRIPTION_IDENTIFIER_AVAILABLE: _BYTE,
    SHARED_SUBSCRIPTION_AVAILABLE: _BYTE,
}

# Reason codes used by tests (MQTT 2.4).
RC_SUCCESS = 0x00
RC_UNSPECIFIED_ERROR = 0x80
RC_MALFORMED_PACKET = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95


# ---------------------------------------------------------------------------------------------- encoding

def varint(n):
    """Variable Byte Integer (MQTT 1.5.5)."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    """UTF-8 Encoded String with its 2-byte length; bytes are sent as given (to test invalid encodings)."""
    data = s if isinstance(s, bytes) else s.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def binary(b):
    return struct.pack("!H", len(b)) + bytes(b)


def encode_properties(props=()):
    """props: iterable of (identifier, value); a User Property value is a (name, value) pair."""
    out = bytearray()
    for pid, value in props:
        kind = PROPERTY_TYPES[pid]
        out += varint(pid)
        if kind == _BYTE:
            out.append(value)
        elif kind == _U16:
            out += struct.pack("!H", value)
        elif kind == _U32:
            out += struct.pack("!I", value)
        elif kind == _VARINT:
            out += varint(value)
        elif kind == _UTF8:
            out += utf8(value)
        elif kind == _BINARY:
            out += binary(value)
        else:
            out += utf8(value[0]) + utf8(value[1])
    return varint(len(out)) + bytes(out)


def packet(ptype, flags, body):
    """A whole control packet: fixed header (type, flags, remaining length) + body."""
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + bytes(body)


def connect(client_id="", version=5, clean_start=True, keepalive=60, properties=(), will=None, username=None,
            password=None, protocol_name=None, reserved_flag=False):
    """CONNECT. version 5 = MQTT 5.0, 4 = 3.1.1, 3 = 3.1 ('MQIsdp'). will = (topic, payload, qos, retain)
    (for v5 will properties are empty)."""
    if protocol_name is None:
        protocol_name = "MQIsdp" if version == 3 else "MQTT"
    flags = (0x02 if clean_start else 0) | (0x01 if reserved_flag else 0)
    payload = utf8(client_id)
    if will is not None:
        wtopic, wpayload, wqos, wretain = will
        flags |= 0x04 | (wqos << 3) | (0x20 if wretain else 0)
        if version == 5:
            payload += encode_properties(())
        payload += utf8(wtopic) + binary(wpayload)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
    if password is not None:
        flags |= 0x40
        payload += binary(password)
    header = utf8(protocol_name) + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        header += encode_properties(properties)
    return packet(CONNECT, 0, header + payload)


def subscribe(packet_id, filters, version=5, properties=(), flags=0x02):
    """filters: iterable of (topic filter, options byte) — for 3.1.1 the options byte is the requested QoS."""
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += encode_properties(properties)
    for topic_filter, options in filters:
        body += utf8(topic_filter) + bytes([options])
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(packet_id, filters, version=5, properties=()):
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += encode_properties(properties)
    for topic_filter in filters:
        body += utf8(topic_filter)
    return packet(UNSUBSCRIBE, 0x02, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None, version=5, properties=()):
    """PUBLISH; packet_id defaults to 1 for QoS > 0. topic may be bytes (sent raw)."""
    flags = (0x08 if dup else 0) | ((qos & 3) << 1) | (0x01 if retain else 0)
    body = utf8(topic)
    if qos > 0 or packet_id is not None:
        body += struct.pack("!H", 1 if packet_id is None else packet_id)
    if version == 5:
        body += encode_properties(properties)
    if isinstance(payload, str):
        payload = payload.encode()
    return packet(PUBLISH, flags, body + payload)


def _ack(ptype, flags, packet_id, reason, version):
    body = struct.pack("!H", packet_id)
    if version == 5 and reason:
        body += bytes([reason])
    return packet(ptype, flags, body)


def puback(packet_id, reason=0, version=5):
    return _ack(PUBACK, 0, packet_id, reason, version)


def pubrec(packet_id, reason=0, version=5):
    return _ack(PUBREC, 0, packet_id, reason, version)


def pubrel(packet_id, reason=0, version=5):
    return _ack(PUBREL, 0x02, packet_id, reason, version)


def pubcomp(packet_id, reason=0, version=5):
    return _ack(PUBCOMP, 0, packet_id, reason, version)


def pingreq():
    return packet(PINGREQ, 0, b"")


def disconnect(reason=0, properties=(), version=5):
    if version != 5:
        return packet(DISCONNECT, 0, b"")
    return packet(DISCONNECT, 0, bytes([reason]) + encode_properties(properties))


# ---------------------------------------------------------------------------------------------- decoding

def decode_varint(buf, pos=0):
    """Returns (value, next position); raises ValueError on a malformed or truncated integer."""
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(buf):
            raise ValueError("truncated variable byte integer")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise ValueError("variable byte integer longer than 4 bytes")


def _read_utf8(buf, pos):
    n = struct.unpack_from("!H", buf, pos)[0]
    return buf[pos + 2:pos + 2 + n].decode("utf-8"), pos + 2 + n


def decode_properties(buf, pos):
    """Returns (list of (identifier, value), next position)."""
    length, pos = decode_varint(buf, pos)
    end = pos + length
    props = []
    while pos < end:
        pid, pos = decode_varint(buf, pos)
        kind = PROPERTY_TYPES[pid]
        if kind == _BYTE:
            value, pos = buf[pos], pos + 1
        elif kind == _U16:
            value, pos = struct.unpack_from("!H", buf, pos)[0], pos + 2
        elif kind == _U32:
            value, pos = struct.unpack_from("!I", buf, pos)[0], pos + 4
        elif kind == _VARINT:
            value, pos = decode_varint(buf, pos)
        elif kind == _UTF8:
            value, pos = _read_utf8(buf, pos)
        elif kind == _BINARY:
            n = struct.unpack_from("!H", buf, pos)[0]
            value, pos = bytes(buf[pos + 2:pos + 2 + n]), pos + 2 + n
        else:
            name, pos = _read_utf8(buf, pos)
            val, pos = _read_utf8(buf, pos)
            value = (name, val)
        props.append((pid, value))
    return props, end


class Props(list):
    """Decoded properties: a list of (identifier, value) with lookup helpers."""

    def get(self, pid, default=None):
        for key, value in self:
            if key == pid:
                return value
        return default

    def has(self, pid):
        return any(key == pid for key, _ in self)

    def user_properties(self):
        return [value for key, value in self if key == USER_PROPERTY]


def parse_connack(body, version=5):
    """Returns (session_present, reason/return code, Props)."""
    props = Props()
    if version == 5 and len(body) > 2:
        props = Props(decode_properties(body, 2)[0])
    return bool(body[0] & 1), body[1], props


def parse_disconnect(body):
    """v5 DISCONNECT: (reason code, Props); an empty body means 0x00 Normal disconnection."""
    if not body:
        return 0, Props()
    props = Props(decode_properties(body, 1)[0]) if len(body) > 1 else Props()
    return body[0], props


def parse_suback(body, version=5):
    """Returns (packet id, list of reason codes, Props)."""
    packet_id = struct.unpack_from("!H", body, 0)[0]
    pos, props = 2, Props()
    if version == 5:
        decoded, pos = decode_properties(body, 2)
        props = Props(decoded)
    return packet_id, list(body[pos:]), props


def parse_ack(body, version=5):
    """PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK header: (packet id, reason code, Props)."""
    packet_id = struct.unpack_from("!H", body, 0)[0]
    if version != 5 or len(body) == 2:
        return packet_id, 0, Props()
    props = Props(decode_properties(body, 3)[0]) if len(body) > 3 else Props()
    return packet_id, body[2], props


class Publish:
    def __init__(self, flags, body, version=5):
        self.dup = bool(flags & 0x08)
        self.qos = (flags >> 1) & 3
        self.retain = bool(flags & 1)
        n = struct.unpack_from("!H", body, 0)[0]
        self.topic = body[2:2 + n].decode("utf-8")
        pos = 2 + n
        self.packet_id = None
        if self.qos:
            self.packet_id = struct.unpack_from("!H", body, pos)[0]
            pos += 2
        self.properties = Props()
        if version == 5:
            decoded, pos = decode_properties(body, pos)
            self.properties = Props(decoded)
        self.payload = bytes(body[pos:])

    def __repr__(self):
        return f"Publish({self.topic!r}, {self.payload!r}, qos={self.qos}, id={self.packet_id})"


def parse_publish(flags, body, version=5):
    return Publish(flags, body, version)


# ---------------------------------------------------------------------------------------------- socket

class Closed(Exception):
    """The server closed the connection."""


class RawClient:
    """A socket speaking raw MQTT. read_packet returns (type, flags, body), None on timeout, raises Closed."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            raise Closed("connection reset") from None
        if not chunk:
            raise Closed("connection closed")
        self.buf += chunk

    def read_packet(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        try:
            while True:
                if len(self.buf) >= 2:
                    try:
                        length, pos = decode_varint(self.buf, 1)
                    except ValueError:
                        length = None
                    if length is not None and len(self.buf) >= pos + length:
                        first = self.buf[0]
                        body = bytes(self.buf[pos:pos + length])
                        del self.buf[:pos + length]
                        return first >> 4, first & 0x0F, body
                self._fill(deadline)
        except TimeoutError:
            return None

    def expect(self, ptype, timeout=5.0):
        """Reads the next packet, asserting its type; returns (flags, body)."""
        pkt = self.read_packet(timeout)
        assert pkt is not None, f"expected {PACKET_NAMES[ptype]} within {timeout}s, got nothing"
        assert pkt[0] == ptype, f"expected {PACKET_NAMES[ptype]}, got {PACKET_NAMES.get(pkt[0], pkt[0])}"
        return pkt[1], pkt[2]

    def connect(self, version=5, timeout=5.0, **kwargs):
        """Sends CONNECT and returns (session_present, reason code, Props) of the CONNACK."""
        self.send(connect(version=version, **kwargs))
        _, body = self.expect(CONNACK, timeout)
        return parse_connack(body, version)

    def wait_closed(self, timeout=5.0):
        """Reads (and returns a list of) packets until the server closes; returns None if it stays open."""
        deadline = time.monotonic() + timeout
        packets = []
        while True:
            try:
                pkt = self.read_packet(max(0.0, deadline - time.monotonic()))
            except Closed:
                return packets
            if pkt is None:
                return None
            packets.append(pkt)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
