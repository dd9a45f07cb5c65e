"""Bulk transfers each way through a relay worker, checked end to end by
tunnelgate-bench (--verify compares SHA-256), with the gateway restricted to
one cipher suite at a time: 1 GB each way for TLS_AES_128_GCM_SHA256 and
64 MB each way for every other suite. The 1 GB run stays in the sanitizer
build too: measured there at about 3 s up and 4 s down on 2 cores."""

import pytest

import harness as h
import handoff_fixtures as hf

BIG_SUITE = "TLS_AES_128_GCM_SHA256"
BIG = 1_000_000_000
SMALL = 64_000_000


def _io_read(pids):
    """Bytes these processes read with read()/recv() so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    total += int(line.split()[1])
    return total


@pytest.mark.parametrize("suite", hf.ALL_SUITES)
def test_bulk_each_way_through_a_relay_worker_is_intact(make_gateway, env, suite):
    v13 = suite in hf.TLS13_SUITES
    gw = hf.make_suite_gateway(make_gateway, env, f"bulk-{suite}", [suite],
                               rsa=suite in hf.TLS12_RSA_SUITES,
                               min_version="1.3" if v13 else "1.2")
    # tunnelgate-bench has no cipher options: cap it at TLS 1.2 with the
    # suite through OpenSSL's configuration for the TLS 1.2 suites.
    client_conf = None if v13 else hf.openssl_client_conf(gw.dir, suite)
    nbytes = BIG if suite == BIG_SUITE else SMALL
    relays, gates = gw.wait_children("tg-relay", 2), gw.wait_children("tg-gate", 2)
    relay_read, gate_read = _io_read(relays), _io_read(gates)
    for mode in ("up", "down"):
        hf.run_bench(gw, mode, nbytes, openssl_conf=client_conf)
    # The bytes went through the relay workers, not the gate workers.
    assert _io_read(relays) - relay_read >= 2 * nbytes
    assert _io_read(gates) - gate_read < nbytes // 100
    closes = h.wait_for(lambda: [e for e in gw.audit_events() if e["event"] == "close"]
                        if len([e for e in gw.audit_events() if e["event"] != "chain"]) >= 6
                        else None, 10,
                        "allow, open and close of both tunnels in the audit log")
    assert len(closes) == 2, closes
    for e in closes:
        assert e["tls_version"] == ("TLSv1.3" if v13 else "TLSv1.2"), e
        assert e["tls_cipher"] == suite, e
    assert closes[0]["bytes_up"] == nbytes, closes[0]
    assert closes[1]["bytes_down"] == nbytes, closes[1]
