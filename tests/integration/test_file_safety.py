"""A local user cannot change what tunnelgated loads (THREAT-MODEL.md,
attacker 6): every file it reads, every directory above one, the audit log's
directory and the chroot must be root's and writable by nobody else, keys
and password files must be closed to group and others, the audit log to
others. `tunnelgated -t`, a start and a reload refuse anything else, naming
the path and what to do.
"""

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys

import pytest

import harness as h
import ldap_fixtures as lf
from cert_fixtures import ClientPki


def user_uid():
    return pwd.getpwnam("alice").pw_uid


def prepared(make_gateway, name):
    """An unstarted gateway whose audit log and chroot each have a directory
    of their own, so that every kind of path can be spoiled alone."""
    gw = make_gateway(name, start=False)
    for d in ("logs", "jail", "jail/root"):
        (gw.dir / d).mkdir(mode=0o755)
    text = gw.config_text().replace('file = "audit.log";', 'file = "logs/audit.log";')
    text = text.replace(f'chroot = "{gw.env.chroot}";', f'chroot = "{gw.dir}/jail/root";')
    gw.conf.write_text(text)
    gw.audit_path = gw.dir / "logs" / "audit.log"
    return gw


def use_ldap(gw, block):
    """gw's auth group replaced by block, an LDAP one."""
    text, n = re.subn(r"^auth = \{\n.*?^\};\n", lambda m: block, gw.conf.read_text(),
                      flags=re.S | re.M)
    assert n == 1, "harness.CONFIG_TEMPLATE has no auth group to replace"
    gw.conf.write_text(text)


def ldap_tls_files(gw):
    """gw made to reach its directory over TLS with a client certificate;
    the CA, certificate and key files, copies in gw's directory."""
    ca, cert, key = (gw.dir / n for n in ("ldap-ca.pem", "ldap-client.pem", "ldap-client.key"))
    shutil.copy(gw.env.ca, ca)
    shutil.copy(gw.cert, cert)
    shutil.copy(gw.key, key)
    os.chmod(key, 0o600)
    tls = "verify = true; }"
    block = lf.ldap_block(["ldap://127.0.0.1:9"], ca, bind="template")
    assert tls in block
    use_ldap(gw, block.replace(tls, f'verify = true; certificate = "{cert}"; key = "{key}"; }}'))
    return ca, cert, key


def client_crl_file(gw):
    """gw's listener made to check client certificates against a CRL of a
    CA made for it; the CRL."""
    pki = ClientPki(gw.dir / "client-pki")
    crl = pki.crl(gw.dir / "client-crl.pem")
    plain = "backlog = 128; }"
    text = gw.conf.read_text()
    assert plain in text
    gw.conf.write_text(text.replace(plain, f'backlog = 128; client_auth = "require"; '
                                           f'client_ca_file = "{pki.ca}"; '
                                           f'client_crl_file = "{crl}"; }}'))
    return crl


# What each test spoils, and the setting the refusal names (None: the
# configuration itself); the chroot's is a component in the middle.
TARGETS = {
    "config": (lambda gw: gw.conf, None),
    "config-directory": (lambda gw: gw.dir, None),
    "policy": (lambda gw: gw.policy_path, "policy"),
    "pam-service-file": (lambda gw: gw.dir / "pam.d" / "tunnelgate", "auth.pam.service"),
    "pam-confdir": (lambda gw: gw.dir / "pam.d", "auth.pam.confdir"),
    "tls-certificate": (lambda gw: gw.cert, "tls.certificate"),
    "tls-key": (lambda gw: gw.key, "tls.key"),
    "ldap-ca-file": (lambda gw: ldap_tls_files(gw)[0], "auth.ldap.tls.ca_file"),
    "ldap-client-certificate": (lambda gw: ldap_tls_files(gw)[1], "auth.ldap.tls.certificate"),
    "ldap-client-key": (lambda gw: ldap_tls_files(gw)[2], "auth.ldap.tls.key"),
    "client-crl-file": (client_crl_file, "listen[0].client_crl_file"),
    "audit-log-directory": (lambda gw: gw.dir / "logs", "audit.file"),
    "chroot-component": (lambda gw: gw.dir / "jail", "privsep.chroot"),
}

