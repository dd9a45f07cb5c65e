"""One credential cache for the authenticator pool (auth/auth_cache.c): a
user the directory verified once is served from the cache by whichever of
four authenticators answers, so during a directory outage every login of a
cached user gets in (with a cache per process, only the authenticator that
had cached him answered). `tunnelgatectl cache flush --user U` forgets one
user at once (his next login during the outage fails, another cached user's
still gets in), `cache flush` forgets everyone, and a non-root caller is
refused. The cache lives in a shared mapping that only the master and the
authenticators hold: gate, relay and key workers have neither the mapping
nor a descriptor of it."""

import os
import subprocess

import pytest

import harness as h
import ldap_fixtures as lf
from harness import assert_error
from test_ldap import Echoes
from test_secrets_in_memory import copies_in_memory
from tg_env import daemon_path, scaled

ALICE, ERIN = lf.USERS["alice"], lf.USERS["erin"]
NOBODY = 65534
AUTHENTICATORS = 4
# With four caches of their own, 16 logins all reaching the one that had
# cached the user is a chance of 4**-15.
TRIES = 16
CACHE_MAP = "tg-authcache"


@pytest.fixture(scope="module")
def echoes(backends):
    e = Echoes(backends.http.port)
    yield e
    e.close()


@pytest.fixture(scope="module")
def directory(env):
    s = lf.Slapd(env.tmp, "slapd-shared-cache")
    yield s
    s.close()


@pytest.fixture(scope="module")
def gw(env, directory, echoes):
    path = env.tmp / "ldap-shared-cache.secret"
    directory.write_service_secret(path)
    g = lf.LdapGateway(env, "shared-cache", lf.ldap_block(
        [directory.uri], directory.ca, secret=path, backoff=0.3),
        policy=echoes.policy, authenticator=AUTHENTICATORS, gate=2, relay=2)
    g.start()
    lf.wait_ready(g)
    yield g
    lf.finish(g)


def ctl(gw, *args, user=None, check=None):
    r = subprocess.run([str(daemon_path().parent / "tunnelgatectl"), *args, "-s",
                        str(gw.control_path)], capture_output=True, text=True,
                       timeout=scaled(30), user=user)
    if check is not None:
        assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    return r


def _flushes(gw, mark):
    """The cache_flush audit records since mark, without time, pid and chain."""
    return [{k: v for k, v in e.items() if k not in ("v", "time", "event", "pid",
                                                     "seq", "prev")}
            for e in gw.audit_events(after=mark) if e["event"] == "cache_flush"]


def status(gw, user, target):
    return lf.login(gw, user.uid, user.password, target)[0]


def maps_and_fds(pid):
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return maps, fds


def test_only_the_master_and_authenticators_hold_the_cache(gw):
    auths = gw.wait_children("tg-auth", AUTHENTICATORS)
    holders = [gw.proc.pid, *auths]
    for pid in holders:
        assert CACHE_MAP in maps_and_fds(pid)[0], pid
    # A key worker for each gate worker.
    workers = {comm: gw.wait_children(comm, 2) for comm in
               ("tg-gate", "tg-relay", "tg-key")}
    for comm, pids in workers.items():
        for pid in pids:
            maps, fds = maps_and_fds(pid)
            assert CACHE_MAP not in maps, (comm, pid)
            assert not [f for f in fds if CACHE_MAP in f], (comm, pid, fds)


def _cache_secrets(pid):
    """32-byte pieces of the cache mapping, as pid sees it, that look random
    (the salt, the digests of cached credentials), none overlapping another."""
    with open(f"/proc/{pid}/maps") as f:
        spans = [line.split()[0] for line in f if CACHE_MAP in line]
    pieces = []
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for span in spans:
            lo, hi = (int(x, 16) for x in span.split("-"))
            mem.seek(lo)
            data = mem.read(hi - lo)
            at = 0
            while at + 32 <= len(data):
                if len(set(data[at:at + 32])) >= 24:
                    pieces.append(data[at:at + 32])
                    at += 32
                else:
                    at += 8
    return pieces


