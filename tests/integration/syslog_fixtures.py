"""A gateway with log.syslog = true whose /dev/log is a socket of the
test's own, and what a test needs to find a worker's syslog socket."""

import socket
import threading

import handoff_fixtures as hf
import tg_attacker as ta

SYSLOG_OFF = "log = {\n\tsyslog = false;"
SYSLOG_ON = "log = {\n\tsyslog = true;"


class SyslogSink:
    """A /dev/log of the test's own: a datagram socket whose messages a
    thread collects (so a chatty daemon never blocks on a full queue)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.lines = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.lines.append(self.sock.recv(65536).decode(errors="replace"))
            except socket.timeout:
                continue

    def has(self, text):
        return any(text in line for line in list(self.lines))

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def private_dev_wrapper(devdir):
    """unshare(1) + sh: the daemon sees devdir as /dev (with the real null,
    zero and random devices), so its /dev/log is the test's socket."""
    for name in ("null", "zero", "random", "urandom", "full"):
        (devdir / name).touch()
    script = ('for n in null zero random urandom full; do '
              'mount --bind "/dev/$n" "$0/$n" || exit 1; done; '
              'mount --rbind "$0" /dev && exec "$@"')
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c", script,
            str(devdir))


def start_logging_to_syslog(gw):
    """Start gw (made with start=False) with log.syslog = true and a
    SyslogSink as its /dev/log. Returns the sink: close it after gw.stop()."""
    text = gw.config_text()
    assert SYSLOG_OFF in text
    gw.conf.write_text(text.replace(SYSLOG_OFF, SYSLOG_ON))
    devdir = gw.dir / "dev"
    devdir.mkdir()
    sink = SyslogSink(devdir / "log")
    try:
        gw.start(wrapper=private_dev_wrapper(devdir))
    except BaseException:
        sink.close()
        raise
    return sink


def ready_line(pid):
    """What every worker logs once it runs in its sandbox."""
    return f"tunnelgated[{pid}]: {hf.comm(pid)}: worker ready"


def syslog_fd(pid, sink):
    """pid's descriptor for its syslog socket (a datagram socket connected
    to the sink), or None."""
    for fd, what in ta.fd_links(pid).items():
        if not what.startswith("socket:"):
            continue
        s = socket.socket(fileno=ta.steal_fd(pid, fd))
        try:
            if (s.family == socket.AF_UNIX and s.type == socket.SOCK_DGRAM
                    and s.getpeername() == sink.path):
                return fd
        except OSError:
            continue
        finally:
            s.close()
    return None
