"""CONNECT -> 200 latency of a client that leaves Nagle on and of one that
sets TCP_NODELAY, through tunnelgated and through Squid in the same run.

Each sample: TCP connect, full TLS handshake (TLS 1.3, TLS_AES_256_GCM_SHA384
forced on both gateways, ECDSA P-256 certificate), then the CONNECT request
written in one call right after the handshake, as Python's ssl module,
`openssl s_client` and many Java/.NET clients do; the time is taken from
that write to the end of the 200 response. A gateway that answers only after
a delayed ACK shows ~40 ms here for the Nagle client.
Samples alternate between gateways and client kinds so drift hits them alike.

usage: /usr/bin/python3 tests/bench/connect_latency.py BUILD_DIR
env:   CL_SAMPLES (per gateway and client kind, default 200)
It re-runs itself in a private mount + network namespace (root needed), as
the integration suite does, and reuses that suite's harness. Squid is
measured when /usr/sbin/squid exists (tests/bench/squid-baseline.sh installs
it); otherwise its rows are left out and the script says so.
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUILD = Path(sys.argv[1]).resolve() if len(sys.argv) == 2 else None
if BUILD is None:
    raise SystemExit(__doc__)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TG_BUILD", str(BUILD))
import harness as h  # noqa: E402
from handoff_fixtures import suite_config  # noqa: E402
import squid_fixture as sq  # noqa: E402

SAMPLES = int(os.environ.get("CL_SAMPLES", "200"))
SUITE = "TLS_AES_256_GCM_SHA384"
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


def one(port, ctx, nodelay, target, user, password):
    raw = socket.create_connection(("127.0.0.1", port))
    if nodelay:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="gateway.test")
    try:
        req = h.connect_request(target, user, password)
        t0 = time.perf_counter()
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError(f"closed after {got!r}")
            got += chunk
        dt = time.perf_counter() - t0
        if not got.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"not a 200: {got[:80]!r}")
        return dt
    finally:
        s.close()


def client_context(ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    # Python cannot restrict TLS 1.3 suites; both servers are configured
    # to accept only SUITE instead.
    return ctx


def main():
    if h.namespace_problem():
        os.execvp("unshare", ["unshare", "--mount", "--net", "--propagation", "private",
                              sys.executable, *sys.argv])
    env = h.Environment()
    env.setup()
    gw = squid = backend = None
    try:
        gw = h.Gateway(env, "connect-latency", policy=POLICY, gate=2, authenticator=2)
        gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
        gw.start()
        backend = h.EchoServer()
        target = f"127.0.0.1:{backend.port}"
        peers = {"tunnelgated": gw.port}
        if sq.available():
            squid = sq.Squid(env.cert, env.key, "alice", h.password_of("alice"),
                             suite=SUITE)
            squid.start()
            peers["squid"] = squid.port
        else:
            print("squid not installed: its rows are left out "
                  "(sh tests/bench/squid-baseline.sh installs it)")
        ctx = client_context(env.ca)
        pw = h.password_of("alice")
        samples = {(p, k): [] for p in peers for k in ("nagle", "nodelay")}
        for _ in range(SAMPLES):
            for peer, port in peers.items():
                for kind in ("nagle", "nodelay"):
                    samples[(peer, kind)].append(
                        one(port, ctx, kind == "nodelay", target, "alice", pw))
        print(f"CONNECT -> 200, {SAMPLES} samples each, TLS 1.3 {SUITE}")
        print(f"{'gateway':<14}{'client':<10}{'p50 ms':>9}{'p99 ms':>9}")
        for (peer, kind), v in samples.items():
            v.sort()
            print(f"{peer:<14}{kind:<10}{statistics.median(v) * 1e3:9.2f}"
                  f"{v[int(len(v) * 0.99) - 1] * 1e3:9.2f}")
        if squid:
            for kind in ("nagle", "nodelay"):
                r = statistics.median(samples[("tunnelgated", kind)]) / \
                    statistics.median(samples[("squid", kind)])
                print(f"ratio tunnelgated/squid, {kind}: {r:.2f}x")
    finally:
        if squid:
            squid.stop()
        if backend:
            backend.close()
        if gw is not None and gw.alive():
            gw.stop()
        env.teardown()


if __name__ == "__main__":
    main()
