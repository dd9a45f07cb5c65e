"""A private slapd for the LDAP tests, and gateways that authenticate with it.

Slapd runs from a cn=config built with slapadd and a directory loaded online
with ldapadd as the root DN (the memberof overlay fills memberOf only on
online adds). It listens on 127.0.0.1 only, for ldap:// (StartTLS offered)
and ldaps://, with a certificate from its own generated CA whose IP SAN is
127.0.0.1 (libldap treats the name "localhost" specially). The ppolicy
module is loaded for its schema only, not as an overlay, so that
pwdAccountLockedTime marks a locked account without slapd enforcing it: the
gateway's account_filter is what refuses it. cn=monitor counts operations,
so a test can tell whether the directory was asked.

Standard library only; runs inside the suite's private namespaces.
"""

import base64
import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import harness as h

BASE = "dc=tunnelgate,dc=test"
ROOT_DN = f"cn=admin,{BASE}"
SERVICE_DN = f"cn=tunnelgate,ou=services,{BASE}"
PEOPLE = f"ou=people,{BASE}"
GROUPS_BASE = f"ou=groups,{BASE}"
SLAPD = "/usr/sbin/slapd"


@dataclass(frozen=True)
class LdapUser:
    uid: str
    password: str
    ou: str                 # where the entry lives, below BASE
    locked: bool = False

    @property
    def dn(self):
        return f"uid={dn_escape(self.uid)},{self.ou},{BASE}"


# A name with every punctuation character a user name may have
# (AUTH_USER_CHARS in auth/auth.h).
SPECIAL = "o.neil_ann-2@ext"
# An entry named with every character special to filters or DNs that HTTP
# Basic can carry (not ':'): no login may even ask the directory about it.
UNNAMEABLE = "o'neil, ann (ext)+*\\dev=#"

USERS = {u.uid: u for u in (
    LdapUser("alice", "Alice-Ldap-4821", "ou=staff,ou=people"),
    LdapUser("erin", "Erin-Ldap-7734", "ou=contractors,ou=staff,ou=people"),
    LdapUser("bob", "Bob-Ldap-1290", "ou=people"),
    LdapUser("carol", "Carol-Ldap-5567", "ou=people", locked=True),
    LdapUser(SPECIAL, "Special-Ldap-3308", "ou=people"),
    LdapUser(UNNAMEABLE, "Unnameable-Ldap-4410", "ou=people"),
)}

# group -> (object class, members). memberOf is kept for groupOfNames only.
GROUPS = {
    "ops": ("groupOfNames", ("alice", "erin", SPECIAL, UNNAMEABLE)),
    "staff": ("groupOfNames", ("alice", "bob")),
    "dev": ("groupOfUniqueNames", ("bob", "carol")),
    "backup": ("posixGroup", ("bob",)),
}

ACCOUNT_FILTER = "(!(pwdAccountLockedTime=*))"


def dn_escape(value):
    """RFC 4514, the same rules as auth/auth_ldap_escape.c."""
    out = []
    for i, c in enumerate(value):
        if ord(c) < 0x20 or c == "\x7f":
            out.append("\\%02x" % ord(c))
        elif c in "\"+,;<>\\=" or (i == 0 and c in " #") or (
                i == len(value) - 1 and c == " "):
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ldif_value(name, value):
    """An LDIF line; base64 where the value is not a SAFE-STRING."""
    if value and (value[0] in " :<" or value[-1] == " " or
                  any(ord(c) < 0x20 or ord(c) > 0x7e for c in value)):
        return f"{name}:: {base64.b64encode(value.encode()).decode()}\n"
    return f"{name}: {value}\n"


