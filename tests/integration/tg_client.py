"""The client side: credentials (every secret sent is recorded for the leak
test), CONNECT requests, response parsing and the contract's error
responses, a TLS client that can send close_notify and keep reading, and
client programs run with pipes.
"""

import base64
import os
import re
import secrets
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass

from tg_data import sha256
from tg_env import CHUNK, REALM, UNKNOWN_USER, USERS, scaled, wait_for

OK_STATUS_LINE = b"HTTP/1.1 200 Connection established\r\n\r\n"

# Every secret a test puts on the wire, for the leak test.
SENT_SECRETS = set()


# ---------------------------------------------------------------------------
# Credentials and requests

def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    SENT_SECRETS.update({password, token})
    return f"Basic {token}"


def wrong_password(tag="x"):
    """A fresh wrong password, so no credential cache can answer for it."""
    pw = f"Wrong-{tag}-{secrets.token_hex(4)}"
    SENT_SECRETS.add(pw)
    return pw


def password_of(user):
    return USERS[user].password if user in USERS else UNKNOWN_USER.password


def connect_request(target, user="alice", password=None, headers=(), eol="\r\n",
                    version="1.1"):
    lines = [f"CONNECT {target} HTTP/{version}", f"Host: {target}"]
    if user is not None:
        pw = password_of(user) if password is None else password
        lines.append(f"Proxy-Authorization: {basic(user, pw)}")
    lines.extend(headers)
    return (eol.join(lines) + eol + eol).encode()


@dataclass
class Response:
    status_line: str
    status: int
    reason: str
    headers: list
    head: bytes
    rest: bytes = b""
    body: bytes = b""
    closed_how: str = ""
    client_address: str = ""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


