"""Fixtures-in-code for the tunnelgated integration suite.

Everything here runs inside the private mount + network namespace the suite
is started in (see conftest.py): test users for pam_unix, a private
/etc/hosts and resolver, a CA and server certificate, loopback backends, the
daemon itself, and TLS clients that can send close_notify and keep reading.
Standard library only.
"""

import base64
import ctypes
import hashlib
import http.server
import json
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHUNK = 256 * 1024
REALM = "tunnelgate"
OK_STATUS_LINE = b"HTTP/1.1 200 Connection established\r\n\r\n"
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


@dataclass(frozen=True)
class User:
    name: str
    password: str
    groups: tuple
    state: str  # ok | locked | expired


USERS = {
    "alice": User("alice", "Alice-Secret-7391", ("ops",), "ok"),
    "bob": User("bob", "Bob-Secret-2846", ("dev",), "ok"),
    "carol": User("carol", "Carol-Secret-5173", ("dev",), "locked"),
    "dave": User("dave", "Dave-Secret-6620", ("dev",), "expired"),
}
UNKNOWN_USER = User("mallory", "Mallory-Secret-9034", (), "absent")
GROUPS = ("ops", "dev")

HOSTS = """127.0.0.1	localhost
127.0.0.1	gateway.test backend.test other.test forbidden.test
127.0.0.2	denied.test
::1	v6.test
"""

# Rule names the tests and the audit log refer to.
RULE_DENY_RANGE = "deny-denied-range"
RULE_DENY_HOST = "deny-forbidden-host"
RULE_DENY_PORT = "deny-smtp"
RULE_OPS_V6 = "ops-loopback-v6"
RULE_OPS = "ops-test-hosts"
RULE_BOB = "bob-backend"
RULE_DEFAULT = "default-deny"

STANDARD_POLICY = f"""version = 1;
rules = (
	{{ name = "{RULE_DENY_RANGE}"; action = "deny"; users = ["alice", "bob"];
	  hosts = ["127.0.0.2/32"]; ports = ["*"]; }},
	{{ name = "{RULE_DENY_HOST}"; action = "deny"; users = ["alice", "bob"];
	  hosts = ["forbidden.test"]; ports = ["*"]; }},
	{{ name = "{RULE_DENY_PORT}"; action = "deny"; groups = ["ops", "dev"];
	  hosts = ["*.test", "127.0.0.0/8"]; ports = [25]; }},
	{{ name = "{RULE_OPS_V6}"; action = "allow"; groups = ["ops"];
	  hosts = ["::1/128"]; ports = ["1024-65535"]; }},
	{{ name = "{RULE_OPS}"; action = "allow"; groups = ["ops"];
	  hosts = ["*.test", "127.0.0.0/8"]; ports = ["1024-65535"]; }},
	{{ name = "{RULE_BOB}"; action = "allow"; users = ["bob"];
	  hosts = ["backend.test"]; ports = ["1024-65535"]; }}
);
"""

# Every secret a test puts on the wire, for the leak test.
SENT_SECRETS = set()