DAMAGE = {
    "group-writable": (lambda p: os.chmod(p, os.stat(p).st_mode | 0o020),
                       lambda p: (f"{p} is writable by its group", f"chmod go-w {p}")),
    "owned-by-user": (lambda p: os.chown(p, user_uid(), -1),
                      lambda p: (f"{p} is owned by uid {user_uid()}, must be root",
                                 f"chown root {p}")),
}


def assert_refused(gw, *needles):
    """-t fails and a start fails, each saying all of needles."""
    check = gw.check_config()
    assert check.returncode == 1, f"-t accepted it:\n{check.stdout}{check.stderr}"
    for n in needles:
        assert n in check.stderr, f"-t did not say {n!r}:\n{check.stderr}"
    with pytest.raises(AssertionError, match="exited with 1 during start-up"):
        gw.start(timeout=10)
    for n in needles:
        assert n in gw.stderr_text(), f"start did not say {n!r}:\n{gw.stderr_tail()}"


def test_good_setup_passes_check_and_starts(make_gateway):
    gw = prepared(make_gateway, "files-good")
    check = gw.check_config()
    assert check.returncode == 0, check.stderr
    assert "configuration OK" in check.stdout
    gw.start()
    assert gw.status_of("backend.test:9") == 403


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_unsafe_path_is_refused(make_gateway, target, damage):
    gw = prepared(make_gateway, f"files-{target}-{damage}")
    make, setting = TARGETS[target]
    path = make(gw)
    spoil, says = DAMAGE[damage]
    spoil(path)
    problem, fix = says(os.path.realpath(path))
    assert_refused(gw, f"{setting}: {problem}" if setting else problem, fix)


def existing_audit_log(gw):
    gw.audit_path.write_bytes(b"")
    return gw.audit_path


def ldap_bind_password_file(gw):
    """gw made to bind to a directory as a service account; its password file."""
    secret = gw.dir / "bind.secret"
    secret.write_text(secrets.token_hex(16))
    ca = gw.dir / "ldap-ca.pem"
    shutil.copy(gw.env.ca, ca)
    use_ldap(gw, lf.ldap_block(["ldap://127.0.0.1:9"], ca, secret=secret))
    return secret


# Files others may not even read: how each is made, the mode that passes,
# and what a refusal of mode m says.
CLOSED_FILES = {
    "tls-key": (lambda gw: gw.key, 0o600, lambda p, m: (
        f"tls.key: {p} is open to group or others (mode {m:04o}), a key or password "
        f"file must be 0600 or 0400", f"chmod 600 {p}")),
    "audit-log": (existing_audit_log, 0o640, lambda p, m: (
        f"audit.file: {p} is open to others (mode {m:04o})", f"chmod 640 {p}")),
    "ldap-client-key": (lambda gw: ldap_tls_files(gw)[2], 0o600, lambda p, m: (
        f"auth.ldap.tls.key: {p} is open to group or others (mode {m:04o}), a key or "
        f"password file must be 0600 or 0400", f"chmod 600 {p}")),
    "ldap-bind-password-file": (ldap_bind_password_file, 0o600, lambda p, m: (
        f"auth.ldap.bind.password_file: {p} must be a regular file owned by root and "
        f"closed to group and others (it is uid 0, mode {m:04o})", "chmod 600 it")),
}


@pytest.mark.parametrize("target, mode", [("tls-key", "0640"), ("tls-key", "0644"),
                                          ("audit-log", "0644"),
                                          ("ldap-client-key", "0640"),
                                          ("ldap-client-key", "0604"),
                                          ("ldap-bind-password-file", "0640"),
                                          ("ldap-bind-password-file", "0644")])
def test_file_open_to_too_many_is_refused(make_gateway, target, mode):
    gw = prepared(make_gateway, f"files-{target}-{mode}")
    make, fixed, says = CLOSED_FILES[target]
    path = make(gw)
    mode = int(mode, 8)
    os.chmod(path, mode)
    assert_refused(gw, *says(os.path.realpath(path), mode))
    # The mode alone was wrong: what the message says to run is enough.
    os.chmod(path, fixed)
    check = gw.check_config()
    assert check.returncode == 0, check.stderr


