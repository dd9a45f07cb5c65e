"""Failed logins never hold the privileged pool, and their 407s tell nothing:
a client sending wrong passwords, for any user and any account state, gets
its 407 auth.failure_delay after its request, from its gate worker, while
every other client is served meanwhile (real pam_unix)."""

import threading
import time

import harness as h
from harness import assert_error, connect_request


class Attempt:
    """One CONNECT on its own thread: when it was sent, when and what came
    back (a status, or what went wrong)."""

    def __init__(self, gw, raw, timeout):
        self.gw, self.raw, self.timeout = gw, raw, timeout
        self.sent = threading.Event()
        self.sent_at = self.done_at = None
        self.resp = self.error = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            with self.gw.client(timeout=self.timeout) as c:
                c.send(self.raw)
                self.sent_at = time.monotonic()
                self.sent.set()
                resp = c.read_head(self.timeout)
                self.done_at = time.monotonic()
                if resp.status != 200:
                    resp.body = resp.rest + c.recv_until_closed(self.timeout)
                    resp.closed_how = c.closed_how
                self.resp = resp
        except BaseException as e:  # reported by the test, not the thread
            self.error = repr(e)
            self.sent.set()

    def wait(self):
        self.thread.join(h.scaled(60))
        assert not self.thread.is_alive(), "a client thread is stuck"
        assert self.error is None, self.error
        return self.resp

    @property
    def elapsed(self):
        return self.done_at - self.sent_at


def _spray(gw, target, n, timeout):
    """n wrong-password attempts at once, for alice, bob and an unknown user;
    every password is fresh, so no credential cache can answer."""
    users = ["alice", "bob", h.UNKNOWN_USER.name]
    attempts = [Attempt(gw, connect_request(target, users[i % 3],
                                            h.wrong_password(f"spray{i}")), timeout)
                for i in range(n)]
    for a in attempts:
        assert a.sent.wait(h.scaled(30)), "a spraying client could not send"
    return attempts


def _login(gw, target):
    with gw.tunnel(target, user="alice") as c:
        h.echo_round_trip(c)
    return time.monotonic()


def test_a_password_spray_never_makes_a_login_wait(make_gateway, backends):
    """20 clients send wrong passwords at once; alice, logging in five times
    right after, gets 200 every time, and all of it before the first of
    them has its 407; every one of them gets 407, never 503."""
    delay = h.scaled(3.0)
    gw = make_gateway("spray", failure_delay=delay)
    target = f"backend.test:{backends.echo.port}"
    spray = _spray(gw, target, 20, h.TIMEOUTS["auth"] + delay + 10)
    alice_done = [_login(gw, target) for _ in range(5)]
    for a in spray:
        assert_error(a.wait(), 407)
    first_407 = min(a.done_at for a in spray)
    assert max(alice_done) < first_407, "alice waited for the failed logins"
    assert min(a.elapsed for a in spray) >= 0.9 * delay


SLOW_PAM = """# pam_unix behind a slow first step (as a remote check would be)
auth	requisite	pam_exec.so quiet /usr/bin/sleep 0.3
auth	required	pam_unix.so
account	required	pam_unix.so
"""


def test_cached_logins_are_served_ahead_of_slow_checks(make_gateway, backends):
    """One authenticator, a PAM stack that takes 0.3 s per check: 16 fresh
    wrong passwords queue 5 s of work. alice, whose login is cached, logs in
    three times behind them and is answered before half of them are
    decided."""
    gw = make_gateway("fast-lane", start=False, authenticator=1, auth=h.scaled(30))
    (gw.dir / "pam.d" / "tunnelgate").write_text(SLOW_PAM)
    gw.start()
    target = f"backend.test:{backends.echo.port}"
    _login(gw, target)
    mark = gw.audit_mark()
    spray = _spray(gw, target, 16, h.scaled(60))
    for _ in range(3):
        _login(gw, target)
    decided = [e for e in gw.audit_events(after=mark) if e.get("event") == "auth_fail"]
    assert len(decided) < 8, f"alice was served after {len(decided)} of 16 slow checks"
    for a in spray:
        assert_error(a.wait(), 407)


