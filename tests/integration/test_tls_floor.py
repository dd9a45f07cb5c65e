"""What a network attacker can get out of the TLS listener (THREAT-MODEL.md,
attacker 3: TLS 1.2/1.3 AEAD only, no renegotiation, no 0-RTT), asked with
openssl s_client made as willing as this OpenSSL can be, so that every
refusal is the gateway's answer to something the client really offered:
TLS 1.0 and 1.1 get a protocol_version alert, CBC and NULL suites a
handshake_failure, a renegotiation before the request a no_renegotiation
alert (and the gate worker goes on serving), and early data sent on a
ticket is never read. KeyUpdates before the request, which TLS 1.3 allows,
are followed into the tunnel. Versions and suites are asked of gateways
with the daemon's default TLS settings (no min_version or cipher lines),
with an EC and an RSA certificate.
"""

import base64
import re
import subprocess

import pytest

import harness as h
import handoff_fixtures as hf
from harness import connect_request

# Security level 0 is what lets this OpenSSL offer TLS 1.0 and 1.1 and the
# SHA-1 and NULL suites at all.
WILLING = "@SECLEVEL=0"

REFUSED_SUITES = {
    "ec": ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-NULL-SHA"),
    "rsa": ("AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"),
}
ACCEPTED_SUITES = {"ec": hf.TLS12_EC_SUITES, "rsa": hf.TLS12_RSA_SUITES}

NO_RENEGOTIATION = b"<<< TLS 1.2, Alert [length 0002], warning no_renegotiation"
KEY_UPDATE_SENT = b">>> TLS 1.3, Handshake [length 0005], KeyUpdate"
KEY_UPDATE_RECEIVED = b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate"
HANDSHAKE_DONE = b"Verify return code: 0 (ok)"


def s_client(gw, *args):
    """s_client with -msg, which shows every record and alert each way."""
    return ["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}", "-CAfile",
            str(gw.env.ca), "-verify_return_error", "-verify_ip", "127.0.0.1", "-msg", *args]


def refused_handshake(gw, target, *args):
    """s_client's output from a handshake that must fail, its request unsent."""
    r = subprocess.run(s_client(gw, *args), input=connect_request(target),
                       capture_output=True, timeout=h.scaled(30))
    assert r.returncode != 0, r.stdout[-1500:]
    assert b"Cipher is (NONE)" in r.stdout, r.stdout[-1500:]
    assert h.OK_STATUS_LINE not in r.stdout
    return r.stdout


def tunnel_opened(gw, target, *args):
    """s_client's output once a line came back through its tunnel."""
    with h.Proc(s_client(gw, *args)) as s:
        s.write(connect_request(target))
        s.wait_output(h.OK_STATUS_LINE)
        s.write(b"through the tunnel\n")
        return s.wait_output(b"through the tunnel\n")


# ---------------------------------------------------------------------------
# Versions and suites, with the daemon's defaults

DEFAULTED = re.compile(r"^\s*(min_version|tls13_ciphersuites|tls12_ciphers) = .*\n", re.M)


def default_tls_gateway(env, name, rsa):
    gw = h.Gateway(env, name)
    if rsa:
        cert, key = hf.rsa_certificate(env)
        gw.cert.write_bytes(cert.read_bytes())
        gw.key.write_bytes(key.read_bytes())
    text, n = DEFAULTED.subn("", gw.config_text())
    assert n == 3, "the harness's config template changed its tls group"
    gw.conf.write_text(text)
    return gw.start()


@pytest.fixture(scope="module")
def ec_gateway(env, backends):
    gw = default_tls_gateway(env, "floor-ec", rsa=False)
    yield gw
    hf.finish_gateway(gw)


@pytest.fixture(scope="module")
def rsa_gateway(env, backends):
    gw = default_tls_gateway(env, "floor-rsa", rsa=True)
    yield gw
    hf.finish_gateway(gw)


@pytest.fixture
def echo(backends):
    return f"backend.test:{backends.echo.port}"


