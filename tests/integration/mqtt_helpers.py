"""Helpers for the black-box tests: a paho-mqtt wrapper that turns callbacks into awaitable events, raw-socket
helpers on top of raw_mqtt.py, and mosquitto_pub / mosquitto_sub runners.

Every wait has a timeout; nothing sleeps except `assert_nothing_for`, which proves something does NOT happen.
"""

import itertools
import os
import queue
import re
import struct
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes
from paho.mqtt.subscribeoptions import SubscribeOptions

import raw_mqtt

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5
TIMEOUT = 5.0

UNDER_MOSQUITTO = os.environ.get("MQHUB_TEST_BROKER") == "mosquitto"


def mqhub_only(reason):
    """Skip marker for a test that needs an mqhub-only flag or behaviour."""
    return pytest.mark.skipif(UNDER_MOSQUITTO, reason=f"mqhub only: {reason}")


def mosquitto_deviates(reason):
    """Expected-failure marker (strict) for a spec behaviour that Debian's mosquitto 2.0.11 does not have: under
    mosquitto the test must fail, which also shows that it can fail."""
    return pytest.mark.xfail(UNDER_MOSQUITTO, reason=f"mosquitto 2.0.11 deviates: {reason}", strict=True)


def mosquitto_differs(reason):
    """Expected-failure marker (strict) for a choice mqhub makes where the spec leaves room, and mosquitto 2.0.11
    chose otherwise: the test runs against mosquitto all the same and must fail there, which shows it can fail."""
    return pytest.mark.xfail(UNDER_MOSQUITTO, reason=f"mosquitto 2.0.11 differs from mqhub: {reason}", strict=True)


_ids = itertools.count(1)