CASES = {
    "expired account, right password": ("dave", None),
    "expired account, wrong password": ("dave", "wrong"),
    "locked account, right password": ("carol", None),
    "wrong password": ("alice", "wrong"),
    "unknown user": (h.UNKNOWN_USER.name, None),
    "empty password": ("alice", ""),
}


def test_every_407_for_credentials_comes_after_the_failure_delay(make_gateway, backends):
    """Whatever was wrong, and even when the credential cache knows the
    answer, the 407 arrives no earlier than the configured delay; a request
    without credentials, the first step of many clients, is answered at
    once, before any of them."""
    delay = 1.0
    gw = make_gateway("failure-delay", failure_delay=delay)
    target = f"backend.test:{backends.echo.port}"
    timeout = h.TIMEOUTS["auth"] + 10
    cached = h.wrong_password("cached")
    assert_error(Attempt(gw, connect_request(target, "bob", cached), timeout).wait(), 407)
    raws = {name: connect_request(target, user,
                                  h.wrong_password(user) if pw == "wrong" else pw)
            for name, (user, pw) in CASES.items()}
    raws["cached failure"] = connect_request(target, "bob", cached)
    attempts = {name: Attempt(gw, raw, timeout) for name, raw in raws.items()}
    bare = Attempt(gw, connect_request(target, user=None), timeout)
    assert_error(bare.wait(), 407)
    for name, a in attempts.items():
        assert_error(a.wait(), 407)
        assert a.elapsed >= 0.9 * delay, f"{name}: 407 after {a.elapsed:.2f}s"
        assert bare.done_at < a.done_at, f"{name} was answered before no credentials"


def test_a_check_slower_than_the_delay_is_answered_at_the_next_step(make_gateway, backends):
    """A check that takes longer than auth.failure_delay (here every check
    sleeps 1.3 s in the PAM stack, as a slow directory would) is answered at
    the next whole multiple of the delay after the request, 2 s, not when it
    ends: how long a kind of check took is hidden to the step. On the build
    before, the 407s came at about 1.3 s."""
    delay = 1.0
    gw = make_gateway("slow-check", start=False, failure_delay=delay)
    service = gw.dir / "pam.d" / "tunnelgate"
    service.write_text("auth required pam_exec.so quiet /bin/sleep 1.3\n" +
                       service.read_text())
    gw.start()
    target = f"backend.test:{backends.echo.port}"
    timeout = h.TIMEOUTS["auth"] + 10
    for user in ("alice", h.UNKNOWN_USER.name):
        a = Attempt(gw, connect_request(target, user, h.wrong_password(user)), timeout)
        assert_error(a.wait(), 407)
        assert a.elapsed >= 1.9 * delay, f"{user}: 407 after {a.elapsed:.2f}s"


def test_a_held_407_does_not_stall_its_gate_worker(make_gateway, backends):
    """With one gate worker: while a wrong password's 407 is held, a tunnel
    already open keeps relaying, a new login gets its tunnel and a request
    without credentials its 407, all before the held 407 goes out."""
    delay = h.scaled(3.0)
    gw = make_gateway("held-407", gate=1, failure_delay=delay)
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target, user="bob") as open_tunnel:
        wrong = Attempt(gw, connect_request(target, "alice", h.wrong_password()),
                        h.TIMEOUTS["auth"] + delay + 10)
        assert wrong.sent.wait(h.scaled(10))
        h.echo_round_trip(open_tunnel)
        _login(gw, target)
        assert_error(gw.attempt(connect_request(target, user=None)), 407)
        others_done = time.monotonic()
        h.echo_round_trip(open_tunnel)
    assert_error(wrong.wait(), 407)
    assert others_done < wrong.done_at, "the gate worker stalled during the delay"
    assert wrong.elapsed >= 0.9 * delay
