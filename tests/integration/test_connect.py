"""CONNECT / CONNACK behaviour: sessions, client identifiers, keep alive, session takeover."""

import os
import resource
import time

import pytest
from paho.mqtt.packettypes import PacketTypes

import raw_mqtt
from mqtt_helpers import (V311, V5, mosquitto_deviates, mqhub_only, props, unique_id, wait_until,
                          will_at_session_end)
from mqtt_helpers import clients, raws  # noqa: F401,F811 (pytest fixtures)

VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


def connect_v5(clients, broker, client_id, clean, expiry=None, will=None):
    properties = props(PacketTypes.CONNECT, SessionExpiryInterval=expiry) if expiry is not None else None
    return clients(broker, client_id=client_id, protocol=V5, clean=clean, properties=properties, will=will)


# ------------------------------------------------------------------------------------------------ sessions 3.1.1


def test_clean_session_connect_has_session_present_0(broker, clients):
    # MQTT-3.2.2-1: CleanSession 1 -> Session Present 0 in the CONNACK.
    c = clients(broker, protocol=V311, clean=True)
    assert c.session_present is False, "expected Session Present 0 for a CleanSession=1 connection"


def test_persistent_session_is_new_then_present_on_reconnect(broker, clients):
    cid = unique_id()
    first = clients(broker, client_id=cid, protocol=V311, clean=False)
    # MQTT-3.2.2-3: no stored session for this id -> Session Present 0.
    assert first.session_present is False, "expected Session Present 0 when no session exists for the client id"
    first.subscribe("conn/persist", 1)
    first.disconnect()
    second = clients(broker, client_id=cid, protocol=V311, clean=False)
    # MQTT-3.2.2-2: CleanSession 0 and a stored session -> Session Present 1.
    assert second.session_present is True, "expected Session Present 1 when resuming a stored session"


def test_clean_session_discards_the_stored_session(broker, clients):
    cid = unique_id()
    clients(broker, client_id=cid, protocol=V311, clean=False).disconnect()
    clean = clients(broker, client_id=cid, protocol=V311, clean=True)
    # MQTT-3.1.2-6: CleanSession 1 discards any previous session; MQTT-3.2.2-1: Session Present 0.
    assert clean.session_present is False, "expected Session Present 0 for CleanSession=1 despite a stored session"
    clean.disconnect()
    again = clients(broker, client_id=cid, protocol=V311, clean=False)
    # MQTT-3.1.2-6: the clean session ended with its connection, so nothing remains to resume.
    assert again.session_present is False, \
        "expected Session Present 0: the clean session must not outlive its connection"


# ------------------------------------------------------------------------------------------------ sessions 5.0


def test_v5_clean_start_has_session_present_0_even_with_stored_session(broker, clients):
    cid = unique_id()
    connect_v5(clients, broker, cid, clean=False, expiry=60).disconnect()
    c = connect_v5(clients, broker, cid, clean=True, expiry=60)
    # MQTT-3.2.2-2 (5.0): Clean Start 1 -> Session Present 0.
    assert c.session_present is False, "expected Session Present 0 for Clean Start=1"


def test_v5_session_with_expiry_is_present_on_reconnect(broker, clients):
    cid = unique_id()
    first = connect_v5(clients, broker, cid, clean=False, expiry=60)
    assert first.session_present is False, "expected Session Present 0 when no session exists for the client id"
    first.disconnect()
    second = connect_v5(clients, broker, cid, clean=False, expiry=60)
    # MQTT-3.2.2-3 (5.0): Clean Start 0 and a stored session -> Session Present 1.
    assert second.session_present is True, \
        "expected Session Present 1: the session (expiry 60 s) must survive the disconnect"


def test_v5_session_expiry_0_ends_the_session_with_the_connection(broker, clients):
    cid = unique_id()
    connect_v5(clients, broker, cid, clean=False, expiry=None).disconnect()  # absent = 0
    second = connect_v5(clients, broker, cid, clean=False, expiry=60)
    # MQTT 5 3.1.2.11.2: Session Expiry Interval absent/0 -> the session ends when the connection closes.
    assert second.session_present is False, \
        "expected Session Present 0: a session with expiry 0 must end when its connection closes"


