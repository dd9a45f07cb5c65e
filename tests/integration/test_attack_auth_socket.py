"""A compromised gate worker against the authenticators (THREAT-MODEL.md,
attacker 4: "cannot crash or stall the authenticators; the less-privileged
side dies"). The attacker owns a real gate worker: its own loop no longer
runs (held in a ptrace stop), and it speaks on the worker's authenticator
socket (a duplicate taken with pidfd_getfd). Whatever it sends, the
authenticators stay up and keep serving the other gate worker, and the gate
worker that sent it is killed and replaced, with a fresh socket pair."""

import os
import socket
import threading

import pytest

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf


def _request_bytes():
    return pf.auth_request(req_id=7, host="backend.test", port=9)


def _unterminated_user():
    msg = bytearray(_request_bytes())
    msg[40:40 + 256] = b"A" * 256
    return bytes(msg)


# name -> (message factory, descriptors attached)
BAD_MESSAGES = {
    "malformed": (_unterminated_user, False),
    "truncated": (lambda: _request_bytes()[:100], False),
    "oversized": (lambda: _request_bytes() + b"\0" * 64, False),
    "carries-a-descriptor": (_request_bytes, True),
    "a-reply-from-the-gate": (lambda: pf.auth_reply(req_id=7), False),
    # recvmsg() returns 0 for these, as at the end of the stream.
    "empty": (lambda: b"", False),
    "empty-with-a-descriptor": (lambda: b"", True),
}


class LoginLoop:
    """A legitimate client logging in again and again; each attempt holds the
    lock, so the test can stop a gate worker between two attempts."""

    def __init__(self, gw, target):
        self.gw, self.target = gw, target
        self.lock = threading.Lock()
        self.statuses = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            with self.lock:
                self.statuses.append(self.gw.status_of(self.target, timeout=15))

    def finish(self):
        self.stop.set()
        self.thread.join(h.scaled(60))
        return self.statuses


def _fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _take_over_a_gate_worker(gw, logins):
    """Hold the older gate worker between two logins; the other serves."""
    gates = gw.wait_children("tg-gate", 2, 40)
    victim = min(gates, key=lambda p: int(hf.start_time(p)))
    with logins.lock:
        return pf.Held(victim)


def _attack(gw, logins, kind):
    make, with_fd = BAD_MESSAGES[kind]
    held = _take_over_a_gate_worker(gw, logins)
    victim, start = held.pid, hf.start_time(held.pid)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    devnull = os.open("/dev/null", os.O_RDONLY)
    try:
        sent = pf.send_until_gone(sock, make, fds=(devnull,) if with_fd else (),
                                  between=held.reap)
    finally:
        os.close(devnull)
        sock.close()
        held.release()
    pf.wait_gone(victim, start)
    pf.wait_replaced(gw, "tg-gate", 2, victim)
    return victim, sent


def test_the_stolen_socket_speaks_the_real_protocol(make_gateway):
    """The packer is right: a well-formed request from the stolen socket is
    answered (policy deny for forbidden.test), and nobody is killed."""
    gw = make_gateway("auth-socket-control")
    victim = gw.wait_children("tg-gate", 2)[0]
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    try:
        assert pf.send(sock, pf.auth_request(req_id=99, tunnel_id=0xc0ffee))
        taken, reply = pf.recv_msg(sock), pf.recv_msg(sock)
    finally:
        sock.close()
        held.release()
    assert len(taken) == pf.AUTH_TAKEN_SIZE and taken[2] == pf.AUTH_TAKEN
    assert len(reply) == pf.AUTH_REPLY_SIZE and reply[2] == pf.AUTH_REPLY
    assert int.from_bytes(reply[16:20], "little") == pf.VERDICT_POLICY_DENY
    gw.wait_audit(event="deny", tunnel=pf.tunnel_hex(0xc0ffee))
    assert victim in gw.children("tg-gate")
    assert not pf.violations_about(gw, victim)