@pytest.mark.parametrize("flag, version", [("-tls1", "1.0"), ("-tls1_1", "1.1")])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_tls_below_1_2_is_refused(request, echo, kind, flag, version):
    gw = request.getfixturevalue(f"{kind}_gateway")
    out = refused_handshake(gw, echo, flag, "-cipher", "DEFAULT" + WILLING)
    v = version.encode()
    assert re.search(rb">>> TLS %s, Handshake \[length [0-9a-f]+\], ClientHello" % re.escape(v),
                     out), out[:800]
    assert b"<<< TLS %s, Alert [length 0002], fatal protocol_version" % v in out, out[-1500:]


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_the_same_willing_client_gets_an_aead_suite_with_tls_1_2(request, echo, kind):
    """The control for the refusals above: only the version differs."""
    gw = request.getfixturevalue(f"{kind}_gateway")
    out = tunnel_opened(gw, echo, "-tls1_2", "-cipher", "DEFAULT" + WILLING)
    m = re.search(rb"^New, TLSv1\.2, Cipher is (\S+)$", out, re.M)
    assert m and m.group(1).decode() in ACCEPTED_SUITES[kind], out[-1500:]


@pytest.mark.parametrize("kind, suite", [(k, s) for k in REFUSED_SUITES
                                         for s in REFUSED_SUITES[k]])
def test_non_aead_suite_is_refused(request, echo, kind, suite):
    gw = request.getfixturevalue(f"{kind}_gateway")
    out = refused_handshake(gw, echo, "-tls1_2", "-cipher", suite + WILLING)
    assert re.search(rb">>> TLS 1\.2, Handshake \[length [0-9a-f]+\], ClientHello", out), out[:800]
    assert b"<<< TLS 1.2, Alert [length 0002], fatal handshake_failure" in out, out[-1500:]


@pytest.mark.parametrize("kind, suite", [(k, s) for k in ACCEPTED_SUITES
                                         for s in ACCEPTED_SUITES[k]])
def test_aead_suite_is_accepted(request, echo, kind, suite):
    """The control for the refusals above: only the suite differs."""
    gw = request.getfixturevalue(f"{kind}_gateway")
    out = tunnel_opened(gw, echo, "-tls1_2", "-cipher", suite + WILLING)
    assert b"New, TLSv1.2, Cipher is " + suite.encode() + b"\n" in out, out[-1500:]


# ---------------------------------------------------------------------------
# 0-RTT