def test_v5_session_ends_when_its_expiry_interval_passes(broker, clients):
    cid, ended = unique_id(), f"conn/ended/{unique_id('t')}"
    watcher = clients(broker, protocol=V5)
    watcher.subscribe(ended, 1)
    connect_v5(clients, broker, cid, clean=False, expiry=1, will=will_at_session_end(ended)).disconnect_keeping_will()
    # The session's will goes out when the session ends (its delay is an hour): the sign that it expired.
    watcher.receive(timeout=10, what="the will of the session (expiry 1 s) as it ended")
    again = connect_v5(clients, broker, cid, clean=False, expiry=60)
    # MQTT 5 3.1.2.11.2: the server MUST discard the session when the Session Expiry Interval has passed.
    assert again.session_present is False, \
        "expected Session Present 0: the session (expiry 1 s) ended, as its will showed"


# ------------------------------------------------------------------------------------------------ client ids


def test_v311_empty_client_id_with_persistent_session_is_rejected(broker, raws):
    r = raws(broker, version=4)
    session_present, code, _ = r.connect("", clean=False)
    # MQTT-3.1.3-8: zero-byte ClientId with CleanSession 0 -> CONNACK 0x02 (identifier rejected), then close.
    assert code == 0x02, f"expected CONNACK return code 0x02 (identifier rejected), got 0x{code:02x}"
    # MQTT-3.2.2-4: a non-zero return code has Session Present 0.
    assert session_present is False, "expected Session Present 0 with a non-zero CONNACK return code"
    assert r.wait_closed(3.0) is not None, "expected the broker to close the connection after rejecting it"


def test_v311_empty_client_id_with_clean_session_is_accepted(broker, raws):
    r = raws(broker, version=4)
    _, code, _ = r.connect("", clean=True)
    # MQTT-3.1.3-6: the server MAY accept a zero-byte ClientId (CleanSession 1 is required, MQTT-3.1.3-7).
    assert code == 0x00, f"expected CONNACK 0x00 for an empty client id with CleanSession 1, got 0x{code:02x}"


def test_v5_empty_client_id_gets_an_assigned_client_identifier(broker, raws):
    r = raws(broker, version=5)
    _, code, connack_props = r.connect("", clean=True)
    assert code == 0x00, f"expected CONNACK success for an empty client id with Clean Start, got 0x{code:02x}"
    assigned = connack_props.get(raw_mqtt.ASSIGNED_CLIENT_IDENTIFIER)
    # MQTT-3.2.2-16: a zero-length ClientID -> CONNACK MUST carry the Assigned Client Identifier.
    assert assigned, f"expected a non-empty Assigned Client Identifier in the CONNACK, got properties {connack_props}"


def test_v5_assigned_client_identifiers_are_unique(broker, raws):
    ids = [raws(broker, version=5).connect("")[2].get(raw_mqtt.ASSIGNED_CLIENT_IDENTIFIER) for _ in range(2)]
    # MQTT-3.1.3-2: each client connecting to a server has a unique ClientID.
    assert ids[0] and ids[1] and ids[0] != ids[1], f"expected two distinct assigned client identifiers, got {ids}"


# ------------------------------------------------------------------------------------------------ keep alive


@mosquitto_deviates("it checks keep alives on a coarse timer and closes a silent client after ~5 s")
@pytest.mark.parametrize("version", VERSIONS)
def test_silent_client_is_disconnected_after_one_and_a_half_keepalives(broker, raws, version):
    r = raws(broker, version=version)
    _, code, _ = r.connect(unique_id(), keepalive=1)
    assert code == 0, f"expected CONNACK success, got 0x{code:02x}"
    start = time.monotonic()
    closed = r.wait_closed(6.0)
    elapsed = time.monotonic() - start
    # MQTT-3.1.2-24 (3.1.1) / MQTT-3.1.2-22 (5.0): no packet within 1.5 x Keep Alive -> the server disconnects.
    assert closed is not None, \
        "expected the broker to close a client silent for 1.5 x keepalive 1 s, still open after 6 s"
    # Up to 4 s: slack for a loaded machine (mosquitto's coarse timer takes about 5 s).
    assert 1.0 <= elapsed <= 4.0, f"expected the disconnect about 1.5 s after the last packet, took {elapsed:.2f} s"


def test_client_that_pings_stays_connected_past_the_keepalive(broker, raws):
    r = raws(broker, version=4)
    r.connect(unique_id(), keepalive=1)
    for _ in range(5):  # 2.5 s, well past 1.5 x keepalive
        time.sleep(0.5)
        r.sock.send(raw_mqtt.pingreq())
        # MQTT-3.12.4-1: the server MUST answer PINGREQ with PINGRESP.
        r.expect(raw_mqtt.PINGRESP, 2.0)


