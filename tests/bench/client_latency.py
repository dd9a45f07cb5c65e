"""Latency tunnelgate adds to small messages, client and gateway together.

Echo round trips of 200-byte messages, one at a time, over three paths in
the same run, in interleaved batches so that drift hits them alike:
  direct   straight to the echo server
  -L       through `tunnelgate -L` and tunnelgated
  stdio    through `tunnelgate` in stdio mode (pipes) and tunnelgated
Prints p50 and p99 of each path and the difference to the direct path.
The echo server runs in its own process; the measuring loop is the same
Python code on every path, so its cost cancels out in the difference.

usage: /usr/bin/python3 tests/bench/client_latency.py BUILD_DIR
env:   LAT_MESSAGES (per path, default 20000), LAT_SIZE (default 200)
It re-runs itself in a private mount + network namespace (root needed),
as the integration suite does, and reuses that suite's harness.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUILD = Path(sys.argv[1]).resolve() if len(sys.argv) == 2 else None
if BUILD is None:
    raise SystemExit(__doc__)
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import ALICE_POLICY, h, stop_all, suite_environment  # noqa: E402

MESSAGES = int(os.environ.get("LAT_MESSAGES", "20000"))
SIZE = int(os.environ.get("LAT_SIZE", "200"))
BATCH = 1000
WARMUP = 500
ECHO_SERVER = """
import socket, sys, threading
l = socket.create_server(("127.0.0.1", 0))
print(l.getsockname()[1], flush=True)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while d := c.recv(65536):
        c.sendall(d)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


class SocketPath:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def round_trip(self, msg):
        start = time.perf_counter_ns()
        self.s.sendall(msg)
        got = 0
        while got < len(msg):
            n = len(self.s.recv(len(msg) - got))
            if n == 0:
                raise SystemExit("echo connection closed")
            got += n
        return time.perf_counter_ns() - start

    def close(self):
        self.s.close()


class StdioPath:
    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=env, bufsize=0)
        self.out, self.inp = self.p.stdin.fileno(), self.p.stdout.fileno()

    def round_trip(self, msg):
        start = time.perf_counter_ns()
        os.write(self.out, msg)
        got = 0
        while got < len(msg):
            n = len(os.read(self.inp, len(msg) - got))
            if n == 0:
                raise SystemExit(f"tunnelgate stdio exited {self.p.wait()}")
            got += n
        return time.perf_counter_ns() - start

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)
        self.p.stdout.close()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] / 1000.0


def forwarder(argv, env):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    words = p.stderr.readline().decode().split()
    if words[1:2] != ["forwarding"]:
        p.kill()
        raise SystemExit(f"tunnelgate -L did not start: {' '.join(words)}")
    return p, int(words[2].rsplit(":", 1)[1])


def measure(paths):
    msg = os.urandom(SIZE)
    samples = {name: [] for name in paths}
    for path in paths.values():
        for _ in range(WARMUP):
            path.round_trip(msg)
    while len(samples[next(iter(paths))]) < MESSAGES:
        for name, path in paths.items():
            samples[name].extend(path.round_trip(msg) for _ in range(BATCH))
    return samples


def report(samples, gw):
    base50 = percentile(samples["direct"], 50)
    base99 = percentile(samples["direct"], 99)
    print(f"echo round trip, {SIZE}-byte messages, {MESSAGES} per path, interleaved "
          f"batches of {BATCH}; {os.cpu_count()} CPUs, loopback; gateway {gw}")
    for name, values in samples.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        line = f"  {name:22s} p50 {p50:7.1f} us  p99 {p99:7.1f} us"
        if name != "direct":
            line += f"   added: p50 {p50 - base50:6.1f} us  p99 {p99 - base99:6.1f} us"
        print(line)
        if name != "direct":
            print(f"  {'':22s} mean {statistics.fmean(values) / 1000:6.1f} us, "
                  f"max {max(values) / 1000:8.1f} us")


def main():
    with suite_environment() as env:
        gw = echo = fwd = None
        paths = {}
        try:
            gw = h.Gateway(env, "latency", policy=ALICE_POLICY, gate=2, authenticator=2, idle=600.0)
            gw.start()
            echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE)
            echo_port = int(echo.stdout.readline())
            client = [str(BUILD / "tunnelgate"), "--ca", str(env.ca), "-u", "alice"]
            cenv = dict(os.environ, TUNNELGATE_PASSWORD=h.password_of("alice"))
            target = f"127.0.0.1:{echo_port}"
            fwd, port = forwarder(client + ["-L", f"0:{target}",
                                            f"gateway.test:{gw.port}"], cenv)
            paths = {"direct": SocketPath(echo_port),
                     "tunnelgate -L + gw": SocketPath(port),
                     "tunnelgate stdio + gw": StdioPath(client + [f"gateway.test:{gw.port}",
                                                                  target], cenv)}
            report(measure(paths), BUILD / "tunnelgated")
        finally:
            stop_all(*paths.values(), fwd, echo, gw)


if __name__ == "__main__":
    main()
