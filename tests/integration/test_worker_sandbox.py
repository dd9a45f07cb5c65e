"""A compromised gate or relay worker, acted out with tg_attacker: system
calls run inside the real worker, under its own namespaces and seccomp
filter. Gate workers live in an empty network namespace; both roles have an
allow-list whose argument filters refuse signal ownership, executable memory
and (for relay workers) passing descriptors on; neither may open a socket,
a file or a program. A worker that tries is killed by SIGSYS, the master
logs it (and writes the close of a tunnel that died with it) and starts a
replacement, and tunnels work again. Attacked gateways are private and
named attack-*: they alone may show SIGSYS deaths (see the last test)."""

import json
import os
import pwd
import signal
import socket
import struct
import subprocess

import pytest

import harness as h
import handoff_fixtures as hf
import syslog_fixtures as sf
import tg_attacker as ta
from test_metrics import _gateway as metrics_gateway, metrics_pid, scrape

SIGSYS = int(signal.SIGSYS)
PTRACE_ATTACH = 16


def wait_sandboxed(pid):
    """A worker is named before it is demoted: attack it only once its
    filter is in force."""
    h.wait_for(lambda: hf.proc_status(pid)["Seccomp"] == "2", 10,
               f"{hf.comm(pid)} {pid} to enter its sandbox")


def attacked_gateway(make_gateway, name, **kw):
    """A private gateway with one gate worker and one relay worker, so the
    tunnel after an attack must go through the replacement."""
    gw = make_gateway(f"attack-{name}", gate=1, relay=1, **kw)
    for pid in gw.wait_children("tg-gate", 1) + hf.relay_pids(gw, 1):
        wait_sandboxed(pid)
    return gw


def assert_killed_by_sigsys(inj, what):
    assert inj.died is not None, f"{what} returned inside the worker"
    assert ta.killed_by_sigsys(inj.died), f"{what}: worker ended with {inj.died!r}"


def assert_replaced(gw, comm, dead, backends):
    """The master logged the SIGSYS death, a sandboxed successor runs, and
    a tunnel through it works."""
    kind = {"tg-gate": "gate worker", "tg-relay": "relay worker",
            "tg-key": "key process"}[comm]
    line = f"{kind} {dead} killed by signal {SIGSYS}"
    h.wait_for(lambda: line in gw.stderr_text(), 10, f"the master to log '{line}'")
    new, = gw.wait_children(comm, 1, timeout=15, exclude=(dead,))
    wait_sandboxed(new)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        if comm == "tg-relay":
            assert hf.wait_held_by_relay(gw, c.local_port) == new
    return new


def relay_tunnel(gw, backends):
    """An echo tunnel held by the relay worker, and that worker's descriptor
    for the tunnel's client socket."""
    c = gw.tunnel(f"backend.test:{backends.echo.port}")
    h.echo_round_trip(c)
    relay = hf.wait_held_by_relay(gw, c.local_port)
    fd = ta.fd_of_socket(relay, h.tcp_inode(gw.port, c.local_port))
    assert fd is not None
    return c, relay, fd


# ---------------------------------------------------------------------------
# What the sandbox looks like from outside

@pytest.mark.parametrize("comm", ["tg-gate", "tg-relay"])
def test_workers_have_an_empty_network_namespace_of_their_own(gateway, comm):
    master_ns = os.stat(f"/proc/{gateway.proc.pid}/ns/net").st_ino
    pids = gateway.wait_children(comm, 2)
    for pid in pids:
        wait_sandboxed(pid)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino != master_ns, pid
        with open(f"/proc/{pid}/net/dev") as f:
            interfaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
        assert interfaces == ["lo"], (pid, interfaces)
    # Each worker has a namespace of its own, not one shared by all.
    assert len({os.stat(f"/proc/{p}/ns/net").st_ino for p in pids}) == len(pids)


