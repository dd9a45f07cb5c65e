"""Proxy authentication against real pam_unix with the test users."""

import base64
import threading
import time

import pytest

import harness as h
from harness import assert_error, connect_request


def _request(case, target):
    if case == "no-credentials":
        return connect_request(target, user=None)
    if case == "wrong-password":
        return connect_request(target, "alice", h.wrong_password("alice"))
    if case == "unknown-user":
        return connect_request(target, h.UNKNOWN_USER.name, h.UNKNOWN_USER.password)
    if case == "locked-account":
        return connect_request(target, "carol")
    if case == "expired-account":
        return connect_request(target, "dave")
    if case == "other-users-password":
        return connect_request(target, "bob", h.USERS["alice"].password)
    if case == "bearer-scheme":
        token = base64.b64encode(h.USERS["alice"].password.encode()).decode()
        h.SENT_SECRETS.add(token)
        return connect_request(target, user=None,
                               headers=[f"Proxy-Authorization: Bearer {token}"])
    if case == "empty-password":
        return connect_request(target, "alice", "")
    raise ValueError(case)


REJECTED = ("no-credentials", "wrong-password", "unknown-user", "locked-account",
            "expired-account", "other-users-password", "bearer-scheme", "empty-password")


@pytest.mark.parametrize("case", REJECTED)
def test_rejected_credentials_get_407(gateway, backends, case):
    with h.EchoServer() as echo:
        resp = gateway.attempt(_request(case, f"backend.test:{echo.port}"),
                               timeout=h.TIMEOUTS["auth"] + 5)
        assert_error(resp, 407)
        assert echo.accepted == 0


def test_every_407_is_the_same_bytes(gateway, backends):
    """A 407 never says which part was wrong: whatever the credentials were
    (none, an unknown user, a wrong password, a locked or expired account),
    the answer is the same bytes (when it comes: test_failed_logins.py)."""
    target = f"backend.test:{backends.echo.port}"
    answers = {}
    for case in REJECTED:
        r = gateway.attempt(_request(case, target), timeout=h.TIMEOUTS["auth"] + 5)
        answers[case] = r.head + r.rest + r.body
    assert len(set(answers.values())) == 1, answers
    assert answers["wrong-password"].startswith(b"HTTP/1.1 407 "), answers


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_valid_credentials_open_tunnel(gateway, backends, user):
    with gateway.tunnel(f"backend.test:{backends.echo.port}", user=user) as c:
        h.echo_round_trip(c)


def test_slow_pam_failure_does_not_delay_other_users(make_gateway, backends):
    """bob's wrong password is answered 3 s after his request; alice, asking
    at the same time, must get her tunnel first."""
    gw = make_gateway("slow-pam", failure_delay=3.0)
    target = f"backend.test:{backends.echo.port}"
    done = {}

    def ask(who, password):
        try:
            resp = gw.attempt(connect_request(target, who, password),
                              timeout=h.TIMEOUTS["auth"] + 5)
            done[who] = (time.monotonic(), resp.status)
        except BaseException as e:
            done[who] = (time.monotonic(), repr(e))

    bob = threading.Thread(target=ask, args=("bob", h.wrong_password("bob")))
    bob.start()
    time.sleep(0.3)
    alice = threading.Thread(target=ask, args=("alice", h.USERS["alice"].password))
    alice.start()
    alice.join(h.scaled(20))
    bob.join(h.scaled(20))
    assert done["alice"][1] == 200, done
    assert done["bob"][1] == 407, done
    assert done["alice"][0] < done["bob"][0], "alice waited for bob's failed login"