def _sanitized_build(path):
    try:
        with open(path, "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False


def daemon_path():
    build = os.environ.get("TG_BUILD", "")
    return Path(build).resolve() / "tunnelgated" if build else None


# Waits are stretched for the ASan+UBSan build, which runs several times slower.
SCALE = 3.0 if daemon_path() and _sanitized_build(daemon_path()) else 1.0


def scaled(seconds):
    return seconds * SCALE


def wait_for(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {scaled(timeout):.1f}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(interval)


def run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


# ---------------------------------------------------------------------------
# Namespace guard

def _ns_inode(pid, kind):
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _reference_ns(kind):
    """The namespace of pid 1, or of the outermost ancestor we may inspect
    (some machines deny access to pid 1's namespace links)."""
    ino = _ns_inode(1, kind)
    if ino is not None:
        return ino
    ref, pid = None, os.getpid()
    while pid > 1:
        here = _ns_inode(pid, kind)
        if here is None:
            break
        ref, pid = here, _parent(pid)
    return ref


def namespace_problem():
    """Why this process must not set up the suite here, or None."""
    if os.geteuid() != 0:
        return "the integration suite must run as root"
    for kind, flag in (("net", "--net"), ("mnt", "--mount")):
        if _ns_inode("self", kind) == _reference_ns(kind):
            return (f"not in a private {kind} namespace: the suite bind-mounts "
                    f"over /etc and binds loopback ports. Run it as "
                    f"'unshare --mount --net --propagation private "
                    f"/usr/bin/python3 -m pytest tests/integration' "
                    f"(missing {flag}), or use 'make integration-test'")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == "/" and any(p.startswith("shared:") for p in parts[6:]):
                return ("the root mount propagates to the host (shared); "
                        "start the suite with --propagation private")
    return None


# ---------------------------------------------------------------------------
# Environment: users, names, resolver, certificates, chroot

class SilentDns:
    """A UDP "name server" on 127.0.0.1:53 that never answers, so every
    name missing from /etc/hosts ends in a resolver timeout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Environment:
    def __init__(self):
        self.tmp = None
        self.mounts = []
        self.dns = None
        self.ca = self.cert = self.key = self.other_ca = None
        self.chroot = None

    def setup(self):
        problem = namespace_problem()
        if problem:
            raise RuntimeError(problem)
        # Orphaned daemon children are re-parented to us, so they can be reaped.
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        run(["ip", "link", "set", "lo", "up"])
        self.tmp = Path(tempfile.mkdtemp(prefix="tunnelgate-it-"))
        os.chmod(self.tmp, 0o755)
        self._users()
        self._names()
        self._certificates()
        self.chroot = self.tmp / "chroot"
        self.chroot.mkdir(mode=0o755)
        os.chmod(self.chroot, 0o755)

    def teardown(self, keep=False):
        if self.dns:
            self.dns.close()
        for target in reversed(self.mounts):
            subprocess.run(["umount", target], capture_output=True, timeout=30)
        self.mounts = []
        if self.tmp and not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _bind(self, source, target):
        run(["mount", "--bind", str(source), target])
        self.mounts.append(target)

    def _users(self):
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        shadow = Path("/etc/shadow").read_text()
        used_uids = {int(l.split(":")[2]) for l in passwd.splitlines() if l.count(":") >= 6}
        used_gids = {int(l.split(":")[2]) for l in group.splitlines() if l.count(":") >= 3}
        for name in list(USERS) + list(GROUPS):
            if f"\n{name}:" in "\n" + passwd + group:
                raise RuntimeError(f"test user or group {name} already exists on this machine")
        free = (n for n in range(42000, 60000) if n not in used_uids and n not in used_gids)
        gids = {g: next(free) for g in GROUPS}
        today = int(time.time() // 86400)
        p_lines, s_lines = [], []
        members = {g: [u.name for u in USERS.values() if g in u.groups] for g in GROUPS}
        for u in USERS.values():
            uid = next(free)
            gid = gids[u.groups[0]]
            p_lines.append(f"{u.name}:x:{uid}:{gid}:tunnelgate test:/nonexistent:/usr/sbin/nologin")
            hashed = run(["openssl", "passwd", "-6", "-stdin"], input=u.password.encode()
                         ).stdout.decode().strip()
            if u.state == "locked":
                hashed = "!" + hashed
            expire = "1" if u.state == "expired" else ""
            s_lines.append(f"{u.name}:{hashed}:{today - 1}:0:99999:7::{expire}:")
        g_lines = [f"{g}:x:{gids[g]}:{','.join(members[g])}" for g in GROUPS]
        etc = self.tmp / "etc"
        etc.mkdir()
        (etc / "passwd").write_text(passwd.rstrip("\n") + "\n" + "\n".join(p_lines) + "\n")
        (etc / "group").write_text(group.rstrip("\n") + "\n" + "\n".join(g_lines) + "\n")
        (etc / "shadow").write_text(shadow.rstrip("\n") + "\n" + "\n".join(s_lines) + "\n")
        (etc / "nsswitch.conf").write_text(
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
        for name in ("passwd", "group", "nsswitch.conf"):
            os.chmod(etc / name, 0o644)
        os.chmod(etc / "shadow", 0o640)
        os.chown(etc / "shadow", 0, _gid_of(group, "shadow"))
        for name in ("passwd", "group", "shadow", "nsswitch.conf"):
            self._bind(etc / name, f"/etc/{name}")

    def _names(self):
        etc = self.tmp / "etc"
        (etc / "hosts").write_text(HOSTS)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        for name in ("hosts", "resolv.conf"):
            os.chmod(etc / name, 0o644)
            self._bind(etc / name, f"/etc/{name}")
        self.dns = SilentDns()

    def _certificates(self):
        """Two CAs, each with a server certificate for the gateway's names
        (the second one is for certificate reload and wrong-CA tests)."""
        d = self.tmp / "tls"
        d.mkdir()
        self.ca, self.other_ca = d / "ca.pem", d / "other-ca.pem"
        self.cert, self.key = d / "cert.pem", d / "key.pem"
        self.other_cert, self.other_key = d / "other-cert.pem", d / "other-key.pem"
        (d / "ext.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:gateway.test\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for ca, cert, key, cn in ((self.ca, self.cert, self.key, "tunnelgate test CA"),
                                  (self.other_ca, self.other_cert, self.other_key,
                                   "unrelated test CA")):
            ca_key = ca.with_suffix(".key")
            run(["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca),
                 "-days", "2", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            csr = cert.with_suffix(".csr")
            run(["openssl", "req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
                 "-subj", "/CN=gateway.test"])
            run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca),
                 "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
                 "-extfile", str(d / "ext.cnf"), "-out", str(cert)])
            os.chmod(key, 0o600)


def _gid_of(group_text, name):
    for line in group_text.splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2])
    raise RuntimeError(f"group {name} missing from /etc/group")


def check_environment(env):
    """Prove the premises the tests rest on, so a failing test points at the
    daemon and not at the fixture."""
    import grp
    import pwd
    for u in USERS.values():
        pw = pwd.getpwnam(u.name)
        assert grp.getgrgid(pw.pw_gid).gr_name == u.groups[0]
    assert "alice" in grp.getgrnam("ops").gr_mem
    addrs = {(a[0], a[4][0]) for a in socket.getaddrinfo("denied.test", 80, proto=socket.IPPROTO_TCP)}
    assert addrs == {(socket.AF_INET, "127.0.0.2")}, addrs
    addrs = {a[4][0] for a in socket.getaddrinfo("v6.test", 80, proto=socket.IPPROTO_TCP)}
    assert addrs == {"::1"}, addrs
    start = time.monotonic()
    try:
        socket.getaddrinfo("blackhole.test", 80, proto=socket.IPPROTO_TCP)
        raise AssertionError("blackhole.test resolved; the silent resolver is not in use")
    except socket.gaierror as e:
        assert e.errno == socket.EAI_AGAIN, e
    assert time.monotonic() - start >= 0.9, "resolver gave up without waiting"


# ---------------------------------------------------------------------------
# Deterministic bulk data

_BASE = random.Random(0x7475).randbytes(CHUNK)


def stream_chunks(total):
    """total bytes of data that never repeats a chunk (counter + fixed noise)."""
    i = sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        block = struct.pack(">Q", i) + _BASE[8:n] if n > 8 else struct.pack(">Q", i)[:n]
        yield block
        sent += n
        i += 1


def stream_digest(total):
    h = hashlib.sha256()
    for c in stream_chunks(total):
        h.update(c)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Backends: plain TCP servers on loopback, one thread per connection

class Backend:
    family = socket.AF_INET

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.results = queue.Queue()
        self.accepted = 0
        self._conns = []
        self._threads = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(scaled(60))
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        try:
            self.handle(conn)
        except OSError as e:
            self.results.put({"error": repr(e)})
        finally:
            conn.close()

    def handle(self, conn):
        raise NotImplementedError

    def result(self, timeout=10):
        try:
            r = self.results.get(timeout=scaled(timeout))
        except queue.Empty:
            raise AssertionError(f"{type(self).__name__} on port {self.port}: no "
                                 f"connection finished within {scaled(timeout):.0f}s")
        assert "error" not in r, r
        return r

    def close(self):
        self._stop.set()
        self.listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_to_eof(conn, digest=None):
    n = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        k = conn.recv_into(buf)
        if k == 0:
            return n
        if digest is not None:
            digest.update(view[:k])
        n += k


class EchoServer(Backend):
    """Echoes everything; half-closes after the client's EOF."""

    def handle(self, conn):
        while True:
            data = conn.recv(CHUNK)
            if not data:
                conn.shutdown(socket.SHUT_WR)
                return
            conn.sendall(data)


class BannerServer(EchoServer):
    """Speaks first, then echoes."""
    BANNER = b"SSH-2.0-tunnelgate-test-banner\r\n"

    def handle(self, conn):
        conn.sendall(self.BANNER)
        super().handle(conn)


class SinkServer(Backend):
    """Reads to EOF, records byte count and sha256, then closes."""

    def handle(self, conn):
        h = hashlib.sha256()
        n = read_to_eof(conn, h)
        self.results.put({"bytes": n, "sha256": h.hexdigest()})


class SourceServer(Backend):
    """Sends data (bytes, or total bytes of stream_chunks) then closes, or
    half-closes and records what the client sends after that."""

    def __init__(self, host="127.0.0.1", data=None, total=0, half_close=False):
        self.data, self.total, self.half_close = data, total, half_close
        super().__init__(host)

    def handle(self, conn):
        if self.data is not None:
            conn.sendall(self.data)
        else:
            for chunk in stream_chunks(self.total):
                conn.sendall(chunk)
        if not self.half_close:
            self.results.put({"sent": True})
            return
        conn.shutdown(socket.SHUT_WR)
        received = bytearray()
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            received += data
        self.results.put({"received": bytes(received)})


class HalfCloseReplyServer(Backend):
    """Reads to EOF, then answers with what it read ("<bytes> <sha256>\\n")."""

    def handle(self, conn):
        h = hashlib.sha256()
        n = read_to_eof(conn, h)
        reply = f"{n} {h.hexdigest()}\n".encode()
        conn.sendall(reply)
        self.results.put({"bytes": n, "sha256": h.hexdigest(), "reply": reply})


class HttpBackend:
    """A small HTTP/1.0 server for curl: GET /bytes/N returns N bytes of
    stream_chunks, PUT stores nothing and answers the body's sha256."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                m = re.fullmatch(r"/bytes/(\d+)", self.path)
                if not m:
                    self.send_error(404)
                    return
                total = int(m.group(1))
                self.send_response(200)
                self.send_header("Content-Length", str(total))
                self.end_headers()
                for chunk in stream_chunks(total):
                    self.wfile.write(chunk)

            def do_PUT(self):
                left = int(self.headers.get("Content-Length", "0"))
                h = hashlib.sha256()
                while left:
                    data = self.rfile.read(min(left, CHUNK))
                    if not data:
                        break
                    h.update(data)
                    left -= len(data)
                body = (h.hexdigest() + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2)


class RefusedPort:
    """A loopback port bound but never listening: connects to it are refused,
    and holding it keeps bind(port 0) from handing it to a later listener."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class Blackhole:
    """A listener whose accept queue is full: further SYNs are dropped, so a
    connect to it times out instead of being refused."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(2):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
            time.sleep(0.05)
        probe = socket.socket()
        probe.settimeout(1.0)
        try:
            probe.connect(("127.0.0.1", self.port))
            raise RuntimeError("blackhole port accepted a connection; cannot test connect timeouts")
        except socket.timeout:
            pass
        finally:
            probe.close()

    def close(self):
        for c in self.fillers:
            c.close()
        self.listener.close()


class SshServer:
    """A real sshd on loopback (root, by key only), for ssh ProxyCommand tests."""

    def __init__(self, env):
        d = env.tmp / "sshd"
        d.mkdir()
        if not os.path.isdir("/run/sshd"):
            # sshd insists on its privilege separation directory; a tmpfs keeps
            # the host's /run untouched (this is a private mount namespace).
            run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"])
            env.mounts.append("/run")
            os.mkdir("/run/sshd", 0o755)
        for name in ("host_key", "client_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)])
        shutil.copy(d / "client_key.pub", d / "authorized_keys")
        self.port = free_port()
        self.key = d / "client_key"
        self.known_hosts = d / "known_hosts"
        host_key = (d / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[backend.test]:{self.port} {host_key[0]} {host_key[1]}\n")
        config = d / "sshd_config"
        config.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d / "host_key"}
PidFile {d / "sshd.pid"}
AuthorizedKeysFile {d / "authorized_keys"}
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
""")
        self.log = open(d / "sshd.log", "ab")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    return s.recv(8).startswith(b"SSH-2.0")
            except OSError:
                return self.proc.poll() is not None
        wait_for(answers, 10, "sshd to answer")
        assert self.proc.poll() is None, (d / "sshd.log").read_text()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


class Backends:
    """Long-lived backends shared by the whole session."""

    def __init__(self):
        self.echo = EchoServer()
        self.echo6 = EchoServer("::1")
        self.banner = BannerServer()
        self.http = HttpBackend()
        self.blackhole = Blackhole()
        self.refused = RefusedPort()

    def close(self):
        for b in (self.echo, self.echo6, self.banner, self.http, self.blackhole, self.refused):
            b.close()


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
           408: "Request Timeout", 431: "Request Header Fields Too Large",
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
                 max_version=None, ciphers=None, timeout=10):
        ctx = ssl.create_default_context(cafile=str(ca))
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        self.sock = socket.create_connection((host, port), timeout=scaled(timeout))
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