def test_file_included_by_the_config_is_checked(make_gateway):
    gw = prepared(make_gateway, "files-include")
    inc = gw.dir / "workers.conf"
    inc.write_text("# included\n")
    os.chmod(inc, 0o664)
    gw.conf.write_text(gw.conf.read_text() + '@include "workers.conf"\n')
    assert_refused(gw, f"{gw.conf}:", f"{inc} is writable by its group")


def test_include_by_absolute_name_is_refused(make_gateway):
    """libconfig 1.5 would read it relative to the config's directory."""
    gw = prepared(make_gateway, "files-include-absolute")
    gw.conf.write_text(gw.conf.read_text() + f'@include "{gw.policy_path}"\n')
    assert_refused(gw, f"{gw.policy_path}: not supported; name the file relative to {gw.dir}")


def test_symbolic_link_as_audit_log_is_refused(make_gateway):
    gw = prepared(make_gateway, "files-audit-link")
    victim = gw.dir / "victim"
    victim.write_text("")
    os.symlink(victim, gw.audit_path)
    assert_refused(gw, f"{gw.audit_path} is a symbolic link")
    assert victim.read_text() == ""


def test_audit_log_in_a_shared_directory_is_refused(make_gateway):
    """/tmp passes above a file's own directory, never as it."""
    gw = prepared(make_gateway, "files-audit-tmp")
    log = f"/tmp/tunnelgate-audit-{secrets.token_hex(4)}.log"
    gw.conf.write_text(gw.conf.read_text().replace('"logs/audit.log"', f'"{log}"'))
    assert_refused(gw, "/tmp is a shared directory (mode 1777)")
    assert not os.path.exists(log)


def test_missing_chroot_is_created_in_a_safe_directory(make_gateway):
    gw = prepared(make_gateway, "files-chroot-new")
    os.rmdir(gw.dir / "jail" / "root")
    assert gw.check_config().returncode == 0
    gw.start()
    st = os.stat(gw.dir / "jail" / "root")
    assert st.st_uid == 0 and st.st_mode & 0o022 == 0


def test_audit_log_replaced_by_a_link_is_not_reopened(make_gateway):
    """O_NOFOLLOW on SIGUSR1's reopen: the master keeps writing the file it
    has rather than follow a link left where the log was rotated away."""
    gw = prepared(make_gateway, "files-audit-reopen")
    gw.start()
    victim = gw.dir / "victim"
    victim.write_text("")
    os.rename(gw.audit_path, gw.dir / "logs" / "audit.log.1")
    os.symlink(victim, gw.audit_path)
    gw.signal(signal.SIGUSR1)
    h.wait_for(lambda: "is a symbolic link" in gw.stderr_text(), 10,
               "the reopen to refuse the link")
    gw.status_of("backend.test:9", password=h.wrong_password("reopen"))
    gw.wait_audit(event="auth_fail", path=gw.dir / "logs" / "audit.log.1")
    assert victim.read_text() == ""


def test_reload_with_an_unsafe_policy_keeps_the_running_one(make_gateway, backends):
    gw = prepared(make_gateway, "files-reload")
    gw.start()
    os.chmod(gw.policy_path, 0o664)
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the reload to fail")
    assert f"{gw.policy_path} is writable by its group" in gw.stderr_text()
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c, 100)


# The directories libpam 1.5 reads a service from without a confdir, in order.
PAM_DIRS = ("/etc/pam.d", "/usr/lib/pam.d")


@contextlib.contextmanager
def system_pam_dirs(gw, keep_confdir=False):
    """gw made to use the system's PAM directories (auth.pam.confdir = ""
    unless keep_confdir), with a private copy of each bind-mounted over it
    only in the suite's own mount namespace; yields the copies, to be
    changed in place."""
    copies = [gw.dir / ("system" + d.replace("/", "-")) for d in PAM_DIRS]
    for d, copy in zip(PAM_DIRS, copies):
        if not os.path.isdir(d):
            pytest.skip(f"{d} does not exist on this host to be mounted over")
        shutil.copytree(d, copy, symlinks=True)
    if not keep_confdir:
        gw.conf.write_text(gw.conf.read_text().replace('confdir = "pam.d";', 'confdir = "";'))
    mounted = []
    try:
        for d, copy in zip(PAM_DIRS, copies):
            subprocess.run(["mount", "--bind", str(copy), d], check=True)
            mounted.append(d)
        yield copies
    finally:
        for d in reversed(mounted):
            subprocess.run(["umount", d], check=True)


