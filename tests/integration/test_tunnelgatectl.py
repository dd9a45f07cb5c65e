"""tunnelgatectl against a running tunnelgated: status lists every live
tunnel from the master's table, kill ends exactly the chosen ones (by id,
user, target or client network) with close_notify to the client, a FIN to
the backend and the audit reason admin_kill with the asking uid; the
control socket serves root only and answers malformed requests with a
refusal, never a crash."""

import errno
import json
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf
import tg_attacker as ta
from tg_env import daemon_path, scaled

NOBODY = 65534
ADMIN_VERSION, ADMIN_REQUEST, ADMIN_DONE = 1, 1, 3
ADMIN_ARG_SIZE = 265
ADMIN_REQUEST_SIZE = 8 + 4 + 4 + 8 + ADMIN_ARG_SIZE + 7   # padded to 8


def ctl(gw, *args, user=None, check=None):
    r = subprocess.run([str(daemon_path().parent / "tunnelgatectl"), args[0], "-s",
                        str(gw.control_path), *args[1:]], capture_output=True, text=True,
                       timeout=scaled(30), user=user)
    if check is not None:
        assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    return r


def status(gw):
    return json.loads(ctl(gw, "status", "--json", check=0).stdout)


def tunnel_id(gw, client):
    return gw.wait_audit(event="open", client=client.client_address)["tunnel"]


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


def _assert_killed(gw, backend, c, link, tid):
    assert c.recv(timeout=10) == b""
    assert c.closed_how == "close_notify", c.closed_how
    assert backend.wait_ended(link) == "eof"
    close = gw.wait_audit(event="close", tunnel=tid)
    assert (close["closed_by"], close["reason"]) == ("admin", "admin_kill by uid 0"), close
    return close


def test_status_lists_every_live_tunnel_with_its_facts(make_gateway, backends):
    gw = make_gateway("ctl-status")
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as a, gw.tunnel(target, user="bob") as b:
        for _ in range(3):
            h.echo_round_trip(a)
        relay = hf.wait_held_by_relay(gw, a.local_port)
        ids = {tunnel_id(gw, a): a, tunnel_id(gw, b): b}
        time.sleep(1.5)     # the workers report bytes every second
        rows = {r["tunnel"]: r for r in status(gw)}
        assert set(rows) == set(ids), rows
        ra = rows[tunnel_id(gw, a)]
        assert (ra["user"], ra["target"], ra["client"], ra["role"], ra["pid"]) == (
            "alice", target, a.client_address, "relay", relay), ra
        assert ra["rule"] == h.RULE_OPS and ra["resolved"].startswith("127.0.0.1:"), ra
        assert ra["tls_version"].startswith("TLSv1."), ra
        assert ra["bytes_up"] == ra["bytes_down"] > 0, ra
        assert rows[tunnel_id(gw, b)]["user"] == "bob"
        table = ctl(gw, "status", check=0).stdout
        assert all(t in table for t in ids), table
    h.wait_for(lambda: status(gw) == [], 10, "the closed tunnels to leave status")


def test_kill_by_id_ends_that_tunnel_and_keeps_the_others(make_gateway, tracking):
    gw = make_gateway("ctl-kill-id")
    victim, link = hf.tracked_tunnel(gw, tracking)
    other, _ = hf.tracked_tunnel(gw, tracking)
    with victim, other:
        h.echo_round_trip(victim)
        tid = tunnel_id(gw, victim)
        assert "1 tunnels closing" in ctl(gw, "kill", tid, check=0).stdout
        _assert_killed(gw, tracking, victim, link, tid)
        h.echo_round_trip(other)
        assert [r["tunnel"] for r in status(gw)] == [tunnel_id(gw, other)]
        # Nothing left to match: exit 1.
        assert "0 tunnels" in ctl(gw, "kill", tid, check=1).stdout


def test_kill_in_a_gate_worker(make_gateway, tracking):
    gw = make_gateway("ctl-kill-gate", relay=0)
    victim, link = hf.tracked_tunnel(gw, tracking)
    with victim:
        h.echo_round_trip(victim)
        tid = tunnel_id(gw, victim)
        ctl(gw, "kill", tid, check=0)
        close = _assert_killed(gw, tracking, victim, link, tid)
        assert close["role"] == "gate", close


def _fill_queue(gate, fd):
    """The relay worker's handoff queue full, as one that fell behind leaves
    it (with junk it will drop), through the gate worker's own end."""
    with pf.steal(gate, fd) as sock:
        for size in (32768, 1):
            while pf.send(sock, bytes(size)):
                pass


