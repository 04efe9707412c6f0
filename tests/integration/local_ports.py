"""Loopback ports for the brokers the tests and bench/compare start (no pytest here: the bench imports it)."""

import fcntl
import os
import random
import socket
import tempfile

HOST = "127.0.0.1"

# Ports handed out by this process. A port is free until its broker binds it, so without this a broker's
# networks could draw the same one twice (seen: mqtts and wss on one port).
_handed_out = set()

# Ports held for other processes too (ctest runs test files in parallel): a broker that restarts on its port
# leaves it unbound meanwhile, and another process's free_port could hand it out (seen as "bind: Address already
# in use" at the restart). A lock on the port's file in this directory holds it until release_port() or the end
# of the process; the kernel drops the lock of a process that dies.
_LOCK_DIR = os.path.join(tempfile.gettempdir(), "mqhub-test-ports")
_locks = {}


def _hold(port):
    """Takes the port's lock; False if another process holds it."""
    try:
        os.makedirs(_LOCK_DIR, exist_ok=True)
        lock = open(os.path.join(_LOCK_DIR, str(port)), "a")
    except OSError:
        return True  # no shared directory (e.g. another user's): only the bind check below then
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return False
    _locks[port] = lock
    return True


def release_port(port):
    """Lets other processes have the port again (its broker is stopped for good)."""
    lock = _locks.pop(port, None)
    if lock is not None:
        lock.close()


def free_port():
    """A free port below the kernel's ephemeral range: one from inside it can be taken, between here and the
    broker's bind, by a client socket of a test running in parallel (seen as "bind: Address already in use")
    or of the bench's thousands of clients. Held for this process until release_port()."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, ephemeral_low - 12000), ephemeral_low)
        if port in _handed_out or not _hold(port):
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                release_port(port)
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")