def test_gate_workers_run_under_a_seccomp_filter(gateway, env):
    gate_uid = str(hf.uid_of(h.GATE_USER))
    for pid in gateway.wait_children("tg-gate", 2):
        wait_sandboxed(pid)
        st = hf.proc_status(pid)
        assert st["NoNewPrivs"] == "1", (pid, st["NoNewPrivs"])
        assert st["Uid"].split() == [gate_uid] * 4, (pid, st["Uid"])
        assert os.readlink(f"/proc/{pid}/root") == str(env.chroot), pid


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_nothing_in_a_gate_workers_namespace_reaches_a_backend(gateway, host):
    """The namespace alone, apart from the filter: a fresh process in it
    cannot reach a listening backend that the master's namespace reaches."""
    with hf.TrackingEcho(host) as backend:
        assert ta.connect_in_netns_of(gateway.proc.pid, host, backend.port) == 0
        backend.next_peer()
        for pid in gateway.wait_children("tg-gate", 2):
            wait_sandboxed(pid)
            assert ta.connect_in_netns_of(pid, host, backend.port) == ta.ENETUNREACH
        assert backend.peers.empty()


def test_calls_the_filters_allow_run_inside_the_workers(make_gateway, backends):
    """The control for every attack below: the injector works, and allowed
    calls (with allowed arguments) leave both workers running."""
    gw = attacked_gateway(make_gateway, "control")
    gate, = gw.children("tg-gate")
    c, relay, fd = relay_tunnel(gw, backends)
    with c:
        with ta.Injector(gate) as inj:
            assert inj.call("getpid") == gate
        with ta.Injector(relay) as inj:
            flags = inj.call("fcntl", fd, ta.F_GETFL)
            assert flags >= 0 and flags & ta.O_NONBLOCK, flags
            assert inj.call("fcntl", fd, ta.F_SETFL, flags) == 0
            addr = inj.call("mmap", 0, 4096, ta.PROT_READ | ta.PROT_WRITE,
                            ta.MAP_PRIVATE | ta.MAP_ANONYMOUS, -1, 0)
            assert addr > 0, addr
            assert inj.call("munmap", addr, 4096) == 0
            assert inj.died is None
        h.echo_round_trip(c)
        assert gw.children("tg-gate") == [gate]
        assert gw.children("tg-relay") == [relay]


# ---------------------------------------------------------------------------
# Attacks from inside a gate worker

@pytest.mark.parametrize("host", ["127.0.0.2", "127.0.0.1"])
def test_connect_injected_into_a_gate_worker_kills_it_and_reaches_nothing(
        make_gateway, backends, host):
    gw = attacked_gateway(make_gateway, "connect")
    with hf.TrackingEcho(host) as backend:
        if host == "127.0.0.2":
            assert gw.status_of(f"{host}:{backend.port}") == 403
        gate, = gw.children("tg-gate")
        s, c, died = ta.connect_from_inside(gate, host, backend.port)
        assert s is None and c is None, (s, c)
        assert ta.killed_by_sigsys(died), died
        assert_replaced(gw, "tg-gate", gate, backends)
        assert backend.peers.empty(), "the injected connect reached the backend"


@pytest.mark.parametrize("call", ["kill", "tgkill", "tkill"])
def test_signal_injected_into_a_gate_worker_cannot_stop_a_relay_worker(
        make_gateway, backends, call):
    """The filter kills the gate worker before the kernel's permission
    check (which refuses too, as gate and relay users differ)."""
    gw = attacked_gateway(make_gateway, call)
    gate, = gw.children("tg-gate")
    c, relay, _ = relay_tunnel(gw, backends)
    started = hf.start_time(relay)
    args = {"kill": (relay, signal.SIGKILL), "tgkill": (relay, relay, signal.SIGKILL),
            "tkill": (relay, signal.SIGKILL)}[call]
    with c:
        stream = hf.LiveStream(c)
        try:
            with ta.Injector(gate) as inj:
                assert inj.call(call, *args) is None
            assert_killed_by_sigsys(inj, call)
            stream.wait_rounds(3)
        except BaseException:
            stream.cancel()
            raise
        stream.stop()
        assert hf.process_alive(relay, started)
        assert_replaced(gw, "tg-gate", gate, backends)
        h.echo_round_trip(c)


