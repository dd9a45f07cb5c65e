"""A real HAProxy (Debian's 2.6) in front of tunnelgated, as docs/ha.md
shows it: its example configuration with this run's addresses, gateways
with PROXY protocol listeners trusting 127.0.0.1, and curl through it.
Shared by the tests of the PROXY protocol and of what its client counts.
"""

import contextlib
import re
import subprocess

import handoff_fixtures as hf
import harness as h

HAPROXY = "/usr/sbin/haproxy"
BALANCER_IP = "127.0.0.1"


def doc_haproxy_config():
    text = (h.REPO / "docs" / "ha.md").read_text()
    found = re.search(r"```haproxy\n(.*?)```", text, re.S)
    assert found, "docs/ha.md has no ```haproxy block"
    return found.group(1)


def haproxy_config(front, gws):
    """docs/ha.md's example with this run's addresses (and a second bind on
    ::1, so that headers name IPv6 clients too), and the same backend again
    with send-proxy (v1) for the gateways' v1 listeners."""
    doc = doc_haproxy_config()
    for old in ("192.0.2.10:443", "10.0.0.11:8443", "10.0.0.12:8443", "inter 2s",
                "maxconn 10000"):
        assert old in doc, f"docs/ha.md's HAProxy example no longer has {old!r}"
    # Checks often enough to see several in a short test; a descriptor
    # limit any test machine allows.
    doc = doc.replace("inter 2s", "inter 100ms").replace("maxconn 10000", "maxconn 500")
    v2 = (doc.replace("192.0.2.10:443", f"127.0.0.1:{front['v2']}\n"
                      f"    bind [::1]:{front['v2', '::1']}")
          .replace("10.0.0.11:8443", f"127.0.0.1:{gws[0].v2_port}")
          .replace("10.0.0.12:8443", f"127.0.0.1:{gws[1].v2_port}"))
    v1_part = doc[doc.index("frontend "):]
    v1 = (v1_part.replace("frontend tunnelgate", "frontend tunnelgate_v1")
          .replace("gateways", "gateways_v1")
          .replace("send-proxy-v2 proxy-v2-options crc32c", "send-proxy")
          .replace("192.0.2.10:443", f"127.0.0.1:{front['v1']}\n"
                   f"    bind [::1]:{front['v1', '::1']}")
          .replace("10.0.0.11:8443", f"127.0.0.1:{gws[0].v1_port}")
          .replace("10.0.0.12:8443", f"127.0.0.1:{gws[1].v1_port}"))
    assert "send-proxy-v2 proxy-v2-options crc32c" in v2 and "send-proxy-v2" not in v1
    return v2 + "\n" + v1


def listening(port):
    """Something listens on 127.0.0.1:port."""
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == f"0100007F:{port:04X}" and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


class HaProxy:
    """haproxy in the foreground (-db), started and stopped by its pid."""

    def __init__(self, directory, config, ports):
        self.conf = directory / "haproxy.cfg"
        self.conf.write_text(config)
        self.log_path = directory / "haproxy.log"
        check = h.run([HAPROXY, "-c", "-q", "-f", str(self.conf)], check=False, text=True)
        assert check.returncode == 0, f"haproxy -c {self.conf}:\n{check.stderr}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            for port in ports:
                h.wait_for(lambda p=port: self._listening(p), 10, f"haproxy on port {port}")
        except BaseException:
            self.stop()
            raise

    def _listening(self, port):
        assert self.proc.poll() is None, self.log_path.read_text()
        return listening(port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(h.scaled(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def proxy_listeners(gw):
    """The gateway's own port stays a plain listener (the harness checks
    start-up on it); two more take PROXY headers from 127.0.0.1 only."""
    gw.v2_port, gw.v1_port = h.free_ports(2, exclude=(gw.port,))
    plain = f'\t{{ address = "127.0.0.1"; port = {gw.port}; backlog = 128; }}'
    text = gw.config_text()
    assert plain in text
    gw.conf.write_text(text.replace(plain, plain + ",\n"
        f'\t{{ address = "127.0.0.1"; port = {gw.v2_port}; proxy_protocol = "v2";\n'
        f'\t  proxy_trusted = ["{BALANCER_IP}/32"]; }},\n'
        f'\t{{ address = "127.0.0.1"; port = {gw.v1_port}; proxy_protocol = "v1";\n'
        f'\t  proxy_trusted = ["{BALANCER_IP}"]; }}'))


@contextlib.contextmanager
def behind_haproxy(gws):
    """gws started with PROXY listeners, and the HAProxy in front of them
    (docs/ha.md's two servers; a single gateway stands for both, so that
    every connection reaches it); the gateways are stopped afterwards."""
    haproxy = None
    try:
        for gw in gws:
            proxy_listeners(gw)
            gw.start()
        ports = h.free_ports(
            4, exclude=[p for gw in gws for p in (gw.port, gw.v1_port, gw.v2_port)])
        front = dict(zip(("v2", "v1", ("v2", "::1"), ("v1", "::1")), ports))
        haproxy = HaProxy(gws[0].dir, haproxy_config(front, (list(gws) * 2)[:2]), ports[:2])
        haproxy.front = front
        yield haproxy
    finally:
        if haproxy is not None:
            haproxy.stop()
        for gw in gws:
            hf.finish_gateway(gw)


def curl_through(port, target, source, source_port, ca, user="alice", password=None):
    """curl from source:source_port (any port if None) through the balancer
    on port of the same family, as user (by default with the right
    password)."""
    password = h.password_of(user) if password is None else password
    h.SENT_SECRETS.add(password)
    local = [] if source_port is None else ["--local-port", str(source_port)]
    argv = ["curl", "-sS", "--max-time", str(int(h.scaled(20))),
            "--interface", source, *local,
            "--proxy", f"https://gateway.test:{port}", "--proxy-cacert", str(ca),
            # The gateway's name in its certificate, at the balancer's address.
            "--resolve", f"gateway.test:{port}:{'::1' if ':' in source else '127.0.0.1'}",
            "--proxy-user", f"{user}:{password}", "-p", target]
    return subprocess.run(argv, capture_output=True, timeout=h.scaled(30))
