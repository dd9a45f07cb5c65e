"""Plain TCP servers on loopback for the gateway to connect to, one thread
per connection, and ports that refuse or never answer a connect.
"""

import hashlib
import http.server
import queue
import re
import socket
import threading
import time

from tg_data import stream_chunks
from tg_env import CHUNK, scaled


class Backend:
    family = socket.AF_INET

    def __init__(self, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.results = queue.Queue()
        self.accepted = 0
        self._conns = []
        self._threads = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(scaled(60))
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        try:
            self.handle(conn)
        except OSError as e:
            self.results.put({"error": repr(e)})
        finally:
            conn.close()

    def handle(self, conn):
        raise NotImplementedError

    def result(self, timeout=10):
        try:
            r = self.results.get(timeout=scaled(timeout))
        except queue.Empty:
            raise AssertionError(f"{type(self).__name__} on port {self.port}: no "
                                 f"connection finished within {scaled(timeout):.0f}s")
        assert "error" not in r, r
        return r

    def close(self):
        self._stop.set()
        self.listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_to_eof(conn, digest=None):
    n = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        k = conn.recv_into(buf)
        if k == 0:
            return n
        if digest is not None:
            digest.update(view[:k])
        n += k


class EchoServer(Backend):
    """Echoes everything; half-closes after the client's EOF."""

    def handle(self, conn):
        while True:
            data = conn.recv(CHUNK)
            if not data:
                conn.shutdown(socket.SHUT_WR)
                return
            conn.sendall(data)


class BannerServer(EchoServer):
    """Speaks first, then echoes."""
    BANNER = b"SSH-2.0-tunnelgate-test-banner\r\n"

    def handle(self, conn):
        conn.sendall(self.BANNER)
        super().handle(conn)


class SinkServer(Backend):
    """Reads to EOF, records byte count and sha256, then closes."""

    def handle(self, conn):
        h = hashlib.sha256()
        n = read_to_eof(conn, h)
        self.results.put({"bytes": n, "sha256": h.hexdigest()})


class SourceServer(Backend):
    """Sends data (bytes, or total bytes of stream_chunks) then closes, or
    half-closes and records what the client sends after that."""

    def __init__(self, host="127.0.0.1", data=None, total=0, half_close=False):
        self.data, self.total, self.half_close = data, total, half_close
        super().__init__(host)

    def handle(self, conn):
        if self.data is not None:
            conn.sendall(self.data)
        else:
            for chunk in stream_chunks(self.total):
                conn.sendall(chunk)
        if not self.half_close:
            self.results.put({"sent": True})
            return
        conn.shutdown(socket.SHUT_WR)
        received = bytearray()
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            received += data
        self.results.put({"received": bytes(received)})


class HalfCloseReplyServer(Backend):
    """Reads to EOF, then answers with what it read ("<bytes> <sha256>\\n")."""

    def handle(self, conn):
        h = hashlib.sha256()
        n = read_to_eof(conn, h)
        reply = f"{n} {h.hexdigest()}\n".encode()
        conn.sendall(reply)
        self.results.put({"bytes": n, "sha256": h.hexdigest(), "reply": reply})


class HttpBackend:
    """A small HTTP/1.0 server for curl: GET /bytes/N returns N bytes of
    stream_chunks, PUT stores nothing and answers the body's sha256."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                m = re.fullmatch(r"/bytes/(\d+)", self.path)
                if not m:
                    self.send_error(404)
                    return
                total = int(m.group(1))
                self.send_response(200)
                self.send_header("Content-Length", str(total))
                self.end_headers()
                for chunk in stream_chunks(total):
                    self.wfile.write(chunk)

            def do_PUT(self):
                left = int(self.headers.get("Content-Length", "0"))
                h = hashlib.sha256()
                while left:
                    data = self.rfile.read(min(left, CHUNK))
                    if not data:
                        break
                    h.update(data)
                    left -= len(data)
                body = (h.hexdigest() + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2)


class RefusedPort:
    """A loopback port bound but never listening: connects to it are refused,
    and holding it keeps bind(port 0) from handing it to a later listener."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class Blackhole:
    """A listener whose accept queue is full: further SYNs are dropped, so a
    connect to it times out instead of being refused."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(2):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
            time.sleep(0.05)
        probe = socket.socket()
        probe.settimeout(1.0)
        try:
            probe.connect(("127.0.0.1", self.port))
            raise RuntimeError("blackhole port accepted a connection; cannot test connect timeouts")
        except socket.timeout:
            pass
        finally:
            probe.close()

    def close(self):
        for c in self.fillers:
            c.close()
        self.listener.close()



class Backends:
    """Long-lived backends shared by the whole session."""

    def __init__(self):
        self.echo = EchoServer()
        self.echo6 = EchoServer("::1")
        self.banner = BannerServer()
        self.http = HttpBackend()
        self.blackhole = Blackhole()
        self.refused = RefusedPort()

    def close(self):
        for b in (self.echo, self.echo6, self.banner, self.http, self.blackhole, self.refused):
            b.close()
