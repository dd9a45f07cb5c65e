"""A compromised worker against the master's control socket (THREAT-MODEL.md,
attackers 4 and 5: "cannot forge audit records of events it does not
produce; every audit line names the role and pid that sent it"). The test
speaks on a real worker's control socket (a duplicate taken with
pidfd_getfd), as code inside that worker could."""

import os
import time

import pytest

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf


def _ctl_of(gw, role):
    """(pid, start time, stolen control socket) of one worker of role."""
    if role == "gate":
        pid = gw.wait_children("tg-gate", 2)[0]
        fd = pf.gate_sockets(gw, pid)["ctl"]
    else:
        pid = hf.relay_pids(gw, 2)[0]
        fd = pf.RELAY_CTL_FD
    return pid, hf.start_time(pid), pf.steal(pid, fd)


def _assert_killed_and_replaced(gw, pid, start, comm):
    pf.wait_gone(pid, start)
    pf.wait_replaced(gw, comm, 2, pid)
    lines = pf.violations_about(gw, pid)
    assert len(lines) == 1 and lines[0]["role"] == "master", lines
    assert f"{pid}" in gw.stderr_text()


@pytest.mark.parametrize("role,event", [("gate", "error"), ("relay", "close")])
def test_a_workers_own_kind_of_record_is_written_with_its_role_and_pid(
        make_gateway, role, event):
    """The packer is right: what this role does produce goes through,
    stamped by the master with who sent it, and nobody is killed."""
    gw = make_gateway(f"ctl-own-{role}")
    pid, start, sock = _ctl_of(gw, role)
    marker = pf.marker_id()
    with sock:
        assert pf.send(sock, pf.ctl_audit(event, marker, reason="forged but allowed"))
    if role == "gate":
        line = gw.wait_audit(event=event, tunnel=pf.tunnel_hex(marker))
        assert line["role"] == "gate" and line["pid"] == pid and line["gen"] == 1, line
    else:
        # Read and understood, but a relay worker's close for a tunnel
        # nobody handed it is not written (test_attack_relay_load.py).
        h.wait_for(lambda: pf.tunnel_hex(marker) in gw.stderr_text(), 10,
                   "the master's note about the unknown tunnel")
        assert not pf.lines_with_tunnel(gw, marker)
    assert hf.process_alive(pid, start)
    assert not pf.violations_about(gw, pid)


@pytest.mark.parametrize("role,event", [
    ("gate", "allow"), ("gate", "deny"), ("gate", "auth_fail"),
    ("relay", "auth_fail"), ("relay", "allow"), ("relay", "open"),
])
def test_a_forged_record_of_another_roles_event_kills_the_sender(make_gateway, role,
                                                               event):
    gw = make_gateway(f"ctl-forge-{role}-{event}")
    pid, start, sock = _ctl_of(gw, role)
    marker = pf.marker_id()
    with sock:
        # A gate worker's one auth_fail is "no credentials" without a user.
        pf.send(sock, pf.ctl_audit(event, marker, user="alice", reason="bad password"))
    _assert_killed_and_replaced(gw, pid, start, f"tg-{role}")
    assert not pf.lines_with_tunnel(gw, marker)


@pytest.mark.parametrize("role", ["gate", "relay"])
def test_a_descriptor_on_the_control_socket_kills_the_sender(make_gateway, role):
    gw = make_gateway(f"ctl-fd-{role}")
    pid, start, sock = _ctl_of(gw, role)
    marker = pf.marker_id()
    event = "error" if role == "gate" else "close"
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        with sock:
            pf.send(sock, pf.ctl_audit(event, marker, reason="with a descriptor"), (fd,))
    finally:
        os.close(fd)
    _assert_killed_and_replaced(gw, pid, start, f"tg-{role}")
    assert not pf.lines_with_tunnel(gw, marker)
    assert "carries descriptors" in pf.violations_about(gw, pid)[0]["reason"]


