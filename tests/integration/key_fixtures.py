"""Gateway keys of each kind the key process signs with (issue 12): a key
and a certificate for the gateway's names from the suite's test CA, and a
gateway that serves them with TLS 1.2 suites for both ECDSA and RSA."""

import os
import struct
import subprocess

import harness as h
import proto_fixtures as pf

KINDS = {
    "ec-p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec-p384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "rsa-2048": ["-newkey", "rsa:2048"],
    "rsa-3072": ["-newkey", "rsa:3072"],
}

TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384")


def make_key(env, kind, name=None):
    """(certificate, key) of kind, signed by env.ca, in env.tmp."""
    d = env.tmp / "tls"
    name = name or kind
    key, csr, cert = d / f"{name}.key.pem", d / f"{name}.csr", d / f"{name}.cert.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-new", *KINDS[kind], "-nodes", "-keyout", str(key),
                        "-out", str(csr), "-subj", "/CN=gateway.test"],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(env.ca),
                        "-CAkey", str(env.ca.with_suffix(".key")), "-CAcreateserial",
                        "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(cert)],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
    return cert, key


def install_key(gw, cert, key):
    """Copy cert and key over gw's own files (root's, mode 0600)."""
    gw.cert.write_bytes(cert.read_bytes())
    gw.key.write_bytes(key.read_bytes())
    os.chmod(gw.key, 0o600)


def key_gateway(env, name, kind, **kw):
    """A started gateway serving a key of kind, with ECDHE-RSA suites too."""
    gw = h.Gateway(env, name, **kw)
    install_key(gw, *make_key(env, kind))
    gw.conf.write_text(gw.config_text().replace(
        '"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:'
        'ECDHE-ECDSA-CHACHA20-POLY1305"', f'"{TLS12_CIPHERS}"'))
    gw.start()
    return gw


def private_numbers(key):
    """The secret numbers of a PEM key as big-endian bytes, from `openssl
    pkey -text`: the scalar of an EC key, d, p and q of an RSA key."""
    text = subprocess.run(["openssl", "pkey", "-in", str(key), "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    fields, cur = {}, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            cur = line.strip().rstrip(":")
            fields[cur] = ""
        elif cur is not None and line.startswith(" "):
            fields[cur] += line.strip()
        else:
            cur = None
    wanted = [n for n in ("priv", "privateExponent", "prime1", "prime2") if n in fields]
    numbers = []
    for n in wanted:
        raw = bytes.fromhex(fields[n].replace(":", ""))
        numbers.append(raw.lstrip(b"\0"))
    assert numbers, f"no private numbers in {key}"
    return numbers


# ---------------------------------------------------------------------------
# The gate <-> key process protocol (src/key/key_proto.h), as an attacker in
# a gate worker speaks it

KEY_VERSION, KEY_SIGN, KEY_SIGNATURE = 1, 1, 2
SCHEME_ECDSA, SCHEME_RSA_PKCS1, SCHEME_RSA_PSS = 1, 2, 3
DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512 = 1, 2, 3
KEY_MAX_BYTES = 512
SIGN_SIZE = 8 + 8 + 16 + KEY_MAX_BYTES
SIGNATURE_SIZE = 8 + 8 + 8 + KEY_MAX_BYTES


def key_sign(req_id, scheme, digest, data, length=None):
    """A sign request; length overrides the stated data length."""
    n = len(data) if length is None else length
    return (struct.pack("<HHIQIIII", KEY_VERSION, KEY_SIGN, SIGN_SIZE, req_id, scheme,
                        digest, n, 0) + data.ljust(KEY_MAX_BYTES, b"\0"))


def parse_signature(msg):
    """(req_id, signature bytes) of a signature answer."""
    version, mtype, size, req_id, n = struct.unpack_from("<HHIQI", msg)
    assert (version, mtype, size, len(msg)) == (KEY_VERSION, KEY_SIGNATURE,
                                                SIGNATURE_SIZE, SIGNATURE_SIZE)
    return req_id, msg[24:24 + n]


def key_socket(gw, gate_pid):
    """The descriptor of gate_pid whose other end a tg-key process holds."""
    keys = set(gw.wait_children("tg-key", gw.settings["gate"]))
    peers = pf.unix_peers()
    for fd, inode in pf._socket_fds(gate_pid).items():
        peer = peers.get(inode)
        if peer is not None and pf._holders(peer, keys):
            return fd
    raise AssertionError(f"gate worker {gate_pid} holds no socket to a key process")


def verify(cert, digest, sig, tmp):
    """Does sig verify over digest with cert's public key (openssl pkeyutl)?"""
    pub, d, s = tmp / "pub.pem", tmp / "digest", tmp / "sig"
    subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout", "-out", str(pub)],
                   check=True)
    d.write_bytes(digest)
    s.write_bytes(sig)
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub),
                        "-in", str(d), "-sigfile", str(s)], capture_output=True)
    return r.returncode == 0