def assert_passes(gw):
    check = gw.check_config()
    assert check.returncode == 0, check.stderr


def test_pam_files_included_from_etc_pam_d_are_checked(make_gateway):
    """Without auth.pam.confdir PAM reads /etc/pam.d/SERVICE, whose include
    lines (common-auth and the like) load other files there: those are
    checked too."""
    gw = prepared(make_gateway, "files-etc-pam-d")
    with system_pam_dirs(gw) as (etc, _):
        shutil.copy(gw.dir / "pam.d" / "tunnelgate", etc / "tunnelgate")
        planted = etc / "common-planted"
        planted.write_text("auth sufficient pam_permit.so\n")
        os.chmod(planted, 0o664)
        assert_refused(gw, "/etc/pam.d/common-planted is writable by its group",
                       "chmod go-w /etc/pam.d/common-planted")
        os.chmod(planted, 0o644)
        assert_passes(gw)


def test_other_is_checked_when_no_directory_has_the_service(make_gateway):
    """With no file of its own in /etc/pam.d or /usr/lib/pam.d, the
    service runs what /etc/pam.d/other says."""
    gw = prepared(make_gateway, "files-pam-other")
    with system_pam_dirs(gw) as (etc, usr):
        assert not (etc / "tunnelgate").exists() and not (usr / "tunnelgate").exists()
        os.chmod(etc / "other", 0o664)
        assert_refused(gw, "auth.pam.service: /etc/pam.d/other is writable by its group")
        os.chmod(etc / "other", 0o644)
        assert_passes(gw)


# Each way a PAM line loads another file, as libpam 1.5.2 parses it.
PAM_INCLUDES = {
    "at-include": "@include {}",
    "include": "auth include {}",
    "substack": "-session substack {}",
    "bracketed": "account [include] {}",
}


@pytest.mark.parametrize("form", sorted(PAM_INCLUDES))
def test_files_other_includes_are_checked_when_no_directory_has_the_service(make_gateway,
                                                                            form):
    """What "other" includes is loaded as well, wherever it lies: here a
    file by its absolute name outside /etc/pam.d."""
    gw = prepared(make_gateway, f"files-pam-other-{form}")
    planted = gw.dir / "planted-pam"
    planted.write_text("auth sufficient pam_permit.so\n")
    os.chmod(planted, 0o664)
    with system_pam_dirs(gw) as (etc, _):
        other = etc / "other"
        other.write_text(other.read_text() + PAM_INCLUDES[form].format(planted) + "\n")
        line = other.read_text().count("\n")
        assert_refused(gw, f"/etc/pam.d/other:{line}: include: {planted} is writable by "
                       "its group")
        os.chmod(planted, 0o644)
        assert_passes(gw)


@pytest.mark.parametrize("name", ["tunnelgate", "other"])
def test_pam_file_in_usr_lib_is_checked_when_etc_pam_d_lacks_it(make_gateway, name):
    """libpam looks for a name /etc/pam.d does not have in /usr/lib/pam.d:
    the service's file, or "other"."""
    gw = prepared(make_gateway, f"files-usr-lib-pam-{name}")
    with system_pam_dirs(gw) as (etc, usr):
        if name == "other":
            (etc / "other").unlink()
        vendor = usr / name
        shutil.copy(gw.dir / "pam.d" / "tunnelgate", vendor)
        os.chmod(vendor, 0o664)
        assert_refused(gw, f"auth.pam.service: /usr/lib/pam.d/{name} is writable by its "
                       "group")
        os.chmod(vendor, 0o644)
        assert_passes(gw)


@pytest.mark.parametrize("directory", PAM_DIRS)
def test_a_pam_directory_others_can_write_is_refused_without_the_service(make_gateway,
                                                                         directory):
    """Whoever can write a directory libpam searches could put the missing
    service's file there."""
    gw = prepared(make_gateway, "files-pam-dir" + directory.replace("/", "-"))
    with system_pam_dirs(gw) as copies:
        copy = copies[PAM_DIRS.index(directory)]
        os.chmod(copy, 0o775)
        assert_refused(gw, f"auth.pam.confdir: {directory} is writable by its group",
                       f"chmod go-w {directory}")
        os.chmod(copy, 0o755)
        assert_passes(gw)