def user_ldif(u, uid_number):
    locked = "pwdAccountLockedTime: 000001010000Z\n" if u.locked else ""
    return (ldif_value("dn", u.dn) +
            "objectClass: inetOrgPerson\nobjectClass: posixAccount\n" +
            ldif_value("uid", u.uid) + ldif_value("cn", u.uid) +
            f"sn: test\nuidNumber: {uid_number}\ngidNumber: 50000\n"
            f"homeDirectory: /nonexistent\nuserPassword: {ssha(u.password)}\n"
            f"{locked}\n")


def directory_ldif(extra_users=()):
    ous = sorted({u.ou for u in USERS.values()} | {"ou=people"},
                 key=lambda ou: ou.count(","))
    text = (f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\n"
            f"dc: tunnelgate\no: tunnelgate test\n\n")
    for ou in ["ou=services", "ou=groups"] + ous:
        text += f"dn: {ou},{BASE}\nobjectClass: organizationalUnit\n" \
                f"ou: {ou.split(',')[0][3:]}\n\n"
    users = list(USERS.values()) + list(extra_users)
    for n, u in enumerate(users):
        text += user_ldif(u, 50001 + n)
    for name, (oc, members) in GROUPS.items():
        text += f"dn: cn={name},{GROUPS_BASE}\nobjectClass: {oc}\ncn: {name}\n"
        for m in members:
            if oc == "groupOfNames":
                text += ldif_value("member", USERS[m].dn)
            elif oc == "groupOfUniqueNames":
                text += ldif_value("uniqueMember", USERS[m].dn)
            else:
                text += ldif_value("memberUid", m)
        text += "gidNumber: 50100\n\n" if oc == "posixGroup" else "\n"
    return text


