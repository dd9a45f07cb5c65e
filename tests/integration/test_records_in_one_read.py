"""Several TLS records from the client in one read: the relay decrypts them
all and writes them to the backend together (issue 11, bulk). What comes
behind good records in the same read, a damaged record or a close_notify,
waits until the good records reached the backend; then the backend gets a
FIN. Checked in a gate worker (workers.relay = 0) and in a relay worker,
with a client that controls the raw bytes after the 200 (ssl MemoryBIOs
over a plain socket) and sends everything with one sendall.

The other way, a gate worker that relays a tunnel itself writes the
records it seals for the client several to a write() (src/gate/tls_batch.c),
as relay workers do: counted by the kernel in /proc/PID/io. So does a
tunnel that stays in the gate worker because no relay worker could take it."""

import os
import queue
import socket
import ssl

import pytest

import harness as h
import handoff_fixtures as hf

VERSIONS = [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2]


class Sink(h.Backend):
    """Keeps what each connection sent and how it ended: eof (a FIN),
    reset or timeout."""

    def __init__(self):
        self.got = queue.Queue()
        super().__init__()

    def handle(self, conn):
        data, how = bytearray(), "eof"
        try:
            while chunk := conn.recv(h.CHUNK):
                data += chunk
        except ConnectionResetError:
            how = "reset"
        except socket.timeout:
            how = "timeout"
        self.got.put((bytes(data), how))

    def next_connection(self, timeout=10):
        try:
            return self.got.get(timeout=h.scaled(timeout))
        except queue.Empty:
            raise AssertionError("the backend connection did not end")


@pytest.fixture(scope="module")
def sink(env):
    s = Sink()
    yield s
    s.close()


def _sealed(c, data):
    """The record the client's TLS layer makes of data, not yet sent."""
    c.obj.write(data)
    return bytearray(c.out.read())


def _good_records(c, count=3, size=8000):
    good = [os.urandom(size) for _ in range(count)]
    return b"".join(good), b"".join(bytes(_sealed(c, g)) for g in good)


def _tunnel(gw, sink, version, relayed):
    c = gw.tunnel(f"backend.test:{sink.port}", max_version=version)
    if relayed:
        hf.wait_held_by_relay(gw, c.local_port)
    return c


def _good_then_bad(gw, sink, version, relayed):
    with _tunnel(gw, sink, version, relayed) as c:
        plain, wire = _good_records(c)
        bad = _sealed(c, b"damaged on the wire " * 40)
        bad[len(bad) // 2] ^= 0x01
        c.sock.sendall(wire + bad)
        data, how = sink.next_connection()
        assert len(data) == len(plain) and data == plain, (len(data), len(plain))
        assert how == "eof"
        assert c.recv(timeout=10) == b""
        assert "bad record mac" in (c.closed_how or "").lower(), c.closed_how
        close = gw.wait_audit(event="close", client=c.client_address,
                              closed_by="error")
    assert close["reason"].startswith("client: "), close
    assert close["bytes_up"] == len(plain), close


@pytest.mark.parametrize("version", VERSIONS)
def test_records_before_a_bad_one_in_the_same_read_reach_the_backend_then_fin_gate(
        make_gateway, sink, version):
    gw = make_gateway("one-read-gate", relay=0)
    _good_then_bad(gw, sink, version, relayed=False)


@pytest.mark.parametrize("version", VERSIONS)
def test_records_before_a_bad_one_in_the_same_read_reach_the_backend_then_fin_relay(
        gateway, sink, version):
    _good_then_bad(gateway, sink, version, relayed=True)


@pytest.mark.parametrize("relayed", [False, True])
def test_records_before_close_notify_in_the_same_read_reach_the_backend_then_fin(
        make_gateway, sink, relayed):
    gw = make_gateway("one-read-close", relay=2 if relayed else 0)
    with _tunnel(gw, sink, None, relayed) as c:
        plain, wire = _good_records(c)
        try:
            c.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        c.sock.sendall(wire + c.out.read())
        data, how = sink.next_connection()
        assert data == plain, (len(data), len(plain))
        assert how == "eof"
        # Half-close: the gateway's side stays open until the backend ends.
        close = gw.wait_audit(event="close", client=c.client_address)
    assert close["closed_by"] == "client", close
    assert close["bytes_up"] == len(plain), close


# A TLS record's most: 16 KiB of plaintext and the AEAD's overhead.
RECORD_MAX = 16384 + 256
BATCHED_BYTES = 64_000_000
STAYING_RECORDS = 64


def _io(pid):
    with open(f"/proc/{pid}/io") as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


def test_a_gate_worker_writes_several_records_to_the_client_at_once(make_gateway):
    """tunnelgate-bench checks the bytes (SHA-256) each way; the gate
    worker's write() calls (syscw) carry more than two full records each on
    average, where a write per record would carry at most one."""
    gw = make_gateway("batch-gate", gate=1, relay=0)
    (gate,) = gw.wait_children("tg-gate", 1)
    hf.run_bench(gw, "up", BATCHED_BYTES)
    before = _io(gate)
    hf.run_bench(gw, "down", BATCHED_BYTES)
    after = _io(gate)
    written, writes = after["wchar"] - before["wchar"], after["syscw"] - before["syscw"]
    assert written >= BATCHED_BYTES, (written, writes)
    assert written / writes > 2 * RECORD_MAX, (written, writes)


def test_a_tunnel_no_relay_worker_can_take_is_relayed_in_batches_too(
        make_gateway, backends, sink):
    """limits.connections = 1: the one relay worker is full with a held
    tunnel, so the next tunnel stays in the gate worker after its one
    handoff try. From then on it reads and writes several records at a
    time, as a tunnel meant for the gate worker from the start does: 64
    full records sent at once take fewer reads than records (two each
    without read-ahead, a header and a body), and 64 MB down more than two
    records a write. Before the change: 132 reads for the 64 records and
    3,933 writes for 64 MB down; after, 27-30 and 1,019."""
    gw = make_gateway("batch-stays", gate=1, relay=1, connections=1)
    (gate,) = gw.wait_children("tg-gate", 1)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as held:
        hf.wait_held_by_relay(gw, held.local_port)
        hf.settle_loads()
        with _tunnel(gw, sink, None, relayed=False) as c:
            assert [k for _, k in hf.port_holders(gw, c.local_port)] == ["tg-gate"]
            plain, wire = _good_records(c, count=STAYING_RECORDS, size=16384)
            try:
                c.obj.unwrap()
            except ssl.SSLWantReadError:
                pass
            before = _io(gate)
            c.sock.sendall(wire + c.out.read())
            data, how = sink.next_connection()
            after = _io(gate)
            assert data == plain and how == "eof", (len(data), len(plain), how)
            # The gate worker takes one connection: the next once this is gone.
            gw.wait_audit(event="close", client=c.client_address)
        reads = after["syscr"] - before["syscr"]
        assert after["rchar"] - before["rchar"] >= len(wire), (before, after)
        assert reads < STAYING_RECORDS, reads
        middle = _io(gate)
        hf.run_bench(gw, "down", BATCHED_BYTES)
        after = _io(gate)
        h.echo_round_trip(held)
    written, writes = after["wchar"] - middle["wchar"], after["syscw"] - middle["syscw"]
    assert written >= BATCHED_BYTES, (written, writes)
    assert written / writes > 2 * RECORD_MAX, (written, writes)