def append_to_service(gw, line):
    """line added to gw's PAM service file in its confdir; the file's real
    path and the number of the line."""
    service = os.path.realpath(gw.dir / "pam.d" / "tunnelgate")
    with open(service, "a+") as f:
        f.seek(0)
        number = f.read().count("\n") + 1
        f.write(line + "\n")
    return service, number


def test_confdir_service_includes_relative_names_from_etc_pam_d(make_gateway):
    """With auth.pam.confdir, Debian's libpam 1.5.2 reads only the service
    and "other" from it: an included relative name is /etc/pam.d/NAME (the
    reviewer's strace of pam_start_confdir()), so that is the file checked,
    not the harmless one of that name in the confdir; and /etc/pam.d
    itself is checked."""
    gw = prepared(make_gateway, "files-confdir-include")
    (gw.dir / "pam.d" / "common-planted").write_text("auth required pam_deny.so\n")
    with system_pam_dirs(gw, keep_confdir=True) as (etc, _):
        planted = etc / "common-planted"
        planted.write_text("auth sufficient pam_permit.so\n")
        os.chmod(planted, 0o664)
        service, line = append_to_service(gw, "auth include common-planted")
        assert_refused(gw, f"{service}:{line}: include: /etc/pam.d/common-planted is "
                       "writable by its group")
        os.chmod(planted, 0o644)
        assert_passes(gw)
        os.chmod(etc, 0o775)
        assert_refused(gw, "auth.pam.confdir: /etc/pam.d is writable by its group")
        os.chmod(etc, 0o755)


@pytest.mark.parametrize("which", ["include", "service"])
def test_pam_file_reached_through_a_symbolic_link_is_refused(make_gateway, which):
    """libpam opens a PAM file by its name again after the check: a link
    on the way could be re-pointed by whoever owns the directory holding
    it, so the name must be the file itself (as for the config's
    @include)."""
    gw = prepared(make_gateway, f"files-pam-link-{which}")
    here = os.path.realpath(gw.dir)
    target = os.path.join(here, "pam-real")
    service = os.path.realpath(gw.dir / "pam.d" / "tunnelgate")
    if which == "include":
        link = os.path.join(here, "pam-link")
        with open(target, "w") as f:
            f.write("auth required pam_deny.so\n")
        os.symlink(target, link)
        service, line = append_to_service(gw, f"auth include {link}")
        where = f"{service}:{line}: include: "
    else:
        link = service
        shutil.move(service, target)
        os.symlink(target, link)
        where = "auth.pam.service: "
    assert_refused(gw, f"{where}{link} leads to {target} through a symbolic link")
    os.unlink(link)
    shutil.move(target, link)
    assert_passes(gw)


def missing_dotdot(gw, name):
    """An include by a relative name with "..": libpam opens
    /etc/pam.d/../../../tmp/NAME, which a local user may create."""
    return f"../../../tmp/{name}", 'a name with ".." is not supported'


def missing_dangling_link(gw, name):
    """An include of a symbolic link that leads nowhere yet, into /tmp."""
    link = os.path.join(os.path.realpath(gw.dir), "pam-dangling")
    os.symlink(f"/tmp/{name}", link)
    return link, f"{link} is a symbolic link that leads nowhere"


def missing_in_a_linked_directory(gw, name):
    """An include of a missing file in a directory reached through a
    link, which could be re-pointed to one a local user can write."""
    here = os.path.realpath(gw.dir)
    os.mkdir(os.path.join(here, "pam-real-dir"), 0o755)
    os.symlink(os.path.join(here, "pam-real-dir"), os.path.join(here, "pam-dir-link"))
    missing = os.path.join(here, "pam-dir-link", name)
    return missing, (f"{missing} leads to {here}/pam-real-dir/{name} through a "
                     "symbolic link")


MISSING_INCLUDES = {
    "dotdot": missing_dotdot,
    "dangling-link": missing_dangling_link,
    "linked-directory": missing_in_a_linked_directory,
}


