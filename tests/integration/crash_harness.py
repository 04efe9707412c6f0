"""Kill -9 scenarios shared by test_crash.py and bench/crash-soak: a raw-socket publisher that pipelines QoS 1/2
PUBLISHes (payload = decimal sequence number) and records every acknowledgement, a raw-socket subscriber that acks
what it gets and counts deliveries per sequence number, and the check "every acknowledged message was received".

paho is too slow for 10^4-10^5 messages on a 2-core machine, so both sides speak MQTT through raw_mqtt.py and
parse every complete packet out of each socket read. Both keep their MQTT session state in the object, so they
can reconnect (Clean Start / Clean Session 0) after the broker was killed and restarted and finish their flows as
MQTT 4.4 asks: the publisher re-sends unacknowledged PUBLISHes with DUP=1 and its original packet identifiers and
PUBRELs for the PUBRECs it got; the subscriber answers a re-sent QoS 2 PUBLISH whose PUBREL it has not seen with a
PUBREC and does not deliver it again [MQTT-4.3.3-10].

An acknowledged message is one whose PUBACK (QoS 1) or PUBREC (QoS 2) reached the publisher: from then on the
broker owns it (README: "never loses an acknowledged message").
"""

import collections
import socket
import struct
import time

import raw_mqtt
from mqtt_helpers import connect_packet
from raw_mqtt import Closed

SESSION_EXPIRY = 3600  # seconds; MQTT 5 clients ask for this so that their sessions persist
STALL_TIMEOUT = 15.0  # seconds without any packet from the broker while waiting for acks: give up


def payload(seq):
    return str(seq).encode()


def packet_id(seq):
    """1..65535; unique among in-flight messages as long as the window is below 65535."""
    return seq % 65535 + 1


class Conn:
    """One MQTT connection that returns every complete packet of each socket read as (type, flags, body)."""

    def __init__(self, host, port, version, timeout=5.0):
        self.version = version
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.unread = []  # packets that arrived in the same read as the CONNACK / SUBACK

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(f"send failed: {e}") from None

    def read(self, timeout):
        """The packets of one read; [] if nothing arrived within timeout. Raises Closed when the peer closed."""
        if self.unread:
            packets, self.unread = self.unread, []
            return packets
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 18)
        except socket.timeout:
            return []
        except OSError as e:
            raise Closed(f"recv failed: {e}") from None
        if not chunk:
            raise Closed("connection closed")
        self.buf += chunk
        packets, pos = [], 0
        while len(self.buf) - pos >= 2:
            try:
                length, start = raw_mqtt.decode_varint(self.buf, pos + 1)
            except ValueError:
                break  # remaining length not complete yet
            if len(self.buf) < start + length:
                break
            first = self.buf[pos]
            packets.append((first >> 4, first & 0x0F, bytes(self.buf[start:start + length])))
            pos = start + length
        del self.buf[:pos]
        return packets

    def connect(self, client_id, clean, expiry=SESSION_EXPIRY):
        """Sends CONNECT (MQTT 5: with Session Expiry Interval `expiry`) and returns (session present, reason code,
        CONNACK properties)."""
        properties = [(raw_mqtt.SESSION_EXPIRY_INTERVAL, expiry)] if self.version == 5 and expiry else []
        self.send(connect_packet(client_id, self.version, clean=clean, keepalive=60, properties=properties))
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            packets = self.read(deadline - time.monotonic())
            if packets:
                ptype, _, body = packets[0]
                if ptype != raw_mqtt.CONNACK:
                    raise AssertionError(f"{client_id}: expected CONNACK first, got {raw_mqtt.PACKET_NAMES[ptype]}")
                self.unread = packets[1:]
                return raw_mqtt.parse_connack(body, self.version)
        raise AssertionError(f"{client_id}: expected a CONNACK within 5 s")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def open_session(broker, client_id, version, first):
    """A connection with a persistent session: 3.1.1 Clean Session 0; MQTT 5 Session Expiry Interval
    SESSION_EXPIRY, with Clean Start 1 on the `first` connect and 0 on the others. Returns (Conn, session present,
    CONNACK properties)."""
    conn = Conn(broker.host, broker.port, version)
    present, code, props = conn.connect(client_id, clean=first and version == 5)
    if code != 0:
        conn.close()
        raise AssertionError(f"{client_id}: expected CONNACK success, got 0x{code:02x}")
    return conn, present, props


