"""Helpers for the relay-worker (handoff) tests: who holds a tunnel's
sockets, what a process's sandbox looks like from /proc, backends that tell
which gateway connection they serve, live echo streams that run while a test
disturbs the daemon, and gateways restricted to one TLS suite."""

import hashlib
import os
import pwd
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import harness as h

TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256")
TLS12_EC_SUITES = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                   "ECDHE-ECDSA-CHACHA20-POLY1305")
TLS12_RSA_SUITES = ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                    "ECDHE-RSA-CHACHA20-POLY1305")
TLS12_SUITES = TLS12_EC_SUITES + TLS12_RSA_SUITES
ALL_SUITES = TLS13_SUITES + TLS12_SUITES


# ---------------------------------------------------------------------------
# /proc: sandbox facts and socket holders

def proc_status(pid):
    """/proc/PID/status as a dict of field -> value string."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def start_time(pid):
    """pid's start time (field 22 of /proc/PID/stat), or None once it is gone
    or a zombie: with the pid, it tells one process from a successor."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


def open_files(pid):
    """What each descriptor of pid points to (socket:[..], anon_inode:.., paths)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
    return out


def holders(gw, inode):
    """(pid, comm) of every gateway child holding socket inode."""
    target = f"socket:[{inode}]"
    found = []
    for pid in gw.children():
        try:
            if target in open_files(pid).values():
                found.append((pid, comm(pid)))
        except OSError:
            continue
    return found


def port_holders(gw, client_port):
    """Holders of the gateway's side of the connection from client_port."""
    inode = h.tcp_inode(gw.port, client_port)
    return holders(gw, inode) if inode else []


def with_connections(gw, limit):
    """gw's configuration with limits.connections = limit: each gate and
    each relay worker's capacity (start gw afterwards)."""
    text = gw.config_text()
    assert "connections = 10000;" in text, "the harness's config template changed"
    gw.conf.write_text(text.replace("connections = 10000;", f"connections = {limit};"))


def settle_loads():
    """Let the master's relay loads reach every gate worker before the next
    tunnel: it sends them at most every 100 ms, and on a 2-core machine that
    runs both builds' suites at once its turn can come several tenths late."""
    time.sleep(h.scaled(1.0))


def wait_held_by_relay(gw, client_port, backend_link=None, timeout=5):
    """The tg-relay pid that alone holds the connection from client_port and,
    given backend_link (the gateway's local port towards the backend, the
    backend's port), that backend connection too."""
    def check():
        held = port_holders(gw, client_port)
        if len(held) != 1 or held[0][1] != "tg-relay":
            return None
        if backend_link is not None:
            inode = h.tcp_inode(*backend_link)
            if inode is None or holders(gw, inode) != held:
                return None
        return held[0][0]
    return h.wait_for(check, timeout, lambda: (
        f"a tg-relay alone to hold the tunnel from port {client_port}; holders now "
        f"{port_holders(gw, client_port)}"
        + (f", backend side {holders(gw, h.tcp_inode(*backend_link) or 0)}"
           if backend_link else "")))


