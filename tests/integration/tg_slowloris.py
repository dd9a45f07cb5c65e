"""Slowloris clients and the gate workers' memory, shared by
test_slowloris.py and tests/bench/slowloris_latency.py.

Half the connections trickle their TLS ClientHello one byte at a time (the
gate worker holds a TLS object and a partial record for each); the other
half finish the handshake and trickle a CONNECT header block one byte per
TLS record (the gate worker holds a request buffer for each). Each comes
from one of several loopback addresses, as a botnet's would.
"""

import resource
import socket
import ssl

import harness as h


def raise_nofile(need):
    """Enough descriptors for need connections in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= want, f"RLIMIT_NOFILE {soft} cannot hold {need} connections"


def client_hello(ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Slowloris:
    def __init__(self, port, ca, n, sources, target):
        self.port, self.ca, self.n, self.sources = port, ca, n, sources
        self.hello = client_hello(ca)
        self.request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nX-Slow: ".encode()
        self.raw = []       # (socket, bytes sent of the ClientHello)
        self.tls = []       # TlsClient past its handshake
        self.sent = 0

    def open(self):
        raise_nofile(self.n)
        for i in range(self.n):
            src = self.sources[i % len(self.sources)]
            if i % 2 == 0:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=h.scaled(10),
                                             source_address=(src, 0))
                s.sendall(self.hello[:1])
                self.raw.append([s, 1])
            else:
                c = h.TlsClient(self.port, self.ca, source=src)
                c.send(self.request)
                self.tls.append(c)
        return self

    def tick(self):
        """One more byte on every connection."""
        for r in self.raw:
            if r[1] < len(self.hello) - 1:
                r[0].sendall(self.hello[r[1]:r[1] + 1])
                r[1] += 1
        for c in self.tls:
            c.send(b"a")
        self.sent += 1

    def close(self):
        for s, _ in self.raw:
            s.close()
        for c in self.tls:
            c.close()
        self.raw, self.tls = [], []


def gate_rss_kib(gw):
    """The gate workers' resident memory, summed, in KiB."""
    total = 0
    for pid in gw.children("tg-gate"):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