@pytest.mark.parametrize("call", ["kill", "tgkill", "tkill"])
def test_signal_injected_into_a_gate_worker_cannot_reach_its_key_process(
        make_gateway, backends, call):
    """The filter kills the gate worker before the kernel's permission
    check, which would refuse too: the key process runs as a user of its
    own (test_key_process.py probes that as the gate user)."""
    gw = attacked_gateway(make_gateway, f"key-{call}")
    gate, = gw.children("tg-gate")
    key, = gw.wait_children("tg-key", 1)
    started = hf.start_time(key)
    args = {"kill": (key, signal.SIGKILL), "tgkill": (key, key, signal.SIGKILL),
            "tkill": (key, signal.SIGKILL)}[call]
    with ta.Injector(gate) as inj:
        assert inj.call(call, *args) is None
    assert_killed_by_sigsys(inj, call)
    assert hf.process_alive(key, started)
    assert_replaced(gw, "tg-gate", gate, backends)


def _openat(inj, _gw):
    return inj.call("openat", ta.AT_FDCWD, inj.write(b"/\0"), os.O_RDONLY)


def _listener_fd(inj, gw):
    fd = ta.fd_of_socket(inj.pid, ta.listener_inode(gw.port))
    assert fd is not None
    return fd


def _listen(inj, gw):
    return inj.call("listen", _listener_fd(inj, gw), 1)


def _socket(inj, _gw):
    return inj.call("socket", socket.AF_UNIX, socket.SOCK_STREAM, 0)


# The listener is shared with the master and every gate worker: shut for
# reading it accepts for nobody, made blocking it stalls the others in accept.
def _shutdown_listener(inj, gw):
    return inj.call("shutdown", _listener_fd(inj, gw), socket.SHUT_RD)


def _block_listener(inj, gw):
    return inj.call("fcntl", _listener_fd(inj, gw), ta.F_SETFL, 0)


# Every accepted socket inherits the listener's TCP_NODELAY: turned off
# there, every gate worker's tunnels would hold small writes back.
def _nagle_listener(inj, gw):
    off = inj.write(struct.pack("<i", 0))
    return inj.call("setsockopt", _listener_fd(inj, gw), socket.IPPROTO_TCP,
                    socket.TCP_NODELAY, off, 4)


@pytest.mark.parametrize("attack", [_openat, _listen, _socket, _shutdown_listener,
                                    _block_listener, _nagle_listener],
                         ids=["openat", "listen", "socket-unix", "shutdown-listener",
                              "blocking-listener", "nagle-listener"])
def test_forbidden_call_injected_into_a_gate_worker_kills_it(make_gateway, backends,
                                                            attack):
    gw = attacked_gateway(make_gateway, attack.__name__.strip("_"))
    gate, = gw.children("tg-gate")
    with ta.Injector(gate) as inj:
        assert attack(inj, gw) is None
    assert_killed_by_sigsys(inj, attack.__name__)
    assert_replaced(gw, "tg-gate", gate, backends)


FCNTL_ATTACKS = {
    "F_SETOWN": lambda fd, pid: (fd, ta.F_SETOWN, pid),
    "F_SETOWN_EX": lambda fd, pid: (fd, ta.F_SETOWN_EX, 0),
    "F_SETSIG": lambda fd, pid: (fd, ta.F_SETSIG, signal.SIGKILL),
    "O_ASYNC": lambda fd, pid: (fd, ta.F_SETFL, ta.O_ASYNC | ta.O_NONBLOCK),
}


@pytest.mark.parametrize("cmd", sorted(FCNTL_ATTACKS))
def test_gate_worker_cannot_arm_signals_with_fcntl(make_gateway, backends, cmd):
    """On the listener it shares with the master: signal ownership set
    there would reach the master on every connection."""
    gw = attacked_gateway(make_gateway, f"gate-{cmd.lower()}")
    gate, = gw.children("tg-gate")
    with ta.Injector(gate) as inj:
        fd = _listener_fd(inj, gw)
        assert inj.call("fcntl", *FCNTL_ATTACKS[cmd](fd, gw.proc.pid)) is None
    assert_killed_by_sigsys(inj, f"fcntl {cmd}")
    assert_replaced(gw, "tg-gate", gate, backends)


# ---------------------------------------------------------------------------
# Attacks from inside a relay worker