def test_a_kill_that_meets_a_failed_handoff_ends_the_tunnel_in_the_gate_worker(
        make_gateway, tracking):
    """The master hears of a handoff (CTL_HANDOFF), then of a kill of that
    tunnel, which it sends to the relay worker, then that the handoff
    failed (the relay worker's queue was full): the relay worker never had
    the tunnel, and the gate worker that kept it must be told. Acted out
    with the relay worker held (ptrace) and its queue full, and the gate
    worker stopped at the send of the handoff (tg_attacker.SyscallStop)
    while the kill is asked for. The master tells the gate worker at the
    failure report (tunnels_handoff), and would at its next report of the
    tunnel's bytes (tunnels_stats) otherwise: this shows the kill is not
    lost, not which of the two carries it."""
    gw = make_gateway("ctl-kill-failed-handoff", gate=1, relay=1)
    gate, = gw.wait_children("tg-gate", 1)
    relay, = hf.relay_pids(gw, 1)
    fd = pf.handoff_socket(gate, relay)
    while not tracking.peers.empty():
        tracking.peers.get_nowait()
    held = pf.Held(relay)
    try:
        _fill_queue(gate, fd)
        c = gw.client()
        with ta.SyscallStop(gate, "sendmsg", fd) as stop:
            c.send(h.connect_request(f"backend.test:{tracking.port}"))
            assert stop.wait(scaled(10)), "the gate worker did not hand the tunnel off"
            tid = tunnel_id(gw, c)
            h.wait_for(lambda: [r["role"] for r in status(gw) if r["tunnel"] == tid] ==
                       ["relay"], 10, "the master to hear of the handoff")
            assert "1 tunnels closing" in ctl(gw, "kill", tid, check=0).stdout
        assert stop.result == -errno.EAGAIN, stop.result
    finally:
        held.release()
    with c:
        assert c.read_head().status == 200
        close = _assert_killed(gw, tracking, c, tracking.next_peer(), tid)
    assert close["role"] == "gate", close


def test_kill_by_user_target_and_client(make_gateway, backends, tracking):
    gw = make_gateway("ctl-kill-select")
    echo = f"backend.test:{backends.echo.port}"
    alice = gw.tunnel(echo)
    bob = gw.tunnel(echo, user="bob")
    tracked, link = hf.tracked_tunnel(gw, tracking)
    other_source = gw.tunnel(echo, source="127.0.0.9")
    try:
        ids = {n: tunnel_id(gw, c) for n, c in
               (("alice", alice), ("bob", bob), ("tracked", tracked),
                ("source", other_source))}
        ctl(gw, "kill", "--user", "bob", check=0)
        assert bob.recv(timeout=10) == b""
        assert gw.wait_audit(event="close", tunnel=ids["bob"])["reason"] == \
            "admin_kill by uid 0"
        ctl(gw, "kill", "--target", f"*:{tracking.port}", check=0)
        _assert_killed(gw, tracking, tracked, link, ids["tracked"])
        ctl(gw, "kill", "--client", "10.0.0.0/8", check=1)
        ctl(gw, "kill", "--client", "127.0.0.9/32", check=0)
        assert other_source.recv(timeout=10) == b""
        assert gw.wait_audit(event="close", tunnel=ids["source"])["closed_by"] == "admin"
        h.echo_round_trip(alice)
        assert [r["tunnel"] for r in status(gw)] == [ids["alice"]]
        r = ctl(gw, "kill", "--client", "not-a-network", check=2)
        assert "not an address or network" in r.stderr, r.stderr
    finally:
        for c in (alice, bob, tracked, other_source):
            c.close()


def test_the_control_socket_serves_root_only(make_gateway, backends):
    gw = make_gateway("ctl-root-only")
    assert os.stat(gw.control_path).st_mode & 0o777 == 0o600
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        tid = tunnel_id(gw, c)
        r = ctl(gw, "kill", tid, user=NOBODY, check=2)
        assert "Permission denied" in r.stderr, r.stderr
        # Past the file mode, the master still checks the peer's uid.
        os.chmod(gw.control_path, 0o666)
        r = ctl(gw, "kill", tid, user=NOBODY, check=2)
        assert "serves root only (uid 65534)" in r.stderr, r.stderr
        assert "control socket: uid 65534" in gw.stderr_text()
        h.echo_round_trip(c)
        assert [row["tunnel"] for row in status(gw)] == [tid]


