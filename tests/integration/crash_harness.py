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
import itertools
import os
import socket
import struct
import threading
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
        self.sessions_lost = 0  # reconnects that found no session
        # QoS 2: packet ids whose PUBREL was written to a connection, and those of them written before the last
        # reconnect. The node may have completed such a flow just before it died, so a PUBCOMP 0x92 (Packet
        # Identifier not found) for the re-sent PUBREL is the normal recovery answer (MQTT 5 §3.7.2.1, 0x92:
        # "not an error during recovery"); for any other PUBREL it means the node forgot the packet id.
        self.pubrel_written = set()
        self.released_before_reconnect = set()
        self.pubcomp_not_found_in_recovery = 0
        self._unsent_pubrels = []
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
        if not first and not present:
            self.sessions_lost += 1
        self.released_before_reconnect = self.pubrel_written & self.releasing.keys()
        out = [raw_mqtt.pubrel(pid, version=self.version) for pid in self._by_seq(self.releasing)]
        self._unsent_pubrels = list(self.releasing)
        out += [self._publish(seq, dup=True) for seq in (self.inflight[pid] for pid in self._by_seq(self.inflight))]
        self._send(out)
        return present

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @staticmethod
    def _by_seq(table):
        return sorted(table, key=table.get)

    def _send(self, out):
        if out:
            self.conn.send(b"".join(out))
        self.pubrel_written.update(self._unsent_pubrels)
        self._unsent_pubrels = []

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
                self._send(self._handle(packets))
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
                self._unsent_pubrels = []
        except Closed:
            pass
        self._unsent_pubrels = []
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
                    self._unsent_pubrels.append(pid)
                elif code >= 0x80:
                    self.errors.append(f"PUBREC 0x{code:02x} for seq {seq}")
                    self.completed.add(seq)
                else:
                    self.acked.add(seq)
                    self.releasing[pid] = seq
                    out.append(raw_mqtt.pubrel(pid, version=self.version))
                    self._unsent_pubrels.append(pid)
            elif ptype == raw_mqtt.PUBCOMP and self.qos == 2:
                pid, code, _ = raw_mqtt.parse_ack(body, self.version)
                seq = self.releasing.pop(pid, None)
                self.pubrel_written.discard(pid)
                if seq is None:
                    self.errors.append(f"PUBCOMP for packet id {pid}, which was not released")
                else:
                    if code == 0x92 and pid in self.released_before_reconnect:
                        self.pubcomp_not_found_in_recovery += 1
                    elif code != 0:
                        self.errors.append(f"PUBCOMP 0x{code:02x} for seq {seq} (0x92: packet id not found; its "
                                           f"PUBREL had not been sent before the restart)")
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
        self.deliveries = collections.defaultdict(list)  # seq -> [(connection number, packet id, DUP)]
        self.connections = 0
        self.pending = {}  # QoS 2: packet id -> seq delivered, whose PUBREL has not arrived
        # QoS 2 PUBLISHes not delivered because their packet id was still unreleased for ANOTHER seq (a node that
        # reuses a packet id too early): seq -> [(connection number, packet id, the seq holding that id)]
        self.swallowed = collections.defaultdict(list)
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
        self.connections += 1
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
                        self.pending[p.packet_id] = self._deliver(p)
                    elif self._seq(p) != self.pending[p.packet_id]:
                        self.swallowed[self._seq(p)].append((self.connections, p.packet_id,
                                                             self.pending[p.packet_id]))
                    out.append(raw_mqtt.pubrec(p.packet_id, version=self.version))
                else:
                    self._deliver(p)
                    if p.qos == 1:
                        out.append(raw_mqtt.puback(p.packet_id, version=self.version))
            elif ptype == raw_mqtt.PUBREL:
                pid = struct.unpack_from("!H", body, 0)[0]
                self.pending.pop(pid, None)
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

    def _seq(self, p):
        try:
            return int(p.payload)
        except ValueError:
            self.errors.append(f"unexpected payload {p.payload[:40]!r} on {p.topic!r}")
            return None

    def _deliver(self, p):
        """Delivers to the application: counts the seq; returns it."""
        seq = self._seq(p)
        if seq is not None:
            self.counts[seq] += 1
            self.deliveries[seq].append((self.connections, p.packet_id, int(p.dup)))
        return seq

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


# --------------------------------------------------------------------------------------------------- kill loop


class OnlineSubscriber(threading.Thread):
    """Runs a Subscriber's connection in a thread: reconnects whenever the node is back (`up` is set)."""

    def __init__(self, sub, broker, up):
        super().__init__(daemon=True)
        self.sub, self.broker, self.up = sub, broker, up
        self.stop = threading.Event()
        self.failure = None

    def run(self):
        try:
            while not self.stop.is_set():
                try:
                    if self.sub.conn is None:
                        self.up.wait()
                        self.sub.connect(self.broker)
                    self.sub.pump(0.2)
                except (Closed, OSError):
                    self.sub.close()
                    time.sleep(0.05)
        except Exception as e:  # an assertion in the harness: report it, do not hang the run
            self.failure = e
        finally:
            self.sub.close()


def has_all(acked, sub):
    """Whether the subscriber has every seq in `acked` (its thread may be adding to the counts meanwhile)."""
    try:
        return acked <= sub.counts.keys()
    except RuntimeError:  # dictionary changed size during iteration
        return False