@pytest.mark.parametrize("cmd", sorted(FCNTL_ATTACKS))
def test_relay_worker_cannot_arm_signals_with_fcntl(make_gateway, backends, cmd):
    gw = attacked_gateway(make_gateway, cmd.lower())
    c, relay, fd = relay_tunnel(gw, backends)
    with c:
        with ta.Injector(relay) as inj:
            assert inj.call("fcntl", *FCNTL_ATTACKS[cmd](fd, gw.proc.pid)) is None
        assert_killed_by_sigsys(inj, f"fcntl {cmd}")
    assert_replaced(gw, "tg-relay", relay, backends)


@pytest.mark.parametrize("call", ["kill", "tgkill", "tkill"])
def test_signal_injected_into_a_relay_worker_cannot_stop_a_gate_worker(
        make_gateway, backends, call):
    gw = attacked_gateway(make_gateway, f"relay-{call}")
    gate, = gw.children("tg-gate")
    started = hf.start_time(gate)
    c, relay, _ = relay_tunnel(gw, backends)
    args = {"kill": (gate, signal.SIGKILL), "tgkill": (gate, gate, signal.SIGKILL),
            "tkill": (gate, signal.SIGKILL)}[call]
    with c:
        with ta.Injector(relay) as inj:
            assert inj.call(call, *args) is None
        assert_killed_by_sigsys(inj, call)
    assert hf.process_alive(gate, started)
    assert_replaced(gw, "tg-relay", relay, backends)


@pytest.mark.parametrize("call", ["mmap", "mprotect"])
def test_relay_worker_cannot_map_executable_memory(make_gateway, backends, call):
    gw = attacked_gateway(make_gateway, call)
    relay, = gw.children("tg-relay")
    rx = ta.PROT_READ | ta.PROT_EXEC
    anon = ta.MAP_PRIVATE | ta.MAP_ANONYMOUS
    with ta.Injector(relay) as inj:
        if call == "mmap":
            assert inj.call("mmap", 0, 4096, rx, anon, -1, 0) is None
        else:
            addr = inj.call("mmap", 0, 4096, ta.PROT_READ | ta.PROT_WRITE, anon, -1, 0)
            assert addr > 0, addr
            assert inj.call("mprotect", addr, 4096, rx) is None
    assert_killed_by_sigsys(inj, f"{call} with PROT_EXEC")
    assert_replaced(gw, "tg-relay", relay, backends)


def test_relay_worker_cannot_pass_a_descriptor_on(make_gateway, backends):
    """Its control socket leads to the master; with sendmsg a relay worker
    could hand a tunnel's socket to whoever reads there."""
    gw = attacked_gateway(make_gateway, "sendmsg")
    c, relay, fd = relay_tunnel(gw, backends)
    with c:
        with ta.Injector(relay) as inj:
            assert inj.call("sendmsg", 3, ta.msghdr(inj, passed_fd=fd), 0) is None
        assert_killed_by_sigsys(inj, "sendmsg with SCM_RIGHTS")
    assert_replaced(gw, "tg-relay", relay, backends)


# A relay worker cannot open a new connection, file or program. Its own
# namespace is empty, but the tunnels' sockets were made in the master's:
# connect(AF_UNSPEC) would free the backend socket to be connected anywhere
# (here to a destination the policy denies). Without the filter each call
# returns, socket and openat a descriptor, execve ENOENT in the chroot.
def _relay_socket_inet(inj, _backend_fd, _denied):
    return inj.call("socket", socket.AF_INET, socket.SOCK_STREAM, 0)


def _relay_socket_unix(inj, _backend_fd, _denied):
    return inj.call("socket", socket.AF_UNIX, socket.SOCK_STREAM, 0)


def _relay_reconnect(inj, backend_fd, denied):
    unspec = inj.write(struct.pack("<H", socket.AF_UNSPEC).ljust(16, b"\0"))
    r = inj.call("connect", backend_fd, unspec, 16)
    if r is None:
        return None
    return inj.call("connect", backend_fd, inj.write(ta.sockaddr_in(*denied)), 16)


def _relay_openat(inj, _backend_fd, _denied):
    return inj.call("openat", ta.AT_FDCWD, inj.write(b"/\0"), os.O_RDONLY)


def _relay_execve(inj, _backend_fd, _denied):
    argv = inj.write(b"\0" * 32)
    inj.poke(argv, struct.pack("<QQ", argv + 16, 0) + b"/bin/sh\0")
    return inj.call("execve", argv + 16, argv, 0)


