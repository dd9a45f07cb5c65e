"""Helpers and fixtures for the tunnelgate client tests (test_client_*.py).

The client under test is $TG_BUILD/tunnelgate, run against the real gateway
(harness.Gateway) or, for answers the daemon never gives (400, 405, a
cut connection, a silent peer), against FakeGateway: a TLS listener with the
suite's certificate that answers CONNECT with a scripted reply and records
what it received, the SNI and the client certificate.
"""

import contextlib
import ctypes
import os
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness as h

OK = h.OK_STATUS_LINE


def build_dir():
    return Path(os.environ["TG_BUILD"]).resolve()


def client_path():
    return build_dir() / "tunnelgate"


def _sanitized(path):
    """Built with -fsanitize=address: the instrumentation calls __asan_init
    (the runtime itself, and its messages, live in libasan.so)."""
    try:
        return b"__asan_init" in Path(path).read_bytes()
    except OSError:
        return False


CLIENT_SANITIZED = _sanitized(client_path())


def assert_no_sanitizer_reports(stderr, what="tunnelgate"):
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    found = [l for l in text.splitlines() if any(m in l for m in h.SANITIZER_MARKERS)]
    assert not found, f"sanitizer reports from {what}:\n" + text[-3000:]


def client_env(password=None, **extra):
    """The environment for a client run: no inherited TUNNELGATE_*, the
    password (if any) in TUNNELGATE_PASSWORD, leak checking on under ASan."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNNELGATE_")}
    if password is not None:
        env["TUNNELGATE_PASSWORD"] = password
        h.SENT_SECRETS.add(password)
    if CLIENT_SANITIZED:
        env["ASAN_OPTIONS"] = "detect_leaks=1"
    env.update(extra)
    return env


def client_argv(env, port, *args, target=None, user="alice", ca=None,
                host="gateway.test"):
    """ca: a CA file, None for the suite's, False for no --ca (the system's)."""
    ca_args = [] if ca is False else ["--ca", str(ca or env.ca)]
    argv = [str(client_path()), *ca_args, "-u", user, *args, f"{host}:{port}"]
    return argv + ([target] if target else [])


def tunnelgate(env, port, *args, target=None, user="alice", password=None,
               ca=None, host="gateway.test", input=b"", timeout=30, extra_env=None):
    """Run the client in stdio mode to completion."""
    pw = h.password_of(user) if password is None else password
    r = subprocess.run(client_argv(env, port, *args, target=target, user=user, ca=ca,
                                   host=host),
                       input=input, capture_output=True, timeout=h.scaled(timeout),
                       env=client_env(pw, **(extra_env or {})))
    assert_no_sanitizer_reports(r.stderr)
    return r


def one_line(stderr):
    """The client's message: exactly one line, prefixed with its name."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tunnelgate: "), stderr
    return lines[0]