REASONS = {200: "Connection established", 400: "Bad Request", 403: "Forbidden",
           405: "Method Not Allowed", 407: "Proxy Authentication Required",
           408: "Request Timeout", 429: "Too Many Requests",
           431: "Request Header Fields Too Large",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def assert_error(resp, code):
    """resp is the contract's error response for code, and the gateway closed."""
    assert resp.status_line == f"HTTP/1.1 {code} {REASONS[code]}", (
        f"expected {code}, got {resp.status_line!r} {resp.body[:200]!r}")
    assert (resp.header("Connection") or "").lower() == "close", resp.headers
    if code == 407:
        assert resp.header("Proxy-Authenticate") == f'Basic realm="{REALM}"', resp.headers
    if code == 405:
        assert resp.header("Allow") == "CONNECT", resp.headers
    assert resp.closed_how, "the gateway did not close after the error"


def parse_head(head, rest=b""):
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    m = re.fullmatch(r"HTTP/1\.[01] (\d{3}) (.*)", lines[0])
    if not m:
        raise AssertionError(f"not an HTTP status line: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return Response(lines[0], int(m.group(1)), m.group(2), headers, head, rest)


# ---------------------------------------------------------------------------
# TLS client over memory BIOs: can send close_notify and keep reading

class TlsClient:
    def __init__(self, port, ca, host="127.0.0.1", server_hostname="127.0.0.1",
                 max_version=None, ciphers=None, timeout=10, source=None):
        ctx = ssl.create_default_context(cafile=str(ca))
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        # source: another loopback address (127.0.0.0/8 is all local) is
        # another client as per-source limits and throttling count them.
        self.sock = socket.create_connection((host, port), timeout=scaled(timeout),
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=server_hostname)
        self.closed_how = None  # close_notify | eof | reset
        self.pending = b""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush(deadline)
                self._fill(deadline)
        self._flush(deadline)

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    @property
    def client_address(self):
        return "%s:%d" % self.sock.getsockname()[:2]

    def _left(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("TLS client wait timed out")
        return left

    def _flush(self, deadline):
        data = self.out.read()
        if data:
            self.sock.settimeout(self._left(deadline))
            self.sock.sendall(data)

    def _fill(self, deadline):
        self.sock.settimeout(self._left(deadline))
        try:
            data = self.sock.recv(CHUNK)
        except ConnectionResetError:
            self.closed_how = "reset"
            self.inc.write_eof()
            return
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()

    def send(self, data, timeout=30):
        deadline = time.monotonic() + scaled(timeout)
        view = memoryview(data)
        for off in range(0, len(view), CHUNK):
            self.obj.write(view[off:off + CHUNK])
            self._flush(deadline)

    def recv(self, n=CHUNK, timeout=10):
        """Up to n bytes; b"" once the peer has closed (see closed_how)."""
        return self._read(n, time.monotonic() + scaled(timeout))

    def _read(self, n, deadline):
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        if self.closed_how:
            return b""
        while True:
            try:
                data = self.obj.read(n)
                if data:
                    return data
                self.closed_how = "close_notify"
                return b""
            except ssl.SSLWantReadError:
                if self.closed_how == "reset":
                    return b""
                self._fill(deadline)
            except ssl.SSLZeroReturnError:
                self.closed_how = "close_notify"
                return b""
            except ssl.SSLEOFError:
                self.closed_how = self.closed_how or "eof"
                return b""
            except ssl.SSLError as e:
                self.closed_how = f"tls error: {e}"
                return b""

    def recv_exact(self, n, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        buf = bytearray()
        while len(buf) < n:
            try:
                data = self._read(n - len(buf), deadline)
            except TimeoutError:
                data = None
            if not data:
                raise AssertionError(f"wanted {n} bytes, got {len(buf)} "
                                     f"(closed: {self.closed_how}): {bytes(buf[:200])!r}")
            buf += data
        return bytes(buf)

    def recv_until(self, marker, timeout=10, limit=1 << 20):
        deadline = time.monotonic() + scaled(timeout)
        buf = bytearray()
        while marker not in buf:
            try:
                data = self._read(CHUNK, deadline)
            except TimeoutError:
                data = None
            if not data or len(buf) > limit:
                raise AssertionError(f"no {marker!r} (closed: {self.closed_how}); "
                                     f"got {bytes(buf[:300])!r}")
            buf += data
        i = buf.index(marker) + len(marker)
        self.pending = bytes(buf[i:]) + self.pending
        return bytes(buf[:i])

    def recv_until_closed(self, timeout=10, digest=None):
        """Everything until the peer closes; returns bytes (or the count when
        digest is given, which then receives the data)."""
        deadline = time.monotonic() + scaled(timeout)
        buf, n = bytearray(), 0
        while True:
            try:
                data = self._read(CHUNK, deadline)
            except TimeoutError:
                raise AssertionError(f"peer did not close within {scaled(timeout):.0f}s; "
                                     f"got {n} bytes")
            if not data:
                return n if digest is not None else bytes(buf)
            n += len(data)
            if digest is not None:
                digest.update(data)
            else:
                buf += data

    def close_notify(self, timeout=5):
        deadline = time.monotonic() + scaled(timeout)
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        self._flush(deadline)

    def read_head(self, timeout=10):
        head = self.recv_until(b"\r\n\r\n", timeout)
        rest, self.pending = self.pending, b""
        return parse_head(head, rest)

    def read_error(self, timeout=10):
        """An error response, its body, and how the gateway closed after it."""
        resp = self.read_head(timeout)
        resp.body = resp.rest + self.recv_until_closed(timeout)
        resp.closed_how = self.closed_how
        return resp

    def cipher(self):
        return self.obj.cipher()[0]

    def version(self):
        return self.obj.version()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def echo_round_trip(client, size=65536, timeout=10):
    """Send size random bytes through an echo tunnel and compare checksums."""
    data = os.urandom(size)
    client.send(data)
    back = client.recv_exact(size, timeout)
    assert sha256(back) == sha256(data), "echoed data differs"


# ---------------------------------------------------------------------------
# Client programs

class Proc:
    """A client program with pipes, its output collected by threads."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        self._threads = [threading.Thread(target=self._drain, args=(s, b), daemon=True)
                         for s, b in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _drain(stream, buf):
        while True:
            data = stream.read1(CHUNK)
            if not data:
                return
            buf += data

    def write(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def close_stdin(self):
        self.p.stdin.close()

    def wait_output(self, marker, timeout=10):
        wait_for(lambda: marker in self.out or self.p.poll() is not None, timeout,
                 f"{marker!r} from {self.argv[0]}")
        if marker not in self.out:
            for t in self._threads:
                t.join(5)
        assert marker in self.out, (f"{self.argv[0]} exited {self.p.returncode} without "
                                    f"{marker!r}; stdout {bytes(self.out[:300])!r} "
                                    f"stderr {bytes(self.err[-500:])!r}")
        return bytes(self.out)

    def wait(self, timeout=10):
        try:
            rc = self.p.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.argv[0]} did not exit within "
                                 f"{scaled(timeout):.0f}s; stderr {bytes(self.err[-500:])!r}")
        for t in self._threads:
            t.join(5)
        return rc

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for t in self._threads:
            t.join(5)
        for stream in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
