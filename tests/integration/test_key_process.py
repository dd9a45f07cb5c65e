"""The key process (issue 12): the gateway's private key lives only in one
small tg-key process per gate worker slot, which signs handshakes for its
gate worker. Handshakes still work for ECDSA and RSA keys with TLS 1.2 and
1.3 (openssl s_client, curl), the key processes are sandboxed like the
workers, a key and certificate that do not match are refused at start and
on reload, and SIGHUP rotates both. No gate or relay worker's memory (nor
the master's or an authenticator's) holds the key's secret numbers after
handshakes and a handoff. An attacker in a gate worker, speaking on its
key socket, gets that worker killed for anything but well-formed requests
that fit the key, is throttled to TG_KEY_SIGN_RATE, and never takes the
key process down: the other gate worker keeps completing handshakes."""

import os
import pwd
import select
import shutil
import signal
import ssl
import subprocess
import time

import pytest

import handoff_fixtures as hf
import harness as h
import key_fixtures as kf
import proto_fixtures as pf
from test_secrets_in_memory import copies_in_memory
from tg_localuser import probe

# src/common/tg_limits.h
KEY_SIGN_RATE = KEY_SIGN_BURST = 5000

KINDS = ("ec-p256", "ec-p384", "rsa-2048")


@pytest.fixture(scope="module", params=KINDS)
def keyed(request, env, backends):
    gw = kf.key_gateway(env, f"key-{request.param}", request.param, gate=2,
                        authenticator=1, relay=1)
    yield request.param, gw
    gw.stop()
    assert not gw.problems, "; ".join(gw.problems)


def s_client_tunnel(gw, target, *opts):
    """A CONNECT tunnel through openssl s_client with opts; what it printed."""
    request = h.connect_request(target)
    with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}",
                 "-CAfile", str(gw.env.ca), "-verify_return_error",
                 "-verify_ip", "127.0.0.1", "-quiet", *opts]) as p:
        p.write(request + b"signed by the key process\n")
        return p.wait_output(b"signed by the key process\n")


# The signature schemes a server signs with, forced from the client side.
HANDSHAKES = {
    "ec-p256": [("-tls1_3",), ("-tls1_2",), ("-tls1_2", "-sigalgs", "ECDSA+SHA384"),
                ("-tls1_2", "-sigalgs", "ECDSA+SHA512")],
    "ec-p384": [("-tls1_3",), ("-tls1_2",), ("-tls1_2", "-sigalgs", "ECDSA+SHA256")],
    "rsa-2048": [("-tls1_3",), ("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha512"),
                 ("-tls1_2", "-sigalgs", "RSA+SHA256"), ("-tls1_2", "-sigalgs", "RSA+SHA384"),
                 ("-tls1_2", "-sigalgs", "rsa_pss_rsae_sha256")],
}


def test_s_client_handshakes_with_every_scheme(keyed, backends):
    kind, gw = keyed
    for opts in HANDSHAKES[kind]:
        out = s_client_tunnel(gw, f"backend.test:{backends.echo.port}", *opts)
        assert out == h.OK_STATUS_LINE + b"signed by the key process\n", opts


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_curl_downloads_through_the_key_process(keyed, backends, version, tmp_path):
    kind, gw = keyed
    out = tmp_path / "download"
    pw = h.USERS["alice"].password
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "--proxy", f"https://127.0.0.1:{gw.port}",
                        "--proxy-cacert", str(gw.env.ca), "--proxy-user", f"alice:{pw}",
                        "--proxy-tlsv1", "--tls-max", version, "-p", "-o", str(out),
                        f"http://backend.test:{backends.http.port}/bytes/100000"],
                       capture_output=True, timeout=40)
    assert r.returncode == 0, r.stderr
    assert h.sha256(out.read_bytes()) == h.stream_digest(100000)


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_one_sandboxed_key_process_per_gate_slot(keyed):
    _, gw = keyed
    keys = gw.wait_children("tg-key", 2)
    key_uid = str(pwd.getpwnam(h.KEY_USER).pw_uid)
    for pid in keys:
        st = _status(pid)
        assert st["Uid"].split() == [key_uid] * 4, st["Uid"]
        assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", pid
        assert h._ns_inode(pid, "net") != h._ns_inode(gw.proc.pid, "net")


