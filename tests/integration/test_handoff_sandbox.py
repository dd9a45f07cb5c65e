"""Relay workers as the admin sees them: exec'd, sandboxed children of the
master that alone hold each tunnel's sockets once the 200 is written, taken in
turn; and workers.relay = 0 keeping tunnels in the gate workers."""

import os
import ssl

import pytest

import harness as h
import handoff_fixtures as hf


def test_relay_workers_are_exec_d_children_of_the_master(gateway):
    relays = hf.relay_pids(gateway, 2)
    exe = str(h.daemon_path().resolve())
    for pid in relays:
        assert os.readlink(f"/proc/{pid}/exe") == exe, pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            # A fresh exec, not a fork of the master: nothing of the
            # master's memory (private key, config, policy) came along.
            assert f.read() == b"tunnelgated\0-R\0", pid


def test_relay_workers_run_sandboxed(gateway, env):
    relay_uid = str(hf.uid_of(h.RELAY_USER))
    for pid in hf.relay_pids(gateway, 2):
        # A relay worker enters its filter once its loop is set up.
        h.wait_for(lambda: hf.proc_status(pid)["Seccomp"] == "2", 10,
                   f"relay worker {pid} to enter its sandbox")
        st = hf.proc_status(pid)
        assert st["NoNewPrivs"] == "1", (pid, st["NoNewPrivs"])
        assert st["Uid"].split() == [relay_uid] * 4, (pid, st["Uid"])
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, (pid, st)
        assert os.readlink(f"/proc/{pid}/root") == str(env.chroot), pid


def test_relay_workers_hold_no_files_only_sockets(gateway, backends):
    """Past stdio, a relay worker holds sockets, its epoll and its signalfd:
    nothing it could read a key or a config from."""
    with gateway.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        hf.wait_held_by_relay(gateway, c.local_port)
        for pid in hf.relay_pids(gateway, 2):
            for fd, what in hf.open_files(pid).items():
                if fd > 2:
                    assert what.startswith(("socket:", "anon_inode:")), (pid, fd, what)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_open_tunnel_sockets_are_held_by_a_relay_worker_not_a_gate(gateway, version):
    with hf.TrackingEcho() as backend:
        c, link = hf.tracked_tunnel(gateway, backend, max_version=version)
        with c:
            h.echo_round_trip(c)
            relay = hf.wait_held_by_relay(gateway, c.local_port,
                                          backend_link=(link, backend.port))
            assert relay in gateway.children("tg-relay")
            gates = gateway.children("tg-gate")
            for inode in (h.tcp_inode(gateway.port, c.local_port),
                          h.tcp_inode(link, backend.port)):
                assert not [p for p, _ in hf.holders(gateway, inode) if p in gates]
            h.echo_round_trip(c)


def test_a_gate_worker_hands_tunnels_to_relay_workers_in_turn(make_gateway, backends):
    """In turn, not by the loads relay workers' own close records move (a
    lying relay worker would draw every tunnel); one gate worker, so which
    worker accepts a connection cannot skew the count."""
    gw = make_gateway("handoff-spread", gate=1)
    relays = hf.relay_pids(gw, 2)
    per_relay, opened = {p: 0 for p in relays}, []
    try:
        for _ in range(6):
            c = gw.tunnel(f"backend.test:{backends.echo.port}")
            opened.append(c)
            per_relay[hf.wait_held_by_relay(gw, c.local_port)] += 1
            hf.settle_loads()
        assert sorted(per_relay.values()) == [3, 3], per_relay
        for c in opened:
            h.echo_round_trip(c)
    finally:
        for c in opened:
            c.close()


def test_relay_zero_keeps_tunnels_in_gate_workers(make_gateway, backends):
    gw = make_gateway("handoff-none", relay=0)
    gw.wait_children("tg-gate", 2)
    assert gw.children("tg-relay") == []
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        hf.settle_loads()
        held = hf.port_holders(gw, c.local_port)
        assert [comm for _, comm in held] == ["tg-gate"], held
        h.echo_round_trip(c)


def test_tunnels_stay_in_gate_workers_while_every_relay_worker_is_full(make_gateway,
                                                                       backends):
    """limits.connections is each relay worker's capacity too: with 2 per
    relay worker, the fifth and sixth tunnels stay with their gate worker
    and work all the same."""
    gw = make_gateway("handoff-full", start=False)
    hf.with_connections(gw, 2)
    gw.start()
    opened, where = [], []
    try:
        for _ in range(6):
            c = gw.tunnel(f"backend.test:{backends.echo.port}")
            opened.append(c)
            h.echo_round_trip(c)
            if len(opened) <= 4:
                where.append(hf.wait_held_by_relay(gw, c.local_port))
            hf.settle_loads()
        assert sorted(where.count(p) for p in set(where)) == [2, 2], where
        for c in opened[4:]:
            assert [comm for _, comm in hf.port_holders(gw, c.local_port)] == ["tg-gate"]
        for c in opened:
            h.echo_round_trip(c)
    finally:
        for c in opened:
            c.close()
