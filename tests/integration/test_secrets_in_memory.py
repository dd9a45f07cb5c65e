"""Credentials do not outlive the request that carried them (issue 9,
"Hygiene"): after a refusal the gate worker decides itself, no copy of the
Basic credentials is left anywhere in the worker's memory. The test reads the
gate worker's whole address space as root through /proc/PID/maps and
/proc/PID/mem, as an attacker who later gains code execution in it could.
"""

import base64
import secrets
import time

import pytest

import harness as h
import ldap_fixtures as lf


# Larger mappings are a sanitizer's shadow memory, terabytes of zero pages.
LARGEST_MAPPING = 1 << 30
CHUNK = 64 << 20
OVERLAP = 256


def readable_memory(pid):
    """(address, bytes) pieces of every readable mapping of pid, overlapping
    so that no needle shorter than OVERLAP falls between two."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > LARGEST_MAPPING:
                continue
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    yield at, mem.read(min(CHUNK + OVERLAP, hi - at))
                except OSError:
                    break


def copies_in_memory(pid, needles):
    found = set()
    for lo, data in readable_memory(pid):
        for needle in needles:
            at = data.find(needle)
            while at >= 0:
                found.add(f"{needle[:12]!r}... at {lo + at:#x}")
                at = data.find(needle, at + 1)
    return sorted(found)


def credential():
    password = f"Marker-{secrets.token_hex(12)}"
    token = base64.b64encode(f"alice:{password}".encode())
    h.SENT_SECRETS.update({password, token.decode()})
    return password, token


def auth_line(token):
    return b"Proxy-Authorization: Basic " + token + b"\r\n"


# Each request carries the credentials in a header and is refused by the gate
# worker itself, before any authenticator sees it.
REFUSED = {
    "400": lambda t: b"CONNECT backend.test HTTP/1.1\r\n" + auth_line(t) + b"\r\n",
    "405": lambda t: b"GET http://backend.test/ HTTP/1.1\r\n" + auth_line(t) + b"\r\n",
    "431": lambda t: (b"CONNECT backend.test:8080 HTTP/1.1\r\n" + auth_line(t)
                      + b"X-Filler: " + b"a" * 9000 + b"\r\n\r\n"),
    "408": lambda t: b"CONNECT backend.test:8080 HTTP/1.1\r\n" + auth_line(t),
}


@pytest.fixture(scope="module")
def lone_gate(env, backends):
    """One gate worker, so the one to read is known."""
    gw = h.Gateway(env, "secrets-in-memory", gate=1, authenticator=1, relay=1)
    gw.start()
    yield gw
    lf.finish(gw)


def send_and_wait_closed(gw, raw, expect):
    """Send raw; return the gate pid once it has closed the connection."""
    c = gw.client()
    try:
        c.send(raw)
        pid = gw.gate_pid_of(c)
        inode = h.tcp_inode(gw.port, c.local_port)
        if expect is not None:
            h.assert_error(c.read_error(timeout=h.TIMEOUTS["request"] + 5), expect)
        else:
            time.sleep(0.2)
    finally:
        c.close()
    h.wait_for(lambda: not h._holds_socket(pid, inode), 10,
               f"gate worker {pid} to close the connection")
    return pid


@pytest.mark.parametrize("status", sorted(REFUSED))
def test_no_copy_of_credentials_after_refusal(lone_gate, status):
    password, token = credential()
    pid = send_and_wait_closed(lone_gate, REFUSED[status](token), int(status))
    found = copies_in_memory(pid, [password.encode(), token])
    assert not found, f"{status}: credentials left in gate worker {pid}:\n" + "\n".join(found)


def test_no_copy_of_credentials_after_client_hangs_up(lone_gate):
    password, token = credential()
    raw = b"CONNECT backend.test:8080 HTTP/1.1\r\n" + auth_line(token)
    pid = send_and_wait_closed(lone_gate, raw, None)
    found = copies_in_memory(pid, [password.encode(), token])
    assert not found, f"credentials left in gate worker {pid}:\n" + "\n".join(found)


def test_memory_scan_finds_credentials_still_in_use(make_gateway):
    """The scan itself works: credentials of a request still being read are
    found in the worker. The request stays pending for longer than a scan
    of a sanitized worker takes (seconds), which timeouts.request would
    otherwise cut short and wipe."""
    gw = make_gateway("secrets-scan", gate=1, authenticator=1, relay=1, request=120.0)
    password, token = credential()
    with gw.client() as c:
        c.send(b"CONNECT backend.test:8080 HTTP/1.1\r\n" + auth_line(token))
        pid = gw.gate_pid_of(c)
        found = h.wait_for(lambda: copies_in_memory(pid, [token]), 5,
                           "the pending request in the worker's memory")
    assert found


# -- authenticators -------------------------------------------------------------

def auth_copies(gw, needles):
    found = []
    for pid in gw.children("tg-auth"):
        found += [f"tg-auth {pid}: {f}" for f in copies_in_memory(pid, needles)]
    return found


def test_no_copy_of_a_wrong_password_in_pam_authenticators(lone_gate):
    password, token = credential()
    resp = lone_gate.attempt(h.connect_request("backend.test:8080", "alice", password),
                             timeout=h.TIMEOUTS["auth"] + 5)
    h.assert_error(resp, 407)
    lone_gate.wait_audit(event="auth_fail", client=resp.client_address)
    found = auth_copies(lone_gate, [password.encode(), token])
    assert not found, "\n".join(found)


@pytest.fixture(scope="module")
def ldap_gate(env, backends):
    slapd = lf.Slapd(env.tmp, "slapd-secrets")
    secret = env.tmp / "ldap-secrets-bind.secret"
    slapd.write_service_secret(secret)
    policy = ('version = 1;\nrules = ( { name = "ops"; action = "allow"; '
              f'groups = ["ops"]; hosts = ["127.0.0.1"]; ports = [{backends.echo.port}]; }} );\n')
    gw = lf.LdapGateway(env, "secrets-ldap", lf.ldap_block([slapd.uri], slapd.ca, secret=secret),
                        policy=policy, gate=1, authenticator=1, relay=0)
    gw.start()
    lf.wait_ready(gw)
    yield gw
    lf.finish(gw)
    slapd.close()


@pytest.mark.skipif(h.SCALE > 1, reason="libldap's unwiped BER buffers are overwritten "
                    "by glibc's M_PERTURB, which ASan's allocator ignores")
def test_no_copy_of_passwords_in_ldap_authenticators(ldap_gate, backends):
    gw = ldap_gate
    alice = lf.USERS["alice"]
    target = f"127.0.0.1:{backends.echo.port}"
    with gw.tunnel(target, alice.uid, alice.password) as c:
        h.echo_round_trip(c, 100)
    password, token = credential()
    resp = gw.attempt(h.connect_request(target, "alice", password),
                      timeout=h.TIMEOUTS["auth"] + 5)
    h.assert_error(resp, 407)
    gw.wait_audit(event="auth_fail", client=resp.client_address)
    found = auth_copies(gw, [password.encode(), alice.password.encode()])
    assert not found, "\n".join(found)
