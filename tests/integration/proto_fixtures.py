"""Speaking the daemon's internal protocols as a compromised worker would.

A test takes one of a real worker's own sockets with tg_attacker.steal_fd()
and sends on it exactly what code running in that worker could send: the
messages are packed here with the layouts of auth/auth_proto.h,
src/common/ctl.h, src/master/audit.h, src/worker/handoff.h and
src/common/tls_state.h (x86_64). Each test that sends a
forged message also sends a well-formed one through the same packer and
sees it accepted, so a refusal is about what the message says, never about
a packing mistake. Standard library only.
"""

import array
import os
import socket
import struct
import subprocess
import time

import harness as h
import handoff_fixtures as hf
import tg_attacker
from tg_attacker import steal_fd

# auth/auth_proto.h
AUTH_VERSION = 1
AUTH_REQUEST, AUTH_TAKEN, AUTH_REPLY = 1, 2, 3
# A request's size: this, plus its certificate chain (none here).
AUTH_REQUEST_SIZE, AUTH_TAKEN_SIZE, AUTH_REPLY_SIZE = 1024, 24, 536
VERDICT_ALLOW, VERDICT_POLICY_DENY = 1, 4
VERDICT_UNAVAILABLE = 7

# src/common/ctl.h
CTL_VERSION = 3
CTL_AUDIT, CTL_RELAY_LOAD_RETIRED, CTL_HANDOFF = 1, 5, 7
CTL_HANDOFF_FAILED, CTL_GATE_BROKE = 8, 9
CTL_AUDIT_SIZE, CTL_HANDOFF_SIZE, CTL_GATE_BROKE_SIZE = 1720, 24, 144
CTL_TUNNEL_STATS, STATS_PER_MSG = 11, 64
CTL_TUNNEL_STATS_SIZE = 8 + 8 + STATS_PER_MSG * 32
CTL_RATE_PER_SEC = 20000
CTL_RATE_BURST = 20000

# src/master/audit.h
EVENTS = {"auth_fail": 1, "deny": 2, "allow": 3, "error": 4, "open": 5, "close": 6}
CLOSED_BY_CLIENT = 1
RECORD_FIELDS = (("client", 64), ("proxy", 64), ("user", 256), ("target", 265),
                 ("resolved", 64), ("rule", 64), ("tls_version", 16), ("tls_cipher", 64),
                 ("reason", 128), ("cert_subject", 256), ("cert_sha256", 65),
                 ("groups", 256), ("policy", 65), ("by", 32))
RECORD_SIZE = 1712

# A relay worker is exec'd with these (src/relay/relay_worker.c).
RELAY_CTL_FD, RELAY_HANDOFF_FD = 3, 4

# src/worker/handoff.h, src/common/tls_state.h
HANDOFF_VERSION, HANDOFF_TUNNEL = 2, 1
HANDOFF_SIZE = 1968     # struct handoff_msg without pipelined bytes
TLS12, ECDHE_ECDSA_AES128_GCM_SHA256 = 0x0303, 0xC02B


def _hdr(version, mtype, size):
    return struct.pack("<HHI", version, mtype, size)


def _fixed(text, size):
    raw = text.encode() if isinstance(text, str) else text
    assert len(raw) <= size
    return raw.ljust(size, b"\0")


def auth_request(req_id, user="alice", password=None, host="forbidden.test", port=22,
                 tunnel_id=0x5eed, chain=b"", listener=0, client="192.0.2.1:40000"):
    """chain: a client certificate chain, DER back to back; client: the
    address the throttles count the request under."""
    password = h.USERS[user].password if password is None and user in h.USERS \
        else password or ""
    body = struct.pack("<QQqHH4x", req_id, tunnel_id, 1 << 62, port, listener)
    body += _fixed(user, 256) + _fixed(password, 256) + _fixed(host, 256)
    body += _fixed(client, 64) + _fixed("", 64) + _fixed("TLSv1.3", 16)
    body += _fixed("TLS_AES_128_GCM_SHA256", 64)
    body += struct.pack("<II", len(chain), 0) + chain
    msg = _hdr(AUTH_VERSION, AUTH_REQUEST, AUTH_REQUEST_SIZE + len(chain)) + body
    assert len(msg) == AUTH_REQUEST_SIZE + len(chain)
    return msg


