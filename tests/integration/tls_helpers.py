"""TLS material and TLS sockets for the network tests (issue 4).

Certificates are made with the `openssl` CLI, never with the code under test: a CA, certificates signed by any CA
(the hub CA included, from DATA_DIR/tls/ca.pem and ca.key) with chosen validity dates through `openssl ca` and a
minimal config (OpenSSL 3.0's `x509 -req` cannot set a start date), self-signed certificates. Keys are EC P-256
(fast to make). `TlsRawClient` is raw_mqtt.RawClient over TLS.
"""

import datetime
import hashlib
import os
import socket
import ssl
import subprocess
import tempfile
import time

import raw_mqtt

HOST = "127.0.0.1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MQHUB = os.environ.get("MQHUB_BIN", os.path.join(REPO, "build", "tools", "mqhub", "mqhub"))
UNDER_MOSQUITTO = os.environ.get("MQHUB_TEST_BROKER") == "mosquitto"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args, cwd=None, input=None):
    """Runs `openssl ARGS`; fails with its stderr if it fails. Returns stdout (bytes)."""
    result = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True, timeout=60)
    assert result.returncode == 0, f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
    return result.stdout


def make_ca(directory, cn="test CA", name="ca"):
    """A self-signed CA in DIRECTORY/NAME.pem and NAME.key; returns (pem, key)."""
    os.makedirs(directory, exist_ok=True)
    pem, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", pem, "-subj", f"/CN={cn}", "-days", "3650",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def self_signed(directory, cn, name=None):
    """A self-signed end-entity certificate (not a CA); returns (pem, key)."""
    name = name or cn
    os.makedirs(directory, exist_ok=True)
    pem, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", pem, "-subj", f"/CN={cn}", "-days", "30",
            "-addext", "basicConstraints=critical,CA:FALSE")
    return pem, key


def _asn1_time(when):
    return when.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def sign(ca_pem, ca_key, directory, cn, name=None, not_before=None, not_after=None, server=False,
         sans=("DNS:localhost", "IP:127.0.0.1", "IP:::1")):
    """A certificate for CN signed by the CA (ca_pem, ca_key), with a fresh key, valid from not_before to not_after
    (datetimes; default: from an hour ago for 30 days). server=True makes a TLS server certificate with `sans`,
    otherwise a client certificate. Returns (pem, key) in DIRECTORY/NAME.pem and NAME.key."""
    name = name or cn
    os.makedirs(directory, exist_ok=True)
    pem, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = not_before or now - datetime.timedelta(hours=1)
    not_after = not_after or now + datetime.timedelta(days=30)
    with tempfile.TemporaryDirectory(prefix="mqhub-ca-") as work:
        open(os.path.join(work, "index.txt"), "w").close()
        with open(os.path.join(work, "serial"), "w") as f:
            f.write(os.urandom(8).hex().upper() + "\n")
        usage = "serverAuth" if server else "clientAuth"
        san_line = f"subjectAltName = {','.join(sans)}\n" if server and sans else ""
        config = os.path.join(work, "ca.cnf")
        with open(config, "w") as f:
            f.write(f"""[ca]
default_ca = test_ca
[test_ca]
dir = {work}
database = {work}/index.txt
new_certs_dir = {work}
serial = {work}/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = {usage}
{san_line}""")
        csr = os.path.join(work, "req.csr")
        openssl("req", "-new", *EC_KEY, "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
        openssl("ca", "-batch", "-config", config, "-cert", ca_pem, "-keyfile", ca_key, "-in", csr, "-out", pem,
                "-notext", "-extensions", "ext", "-startdate", _asn1_time(not_before),
                "-enddate", _asn1_time(not_after))
    return pem, key


def make_hub_material(tls_dir):
    """What the node creates on first start, for brokers that do not (mosquitto): ca.pem, ca.key, server.pem and
    server.key in TLS_DIR (kept if already there)."""
    ca_pem, ca_key = os.path.join(tls_dir, "ca.pem"), os.path.join(tls_dir, "ca.key")
    if not os.path.exists(ca_pem):
        make_ca(tls_dir, cn="test hub CA")
    if not os.path.exists(os.path.join(tls_dir, "server.pem")):
        sign(ca_pem, ca_key, tls_dir, "localhost", name="server", server=True)


def issue_cert(broker, cn, out_dir, data_dir=None):
    """A client certificate signed by the broker's hub CA: `mqhub issue-cert` (the command under test), or the
    openssl CLI with the fixture's CA under mosquitto. Returns (pem, key)."""
    if UNDER_MOSQUITTO:
        return sign(broker.ca_path, os.path.join(broker.tls_dir, "ca.key"), str(out_dir), cn)
    result = subprocess.run([MQHUB, "issue-cert", "--data-dir", data_dir or broker.data_dir, "--cn", cn,
                             "--out", str(out_dir)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"expected mqhub issue-cert to exit 0, got {result.returncode}: " \
                                   f"{result.stdout}{result.stderr}"
    return os.path.join(out_dir, f"{cn}.pem"), os.path.join(out_dir, f"{cn}.key")


def der(pem_path):
    """The DER bytes of the first certificate in a PEM file."""
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def fingerprint(der_bytes):
    return hashlib.sha256(der_bytes).hexdigest()


def subject_cn(pem_path):
    """The CN of a certificate, read by openssl."""
    out = openssl("x509", "-in", pem_path, "-noout", "-subject", "-nameopt", "multiline").decode()
    for line in out.splitlines():
        if line.strip().startswith("commonName"):
            return line.split("=", 1)[1].strip()
    return None


def subject_alt_names(pem_path):
    """The SAN entries as openssl prints them, e.g. ['DNS:localhost', 'IP Address:127.0.0.1']."""
    out = openssl("x509", "-in", pem_path, "-noout", "-ext", "subjectAltName").decode()
    lines = out.splitlines()[1:]  # the first line is the extension's name
    return [entry.strip() for line in lines for entry in line.split(",") if entry.strip()]


def client_context(ca=None, cert=None, key=None, minimum=None, maximum=None, verify=True):
    """A client SSLContext: trusts `ca` (a PEM file; with verify=False nothing is checked), presents cert/key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    return ctx


def tls_connect(port, context, timeout=5.0, server_hostname=HOST):
    """A TCP connection to HOST:port with a completed TLS handshake (raises ssl.SSLError if it fails)."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        return context.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def peer_fingerprint(port, ca):
    """SHA-256 of the DER certificate a new TLS connection to the port is served."""
    with tls_connect(port, client_context(ca)) as tls:
        return fingerprint(tls.getpeercert(binary_form=True))


class TlsRawClient(raw_mqtt.RawClient):
    """raw_mqtt.RawClient over TLS: CONNECT/CONNACK etc. with exact reason codes on a TLS connection."""

    def __init__(self, port, context, timeout=5.0, server_hostname=HOST):
        self.sock = tls_connect(port, context, timeout, server_hostname)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _fill(self, deadline):
        try:
            super()._fill(deadline)
        except ssl.SSLError as e:  # e.g. an alert the server sends as it refuses the connection
            raise raw_mqtt.Closed(f"TLS error: {e}") from None


def closed_within(sock, timeout):
    """Reads from a plain socket until the peer closes it (EOF or reset); returns (closed, bytes received)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, bytes(got)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, bytes(got)
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            return True, bytes(got)
        if not chunk:
            return True, bytes(got)
        got += chunk