def test_no_worker_holds_what_the_cache_holds(gw, echoes):
    """Attacker 4 cannot learn cached credentials: after alice's cached
    logins, nothing random-looking of the cache (its salt, the digest of
    her credentials) is anywhere in a gate worker's, relay worker's or key
    process's memory, while the same scan finds it in an authenticator."""
    for _ in range(2):
        assert status(gw, ALICE, echoes.target("ops")) == 200
    auth = gw.wait_children("tg-auth", AUTHENTICATORS)[0]
    pieces = _cache_secrets(auth)
    assert pieces, "nothing random-looking in the cache mapping"
    assert copies_in_memory(auth, pieces), "the scan does not find them where they are"
    for comm in ("tg-gate", "tg-relay", "tg-key"):
        for pid in gw.wait_children(comm, 2):
            found = copies_in_memory(pid, pieces)
            assert not found, f"{comm} {pid}: {found}"


def test_a_cached_user_gets_in_whichever_authenticator_answers(gw, directory, echoes):
    ops = echoes.target("ops")
    assert status(gw, ALICE, ops) == 200
    assert status(gw, ERIN, ops) == 200
    directory.stop()
    try:
        got = [status(gw, ALICE, ops) for _ in range(TRIES)]
        assert got == [200] * TRIES, got

        # Not root: refused, and nothing is forgotten.
        mark = gw.audit_mark()
        r = ctl(gw, "cache", "flush", "--user", ALICE.uid, user=NOBODY, check=2)
        os.chmod(gw.control_path, 0o666)
        try:
            r = ctl(gw, "cache", "flush", "--user", ALICE.uid, user=NOBODY, check=2)
        finally:
            os.chmod(gw.control_path, 0o600)
        assert "serves root only (uid 65534)" in r.stderr, r.stderr
        assert status(gw, ALICE, ops) == 200
        assert not _flushes(gw, mark), "a refused caller's flush was audited"

        r = ctl(gw, "cache", "flush", "--user", ALICE.uid.upper(), check=0)
        assert r.stdout.startswith("1 credential cache entries forgotten"), r.stdout
        assert (f"control socket: uid 0: cache flush of user {ALICE.uid.upper()}: "
                "1 entries forgotten") in gw.stderr_text()
        assert _flushes(gw, mark) == [{
            "role": "master", "by": "uid 0", "user": ALICE.uid.upper(),
            "reason": "applied: one user", "entries": 1}]
        resp = gw.attempt(h.connect_request(ops, ALICE.uid, ALICE.password),
                          timeout=h.TIMEOUTS["auth"] + 5)
        assert_error(resp, 503)
        got = [status(gw, ERIN, ops) for _ in range(TRIES // 2)]
        assert got == [200] * (TRIES // 2), got

        # erin's entry and wait_ready's refused empty password.
        mark = gw.audit_mark()
        r = ctl(gw, "cache", "flush", check=0)
        assert r.stdout.startswith("2 credential cache entries forgotten"), r.stdout
        assert "cache flush of every user" in gw.stderr_text()
        assert _flushes(gw, mark) == [{
            "role": "master", "by": "uid 0", "reason": "applied: every user",
            "entries": 2}]
        assert status(gw, ERIN, ops) == 503
    finally:
        directory.start()
    h.wait_for(lambda: status(gw, ALICE, ops) == 200, 10,
               "alice's login after slapd came back", interval=0.2)


def _membership(directory, change, user, group="ops"):
    directory._tool("ldapmodify", input=(
        f"dn: cn={group},{lf.GROUPS_BASE}\nchangetype: modify\n{change}: member\n"
        f"member: {user.dn}\n").encode())


def test_a_removed_membership_counts_at_once_after_a_flush(gw, directory, echoes):
    """erin leaves ops: her cached entry keeps ops for every authenticator
    alike until `cache flush --user erin`, after which the next login asks
    the directory and the ops rule no longer allows her."""
    ops = echoes.target("ops")
    assert status(gw, ERIN, ops) == 200
    _membership(directory, "delete", ERIN)
    try:
        got = [status(gw, ERIN, ops) for _ in range(TRIES // 2)]
        assert got == [200] * (TRIES // 2), got
        ctl(gw, "cache", "flush", "--user", ERIN.uid, check=0)
        got = [status(gw, ERIN, ops) for _ in range(TRIES // 2)]
        assert got == [403] * (TRIES // 2), got
    finally:
        _membership(directory, "add", ERIN)
