"""Client certificates for the gateway's listeners: a test CA run with
`openssl ca` (so certificates can be revoked and CRLs issued), an unrelated
CA, and gateways whose listener asks for certificates."""

import datetime
import hashlib
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import harness as h

CA_CONF = """[ ca ]
default_ca = tg
[ tg ]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/newcerts
certificate = {d}/ca.pem
private_key = {d}/ca.key
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
default_crl_days = 2
policy = any
unique_subject = no
copy_extensions = copy
[ any ]
commonName = supplied
emailAddress = optional
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _stamp(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y%m%d%H%M%SZ")


class ClientPki:
    """A client CA in dir with certificates issued on demand."""

    def __init__(self, d, cn="tunnelgate client CA"):
        self.dir = Path(d)
        (self.dir / "newcerts").mkdir(parents=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "crlnumber").write_text("01\n")
        self.conf = self.dir / "ca.cnf"
        self.conf.write_text(CA_CONF.format(d=self.dir))
        self.ca, self.ca_key = self.dir / "ca.pem", self.dir / "ca.key"
        h.run(["openssl", "req", "-x509", *EC, "-keyout", str(self.ca_key),
               "-out", str(self.ca), "-days", "3", "-subj", f"/CN={cn}",
               "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(self, name, cn, email=None, uri=None, start=-1, end=2, dns=()):
        """cert and key paths of a client certificate valid from start to
        end days from now."""
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        san = [f"email:{email}"] if email else []
        san += [f"URI:{uri}"] if uri else []
        san += [f"DNS:{d}" for d in dns]
        argv = ["openssl", "req", "-new", *EC, "-keyout", str(key), "-out", str(csr),
                "-subj", f"/CN={cn}/O=tunnelgate tests"]
        if san:
            argv += ["-addext", "subjectAltName=" + ",".join(san)]
        h.run(argv)
        h.run(["openssl", "ca", "-batch", "-notext", "-config", str(self.conf),
               "-extensions", "client", "-startdate", _stamp(start),
               "-enddate", _stamp(end), "-in", str(csr), "-out", str(cert)])
        os.chmod(key, 0o600)
        return cert, key

    def revoke(self, cert):
        h.run(["openssl", "ca", "-batch", "-config", str(self.conf), "-revoke", str(cert)])

    def crl(self, path, last=None, next_=None):
        """A CRL of what was revoked so far; last/next_: its lastUpdate and
        nextUpdate in days from now (default: now and two days on)."""
        argv = ["openssl", "ca", "-batch", "-config", str(self.conf), "-gencrl",
                "-out", str(path)]
        if last is not None:
            argv += ["-crl_lastupdate", _stamp(last), "-crl_nextupdate", _stamp(next_)]
        h.run(argv)
        return path


def fingerprint(cert):
    """SHA-256 of the certificate's DER, lower-case hex: the audit's form."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    return hashlib.sha256(der).hexdigest()


def subject(cert):
    """The subject as the audit log writes it (RFC 2253)."""
    out = h.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject",
                 "-nameopt", "RFC2253"]).stdout.decode().strip()
    return out.split("=", 1)[1] if out.startswith("subject=") else out


def cert_listener(gw, pki, client_auth="require", crl=None, depth=None, identity=None,
                  name_field=None, uri_prefix=None):
    """Rewrite gw's configuration: its listener asks for certificates of
    pki's CA (a copy in the gateway's directory, CRL too), and auth.identity."""
    ca = gw.dir / "client-ca.pem"
    shutil.copy(pki.ca, ca)
    extra = f'client_auth = "{client_auth}"; client_ca_file = "{ca}";'
    if crl is not None:
        gw.client_crl = gw.dir / "client-crl.pem"
        shutil.copy(crl, gw.client_crl)
        extra += f' client_crl_file = "{gw.client_crl}";'
    if depth is not None:
        extra += f" client_verify_depth = {depth};"
    plain = "backlog = 128; }"
    text = gw.config_text()
    assert plain in text
    text = text.replace(plain, f"backlog = 128;\n\t  {extra} }}")
    auth = []
    if identity is not None:
        auth.append(f'identity = "{identity}";')
    if name_field is not None:
        auth.append(f'certificate_name = "{name_field}";')
    if uri_prefix is not None:
        auth.append(f'certificate_uri_prefix = "{uri_prefix}";')
    if auth:
        text = text.replace('backend = "pam";', 'backend = "pam";\n\t' + "\n\t".join(auth))
    gw.conf.write_text(text)
    return gw


def curl_cert(gw, target, cert=None, key=None, user="alice", password=None, timeout=20):
    """curl through gw with a client certificate (--proxy-cert) and, unless
    user is None, Basic credentials."""
    argv = ["curl", "-sS", "--max-time", str(int(h.scaled(timeout))),
            "--proxy", f"https://127.0.0.1:{gw.port}", "--proxy-cacert", str(gw.env.ca)]
    if cert is not None:
        argv += ["--proxy-cert", str(cert), "--proxy-key", str(key)]
    if user is not None:
        pw = h.password_of(user) if password is None else password
        h.SENT_SECRETS.add(pw)
        argv += ["--proxy-user", f"{user}:{pw}"]
    argv += ["-p", target]
    return subprocess.run(argv, capture_output=True, timeout=h.scaled(timeout) + 10)
