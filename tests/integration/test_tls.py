"""MQTT over TLS and mutual TLS (issue 4; DESIGN §6 authentication, §8 ports, §9 TLS material).

Contract: TLS 1.2 and 1.3 only; the server certificate is DATA_DIR/tls/server.pem signed by the hub CA (created on
first start) unless --tls-cert/--tls-key/--tls-ca say otherwise; client certificates are optional at the TLS layer
and checked at CONNECT: one that does not verify against the CA is refused with CONNACK "not authorized" (MQTT 5
0x87, 3.1.1 return code 5), none or a CA-signed one is accepted. SIGHUP reloads the certificate, key and CA, and so
does a change of their files (polled). Bad input on the TLS port (plaintext, garbage, TLS 1.1, a handshake that
never ends) closes that connection only.

Real clients (mosquitto_pub/mosquitto_sub, paho) prove that TLS works for others; Python's ssl module and
raw_mqtt over TLS give the exact reason codes and certificates. Client certificates with chosen dates are made
with the openssl CLI (tls_helpers). Under mosquitto (MQHUB_TEST_BROKER=mosquitto) the fixture gives it a TLS
listener with the same material; mosquitto 2.0.11 does not ask for client certificates when they are optional,
so the refusal tests are expected to fail there (strict xfail), which shows they can fail.
"""

import datetime
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt
import pytest

import raw_mqtt
import tls_helpers
from conftest import HOST
from mqtt_helpers import V311, V5, MosquittoSub, mosquitto_deviates, mosquitto_pub, mqhub_only, unique_id, wait_until
from mqtt_helpers import clients  # noqa: F401,F811 (pytest fixtures)
from tls_helpers import UNDER_MOSQUITTO, TlsRawClient, client_context, closed_within, issue_cert

from tls_helpers import MQHUB
VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]
CLI_VERSIONS = ["mqttv311", "mqttv5"]
NOT_AUTHORIZED = {5: 0x87, 4: 5}  # MQTT 5 reason code 0x87; MQTT 3.1.1 CONNACK return code 5
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(networks=("mqtts",))


def hub_signed(broker, directory, cn, **kwargs):
    """A certificate signed by the hub CA with the openssl CLI (any dates)."""
    return tls_helpers.sign(broker.ca_path, os.path.join(broker.tls_dir, "ca.key"), str(directory), cn, **kwargs)


def tls_connack(broker, version, cert=None, key=None, client_id=None):
    """CONNECT over TLS (trusting the hub CA, presenting cert/key if given); returns (reason code, client)."""
    client = TlsRawClient(broker.ports["mqtts"], client_context(broker.ca_path, cert, key))
    _, code, _ = client.connect(version=version, client_id=client_id or unique_id("tls"))
    return code, client


def assert_serves_tls(broker, what="afterwards"):
    """A good TLS client (hub CA, no certificate) still connects, subscribes and gets its own message back."""
    code, client = tls_connack(broker, 5)
    try:
        assert code == 0, f"expected a good TLS client to be accepted {what}, got CONNACK 0x{code:02x}"
        topic = f"tls/alive/{unique_id('t')}"
        client.send(raw_mqtt.subscribe(1, [(topic, 0)]))
        client.expect(raw_mqtt.SUBACK)
        client.send(raw_mqtt.publish(topic, b"alive"))
        flags, body = client.expect(raw_mqtt.PUBLISH)
        assert raw_mqtt.parse_publish(flags, body).payload == b"alive", \
            f"expected a good TLS client's own message back {what}"
    finally:
        client.close()


# ------------------------------------------------------------------------------------------------- TLS material