CONFIG_LDIF = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid
olcTLSCACertificateFile: {ca}
olcTLSCertificateFile: {cert}
olcTLSCertificateKeyFile: {key}
olcIdleTimeout: 0

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {{0}}back_mdb
olcModuleLoad: {{1}}memberof
olcModuleLoad: {{2}}ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 1000

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {base}
olcRootDN: {root_dn}
olcRootPW: {root_pw}
olcDbDirectory: {dir}/db
olcDbMaxSize: 268435456
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcDbIndex: uniqueMember eq
olcDbIndex: memberUid eq
olcAccess: {{0}}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcDatabase={{2}}monitor,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{2}}monitor
olcAccess: {{0}}to * by dn.exact="{root_dn}" read by * none
"""


def make_ca(d, cn):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca, ca_key = d / "ca.pem", d / "ca.key"
    cert, key, csr = d / "server.pem", d / "server.key", d / "server.csr"
    h.run(["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca),
           "-days", "2", "-subj", f"/CN={cn}",
           "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    h.run(["openssl", "req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
           "-subj", "/CN=ldap.tunnelgate.test"])
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:ldap.tunnelgate.test\n"
                               "basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n")
    h.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
           str(ca_key), "-CAcreateserial", "-days", "2", "-extfile",
           str(d / "ext.cnf"), "-out", str(cert)])
    os.chmod(key, 0o600)
    return ca, cert, key


class Slapd:
    """One slapd with its own CA, config, data and ports (kept across a
    stop and start, so a restart is the same server)."""

    def __init__(self, tmp, name="slapd", extra_users=(), extra_ldif="", tls=True,
                 extra_config=""):
        """tls=False: a plain server, ldap:// only, no StartTLS; extra_config:
        cn=config entries (LDIF) loaded with the rest before the start."""
        self.tls = tls
        self.dir = Path(tmp) / name
        self.dir.mkdir()
        (self.dir / "db").mkdir()
        (self.dir / "slapd.d").mkdir()
        self.port, self.tls_port = h.free_ports(2)
        self.ca, self.cert, self.key = make_ca(self.dir, f"{name} test CA")
        self.root_pw = secrets.token_hex(12)
        self.service_pw = secrets.token_hex(12)
        self.extra_users = tuple(extra_users)
        self.proc = None
        self.log = self.dir / "slapd.log"
        config = self.dir / "config.ldif"
        text = CONFIG_LDIF.format(
            dir=self.dir, ca=self.ca, cert=self.cert, key=self.key, base=BASE,
            root_dn=ROOT_DN, root_pw=ssha(self.root_pw)) + extra_config
        if not tls:
            text = re.sub(r"^olcTLS.*\n", "", text, flags=re.M)
        config.write_text(text)
        h.run(["slapadd", "-n0", "-F", str(self.dir / "slapd.d"), "-l", str(config)])
        self.start()
        self.ldapadd(directory_ldif(self.extra_users) +
                     f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\n"
                     f"objectClass: simpleSecurityObject\ncn: tunnelgate\n"
                     f"userPassword: {ssha(self.service_pw)}\n\n" + extra_ldif)

    @property
    def uri(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self):
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def misnamed_uri(self):
        """The same server at an address its certificate does not name."""
        return f"ldaps://127.0.0.2:{self.tls_port}"

    def start(self, timeout=10):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SLAPD, "-d", "0", "-F", str(self.dir / "slapd.d"), "-h",
                 f"{self.uri}/ {self.ldaps_uri}/ {self.misnamed_uri}/" if self.tls
                 else f"{self.uri}/"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

        def answers():
            assert self.proc.poll() is None, (
                f"slapd exited with {self.proc.returncode} "
                f"(ports taken by another: {self._taken_ports()}):\n"
                f"{self.log.read_text()}")
            return self._tool("ldapwhoami", check=False).returncode == 0
        h.wait_for(answers, timeout, "slapd to answer")

    def _taken_ports(self):
        """slapd -d 0 says nothing when it cannot bind; say it for it."""
        taken = []
        for port in {self.port, self.tls_port}:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    taken.append(port)
        return taken or "none"

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def _tool(self, tool, *args, check=True, **kw):
        return h.run([tool, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", self.root_pw,
                      *args], check=check, **kw)

    def ldapadd(self, ldif):
        self._tool("ldapadd", input=ldif.encode())

    def ldapmodify(self, ldif):
        self._tool("ldapmodify", input=ldif.encode())

    def binds_as(self, user, password):
        """Whether a simple bind as user with password succeeds."""
        return h.run(["ldapwhoami", "-x", "-H", self.uri, "-D", user.dn, "-w", password],
                     check=False).returncode == 0

    def search(self, base, *args):
        return self._tool("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", base,
                          *args).stdout.decode()

    def operations(self):
        """Completed operations by type since start, from cn=monitor."""
        text = self.search("cn=Operations,cn=Monitor", "(objectClass=*)",
                           "monitorOpCompleted")
        ops = {}
        for block in text.split("\n\n"):
            m = re.search(r"^dn: cn=(\w+),cn=Operations,cn=Monitor", block, re.M)
            n = re.search(r"^monitorOpCompleted: (\d+)", block, re.M)
            if m and n:
                ops[m.group(1).lower()] = int(n.group(1))
        return ops

    def operations_since(self, before):
        """Operations completed since before was read, less this reading's
        own bind, search and unbind; only the kinds that changed."""
        after = self.operations()
        own = {"bind": 1, "search": 1, "unbind": 1}
        delta = {k: after[k] - before.get(k, 0) - own.get(k, 0) for k in after}
        return {k: v for k, v in delta.items() if v != 0}

    def write_service_secret(self, path):
        """The service account's password file as the daemon wants it."""
        Path(path).write_text(self.service_pw + "\n")
        os.chown(path, 0, 0)
        os.chmod(path, 0o600)

    def close(self):
        self.stop()


class SilentLdap:
    """A listening socket that accepts connections and never answers: an LDAP
    server that is up at the TCP level and hung above it."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    @property
    def uri(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self):
        return f"ldaps://127.0.0.1:{self.port}"

    def close(self):
        self.listener.close()


class RefusingPort:
    """A loopback port bound but not listening: connects are refused."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def uri(self):
        return f"ldap://127.0.0.1:{self.port}"

    def close(self):
        self.sock.close()