def test_a_daemon_that_accepts_nothing_gets_no_answer_not_a_hang(make_gateway):
    """A stopped master: once its listen backlog is full, connect(2) on
    the control socket waits as long as it stays stopped."""
    gw = make_gateway("ctl-stopped")
    held = []
    gw.signal(signal.SIGSTOP)
    try:
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.setblocking(False)
            held.append(s)
            try:
                s.connect(str(gw.control_path))
            except BlockingIOError:
                break
        r = subprocess.run([str(daemon_path().parent / "tunnelgatectl"), "status",
                            "-s", str(gw.control_path)], capture_output=True,
                           text=True, timeout=scaled(90))
        assert r.returncode == 2, r
        assert f"{gw.control_path}: no answer" in r.stderr, r.stderr
    finally:
        gw.signal(signal.SIGCONT)
        for s in held:
            s.close()
    status(gw)


def _raw_request(gw, data, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(scaled(10))
    with s:
        s.connect(str(gw.control_path))
        if fds:
            s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                struct.pack(f"{len(fds)}i", *fds))])
        else:
            s.send(data)
        reply = s.recv(4096)
    version, kind, size, result, count = struct.unpack_from("<HHIII", reply)
    assert (version, kind, size) == (ADMIN_VERSION, ADMIN_DONE, len(reply)), reply[:16]
    return result, reply[20:].split(b"\0")[0].decode()


def _request(cmd, by=0, tid=0, arg=b"", version=ADMIN_VERSION, size=ADMIN_REQUEST_SIZE):
    body = struct.pack("<IIQ", cmd, by, tid) + arg.ljust(ADMIN_ARG_SIZE + 7, b"\0")
    return struct.pack("<HHI", version, ADMIN_REQUEST, size) + body


@pytest.mark.parametrize("name,data,why", [
    ("short", b"\x01\x00\x01", "shorter than a header"),
    ("old version", _request(1, version=9), "unknown protocol version"),
    ("unknown command", _request(77), "unknown command"),
    ("kill without selector", _request(2), "kill without a known selector"),
    ("unterminated", _request(2, 2, arg=b"u" * (ADMIN_ARG_SIZE + 7)), "unterminated"),
    ("size lie", _request(1, size=ADMIN_REQUEST_SIZE + 8), "header size differs"),
    ("too long", _request(1) + b"\0" * 4096, "longer than any message"),
])
def test_a_malformed_request_is_refused_and_the_daemon_goes_on(make_gateway, backends,
                                                               name, data, why):
    gw = make_gateway("ctl-malformed")
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        result, text = _raw_request(gw, data)
        assert result == 1 and why in text, (name, text)
        with open(os.devnull) as f:
            result, text = _raw_request(gw, _request(1), fds=(f.fileno(),))
        assert result == 1 and "descriptors" in text, text
        assert len(status(gw)) == 1
        h.echo_round_trip(c)
    assert gw.alive()


def test_reload_says_whether_it_was_applied_and_why_not(make_gateway):
    gw = make_gateway("ctl-reload")
    gw.write_policy(h.STANDARD_POLICY.replace('action = "deny";', 'action = "drop";', 1))
    r = ctl(gw, "reload", check=1)
    assert r.stdout.startswith("refused: ") and "policy.conf" in r.stdout, r.stdout
    assert "drop" in r.stdout, r.stdout
    assert gw.children("tg-gate") and gw.alive()
    gw.write_policy(h.STANDARD_POLICY)
    r = ctl(gw, "reload", check=0)
    assert r.stdout.startswith("applied: generation 2: 6 policy rules"), r.stdout


def test_status_on_a_connection_older_than_the_tunnels_lists_them_all(make_gateway,
                                                                      backends):
    """The reply's bound is the table at the request, not at the connect: a
    connection accepted while no tunnel was open asks after three opened."""
    gw = make_gateway("ctl-status-late")
    target = f"backend.test:{backends.echo.port}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(scaled(10))
    s.connect(str(gw.control_path))
    with s, gw.tunnel(target) as a, gw.tunnel(target) as b, gw.tunnel(target) as c:
        ids = {tunnel_id(gw, t) for t in (a, b, c)}
        h.wait_for(lambda: len(status(gw)) == 3, 10, "three tunnels in status")
        s.send(_request(1))
        rows = []
        while (reply := s.recv(4096)) and struct.unpack_from("<H", reply, 2)[0] != ADMIN_DONE:
            rows.append(struct.unpack_from("<Q", reply, 8)[0])
        assert struct.unpack_from("<I", reply, 12)[0] == 3, reply[:24]
        assert {f"{r:016x}" for r in rows} == ids, (rows, ids)
