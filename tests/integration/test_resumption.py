"""TLS session resumption (issue 11): gate workers seal session tickets with
keys the master makes and rotates; a ticket resumes in any gate worker, the
handoff to a relay worker works after a resumed handshake and after tickets
were sent, the ticket goes out before the request is read (a client that
leaves Nagle on is not held back by a delayed ACK), and relay workers and
authenticators never hold a ticket key.
"""

import hashlib
import hmac
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import harness as h
import handoff_fixtures as hf
from cert_fixtures import ClientPki
from client_fixtures import Forwarder
from harness import connect_request
from test_secrets_in_memory import copies_in_memory, readable_memory

NAME_LEN, IV_LEN, MAC_LEN, KEY_LEN = 16, 16, 32, 32


class SClient(h.Proc):
    """openssl s_client saving its session to or resuming from a file."""

    def __init__(self, gw, version, *args):
        super().__init__(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}",
                          "-CAfile", str(gw.env.ca), "-verify_return_error",
                          "-verify_ip", "127.0.0.1", version, *args])
        self.gw = gw

    def tunnel_through_relay(self, target):
        """CONNECT, check an echo, and return the relay worker holding it."""
        self.write(connect_request(target))
        self.wait_output(h.OK_STATUS_LINE)
        ports = h.wait_for(lambda: hf.client_ports_of(self.p.pid, self.gw.port), 5,
                           "s_client's connection to the gateway")
        relay = hf.wait_held_by_relay(self.gw, ports[0])
        line = b"after-handoff-" + bytes(str(time.monotonic_ns()), "ascii") + b"\n"
        self.write(line)
        self.wait_output(line)
        return relay

    def reused(self):
        text = bytes(self.out)
        if re.search(rb"^Reused, TLSv1\.[23]", text, re.M):
            return True
        assert re.search(rb"^New, TLSv1\.[23]", text, re.M), text[:500]
        return False


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def session_ticket(path):
    """The ticket bytes of a session file written by s_client -sess_out."""
    out = subprocess.run(["openssl", "sess_id", "-in", str(path), "-noout", "-text"],
                         capture_output=True, text=True, check=True).stdout
    dump = out.split("TLS session ticket:", 1)[1]
    ticket = bytearray()
    for line in dump.splitlines()[1:]:
        m = re.match(r"\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]+)+)", line)
        if not m:
            break
        ticket += bytes.fromhex(m.group(1).replace("-", " "))
    assert len(ticket) > NAME_LEN + IV_LEN + MAC_LEN, out
    return bytes(ticket)


def new_session(gw, tmp, target, version="-tls1_3"):
    """A full handshake and a tunnel; returns the saved session's path."""
    path = tmp / f"sess-{time.monotonic_ns()}.pem"
    with SClient(gw, version, "-sess_out", str(path)) as s:
        s.tunnel_through_relay(target)
        h.wait_for(lambda: path.exists() and path.stat().st_size > 0, 5,
                   "s_client to save a session with a ticket")
        assert not s.reused()
    return path


@pytest.fixture(scope="module")
def ticket_gateway(env, backends):
    """Two gate workers, so a ticket made by one is opened by the other."""
    gw = h.Gateway(env, "resumption", gate=2, relay=1)
    gw.start()
    yield gw
    hf.finish_gateway(gw)


@pytest.fixture
def echo(backends):
    return f"backend.test:{backends.echo.port}"


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_s_client_resumes_and_the_tunnel_is_handed_off(ticket_gateway, echo, version, tmp_path):
    gw = ticket_gateway
    path = new_session(gw, tmp_path, echo, version)
    # Each resumption may land on either gate worker: try a few.
    for _ in range(4):
        with SClient(gw, version, "-sess_in", str(path)) as s:
            s.tunnel_through_relay(echo)
            assert s.reused(), bytes(s.out[:600])


def test_a_ticket_resumes_in_the_gate_workers_of_a_reload(env, backends, echo, tmp_path):
    """Other processes, started after the ticket was given: the keys are the
    master's and outlive the generation."""
    gw = h.Gateway(env, "resumption-reload", gate=1, authenticator=1, relay=1)
    gw.start()
    try:
        path = new_session(gw, tmp_path, echo)
        before = set(gw.children("tg-gate"))
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: set(gw.children("tg-gate")).isdisjoint(before), 10,
                   "the old generation's gate worker to leave")
        with SClient(gw, "-tls1_3", "-sess_in", str(path)) as s:
            s.tunnel_through_relay(echo)
            assert s.reused()
    finally:
        hf.finish_gateway(gw)