class Piped:
    """tunnelgate in stdio mode with pipes; every read has a deadline, so a
    hung client fails the test instead of hanging the suite."""

    def __init__(self, env, port, target, password=None, **kw):
        pw = h.password_of("alice") if password is None else password
        self.p = subprocess.Popen(client_argv(env, port, target=target, **kw),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=client_env(pw), bufsize=0)
        self.err = bytearray()
        self._drain = threading.Thread(target=self._read_err, daemon=True)
        self._drain.start()

    def _read_err(self):
        while data := os.read(self.p.stderr.fileno(), 65536):
            self.err += data

    def read(self, timeout=10):
        """What is on stdout now (waiting up to timeout); b"" at its end."""
        fd = self.p.stdout.fileno()
        if not select.select([fd], [], [], h.scaled(timeout))[0]:
            raise AssertionError(f"nothing on stdout within {h.scaled(timeout):.0f}s; "
                                 f"stderr {bytes(self.err)!r}")
        return os.read(fd, 65536)

    def read_exact(self, n, timeout=10):
        got = b""
        while len(got) < n:
            chunk = self.read(timeout)
            assert chunk, f"stdout ended after {got[:200]!r}; stderr {bytes(self.err)!r}"
            got += chunk
        return got

    def write(self, data):
        self.p.stdin.write(data)

    def close_stdin(self):
        self.p.stdin.close()

    def wait(self, timeout=10):
        try:
            rc = self.p.wait(h.scaled(timeout))
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"tunnelgate did not exit; stderr {bytes(self.err)!r}")
        self._drain.join(5)
        assert_no_sanitizer_reports(bytes(self.err))
        return rc

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self._drain.join(5)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Forwarder:
    """tunnelgate -L ... in the background. listening holds (host, port) of
    each bound socket, in the order the client reported them; expect is how
    many it binds (one per -L unless an address resolves to several)."""

    def __init__(self, env, port, *specs, args=(), user="alice", password=None,
                 extra_env=None, expect=None, host="gateway.test"):
        argv = [str(client_path()), "--ca", str(env.ca), "-u", user, *args]
        for spec in specs:
            argv += ["-L", spec]
        argv.append(f"{host}:{port}")
        pw = h.password_of(user) if password is None else password
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=client_env(pw, **(extra_env or {})))
        self.err = bytearray()
        self.listening = []
        fd = self.p.stderr.fileno()
        deadline = time.monotonic() + h.scaled(10)
        while len(self.listening) < (expect or len(specs)):
            left = deadline - time.monotonic()
            data = b""
            if left > 0 and select.select([fd], [], [], left)[0]:
                data = os.read(fd, 65536)
            if not data:
                self.stop()
                raise AssertionError(f"tunnelgate -L did not listen (exit "
                                     f"{self.p.returncode}): {bytes(self.err)!r}")
            self.err += data
            self.listening = []
            for line in bytes(self.err).decode().splitlines():
                words = line.split()
                if words[1:2] == ["forwarding"]:
                    host, _, p = words[2].rpartition(":")
                    self.listening.append((host.strip("[]"), int(p)))
        self._drain = threading.Thread(target=self._read_err, daemon=True)
        self._drain.start()

    def _read_err(self):
        while data := os.read(self.p.stderr.fileno(), 65536):
            self.err += data

    def ports(self):
        return [p for _, p in self.listening]

    def connect(self, i=0, timeout=10):
        host, port = self.listening[i]
        s = socket.create_connection((host, port), timeout=h.scaled(timeout))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        """SIGTERM; the exit status (0 is a clean stop)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(h.scaled(10))
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        if hasattr(self, "_drain"):
            self._drain.join(5)
        self.p.stderr.close()
        assert_no_sanitizer_reports(bytes(self.err), "tunnelgate -L")
        return self.p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------
# A scripted gateway

class FakeGateway:
    """Accepts TLS with the suite's certificate (after `tls_delay` seconds,
    so that a client surely has local data by then), reads a CONNECT request,
    waits `delay` seconds collecting whatever else arrives, sends `reply`
    (None: nothing), then `after`: "echo" (echo, then close_notify),
    "cut" (close TCP without close_notify) or "hold" (stay silent).
    tls=False: accept TCP and never speak."""

    def __init__(self, env, reply=OK, delay=0.0, after="echo", tls=True,
                 want_client_cert=False, tls_delay=0.0):
        self.reply, self.delay, self.after, self.tls = reply, delay, after, tls
        self.tls_delay = tls_delay
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(env.cert), str(env.key))
        self.ctx.sni_callback = self._sni
        if want_client_cert:
            self.ctx.verify_mode = ssl.CERT_OPTIONAL
            self.ctx.load_verify_locations(str(env.ca))
        self.seen = []
        self._local = threading.local()
        self._held = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _sni(self, sslobj, name, ctx):
        # The handshake runs in the connection's own thread.
        self._local.sni = name

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._held.append(conn)
            if not self.tls:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, raw):
        rec = {"request": b"", "early": b"", "sni": None, "peer_cert": None}
        self.seen.append(rec)
        raw.settimeout(h.scaled(10))
        time.sleep(self.tls_delay)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            rec["error"] = repr(e)
            return
        self._held.append(conn)
        rec["sni"] = getattr(self._local, "sni", None)
        try:
            rec["peer_cert"] = conn.getpeercert()
            self._script(conn, rec)
        except (OSError, ValueError) as e:
            # ValueError: the test's end closed the socket under us.
            rec["error"] = repr(e)

    def _script(self, conn, rec):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        rec["request"] = head + b"\r\n\r\n"
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = conn.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            if not data:
                break
            rest += data
        conn.settimeout(h.scaled(10))
        rec["early"] = rest
        if self.reply is not None:
            conn.sendall(self.reply)
        rec["answered"] = True
        if self.after == "cut":
            conn.close()
        elif self.after == "echo":
            if rest:
                conn.sendall(rest)
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            conn.unwrap()
            conn.close()

    def connection(self, timeout=10):
        """The first connection's record, once answered or failed."""
        h.wait_for(lambda: self.seen and ("answered" in self.seen[0] or
                                          "error" in self.seen[0]),
                   timeout, "a connection to the fake gateway")
        return self.seen[0]

    def close(self):
        """Shut the connections down, let their threads see the end, then
        close them."""
        self._stop.set()
        self.listener.close()
        for c in self._held:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(2)
        for c in self._held:
            c.close()


