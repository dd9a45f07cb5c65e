"""A real sshd on loopback, the far end of ssh ProxyCommand tests."""

import os
import shutil
import socket
import subprocess

from tg_env import free_port, run, wait_for


class SshServer:
    """A real sshd on loopback (root, by key only), for ssh ProxyCommand tests."""

    def __init__(self, env):
        d = env.tmp / "sshd"
        d.mkdir()
        if not os.path.isdir("/run/sshd"):
            # sshd insists on its privilege separation directory; a tmpfs keeps
            # the host's /run untouched (this is a private mount namespace).
            run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"])
            env.mounts.append("/run")
            os.mkdir("/run/sshd", 0o755)
        for name in ("host_key", "client_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)])
        shutil.copy(d / "client_key.pub", d / "authorized_keys")
        self.port = free_port()
        self.key = d / "client_key"
        self.known_hosts = d / "known_hosts"
        host_key = (d / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[backend.test]:{self.port} {host_key[0]} {host_key[1]}\n")
        config = d / "sshd_config"
        config.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d / "host_key"}
PidFile {d / "sshd.pid"}
AuthorizedKeysFile {d / "authorized_keys"}
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
""")
        self.log = open(d / "sshd.log", "ab")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    return s.recv(8).startswith(b"SSH-2.0")
            except OSError:
                return self.proc.poll() is not None
        wait_for(answers, 10, "sshd to answer")
        assert self.proc.poll() is None, (d / "sshd.log").read_text()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