def auth_reply(req_id, verdict=1):
    body = struct.pack("<QII", req_id, verdict, 4242)
    body += _fixed("rule", 64) + _fixed("127.0.0.1:1", 64) + _fixed("", 128)
    body += _fixed("alice", 256)
    msg = _hdr(AUTH_VERSION, AUTH_REPLY, AUTH_REPLY_SIZE) + body
    assert len(msg) == AUTH_REPLY_SIZE
    return msg


def audit_record(event, tunnel_id, closed_by=0, **fields):
    rec = struct.pack("<IIQQQQQ", EVENTS[event], closed_by, tunnel_id, 0, 0, 0, 0)
    for name, size in RECORD_FIELDS:
        rec += _fixed(fields.get(name, ""), size)
    return rec.ljust(RECORD_SIZE, b"\0")


def ctl_audit(event, tunnel_id, **fields):
    if event == "close":
        fields.setdefault("closed_by", CLOSED_BY_CLIENT)
    closed_by = fields.pop("closed_by", 0)
    msg = _hdr(CTL_VERSION, CTL_AUDIT, CTL_AUDIT_SIZE) + \
        audit_record(event, tunnel_id, closed_by, **fields)
    assert len(msg) == CTL_AUDIT_SIZE
    return msg


def ctl_relay_load(tunnels=0):
    """What a relay worker sent before the master counted for itself."""
    return _hdr(CTL_VERSION, CTL_RELAY_LOAD_RETIRED, 16) + struct.pack("<II", tunnels, 0)


def ctl_handoff(relay, tunnel_id, failed=False):
    """A gate worker's report: tunnel_id goes to relay slot (or stayed)."""
    msg = _hdr(CTL_VERSION, CTL_HANDOFF_FAILED if failed else CTL_HANDOFF,
               CTL_HANDOFF_SIZE) + struct.pack("<IIQ", relay, 0, tunnel_id)
    assert len(msg) == CTL_HANDOFF_SIZE
    return msg


def ctl_tunnel_stats(first_id, n=STATS_PER_MSG):
    """A worker's report of n tunnels numbered from first_id, none of them
    real: the master tells it to end each (tunnels_end_untracked)."""
    rows = b"".join(struct.pack("<QQQII", first_id + i, 0, 0, 0, 0)
                    for i in range(n))
    msg = _hdr(CTL_VERSION, CTL_TUNNEL_STATS, CTL_TUNNEL_STATS_SIZE) + \
        struct.pack("<II", n, 0) + rows.ljust(STATS_PER_MSG * 32, b"\0")
    assert len(msg) == CTL_TUNNEL_STATS_SIZE
    return msg


def ctl_gate_broke(slot, serial, why):
    """An authenticator's or key process's report: kill that gate worker."""
    msg = _hdr(CTL_VERSION, CTL_GATE_BROKE, CTL_GATE_BROKE_SIZE) + \
        struct.pack("<II", slot, serial) + _fixed(why, 128)
    assert len(msg) == CTL_GATE_BROKE_SIZE
    return msg


def _tls12_aes128_gcm_dir(seq):
    """A struct tls_state_dir: seq, no secret, a 16-byte key, a 4-byte salt."""
    return struct.pack("<Q48s32s12sBBBB", seq, b"", os.urandom(16), os.urandom(4),
                       0, 16, 4, 0)


def handoff_msg(tunnel_id, data=b""):
    """A tunnel as a gate worker hands it to a relay worker (two sockets go
    with it): TLS 1.2 state, which a relay worker cannot check against a
    secret, the facts of an open record and data pipelined for the backend."""
    tls = struct.pack("<HHI", TLS12, ECDHE_ECDSA_AES128_GCM_SHA256, 0)
    tls += _tls12_aes128_gcm_dir(1) + _tls12_aes128_gcm_dir(1)
    body = struct.pack("<QQqII", 0, 0, int(time.monotonic() * 1000), len(data), 0)
    body += tls + audit_record("open", tunnel_id, client="192.0.2.1:40000",
                               user="mallory", target="x.test:1", tls_version="TLSv1.2",
                               tls_cipher="ECDHE-ECDSA-AES128-GCM-SHA256")
    msg = _hdr(HANDOFF_VERSION, HANDOFF_TUNNEL, HANDOFF_SIZE + len(data)) + body + data
    assert len(msg) == HANDOFF_SIZE + len(data)
    return msg