@pytest.mark.parametrize("how", sorted(MISSING_INCLUDES))
def test_pam_include_missing_at_check_time_must_not_be_creatable(make_gateway, how):
    """An included file that does not exist yet loads nothing now, but
    libpam opens the same name on every start: what someone makes there
    later would be loaded unchecked."""
    gw = prepared(make_gateway, f"files-pam-missing-{how}")
    name = f"tg-missing-{secrets.token_hex(8)}"
    include, says = MISSING_INCLUDES[how](gw, name)
    assert not os.path.lexists(f"/tmp/{name}")
    service, line = append_to_service(gw, f"auth include {include}")
    assert_refused(gw, f"{service}:{line}: include: ", says)


# What pads a PAM line: module arguments, or a comment.
PAM_PADDING = {"arguments": "auth required pam_permit.so ", "comment": "#"}


@pytest.mark.parametrize("padding", sorted(PAM_PADDING))
def test_pam_line_longer_than_libpam_reads_whole_is_refused(make_gateway, padding):
    """libpam 1.5.2 fgets() a PAM line into 1024 bytes: past 1023 bytes
    with its newline, the rest is a line of its own, here an include a
    check reading the line whole would not see. Such a line is refused;
    one that fits passes."""
    gw = prepared(make_gateway, f"files-pam-long-{padding}")
    planted = gw.dir / "planted-pam"
    planted.write_text("auth sufficient pam_permit.so\n")
    os.chmod(planted, 0o664)
    start = PAM_PADDING[padding]
    service, line = append_to_service(gw, start.ljust(1022, "x"))
    assert_passes(gw)
    with open(service) as f:
        text = f.read()
    with open(service, "w") as f:
        f.write(text.replace("x\n", f"xx auth include {planted}\n"))
    assert_refused(gw, f"{service}:{line}: the line is longer than libpam 1.5.2 reads "
                   "whole (1023 bytes")


def test_pam_lines_joined_by_a_backslash_count_together(make_gateway):
    """A '\\' joins the next line into the same 1024-byte buffer: the
    joined lines are bounded together."""
    gw = prepared(make_gateway, "files-pam-long-joined")
    service, line = append_to_service(gw, "auth required pam_permit.so \\")
    append_to_service(gw, "x" * 1000)
    assert_refused(gw, f"{service}:{line + 1}: the line is longer than libpam 1.5.2")


def test_config_line_longer_than_the_bound_is_refused(make_gateway):
    """The @include scan reads lines of up to 8192 bytes, no more."""
    gw = prepared(make_gateway, "files-long-line")
    text = gw.conf.read_text()
    line = text.count("\n") + 1
    gw.conf.write_text(text + "# " + "x" * 8190 + "\n")
    assert_passes(gw)
    gw.conf.write_text(text + "# " + "x" * 8191 + "\n")
    assert_refused(gw, f"{gw.conf}:{line}: the line is longer than 8192 bytes")


def test_config_nul_byte_is_refused_at_its_line(make_gateway):
    """libconfig ends a string at a NUL: policy.file = "policy.conf\\0.new"
    would load policy.conf and say nothing. -t, a start and a reload refuse
    it, in the file itself or one it includes."""
    gw = prepared(make_gateway, "files-nul")
    text = gw.conf.read_text()
    line = text[:text.index("policy.conf")].count("\n") + 1
    gw.conf.write_bytes(text.replace("policy.conf", "policy.conf\0.new", 1).encode())
    assert_refused(gw, f"{gw.conf}:{line}: NUL byte; the file must be text")
    inc = gw.dir / "extra.conf"
    inc.write_bytes(b"# a comment\n#\0\n")
    gw.conf.write_text(text + '@include "extra.conf"\n')
    assert_refused(gw, f"{inc}:2: NUL byte")
    gw.conf.write_text(text)
    gw.start()
    gw.conf.write_bytes(text.replace("policy.conf", "policy.conf\0.new", 1).encode())
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the reload to fail")
    assert f"{gw.conf}:{line}: NUL byte" in gw.stderr_text()