@contextlib.contextmanager
def extra_hosts(env, text):
    """/etc/hosts with text appended, for the duration (the suite runs in
    its own mount namespace; the harness's file is left as it is)."""
    path = env.tmp / f"hosts-{len(text)}-{os.getpid()}"
    path.write_text(Path("/etc/hosts").read_text() + text)
    os.chmod(path, 0o644)
    h.run(["mount", "--bind", str(path), "/etc/hosts"])
    try:
        yield
    finally:
        h.run(["umount", "/etc/hosts"])


@contextlib.contextmanager
def blackhole(host, port):
    """host:port accepts no connection and refuses none: its accept queue
    is full, so SYNs go unanswered and connects time out."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family)
    listener.bind((host, port))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(2):
            c = socket.socket(family)
            c.setblocking(False)
            try:
                c.connect((host, port))
            except BlockingIOError:
                pass
            fillers.append(c)
            time.sleep(0.05)
        yield
    finally:
        for c in fillers:
            c.close()
        listener.close()


@pytest.fixture
def fake_gateway(env):
    made = []

    def make(**kw):
        g = FakeGateway(env, **kw)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


@pytest.fixture(scope="session")
def client_cert(env):
    """A client certificate signed by the suite's CA: (cert, key)."""
    d = env.tmp / "client-tls"
    d.mkdir(exist_ok=True)
    key, csr, cert = d / "client.key", d / "client.csr", d / "client.pem"
    h.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(csr),
           "-subj", "/CN=alice-laptop"])
    (d / "ext.cnf").write_text("extendedKeyUsage=clientAuth\n")
    h.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(env.ca),
           "-CAkey", str(env.tmp / "tls" / "ca.key"), "-CAcreateserial", "-days", "2",
           "-extfile", str(d / "ext.cnf"), "-out", str(cert)])
    os.chmod(key, 0o600)
    return cert, key


# ---------------------------------------------------------------------------
# Looking at the client's own sockets

def tcp_sockets(pid):
    """{fd: (local_port, remote_port)} for the TCP sockets pid holds."""
    inodes = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                inodes[parts[9]] = (int(parts[1].rsplit(":", 1)[1], 16),
                                    int(parts[2].rsplit(":", 1)[1], 16))
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            found[int(fd)] = inodes[link[8:-1]]
    return found


_SYS_PIDFD_GETFD = 438


def nodelay(pid, fd):
    """TCP_NODELAY of another process's socket, read through pidfd_getfd(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    s = socket.socket(fileno=dup)
    try:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        s.close()
