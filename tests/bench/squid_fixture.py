"""Debian's Squid as a same-run HTTPS CONNECT baseline for the benchmarks:
basic auth through basic_ncsa_auth with a credential cache (credentialsttl,
as tunnelgated's own cache), one worker (or `workers N`, each on a port of
its own), its own config, PID and logs, a certificate from the benchmark's
CA. tests/bench/install-peers.sh installs the package (squid-openssl) when
it is missing. Its TLS 1.3 suites are
OpenSSL's system default: https_port's tls-cipher reaches TLS 1.2 only, so
a benchmark restricts them with an OPENSSL_CONF in the environment Squid
inherits (tests/bench/compare.py)."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench_env import tree

SQUID = Path("/usr/sbin/squid")
NCSA = Path("/usr/lib/squid/basic_ncsa_auth")


def available():
    return SQUID.exists() and NCSA.exists()


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports_conf(ports, d):
    """https_port lines: one worker's alone, else each worker its own port
    (${process_number}), so that a load tool can give each worker its share
    of tunnels: a shared port lets the kernel give one worker more, and a
    worker holds both ends of each tunnel under a capped descriptor limit."""
    line = "https_port 127.0.0.1:{} tls-cert={d}/cert.pem tls-key={d}/key.pem"
    if len(ports) == 1:
        return line.format(ports[0], d=d)
    # The coordinator, a process of its own, exits at start when it has no
    # forward-proxy port: one plain port for every process, which no
    # benchmark uses. The master, seeing no https_port, makes no shared TLS
    # session cache, which the workers then fail to open: none is used (a
    # TLS 1.3 client resumes with a ticket, not from that cache).
    return "\n".join(["sslproxy_session_cache_size 0",
                      f"http_port 127.0.0.1:{_free_port()}"] + [
        f"if ${{process_number}} = {i}\n{line.format(p, d=d)}\nendif"
        for i, p in enumerate(ports, 1)])


class Squid:
    def __init__(self, cert, key, user, password, workers=1):
        self.dir = Path(tempfile.mkdtemp(prefix="squid-bench."))
        self.ports = [_free_port() for _ in range(workers)]
        self.port = self.ports[0]
        self.proc = None
        d = self.dir
        shutil.copy(cert, d / "cert.pem")
        shutil.copy(key, d / "key.pem")
        hashed = subprocess.run(["openssl", "passwd", "-apr1", password], check=True,
                                capture_output=True, text=True).stdout.strip()
        (d / "htpasswd").write_text(f"{user}:{hashed}\n")
        (d / "squid.conf").write_text(f"""workers {workers}
{_ports_conf(self.ports, d)}
pinger_enable off
cache_effective_user proxy
pid_filename {d}/squid.pid
cache_log {d}/cache.log
access_log stdio:{d}/access.log
cache_store_log none
coredump_dir {d}
netdb_filename none
cache deny all
cache_mem 8 MB
max_filedescriptors 65536
shutdown_lifetime 1 seconds
visible_hostname squid-bench
auth_param basic program {NCSA} {d}/htpasswd
auth_param basic children 1
auth_param basic credentialsttl 2 hours
acl authed proxy_auth REQUIRED
acl SSL_ports port 1-65535
acl CONNECT method CONNECT
acl to_loopback dst 127.0.0.1
http_access deny CONNECT !SSL_ports
http_access allow CONNECT to_loopback authed
http_access deny all
""")
        subprocess.run(["chgrp", "-R", "proxy", str(d)], check=True)
        os.chmod(d, 0o770)
        for f in ("key.pem", "htpasswd"):
            os.chmod(d / f, 0o640)

    def start(self, timeout=20):
        # -N makes the master the one worker and ignores `workers`;
        # --foreground keeps the master (which forks them) in the foreground.
        mode = "-N" if len(self.ports) == 1 else "--foreground"
        self.proc = subprocess.Popen([str(SQUID), mode, "-n", f"tgb{self.port}", "-f",
                                      str(self.dir / "squid.conf")])
        deadline = time.monotonic() + timeout
        log = self.dir / "cache.log"
        while time.monotonic() < deadline:
            if log.exists() and log.read_text().count(
                    "Accepting HTTPS Socket connections") >= len(self.ports):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"squid exited at start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("squid not listening after start timeout")

    def pids(self):
        """Squid's whole process tree (master, worker, auth helper)."""
        return tree(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