class Publisher:
    """Publishes seq 0..total-1 to `topic` at `qos`, at most `window` unacknowledged at a time."""

    def __init__(self, topic, qos, version, client_id, total, window=256):
        assert qos in (1, 2) and window < 65535
        self.topic, self.qos, self.version, self.client_id = topic, qos, version, client_id
        self.total = total
        self.window = window
        self.next_seq = 0
        self.inflight = {}  # packet id -> seq: PUBLISH sent, PUBACK / PUBREC not yet received
        self.releasing = {}  # packet id -> seq: QoS 2, PUBREC received, PUBCOMP not yet
        self.acked = set()  # seqs whose PUBACK / PUBREC arrived (with a success reason code)
        self.completed = set()  # seqs whose flow ended (QoS 1: PUBACK, QoS 2: PUBCOMP)
        self.errors = []  # unexpected packets and failure reason codes, as text
        self.sessions_lost = 0  # reconnects that found no session while PUBRELs were owed
        self.conn = None
        self.connected_once = False
        self._effective_window = window

    # -- connection ---------------------------------------------------------------------------------------------
    def connect(self, broker):
        """(Re)connects with Clean Start 0 and re-sends what MQTT 4.4 says to re-send. Returns session present."""
        first = not self.connected_once
        self.close()
        self.conn, present, props = open_session(broker, self.client_id, self.version, first=first)
        self.connected_once = True
        self._effective_window = min(self.window, props.get(raw_mqtt.RECEIVE_MAXIMUM, 65535))
        if not first and not present and self.releasing:
            self.sessions_lost += 1
        out = [raw_mqtt.pubrel(pid, version=self.version) for pid in self._by_seq(self.releasing)]
        out += [self._publish(seq, dup=True) for seq in (self.inflight[pid] for pid in self._by_seq(self.inflight))]
        if out:
            self.conn.send(b"".join(out))
        return present

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @staticmethod
    def _by_seq(table):
        return sorted(table, key=table.get)

    def _publish(self, seq, dup=False):
        return raw_mqtt.publish(self.topic, payload(seq), self.qos, dup=dup, packet_id=packet_id(seq),
                                version=self.version)

    # -- flows --------------------------------------------------------------------------------------------------
    def outstanding(self):
        return len(self.inflight) + len(self.releasing)

    def done(self):
        return self.next_seq >= self.total and not self.outstanding()

    def pump(self, stop_at_acks=None):
        """Publishes and handles acks until every flow is complete (returns True) or at least `stop_at_acks`
        messages are acknowledged (returns False). Raises Closed if the connection drops."""
        idle_since = time.monotonic()
        while True:
            if stop_at_acks is not None and len(self.acked) >= stop_at_acks:
                return False
            if self.done():
                return True
            batch = []
            while self.next_seq < self.total and self.outstanding() < self._effective_window:
                seq = self.next_seq
                self.inflight[packet_id(seq)] = seq
                batch.append(self._publish(seq))
                self.next_seq += 1
            if batch:
                self.conn.send(b"".join(batch))
            packets = self.conn.read(0.5)
            if packets:
                idle_since = time.monotonic()
                out = self._handle(packets)
                if out:
                    self.conn.send(b"".join(out))
            elif time.monotonic() - idle_since > STALL_TIMEOUT:
                raise AssertionError(f"{self.client_id}: no ack for {STALL_TIMEOUT}s with {len(self.inflight)} "
                                     f"PUBLISHes and {len(self.releasing)} PUBRELs outstanding")

    def drain(self, timeout=2.0):
        """After the broker was killed: handles the acks it wrote before dying, until the connection is closed.
        Sends nothing (PUBRELs owed are sent on the next connect)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self._handle(self.conn.read(max(deadline - time.monotonic(), 0.01)))
        except Closed:
            pass
        self.close()

    def _handle(self, packets):
        """Updates the flow state; returns the packets to send in reply."""
        out = []
        for ptype, _, body in packets:
            if ptype == raw_mqtt.PUBACK and self.qos == 1:
                pid, code, _ = raw_mqtt.parse_ack(body, self.version)
                seq = self.inflight.pop(pid, None)
                if seq is None:
                    self.errors.append(f"PUBACK for packet id {pid}, which is not in flight")
                elif code >= 0x80:
                    self.errors.append(f"PUBACK 0x{code:02x} for seq {seq}")
                    self.completed.add(seq)
                else:
                    self.acked.add(seq)
                    self.completed.add(seq)
            elif ptype == raw_mqtt.PUBREC and self.qos == 2:
                pid, code, _ = raw_mqtt.parse_ack(body, self.version)
                seq = self.inflight.pop(pid, None)
                if seq is None:
                    # A PUBREC for a PUBLISH we already moved on from: answer it, as MQTT 4.3.3 allows.
                    if pid not in self.releasing:
                        self.errors.append(f"PUBREC for packet id {pid}, which is not in flight")
                    out.append(raw_mqtt.pubrel(pid, version=self.version))
                elif code >= 0x80:
                    self.errors.append(f"PUBREC 0x{code:02x} for seq {seq}")
                    self.completed.add(seq)
                else:
                    self.acked.add(seq)
                    self.releasing[pid] = seq
                    out.append(raw_mqtt.pubrel(pid, version=self.version))
            elif ptype == raw_mqtt.PUBCOMP and self.qos == 2:
                pid, code, _ = raw_mqtt.parse_ack(body, self.version)
                seq = self.releasing.pop(pid, None)
                if seq is None:
                    self.errors.append(f"PUBCOMP for packet id {pid}, which was not released")
                else:
                    if code != 0:
                        self.errors.append(f"PUBCOMP 0x{code:02x} for seq {seq} (0x92: packet id not found)")
                    self.completed.add(seq)
            elif ptype == raw_mqtt.DISCONNECT:
                self.errors.append(f"DISCONNECT from the broker: {raw_mqtt.parse_disconnect(body)}")
                raise Closed("broker sent DISCONNECT")
            else:
                self.errors.append(f"unexpected {raw_mqtt.PACKET_NAMES.get(ptype, ptype)}")
        return out


class Subscriber:
    """Subscribes to `topic` at `qos` with a persistent session and counts deliveries per seq."""

    def __init__(self, topic, qos, version, client_id):
        self.topic, self.qos, self.version, self.client_id = topic, qos, version, client_id
        self.counts = collections.Counter()  # seq -> application deliveries
        self.pending = set()  # QoS 2 packet ids delivered whose PUBREL has not arrived
        self.dup_flags = 0  # PUBLISHes received with DUP=1
        self.sessions_lost = 0  # reconnects that found no session
        self.errors = []
        self.conn = None
        self.connected_once = False
        self.last_packet = time.monotonic()

    def connect(self, broker):
        """(Re)connects with Clean Start / Clean Session 0; returns session present."""
        first = not self.connected_once
        self.close()
        self.conn, present, _ = open_session(broker, self.client_id, self.version, first=first)
        self.connected_once = True
        if not present:
            self.pending.clear()  # MQTT 4.1: no session, no state to resume
            if not first:
                self.sessions_lost += 1
        return present

    def subscribe(self):
        self.conn.send(raw_mqtt.subscribe(1, [(self.topic, self.qos)], self.version))
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            packets = self.conn.read(deadline - time.monotonic())
            if packets:
                ptype, _, body = packets[0]
                assert ptype == raw_mqtt.SUBACK, f"expected SUBACK, got {raw_mqtt.PACKET_NAMES.get(ptype, ptype)}"
                _, codes, _ = raw_mqtt.parse_suback(body, self.version)
                assert codes == [self.qos], f"expected SUBACK granting QoS {self.qos}, got {codes}"
                self.conn.unread = packets[1:]
                return
        raise AssertionError("expected a SUBACK within 5 s")

    def disconnect(self):
        self.conn.send(raw_mqtt.disconnect(0, version=self.version))
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def pump(self, timeout):
        """Handles the packets of one read; returns how many arrived. Raises Closed."""
        packets = self.conn.read(timeout)
        out = []
        for ptype, flags, body in packets:
            if ptype == raw_mqtt.PUBLISH:
                p = raw_mqtt.parse_publish(flags, body, self.version)
                self.dup_flags += p.dup
                if p.qos == 2:
                    if p.packet_id not in self.pending:
                        self.pending.add(p.packet_id)
                        self._deliver(p)
                    out.append(raw_mqtt.pubrec(p.packet_id, version=self.version))
                else:
                    self._deliver(p)
                    if p.qos == 1:
                        out.append(raw_mqtt.puback(p.packet_id, version=self.version))
            elif ptype == raw_mqtt.PUBREL:
                pid = struct.unpack_from("!H", body, 0)[0]
                self.pending.discard(pid)
                out.append(raw_mqtt.pubcomp(pid, version=self.version))
            elif ptype == raw_mqtt.DISCONNECT:
                raise Closed("broker sent DISCONNECT")
            else:
                self.errors.append(f"unexpected {raw_mqtt.PACKET_NAMES.get(ptype, ptype)}")
        if out:
            self.conn.send(b"".join(out))
        if packets:
            self.last_packet = time.monotonic()
        return len(packets)

    def _deliver(self, p):
        try:
            self.counts[int(p.payload)] += 1
        except ValueError:
            self.errors.append(f"unexpected payload {p.payload[:40]!r} on {p.topic!r}")

    def collect(self, expected, quiet=0.5, idle_timeout=5.0, timeout=60.0):
        """Receives until every seq in `expected` arrived and then nothing for `quiet` s (to see late duplicates),
        or nothing arrived for `idle_timeout` s, or `timeout` passed."""
        deadline = time.monotonic() + timeout
        self.last_packet = time.monotonic()
        while time.monotonic() < deadline:
            self.pump(0.1)
            silent = time.monotonic() - self.last_packet
            if silent >= idle_timeout or (silent >= quiet and expected <= self.counts.keys()):
                return


def compare(acked, counts):
    """The verdict: acknowledged vs received. `counts` maps seq -> deliveries."""
    received = {seq for seq, n in counts.items() if n > 0}
    lost = sorted(set(acked) - received)
    duplicates = {seq: n for seq, n in sorted(counts.items()) if n > 1}
    return Verdict(acknowledged=len(acked), received=len(received), lost=lost, duplicates=duplicates,
                   unacknowledged_received=len(received - set(acked)))


Verdict = collections.namedtuple("Verdict", "acknowledged received lost duplicates unacknowledged_received")


def describe(verdict):
    """One line, with the first few lost and duplicated seqs."""
    text = (f"acknowledged {verdict.acknowledged}, received {verdict.received} distinct "
            f"({verdict.unacknowledged_received} of them never acknowledged), lost {len(verdict.lost)}, "
            f"duplicated {len(verdict.duplicates)}")
    if verdict.lost:
        text += f"; lost seqs {ranges(verdict.lost)[:400]}"
    if verdict.duplicates:
        text += f"; first duplicates (seq: deliveries) {dict(list(verdict.duplicates.items())[:20])}"
    return text


def ranges(seqs):
    """[1, 2, 3, 7] -> '1-3, 7' (for messages about lost seqs)."""
    out, start, prev = [], None, None
    for s in sorted(seqs):
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = s
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(out)
