"""A cluster of real mqhub processes on loopback for the tests, started with tools/cluster-up (which the tests thus
keep working): each node on its own free ports and data dir."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from conftest import HOST, REPO, free_port

CLUSTER_UP = os.path.join(REPO, "tools", "cluster-up")


def mqhub_bin():
    return os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))


def wait_until(condition, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class Cluster:
    """`count` nodes n1..nN started by tools/cluster-up, each on its own free ports and data dir, with `args`."""

    def __init__(self, count, args=()):
        self.count = count
        self.args = list(args)
        self.dir = tempfile.mkdtemp(prefix="mqhub-cluster-")
        self.mqtt_ports = [free_port() for _ in range(count)]
        self.cluster_ports = [free_port() for _ in range(count)]
        self.pids = {}
        self.restarted = []
        cmd = [CLUSTER_UP, str(count), "--dir", self.dir,
               "--mqtt-ports", ",".join(map(str, self.mqtt_ports)),
               "--cluster-ports", ",".join(map(str, self.cluster_ports)), "--", "--log-level", "info", *args]
        # A session of its own, so that stop() can kill every node it started if it does not stop them itself.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, MQHUB_BIN=mqhub_bin()), start_new_session=True)
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

    def terminate(self, i):
        """SIGTERM: node i stops gracefully."""
        os.kill(self.pids[f"n{i}"], signal.SIGTERM)

    def restart(self, i):
        """Starts node i again as cluster-up did, its output appended to its log."""
        args = [mqhub_bin(), "--node-name", f"n{i}", "--data-dir", os.path.join(self.dir, f"n{i}"), "--bind", HOST,
                "--mqtt-port", str(self.mqtt_ports[i - 1]), "--mqtts-port", "0", "--ws-port", "0", "--wss-port",
                "0", "--http-port", "0", "--cluster-port", str(self.cluster_ports[i - 1]), "--log-level", "info"]
        if i > 1:
            args += ["--join", self.cluster_address(1)]
        args += self.args
        log = open(os.path.join(self.dir, f"n{i}.log"), "a")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.restarted.append(proc)
        self.pids[f"n{i}"] = proc.pid
        return proc

    def stop(self):
        for proc in self.restarted:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def occurrences(self, i, text):
        return self.log(i).count(text)

    def node(self, i):
        """Node i as the MQTT helpers take a broker (mqtt_helpers.Client, mosquitto_pub, MosquittoSub)."""
        return NodeEndpoint(self.mqtt_ports[i - 1])


class NodeEndpoint:
    def __init__(self, port):
        self.host = HOST
        self.port = port
        self.ports = {"mqtt": port}
