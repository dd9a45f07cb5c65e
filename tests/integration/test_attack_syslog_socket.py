"""A compromised gate worker and its syslog socket (THREAT-MODEL.md,
attacker 4: it "cannot open any connection or listener"). With
log.syslog = true every worker holds a datagram socket connected to
/dev/log, and the gate worker's filter allows sendmsg with any address. A
socket belongs to the network namespace it was made in; made before the
worker's unshare(CLONE_NEWNET), sendmsg to an abstract address on it would
reach a socket in the master's namespace, and SCM_RIGHTS would hand it the
worker's listener. Each sandboxed child makes its syslog socket after
entering its own namespace, where no abstract address is bound."""

import os
import socket

import harness as h
import syslog_fixtures as sf
import tg_attacker as ta
from test_worker_sandbox import wait_sandboxed

# Unix datagrams are queued by the sending call itself: one that arrives
# at all is there when sendmsg returns. The wait only spares a slow machine.
RECEIVE_WAIT = 2


class AbstractInbox:
    """An unconnected datagram socket bound to an abstract address in the
    test's network namespace, which is the master's."""

    def __init__(self):
        self.name = f"tg-attack-syslog-{os.getpid()}-{id(self)}".encode()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + self.name)
        self.sock.settimeout(RECEIVE_WAIT)

    def receive(self):
        """(payload, number of descriptors) of one datagram, or None."""
        room = socket.CMSG_SPACE(16 * 4)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, room)
        except socket.timeout:
            return None
        fds = []
        for level, kind, blob in anc:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
                fds += [int.from_bytes(blob[i:i + 4], "little")
                        for i in range(0, len(blob) - len(blob) % 4, 4)]
        for fd in fds:
            os.close(fd)
        return data, len(fds)

    def close(self):
        self.sock.close()


def _syslog_gateway(make_gateway, name):
    gw = make_gateway(name, start=False, gate=1, relay=1)
    return gw, sf.start_logging_to_syslog(gw)


def _sandboxed_syslog_fd(gw, sink, comm):
    pid, = gw.wait_children(comm, 1)
    wait_sandboxed(pid)
    h.wait_for(lambda: sf.syslog_fd(pid, sink) is not None, 10,
               f"{comm} {pid} to hold a socket connected to its /dev/log")
    return pid, sf.syslog_fd(pid, sink)


def test_a_gate_worker_cannot_reach_the_masters_abstract_sockets_through_syslog(
        make_gateway, backends):
    gw, sink = _syslog_gateway(make_gateway, "attack-syslog")
    inbox = AbstractInbox()
    try:
        gate, fd = _sandboxed_syslog_fd(gw, sink, "tg-gate")
        ready = sf.ready_line(gate)
        h.wait_for(lambda: sink.has(ready), 10, f"'{ready}' in syslog")
        listener = ta.fd_of_socket(gate, ta.listener_inode(gw.port))
        assert listener is not None
        # The control: the address is right and reachable from the master's
        # namespace.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"control", b"\0" + inbox.name)
        assert inbox.receive() == (b"control", 0)

        with ta.Injector(gate) as inj:
            msg = ta.msghdr(inj, payload=b"from the gate worker",
                            name=ta.sockaddr_un_abstract(inbox.name),
                            passed_fd=listener)
            sent = inj.call("sendmsg", fd, msg, 0)
        assert inj.died is None, f"sendmsg killed the gate worker: {inj.died!r}"
        got = inbox.receive()
        assert got is None, (
            f"the gate worker's datagram reached the master's namespace "
            f"(payload, descriptors passed): {got!r}")
        assert sent == -ta.ECONNREFUSED, sent

        with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
            h.echo_round_trip(c)
        assert gw.children("tg-gate") == [gate]
    finally:
        inbox.close()
        gw.stop()
        sink.close()


def test_each_sandboxed_childs_syslog_socket_is_made_in_its_own_namespace(
        make_gateway):
    """Gate worker, relay worker (exec'd, opens syslog itself) and key
    process (demoted after it loads the key): the socket each logs through
    belongs to the empty namespace it runs in, not to the master's."""
    gw, sink = _syslog_gateway(make_gateway, "syslog-netns")
    master_ns = os.stat(f"/proc/{gw.proc.pid}/ns/net").st_ino
    wrong = []
    try:
        for comm in ("tg-gate", "tg-relay", "tg-key"):
            pid, fd = _sandboxed_syslog_fd(gw, sink, comm)
            own_ns = os.stat(f"/proc/{pid}/ns/net").st_ino
            assert own_ns != master_ns, comm
            stolen = ta.steal_fd(pid, fd)
            try:
                made_in = ta.socket_netns(stolen)
            finally:
                os.close(stolen)
            if made_in != own_ns:
                where = "the master's" if made_in == master_ns else made_in
                wrong.append(f"{comm} {pid}: made in {where} namespace, "
                             f"not its own ({own_ns})")
        assert not wrong, "syslog sockets:\n" + "\n".join(wrong)
    finally:
        gw.stop()
        sink.close()
