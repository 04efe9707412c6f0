"""Issue 22: a cluster of real mqhub processes on loopback, started with tools/cluster-up, joined over mutual
TLS through CAF's middleman. These tests cover membership: joining through one seed, a node refused for a
certificate another CA signed, a killed node leaving and rejoining, and a data dir's node identity."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import HOST, REPO, free_port
from mqtt_helpers import UNDER_MOSQUITTO

pytestmark = pytest.mark.skipif(UNDER_MOSQUITTO, reason="mqhub only: a cluster of mqhub nodes")

CLUSTER_UP = os.path.join(REPO, "tools", "cluster-up")


def mqhub_bin():
    return os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


class Cluster:
    """`count` nodes n1..nN started by tools/cluster-up, each on its own free ports and data dir."""

    def __init__(self, count):
        self.count = count
        self.dir = tempfile.mkdtemp(prefix="mqhub-cluster-")
        self.mqtt_ports = [free_port() for _ in range(count)]
        self.cluster_ports = [free_port() for _ in range(count)]
        self.pids = {}
        self.restarted = []
        cmd = [CLUSTER_UP, str(count), "--dir", self.dir,
               "--mqtt-ports", ",".join(map(str, self.mqtt_ports)),
               "--cluster-ports", ",".join(map(str, self.cluster_ports)), "--", "--log-level", "info"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, MQHUB_BIN=mqhub_bin()))
        self.output = []
        up = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                fields = line.split()
                if len(fields) > 2 and fields[1] == "pid":
                    self.pids[fields[0]] = int(fields[2])
                if line.startswith("cluster up:"):
                    up.set()

        threading.Thread(target=pump, daemon=True).start()
        if not up.wait(60):
            self.stop()
            raise RuntimeError("tools/cluster-up did not come up:\n" + "".join(self.output))

    def log(self, i):
        with open(os.path.join(self.dir, f"n{i}.log")) as f:
            return f.read()

    def cluster_address(self, i):
        return f"{HOST}:{self.cluster_ports[i - 1]}"

    def kill(self, i):
        os.kill(self.pids[f"n{i}"], signal.SIGKILL)

    def restart(self, i):
        """Starts node i again as cluster-up did, its output appended to its log."""
        args = [mqhub_bin(), "--node-name", f"n{i}", "--data-dir", os.path.join(self.dir, f"n{i}"), "--bind", HOST,
                "--mqtt-port", str(self.mqtt_ports[i - 1]), "--mqtts-port", "0", "--ws-port", "0", "--wss-port",
                "0", "--http-port", "0", "--cluster-port", str(self.cluster_ports[i - 1]), "--log-level", "info"]
        if i > 1:
            args += ["--join", self.cluster_address(1)]
        log = open(os.path.join(self.dir, f"n{i}.log"), "a")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.restarted.append(proc)
        self.pids[f"n{i}"] = proc.pid
        return proc

    def stop(self):
        for proc in self.restarted:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    made = []

    def make(count):
        c = Cluster(count)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def members_line(names):
    return f"cluster: {len(names)} nodes: {', '.join(names)} "


def test_nodes_that_join_through_one_seed_all_see_one_cluster(cluster):
    c = cluster(3)
    for i in (1, 2, 3):
        assert members_line(["n1", "n2", "n3"]) in c.log(i), c.log(i)
    # The first start logs the placement of the 1024 shards over three nodes; they add up.
    owned = 0
    for i in (1, 2, 3):
        line = [ln for ln in c.log(i).splitlines() if members_line(["n1", "n2", "n3"]) in ln][-1]
        owned += int(line.split(", ")[-1].split()[0])
    assert owned == 1024


def test_a_node_whose_certificate_another_ca_signed_cannot_join(cluster):
    c = cluster(2)
    data = tempfile.mkdtemp(prefix="mqhub-intruder-")
    try:
        # Its own data dir: the node makes its own hub CA, which the cluster does not trust.
        intruder = subprocess.Popen(
            [mqhub_bin(), "--node-name", "intruder", "--data-dir", data, "--bind", HOST, "--mqtt-port",
             str(free_port()), "--mqtts-port", "0", "--ws-port", "0", "--wss-port", "0", "--http-port", "0",
             "--cluster-port", str(free_port()), "--join", c.cluster_address(1), "--log-level", "info"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []

        def pump():
            for line in intruder.stdout:
                lines.append(line)

        threading.Thread(target=pump, daemon=True).start()
        assert wait_until(lambda: "cannot join " + c.cluster_address(1) in "".join(lines)), "".join(lines)
        assert "handshake" in "".join(lines)
        time.sleep(1.5)  # a second attempt, after the dial interval, is refused too
        assert "intruder" not in c.log(1)
        assert "intruder" not in c.log(2)
        assert "cluster: 2 nodes:" not in "".join(lines)
        intruder.terminate()
        intruder.wait(10)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_a_second_node_under_a_taken_name_is_refused(cluster):
    c = cluster(2)
    data = tempfile.mkdtemp(prefix="mqhub-impostor-")
    try:
        # The cluster CA, so that TLS admits it: only the name is wrong.
        os.makedirs(os.path.join(data, "tls"), mode=0o700)
        for name in ("ca.pem", "ca.key"):
            shutil.copy2(os.path.join(c.dir, "n1", "tls", name), os.path.join(data, "tls", name))
        impostor = subprocess.Popen(
            [mqhub_bin(), "--node-name", "n2", "--data-dir", data, "--bind", HOST, "--mqtt-port", str(free_port()),
             "--mqtts-port", "0", "--ws-port", "0", "--wss-port", "0", "--http-port", "0", "--cluster-port",
             str(free_port()), "--join", c.cluster_address(1), "--log-level", "info"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(impostor.stdout), daemon=True).start()
        assert wait_until(lambda: "the node name n2 is taken" in "".join(lines)), "".join(lines)
        assert "cluster: 2 nodes:" not in "".join(lines)
        assert c.log(1).count("cluster: n2 joined") == 1
        impostor.terminate()
        impostor.wait(10)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_a_killed_node_leaves_at_once_and_rejoins_when_restarted(cluster):
    c = cluster(3)
    killed_at = time.monotonic()
    c.kill(3)
    for i in (1, 2):
        assert wait_until(lambda i=i: "cluster: lost n3" in c.log(i), 5), c.log(i)
        assert wait_until(lambda i=i: members_line(["n1", "n2"]) in c.log(i), 5)
    assert time.monotonic() - killed_at < 5
    before = [c.log(i).count(members_line(["n1", "n2", "n3"])) for i in (1, 2)]
    c.restart(3)
    for i in (1, 2):
        assert wait_until(lambda i=i: c.log(i).count(members_line(["n1", "n2", "n3"])) > before[i - 1], 15), c.log(i)


def test_a_restarted_seed_is_found_again_by_the_nodes_that_joined_through_it(cluster):
    c = cluster(3)
    c.kill(1)
    for i in (2, 3):
        assert wait_until(lambda i=i: members_line(["n2", "n3"]) in c.log(i), 5), c.log(i)
    c.restart(1)  # without --join, as it first started: the others dial it again
    assert wait_until(lambda: c.log(1).count(members_line(["n1", "n2", "n3"])) >= 2, 15), c.log(1)
    for i in (2, 3):
        assert wait_until(lambda i=i: c.log(i).count(members_line(["n1", "n2", "n3"])) >= 2, 15), c.log(i)


def run_node(args, timeout=10):
    return subprocess.run([mqhub_bin(), "--bind", HOST, "--mqtt-port", str(free_port()), "--mqtts-port", "0",
                           "--ws-port", "0", "--wss-port", "0", "--http-port", "0", *args],
                          capture_output=True, text=True, timeout=timeout)


def start_and_stop(args):
    proc = subprocess.Popen([mqhub_bin(), "--bind", HOST, "--mqtt-port", str(free_port()), "--mqtts-port", "0",
                             "--ws-port", "0", "--wss-port", "0", "--http-port", "0", "--log-level", "info",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in proc.stdout:
        output.append(line)
        if line.startswith("listening mqtt"):
            break
    proc.terminate()
    output += proc.stdout.readlines()
    proc.wait(10)
    return "".join(output)


def test_a_data_dir_cannot_be_started_under_another_node_name():
    data = tempfile.mkdtemp(prefix="mqhub-identity-")
    try:
        assert "node n1" in start_and_stop(["--data-dir", data, "--node-name", "n1", "--cluster-port", "0"])
        other = run_node(["--data-dir", data, "--node-name", "n2", "--cluster-port", "0"])
        assert other.returncode == 1
        assert "belongs to node 'n1'" in other.stderr + other.stdout
        assert "--node-name n1" in other.stderr + other.stdout
        # Given no name, the node takes the one its data dir records.
        assert "node n1" in start_and_stop(["--data-dir", data, "--cluster-port", "0"])
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_join_without_a_cluster_port_is_refused_with_a_message():
    data = tempfile.mkdtemp(prefix="mqhub-join-")
    try:
        result = run_node(["--data-dir", data, "--cluster-port", "0", "--join", "127.0.0.1:4370"])
        assert result.returncode == 1
        assert "--join needs a --cluster-port" in result.stderr + result.stdout
    finally:
        shutil.rmtree(data, ignore_errors=True)
