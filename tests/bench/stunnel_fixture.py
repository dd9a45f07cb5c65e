"""Debian's stunnel (stunnel4) as a same-run lower bound for compare.py: a
plain TLS-terminating forwarder to a fixed backend port, the same
certificate and key as the other peers, TLS 1.3 with the one suite given.
It reads no CONNECT request and checks no credentials, so it does less per
tunnel than a CONNECT gateway: its figures are a floor, not a rival.

N processes (for the idle rows with more tunnels than one process may hold
descriptors for) each listen on a port of their own and forward to a
backend port of their own, so that load tool i pairs with process i. Each
runs in the foreground with its own config, log and PID file in a temporary
directory, removed at stop(). stunnel runs a thread per connection, all in
its one process, so /proc/PID counts the CPU and memory of every tunnel.
tests/bench/install-peers.sh installs the package when it is missing."""

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

STUNNEL = Path("/usr/bin/stunnel4")


def available():
    return STUNNEL.exists()


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _quiet_port(taken):
    """A free port below the ephemeral range. The backend port is unbound
    between two runs of the load tool; an ephemeral one could meanwhile
    become the source port of some connection and make its bind fail."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(1000):
        port = random.randrange(max(1024, low - 10000), low)
        if port not in taken and _bindable(port):
            taken.add(port)
            return port
    raise RuntimeError("stunnel fixture: no free port below the ephemeral range")


def _listening(port):
    """Whether a socket listens on 127.0.0.1:port (state 0A in
    /proc/net/tcp): stunnel logs nothing when it has bound, at its default
    log level."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == want and line.split()[3] == "0A"
                   for line in list(f)[1:])


class Stunnel:
    def __init__(self, cert, key, suite, processes=1):
        self.dir = Path(tempfile.mkdtemp(prefix="stunnel-bench."))
        self.procs = []
        taken = set()
        self.ports = [_quiet_port(taken) for _ in range(processes)]
        self.backend_ports = [_quiet_port(taken) for _ in range(processes)]
        self.port = self.ports[0]
        d = self.dir
        shutil.copy(cert, d / "cert.pem")
        shutil.copy(key, d / "key.pem")
        (d / "key.pem").chmod(0o600)
        for i, (port, backend) in enumerate(zip(self.ports, self.backend_ports)):
            # foreground = quiet: no fork, and the log goes to the file only;
            # syslog = no, as no syslog daemon listens in a benchmark's
            # namespace and syslog() then opens /dev/console for each line.
            # ciphersuites as well as OPENSSL_CONF: stunnel sets its own
            # TLS 1.3 list, which would override the system default.
            (d / f"stunnel-{i}.conf").write_text(f"""foreground = quiet
syslog = no
pid = {d}/stunnel-{i}.pid
output = {d}/stunnel-{i}.log
[bench]
accept = 127.0.0.1:{port}
connect = 127.0.0.1:{backend}
cert = {d}/cert.pem
key = {d}/key.pem
sslVersionMin = TLSv1.3
ciphersuites = {suite}
""")

    def start(self, timeout=20):
        for i in range(len(self.ports)):
            self.procs.append(subprocess.Popen(
                [str(STUNNEL), str(self.dir / f"stunnel-{i}.conf")],
                stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    log = self.dir / f"stunnel-{i}.log"
                    raise RuntimeError("stunnel exited at start: " +
                                       (log.read_text()[-2000:] if log.exists() else ""))
            if all(_listening(port) for port in self.ports):
                return self
            time.sleep(0.05)
        raise RuntimeError("stunnel not listening after start timeout")

    def pids(self):
        """Every stunnel process (their threads are counted with them)."""
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