@pytest.mark.parametrize("attack", [_relay_socket_inet, _relay_socket_unix, _relay_reconnect,
                                    _relay_openat, _relay_execve],
                         ids=["socket-inet", "socket-unix", "reconnect-backend-socket",
                              "openat", "execve"])
def test_relay_worker_cannot_open_connections_files_or_programs(make_gateway, backends,
                                                                attack):
    """Run inside the relay worker that holds a live tunnel: the worker
    dies of SIGSYS, the tunnel it held gets its close from the master, and
    nothing reaches the destination the attack aimed at."""
    name = attack.__name__.strip("_").replace("_", "-")
    gw = attacked_gateway(make_gateway, name)
    with hf.TrackingEcho() as backend, hf.TrackingEcho("127.0.0.2") as denied:
        assert gw.status_of(f"127.0.0.2:{denied.port}") == 403
        c, peer = hf.tracked_tunnel(gw, backend)
        with c:
            address = c.client_address
            h.echo_round_trip(c)
            relay = hf.wait_held_by_relay(gw, c.local_port, (peer, backend.port))
            backend_fd = ta.fd_of_socket(relay, h.tcp_inode(peer, backend.port))
            assert backend_fd is not None
            with ta.Injector(relay) as inj:
                assert attack(inj, backend_fd, ("127.0.0.2", denied.port)) is None
            assert_killed_by_sigsys(inj, name)
            opened = gw.wait_audit(event="open", client=address)
            close = gw.wait_audit(event="close", client=address)
            assert close["tunnel"] == opened["tunnel"]
            assert (close["reason"], close["role"]) == ("worker_died", "master"), close
        assert_replaced(gw, "tg-relay", relay, backends)
        assert denied.peers.empty(), "the relay worker's socket reached a denied destination"


# ---------------------------------------------------------------------------
# Logging from inside the sandbox

def test_workers_log_to_syslog_from_inside_their_sandbox(make_gateway, backends):
    """Each child opens its own syslog connection before it is chrooted and
    sandboxed; the line every worker logs after entering the sandbox
    arrives, and logging never costs a worker its life."""
    gw = make_gateway("syslog", start=False)
    sink = sf.start_logging_to_syslog(gw)
    try:
        workers = gw.wait_children("tg-gate", 2) + hf.relay_pids(gw, 2)
        started = hf.start_times(workers)
        for pid in workers:
            ready = sf.ready_line(pid)
            h.wait_for(lambda: sink.has(ready), 10, lambda: (
                f"'{ready}' in syslog; last lines:\n" + "\n".join(sink.lines[-20:])))
        for _ in range(4):
            with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
                h.echo_round_trip(c)
        assert all(hf.process_alive(p, started[p]) for p in workers)
        assert not sink.has("killed by signal"), [l for l in sink.lines if "killed" in l]
    finally:
        gw.stop()
        sink.close()


# ---------------------------------------------------------------------------
# Attacks from inside a key process: it holds the private key and runs as
# the gate worker's user, so its filter is what keeps it from that user's
# other processes, from files and from the network.

def _kill_gate(inj, gw):
    gate, = gw.children("tg-gate")
    return inj.call("kill", gate, signal.SIGKILL)


@pytest.mark.parametrize("attack", [_openat, _socket, _kill_gate],
                         ids=["openat", "socket-unix", "kill-gate-worker"])
def test_forbidden_call_injected_into_a_key_process_kills_it(make_gateway, backends,
                                                            attack):
    gw = attacked_gateway(make_gateway, f"key-{attack.__name__.strip('_')}")
    gate, = gw.children("tg-gate")
    gate_started = hf.start_time(gate)
    key, = gw.wait_children("tg-key", 1)
    wait_sandboxed(key)
    with ta.Injector(key) as inj:
        assert attack(inj, gw) is None
    assert_killed_by_sigsys(inj, attack.__name__)
    assert hf.process_alive(gate, gate_started)
    assert_replaced(gw, "tg-key", key, backends)


# ---------------------------------------------------------------------------
# tg-metrics runs as the gate worker's user (docs/metrics.md): that uid must
# not reach it. From inside a gate worker the filter refuses ptrace and
# kill; any other process of that uid meets a non-dumpable process.