def marker_id():
    """A tunnel id no real connection will have."""
    return int.from_bytes(os.urandom(8), "little") | 1


def tunnel_hex(tunnel_id):
    return f"{tunnel_id:016x}"


# ---------------------------------------------------------------------------
# Which of a worker's descriptors leads where

def unix_peers():
    """{socket inode: peer inode} of every connected Unix socket here."""
    out = subprocess.run(["ss", "-xanH"], capture_output=True, text=True,
                         check=True).stdout
    peers = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[5].isdigit() and parts[7].isdigit():
            peers[parts[5]] = parts[7]
    return peers


def _socket_fds(pid):
    return {fd: what[len("socket:["):-1] for fd, what in hf.open_files(pid).items()
            if what.startswith("socket:[")}


def _holders(inode, pids):
    return {p for p in pids if inode in _socket_fds(p).values()}


def _sockets(gw, pid, auths):
    """{'auth': fd, 'ctl': fd} of child pid, as far as it has them."""
    peers = unix_peers()
    others = set(gw.children()) - {pid}
    found = {}
    for fd, inode in _socket_fds(pid).items():
        peer = peers.get(inode)
        if peer is None:
            continue
        if _holders(peer, auths):
            found["auth"] = fd
        elif _holders(peer, {gw.proc.pid}) and not _holders(peer, others):
            found["ctl"] = fd
    return found


def gate_sockets(gw, pid):
    """{'auth': fd, 'ctl': fd} of gate worker pid: its authenticator socket's
    other end is held by the authenticators, its control socket's by the
    master alone."""
    auths = set(gw.wait_children("tg-auth", gw.settings["authenticator"]))
    found = _sockets(gw, pid, auths)
    assert set(found) == {"auth", "ctl"}, (pid, found)
    return found


def handoff_socket(gate, relay):
    """Gate worker gate's descriptor for handing tunnels to relay worker
    relay: the other end of the relay worker's RELAY_HANDOFF_FD."""
    theirs = _socket_fds(relay)[RELAY_HANDOFF_FD]
    ours = {inode: fd for fd, inode in _socket_fds(gate).items()}
    peer = unix_peers()[theirs]
    assert peer in ours, (gate, relay, peer)
    return ours[peer]


def ctl_socket(gw, pid):
    """The control socket of child pid: its other end the master's alone."""
    found = _sockets(gw, pid, set())
    assert "ctl" in found, (pid, found)
    return found["ctl"]


def by_slot(gw, pids):
    """Relay workers or key processes of a fresh gateway in slot order. Each
    shares one socket with the master (its handoff or gate socket), and the
    master made those in slot order, so slot 0's has its lowest descriptor."""
    master = {inode: fd for fd, inode in _socket_fds(gw.proc.pid).items()}

    def master_fd(pid):
        shared = [master[i] for i in _socket_fds(pid).values() if i in master]
        assert len(shared) == 1, (pid, shared)
        return shared[0]
    return sorted(pids, key=master_fd)


def peer_of(pid, candidates):
    """The one of candidates holding the other end of one of pid's sockets."""
    peers = unix_peers()
    found = {p for inode in _socket_fds(pid).values() if (peer := peers.get(inode))
             for p in _holders(peer, candidates)}
    assert len(found) == 1, (pid, found)
    return found.pop()


def steal(pid, fd):
    """The worker's descriptor as a non-blocking socket of our own."""
    s = socket.socket(fileno=steal_fd(pid, fd))
    s.setblocking(False)
    return s


def send(sock, msg, fds=()):
    """One datagram; True if sent, False if the socket is full."""
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    try:
        sock.sendmsg([msg], anc)
        return True
    except BlockingIOError:
        return False


def send_until_gone(sock, make_msg, timeout=20, fds=(), between=None):
    """Send make_msg() as fast as the receivers take it, until nobody holds
    the other end any more (the worker was killed and its socket replaced).
    between() runs after each attempt. Returns how many were sent."""
    sent, deadline = 0, time.monotonic() + h.scaled(timeout)
    while time.monotonic() < deadline:
        try:
            if send(sock, make_msg(), fds):
                sent += 1
            else:
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
            return sent
        if between is not None:
            between()
    raise AssertionError(f"the other end of the stolen socket was still there after "
                         f"{h.scaled(timeout):.0f}s and {sent} messages")