def test_a_ticket_from_another_gateway_is_refused_gently(ticket_gateway, env, backends,
                                                         echo, tmp_path):
    """Keys belong to one daemon: another's ticket means a full handshake."""
    other = h.Gateway(env, "resumption-other", gate=1, relay=1)
    other.start()
    try:
        path = new_session(other, tmp_path, echo)
    finally:
        hf.finish_gateway(other)
    with SClient(ticket_gateway, "-tls1_3", "-sess_in", str(path)) as s:
        s.tunnel_through_relay(echo)
        assert not s.reused()


def curl_handshakes(gw, backends, urls):
    """curl -v through the gateway for urls in one run; the number of full
    handshakes (the gateway's Certificate message) and curl's result."""
    r = subprocess.run(["curl", "-sS", "-v", "-p", "--proxy", f"https://127.0.0.1:{gw.port}",
                        "--proxy-cacert", str(gw.env.ca), "--proxy-user",
                        f"alice:{h.password_of('alice')}", "--max-time", "20", *urls],
                       capture_output=True, timeout=h.scaled(40))
    full = r.stderr.count(b"(IN), TLS handshake, Certificate (11)")
    return full, r


def test_curl_resumes_its_second_proxy_connection(ticket_gateway, backends):
    """The backend (HTTP/1.0) closes after each answer, so each URL is a new
    tunnel. curl 7.88 offers no ticket from its third proxy connection on
    (it sends no PSK at all, whatever the server), so two are compared."""
    urls = [f"http://127.0.0.1:{backends.http.port}/bytes/{n}" for n in (100, 200)]
    full, r = curl_handshakes(ticket_gateway, backends, urls)
    assert r.returncode == 0, r.stderr[-800:]
    assert len(r.stdout) == 300
    assert r.stderr.count(b"CONNECT tunnel established, response 200") == 2, r.stderr[-800:]
    assert full == 1, r.stderr.decode(errors="replace")[-3000:]