@mqhub_only("--max-keepalive sets the Server Keep Alive")
@pytest.mark.parametrize("asked", [60, 0])
def test_v5_keepalive_above_maximum_gets_server_keep_alive(start_broker, raws, asked):
    broker = start_broker(["--max-keepalive", "5"])
    r = raws(broker, version=5)
    _, code, connack_props = r.connect(unique_id(), keepalive=asked)
    assert code == 0, f"expected CONNACK success, got 0x{code:02x}"
    # MQTT-3.2.2-21/22 (5.0): the server's Keep Alive is sent as Server Keep Alive and the client must use it.
    assert connack_props.get(raw_mqtt.SERVER_KEEP_ALIVE) == 5, \
        f"expected Server Keep Alive 5 in the CONNACK for keepalive {asked} with --max-keepalive 5, " \
        f"got properties {connack_props}"


# ------------------------------------------------------------------------------------------------ takeover


@mosquitto_deviates("it closes the taken-over connection without a DISCONNECT packet")
def test_v5_takeover_sends_disconnect_0x8e_to_the_first_client(broker, raws):
    cid = unique_id()
    first = raws(broker, version=5)
    first.connect(cid)
    second = raws(broker, version=5)
    _, code, _ = second.connect(cid)
    assert code == 0, f"expected the second connection with the same id to be accepted, got 0x{code:02x}"
    packets = first.wait_closed(3.0)
    # MQTT-3.1.4-3 (5.0): the server sends DISCONNECT 0x8E (Session taken over) to the existing client and closes it.
    assert packets is not None, "expected the first connection to be closed after the takeover"
    disconnects = [raw_mqtt.parse_disconnect(body)[0] for ptype, _, body in packets if ptype == raw_mqtt.DISCONNECT]
    assert disconnects == [0x8E], f"expected one DISCONNECT with reason 0x8E before the close, got {disconnects}"


def test_v311_takeover_closes_the_first_client(broker, raws):
    cid = unique_id()
    first = raws(broker, version=4)
    first.connect(cid)
    second = raws(broker, version=4)
    _, code, _ = second.connect(cid)
    assert code == 0, f"expected the second connection with the same id to be accepted, got 0x{code:02x}"
    # MQTT-3.1.4-2 (3.1.1): the server MUST disconnect the existing client.
    assert first.wait_closed(3.0) is not None, "expected the first connection to be closed after the takeover"
    second.sock.send(raw_mqtt.pingreq())
    second.expect(raw_mqtt.PINGRESP, 2.0)  # the new connection is the one that lives


# ------------------------------------------------------------------------------------------------ resources


@mqhub_only("mosquitto refuses the client instead of leaving it in the backlog")
def test_clients_beyond_the_descriptor_limit_wait_and_get_in_once_descriptors_free_up(broker, raws):
    # The broker may open only three more descriptors: the clients beyond them stay in the listen backlog while
    # accept fails, and are taken once connections close, without the broker spinning on the error or dying.
    pid = broker.proc.pid
    # A sanitizer checks each type the first time it meets it, with a pipe; out of descriptors it would report
    # errors that are not there. One client in and out first shows it the connection's types.
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    warm = raws(broker, version=4)
    warm.connect(unique_id())
    warm.close()
    assert wait_until(lambda: len(os.listdir(f"/proc/{pid}/fd")) <= in_use, timeout=10), \
        "expected the broker to close the connection of a client that left"
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 3, in_use + 3))
    first = [raws(broker, version=4) for _ in range(3)]
    for r in first:
        r.connect(unique_id())
    waiting = [raw_mqtt.RawClient(broker.host, broker.port) for _ in range(2)]
    try:
        for r in waiting:
            r.send(raw_mqtt.connect(unique_id(), version=4))
        assert all(r.read_packet(0.5) is None for r in waiting), "expected no CONNACK while no descriptor is free"
        assert broker.wait_for_log("accept failed"), "expected the failed accept to be logged"
        failures = broker.log().count("accept failed")
        # Retried every 100 ms, not in a loop: about 10 in the second the two clients waited.
        assert 1 <= failures <= 30, f"expected the failed accept logged and retried calmly, got {failures} lines"
        for r in first:
            r.close()
        for r in waiting:
            ptype, _, body = r.read_packet(5.0)
            assert ptype == raw_mqtt.CONNACK and raw_mqtt.parse_connack(body, 4)[1] == 0, \
                "expected the waiting client to be accepted once descriptors were free"
    finally:
        for r in waiting:
            r.close()
