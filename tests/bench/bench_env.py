"""What the benchmarks that run the daemon share: the integration suite's
harness on sys.path, its environment (test users for pam_unix, certificates,
the resolver) inside a private mount + network namespace, and one way to end
what a benchmark started whatever happened."""

import atexit
import contextlib
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import harness as h  # noqa: E402

# The one suite the benchmarks force on every peer.
SUITE = "TLS_AES_128_GCM_SHA256"
# alice may open a tunnel to any port of 127.0.0.1.
ALICE_POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


TICK = os.sysconf("SC_CLK_TCK")


def clients_negotiate_only(suite):
    """Every TLS client this script starts (Python's ssl, tunnelgate-bench)
    offers TLS 1.3 with suite alone, so a server that picks from what the
    client offers (Squid) negotiates it too: the script runs again, once,
    under an OPENSSL_CONF whose system default says so (OpenSSL reads it
    when first used). A CMP_OPENSSL_CONF given by the caller is kept."""
    if os.environ.get("CMP_OPENSSL_CONF") is None:
        from handoff_fixtures import openssl_client_conf
        tmp = tempfile.mkdtemp(prefix="bench-openssl.")
        conf = openssl_client_conf(tmp, suite, tls13=True)
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  dict(os.environ, OPENSSL_CONF=str(conf), CMP_OPENSSL_CONF=str(conf),
                       CMP_OPENSSL_TMP=tmp))
    # The exec above ran no exit handler, so the process it became (and the
    # one re-run in a namespace by suite_environment, which inherits the
    # variable) removes the directory.
    if os.environ.get("CMP_OPENSSL_TMP"):
        atexit.register(shutil.rmtree, os.environ["CMP_OPENSSL_TMP"], True)


def cpu_by_process(pids):
    """{process name: utime + stime + cutime + cstime in seconds} of pids."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        name = head.split("(", 1)[1]
        out[name] = out.get(name, 0) + sum(int(x) for x in rest.split()[11:15]) / TICK
    return out


def tree(root):
    """root and every process below it."""
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def strace_counts(path):
    """{syscall: calls} from an strace -c summary."""
    counts = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


@contextlib.contextmanager
def suite_environment():
    """The suite's environment, torn down at the end. Outside a private
    namespace the script re-runs itself in one (root needed), as the
    integration suite does, so it never touches the host's network."""
    if h.namespace_problem():
        os.execvp("unshare", ["unshare", "--mount", "--net", "--propagation", "private",
                              sys.executable, *sys.argv])
    env = h.Environment()
    env.setup()
    try:
        yield env
    finally:
        env.teardown()


def stop_all(*started):
    """Ends each of started that did start (None is skipped): a gateway if
    it still runs, a child process, a backend (close()) or Squid (stop())."""
    for thing in started:
        if thing is None:
            continue
        if isinstance(thing, h.Gateway):
            if thing.alive():
                thing.stop()
        elif hasattr(thing, "kill"):
            thing.kill()
            thing.wait()
        elif hasattr(thing, "close"):
            thing.close()
        else:
            thing.stop()


@contextlib.contextmanager
def running(env, name, **kw):
    """A started gateway (h.Gateway's settings), an echo backend behind it
    and a client TLS context that trusts the gateway: (gw, target, ctx)."""
    gw = backend = None
    try:
        gw = h.Gateway(env, name, **kw)
        gw.start()
        backend = h.EchoServer()
        yield gw, f"127.0.0.1:{backend.port}", ssl.create_default_context(cafile=str(env.ca))
    finally:
        stop_all(backend, gw)


def connect_to_200(name, port, ctx, target, session=None, nodelay=False):
    """alice's CONNECT on a new TLS connection to the gateway named name:
    (seconds from sending it to the end of the 200's head, the suite
    negotiated, whether the session was resumed, the session to resume)."""
    raw = socket.create_connection(("127.0.0.1", port))
    if nodelay:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="gateway.test", session=session)
    try:
        req = h.connect_request(target, "alice", h.password_of("alice"))
        t0 = time.perf_counter()
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit(f"{name}: closed after {got[:80]!r}")
            got += chunk
        dt = time.perf_counter() - t0
        if not got.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"{name}: {got[:80]!r}")
        return dt, s.cipher()[0], s.session_reused, s.session
    finally:
        s.close()
