"""Loopback ports for the brokers the tests and bench/compare start (no pytest here: the bench imports it)."""

import random
import socket

HOST = "127.0.0.1"

# Ports handed out by this process. A port is free until its broker binds it, so without this a broker's
# networks could draw the same one twice (seen: mqtts and wss on one port).
_handed_out = set()


def free_port():
    """A free port below the kernel's ephemeral range: one from inside it can be taken, between here and the
    broker's bind, by a client socket of a test running in parallel (seen as "bind: Address already in use")
    or of the bench's thousands of clients."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, ephemeral_low - 12000), ephemeral_low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")