# ---------------------------------------------------------------------------
# The daemon

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


TIMEOUTS = {"handshake": 5.0, "request": 2.0, "auth": 8.0, "dns": 2.0,
            "connect": 2.0, "idle": 30.0, "drain": 3.0}

CONFIG_TEMPLATE = """# written by tests/integration/harness.py
listen = (
	{{ address = "127.0.0.1"; port = {port}; backlog = 128; }}
);

tls = {{
	certificate = "{cert}";
	key = "{key}";
	min_version = "1.2";
	tls13_ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
	tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
}};

workers = {{
	gate = {gate};
	authenticator = {authenticator};
	relay = {relay};
}};

privsep = {{
	user = "nobody";
	chroot = "{chroot}";
}};

auth = {{
	backend = "pam";
	realm = "{realm}";
	pam = {{
		service = "tunnelgate";
		confdir = "pam.d";
	}};
}};

cache = {{
	positive_ttl = 300.0;
	negative_ttl = 30.0;
	max_entries = 10000;
}};

timeouts = {{
	handshake = {handshake};
	request = {request};
	auth = {auth};
	dns = {dns};
	connect = {connect};
	idle = {idle};
	drain = {drain};
}};

limits = {{
	connections = 10000;
	header_bytes = 8192;
	buffer_bytes = 65536;
	pending_auth = 256;
}};

audit = {{
	file = "audit.log";
	syslog = false;
}};

log = {{
	syslog = false;
	level = "debug";
}};

policy = "policy.conf";
"""


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid, start):
    """pid is still the process that had this start time, and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def children_of(pid):
    """Direct children (this kernel may lack /proc/PID/task/TID/children)."""
    path = f"/proc/{pid}/task/{pid}/children"
    if os.path.exists(path):
        with open(path) as f:
            return [int(p) for p in f.read().split()]
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent(int(entry)) == pid:
            kids.append(int(entry))
    return kids


def descendants_of(pid):
    out, todo = [], [pid]
    while todo:
        for kid in children_of(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def _tcp_inode(local_port, remote_port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                lp = int(parts[1].rsplit(":", 1)[1], 16)
                rp = int(parts[2].rsplit(":", 1)[1], 16)
                if lp == local_port and rp == remote_port:
                    return parts[9]
    return None


def _holds_socket(pid, inode):
    target = f"socket:[{inode}]"
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


class Gateway:
    instances = []
    _counter = 0

    def __init__(self, env, name, policy=STANDARD_POLICY, gate=2, authenticator=3,
                 relay=2, extra_env=None, **timeouts):
        Gateway._counter += 1
        self.env = env
        self.name = name
        self.dir = env.tmp / f"gw-{Gateway._counter:02d}-{name}"
        self.dir.mkdir()
        shutil.copytree(REPO / "etc" / "pam.d", self.dir / "pam.d")
        self.port = free_port()
        self.conf = self.dir / "tunnelgated.conf"
        self.policy_path = self.dir / "policy.conf"
        self.audit_path = self.dir / "audit.log"
        self.stderr_path = self.dir / "stderr.log"
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        shutil.copy(env.cert, self.cert)
        shutil.copy(env.key, self.key)
        self.settings = dict(TIMEOUTS, gate=gate, authenticator=authenticator,
                             relay=relay)
        self.settings.update(timeouts)
        self.conf.write_text(self.config_text())
        self.write_policy(policy)
        self.extra_env = extra_env or {}
        self.proc = None
        self.exit_status = None
        self.problems = []
        self._stderr_seen = 0
        Gateway.instances.append(self)

    def config_text(self, **changes):
        values = dict(self.settings, **changes)
        return CONFIG_TEMPLATE.format(port=self.port, cert=self.cert, key=self.key,
                                      chroot=self.env.chroot, realm=REALM, **values)

    def write_policy(self, text):
        tmp = self.policy_path.with_suffix(".new")
        tmp.write_text(text)
        os.replace(tmp, self.policy_path)

    # process control -------------------------------------------------------

    def check_config(self, conf=None):
        return subprocess.run([str(daemon_path()), "-t", "-c", str(conf or self.conf)],
                              capture_output=True, text=True, timeout=scaled(30))

    def start(self, timeout=15):
        log = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen([str(daemon_path()), "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=dict(os.environ, **self.extra_env))
        finally:
            log.close()
        deadline = time.monotonic() + scaled(timeout)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tunnelgated exited with {self.proc.returncode} "
                                     f"during start-up:\n{self.stderr_tail()}")
            try:
                TlsClient(self.port, self.env.ca, timeout=2).close()
                return self
            except (OSError, ssl.SSLError, TimeoutError) as e:
                last = e
                time.sleep(0.05)
        raise AssertionError(f"tunnelgated did not accept TLS on port {self.port} within "
                             f"{scaled(timeout):.0f}s ({last!r}):\n{self.stderr_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.alive(), "tunnelgated is not running"
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        try:
            self.exit_status = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            return None
        return self.exit_status

    def stop(self, timeout=None):
        """SIGTERM, bounded wait, SIGKILL as the last resort; children that
        outlive the master are killed and recorded as a problem."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            family = [(p, _starttime(p)) for p in descendants_of(self.proc.pid)]
            os.kill(self.proc.pid, signal.SIGTERM)
            limit = timeout if timeout is not None else self.settings["drain"] + 10
            if self.wait_exit(limit) is None:
                self.problems.append(f"master {self.proc.pid} ignored SIGTERM for "
                                     f"{scaled(limit):.0f}s; killed")
                self.proc.kill()
                self.proc.wait(30)
            self._reap(family)
        # Children of a master that already exited were re-parented to us.
        orphans = [(p, _starttime(p)) for p in children_of(os.getpid())
                   if (_comm(p) or "").startswith("tg-")]
        self._reap(orphans)
        self.exit_status = self.proc.returncode

    def _reap(self, family):
        deadline = time.monotonic() + scaled(5)
        for pid, start in family:
            while _running(pid, start) and time.monotonic() < deadline:
                self._try_wait(pid)
                time.sleep(0.05)
            if _running(pid, start):
                self.problems.append(f"child {pid} ({_comm(pid)}) outlived the master; killed")
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
            self._try_wait(pid)

    @staticmethod
    def _try_wait(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    # children ---------------------------------------------------------------

    def children(self, comm=None):
        kids = children_of(self.proc.pid)
        return [p for p in kids if comm is None or _comm(p) == comm]

    def wait_children(self, comm, count, timeout=10, exclude=()):
        def ready():
            kids = [p for p in self.children(comm) if p not in exclude]
            return kids if len(kids) == count else None
        return wait_for(ready, timeout, lambda: f"{count} {comm} children of {self.proc.pid} "
                        f"(now: {[(p, _comm(p)) for p in self.children()]})", 0.1)

    def gate_pid_of(self, client):
        """The tg-gate process holding client's connection."""
        def find():
            inode = _tcp_inode(self.port, client.local_port)
            if inode is None:
                return None
            for pid in self.children("tg-gate"):
                if _holds_socket(pid, inode):
                    return pid
            return None
        return wait_for(find, 5, f"the gate worker holding port {client.local_port}")

    # connections -------------------------------------------------------------

    def client(self, **kw):
        return TlsClient(self.port, self.env.ca, **kw)

    def attempt(self, raw, timeout=10, **kw):
        """Send raw bytes; the response, read to the close unless it is a 200."""
        kw.setdefault("timeout", timeout)
        with self.client(**kw) as c:
            c.send(raw)
            resp = c.read_head(timeout)
            if resp.status != 200:
                resp.body = resp.rest + c.recv_until_closed(timeout)
                resp.closed_how = c.closed_how
            resp.client_address = c.client_address
            return resp

    def status_of(self, target, user="alice", password=None, timeout=10):
        """The status a CONNECT gets, or what went wrong before one arrived."""
        try:
            return self.attempt(connect_request(target, user, password), timeout).status
        except ConnectionRefusedError:
            return "refused"
        except (OSError, ssl.SSLError, AssertionError) as e:
            return f"no response ({type(e).__name__})"

    def tunnel(self, target, user="alice", password=None, payload=b"", **kw):
        """An open tunnel (TlsClient after the 200); fails the test otherwise."""
        c = self.client(**kw)
        try:
            c.send(connect_request(target, user, password) + payload)
            resp = c.read_head()
        except BaseException:
            c.close()
            raise
        if resp.status != 200:
            try:
                body = resp.rest + c.recv_until_closed(5)
            except AssertionError:
                body = resp.rest
            c.close()
            raise AssertionError(f"CONNECT {target} as {user}: {resp.status_line!r} "
                                 f"{body[:200]!r}\n{self.stderr_tail(15)}")
        c.pending = resp.rest
        return c

    # logs ----------------------------------------------------------------------

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines=40):
        return "--- tunnelgated stderr (tail) ---\n" + "\n".join(
            self.stderr_text().splitlines()[-lines:])

    def new_sanitizer_reports(self):
        text = self.stderr_text()
        fresh, self._stderr_seen = text[self._stderr_seen:], len(text)
        return [l for l in fresh.splitlines() if any(m in l for m in SANITIZER_MARKERS)]

    def audit_events(self, path=None):
        path = path or self.audit_path
        try:
            lines = Path(path).read_text().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    raise AssertionError(f"audit line is not JSON: {line!r}")
        return events

    def wait_audit(self, timeout=10, path=None, **match):
        """The first audit event whose fields equal match."""
        def find():
            for e in self.audit_events(path):
                if all(e.get(k) == v for k, v in match.items()):
                    return e
            return None
        return wait_for(find, timeout, f"audit event {match} in {path or self.audit_path}",
                        0.1)