_OPEN = """import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDONLY))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def open_as(user, path):
    """What opening path for reading gives a process of user's uid and gid
    with no other group and no capability: "ok" or the errno's name."""
    r = subprocess.run([sys.executable, "-c", _OPEN, str(path)], user=user.pw_uid,
                       group=user.pw_gid, extra_groups=[], capture_output=True, text=True,
                       timeout=h.scaled(30))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_local_user_cannot_read_the_key_the_audit_log_or_the_bind_password(make_gateway):
    """Attacker 6 as that user: with every directory above them open to
    alice, so that only each file's own owner and mode stand in her way
    (a control file beside them she reads), she cannot open the TLS key,
    the audit log the running daemon writes, or the LDAP bind password."""
    gw = prepared(make_gateway, "files-local-reader")
    secret = ldap_bind_password_file(gw)
    os.chmod(secret, 0o600)
    gw.start()
    h.wait_for(gw.audit_path.exists, 10, "the audit log")
    assert gw.env.tmp in gw.dir.parents, gw.dir
    d = gw.dir
    while True:
        os.chmod(d, os.stat(d).st_mode | 0o001)
        if d == gw.env.tmp:
            break
        d = d.parent
    control = gw.dir / "logs" / "control"
    control.write_text("readable\n")
    os.chmod(control, 0o644)
    alice = pwd.getpwnam("alice")
    assert open_as(alice, control) == "ok", "alice cannot reach the files at all"
    for path in (gw.key, gw.audit_path, secret):
        assert open_as(alice, path) == "EACCES", path


# A chain of files each naming the next on this many lines: a scan that read
# a file once per line naming it would read the last one 20**5 times.
FAN_LINES = 20
FAN_LEVELS = 5

# How each scan's files name another: the config's @include (relative to
# its directory), a PAM file's include (by absolute name: libpam looks a
# relative one up in /etc/pam.d, even with auth.pam.confdir).
FAN_INCLUDES = {
    "config": ('@include "{}"', lambda gw: gw.dir, ".conf", lambda gw: gw.conf),
    "pam": ("auth include {}", lambda gw: gw.dir / "pam.d", "",
            lambda gw: gw.dir / "pam.d" / "tunnelgate"),
}


def fan_out(gw, kind):
    """FAN_LEVELS files, each naming the next on FAN_LINES lines, named on
    FAN_LINES lines of the file kind's scan starts from; the last file and
    the one naming it."""
    include, where, ext, start = FAN_INCLUDES[kind]
    files = [where(gw) / f"fan-{i}{ext}" for i in range(1, FAN_LEVELS + 1)]
    names = [f.name if kind == "config" else os.path.realpath(f) for f in files]
    lines = [(include.format(n) + "\n") * FAN_LINES for n in names]
    for f, text in zip(files, lines[1:] + ["# the end of the chain\n"]):
        f.write_text(text)
    text = lines[0]
    if kind == "config":
        # libconfig skips what a block comment holds, the scan does not:
        # only the scan follows the chain, libconfig reads none of it.
        text = "/*\n" + text + "*/\n"
    start(gw).write_text(start(gw).read_text() + text)
    return files[-1], files[-2]


@pytest.mark.parametrize("kind", sorted(FAN_INCLUDES))
def test_file_included_on_many_lines_is_checked_once(make_gateway, kind):
    """Each file is read once however many lines name it: the check ends
    (within the helper's subprocess timeout) with the right answer."""
    gw = prepared(make_gateway, f"files-fan-{kind}")
    last, before = (os.path.realpath(f) for f in fan_out(gw, kind))
    assert_passes(gw)
    os.chmod(last, 0o664)
    setting = "@include" if kind == "config" else "include"
    assert_refused(gw, f"{before}:1: {setting}: {last} is writable by its group",
                   f"chmod go-w {last}")


def test_pam_file_including_itself_is_refused_at_the_line(make_gateway):
    """A loop libpam would follow to its depth limit: refused where it
    closes, however many lines close it."""
    gw = prepared(make_gateway, "files-pam-loop")
    service = os.path.realpath(gw.dir / "pam.d" / "tunnelgate")
    with open(service) as f:
        text = f.read()
    line = text.count("\n") + 1
    with open(service, "a") as f:
        f.write(f"auth include {service}\n" * 3)
    assert_refused(gw, f"{service}:{line}: include: {service}: includes nest deeper than "
                   "16; is there a loop?")