def test_python_ssl_resumes(ticket_gateway, echo):
    ctx = ssl.create_default_context(cafile=str(ticket_gateway.env.ca))
    session = None
    for i in range(3):
        with socket.create_connection(("127.0.0.1", ticket_gateway.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
                s.sendall(connect_request(echo))
                head = recv_exactly(s, len(h.OK_STATUS_LINE))
                assert head == h.OK_STATUS_LINE
                s.sendall(b"ping\n")
                assert recv_exactly(s, 5) == b"ping\n"
                assert s.session_reused == (i > 0)
                session = s.session


def test_ticket_arrives_before_the_request_is_sent(ticket_gateway):
    """Nothing waits for the client's request: its Finished is answered by
    the ticket at once, so a client that leaves Nagle on has its ACK and
    sends the request without waiting for a delayed one."""
    ctx = ssl.create_default_context(cafile=str(ticket_gateway.env.ca))
    with socket.create_connection(("127.0.0.1", ticket_gateway.port)) as raw:
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            raw_fd = socket.socket(fileno=s.fileno())
            try:
                raw_fd.settimeout(h.scaled(5))
                first = raw_fd.recv(5, socket.MSG_PEEK)
            finally:
                raw_fd.detach()
            # An application-data record (TLS 1.3 hides the ticket in one).
            assert first[:1] == b"\x17", first


def test_nagle_client_gets_its_200(ticket_gateway, echo):
    """A client like Python's ssl module or s_client without TCP_NODELAY
    sends its CONNECT right after the handshake and is answered."""
    ctx = ssl.create_default_context(cafile=str(ticket_gateway.env.ca))
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", ticket_gateway.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(connect_request(echo))
                assert recv_exactly(s, len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
                s.sendall(b"x" * 7)
                assert recv_exactly(s, 7) == b"x" * 7


def keys_living(env, name, lifetime, gate=1):
    """A started gateway whose ticket keys rotate every lifetime seconds
    (0: no tickets)."""
    gw = h.Gateway(env, name, gate=gate, authenticator=1, relay=1)
    gw.conf.write_text(gw.config_text().replace(
        'min_version = "1.2";', f'min_version = "1.2";\n\tticket_key_lifetime = {lifetime};'))
    gw.start()
    return gw


@pytest.fixture(scope="module")
def ticketless_gateway(env, backends):
    gw = keys_living(env, "no-tickets", 0)
    yield gw
    hf.finish_gateway(gw)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_with_tickets_off_no_ticket_is_given_and_tunnels_still_move(ticketless_gateway, echo,
                                                                   version):
    """tls.ticket_key_lifetime = 0: no ticket in either version, so nothing
    resumes, and with nothing sent after the handshake the tunnel is still
    answered and handed to a relay worker."""
    gw = ticketless_gateway
    ctx = ssl.create_default_context(cafile=str(gw.env.ca))
    ctx.maximum_version = version
    session = None
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", gw.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
                s.sendall(connect_request(echo))
                assert recv_exactly(s, len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
                hf.wait_held_by_relay(gw, s.getsockname()[1])
                s.sendall(b"ping\n")
                assert recv_exactly(s, 5) == b"ping\n"
                assert not s.session_reused
                assert s.session is None or not s.session.has_ticket
                session = s.session


# -- keys ----------------------------------------------------------------------

LIFETIME = 4


@pytest.fixture(scope="module")
def rotating_gateway(env, backends):
    gw = keys_living(env, "ticket-rotation", LIFETIME)
    yield gw
    hf.finish_gateway(gw)


def lifetime_hint(path):
    out = subprocess.run(["openssl", "sess_id", "-in", str(path), "-noout", "-text"],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"ticket lifetime hint: (\d+)", out).group(1))


def test_tickets_live_as_long_as_a_key(rotating_gateway, ticket_gateway, echo, tmp_path):
    assert lifetime_hint(new_session(rotating_gateway, tmp_path, echo)) == LIFETIME
    assert lifetime_hint(new_session(ticket_gateway, tmp_path, echo)) == 3600


def key_name(gw, tmp, target):
    return session_ticket(new_session(gw, tmp, target))[:NAME_LEN]


def test_keys_rotate_and_the_previous_key_still_resumes(rotating_gateway, echo, tmp_path):
    gw = rotating_gateway
    first = key_name(gw, tmp_path, echo)
    h.wait_for(lambda: key_name(gw, tmp_path, echo) != first, 3 * LIFETIME,
               "a ticket under a new key", interval=0.3)
    rotated_at = time.monotonic()
    # A ticket made shortly before the next rotation, resumed after it.
    time.sleep(max(0, rotated_at + LIFETIME - 1.5 - time.monotonic()))
    path = new_session(gw, tmp_path, echo)
    old = session_ticket(path)[:NAME_LEN]
    h.wait_for(lambda: key_name(gw, tmp_path, echo) != old, 2 * LIFETIME,
               "the next rotation", interval=0.2)
    with SClient(gw, "-tls1_3", "-sess_in", str(path)) as s:
        s.tunnel_through_relay(echo)
        assert s.reused(), "a ticket of the previous key was not accepted"


@pytest.fixture(scope="module")
def rotating_pair(env, backends):
    gw = keys_living(env, "ticket-rotation-pair", LIFETIME, gate=2)
    yield gw
    hf.finish_gateway(gw)


def test_a_rotated_key_reaches_every_gate_worker(rotating_pair, echo, tmp_path):
    """The master sends each new key to every gate worker, not only to the
    one that happens to serve the next handshake: after a rotation both gate
    workers' memory holds the key that sealed a fresh ticket (the previous
    key stays too, so a rotation during the scan does not matter)."""
    gw = rotating_pair
    first = key_name(gw, tmp_path, echo)

    def sealed_by_a_newer_key():
        ticket = session_ticket(new_session(gw, tmp_path, echo))
        return ticket if ticket[:NAME_LEN] != first else None
    ticket = h.wait_for(sealed_by_a_newer_key, 3 * LIFETIME, "a ticket under a new key",
                        interval=0.3)
    gates = gw.children("tg-gate")
    assert len(gates) == 2, gates
    for pid in gates:
        assert ticket_keys_in(pid, ticket) is not None, (
            f"gate worker {pid} lacks the key named {ticket[:NAME_LEN].hex()}")


def ticket_keys_in(pid, ticket):
    """The (AES key, HMAC key) pair in pid's memory that seals ticket: found
    after the key name, and proven by the ticket's HMAC."""
    name, mac = ticket[:NAME_LEN], ticket[-MAC_LEN:]
    for _, data in readable_memory(pid):
        at = data.find(name)
        while at >= 0:
            aes = data[at + NAME_LEN:at + NAME_LEN + KEY_LEN]
            mkey = data[at + NAME_LEN + KEY_LEN:at + NAME_LEN + 2 * KEY_LEN]
            if len(mkey) == KEY_LEN and hmac.compare_digest(
                    hmac.new(mkey, ticket[:-MAC_LEN], hashlib.sha256).digest(), mac):
                return aes, mkey
            at = data.find(name, at + 1)
    return None


@pytest.fixture(scope="module")
def lone_gate(env, backends):
    """One gate worker, and keys that stay put while memory is read."""
    gw = h.Gateway(env, "ticket-memory", gate=1, authenticator=1, relay=1)
    gw.start()
    yield gw
    hf.finish_gateway(gw)


def test_relay_workers_authenticators_and_the_key_process_hold_no_ticket_key(lone_gate, echo, tmp_path):
    gw = lone_gate
    path = tmp_path / "held.pem"
    with SClient(gw, "-tls1_3", "-sess_out", str(path)) as s:
        relay = s.tunnel_through_relay(echo)
        h.wait_for(lambda: path.exists() and path.stat().st_size > 0, 5, "a saved session")
        ticket = session_ticket(path)
        gate = gw.children("tg-gate")
        assert len(gate) == 1
        keys = ticket_keys_in(gate[0], ticket)
        assert keys is not None, "the scan did not find the key in the gate worker"
        key_procs = gw.children("tg-key")
        assert key_procs, "no key process to search"
        others = [relay] + gw.children("tg-auth") + key_procs
        for pid in others:
            found = copies_in_memory(pid, list(keys))
            assert not found, f"ticket key in {hf.comm(pid)} {pid}: {found}"


def test_the_ticket_of_a_resumed_session_resumes(ticket_gateway, echo, tmp_path):
    gw = ticket_gateway
    path = new_session(gw, tmp_path, echo)
    for i in range(3):
        nxt = tmp_path / f"chain-{i}.pem"
        with SClient(gw, "-tls1_3", "-sess_in", str(path), "-sess_out", str(nxt)) as s:
            s.tunnel_through_relay(echo)
            h.wait_for(lambda: nxt.exists() and nxt.stat().st_size > 0, 5, "a new ticket")
            assert s.reused(), f"resumption {i}"
        path = nxt


@pytest.fixture(scope="module")
def two_listeners(env, backends):
    """Listener 1 asks for nothing; listener 2 requires a client certificate."""
    pki = ClientPki(env.tmp / "resumption-pki")
    pki.alice = pki.issue("alice", "alice")
    gw = h.Gateway(env, "resumption-listeners", gate=1, authenticator=1, relay=1)
    ca = gw.dir / "client-ca.pem"
    shutil.copy(pki.ca, ca)
    gw.cert_port, = h.free_ports(1, exclude=(gw.port,))
    plain = f'{{ address = "127.0.0.1"; port = {gw.port}; backlog = 128; }}'
    text = gw.config_text()
    assert plain in text
    gw.conf.write_text(text.replace(plain, plain + (
        f',\n\t{{ address = "127.0.0.1"; port = {gw.cert_port}; backlog = 128; '
        f'client_auth = "require"; client_ca_file = "{ca}"; }}')))
    gw.start()
    gw.pki = pki
    yield gw
    hf.finish_gateway(gw)


def test_a_ticket_does_not_skip_another_listeners_certificate_check(two_listeners, echo,
                                                                    tmp_path):
    gw = two_listeners
    path = new_session(gw, tmp_path, echo)
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{gw.cert_port}", "-CAfile",
            str(gw.env.ca), "-tls1_3", "-sess_in", str(path)]
    r = subprocess.run(argv, input=connect_request(echo), capture_output=True,
                       timeout=h.scaled(20))
    assert b"Reused, TLSv1.3" not in r.stdout
    assert h.OK_STATUS_LINE not in r.stdout, r.stdout[-500:]
    # With its certificate the client gets in, and resumes on that listener.
    cert, key = gw.pki.alice
    cpath = tmp_path / "cert-session.pem"
    for resume in (False, True):
        args = ["-cert", str(cert), "-key", str(key)]
        args += ["-sess_in", str(cpath)] if resume else ["-sess_out", str(cpath)]
        with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.cert_port}",
                     "-CAfile", str(gw.env.ca), "-tls1_3", *args]) as s:
            s.write(connect_request(echo))
            s.wait_output(h.OK_STATUS_LINE)
            h.wait_for(lambda: cpath.exists() and cpath.stat().st_size > 0, 5, "a session")
            assert (b"Reused, TLSv1.3" in s.out) == resume, bytes(s.out[:400])