def test_a_flood_of_records_kills_the_sender_and_bounds_the_log(make_gateway):
    gw = make_gateway("ctl-flood")
    pid, start, sock = _ctl_of(gw, "gate")
    # error records, which the master writes whatever the tunnel: a close
    # is written only for a tunnel the sender holds, an open only once an
    # authenticator allowed it, so neither would reach the log to bound.
    msg = pf.ctl_audit("error", pf.marker_id(), user="mallory", target="x.test:1",
                       reason="flood")
    began = time.monotonic()
    with sock:
        sent = pf.send_until_gone(sock, lambda: msg, timeout=30)
    elapsed = time.monotonic() - began
    _assert_killed_and_replaced(gw, pid, start, "tg-gate")
    written = [e for e in gw.audit_events() if e.get("pid") == pid]
    # Many written, or the bound below says nothing.
    assert len(written) >= pf.CTL_RATE_BURST + 10000, len(written)
    # The bucket: a burst of CTL_RATE_BURST plus limits.connections (10000
    # here), then CTL_RATE_PER_SEC; the flood ran far past it.
    bound = pf.CTL_RATE_BURST + 10000 + pf.CTL_RATE_PER_SEC * elapsed
    assert len(written) <= bound, (len(written), bound, elapsed)
    assert sent > len(written), (sent, len(written))
    # The log grows with the bound, not with the flood (each of its lines
    # is well under 1 KiB).
    assert os.path.getsize(gw.audit_path) < 1024 * bound, (
        os.path.getsize(gw.audit_path), bound)
    assert "over CTL_RATE_PER_SEC" in pf.violations_about(gw, pid)[0]["reason"]


def test_an_open_record_is_written_with_what_the_authenticator_allowed(
        make_gateway, backends):
    """A gate worker's open names the user and target it likes; the master
    writes the ones its authenticator allowed. Opened twice, even with a
    second allow for the same id, the tunnel kills the sender."""
    gw = make_gateway("ctl-open-twice")
    pid, start, sock = _ctl_of(gw, "gate")
    held = pf.Held(pid)
    tunnel = pf.marker_id()
    try:
        pf.allow_tunnels(gw, held, [tunnel], backends.echo.port)
        msg = pf.ctl_audit("open", tunnel, user="mallory", target="x.test:1",
                           rule="forged", groups="wheel")
        with sock:
            sock.send(msg)
            opened = gw.wait_audit(event="open", tunnel=pf.tunnel_hex(tunnel))
            pf.allow_tunnels(gw, held, [tunnel], backends.echo.port,
                             after=gw.audit_mark())
            sock.send(msg)
            h.wait_for(held.reap, 10, f"gate worker {pid} to be killed")
    finally:
        held.release()
    assert opened["user"] == "alice" and opened["pid"] == pid, opened
    assert opened["target"] == f"backend.test:{backends.echo.port}", opened
    assert opened["rule"] != "forged" and "wheel" not in opened.get("groups", ""), opened
    pf.wait_replaced(gw, "tg-gate", 2, pid)
    assert "already open" in pf.violations_about(gw, pid)[0]["reason"]
    # The first was written and its tunnel is in the master's table: the
    # killed worker's tunnels are closed for it.
    lines = [e for e in gw.audit_events() if e.get("tunnel") == pf.tunnel_hex(tunnel)]
    assert [e["event"] for e in lines] == ["allow", "open", "allow", "close"], lines
    assert lines[3]["reason"] == "worker_died", lines


def test_an_open_record_for_a_tunnel_no_authenticator_allowed_is_not_written(
        make_gateway):
    """Not written, and the sender told to end that tunnel; not killed, as
    an honest gate worker that was late for its allow must not lose the
    others."""
    gw = make_gateway("ctl-open-unallowed")
    pid, start, sock = _ctl_of(gw, "gate")
    tunnel = pf.marker_id()
    with sock:
        pf.send(sock, pf.ctl_audit("open", tunnel, user="alice", target="x.test:1"))
        line = (f"gate worker {pid}: open record for tunnel {pf.tunnel_hex(tunnel)}, "
                "which no authenticator allowed (or two did); not written")
        h.wait_for(lambda: line in gw.stderr_text(), 10, f"the master's {line!r}")
        pf.sync_written(gw, sock)
    assert not pf.lines_with_tunnel(gw, tunnel)
    assert hf.process_alive(pid, start)
    assert not pf.violations_about(gw, pid)