def test_taken_comes_before_a_wait_and_never_for_an_answer_from_memory(make_gateway):
    """alice's first request misses the credential cache and waits for PAM:
    TAKEN (naming an authenticator) comes first, then the reply. The same
    credentials again are answered from the cache (forbidden.test is denied
    without a lookup): the reply alone, as nothing waited."""
    gw = make_gateway("auth-socket-taken")
    victim = gw.wait_children("tg-gate", 2)[0]
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    try:
        assert pf.send(sock, pf.auth_request(req_id=7))
        taken, reply = pf.recv_msg(sock), pf.recv_msg(sock)
        assert pf.send(sock, pf.auth_request(req_id=8))
        again = pf.recv_msg(sock)
    finally:
        sock.close()
        held.release()
    assert taken[2] == pf.AUTH_TAKEN and int.from_bytes(taken[8:16], "little") == 7
    assert int.from_bytes(taken[16:20], "little") in gw.children("tg-auth")
    assert reply[2] == pf.AUTH_REPLY and int.from_bytes(reply[8:16], "little") == 7
    assert again[2] == pf.AUTH_REPLY and int.from_bytes(again[8:16], "little") == 8
    assert int.from_bytes(again[16:20], "little") == pf.VERDICT_POLICY_DENY


def test_bad_messages_kill_the_gate_worker_never_the_authenticators(make_gateway, backends):
    gw = make_gateway("auth-socket-attack", gate=2, authenticator=3)
    auths = hf.start_times(gw.wait_children("tg-auth", 3))
    fds_before = {p: _fd_count(p) for p in auths}
    logins = LoginLoop(gw, f"backend.test:{backends.echo.port}")
    victims = {}
    try:
        for kind in BAD_MESSAGES:
            victims[kind] = _attack(gw, logins, kind)
    finally:
        statuses = logins.finish()

    # Every legitimate login went through, all along.
    assert len(statuses) >= 10 and set(statuses) == {200}, statuses
    # The same authenticators, none restarted, none holding smuggled fds.
    assert hf.start_times(gw.children("tg-auth")) == auths
    for pid, before in fds_before.items():
        assert _fd_count(pid) <= before + 2, (pid, before, _fd_count(pid))
    log = gw.stderr_text()
    for kind, (victim, sent) in victims.items():
        assert sent >= 1, kind
        assert f"gate worker {victim} (generation 1): sent a bad message" in log, kind
        assert f"gate worker {victim} killed by signal 9" in log, kind
        lines = pf.violations_about(gw, victim)
        assert len(lines) == 1, (kind, lines)
        assert lines[0]["role"] == "master" and lines[0]["pid"] == gw.proc.pid
        assert "bad message" in lines[0]["reason"], lines[0]


# 127.0.0.2, which STANDARD_POLICY denies alice by address, in the spellings
# inet_aton(3), getaddrinfo(3) and the IPv6 embeddings accept. The gate
# worker's parser never lets them through as typed, so only a compromised
# gate worker can put them in a request.
NUMERIC_FORMS = ["127.0.0.2", "2130706434", "0x7f000002", "0177.0.0.2", "127.2", "127.0.2",
                 "127.0.0.2.", "::ffff:127.0.0.2", "[::ffff:127.0.0.2]", "::ffff:7f00:2",
                 "64:ff9b::7f00:2", "::127.0.0.2", "2002:7f00:2::"]


def test_no_spelling_of_a_denied_address_gets_the_authenticator_to_connect(make_gateway):
    """From alice's gate worker, each form of 127.0.0.2 to a listener there:
    the answer is never ALLOW and nothing ever connects to it, while the
    same request for an allowed address (127.0.0.3, rule ops) connects."""
    gw = make_gateway("auth-socket-forms", gate=1)
    victim, = gw.wait_children("tg-gate", 1)
    denied, allowed = socket.create_server(("127.0.0.2", 0)), socket.create_server(("127.0.0.3", 0))
    port = denied.getsockname()[1]
    allowed.close()
    allowed = socket.create_server(("127.0.0.3", port))
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    try:
        verdicts = {}
        for i, host in enumerate(NUMERIC_FORMS + ["127.0.0.3"]):
            assert pf.send(sock, pf.auth_request(req_id=100 + i, host=host, port=port))
            reply = pf.recv_reply(sock, timeout=h.TIMEOUTS["auth"] + 5)
            verdicts[host] = int.from_bytes(reply[16:20], "little")
    finally:
        sock.close()
        held.release()
    assert verdicts.pop("127.0.0.3") == 1, "the control request was not allowed"
    assert 1 not in verdicts.values(), verdicts
    for s in (denied, allowed):
        s.setblocking(False)
    with pytest.raises(BlockingIOError):
        denied.accept()
    allowed.accept()[0].close()
    denied.close()
    allowed.close()