Run = collections.namedtuple("Run", "verdict publisher subscriber acked_at_first_kill restart_seconds "
                                    "publish_seconds collect_seconds failure")
_runs = itertools.count(1)


def run_with_kills(broker, qos, total, kill_points, online, finish=True, pub_version=5, sub_version=5, window=256,
                   idle_timeout=10.0, progress=None):
    """The crash scenario on a started `broker` (conftest.Broker): a persistent subscriber (connected throughout
    and reconnecting after each restart if `online`, else parked until the end), a publisher of `total` messages
    that is paused at each of `kill_points` (sorted counts of acknowledged messages) while the node is killed
    with SIGKILL and restarted on its data directory, then reconnects and re-sends what was not acknowledged.
    After the last restart the publisher publishes the rest (`finish`) or only completes the flows in progress.
    Then the subscriber collects until it has every acknowledged message (or nothing arrives for
    `idle_timeout` s). `progress(n, acked, restart_seconds)` is called after each restart.

    Returns a Run; `failure` holds an exception that cut the run short (as text), else None."""
    run_id = f"{os.getpid()}-{next(_runs)}"
    topic = f"crash/{run_id}"
    sub = Subscriber(topic, qos, sub_version, f"crash-sub-{run_id}")
    sub.connect(broker)
    sub.subscribe()
    up = threading.Event()
    up.set()
    thread = None
    if online:
        thread = OnlineSubscriber(sub, broker, up)
        thread.start()
    else:
        sub.disconnect()
    pub = Publisher(topic, qos, pub_version, f"crash-pub-{run_id}", total, window=window)
    acked_at_first_kill = None
    restart_seconds = publish_seconds = collect_seconds = 0.0
    failure = None
    started = time.monotonic()
    try:
        for n, point in enumerate(kill_points, 1):
            pub.connect(broker)
            pub.pump(stop_at_acks=point)
            up.clear()
            broker.kill()
            pub.drain()
            if acked_at_first_kill is None:
                acked_at_first_kill = set(pub.acked)
            restarted = time.monotonic()
            broker.start()
            restart_seconds += time.monotonic() - restarted
            up.set()
            if progress:
                progress(n, len(pub.acked), time.monotonic() - restarted)
        if not finish and kill_points:
            pub.total = pub.next_seq
        pub.connect(broker)
        pub.pump()
        pub.close()
        publish_seconds = time.monotonic() - started - restart_seconds
        collecting = time.monotonic()
        if thread is None:
            sub.connect(broker)
            sub.collect(pub.acked, quiet=0.5, idle_timeout=idle_timeout, timeout=600.0)
            sub.disconnect()
        else:
            while (not has_all(pub.acked, sub) and thread.failure is None
                   and time.monotonic() - sub.last_packet < idle_timeout):
                time.sleep(0.05)
            time.sleep(0.5)  # late duplicates
        collect_seconds = time.monotonic() - collecting
    except (AssertionError, Closed, OSError, RuntimeError) as e:
        failure = f"{type(e).__name__}: {e}"
        publish_seconds = publish_seconds or time.monotonic() - started - restart_seconds
    finally:
        pub.close()
        if thread is not None:
            thread.stop.set()
            up.set()
            thread.join(5)
            if thread.failure is not None and failure is None:
                failure = f"subscriber thread: {thread.failure!r}"
        sub.close()
    if acked_at_first_kill is None:
        acked_at_first_kill = set(pub.acked)
    return Run(compare(pub.acked, sub.counts), pub, sub, acked_at_first_kill, restart_seconds, publish_seconds,
               collect_seconds, failure)


def duplicate_detail(sub, verdict, n=3):
    """How the first n duplicates arrived: seq -> [(subscriber connection number, packet id, DUP)]."""
    return {seq: sub.deliveries[seq] for seq in list(verdict.duplicates)[:n]}


def summary(run):
    """Counts of a Run for a report line."""
    pub, sub = run.publisher, run.subscriber
    detail = ""
    if run.verdict.duplicates:
        detail += (f"; how the first duplicates arrived (seq: [(subscriber connection, packet id, DUP)]) "
                   f"{duplicate_detail(sub, run.verdict)}")
    swallowed = [seq for seq in run.verdict.lost if seq in sub.swallowed]
    if swallowed:
        detail += (f"; {len(swallowed)} lost seqs came as QoS 2 PUBLISHes under a packet id the subscriber still "
                   f"held unreleased for another seq, so it had to take them as duplicates (MQTT-4.3.3-10); first "
                   f"(seq: [(connection, packet id, seq holding it)]) "
                   f"{ {seq: sub.swallowed[seq] for seq in swallowed[:3]} }")
    return (f"{describe(run.verdict)}{detail}; restarts {run.restart_seconds:.2f}s, publishing {run.publish_seconds:.2f}s, "
            f"collecting {run.collect_seconds:.2f}s; subscriber got {sub.dup_flags} PUBLISHes with DUP=1; "
            f"sessions lost: publisher {pub.sessions_lost}, subscriber {sub.sessions_lost}; PUBCOMP 0x92 for "
            f"PUBRELs re-sent in recovery {pub.pubcomp_not_found_in_recovery}; errors {pub.errors[:3]} "
            f"{sub.errors[:3]}; failure {run.failure}")
