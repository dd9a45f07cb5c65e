"""Messages an admin can act on (issue 14, item 7): each mistake a new admin
makes gets a message naming the setting and what to do; the daemon's log
carries timestamps and no internal function names; tunnelgated -V; the
start line; audit fields split into address and port."""

import re
import socket
import subprocess

import pytest

import harness as h
from ctl_fixtures import ctl, policy_file, rules

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+\[\d+\]: ")


def _version():
    text = (h.REPO / "src/client/include/tunnelgate.h").read_text()
    return re.search(r'#define TG_VERSION\s+"([^"]+)"', text).group(1)


def _functions():
    """Every C function defined in the daemon's sources."""
    names = set()
    for d in ("src", "auth", "policy"):
        for f in (h.REPO / d).rglob("*.c"):
            names.update(re.findall(r"^([a-z_][a-z0-9_]*)\(", f.read_text(), re.M))
    return names


def test_policy_host_with_a_port(env):
    path = policy_file(env, rules(
        'name = "a"; action = "allow"; users = ["*"]; '
        'hosts = ["127.0.0.1:19701", "[::1]:22"]; ports = [22];'))
    r = ctl("check", "--policy", path)
    assert r.returncode == 2
    assert (f"{path}:3: rules[0].hosts[0]: 127.0.0.1:19701: hosts take no port; write "
            "the host alone and put 19701 in ports") in r.stderr
    assert "IPv6" not in r.stderr.splitlines()[0]
    assert "[::1]:22: write an IPv6 address without [ ]" in r.stderr


def test_unquoted_port_range(env):
    path = policy_file(env, 'version = 1;\nrules = ( { name = "a"; action = "allow";\n'
                            'users = ["*"]; hosts = ["db.test"];\nports = [ 8000-8100 ]; } );\n')
    r = ctl("check", "--policy", path)
    assert r.returncode == 2
    assert f'{path}:4: syntax: syntax error; a port range is a string: write "8000-8100"' \
        in r.stderr


def _start_fails(gw):
    with pytest.raises(AssertionError):
        gw.start(timeout=10)
    return gw.stderr_text()


def test_listen_address_not_on_this_host(env):
    gw = h.Gateway(env, "msg-nonlocal")
    gw.conf.write_text(gw.config_text().replace('address = "127.0.0.1"',
                                                'address = "192.0.2.10"'))
    text = _start_fails(gw)
    assert "listen 192.0.2.10 port" in text
    assert "no interface of this host has that address" in text
    assert "another process" not in text


def test_listen_port_in_use(env):
    gw = h.Gateway(env, "msg-inuse")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", gw.port))
        s.listen(1)
        text = _start_fails(gw)
    assert f"listen 127.0.0.1 port {gw.port}: Address already in use; another process " \
           "is listening there" in text


def test_key_that_is_not_the_certificates(env):
    gw = h.Gateway(env, "msg-key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                    "-out", str(gw.key)], check=True, capture_output=True)
    r = gw.check_config()
    assert r.returncode != 0
    assert f"tls.key {gw.key} is not the private key of tls.certificate {gw.cert} " \
           "(their public keys differ)" in r.stderr
    assert "error:" not in r.stderr


def test_missing_setting_names_its_group(env):
    gw = h.Gateway(env, "msg-missing")
    text = gw.config_text()
    gw.conf.write_text(re.sub(r'^\tkey = .*\n', "", text, flags=re.M))
    line = text.splitlines().index("tls = {") + 1
    r = gw.check_config()
    assert r.returncode != 0
    assert (f"{gw.conf}:{line}: tls.key: required, and missing from the tls group that "
            "starts on this line; add key = ...; inside it") in r.stderr


def test_version_flag():
    r = subprocess.run([str(h.daemon_path()), "-V"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == f"tunnelgated {_version()}\n"


def test_daemon_log_has_timestamps_start_line_and_no_function_names(env, backends):
    gw = h.Gateway(env, "msg-log")
    gw.start()
    try:
        with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
            h.echo_round_trip(c)
        assert gw.attempt(h.connect_request(f"backend.test:{backends.echo.port}", "alice",
                                            h.wrong_password("msg"))).status == 407
        gw.write_policy("version = 1;\nrules = ( { name = \"x\"; action = \"allow\"; "
                        "users = [\"*\"]; hosts = [\"1.2.3.4:5\"]; ports = [5]; } );\n")
        gw.signal(__import__("signal").SIGHUP)
        h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the reload to fail")
    finally:
        gw.stop()
    lines = [l for l in gw.stderr_text().splitlines() if l.strip()]
    assert lines and all(STAMP.match(l) for l in lines), [
        l for l in lines if not STAMP.match(l)][:3]
    assert f"tunnelgated {_version()} starting with {gw.conf}: auth backend pam, " \
           f"service tunnelgate in " in lines[0]
    functions = _functions()
    named = {w for l in lines for w in re.findall(r"\b([a-z_][a-z0-9_]*): ", STAMP.sub("", l))}
    assert not named & functions, sorted(named & functions)


def test_audit_splits_address_and_port(gateway, backends):
    port = backends.echo.port
    with gateway.tunnel(f"backend.test:{port}") as c:
        h.echo_round_trip(c)
        client = f"127.0.0.1:{c.sock.getsockname()[1]}" if hasattr(c, "sock") else None
    event = gateway.wait_audit(event="allow", target=f"backend.test:{port}",
                               **({"client": client} if client else {}))
    assert event["target_host"] == "backend.test" and event["target_port"] == port
    assert event["resolved_addr"] == "127.0.0.1" and event["resolved_port"] == port
    addr, cport = event["client"].rsplit(":", 1)
    assert event["client_addr"] == addr and event["client_port"] == int(cport)