def recv_msg(sock, timeout=10):
    deadline = time.monotonic() + h.scaled(timeout)
    while True:
        try:
            return sock.recv(65536)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise AssertionError("no message on the stolen socket")
            time.sleep(0.01)



def recv_reply(sock, timeout=10):
    """The next AUTH_REPLY, past the TAKEN an authenticator sends first only
    when it had to wait (a cache miss, DNS, a slow connect)."""
    while (msg := recv_msg(sock, timeout))[2] == AUTH_TAKEN:
        pass
    return msg

# ---------------------------------------------------------------------------
# Processes

_WALL = 0x40000000


class Held:
    """A worker whose own code no longer runs, as when an attacker has taken
    over its thread: held in a ptrace stop, which (unlike SIGSTOP) its
    parent does not see, so the master judges it only by what the test sends
    on its sockets. SIGKILL still ends it; as its tracer the test must then
    take its death (reap()) before the master can."""

    def __init__(self, pid):
        self.pid, self.status = pid, None
        self._ptrace(tg_attacker.PTRACE_SEIZE)
        self._ptrace(tg_attacker.PTRACE_INTERRUPT)
        os.waitpid(pid, _WALL)

    def _ptrace(self, req):
        if tg_attacker._libc.ptrace(req, self.pid, None, None) == -1:
            raise OSError(f"ptrace({req}) on {self.pid}")

    def reap(self):
        """True once it has died (and its death is passed on)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG | _WALL)
            if pid == self.pid and not os.WIFSTOPPED(status):
                self.status = status
        return self.status is not None

    def release(self):
        if not self.reap():
            self._ptrace(tg_attacker.PTRACE_DETACH)

def allow_tunnels(gw, held, tunnels, backend_port, after=None):
    """Have an authenticator allow each of tunnels, asked for on the held
    gate worker's authenticator socket; the answers (and backend sockets)
    taken off that socket, so only the test knows the tunnels."""
    sock = steal(held.pid, gate_sockets(gw, held.pid)["auth"])
    with sock:
        for tunnel in tunnels:
            assert send(sock, auth_request(req_id=5, tunnel_id=tunnel,
                                           host="backend.test", port=backend_port))
            reply = recv_reply(sock)
            assert int.from_bytes(reply[16:20], "little") == VERDICT_ALLOW, reply[:24]
    for tunnel in tunnels:
        gw.wait_audit(after=after, event="allow", tunnel=tunnel_hex(tunnel))


def sync_written(gw, sock):
    """Until the master has read everything sent before on this gate
    worker's control socket: a gate worker's own kind of record, written
    once read, comes after it on the socket."""
    marker = marker_id()
    h.wait_for(lambda: send(sock, ctl_audit("error", marker, reason="sync")), 20,
               "room on the control socket", 0.002)
    return gw.wait_audit(event="error", tunnel=tunnel_hex(marker), after=0)


def wait_gone(pid, start, timeout=10):
    h.wait_for(lambda: not hf.process_alive(pid, start), timeout,
               f"process {pid} to be killed")


def wait_replaced(gw, comm, count, old, timeout=40):
    """count children named comm, none of them old (restarts back off)."""
    return gw.wait_children(comm, count, timeout, exclude=(old,))


def violations_about(gw, pid):
    return [e for e in gw.audit_events() if e["event"] == "violation"
            and f" {pid} " in e.get("reason", "")]


# The master's reason for a child that stopped reading (src/master/outbox.c).
STAYED_FULL = "control messages not delivered: its control socket stayed full"


def killed_held(gw, held, sock, reason, timeout=15):
    """Wait for the master to kill the held worker, let it go, close the
    stolen socket, and check the first violation record names reason."""
    try:
        h.wait_for(held.reap, timeout, "the master to kill the held worker")
    finally:
        held.release()
        sock.close()
    violations = violations_about(gw, held.pid)
    assert violations and reason in violations[0]["reason"], violations


def lines_with_tunnel(gw, tunnel_id):
    return [e for e in gw.audit_events() if e.get("tunnel") == tunnel_hex(tunnel_id)]