def test_a_process_of_the_gate_workers_uid_cannot_signal_trace_or_read_the_key_process(keyed):
    """A gate worker that got past its system call filter is still the gate
    user. The key process is another user's (THREAT-MODEL.md: root or its
    own user), so that process can neither kill it, which would stall every
    handshake of its slot, nor trace it or read its memory for the key."""
    _, gw = keyed
    gate = pwd.getpwnam(h.GATE_USER)
    for pid in gw.wait_children("tg-key", 2):
        result = probe(pid, gate.pw_uid, gate.pw_gid)
        assert set(result["control"].values()) == {"ok"}, result
        assert result["target"] == {"environ": "Permission denied", "mem": "Permission denied",
                                    "ptrace": "Operation not permitted",
                                    "signal": "Operation not permitted"}, result


def test_handshakes_fail_without_the_key_process(make_gateway, backends):
    """The gate worker cannot sign by itself: with its key process held (a
    ptrace stop, which the master does not see) no handshake completes; once
    it runs again, they do."""
    gw = make_gateway("key-held", gate=1, authenticator=1, relay=0)
    [key] = gw.wait_children("tg-key", 1)
    h.TlsClient(gw.port, gw.env.ca, timeout=5).close()
    held = pf.Held(key)
    try:
        with pytest.raises((OSError, ssl.SSLError)):
            h.TlsClient(gw.port, gw.env.ca, timeout=10).close()
    finally:
        held.release()
    h.TlsClient(gw.port, gw.env.ca, timeout=5).close()
    assert "no signature from the key process in 2000 ms" in gw.stderr_text()


def test_mismatched_key_is_refused_by_the_check(make_gateway, env):
    gw = make_gateway("key-mismatch", start=False)
    shutil.copy(env.other_key, gw.key)
    r = gw.check_config()
    assert r.returncode == 1
    assert f"tls.key {gw.key} is not the private key of tls.certificate {gw.cert}" in r.stderr


def test_sighup_rotates_key_and_certificate(make_gateway, env, backends):
    gw = make_gateway("key-rotate", gate=2, authenticator=1, relay=1)
    target = f"backend.test:{backends.echo.port}"
    old_keys = gw.wait_children("tg-key", 2)
    cert, key = kf.make_key(env, "rsa-2048", name="rotated-rsa")
    with gw.tunnel(target) as live:
        kf.install_key(gw, cert, key)
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: set(gw.children("tg-key")).isdisjoint(old_keys)
                   and len(gw.children("tg-key")) == 2, 15, "new key processes")
        # The rotated certificate is RSA: a client that accepts only RSA
        # signatures now completes the handshake.
        out = s_client_tunnel(gw, target, "-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256")
        assert out.startswith(h.OK_STATUS_LINE)
        h.echo_round_trip(live)


def test_sighup_with_mismatched_key_keeps_the_old_pair(make_gateway, env, backends):
    gw = make_gateway("key-rotate-bad", gate=1, authenticator=1, relay=0)
    old_keys = gw.wait_children("tg-key", 1)
    shutil.copy(env.other_key, gw.key)
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the reload to fail")
    assert f"tls.key {gw.key} is not the private key of tls.certificate {gw.cert}" in gw.stderr_text()
    assert gw.children("tg-key") == old_keys
    assert gw.status_of(f"backend.test:{backends.echo.port}") == 200


# -- memory -------------------------------------------------------------------

def key_needles(key):
    """The key's secret numbers as they sit in memory: big-endian (DER, a
    decoded PEM) and little-endian (OpenSSL's BIGNUM limbs on x86-64), the
    first 32 bytes of each, far too many to occur by chance."""
    needles = []
    for n in kf.private_numbers(key):
        needles += [n[:32], n[::-1][:32]]
    return needles


def test_no_worker_memory_holds_the_key(keyed, backends):
    kind, gw = keyed
    with gw.tunnel(f"backend.test:{backends.echo.port}") as live:
        h.echo_round_trip(live, 1000)
        relays = gw.wait_children("tg-relay", 1)
        needles = key_needles(gw.key)
        for pid in gw.wait_children("tg-key", 2):
            assert copies_in_memory(pid, needles), f"the scan finds no key in tg-key {pid}"
        found = []
        for comm in ("tg-gate", "tg-auth"):
            for pid in gw.children(comm):
                found += [f"{comm} {pid}: {f}" for f in copies_in_memory(pid, needles)]
        for pid in relays:
            found += [f"tg-relay {pid}: {f}" for f in copies_in_memory(pid, needles)]
        found += [f"master: {f}" for f in copies_in_memory(gw.proc.pid, needles)]
    assert not found, f"{kind} key bytes in:\n" + "\n".join(found)


# -- an attacker in a gate worker --------------------------------------------

def _digest(n=32):
    return os.urandom(n)