@mqhub_only("the hub CA and certificates the node creates")
def test_first_start_creates_the_hub_ca_and_a_server_certificate(start_broker):
    broker = start_broker(["--tls-host", "mqhub.example", "--tls-host", "broker.internal"], networks=("mqtts",))
    for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
        # DESIGN §9: TLS material lives in DATA_DIR/tls and is created on first start.
        assert os.path.exists(os.path.join(broker.tls_dir, name)), f"expected DATA_DIR/tls/{name} after the start"
    server = os.path.join(broker.tls_dir, "server.pem")
    verify = subprocess.run(["openssl", "verify", "-CAfile", broker.ca_path, server], capture_output=True, text=True)
    assert verify.returncode == 0, f"expected server.pem to verify against ca.pem: {verify.stdout}{verify.stderr}"
    sans = tls_helpers.subject_alt_names(server)
    for expected in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "DNS:mqhub.example",
                     "DNS:broker.internal"):
        # Issue 4 contract: SANs localhost, 127.0.0.1, ::1 and each --tls-host.
        assert expected in sans, f"expected {expected} among the server certificate's SANs, got {sans}"
    # Issue 4 contract: the node tells where the hub CA is, once, on stdout.
    assert broker.log().count(f"hub CA {broker.ca_path}") == 1, \
        f"expected one line 'hub CA {broker.ca_path}' in the output:\n{broker.log()}"
    served = tls_helpers.peer_fingerprint(broker.ports["mqtts"], broker.ca_path)
    assert served == tls_helpers.fingerprint(tls_helpers.der(server)), \
        "expected the TLS port to serve DATA_DIR/tls/server.pem"


@mqhub_only("the hub CA the node creates")
def test_the_hub_ca_is_kept_across_restarts(start_broker):
    broker = start_broker(networks=("mqtts",))
    ca_before = tls_helpers.fingerprint(tls_helpers.der(broker.ca_path))
    served_before = tls_helpers.peer_fingerprint(broker.ports["mqtts"], broker.ca_path)
    broker.restart()
    # A CA that changed at each start would invalidate every device certificate it signed.
    assert tls_helpers.fingerprint(tls_helpers.der(broker.ca_path)) == ca_before, "expected the same hub CA"
    assert tls_helpers.peer_fingerprint(broker.ports["mqtts"], broker.ca_path) == served_before, \
        "expected the same server certificate after a restart"


