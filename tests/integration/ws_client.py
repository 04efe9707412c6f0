"""A tiny hand-written WebSocket client (RFC 6455) for the raw checks a library would not let us make: the HTTP
upgrade with or without a subprotocol, path and Origin; frames of our choosing (masked, as a client must), split
or joined MQTT packets, control frames.

`WsRawClient` is raw_mqtt.RawClient over WebSocket: `send` sends bytes as one binary frame, `read_packet` reads
MQTT packets out of the binary frames the server sends, whatever their boundaries.
"""

import base64
import hashlib
import os
import socket
import struct
import time

import raw_mqtt

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HttpResponse:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"HTTP {self.status} {self.reason} {self.headers}"


class WsClosed(raw_mqtt.Closed):
    """The server closed the WebSocket (close frame: `code`, `reason`) or the TCP connection (code None)."""

    def __init__(self, message, code=None, reason=b""):
        super().__init__(message)
        self.code, self.reason = code, reason


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One WebSocket frame; clients MUST mask (RFC 6455 5.3)."""
    payload = bytes(payload)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsRawClient(raw_mqtt.RawClient):
    """Opens a TCP (or, with `tls_context`, TLS) connection and, unless upgrade=False, performs the upgrade,
    asserting HTTP 101. `self.response` is the server's HTTP response."""

    def __init__(self, host, port, path="/mqtt", protocols=("mqtt",), origin=None, tls_context=None,
                 timeout=5.0, upgrade=True):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.host, self.port = host, port
        self.buf = bytearray()     # MQTT bytes from binary frames
        self.raw = bytearray()     # bytes read from the socket, not yet parsed as frames
        self.frames = []           # every frame read: (fin, opcode, payload)
        self.close_frame = None    # (code, reason) of the server's close frame
        self.response = None
        if upgrade:
            self.response = self.upgrade(path, protocols, origin)
            assert self.response.status == 101, \
                f"expected HTTP 101 Switching Protocols for the WebSocket upgrade, got {self.response}"

    # -- HTTP upgrade ----------------------------------------------------------------------------------------------
    def upgrade(self, path="/mqtt", protocols=("mqtt",), origin=None, extra_headers=()):
        """Sends the upgrade request and returns the HttpResponse (for a 101 the Sec-WebSocket-Accept is checked);
        the socket then carries frames."""
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(protocols)}")
        if origin is not None:
            lines.append(f"Origin: {origin}")
        lines += list(extra_headers)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = self.read_http_response()
        if response.status == 101:
            assert response.header("sec-websocket-accept") == accept_key(self.key), \
                f"expected Sec-WebSocket-Accept {accept_key(self.key)} (RFC 6455 4.2.2), got {response}"
        return response

    def read_http_response(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        data = bytearray()
        while b"\r\n\r\n" not in data:
            data += self._recv(deadline, "the HTTP response")
        head, _, rest = bytes(data).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
        parts = status_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(parts[1])
        body = rest
        if status != 101:  # read the body the server sends with an error status, if any
            length = int(headers.get("content-length", "0") or 0)
            while len(body) < length:
                try:
                    body += self._recv(deadline, "the HTTP body")
                except (raw_mqtt.Closed, TimeoutError):
                    break
        else:
            self.raw += rest
        return HttpResponse(status, parts[2] if len(parts) > 2 else "", headers, body)

    def _recv(self, deadline, what):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"nothing more of {what} arrived")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"nothing more of {what} arrived") from None
        except OSError as e:  # reset, or a TLS error
            raise WsClosed(f"connection error: {e}") from None
        if not chunk:
            raise WsClosed("TCP connection closed")
        return chunk

    # -- frames ----------------------------------------------------------------------------------------------------
    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        self.sock.sendall(frame(opcode, payload, fin, mask, rsv))

    def send(self, data):
        """MQTT bytes as one binary frame."""
        self.send_frame(BINARY, data)

    def read_frame(self, timeout=5.0):
        """The next frame (fin, opcode, payload); None on timeout; raises WsClosed if the TCP connection ends."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse_frame()
            if parsed is not None:
                self.frames.append(parsed)
                return parsed
            try:
                self.raw += self._recv(deadline, "a frame")
            except TimeoutError:
                return None

    def _parse_frame(self):
        raw = self.raw
        if len(raw) < 2:
            return None
        fin, opcode = bool(raw[0] & 0x80), raw[0] & 0x0F
        masked, n, pos = bool(raw[1] & 0x80), raw[1] & 0x7F, 2
        if n == 126:
            if len(raw) < 4:
                return None
            n, pos = struct.unpack_from("!H", raw, 2)[0], 4
        elif n == 127:
            if len(raw) < 10:
                return None
            n, pos = struct.unpack_from("!Q", raw, 2)[0], 10
        key = b""
        if masked:  # a server MUST NOT mask (RFC 6455 5.1); kept for the assertion in the tests
            if len(raw) < pos + 4:
                return None
            key, pos = bytes(raw[pos:pos + 4]), pos + 4
        if len(raw) < pos + n:
            return None
        payload = bytes(raw[pos:pos + n])
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        del raw[:pos + n]
        assert not masked, "a server must not mask the frames it sends (RFC 6455 5.1)"
        return fin, opcode, payload

    def _fill(self, deadline):
        """raw_mqtt.RawClient's hook: append the payload of the next data frame to the MQTT buffer. Answers pings;
        a close frame raises WsClosed with its code."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            got = self.read_frame(remaining)
            if got is None:
                raise TimeoutError
            _, opcode, payload = got
            if opcode in (BINARY, CONTINUATION):
                self.buf += payload
                return
            if opcode == PING:
                self.send_frame(PONG, payload)
            elif opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close_frame = (code, payload[2:])
                raise WsClosed(f"close frame {code}", code, payload[2:])
            elif opcode == TEXT:
                raise AssertionError(f"expected binary frames only (MQTT over WebSocket, MQTT 6.0), got text "
                                     f"{payload!r}")

    def wait_close_frame(self, timeout=5.0):
        """Reads until the server's close frame; returns (code, reason), or None if the connection ended (or the
        time ran out) without one. Data frames read meanwhile are kept in self.buf."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except WsClosed:
                return self.close_frame
            except TimeoutError:
                return None

    def tcp_closed_within(self, timeout=5.0):
        """True if the server closes the TCP connection within the time (whatever frames come first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.raw += self._recv(deadline, "the end of the connection")
            except WsClosed:
                return True
            except TimeoutError:
                return False