def ldap_block(uris, ca, bind="search", groups="memberof", secret="", starttls=True,
               account_filter=ACCOUNT_FILTER, connect=1.0, operation=1.5, backoff=0.5,
               extra=""):
    """The auth group of a tunnelgated.conf for the test directory."""
    uri_list = ", ".join(f'"{u}"' for u in uris)
    if bind == "search":
        bind_group = (f'mode = "search"; dn = "{SERVICE_DN}"; password_file = "{secret}";\n'
                      f'\t\t\tbase = "{PEOPLE}"; scope = "sub";\n'
                      f'\t\t\tfilter = "(&(objectClass=inetOrgPerson)(uid=%u))";')
    else:
        bind_group = f'mode = "template"; dn_template = "uid=%u,{PEOPLE}";'
    if groups == "memberof":
        group_group = 'mode = "memberof"; attribute = "memberOf";'
    else:
        group_group = f'mode = "search"; base = "{GROUPS_BASE}"; name_attribute = "cn";'
    return f"""auth = {{
	backend = "ldap";
	realm = "{h.REALM}";
	ldap = {{
		uris = [ {uri_list} ];
		starttls = {"true" if starttls else "false"};
		tls = {{ ca_file = "{ca}"; verify = true; }};
		bind = {{
			{bind_group}
		}};
		account_filter = "{account_filter}";
		groups = {{ {group_group} }};
		timeouts = {{ connect = {connect}; operation = {operation}; }};
		backoff = {backoff};{extra}
	}};
}};
"""


class LdapGateway(h.Gateway):
    """harness.Gateway with the auth group replaced by an LDAP one."""

    def __init__(self, env, name, auth_block, **kw):
        self.auth_block = auth_block
        super().__init__(env, name, **kw)

    def config_text(self, **changes):
        text = super().config_text(**changes)
        # The block replaces the template's auth group, failure_delay with
        # it: without this line a gateway would wait the daemon's default
        # before each 407, whatever failure_delay it was made with.
        delay = dict(self.settings, **changes)["failure_delay"]
        block, n = re.subn(r'^(\tbackend = "ldap";\n)',
                           lambda m: f"{m.group(1)}\tfailure_delay = {delay};\n",
                           self.auth_block, flags=re.M)
        assert n == 1, "the LDAP auth block has no backend line"
        text, n = re.subn(r"^auth = \{\n.*?^\};\n", lambda m: block, text,
                          flags=re.S | re.M)
        assert n == 1, "harness.CONFIG_TEMPLATE has no auth group to replace"
        return text


def finish(gw):
    """Stop gw; it must exit 0 on SIGTERM, leave no child and no report."""
    if gw.proc is None:
        return
    running = gw.alive()
    gw.stop()
    assert not gw.problems, f"{gw.name}: " + "; ".join(gw.problems)
    assert not running or gw.exit_status == 0, (
        f"{gw.name}: tunnelgated exited with {gw.exit_status}\n{gw.stderr_tail()}")
    reports = gw.new_sanitizer_reports()
    assert not reports, f"{gw.name}: sanitizer reports:\n" + "\n".join(reports)


def wait_ready(gw):
    """Until an authenticator answers. Each sets libldap up when it starts,
    which looks up the host's own name (tg_env's /etc/hosts has it; were it
    missing, the silent name server would add its timeout): timed tests must
    not count that start. An empty password is refused without asking the
    directory."""
    resp = gw.attempt(h.connect_request("127.0.0.1:9", "ready", ""),
                      timeout=h.TIMEOUTS["auth"] + 5)
    assert resp.status == 407, resp.status_line


def login(gw, user, password, target, timeout=15):
    """The status of a CONNECT as user, and how long it took."""
    start = time.monotonic()
    resp = gw.attempt(h.connect_request(target, user, password), timeout=timeout)
    return resp.status, time.monotonic() - start