def _metrics_gateway(make_gateway, name):
    gw = metrics_gateway(make_gateway, f"attack-{name}", gate=1, relay=1)
    for pid in gw.wait_children("tg-gate", 1) + [metrics_pid(gw)]:
        wait_sandboxed(pid)
    return gw


@pytest.mark.parametrize("call", ["ptrace", "kill"])
def test_ptrace_or_kill_injected_into_a_gate_worker_cannot_reach_tg_metrics(
        make_gateway, backends, call):
    gw = _metrics_gateway(make_gateway, f"metrics-{call}")
    gate, = gw.children("tg-gate")
    target = metrics_pid(gw)
    started = hf.start_time(target)
    args = {"ptrace": (PTRACE_ATTACH, target, 0, 0),
            "kill": (target, signal.SIGKILL)}[call]
    with ta.Injector(gate) as inj:
        assert inj.call(call, *args) is None
    assert_killed_by_sigsys(inj, call)
    assert hf.process_alive(target, started)
    assert hf.proc_status(target)["TracerPid"] == "0"
    assert scrape(gw)
    assert_replaced(gw, "tg-gate", gate, backends)


# Run as the gate worker's uid, outside any sandbox: what it can do to pid.
_AS_GATE_USER = r"""
import ctypes, errno, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]

def outcome(call):
    try:
        call()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]

def attach(pid):
    if libc.ptrace(16, pid, None, None) == -1:          # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
    os.waitpid(pid, 0)
    libc.ptrace(17, pid, None, None)                    # PTRACE_DETACH

def read(path):
    with open(path, "rb") as f:
        f.read(1)

pid = int(sys.argv[1])
print(json.dumps({
    "attach": outcome(lambda: attach(pid)),
    "mem": outcome(lambda: open(f"/proc/{pid}/mem", "rb").close()),
    "environ": outcome(lambda: read(f"/proc/{pid}/environ")),
    "fd": outcome(lambda: os.listdir(f"/proc/{pid}/fd")),
}))
"""


def _as_gate_user(pid):
    pw = pwd.getpwnam(h.GATE_USER)
    out = subprocess.run(["/usr/bin/python3", "-c", _AS_GATE_USER, str(pid)],
                         user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                         capture_output=True, text=True, timeout=h.scaled(30))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_process_of_the_gate_workers_uid_cannot_ptrace_tg_metrics(make_gateway):
    gw = metrics_gateway(make_gateway, "metrics-same-uid")
    target = metrics_pid(gw)
    wait_sandboxed(target)
    pw = pwd.getpwnam(h.GATE_USER)
    assert hf.proc_status(target)["Uid"].split()[0] == str(pw.pw_uid)
    # The control: an ordinary process of that uid is the attacker's to trace.
    ordinary = subprocess.Popen(["sleep", "60"], user=pw.pw_uid, group=pw.pw_gid,
                                extra_groups=[])
    try:
        assert _as_gate_user(ordinary.pid) == {
            "attach": "ok", "mem": "ok", "environ": "ok", "fd": "ok"}
    finally:
        ordinary.kill()
        ordinary.wait()
    # Non-dumpable: ptrace and /proc/PID's private entries need CAP_SYS_PTRACE.
    assert _as_gate_user(target) == {
        "attach": "EPERM", "mem": "EACCES", "environ": "EACCES", "fd": "EACCES"}
    assert hf.proc_status(target)["TracerPid"] == "0"
    assert scrape(gw)


# ---------------------------------------------------------------------------

@pytest.mark.run_last
def test_no_worker_was_killed_by_its_own_sandbox_outside_the_attacks(env):
    """Every other gateway of the session ran its workers through the whole
    suite (TLS 1.2 and 1.3, errors, handoff, reload, drain): no filter
    refused a call they make."""
    deaths = []
    for log in sorted(env.tmp.glob("gw-*/stderr.log")):
        if "-attack-" in log.parent.name:
            continue
        deaths += [f"{log.parent.name}: {line}" for line in log.read_text().splitlines()
                   if f"killed by signal {SIGSYS}" in line]
    assert not deaths, "\n".join(deaths)
