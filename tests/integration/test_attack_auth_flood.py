"""A compromised gate worker floods the authenticators with slow logins
(THREAT-MODEL.md, attacker 4: "cannot crash or stall the authenticators").
It writes the client address the throttles count and the user name, so it
can send nothing but first logins of fresh names from fresh addresses: each
misses every cache, passes every throttle and costs a whole PAM check. An
authenticator holds such misses while it answers cached logins; what one
gate worker may hold is its share, and the gate workers are served in turn,
so another gate worker's first login waits for about one check, not for
the flood."""

import collections
import threading
import time

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf

CHECK = 1.0
# pam_unix behind a slow first step (as a remote check would be): every
# miss costs at least CHECK seconds.
SLOW_PAM = f"""auth	requisite	pam_exec.so quiet /usr/bin/sleep {CHECK}
auth	required	pam_unix.so
account	required	pam_unix.so
"""
AUTHENTICATORS = 3
# What each authenticator holds of the flood once it has its fill: its
# share (auth/auth_held.h AUTH_HELD_MAX / 2 gate workers), and all 32 of
# the ring before.
HELD_FILL = 16
# Before the fix every authenticator held 31 of the flood's misses ahead of
# a new one: over 30 s of checks. A login that waited for about one check
# is answered well inside this.
BOUND = 10.0


class Flood:
    """On the stolen socket, as fast as the authenticators take them:
    requests for unknown users, each name and client address new. Their
    answers are read, as the gate worker would, so that nobody finds the
    socket deaf and has the gate worker replaced."""

    def __init__(self, sock):
        self.sock, self.sent = sock, 0
        self.taken = collections.Counter()     # by authenticator pid
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _request(self):
        i = self.sent
        return pf.auth_request(req_id=(1 << 60) + i, user=f"nobody{i}",
                               password="not-a-password",
                               client=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:4000")

    def _drain(self):
        while True:
            try:
                msg = self.sock.recv(65536)
            except BlockingIOError:
                return
            if msg[2] == pf.AUTH_TAKEN:
                self.taken[int.from_bytes(msg[16:20], "little")] += 1

    def _run(self):
        while not self.stop.is_set():
            self._drain()
            while pf.send(self.sock, self._request()):
                self.sent += 1
            time.sleep(0.005)

    def filled(self):
        """Every authenticator has taken its fill at least once: one that
        woke to the flood's first request is in that check, and takes the
        rest only after it."""
        counts = self.taken.values()
        return len(counts) == AUTHENTICATORS and min(counts) >= HELD_FILL

    def finish(self):
        self.stop.set()
        self.thread.join(10)


def test_a_flood_of_slow_logins_from_one_gate_worker_leaves_the_other_served(
        make_gateway, backends):
    """The older of two gate workers is taken over (held in a ptrace stop,
    its authenticator socket stolen) and floods every authenticator with
    misses, the throttles on at their shipped budgets. alice's first login,
    which the other gate worker sends, still gets its 200 within BOUND."""
    gw = make_gateway("auth-flood", start=False, gate=2, authenticator=AUTHENTICATORS,
                      auth=60.0, source_failures=20, user_failures=5)
    (gw.dir / "pam.d" / "tunnelgate").write_text(SLOW_PAM)
    gw.start()
    victim = min(gw.wait_children("tg-gate", 2), key=lambda p: int(hf.start_time(p)))
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    flood = Flood(sock)
    try:
        h.wait_for(flood.filled, 20,
                   lambda: f"the flood's misses to be held ({dict(flood.taken)} so far)")
        time.sleep(0.2)
        start = time.monotonic()
        status = gw.status_of(f"backend.test:{backends.echo.port}", "alice",
                              timeout=BOUND + 5)
        waited = time.monotonic() - start
    finally:
        flood.finish()
        sock.close()
        held.release()
    print(f"alice waited {waited:.2f}s behind a flood of {flood.sent} requests, "
          f"{sum(flood.taken.values())} of them taken and held")
    assert status == 200, f"alice got {status!r} after {waited:.1f}s"
    assert waited < BOUND, f"alice waited {waited:.1f}s"
    assert flood.sent > AUTHENTICATORS * 32, "the flood did not outrun the authenticators"