@mqhub_only("mqhub issue-cert")
def test_issue_cert_writes_a_client_certificate_signed_by_the_hub_ca(start_broker, tmp_path):
    data_dir = str(tmp_path / "data")
    out = tmp_path / "certs"
    out.mkdir()
    result = subprocess.run([MQHUB, "issue-cert", "--data-dir", data_dir, "--cn", "sensor-42", "--out", str(out)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"expected issue-cert on a fresh data dir to exit 0: {result.stderr}"
    pem, key = out / "sensor-42.pem", out / "sensor-42.key"
    ca = os.path.join(data_dir, "tls", "ca.pem")
    # DESIGN §9: issue-cert writes NAME.pem and NAME.key signed by the hub CA; it creates the CA if missing.
    assert pem.exists() and key.exists(), f"expected sensor-42.pem and sensor-42.key in {out}"
    assert os.path.exists(ca), "expected issue-cert to create the hub CA in DATA_DIR/tls/ca.pem"
    verify = subprocess.run(["openssl", "verify", "-CAfile", ca, str(pem)], capture_output=True, text=True)
    assert verify.returncode == 0, f"expected the certificate to verify against the hub CA: {verify.stderr}"
    assert tls_helpers.subject_cn(str(pem)) == "sensor-42", "expected CN sensor-42"
    # The node started on that data dir uses that CA: the certificate is accepted at CONNECT.
    broker = start_broker(data_dir=data_dir, networks=("mqtts",))
    for version in (4, 5):
        code, client = tls_connack(broker, version, str(pem), str(key))
        client.close()
        assert code == 0, f"expected the issued certificate to be accepted (MQTT {version}), got 0x{code:02x}"


@mqhub_only("--tls-cert, --tls-key and --tls-ca")
def test_configured_certificate_and_ca_replace_the_hub_ca(start_broker, tmp_path):
    ca_pem, ca_key = tls_helpers.make_ca(str(tmp_path / "own"), cn="own CA")
    server_pem, server_key = tls_helpers.sign(ca_pem, ca_key, str(tmp_path / "own"), "own server", name="server",
                                              server=True)
    broker = start_broker(["--tls-cert", server_pem, "--tls-key", server_key, "--tls-ca", ca_pem],
                          networks=("mqtts",))
    # The configured certificate is served, and clients trusting the configured CA connect.
    assert tls_helpers.peer_fingerprint(broker.ports["mqtts"], ca_pem) == \
        tls_helpers.fingerprint(tls_helpers.der(server_pem)), "expected --tls-cert to be the served certificate"
    own_client = tls_helpers.sign(ca_pem, ca_key, str(tmp_path / "own"), "own-device")
    client = TlsRawClient(broker.ports["mqtts"], client_context(ca_pem, *own_client))
    _, code, _ = client.connect(version=5, client_id=unique_id("own"))
    client.close()
    assert code == 0, f"expected a client certificate from --tls-ca to be accepted, got 0x{code:02x}"
    # Client certificates are verified against --tls-ca, not against some other CA.
    other_ca = tls_helpers.make_ca(str(tmp_path / "other"), cn="other CA")
    other_client = tls_helpers.sign(*other_ca, str(tmp_path / "other"), "other-device")
    client = TlsRawClient(broker.ports["mqtts"], client_context(ca_pem, *other_client))
    _, code, _ = client.connect(version=5, client_id=unique_id("other"))
    client.close()
    assert code == 0x87, f"expected CONNACK 0x87 for a certificate not from --tls-ca, got 0x{code:02x}"
    # Issue 4 contract: the "hub CA" line is printed only when a TLS listener uses the hub CA.
    assert "hub CA" not in broker.log(), f"expected no 'hub CA' line with --tls-ca given:\n{broker.log()}"


# ------------------------------------------------------------------------------------------------- good clients


@pytest.mark.parametrize("version", CLI_VERSIONS)
def test_mosquitto_clients_over_tls(tls_broker, version):
    topic = f"tls/cli/{unique_id('t')}"
    tls = ["--cafile", tls_broker.ca_path]
    sub = MosquittoSub(tls_broker, topic, version=version, qos=1, count=1, port=tls_broker.ports["mqtts"],
                       extra=tls).start()
    try:
        mosquitto_pub(tls_broker, topic, "over tls", version=version, qos=1, port=tls_broker.ports["mqtts"],
                      extra=tls)
        # mosquitto_pub/sub verify the server certificate against --cafile, including 127.0.0.1 as its name.
        assert sub.read(1) == ["over tls"], f"expected mosquitto_sub over TLS to print the message ({sub.debug})"
    finally:
        sub.stop()


@pytest.mark.parametrize("version", CLI_VERSIONS)
def test_mosquitto_clients_over_mutual_tls(tls_broker, tmp_path, version):
    topic = f"tls/mtls/{unique_id('t')}"
    sub_cert = issue_cert(tls_broker, "sub-device", tmp_path)
    pub_cert = issue_cert(tls_broker, "pub-device", tmp_path)
    port = tls_broker.ports["mqtts"]
    sub = MosquittoSub(tls_broker, topic, version=version, qos=1, count=1, port=port,
                       extra=["--cafile", tls_broker.ca_path, "--cert", sub_cert[0], "--key", sub_cert[1]]).start()
    try:
        mosquitto_pub(tls_broker, topic, "over mtls", version=version, qos=1, port=port,
                      extra=["--cafile", tls_broker.ca_path, "--cert", pub_cert[0], "--key", pub_cert[1]])
        # Issue 4: a certificate from `mqhub issue-cert` (signed by the hub CA) is accepted at CONNECT.
        assert sub.read(1) == ["over mtls"], f"expected mosquitto_sub over mTLS to print the message ({sub.debug})"
    finally:
        sub.stop()


@pytest.mark.parametrize("with_cert", [False, True], ids=["tls", "mtls"])
@pytest.mark.parametrize("protocol", VERSIONS)
def test_paho_over_tls(tls_broker, clients, tmp_path, protocol, with_cert):
    cert = issue_cert(tls_broker, "paho-device", tmp_path) if with_cert else (None, None)
    topic = f"tls/paho/{unique_id('t')}"
    sub = clients(tls_broker, protocol=protocol, network="mqtts", certfile=cert[0], keyfile=cert[1])
    sub.subscribe(topic, 2)
    pub = clients(tls_broker, protocol=protocol, network="mqtts", certfile=cert[0], keyfile=cert[1])
    for qos in (0, 1, 2):
        pub.publish(topic, f"qos {qos}".encode(), qos=qos)
    got = [m.payload for m in sub.receive_n(3, what="QoS 0, 1 and 2 messages over TLS")]
    assert got == [b"qos 0", b"qos 1", b"qos 2"], f"expected the three messages in order over TLS, got {got}"


@pytest.mark.parametrize("version", [pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
                                     pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3")])
def test_tls_1_2_and_1_3_are_served(tls_broker, version):
    ctx = client_context(tls_broker.ca_path, minimum=version, maximum=version)
    client = TlsRawClient(tls_broker.ports["mqtts"], ctx)
    try:
        expected = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        # Issue 4 contract: TLS 1.2 and 1.3.
        assert client.sock.version() == expected, f"expected {expected}, negotiated {client.sock.version()}"
        _, code, _ = client.connect(version=5, client_id=unique_id("v"))
        assert code == 0, f"expected CONNACK success over {expected}, got 0x{code:02x}"
    finally:
        client.close()


# ------------------------------------------------------------------------------------------------- refusals


def test_client_trusting_another_ca_fails_the_handshake(tls_broker, tmp_path):
    other_ca, _ = tls_helpers.make_ca(str(tmp_path), cn="some other CA")
    # The server's certificate is the hub's; a client that trusts only another CA must refuse it.
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsRawClient(tls_broker.ports["mqtts"], client_context(other_ca))
    result = mosquitto_pub(tls_broker, "tls/wrong-ca", "x", port=tls_broker.ports["mqtts"],
                           extra=["--cafile", other_ca], check=False)
    assert result.returncode != 0, "expected mosquitto_pub trusting another CA to fail"
    assert_serves_tls(tls_broker)


def refused_certificate(broker, tmp_path, kind):
    """A client certificate that must not verify against the hub CA."""
    if kind == "other-ca":
        other_ca = tls_helpers.make_ca(str(tmp_path / "other"), cn="some other CA")
        return tls_helpers.sign(*other_ca, str(tmp_path / "other"), "dev-other")
    if kind == "expired":
        return hub_signed(broker, tmp_path, "dev-expired", not_before=NOW - 3 * DAY, not_after=NOW - DAY)
    if kind == "not-yet-valid":
        return hub_signed(broker, tmp_path, "dev-future", not_before=NOW + DAY, not_after=NOW + 3 * DAY)
    return tls_helpers.self_signed(str(tmp_path), "dev-self")


REFUSED = ["other-ca", "expired", "not-yet-valid", "self-signed"]


@mosquitto_deviates("does not ask for a client certificate when it is optional, so it accepts the connection")
@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("version", [pytest.param(4, id="v311"), pytest.param(5, id="v5")])
def test_client_certificate_that_does_not_verify_is_refused_at_connect(tls_broker, tmp_path, kind, version):
    cert, key = refused_certificate(tls_broker, tmp_path, kind)
    code, client = tls_connack(tls_broker, version, cert, key)
    # Issue 4 contract / DESIGN §6: any certificate passes the handshake, and one that does not verify against
    # the CA is refused at CONNECT with "not authorized" (MQTT 5 0x87, 3.1.1 return code 5).
    assert code == NOT_AUTHORIZED[version], \
        f"expected CONNACK {NOT_AUTHORIZED[version]:#04x} for a {kind} client certificate (MQTT {version}), " \
        f"got {code:#04x}"
    # MQTT-3.2.2-5 / MQTT 5 3.2.2.2: after a refusing CONNACK the server closes the connection.
    assert client.wait_closed(5.0) is not None, "expected the connection to be closed after the refusal"
    client.close()
    assert_serves_tls(tls_broker)


@mosquitto_deviates("does not ask for a client certificate when it is optional, so it accepts the connection")
def test_mosquitto_pub_with_a_certificate_from_another_ca_is_not_authorised(tls_broker, tmp_path):
    cert, key = refused_certificate(tls_broker, tmp_path, "other-ca")
    result = mosquitto_pub(tls_broker, "tls/other-ca", "x", version="mqttv5", port=tls_broker.ports["mqtts"],
                           extra=["--cafile", tls_broker.ca_path, "--cert", cert, "--key", key], check=False)
    # A real client sees the refusal as "not authorised" (its wording of CONNACK 0x87).
    assert result.returncode != 0, "expected mosquitto_pub with another CA's certificate to fail"
    assert "not authori" in (result.stdout + result.stderr).lower(), \
        f"expected mosquitto_pub to report 'not authorised', got: {result.stdout}{result.stderr}"
    assert_serves_tls(tls_broker)


def test_a_hub_signed_certificate_within_its_dates_is_accepted(tls_broker, tmp_path):
    # The counterpart of the refusals: the same openssl recipe with valid dates passes, so those tests fail for
    # the dates, not for the recipe.
    cert, key = hub_signed(tls_broker, tmp_path, "dev-valid", not_before=NOW - DAY, not_after=NOW + DAY)
    for version in (4, 5):
        code, client = tls_connack(tls_broker, version, cert, key)
        client.close()
        assert code == 0, f"expected a valid hub-signed certificate to be accepted (MQTT {version}), got {code:#04x}"


def test_plaintext_mqtt_on_the_tls_port_is_closed(tls_broker):
    with socket.create_connection((HOST, tls_broker.ports["mqtts"]), timeout=5) as sock:
        sock.sendall(raw_mqtt.connect(client_id=unique_id("plain"), version=5))
        closed, data = closed_within(sock, 5.0)
    # A CONNECT is not a TLS ClientHello: the server must close (at most after a TLS alert), never answer MQTT.
    assert closed, f"expected plaintext MQTT on the TLS port to be closed within 5 s; got {data[:40]!r}"
    assert not data.startswith(b"\x20"), f"expected no CONNACK over plaintext on the TLS port, got {data[:40]!r}"
    assert_serves_tls(tls_broker)


def test_garbage_handshake_is_closed(tls_broker):
    with socket.create_connection((HOST, tls_broker.ports["mqtts"]), timeout=5) as sock:
        # A TLS record header announcing a handshake, then bytes that are no ClientHello.
        sock.sendall(b"\x16\x03\x01\x00\x40" + bytes(range(64)))
        closed, data = closed_within(sock, 5.0)
    assert closed, f"expected a garbage handshake to be closed within 5 s; got {data[:40]!r}"
    assert_serves_tls(tls_broker)


def test_tls_1_1_is_refused(tls_broker):
    # The client checks nothing (verify=False), so only the server can make this handshake fail.
    ctx = client_context(verify=False, minimum=ssl.TLSVersion.TLSv1_1, maximum=ssl.TLSVersion.TLSv1_1)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 disables TLS 1.1 at level 1; the client must offer it
    try:
        client = TlsRawClient(tls_broker.ports["mqtts"], ctx)
    except ssl.SSLError as e:
        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
            pytest.skip(f"this system's OpenSSL cannot offer TLS 1.1 ({e})")
        # Issue 4 contract: TLS 1.2 and 1.3 only; the server refuses the handshake (an alert such as
        # protocol_version; mosquitto sends internal_error).
    except (ConnectionResetError, BrokenPipeError):
        pass  # refused by closing the connection: also a refusal
    else:
        version = client.sock.version()
        client.close()
        pytest.fail(f"expected a TLS 1.1 handshake to be refused, negotiated {version}")
    assert_serves_tls(tls_broker)


@mqhub_only("--tls-handshake-timeout")
@pytest.mark.parametrize("network", ["mqtts", "wss"])
@pytest.mark.parametrize("partial", [False, True], ids=["silent", "partial-hello"])
def test_client_that_never_finishes_the_handshake_is_dropped(start_broker, partial, network):
    broker = start_broker(["--tls-handshake-timeout", "1"], networks=("mqtts", network))
    start = time.monotonic()
    with socket.create_connection((HOST, broker.ports[network]), timeout=5) as sock:
        if partial:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
        closed, _ = closed_within(sock, 10.0)
    elapsed = time.monotonic() - start
    # Issue 4 contract: a client that does not finish the TLS handshake is dropped after the handshake timeout
    # (1 s here), not earlier, and not never.
    assert closed, "expected the node to close a connection whose handshake did not finish within 1 s (waited 10 s)"
    assert elapsed >= 0.9, f"expected the connection to be kept for the 1 s timeout, closed after {elapsed:.2f} s"
    assert_serves_tls(broker)


def test_a_connection_waiting_in_the_handshake_does_not_block_others(start_broker):
    # Ten silent connections sit in the handshake; a good client must still be served at once, not after their
    # handshake timeout (60 s here, far beyond the 10 s a loaded machine may take to serve the good client).
    broker = start_broker(["--tls-handshake-timeout", "60"], networks=("mqtts",))
    silent = [socket.create_connection((HOST, broker.ports["mqtts"]), timeout=5) for _ in range(10)]
    try:
        started = time.monotonic()
        assert_serves_tls(broker, "while ten connections wait in their TLS handshake")
        assert time.monotonic() - started < 10.0, "expected a good client to be served within 10 s"
    finally:
        for s in silent:
            s.close()


# ------------------------------------------------------------------------------------------------- reload
#
# The node reloads its TLS files on SIGHUP, and also when its poll (every 2 s) sees a file's modification time or
# size change; both paths log "<why>: TLS certificates reloaded" at info level (why: "SIGHUP" or "certificate
# files changed"), so these tests run it with --log-level info and wait for the line of the path they test. The
# files are padded with newlines to fixed sizes (PEM readers skip what follows the last block), so that a
# replacement can keep both stamps the poll compares: then only SIGHUP can make the node take the new files.

SIGHUP_RELOADED = "SIGHUP: TLS certificates reloaded"
POLL_RELOADED = "certificate files changed: TLS certificates reloaded"
PADDED_SIZE = {"server.pem": 4096, "server.key": 1024, "ca.pem": 8192}


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_padded(path, content, size, mtime_ns=None):
    """Writes `content` padded with newlines to exactly `size` bytes, with modification time `mtime_ns` if given,
    and moves it over `path` in one rename (the stamps never show a half-done replacement)."""
    assert len(content) <= size, f"{path}: {len(content)} bytes do not fit the padded size {size}"
    new = f"{path}.new"
    with open(new, "wb") as f:
        f.write(content + b"\n" * (size - len(content)))
    if mtime_ns is not None:
        os.utime(new, ns=(mtime_ns, mtime_ns))
    os.replace(new, str(path))


@pytest.fixture
def reload_broker(start_broker, tmp_path):
    """A broker on the mqtts network logging at info level, serving a server certificate made here in DATA_DIR/tls
    (where the node's own would be; an existing pair is kept), its files padded to PADDED_SIZE."""
    data_dir = tempfile.mkdtemp(prefix="mqhub-test-")
    tls_dir = os.path.join(data_dir, "tls")
    ca_pem, ca_key = tls_helpers.make_ca(tls_dir, cn="test hub CA")
    pem, key = tls_helpers.sign(ca_pem, ca_key, str(tmp_path / "first"), "first-server", server=True)
    for name, source in (("server.pem", pem), ("server.key", key)):
        write_padded(os.path.join(tls_dir, name), read_bytes(source), PADDED_SIZE[name])
    return start_broker(["--log-level", "info"], data_dir=data_dir, networks=("mqtts",))


def replace_server_certificate(broker, directory, cn, keep_stamps=False):
    """A new server certificate and key (new key, new serial, CN `cn`) signed by the hub CA, moved over
    DATA_DIR/tls/server.pem and server.key, padded to PADDED_SIZE; with keep_stamps each file keeps its
    modification time too, so the node's poll cannot see the change. Returns the new certificate's fingerprint."""
    pem, key = hub_signed(broker, directory, cn, name=cn, server=True)
    for name, source in (("server.key", key), ("server.pem", pem)):
        target = os.path.join(broker.tls_dir, name)
        mtime_ns = os.stat(target).st_mtime_ns if keep_stamps else None
        write_padded(target, read_bytes(source), PADDED_SIZE[name], mtime_ns)
    return tls_helpers.fingerprint(tls_helpers.der(pem))


def served_fingerprint(broker):
    return tls_helpers.peer_fingerprint(broker.ports["mqtts"], broker.ca_path)


def test_sighup_reloads_the_server_certificate_and_keeps_existing_connections(reload_broker, clients, tmp_path):
    broker = reload_broker
    old = served_fingerprint(broker)
    topic = f"tls/reload/{unique_id('t')}"
    existing = clients(broker, network="mqtts")
    existing.subscribe(topic, 1)
    # Same sizes and modification times: the poll sees nothing, so a new certificate served afterwards can only
    # come from the SIGHUP.
    new = replace_server_certificate(broker, tmp_path, "reloaded-server", keep_stamps=True)
    assert new != old
    broker.proc.send_signal(signal.SIGHUP)
    # Issue 4 contract / DESIGN §9: SIGHUP reloads the certificate; new connections see the new one.
    if UNDER_MOSQUITTO:  # it logs no such line: wait for the certificate itself
        seen = []
        assert wait_until(lambda: seen.append(served_fingerprint(broker)) or seen[-1] == new, timeout=10.0,
                          interval=0.1), "expected new connections to be served the new certificate after SIGHUP"
    else:
        assert broker.wait_for_log(SIGHUP_RELOADED, timeout=10.0), \
            f"expected the line '{SIGHUP_RELOADED}' within 10 s of SIGHUP:\n{broker.log()}"
        assert served_fingerprint(broker) == new, "expected new connections to be served the new certificate " \
                                                  "once the node logged the SIGHUP reload"
    # ... and an existing connection keeps working: it publishes and receives over its old TLS session.
    existing.publish(topic, b"after reload", qos=1)
    m = existing.receive(what="its own message after the reload")
    assert m.payload == b"after reload", f"expected b'after reload', got {m.payload!r}"
    assert broker.alive(), "expected the node to keep running after SIGHUP"
    assert_serves_tls(broker, "after the reload")


@mqhub_only("mosquitto reloads certificates on SIGHUP only")
def test_changed_certificate_files_are_picked_up_without_a_signal(reload_broker, tmp_path):
    broker = reload_broker
    new = replace_server_certificate(broker, tmp_path, "renewed-server")
    # Issue 4 contract: the certificate files are also polled for changes (e.g. renewed by an ACME client). The
    # interval is not part of the contract (2 s today); 10 s allows for a loaded machine.
    assert broker.wait_for_log(POLL_RELOADED, timeout=10.0), \
        f"expected the line '{POLL_RELOADED}' within 10 s of the files changing, without a signal:\n{broker.log()}"
    assert served_fingerprint(broker) == new, "expected new connections to be served the renewed certificate"
    assert "SIGHUP" not in broker.log(), f"expected no SIGHUP reload (none was sent):\n{broker.log()}"
    assert_serves_tls(broker, "after the renewal")


@mqhub_only("what the node does with a broken certificate on SIGHUP")
def test_sighup_with_a_mismatched_key_keeps_the_old_certificate(reload_broker, tmp_path):
    broker = reload_broker
    old = served_fingerprint(broker)
    _, other_key = hub_signed(broker, tmp_path, "unrelated")
    write_padded(os.path.join(broker.tls_dir, "server.key"), read_bytes(other_key), PADDED_SIZE["server.key"])
    broker.proc.send_signal(signal.SIGHUP)
    # A reload that cannot load a consistent certificate and key must say so and keep serving the old pair.
    failed = "SIGHUP: TLS certificates not reloaded, the old ones stay in use"
    assert broker.wait_for_log(failed, timeout=10.0), \
        f"expected the line '{failed}' within 10 s of SIGHUP:\n{broker.log()}"
    assert broker.alive(), "expected the node to survive a SIGHUP with a mismatched key"
    assert served_fingerprint(broker) == old, "expected the old certificate served"
    assert_serves_tls(broker, "after a failed reload")


@mqhub_only("--tls-cert, --tls-key and --tls-ca")
@pytest.mark.parametrize("trigger", ["sighup", "files-changed"])
def test_a_replaced_client_ca_file_takes_effect_on_reload(start_broker, tmp_path, trigger):
    own_pem, own_key = tls_helpers.make_ca(str(tmp_path / "own"), cn="own CA")
    server_pem, server_key = tls_helpers.sign(own_pem, own_key, str(tmp_path / "own"), "own server",
                                              name="server", server=True)
    ca_file = str(tmp_path / "client-ca.pem")
    write_padded(ca_file, read_bytes(own_pem), PADDED_SIZE["ca.pem"])
    broker = start_broker(["--log-level", "info", "--tls-cert", server_pem, "--tls-key", server_key,
                           "--tls-ca", ca_file], networks=("mqtts",))
    new_ca = tls_helpers.make_ca(str(tmp_path / "new"), cn="new CA")
    new_device = tls_helpers.sign(*new_ca, str(tmp_path / "new"), "new-device")
    own_device = tls_helpers.sign(own_pem, own_key, str(tmp_path / "own"), "own-device")

    def connack_with(device):
        client = TlsRawClient(broker.ports["mqtts"], client_context(own_pem, *device))
        try:
            return client.connect(version=5, client_id=unique_id("ca"))[1]
        finally:
            client.close()

    code = connack_with(new_device)
    assert code == 0x87, f"expected CONNACK 0x87 for a certificate of a CA not yet in --tls-ca, got 0x{code:02x}"
    both = read_bytes(own_pem) + read_bytes(new_ca[0])
    if trigger == "sighup":
        # The modification time kept (and the size, by the padding): only the SIGHUP can load the new file.
        write_padded(ca_file, both, PADDED_SIZE["ca.pem"], os.stat(ca_file).st_mtime_ns)
        broker.proc.send_signal(signal.SIGHUP)
        line = SIGHUP_RELOADED
    else:
        write_padded(ca_file, both, PADDED_SIZE["ca.pem"])
        line = POLL_RELOADED
    assert broker.wait_for_log(line, timeout=10.0), f"expected the line '{line}' within 10 s:\n{broker.log()}"
    # DESIGN §6: client certificates are verified against --tls-ca; a reload replaces the CA as it does the
    # server certificate, for connections made after it.
    code = connack_with(new_device)
    assert code == 0, f"expected a certificate of the CA added to --tls-ca accepted after the reload, got 0x{code:02x}"
    code = connack_with(own_device)
    assert code == 0, f"expected a certificate of the CA still in --tls-ca accepted after the reload, got 0x{code:02x}"


def test_paho_refuses_a_wrong_ca(tls_broker, tmp_path):
    other_ca, _ = tls_helpers.make_ca(str(tmp_path), cn="some other CA")
    c = mqtt.Client(client_id=unique_id("paho"), protocol=V5)
    c.tls_set(ca_certs=other_ca)
    # paho verifies the server against the CA it is given: the hub's certificate does not match another CA.
    with pytest.raises(ssl.SSLError):
        c.connect(HOST, tls_broker.ports["mqtts"])
    assert_serves_tls(tls_broker)


@pytest.mark.parametrize("network", ["mqtts", "wss"])
@pytest.mark.parametrize("failure", ["client-refuses", "garbage"])
def test_a_failed_handshake_releases_its_connection_at_once(start_broker, tmp_path, network, failure):
    # A handshake timeout far beyond the 10 s allowed below: holding on to the connection until the timeout is
    # then told apart from releasing it at once, however loaded the machine.
    broker = start_broker(["--tls-handshake-timeout", "60"], networks=(network,))
    idle_sockets = broker.open_sockets()
    if failure == "client-refuses":
        other_ca, _ = tls_helpers.make_ca(str(tmp_path), cn="some other CA")
        with pytest.raises(ssl.SSLError):
            tls_helpers.tls_connect(broker.ports[network], client_context(other_ca))
    else:
        with socket.create_connection((HOST, broker.ports[network]), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x40" + bytes(64))
            assert closed_within(sock, 5.0)[0], "expected the garbage handshake to be closed"
    # The node closes its side of the connection (it holds no more sockets than before it came) ...
    assert wait_until(lambda: broker.open_sockets() <= idle_sockets, timeout=10.0), \
        f"expected the node to close the failed {network} connection within 10 s; it holds " \
        f"{broker.open_sockets()} sockets, {idle_sockets} before the connection"
    started = time.monotonic()
    code = broker.stop(signal.SIGTERM, timeout=30)
    elapsed = time.monotonic() - started
    # ... and nothing else of it (a handshake timer, a pending read) may be left until the handshake timeout, or a
    # flood of bad handshakes holds resources that long. Seen from outside: SIGTERM of the otherwise idle node
    # completes well before the 60 s timeout, as it does with no connection at all.
    assert code == 0, f"expected exit code 0 after SIGTERM, got {code}"
    assert elapsed < 10.0, f"expected an idle node to stop within 10 s after a failed {network} handshake " \
                           f"(handshake timeout 60 s), took {elapsed:.2f} s"