# name -> (key kind, message factory)
BAD_REQUESTS = {
    "digest-of-the-wrong-size": ("ec-p256", lambda: kf.key_sign(
        1, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest(20))),
    "size-beyond-the-field": ("ec-p256", lambda: kf.key_sign(
        1, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest(32), length=4096)),
    "garbage": ("ec-p256", lambda: os.urandom(300)),
    "truncated": ("ec-p256", lambda: kf.key_sign(
        1, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest())[:60]),
    "rsa-signature-from-an-ec-key": ("ec-p256", lambda: kf.key_sign(
        1, kf.SCHEME_RSA_PKCS1, kf.DIGEST_SHA256, _digest())),
    # A raw RSA operation on a block of its choice would decrypt for it.
    "raw-rsa-block": ("rsa-2048", lambda: kf.key_sign(
        1, kf.SCHEME_RSA_PSS, 0, os.urandom(256))),
    "ecdsa-from-an-rsa-key": ("rsa-2048", lambda: kf.key_sign(
        1, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest())),
    # Well-formed, but never reading the answers.
    "flood": ("ec-p256", lambda: kf.key_sign(
        1, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest())),
}


@pytest.fixture(scope="module")
def attacked(env, backends):
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = kf.key_gateway(env, f"key-attack-{kind}", kind, gate=2,
                                        authenticator=1, relay=0)
        return made[kind]
    yield get
    for gw in made.values():
        gw.stop()
        assert not gw.problems, "; ".join(gw.problems)


def _take_over(gw):
    """A held gate worker and its stolen key socket."""
    victim = gw.wait_children("tg-gate", 2, 40)[0]
    held = pf.Held(victim)
    return held, pf.steal(victim, kf.key_socket(gw, victim))


def test_stolen_key_socket_signs_a_well_formed_request(attacked, tmp_path):
    gw = attacked("ec-p256")
    held, sock = _take_over(gw)
    digest = _digest()
    try:
        assert pf.send(sock, kf.key_sign(77, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, digest))
        req_id, sig = kf.parse_signature(pf.recv_msg(sock))
    finally:
        sock.close()
        held.release()
    assert req_id == 77
    assert kf.verify(gw.cert, digest, sig, tmp_path)
    assert held.pid in gw.children("tg-gate")
    assert not pf.violations_about(gw, held.pid)


@pytest.mark.parametrize("attack", sorted(BAD_REQUESTS))
def test_bad_request_kills_the_gate_worker_not_the_key_process(attacked, backends, attack):
    kind, make = BAD_REQUESTS[attack]
    gw = attacked(kind)
    keys = hf.start_times(gw.wait_children("tg-key", 2))
    held, sock = _take_over(gw)
    victim, start = held.pid, hf.start_time(held.pid)
    try:
        pf.send_until_gone(sock, make, between=held.reap)
    finally:
        sock.close()
        held.release()
    pf.wait_gone(victim, start)
    pf.wait_replaced(gw, "tg-gate", 2, victim)
    assert hf.start_times(gw.children("tg-key")) == keys, "a key process died"
    reasons = [v["reason"] for v in pf.violations_about(gw, victim)]
    assert any("key process:" in r for r in reasons), reasons
    # Both gate workers, the untouched one and the successor, still sign.
    for _ in range(6):
        h.TlsClient(gw.port, gw.env.ca, timeout=10).close()
    assert gw.status_of(f"backend.test:{backends.echo.port}") == 200


def test_a_reading_flood_is_throttled_not_served_at_will(attacked):
    """Requests as fast as answers come back: the key process signs no more
    than TG_KEY_SIGN_BURST plus TG_KEY_SIGN_RATE a second for one gate
    worker (it signs ECDSA P-256 several times faster than that)."""
    gw = attacked("ec-p256")
    held, sock = _take_over(gw)
    answered, sent, began = 0, 0, time.monotonic()
    msg = kf.key_sign(5, kf.SCHEME_ECDSA, kf.DIGEST_SHA256, _digest())
    try:
        # A few requests in flight, far fewer than fill its socket (which
        # is "not reading" and would get the worker killed).
        while time.monotonic() - began < 3:
            while sent - answered < 16 and pf.send(sock, msg):
                sent += 1
            if select.select([sock], [], [], 0.1)[0]:
                sock.recv(65536)
                answered += 1
        elapsed = time.monotonic() - began
    finally:
        sock.close()
        held.release()
    assert answered > 0
    assert answered <= KEY_SIGN_BURST + KEY_SIGN_RATE * elapsed * 1.05 + 10, (answered, elapsed)
    assert held.pid in gw.children("tg-gate")
