"""Damaged TLS records sent to a relay worker end that one tunnel cleanly: a
fatal alert to the client, the backend connection closed, an audit close
record that says why, and the relay worker alive with its other tunnels
flowing. The test's client controls the raw bytes after the 200 (ssl
MemoryBIOs over a plain socket)."""

import socket
import ssl
import time

import pytest

import harness as h
import handoff_fixtures as hf


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


def _sealed(c, data):
    """The record(s) the client's TLS layer makes of data, not yet sent."""
    c.obj.write(data)
    return bytearray(c.out.read())


def _victim_and_neighbour(gw, backend, version):
    """A tunnel to damage and another one held by the same relay worker."""
    victim, link = hf.tracked_tunnel(gw, backend, max_version=version)
    opened = []
    try:
        h.echo_round_trip(victim)
        relay = hf.wait_held_by_relay(gw, victim.local_port, backend_link=(link, backend.port))
        for _ in range(6):
            time.sleep(h.scaled(0.2))
            c = gw.tunnel(f"backend.test:{backend.port}")
            opened.append(c)
            if hf.wait_held_by_relay(gw, c.local_port) == relay:
                break
        else:
            raise AssertionError(f"no second tunnel landed in relay worker {relay}")
        for c in opened[:-1]:
            c.close()
        return victim, link, relay, opened[-1]
    except BaseException:
        victim.close()
        for c in opened:
            c.close()
        raise


def _assert_ended_cleanly(gw, backend, victim, link, relay, neighbour, alert):
    start = hf.start_time(relay)
    assert victim.recv(timeout=10) == b""
    assert alert in (victim.closed_how or "").lower(), victim.closed_how
    assert backend.wait_ended(link) in ("eof", "reset")
    # The shared gateway's log may hold an older tunnel from the same client
    # port (ports are reused), so look for this tunnel's kind of close.
    close = gw.wait_audit(event="close", client=victim.client_address,
                          closed_by="error")
    assert "record" in close["reason"], close
    assert hf.process_alive(relay, start), "the relay worker died"
    assert relay in gw.children("tg-relay")
    for _ in range(3):
        h.echo_round_trip(neighbour)
    with gw.tunnel(f"backend.test:{backend.port}") as fresh:
        h.echo_round_trip(fresh)
    return close


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_flipped_ciphertext_byte_ends_tunnel_with_bad_record_mac(gateway, tracking,
                                                                  version):
    victim, link, relay, neighbour = _victim_and_neighbour(gateway, tracking, version)
    with victim, neighbour:
        record = _sealed(victim, b"tampered on the wire " * 20)
        record[len(record) // 2] ^= 0x01
        victim.sock.sendall(record)
        close = _assert_ended_cleanly(gateway, tracking, victim, link, relay, neighbour,
                                      "bad record mac")
    assert "authentication" in close["reason"], close


def test_oversized_record_ends_tunnel_with_record_overflow(gateway, tracking):
    victim, link, relay, neighbour = _victim_and_neighbour(gateway, tracking,
                                                           ssl.TLSVersion.TLSv1_3)
    with victim, neighbour:
        # Only the header: the length alone is over 2^14 + 256.
        victim.sock.sendall(b"\x17\x03\x03" + (16384 + 257).to_bytes(2, "big"))
        _assert_ended_cleanly(gateway, tracking, victim, link, relay, neighbour,
                              "record overflow")


def test_record_of_unexpected_type_ends_tunnel_with_unexpected_message(gateway, tracking):
    victim, link, relay, neighbour = _victim_and_neighbour(gateway, tracking,
                                                           ssl.TLSVersion.TLSv1_3)
    with victim, neighbour:
        # A ChangeCipherSpec long after the handshake.
        victim.sock.sendall(b"\x14\x03\x03\x00\x01\x01")
        _assert_ended_cleanly(gateway, tracking, victim, link, relay, neighbour,
                              "unexpected message")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_truncated_record_then_tcp_close_ends_tunnel(gateway, tracking, version):
    victim, link, relay, neighbour = _victim_and_neighbour(gateway, tracking, version)
    start = hf.start_time(relay)
    with victim, neighbour:
        record = _sealed(victim, b"cut short " * 100)
        victim.sock.sendall(record[:len(record) // 2])
        victim.sock.shutdown(socket.SHUT_WR)
        victim.recv_until_closed(timeout=10)
        assert tracking.wait_ended(link) in ("eof", "reset")
        close = gateway.wait_audit(event="close", client=victim.client_address)
        # The half record never reaches the backend. Like libssl in a gate
        # worker (SSL_OP_IGNORE_UNEXPECTED_EOF), the relay counts the TCP
        # end as the client's close.
        assert close["closed_by"] in ("client", "error"), close
        assert close["bytes_up"] == 65536, close
        assert hf.process_alive(relay, start), "the relay worker died"
        for _ in range(3):
            h.echo_round_trip(neighbour)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_a_record_whose_header_came_alone_moves_whole(gateway, tracking, version):
    """The next record's header comes with the CONNECT, its body only after
    the 200: libssl holds that header where SSL_has_pending() does not
    look. The gate worker relays until the record is whole, then hands the
    tunnel over, and nothing is lost."""
    while not tracking.peers.empty():
        tracking.peers.get_nowait()
    with gateway.client(max_version=version) as c:
        request = _sealed(c, h.connect_request(f"backend.test:{tracking.port}"))
        data = b"its header came alone " * 10
        record = _sealed(c, data)
        c.sock.sendall(bytes(request + record[:5]))
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        link = tracking.next_peer()
        time.sleep(h.scaled(0.5))   # a handoff made now would lose the header
        c.sock.sendall(bytes(record[5:]))
        assert c.recv_exact(len(data)) == data
        hf.wait_held_by_relay(gateway, c.local_port, backend_link=(link, tracking.port))
        h.echo_round_trip(c)
