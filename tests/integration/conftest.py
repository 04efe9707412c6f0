"""Fixtures that start a real mqhub node on free loopback ports for each test.

MQHUB_BIN points at the node binary (ctest sets it). MQHUB_TEST_BROKER=mosquitto runs the same tests against
Debian's mosquitto instead, which is how a test is checked to be able to fail for the right reason.
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

HOST = "127.0.0.1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {HOST}:{port}")


class Broker:
    """A running broker process; `args` are extra command-line flags of mqhub (see README)."""

    def __init__(self, args=(), data_dir=None):
        self.args = list(args)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="mqhub-test-")
        self.port = free_port()
        self.proc = None
        self.output = []
        self.kind = os.environ.get("MQHUB_TEST_BROKER", "mqhub")

    @property
    def host(self):
        return HOST

    def start(self):
        if self.kind == "mosquitto":
            conf = os.path.join(self.data_dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} {HOST}\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 1000000\n")
            cmd = ["mosquitto", "-c", conf]
        else:
            binary = os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))
            cmd = [binary, "--data-dir", self.data_dir, "--bind", HOST, "--mqtt-port", str(self.port),
                   "--mqtts-port", "0", "--ws-port", "0", "--wss-port", "0", "--http-port", "0",
                   "--cluster-port", "0", "--log-level", "warn"] + self.args
        self.output = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        expected = f"listening mqtt {HOST}:{self.port}"

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                if expected in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if self.kind == "mosquitto":
            wait_for_port(self.port)
        elif not ready.wait(10):
            self.proc.kill()
            raise RuntimeError("mqhub did not become ready:\n" + "".join(self.output))
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


@pytest.fixture
def start_broker():
    """Factory: start_broker(args=[...]) returns a started Broker; all are stopped (SIGTERM) after the test,
    which fails if any of them crashed before or did not shut down cleanly (exit code 0)."""
    brokers = []

    def start(args=(), data_dir=None):
        b = Broker(args, data_dir).start()
        brokers.append(b)
        return b

    yield start
    for b in brokers:
        crashed = b.proc is not None and b.proc.poll() is not None and b.proc.returncode != 0
        code = b.stop()
        log = b.log()
        shutil.rmtree(b.data_dir, ignore_errors=True)
        assert not crashed, "broker exited unexpectedly:\n" + log
        # A clean SIGTERM shutdown exits 0; under sanitizers a leak or a late error shows up here too.
        assert code in (None, 0), f"broker exited with {code} on SIGTERM:\n" + log


@pytest.fixture
def broker(start_broker):
    """A broker with the default options."""
    return start_broker()