def test_an_open_record_for_a_tunnel_allowed_twice_is_not_written(make_gateway,
                                                                  backends):
    """A gate worker chooses tunnel ids: one it had allowed twice (two
    backends, two decisions) opens with neither named."""
    gw = make_gateway("ctl-open-allowed-twice")
    pid, start, sock = _ctl_of(gw, "gate")
    held = pf.Held(pid)
    tunnel = pf.marker_id()
    try:
        pf.allow_tunnels(gw, held, [tunnel, tunnel], backends.echo.port)
        with sock:
            pf.send(sock, pf.ctl_audit("open", tunnel, user="alice", target="x.test:1"))
            pf.sync_written(gw, sock)
    finally:
        held.release()
    assert [e["event"] for e in pf.lines_with_tunnel(gw, tunnel)] == ["allow", "allow"]
    assert "which no authenticator allowed (or two did); not written" in gw.stderr_text()
    assert hf.process_alive(pid, start)


def test_every_audit_line_names_the_process_that_sent_it(make_gateway, backends):
    gw = make_gateway("ctl-senders")
    comms = {p: comm for comm, n in (("tg-auth", 3), ("tg-gate", 2), ("tg-relay", 2))
             for p in gw.wait_children(comm, n)}
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        hf.wait_held_by_relay(gw, c.local_port)
        client = c.client_address
    assert gw.status_of(f"forbidden.test:{backends.echo.port}") == 403
    assert gw.status_of(f"backend.test:{backends.echo.port}", password="wrong") == 407
    assert gw.attempt(h.connect_request(f"backend.test:{backends.echo.port}",
                                        user=None)).status == 407
    gw.wait_audit(event="close", client=client)
    roles = {"authenticator": "tg-auth", "gate": "tg-gate", "relay": "tg-relay"}
    events = gw.audit_events()
    assert {e["event"] for e in events} >= {"allow", "open", "close", "deny", "auth_fail"}
    for e in events:
        if e["role"] == "master":
            # The hash chain's own line, written when the log was opened.
            assert (e["event"], e["pid"]) == ("chain", gw.proc.pid), e
            continue
        assert comms.get(e["pid"]) == roles[e["role"]], e
        assert ("gen" in e) == (e["role"] != "relay"), e
    by_event = {e["event"]: e["role"] for e in events if e.get("client") == client}
    assert by_event == {"allow": "authenticator", "open": "gate", "close": "relay"}


def test_a_key_process_naming_another_gate_slot_is_killed(make_gateway):
    """A key process serves one gate socket, so it may report only that
    one's gate worker: its report on its own slot kills that gate worker
    (the packer is right), on the other slot it kills the key process,
    however right the pair's serial (a small counter, 0 here)."""
    gw = make_gateway("ctl-key-broke-other")
    keys = pf.by_slot(gw, gw.wait_children("tg-key", 2))
    gates = gw.wait_children("tg-gate", 2)
    own, other = (pf.peer_of(k, set(gates)) for k in keys)
    liar, start = keys[0], hf.start_time(keys[0])
    starts = hf.start_times([own, other])
    with pf.steal(liar, pf.ctl_socket(gw, liar)) as sock:
        assert pf.send(sock, pf.ctl_gate_broke(0, 0, "key process: its own"))
        pf.wait_gone(own, starts[own])
        assert pf.violations_about(gw, own)[0]["reason"].endswith(
            f"key process: its own, says key process {liar}")
        assert pf.send(sock, pf.ctl_gate_broke(1, 0, "key process: not its own"))
        pf.wait_gone(liar, start)
    pf.wait_replaced(gw, "tg-key", 2, liar)
    assert "other than its own" in pf.violations_about(gw, liar)[0]["reason"]
    assert hf.process_alive(other, starts[other])
    assert not pf.violations_about(gw, other)
    assert "not its own" not in gw.stderr_text()