# -- the project's client ----------------------------------------------------------

PRE_SHARED_KEY = 41  # the ServerHello extension of a resumed TLS 1.3 handshake


def server_hello_resumes(data):
    """Whether the ServerHello at the start of data (the server's first bytes,
    plaintext) accepts a PSK; None until it is all there."""
    if len(data) < 9:
        return None
    assert data[0] == 22 and data[5] == 2, data[:16]
    end = 9 + int.from_bytes(data[6:9], "big")
    if len(data) < end:
        return None
    at = 9 + 2 + 32
    at += 1 + data[at]           # session id
    at += 2 + 1                  # suite, compression
    ext_end = at + 2 + int.from_bytes(data[at:at + 2], "big")
    at += 2
    while at < ext_end:
        kind, size = int.from_bytes(data[at:at + 2], "big"), int.from_bytes(data[at + 2:at + 4], "big")
        if kind == PRE_SHARED_KEY:
            return True
        at += 4 + size
    return False


class HelloWatcher:
    """A TCP relay in front of the gateway that notes, per connection, whether
    the gateway's ServerHello resumed a session."""

    def __init__(self, gw_port):
        self.gw_port = gw_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.resumed = []
        # The gateway's bytes wait until this many connections have sent
        # their ClientHello, so that each of them offered what it had
        # before any ticket could reach the client.
        self.hold_until = 0
        self.hellos = 0
        self.said_hello = threading.Condition()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.gw_port))
            slot = len(self.resumed)
            self.resumed.append(None)
            for a, b, watch in ((client, server, False), (server, client, True)):
                t = threading.Thread(target=self._pump, args=(a, b, slot if watch else None),
                                     daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, slot):
        seen = b""
        first = True
        try:
            while data := src.recv(65536):
                with self.said_hello:
                    if first and slot is None:
                        self.hellos += 1
                        self.said_hello.notify_all()
                    elif first:
                        self.said_hello.wait_for(lambda: self.hellos >= self.hold_until,
                                                 h.scaled(10))
                first = False
                if slot is not None and self.resumed[slot] is None:
                    seen += data
                    self.resumed[slot] = server_hello_resumes(seen)
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.listener.close()


