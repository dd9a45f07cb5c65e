"""What the benchmarks that run the daemon share: the integration suite's
harness on sys.path, its environment (test users for pam_unix, certificates,
the resolver) inside a private mount + network namespace, and one way to end
what a benchmark started whatever happened."""

import contextlib
import os
import ssl
import sys
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
