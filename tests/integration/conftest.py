"""Fixtures that start a real mqhub node on free loopback ports for each test.

MQHUB_BIN points at the node binary (ctest sets it). MQHUB_TEST_BROKER=mosquitto runs the same tests against
Debian's mosquitto instead (MQHUB_MOSQUITTO, if set, is its path), which is how a test is checked to be able to
fail for the right reason; ctest runs every file both ways.

Networks (README, DESIGN §8): every broker listens on plain MQTT (`broker.port`); a test asks for more with
`start_broker(args, networks=("mqtts", "ws", "wss"))`, which picks a free port for each (`broker.ports[name]`) and
waits for every `listening NAME HOST:PORT` line. The TLS listeners use the hub CA in DATA_DIR/tls
(`broker.ca_path`). Under mosquitto the TLS listener gets a CA and server certificate made here with the openssl
CLI in the same place; WebSocket networks are skipped there, because Debian's mosquitto 2.0.11 is built without
libwebsockets (a `protocol websockets` listener fails with "Unable to start any listening sockets").
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import tls_helpers
from local_ports import HOST, free_port, release_port  # noqa: F401 (tests import both from here)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {HOST}:{port}")


NETWORKS = ("mqtt", "mqtts", "ws", "wss")
TLS_NETWORKS = ("mqtts", "wss")
WS_NETWORKS = ("ws", "wss")
MOSQUITTO_HAS_NO_WEBSOCKETS = ("Debian's mosquitto 2.0.11 is built without libwebsockets: a `protocol websockets` "
                               "listener does not start")


class Broker:
    """A running broker process; `args` are extra command-line flags of mqhub (see README). `networks` names the
    listeners besides plain MQTT (always on): any of "mqtts", "ws", "wss"."""

    def __init__(self, args=(), data_dir=None, networks=()):
        self.args = list(args)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="mqhub-test-")
        unknown = set(networks) - set(NETWORKS)
        assert not unknown, f"unknown networks {unknown}; known: {NETWORKS}"
        self.networks = ("mqtt",) + tuple(n for n in NETWORKS[1:] if n in networks)
        self.ports = {name: free_port() for name in self.networks}
        self.port = self.ports["mqtt"]
        self.proc = None
        self.output = []
        self.kind = Broker.kind_from_env()

    @property
    def host(self):
        return HOST

    @property
    def tls_dir(self):
        return os.path.join(self.data_dir, "tls")

    @property
    def ca_path(self):
        """The hub CA that TLS clients trust (created by the node on first start; by the fixture for mosquitto)."""
        return os.path.join(self.tls_dir, "ca.pem")

    def _mosquitto_config(self):
        lines = [f"listener {self.port} {HOST}"]
        if "mqtts" in self.ports:
            tls_helpers.make_hub_material(self.tls_dir)
            lines += [f"listener {self.ports['mqtts']} {HOST}",
                      f"cafile {self.ca_path}",
                      f"certfile {os.path.join(self.tls_dir, 'server.pem')}",
                      f"keyfile {os.path.join(self.tls_dir, 'server.key')}",
                      "require_certificate false"]
            if os.geteuid() == 0:
                # mosquitto started as root drops to the user mosquitto, who cannot read the key in our 0700
                # data directory.
                lines.append("user root")
        lines += ["allow_anonymous true", "persistence false", "max_queued_messages 1000000"]
        return "\n".join(lines) + "\n"

    def start(self, ready_timeout=10):
        """Starts the process and waits (at most `ready_timeout` s) for its `listening` lines."""
        if self.kind == "mosquitto":
            conf = os.path.join(self.data_dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(self._mosquitto_config())
            cmd = [os.environ.get("MQHUB_MOSQUITTO", "mosquitto"), "-c", conf]  # ctest gives the path (/usr/sbin)
        else:
            binary = os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))
            # Warnings only, unless the test asks for a level (e.g. info, to see which path reloaded TLS).
            log_level = [] if "--log-level" in self.args else ["--log-level", "warn"]
            cmd = [binary, "--data-dir", self.data_dir, "--bind", HOST, "--mqtt-port", str(self.port),
                   "--mqtts-port", str(self.ports.get("mqtts", 0)), "--ws-port", str(self.ports.get("ws", 0)),
                   "--wss-port", str(self.ports.get("wss", 0)), "--http-port", "0",
                   "--cluster-port", "0", *log_level, *self.args]
        self.output = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        expected = {f"listening {name} {HOST}:{port}" for name, port in self.ports.items()}
        seen = set()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                seen.update(e for e in expected if e in line)
                if seen == expected:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if self.kind == "mosquitto":
            for port in self.ports.values():
                wait_for_port(port)
        elif not ready.wait(ready_timeout):
            self.proc.kill()
            raise RuntimeError(f"mqhub did not become ready (missing {sorted(expected - seen)}):\n"
                               + "".join(self.output))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        return "".join(self.output)

    def wait_for_log(self, text, timeout=10.0):
        """Waits until a line of the broker's output contains `text`; returns whether one did."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _socket_links(self):
        fd_dir = f"/proc/{self.proc.pid}/fd"
        links = []
        for fd in os.listdir(fd_dir):
            try:
                links.append(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                pass  # closed meanwhile
        return [link for link in links if link.startswith("socket:")]

    def open_sockets(self):
        """How many sockets the broker process holds open (listeners and connections), from /proc."""
        return len(self._socket_links())

    def holds_connection_from(self, client_port):
        """Whether the broker process still holds the socket of its connection from the client's local port:
        the connection's inode in /proc/net/tcp among the process's descriptors."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                next(f)  # the header
                for line in f:
                    fields = line.split()
                    local_port = int(fields[1].rsplit(":", 1)[1], 16)
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == client_port and local_port in self.ports.values() and fields[9] != "0":
                        inodes.add(f"socket:[{fields[9]}]")
        return bool(inodes & set(self._socket_links()))

    @staticmethod
    def kind_from_env():
        return os.environ.get("MQHUB_TEST_BROKER", "mqhub")


@pytest.fixture
def start_broker():
    """Factory: start_broker(args=[...], networks=(...)) returns a started Broker; all are stopped (SIGTERM) after
    the test, which fails if any of them crashed before or did not shut down cleanly (exit code 0)."""
    brokers = []

    def start(args=(), data_dir=None, networks=()):
        if Broker.kind_from_env() == "mosquitto" and set(networks) & set(WS_NETWORKS):
            pytest.skip(MOSQUITTO_HAS_NO_WEBSOCKETS)
        b = Broker(args, data_dir, networks).start()
        brokers.append(b)
        return b

    yield start
    for b in brokers:
        crashed = b.proc is not None and b.proc.poll() is not None and b.proc.returncode != 0
        code = b.stop()
        log = b.log()
        shutil.rmtree(b.data_dir, ignore_errors=True)
        for port in b.ports.values():
            release_port(port)
        assert not crashed, "broker exited unexpectedly:\n" + log
        # A clean SIGTERM shutdown exits 0; under sanitizers a leak or a late error shows up here too.
        assert code in (None, 0), f"broker exited with {code} on SIGTERM:\n" + log


@pytest.fixture
def broker(start_broker):
    """A broker with the default options."""
    return start_broker()


@pytest.fixture
def cluster():
    """Factory fixture: cluster(count) -> cluster_helpers.Cluster of nodes n1..n<count>; all stop after the test."""
    from cluster_helpers import Cluster  # it imports this module

    made = []

    def make(count, args=()):
        c = Cluster(count, args)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