def test_the_client_resumes_every_forwarded_connection_after_the_first(ticket_gateway,
                                                                       backends):
    watcher = HelloWatcher(ticket_gateway.port)
    try:
        with Forwarder(ticket_gateway.env, watcher.port,
                       f"0:backend.test:{backends.echo.port}") as fwd:
            for i in range(4):
                with fwd.connect() as s:
                    s.sendall(b"hello %d\n" % i)
                    assert recv_exactly(s, 8) == b"hello %d\n" % i
        assert watcher.resumed == [False, True, True, True]
    finally:
        watcher.close()


def test_tunnels_started_together_each_resume(ticket_gateway, backends):
    """Three -L connections at once, twice: the first three make full
    handshakes and leave a ticket each, with which the next three all resume
    (a TLS 1.3 ticket is offered once, so one kept ticket would resume one)."""
    watcher = HelloWatcher(ticket_gateway.port)
    try:
        with Forwarder(ticket_gateway.env, watcher.port,
                       f"0:backend.test:{backends.echo.port}") as fwd:
            for wave in (1, 2):
                watcher.hold_until = 3 * wave
                socks = [fwd.connect() for _ in range(3)]
                try:
                    for i, s in enumerate(socks):
                        s.sendall(b"wave %d %d\n" % (wave, i))
                    for i, s in enumerate(socks):
                        assert recv_exactly(s, 9) == b"wave %d %d\n" % (wave, i)
                finally:
                    for s in socks:
                        s.close()
        assert watcher.resumed == [False] * 3 + [True] * 3
    finally:
        watcher.close()