def session_text(path):
    return subprocess.run(["openssl", "sess_id", "-in", str(path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout


def der_elements(data):
    """(tag, header length, whole element) of each DER element in data."""
    at = 0
    while at < len(data):
        size, head = data[at + 1], 2
        if size & 0x80:
            head += size & 0x7F
            size = int.from_bytes(data[at + 2:at + head], "big")
        yield data[at], head, data[at:at + head + size]
        at += head + size


def der_length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


# SSL_SESSION's max_early_data is [15] EXPLICIT INTEGER, left out when 0
# (OpenSSL's ssl/ssl_asn1.c); 16384 as DER.
MAX_EARLY_DATA = 15
EARLY_DATA_16K = bytes([0xA0 | MAX_EARLY_DATA, 4, 0x02, 0x02, 0x40, 0x00])


def claim_early_data(saved, out):
    """A copy of s_client's saved session in which the server allows 16 KiB
    of early data: what a client that ignores the ticket's limit believes.
    The ticket itself, sealed by the gateway, is untouched."""
    lines = saved.read_text().splitlines()
    der = base64.b64decode("".join(lines[1:-1]))
    [(tag, head, whole)] = der_elements(der)
    assert tag == 0x30, der[:8]
    fields = [(t, e) for t, _, e in der_elements(whole[head:])]
    context = [t & 0x1F for t, _ in fields if t & 0xE0 == 0xA0]
    assert MAX_EARLY_DATA not in context, "the saved session already allows early data"
    at = next((i for i, (t, _) in enumerate(fields)
               if t & 0xE0 == 0xA0 and t & 0x1F > MAX_EARLY_DATA), len(fields))
    body = b"".join(e for _, e in fields[:at]) + EARLY_DATA_16K + b"".join(
        e for _, e in fields[at:])
    der = b"\x30" + der_length(len(body)) + body
    out.write_text("\n".join([lines[0], base64.encodebytes(der).decode().strip(), lines[-1]])
                   + "\n")
    return out


def test_early_data_is_never_read(gateway, echo, tmp_path):
    saved = tmp_path / "session.pem"
    with h.Proc(s_client(gateway, "-tls1_3", "-sess_out", str(saved))) as s:
        s.write(connect_request(echo))
        s.wait_output(h.OK_STATUS_LINE)
        h.wait_for(lambda: saved.exists() and saved.stat().st_size > 0, 5,
                   "s_client to save the session with its ticket")
    assert re.search(r"^\s*Max Early Data: 0$", session_text(saved), re.M)
    with h.EchoServer() as private:
        target = f"backend.test:{private.port}"
        early = tmp_path / "early-request"
        early.write_bytes(connect_request(target))
        # A client that keeps to the ticket sends nothing early.
        r = subprocess.run(s_client(gateway, "-tls1_3", "-sess_in", str(saved),
                                    "-early_data", str(early)),
                           input=b"", capture_output=True, timeout=h.scaled(30))
        assert b"Reused, TLSv1.3" in r.stdout, r.stdout[-1500:]
        assert b"Early data was not sent" in r.stdout, r.stdout[-1500:]
        # One that does not: its request goes out in 0-RTT, and the gateway,
        # which reads no early data at all (recv_max_early_data 0), ends
        # the connection once the handshake is done.
        forged = claim_early_data(saved, tmp_path / "forged.pem")
        assert re.search(r"^\s*Max Early Data: 16384$", session_text(forged), re.M)
        mark = gateway.audit_mark()
        with h.Proc(s_client(gateway, "-tls1_3", "-sess_in", str(forged),
                             "-early_data", str(early))) as s:
            rc = s.wait(20)
        out = bytes(s.out)
        assert rc != 0 and b"Reused, TLSv1.3" in out, out[-1500:]
        assert b"Early data was rejected" in out, out[-1500:]
        assert b"<<< TLS 1.3, Alert [length 0002], fatal unexpected_message" in out, out[-800:]
        assert h.OK_STATUS_LINE not in out
        # The same session, the request sent after the handshake: the first
        # connection the private backend ever gets, and the only decision
        # about it.
        with h.Proc(s_client(gateway, "-tls1_3", "-sess_in", str(forged))) as s:
            s.write(connect_request(target))
            out = s.wait_output(h.OK_STATUS_LINE)
            assert b"Reused, TLSv1.3" in out
            s.write(b"through the tunnel\n")
            s.wait_output(b"through the tunnel\n")
            assert private.accepted == 1
            control = "127.0.0.1:%d" % hf.client_ports_of(s.p.pid, gateway.port)[0]
            gateway.wait_audit(event="open", client=control, after=mark)
    about = [(e["event"], e["client"]) for e in gateway.audit_events(after=mark)
             if e.get("target") == target]
    assert {c for _, c in about} == {control}, about


# ---------------------------------------------------------------------------
# Before the request: renegotiation and KeyUpdate in the gate worker

@pytest.fixture(scope="module")
def no_relay_gateway(env, backends):
    """workers.relay = 0: the gate worker's libssl carries tunnels too."""
    gw = h.Gateway(env, "floor-relay-0", relay=0)
    gw.start()
    yield gw
    hf.finish_gateway(gw)


GATEWAYS = {"relay-workers": "gateway", "relay-0": "no_relay_gateway"}


def assert_still_serves(gw, gates, echo):
    """No gate worker was replaced, and a next client gets its tunnel."""
    assert all(hf.process_alive(p, t) for p, t in gates.items()), (
        gates, gw.children("tg-gate"), gw.stderr_tail(20))
    with gw.tunnel(echo) as c:
        h.echo_round_trip(c, 10000)


@pytest.mark.parametrize("which", sorted(GATEWAYS))
def test_renegotiation_before_the_request_is_refused(request, echo, which):
    gw = request.getfixturevalue(GATEWAYS[which])
    gates = hf.start_times(gw.children("tg-gate"))
    mark = gw.audit_mark()
    with h.Proc(s_client(gw, "-tls1_2")) as s:
        s.wait_output(HANDSHAKE_DONE)
        port = hf.client_ports_of(s.p.pid, gw.port)[0]
        s.write(b"R\n")
        s.wait_output(NO_RENEGOTIATION)
        assert s.wait(20) != 0
    out = bytes(s.out)
    assert b"RENEGOTIATING" in s.err
    # The second ClientHello went out after the handshake and was refused.
    assert out.count(b"ClientHello") == 2, out[-1500:]
    assert out.index(HANDSHAKE_DONE) < out.rindex(b"ClientHello") < out.index(NO_RENEGOTIATION)
    assert b"HTTP/1.1" not in out
    h.wait_for(lambda: h.tcp_inode(gw.port, port) is None, 10,
               "the gateway to close the refused connection")
    client = f"127.0.0.1:{port}"
    assert not [e for e in gw.audit_events(after=mark) if e.get("client") == client]
    assert_still_serves(gw, gates, echo)


def test_renegotiation_in_a_tunnel_the_gate_worker_holds_is_refused(no_relay_gateway,
                                                                      echo):
    """After the 200, with workers.relay = 0 the gate worker's libssl
    carries the tunnel: a ClientHello there gets no_renegotiation, the
    client gives up, the tunnel ends as an error and the worker lives on.
    (With relay workers: test_handoff_clients.py.)"""
    gw = no_relay_gateway
    gates = hf.start_times(gw.children("tg-gate"))
    mark = gw.audit_mark()
    with h.Proc(s_client(gw, "-tls1_2")) as s:
        s.write(connect_request(echo))
        s.wait_output(h.OK_STATUS_LINE)
        port = hf.client_ports_of(s.p.pid, gw.port)[0]
        s.write(b"before renegotiating\n")
        s.wait_output(b"before renegotiating\n")
        s.write(b"R\n")
        s.wait_output(NO_RENEGOTIATION)
        assert s.wait(20) != 0
    ev = gw.wait_audit(event="close", client=f"127.0.0.1:{port}", after=mark)
    assert ev["closed_by"] == "error" and "alert" in ev["reason"], ev
    assert_still_serves(gw, gates, echo)


class KeyUpdater(h.Proc):
    """s_client on TLS 1.3 in interactive mode: a line k or K is a
    KeyUpdate, K asking the gateway to update its own key too."""

    def __init__(self, gw):
        super().__init__(s_client(gw, "-tls1_3"))
        self.n = 0

    def key_update(self, letter):
        before = self.err.count(b"KEYUPDATE")
        self.write(letter + b"\n")
        h.wait_for(lambda: self.err.count(b"KEYUPDATE") > before or self.p.poll() is not None,
                   10, f"s_client to run {letter!r}")
        assert self.p.poll() is None, bytes(self.err[-500:])

    def echo_line(self):
        self.n += 1
        line = b"L%d-%s\n" % (self.n, bytes(str(self.n) * 700, "ascii"))
        self.write(line)
        self.wait_output(line)


@pytest.mark.parametrize("which", sorted(GATEWAYS))
def test_key_updates_before_the_request_are_followed(request, echo, which):
    """docs/architecture.md: the gate worker tracks the traffic secrets after
    a KeyUpdate and hands off only when none is owed, so keys rolled before
    the request carry over to the relay worker (or stay in libssl)."""
    gw = request.getfixturevalue(GATEWAYS[which])
    with KeyUpdater(gw) as s:
        s.wait_output(HANDSHAKE_DONE)
        s.key_update(b"k")
        s.key_update(b"K")
        s.write(connect_request(echo))
        out = s.wait_output(h.OK_STATUS_LINE)
        # The gateway's own KeyUpdate, owed since K, goes out before its 200.
        assert out.count(KEY_UPDATE_SENT) == 2
        assert out.count(KEY_UPDATE_RECEIVED) == 1
        assert out.index(KEY_UPDATE_RECEIVED) < out.index(h.OK_STATUS_LINE)
        port = hf.client_ports_of(s.p.pid, gw.port)[0]
        if which == "relay-workers":
            hf.wait_held_by_relay(gw, port)
        s.echo_line()
        s.key_update(b"K")
        s.echo_line()
        assert s.out.count(KEY_UPDATE_RECEIVED) == 2