def client_ports_of(pid, gw_port):
    """Local ports of pid's TCP connections to the gateway (for programs like
    openssl s_client and curl whose ports the test does not choose)."""
    inodes = {v[len("socket:["):-1] for v in open_files(pid).values()
              if v.startswith("socket:[")}
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[9] in inodes and int(parts[2].rsplit(":", 1)[1], 16) == gw_port:
                    ports.append(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def relay_pids(gw, count, timeout=10):
    return gw.wait_children("tg-relay", count, timeout)


def process_alive(pid, start):
    return start is not None and start_time(pid) == start


def start_times(pids):
    return {p: start_time(p) for p in pids}


# ---------------------------------------------------------------------------
# Backends that report which gateway connection they serve

class TrackingEcho(h.Backend):
    """Echoes; per accepted connection records the gateway's port and how
    the connection ended (eof, reset) in self.ended[port]."""

    def __init__(self, host="127.0.0.1", port=0):
        self.peers = queue.Queue()
        self.ended = {}
        super().__init__(host, port)

    def handle(self, conn):
        port = conn.getpeername()[1]
        self.peers.put(port)
        how = "eof"
        try:
            while True:
                data = conn.recv(h.CHUNK)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
        except socket.timeout:
            how = "timeout"
        self.ended[port] = how

    def next_peer(self, timeout=10):
        try:
            return self.peers.get(timeout=h.scaled(timeout))
        except queue.Empty:
            raise AssertionError("no connection reached the tracking backend")

    def wait_ended(self, port, timeout=10):
        return h.wait_for(lambda: self.ended.get(port), timeout,
                          f"the backend connection from port {port} to end")


def tracked_tunnel(gw, backend, **kw):
    """A tunnel to a TrackingEcho: (client, gateway's local port to backend).
    Open no other tunnel to the same backend meanwhile."""
    while not backend.peers.empty():
        backend.peers.get_nowait()
    c = gw.tunnel(f"backend.test:{backend.port}", **kw)
    try:
        return c, backend.next_peer()
    except BaseException:
        c.close()
        raise


# ---------------------------------------------------------------------------
# Live echo streams

class LiveStream:
    """A thread that keeps echo round trips going through one tunnel and
    checks every byte, until stop(). rounds counts verified round trips."""

    def __init__(self, client, size=32 * 1024):
        self.client, self.size = client, size
        self.rounds = 0
        self.error = None
        self.digest_out, self.digest_in = hashlib.sha256(), hashlib.sha256()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            n = 0
            while not self._stop.is_set():
                data = n.to_bytes(8, "big") + os.urandom(self.size - 8)
                self.digest_out.update(data)
                self.client.send(data, timeout=30)
                back = self.client.recv_exact(len(data), timeout=30)
                self.digest_in.update(back)
                if back != data:
                    raise AssertionError(f"round {n}: echo differs")
                n += 1
                self.rounds = n
        except BaseException as e:  # reported by check()
            self.error = e

    def wait_rounds(self, more, timeout=20):
        """Wait until `more` further round trips were verified."""
        target = self.rounds + more
        h.wait_for(lambda: self.rounds >= target or self.error is not None, timeout,
                   lambda: f"{more} more echo rounds (at {self.rounds}, want {target})")
        self.check()

    def check(self):
        if self.error is not None:
            raise AssertionError(f"live stream failed after {self.rounds} rounds: "
                                 f"{self.error!r}")

    def cancel(self):
        """Stop without checking (the test failed already)."""
        self._stop.set()

    def stop(self):
        self._stop.set()
        self._thread.join(h.scaled(40))
        assert not self._thread.is_alive(), "live stream thread did not stop"
        self.check()
        assert self.digest_in.hexdigest() == self.digest_out.hexdigest()
        return self.rounds


# ---------------------------------------------------------------------------
# Certificates and single-suite gateways

def rsa_certificate(env):
    """An RSA server certificate from the session's CA (for ECDHE-RSA)."""
    d = env.tmp / "tls-rsa"
    cert, key = d / "cert.pem", d / "key.pem"
    if cert.exists():
        return cert, key
    d.mkdir()
    ca_key = env.ca.with_suffix(".key")
    csr = d / "cert.csr"
    h.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
           "-out", str(csr), "-subj", "/CN=gateway.test"])
    h.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(env.ca), "-CAkey",
           str(ca_key), "-CAcreateserial", "-days", "2", "-extfile",
           str(env.tmp / "tls" / "ext.cnf"), "-out", str(cert)])
    os.chmod(key, 0o600)
    return cert, key