def unique_id(prefix="c"):
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def wait_until(predicate, timeout=TIMEOUT, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------------------------------- paho


def props(packet_type, **values):
    """paho Properties, e.g. props(PacketTypes.CONNECT, SessionExpiryInterval=10)."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def will_at_session_end(topic, payload=b"session ended"):
    """An MQTT 5 will (for Client(will=...)) that only the end of its session publishes: its delay (1 h) outlasts
    any session of a test, and the will goes out when the delay passes or the session ends, whichever comes first
    (MQTT-3.1.3-9). A subscriber to `topic` thereby sees when a session expires. Leave with
    disconnect_keeping_will()."""
    return dict(topic=topic, payload=payload, qos=1, retain=False,
                properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=3600))


class Client:
    """A paho client running its network loop in a thread. Messages land in `self.messages` (a Queue).

    `network` is one of the broker's networks (conftest.NETWORKS): "mqtt" (default), "mqtts" and "wss" trust
    `ca` (default: the broker's hub CA) and present certfile/keyfile if given; "ws" and "wss" speak MQTT over
    WebSocket on the path /mqtt."""

    def __init__(self, broker, client_id=None, protocol=V5, clean=True, keepalive=60, properties=None,
                 will=None, connect=True, expect_rc=0, network="mqtt", ca=None, certfile=None, keyfile=None):
        self.broker = broker
        self.protocol = protocol
        self.network = network
        self.client_id = unique_id() if client_id is None else client_id
        transport = "websockets" if network in ("ws", "wss") else "tcp"
        if protocol == V5:
            self.paho = mqtt.Client(client_id=self.client_id, protocol=V5, reconnect_on_failure=False,
                                    transport=transport)
        else:
            self.paho = mqtt.Client(client_id=self.client_id, clean_session=clean, protocol=protocol,
                                    reconnect_on_failure=False, transport=transport)
        if transport == "websockets":
            self.paho.ws_set_options(path="/mqtt")
        if network in ("mqtts", "wss"):
            self.paho.tls_set(ca_certs=ca or broker.ca_path, certfile=certfile, keyfile=keyfile)
        self.clean = clean
        self.keepalive = keepalive
        self.connect_properties = properties
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None  # (flags dict, reason code, properties)
        self.disconnect_reason = None
        self.disconnect_properties = None
        self._lock = threading.Condition()
        self._published = set()
        self._subacks = {}
        self._unsubacks = set()
        self._acks_owed = 0  # QoS 1/2 messages handed to the test, each acknowledged by paho after its handler
        self._acks_sent = 0
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = self._on_message
        self.paho.on_log = self._on_log
        self.paho.on_publish = self._on_publish
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_unsubscribe = self._on_unsubscribe
        if will is not None:
            self.paho.will_set(**will)
        if connect:
            self.connect(expect_rc)

    # -- callbacks ----------------------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = (flags, rc, properties)
        self.connected.set()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_reason = rc
        self.disconnect_properties = properties
        self.disconnected.set()

    def _on_message(self, client, userdata, message):
        if message.qos > 0:
            with self._lock:
                self._acks_owed += 1
        self.messages.put(message)

    def _on_log(self, client, userdata, level, text):
        # paho queues the PUBACK (QoS 1) or PUBCOMP (QoS 2) of a message after on_message returns, logging it.
        if text.startswith(("Sending PUBACK", "Sending PUBCOMP")):
            with self._lock:
                self._acks_sent += 1
                self._lock.notify_all()

    def _on_publish(self, client, userdata, mid):
        with self._lock:
            self._published.add(mid)
            self._lock.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self._lock:
            self._subacks[mid] = granted
            self._lock.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, *rest):
        with self._lock:
            self._unsubacks.add(mid)
            self._lock.notify_all()

    # -- actions ------------------------------------------------------------------------------------------------
    def connect(self, expect_rc=0):
        self.connected.clear()
        self.disconnected.clear()
        kwargs = {}
        if self.protocol == V5:
            kwargs = dict(clean_start=self.clean, properties=self.connect_properties)
        self.paho.connect(self.broker.host, self.broker.ports[self.network], keepalive=self.keepalive, **kwargs)
        self.paho.loop_start()
        assert self.connected.wait(TIMEOUT), f"expected a CONNACK for {self.client_id} within {TIMEOUT}s"
        if expect_rc is not None:
            assert self.reason_code == expect_rc, \
                f"expected CONNACK reason {expect_rc} for {self.client_id}, got {self.connack[1]}"
        return self

    @property
    def reason_code(self):
        rc = self.connack[1]
        return rc.value if hasattr(rc, "value") else rc

    @property
    def session_present(self):
        return bool(self.connack[0].get("session present"))

    def subscribe(self, topic, qos=0, options=None, properties=None):
        """Subscribe and wait for the SUBACK; returns the granted QoS / reason codes (list)."""
        if self.protocol == V5:
            opts = options or SubscribeOptions(qos=qos)
            rc, mid = self.paho.subscribe(topic, options=opts, properties=properties)
        else:
            rc, mid = self.paho.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"expected paho to send SUBSCRIBE {topic!r}, got error {rc}"
        with self._lock:
            assert self._lock.wait_for(lambda: mid in self._subacks, TIMEOUT), \
                f"expected a SUBACK for {topic!r} within {TIMEOUT}s"
            granted = self._subacks[mid]
        return [g.value if hasattr(g, "value") else g for g in granted]

    def unsubscribe(self, topic):
        rc, mid = self.paho.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"expected paho to send UNSUBSCRIBE {topic!r}, got error {rc}"
        with self._lock:
            assert self._lock.wait_for(lambda: mid in self._unsubacks, TIMEOUT), \
                f"expected an UNSUBACK for {topic!r} within {TIMEOUT}s"

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, wait=True):
        """Publish; with wait=True block until paho reports completion (sent for QoS 0, PUBACK for QoS 1,
        PUBCOMP for QoS 2)."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"expected paho to send PUBLISH {topic!r}, got error {info.rc}"
        if wait:
            self.wait_published(info.mid, f"{topic!r} QoS {qos}")
        return info.mid

    def wait_published(self, mid, what="message"):
        with self._lock:
            assert self._lock.wait_for(lambda: mid in self._published, TIMEOUT), \
                f"expected the publish of {what} to complete (PUBACK/PUBCOMP received) within {TIMEOUT}s"

    def is_published(self, mid):
        with self._lock:
            return mid in self._published

    def receive(self, timeout=TIMEOUT, what="a message"):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: expected {what} within {timeout}s, got nothing") from None

    def receive_up_to(self, n, timeout=TIMEOUT):
        """The next n messages, or those that came before the timeout (for a test that reports what is missing)."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                out.append(self.messages.get(timeout=max(deadline - time.monotonic(), 0.001)))
            except queue.Empty:
                break
        return out

    def receive_n(self, n, timeout=TIMEOUT, what=None):
        out = self.receive_up_to(n, timeout)
        if len(out) < n:
            raise AssertionError(f"{self.client_id}: expected {n} {what or 'messages'} within {timeout}s, "
                                 f"got {len(out)}: {[(m.topic, m.payload) for m in out]}")
        return out

    def drain(self, quiet=0.3):
        """Every message that arrives until none has arrived for `quiet` seconds. Only to collect what should NOT
        come (after the expected messages were received): it is no wait for a message that should."""
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def assert_nothing_for(self, seconds=0.5, what="no message"):
        try:
            m = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"{self.client_id}: expected {what}, got {m.topic!r} {m.payload!r}")

    def wait_acks_queued(self):
        """Waits until paho has queued its acknowledgement (PUBACK, or PUBCOMP for QoS 2) of every QoS 1/2 message
        handed to the test: paho sends it only after the message handler, so a DISCONNECT sent straight after
        receive() could overtake it. Anything sent after this call follows the acknowledgements."""
        with self._lock:
            assert self._lock.wait_for(lambda: self._acks_sent >= self._acks_owed, TIMEOUT), \
                f"{self.client_id}: expected paho to acknowledge {self._acks_owed} messages, it sent {self._acks_sent}"

    def wait_acks_taken(self):
        """wait_acks_queued, then an UNSUBSCRIBE round trip: a broker handles one connection's packets in order, so
        its UNSUBACK means it has taken the acknowledgements too. A stop right after a disconnect may otherwise
        come before the broker has read them, and then resending the messages is what MQTT asks of it."""
        self.wait_acks_queued()
        self.unsubscribe("mqhub-test/acks-taken")

    def disconnect(self):
        self.paho.disconnect()
        self.disconnected.wait(TIMEOUT)
        self.paho.loop_stop()

    def disconnect_keeping_will(self):
        """MQTT 5 DISCONNECT 0x04 (Disconnect with Will Message): the session keeps its will (MQTT 3.14.2.1)."""
        self.paho.disconnect(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"))
        self.disconnected.wait(TIMEOUT)
        self.paho.loop_stop()

    def stop(self):
        """Tear down without caring about state."""
        try:
            self.paho.disconnect()
        except Exception:
            pass
        self.paho.loop_stop()


@pytest.fixture
def clients():
    """Factory fixture: clients(broker, ...) -> Client; all are stopped after the test."""
    made = []

    def make(broker, **kwargs):
        c = Client(broker, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


# --------------------------------------------------------------------------------------------------- raw socket


def connect_packet(client_id, version=5, clean=True, keepalive=60, properties=(), will=None):
    """CONNECT like raw_mqtt.connect, but `will` is a dict(topic, payload, qos=0, retain=False, properties=())
    so an MQTT 5 will can carry properties such as the Will Delay Interval."""
    flags = 0x02 if clean else 0
    payload = raw_mqtt.utf8(client_id)
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        if version == 5:
            payload += raw_mqtt.encode_properties(will.get("properties", ()))
        payload += raw_mqtt.utf8(will["topic"]) + raw_mqtt.binary(will.get("payload", b""))
    header = raw_mqtt.utf8("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        header += raw_mqtt.encode_properties(properties)
    return raw_mqtt.packet(raw_mqtt.CONNECT, 0, header + payload)


class Raw:
    """raw_mqtt.RawClient plus the protocol version, so calls need not repeat it."""

    def __init__(self, broker, version=5):
        self.version = version
        self.sock = raw_mqtt.RawClient(broker.host, broker.port)

    def connect(self, client_id, clean=True, keepalive=60, properties=(), will=None):
        """Returns (session_present, reason code, Props)."""
        self.sock.send(connect_packet(client_id, self.version, clean, keepalive, properties, will))
        _, body = self.sock.expect(raw_mqtt.CONNACK)
        return raw_mqtt.parse_connack(body, self.version)

    def subscribe(self, packet_id, filters, properties=()):
        self.sock.send(raw_mqtt.subscribe(packet_id, filters, self.version, properties))
        _, body = self.sock.expect(raw_mqtt.SUBACK)
        return raw_mqtt.parse_suback(body, self.version)

    def publish(self, topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None):
        self.sock.send(raw_mqtt.publish(topic, payload, qos, retain, dup, packet_id, self.version))

    def puback(self, packet_id):
        self.sock.send(raw_mqtt.puback(packet_id, version=self.version))

    def pubrel(self, packet_id):
        self.sock.send(raw_mqtt.pubrel(packet_id, version=self.version))

    def expect(self, ptype, timeout=TIMEOUT):
        return self.sock.expect(ptype, timeout)

    def expect_publish(self, timeout=TIMEOUT):
        flags, body = self.sock.expect(raw_mqtt.PUBLISH, timeout)
        return raw_mqtt.parse_publish(flags, body, self.version)

    def disconnect(self, reason=0):
        self.sock.send(raw_mqtt.disconnect(reason, version=self.version))
        self.sock.close()

    def abort(self):
        """Close the TCP connection without DISCONNECT (RST, so the broker notices at once)."""
        try:
            self.sock.sock.setsockopt(raw_mqtt.socket.SOL_SOCKET, raw_mqtt.socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()

    def wait_closed(self, timeout):
        return self.sock.wait_closed(timeout)

    def close(self):
        self.sock.close()


@pytest.fixture
def raws():
    """Factory fixture: raws(broker, version=5) -> Raw; all sockets are closed after the test."""
    made = []

    def make(broker, version=5):
        r = Raw(broker, version)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# --------------------------------------------------------------------------------------------------- mosquitto clients


_DEBUG_LINE = re.compile(r"^(Client \S+ (sending|received) [A-Z]+|Subscribed \(mid: )")


class MosquittoSub:
    """A running mosquitto_sub. It runs with -d so it prints the broker's SUBACK ("received SUBACK"); start()
    waits for that line, so the subscription exists before anything is published. Payload lines (everything that
    is not a debug line) are collected in order."""

    def __init__(self, broker, topic, version="mqttv311", qos=0, count=None, wait=10, extra=(), port=None):
        # stdbuf: line-buffered stdout, so each debug line reaches us when it is printed, not at exit.
        self.cmd = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", broker.host, "-p", str(port or broker.port),
                    "-V", version, "-t", topic, "-q", str(qos), "-W", str(wait), "-i", unique_id("sub"), *extra]
        if count is not None:
            self.cmd += ["-C", str(count)]
        self.lines = queue.Queue()
        self.debug = []
        self.subscribed = threading.Event()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.subscribed.wait(TIMEOUT), \
            f"expected mosquitto_sub to get a SUBACK within {TIMEOUT}s; output: {self.debug}"
        return self

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if _DEBUG_LINE.match(line):
                self.debug.append(line)
                if "received SUBACK" in line:
                    self.subscribed.set()
            else:
                self.lines.put(line)
        self.lines.put(None)  # end of output

    def publishes(self):
        """The debug lines describing each received PUBLISH, e.g. "... received PUBLISH (d0, q1, r1, m1, 't', ...".
        """
        return [line for line in self.debug if "received PUBLISH" in line]

    def read(self, n, timeout=TIMEOUT):
        """The next n payload lines (fewer if mosquitto_sub exits or the time runs out)."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                break
            out.append(line)
        return out

    def wait_exit(self, timeout=TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def subs():
    """Factory fixture: subs(broker, topic, ...) -> started MosquittoSub; all are killed after the test."""
    made = []

    def make(broker, topic, **kwargs):
        s = MosquittoSub(broker, topic, **kwargs)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.stop()


def mosquitto_pub(broker, topic, message=None, version="mqttv311", qos=0, retain=False, lines=None, extra=(),
                  port=None, check=True):
    """Run mosquitto_pub to completion: -m message, or -l with `lines` (a list of strings) on stdin, or neither
    (then `extra` says what to send, e.g. ["-n"]). `port` defaults to the plain MQTT port; with check=False the
    result is returned whatever the exit code."""
    cmd = ["mosquitto_pub", "-h", broker.host, "-p", str(port or broker.port), "-V", version, "-t", topic,
           "-q", str(qos), "-i", unique_id("pub"), *extra]
    if retain:
        cmd.append("-r")
    stdin = None
    if lines is not None:
        cmd.append("-l")
        stdin = "".join(line + "\n" for line in lines)
    elif message is not None:
        cmd += ["-m", message]
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    assert not check or result.returncode == 0, \
        f"expected mosquitto_pub {' '.join(cmd)} to exit 0, got {result.returncode}: {result.stderr}"
    return result


def mosquitto_sub_once(broker, topic, version="mqttv311", count=1, wait=3, extra=()):
    """Run mosquitto_sub -C count -W wait to completion (for retained messages, which exist before the
    subscription). Returns (returncode, payload lines, stderr)."""
    cmd = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-V", version, "-t", topic,
           "-C", str(count), "-W", str(wait), "-i", unique_id("sub"), *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=wait + 10)
    return result.returncode, result.stdout.splitlines(), result.stderr