def suite_config(gw, suites=None, min_version="1.2"):
    """gw's configuration with its TLS suites and minimum version replaced.
    suites (OpenSSL names) go to the TLS 1.3 or the TLS 1.2 list; the daemon
    refuses an empty list, so a version given none keeps one placeholder,
    which min_version = 1.3 (or, for TLS 1.2 suites, the client's own cap)
    keeps from being negotiated."""
    text = gw.config_text()
    if suites is not None:
        v13 = [s for s in suites if s in TLS13_SUITES] or ["TLS_AES_128_GCM_SHA256"]
        v12 = [s for s in suites if s in TLS12_SUITES] or ["ECDHE-ECDSA-AES128-GCM-SHA256"]
        lines = []
        for line in text.splitlines():
            if line.strip().startswith("tls13_ciphersuites"):
                line = f'\ttls13_ciphersuites = "{":".join(v13)}";'
            elif line.strip().startswith("tls12_ciphers"):
                line = f'\ttls12_ciphers = "{":".join(v12)}";'
            lines.append(line)
        text = "\n".join(lines) + "\n"
    old = 'min_version = "1.2";'
    assert old in text, "the harness's config template changed its min_version line"
    return text.replace(old, f'min_version = "{min_version}";')


def make_suite_gateway(make_gateway, env, name, suites=None, rsa=False, min_version="1.2",
                       **kw):
    """A started private gateway with the given suites, RSA or EC certificate."""
    gw = make_gateway(name, start=False, **kw)
    if rsa:
        cert, key = rsa_certificate(env)
        gw.cert.write_bytes(cert.read_bytes())
        gw.key.write_bytes(key.read_bytes())
    gw.conf.write_text(suite_config(gw, suites, min_version))
    r = gw.check_config()
    assert r.returncode == 0, r.stderr
    return gw.start()


def openssl_client_conf(tmp, suite, tls13=False):
    """An OPENSSL_CONF whose system default lets a client (tunnelgate-bench,
    Python's ssl) offer suite alone: a TLS 1.3 ciphersuite, or else a TLS
    1.2 cipher with TLS 1.2 only. The bench tool has no cipher options."""
    only = (f"MinProtocol = TLSv1.3\nCiphersuites = {suite}\n" if tls13 else
            f"MinProtocol = TLSv1.2\nMaxProtocol = TLSv1.2\nCipherString = {suite}\n")
    path = Path(tmp) / f"openssl-{suite}.cnf"
    path.write_text("openssl_conf = tg_conf\n[tg_conf]\nssl_conf = tg_ssl\n[tg_ssl]\n"
                    "system_default = tg_default\n[tg_default]\n" + only)
    return path


# ---------------------------------------------------------------------------
# The bench tool

def bench_path():
    return h.daemon_path().parent / "tunnelgate-bench"


def run_bench(gw, mode, nbytes, openssl_conf=None, timeout=600):
    """A tunnelgate-bench bulk transfer with --verify; returns its report."""
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    if openssl_conf is not None:
        env["OPENSSL_CONF"] = str(openssl_conf)
    argv = [str(bench_path()), "--gateway", f"127.0.0.1:{gw.port}", "--ca", str(gw.env.ca),
            "--user", "alice", "--mode", mode, "--bytes", str(nbytes), "--verify",
            "--timeout", str(int(h.scaled(30)))]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, (f"tunnelgate-bench --mode {mode} --bytes {nbytes} exited "
                               f"{r.returncode}: {r.stderr}\n{gw.stderr_tail(20)}")
    line = r.stdout.strip()
    assert line.startswith(f"{mode} bytes={nbytes} ") and line.endswith(" verified"), line
    return line


def finish_gateway(gw):
    """Stop a gateway made outside make_gateway, with conftest's checks:
    no child outlives the master, exit status 0 on SIGTERM."""
    running = gw.alive()
    gw.stop()
    assert not gw.problems, f"{gw.name}: " + "; ".join(gw.problems)
    assert not running or gw.exit_status == 0, (
        f"{gw.name}: tunnelgated exited with {gw.exit_status} after SIGTERM\n"
        f"{gw.stderr_tail()}")
