"""An event-loop gunicorn worker: non-blocking sockets, HTTP/1.1 keep-alive, one thread.

Why not gunicorn's sync worker: it closes the connection after every answer and parses each
request in pure Python around a blocking read, which made the HTTP layer ~0.25 ms of every
request on loopback, several times the cost of the model call itself. This worker keeps
connections open (HTTP/1.1 keep-alive, pipelining), reads requests without blocking and hands
a request to the WSGI app only once it is complete, so a client that sends slowly holds a
buffer, not the worker. The app still runs one request at a time, as in the sync worker:
model code needs no locks, and gunicorn's master kills a worker whose request outlives
``--timeout`` (the loop reports to it between requests).

gunicorn's master, signals, ``max_requests`` and graceful shutdown work as for its own
workers. Bodies: Content-Length or chunked; ``Expect: 100-continue`` is answered.
"""

import io
import os
import selectors
import socket
import ssl
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from gunicorn.workers.base import Worker

from . import logs
from .sockets import (HANDSHAKE_DONE, HANDSHAKE_WRITE, WOULD_BLOCK, accepted, close_registered,
                      handshake, receive)

MAX_HEAD = 64 * 1024          # request line and headers
READ_SIZE = 256 * 1024
DEFAULT_BODY_LIMIT = 100 << 20
READY_HOLD = 2.0              # seconds a new worker waits for load() before it accepts
LINGER = 5.0                  # seconds a closing connection keeps discarding client input
HEADER_TIMEOUT = 10.0         # defaults of the read deadlines (the app's settings win)
BODY_TIMEOUT = 60.0
IDLE, HEAD, BODY = 0, 1, 2    # what a connection is waiting for
SWEEP_EVERY = 0.05            # seconds between checks of idle connections and deadlines
_REFUSAL = ("HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
            "Content-Length: %d\r\n\r\n")


class BadRequest(Exception):
    """The bytes on a connection are not HTTP/1.x: answer 400 and close it."""


class Connection(object):
    __slots__ = ("sock", "peer", "local", "inbuf", "outbuf", "last_active", "close_after",
                 "sent_continue", "writing", "linger_until", "deadline", "phase",
                 "handshaking")

    def __init__(self, sock: socket.socket, peer: Any, local: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.local = local
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last_active = time.monotonic()
        self.close_after = False   # close once the output is flushed
        self.sent_continue = False  # 100 Continue already sent for the pending request
        self.writing = False
        self.linger_until = 0.0     # > 0: answered and half-closed, discarding input until then
        self.deadline = 0.0         # > 0: the pending request must be complete by then
        self.phase = IDLE           # of the pending request: IDLE, HEAD or BODY
        self.handshaking = False    # TLS: the handshake is not done yet


class Request(object):
    """A parsed request head plus its body, once complete."""

    __slots__ = ("method", "target", "version", "headers", "body", "body_complete",
                 "consumed", "keep_alive", "oversize")

    def __init__(self) -> None:
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers = []  # type: List[Tuple[str, str]]
        self.body = b""
        self.body_complete = True
        self.consumed = 0
        self.keep_alive = True
        self.oversize = 0  # a body known to exceed the limit: at least this many bytes


def parse_head(buf: bytearray, end: int) -> Request:
    """Request line and headers from ``buf[:end]`` (``end``: where the blank line starts)."""
    try:
        text = bytes(buf[:end]).decode("latin-1")
    except UnicodeDecodeError as exc:  # cannot happen with latin-1, kept for clarity
        raise BadRequest("request head is not latin-1") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("malformed request line %r" % lines[0][:100])
    request = Request()
    request.method, request.target, request.version = parts
    if not request.method.isalpha() or not request.method.isupper():
        raise BadRequest("malformed method %r" % request.method[:20])
    if not request.target:
        raise BadRequest("empty request target")
    headers = request.headers
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise BadRequest("malformed header line %r" % line[:100])
        headers.append((name, value.strip()))
    return request


def _header(request: Request, name: str) -> Optional[str]:
    lowered = name.lower()
    for key, value in request.headers:
        if key.lower() == lowered:
            return value
    return None


def decode_chunked(buf: bytearray, start: int, limit: int) -> Tuple[Optional[bytes], int, int]:
    """(body or None if incomplete, bytes consumed from ``start``, 0 or the size it is known
    to reach when that exceeds ``limit``)."""
    offset = start
    parts = []
    size_so_far = 0
    while True:
        line_end = buf.find(b"\r\n", offset)
        if line_end < 0:
            if len(buf) - offset > 1024:
                raise BadRequest("chunk size line too long")
            return None, 0, 0
        size_text = bytes(buf[offset:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise BadRequest("malformed chunk size %r" % size_text[:20]) from exc
        if size < 0:
            raise BadRequest("negative chunk size")
        data_start = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                if buf[line_end:line_end + 4] == b"\r\n\r\n":
                    trailer_end = line_end
                elif len(buf) - line_end > 8192:
                    raise BadRequest("chunked trailer too long")
                else:
                    return None, 0, 0
            return b"".join(parts), trailer_end + 4 - start, 0
        if size_so_far + size > limit:
            return b"", len(buf) - start, size_so_far + size  # refused unread, then closed
        if len(buf) < data_start + size + 2:
            return None, 0, 0
        if buf[data_start + size:data_start + size + 2] != b"\r\n":
            raise BadRequest("chunk data not followed by CRLF")
        parts.append(bytes(buf[data_start:data_start + size]))
        size_so_far += size
        offset = data_start + size + 2


class LoopWorker(Worker):
    """See the module docstring."""

    def init_process(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.connections = {}  # type: Dict[int, Connection]
        super(LoopWorker, self).init_process()

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        self.body_limit = getattr(self.wsgi, "max_body", None) or DEFAULT_BODY_LIMIT
        self.header_timeout = getattr(self.wsgi, "header_timeout", None) or HEADER_TIMEOUT
        self.body_timeout = getattr(self.wsgi, "body_timeout", None) or BODY_TIMEOUT
        self.tls = getattr(self.wsgi, "tls_context", None)  # ssl.SSLContext: HTTPS
        self.next_sweep = 0.0
        self.keepalive = max(0, int(self.cfg.keepalive))
        for listener in self.sockets:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, None)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, "wakeup")
        tick = min(1.0, max(0.05, self.timeout / 4.0)) if self.timeout else 1.0
        load = getattr(self, "load_model", None)  # set by the server's post_worker_init
        if load is not None:
            self._load_while_serving(load, tick)
        else:
            self._hold_until_ready()
        while self.alive:
            self.notify()
            self.turn(tick)
        self.shutdown()

    def turn(self, tick: float) -> None:
        """One turn of the loop: wait for events (at most ``tick`` seconds), serve them."""
        for key, mask in self.selector.select(tick):
            if key.data is None:
                self.accept(key.fileobj)
            elif key.data == "wakeup":
                self._drain_wakeup()
            else:
                self.on_events(key.data, mask)
        now = time.monotonic()
        if now >= self.next_sweep:  # not every turn: it visits every connection
            self.next_sweep = now + SWEEP_EVERY
            self.close_idle()
        if self.max_requests and self.nr >= self.max_requests:
            self.log.info("Autorestarting worker after current request.")
            self.alive = False

    def _load_while_serving(self, load: Any, tick: float) -> None:
        """Run load() on this thread, the one every REST call into the model will run on (so
        thread-local state it sets, such as torch.set_grad_enabled(False), holds for them),
        while a helper thread runs the loop: /live answers, /ready and predictions answer
        503 until load() is done. Only one thread runs the loop at any time."""
        done = threading.Event()

        def serve_probes() -> None:
            self._hold_until_ready()
            while self.alive and not done.is_set():
                self.notify()
                self.turn(tick)

        helper = threading.Thread(target=serve_probes, name="modelkiln-probes", daemon=True)
        helper.start()
        try:
            load()
        finally:
            done.set()
            try:
                os.write(self.PIPE[1], b".")  # wake the helper's select
            except OSError:
                pass
            helper.join()

    def _hold_until_ready(self) -> None:
        """Accept nothing for up to READY_HOLD seconds while load() (and the gRPC server)
        start: the kernel queues the connections, so a worker replaced under load (max
        requests, a crash) does not answer its first requests with 503. A longer load()
        then gets its connections answered (/live 200, predictions 503 until ready)."""
        ready = getattr(self.wsgi, "ready_or_failed", None)
        if ready is None:
            return
        deadline = time.monotonic() + READY_HOLD
        while self.alive and not ready() and time.monotonic() < deadline:
            self.notify()
            time.sleep(0.005)

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def accept(self, listener: socket.socket) -> None:
        for sock, peer in accepted(listener, self.tls):
            conn = Connection(sock, peer, listener.getsockname())
            self.connections[sock.fileno()] = conn
            self.selector.register(sock, selectors.EVENT_READ, conn)
            if self.tls is not None:
                conn.handshaking = True
                self._waiting(conn, HEAD)  # the handshake counts against the header deadline

    def handshake(self, conn: Connection) -> bool:
        """Go on with a TLS handshake; whether it is done."""
        try:
            state = handshake(conn.sock)
        except (ssl.SSLError, OSError) as exc:
            self.log.info("TLS handshake with %s failed: %s", conn.peer, exc)
            self.close(conn)
            return False
        if state == HANDSHAKE_WRITE and not conn.writing:
            conn.writing = True
            self.selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        if state != HANDSHAKE_DONE:
            return False
        conn.handshaking = False
        conn.deadline, conn.phase = 0.0, IDLE  # the first request's bytes start its own
        if conn.writing and not conn.outbuf:
            conn.writing = False
            self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
        return True

    def on_events(self, conn: Connection, mask: int) -> None:
        if conn.handshaking and not self.handshake(conn):
            return
        if mask & selectors.EVENT_WRITE:
            self.flush(conn)
            if conn.sock is None:
                return
        if mask & selectors.EVENT_READ or self.tls is not None:
            try:
                data = receive(conn.sock, READ_SIZE, self.tls is not None)
            except WOULD_BLOCK:
                return
            except OSError:
                self.close(conn)
                return
            if not data:
                if conn.inbuf and not conn.linger_until and not conn.outbuf:
                    # The client half-closed inside a request: tell it, then close.
                    self.refuse(conn, "400 Bad Request", "bad HTTP request: the connection "
                                "ended inside a request (its %s)" % (
                                    "body" if conn.phase == BODY else "line and headers"))
                    return
                if conn.outbuf and not conn.linger_until:
                    # Half-closed by the client: finish sending the answer, then close.
                    conn.close_after = True
                    conn.inbuf.clear()
                    self.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
                    return
                self.close(conn)
                return
            if conn.linger_until:
                return  # the rest of a refused request: read and dropped
            conn.last_active = time.monotonic()
            conn.inbuf += data
            self.serve_buffered(conn)

    def close_idle(self) -> None:
        if not self.connections:
            return
        now = time.monotonic()
        idle_limit = self.keepalive if self.keepalive else 1.0
        for conn in list(self.connections.values()):
            if conn.linger_until:
                if now > conn.linger_until:
                    self.close(conn)
            elif conn.deadline and now > conn.deadline and not conn.outbuf:
                self.read_timeout(conn)
            elif not conn.outbuf and not conn.inbuf and now - conn.last_active > idle_limit:
                self.close(conn)

    def shutdown(self) -> None:
        """Graceful stop: answer what is already complete, flush, close everything."""
        for listener in self.sockets:
            try:
                self.selector.unregister(listener)
            except (KeyError, ValueError):
                pass
        deadline = time.monotonic() + max(1.0, float(self.cfg.graceful_timeout))
        for conn in list(self.connections.values()):
            conn.close_after = True
            if conn.inbuf:
                self.serve_buffered(conn)
        while any(c.outbuf for c in self.connections.values()) and time.monotonic() < deadline:
            self.notify()
            for key, mask in self.selector.select(0.1):
                if isinstance(key.data, Connection):
                    self.flush(key.data)
        for conn in list(self.connections.values()):
            self.close(conn)

    # -- requests -----------------------------------------------------------------------

    def serve_buffered(self, conn: Connection) -> None:
        """Answer every complete request in the buffer, in order (pipelining)."""
        while conn.sock is not None and conn.inbuf and not conn.outbuf:
            try:
                request = self.take_request(conn)
            except BadRequest as exc:
                self.log.info("bad request from %s: %s", conn.peer, exc)
                self.reject(conn, str(exc))
                return
            if request is None:
                return
            conn.deadline = 0.0
            conn.phase = IDLE
            self.handle(conn, request)
            if conn.close_after:
                break

    def _waiting(self, conn: Connection, phase: int) -> None:
        """The pending request is incomplete: its header deadline starts with its first bytes,
        its body deadline once the headers are in."""
        if conn.phase != phase:
            conn.phase = phase
            conn.deadline = time.monotonic() + (
                self.body_timeout if phase == BODY else self.header_timeout)

    def read_timeout(self, conn: Connection) -> None:
        if conn.handshaking:  # no TLS yet to answer on
            self.log.info("%s: no TLS handshake within %g s", conn.peer, self.header_timeout)
            self.close(conn)
            return
        if conn.phase == BODY:
            what, limit, name = "body", self.body_timeout, "MODELKILN_BODY_TIMEOUT"
        else:
            what, limit, name = "request line and headers", self.header_timeout, (
                "MODELKILN_HEADER_TIMEOUT")
        self.log.info("%s: the %s took longer than %g s: 408", conn.peer, what, limit)
        self.refuse(conn, "408 Request Timeout", "the request's %s did not arrive within %g s "
                    "(%s)" % (what, limit, name))

    def take_request(self, conn: Connection) -> Optional[Request]:
        buf = conn.inbuf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise BadRequest("request head larger than %d bytes" % MAX_HEAD)
            self._waiting(conn, HEAD)
            return None
        if end > MAX_HEAD:
            raise BadRequest("request head larger than %d bytes" % MAX_HEAD)
        request = parse_head(buf, end)
        body_start = end + 4
        if request.version == "HTTP/1.0":
            request.keep_alive = (_header(request, "Connection") or "").lower() == "keep-alive"
        else:
            request.keep_alive = (_header(request, "Connection") or "").lower() != "close"
        chunked = "chunked" in (_header(request, "Transfer-Encoding") or "").lower()
        length_text = _header(request, "Content-Length")
        if chunked:
            self._continue(conn, request)
            body, used, oversize = decode_chunked(buf, body_start, self.body_limit)
            if body is None:
                self._waiting(conn, BODY)
                return None
            request.body = body
            if oversize:
                request.body_complete = False
                request.oversize = oversize
            request.consumed = body_start + used
        elif length_text is not None:
            try:
                length = int(length_text)
            except ValueError as exc:
                raise BadRequest("Content-Length %r is not a number" % length_text[:40]) from exc
            if length < 0:
                raise BadRequest("negative Content-Length")
            if length > self.body_limit:
                # The app refuses it (413) without reading; the unread rest closes the line.
                request.body_complete = False
                request.oversize = length
                request.consumed = len(buf)
            else:
                if len(buf) < body_start + length:
                    self._continue(conn, request)
                    self._waiting(conn, BODY)
                    return None
                request.body = bytes(buf[body_start:body_start + length])
                request.consumed = body_start + length
        else:
            request.consumed = body_start
        del buf[:request.consumed]
        conn.sent_continue = False
        return request

    def _continue(self, conn: Connection, request: Request) -> None:
        if conn.sent_continue or request.version == "HTTP/1.0":
            return
        if (_header(request, "Expect") or "").lower() == "100-continue":
            conn.sent_continue = True
            self.send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")

    def environ(self, conn: Connection, request: Request) -> Dict[str, Any]:
        path, _, query = request.target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        host, port = conn.local[0], conn.local[1]
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": request.target,
            "SERVER_PROTOCOL": request.version,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "REMOTE_ADDR": conn.peer[0] if isinstance(conn.peer, tuple) else str(conn.peer),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.tls is not None else "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": self.cfg.workers > 1,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "gunicorn.socket": conn.sock,
            "modelkiln.local_port": port,
        }  # type: Dict[str, Any]
        for name, value in request.headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key == "CONTENT_LENGTH":
                environ["CONTENT_LENGTH"] = value
            else:
                key = "HTTP_" + key
                environ[key] = environ[key] + "," + value if key in environ else value
        if request.oversize:
            environ["CONTENT_LENGTH"] = str(request.oversize)  # the app answers 413
        elif "HTTP_TRANSFER_ENCODING" in environ:
            environ["CONTENT_LENGTH"] = str(len(request.body))  # chunked, decoded
        return environ

    def handle(self, conn: Connection, request: Request) -> None:
        self.nr += 1
        started = time.time()
        environ = self.environ(conn, request)
        status_headers = []  # type: List[Any]

        def start_response(status: str, headers: List[Tuple[str, str]],
                           exc_info: Any = None) -> Any:
            status_headers[:] = [status, headers]
            return lambda data: None  # the write() callable: unused by modelkiln's app

        close = None
        try:
            result = self.wsgi(environ, start_response)
            close = getattr(result, "close", None)
            body = b"".join(result)
            status, headers = status_headers
        except Exception:  # the app answers its own errors; this is a last resort
            self.log.exception("error handling %s %s", request.method, request.target)
            status, headers = "500 Internal Server Error", [("Content-Type", "text/plain")]
            body = b"Internal Server Error"
            request.keep_alive = False
        keep = request.keep_alive and request.body_complete and self.alive and (
            self.keepalive > 0)
        head = ["HTTP/1.1 %s\r\n" % status]
        has_length = False
        for name, value in headers:
            if name.lower() == "content-length":
                has_length = True
            head.append("%s: %s\r\n" % (name, value))
        if not has_length:
            head.append("Content-Length: %d\r\n" % len(body))
        if not keep:
            head.append("Connection: close\r\n")
            conn.close_after = True
        elif request.version == "HTTP/1.0":
            head.append("Connection: keep-alive\r\n")
        head.append("\r\n")
        self.send(conn, "".join(head).encode("latin-1") + body)
        if close is not None:
            try:
                close()  # WSGI: after the answer is written (the app counts the request then)
            except Exception:
                self.log.exception("error closing the answer to %s %s", request.method,
                                   request.target)
        if self.cfg.accesslog:
            logs.access(self.log.access_log, environ, status, len(body), time.time() - started)

    def reject(self, conn: Connection, reason: str) -> None:
        self.refuse(conn, "400 Bad Request", "bad HTTP request: " + reason)

    def refuse(self, conn: Connection, status: str, info: str) -> None:
        """Answer ``status`` with a Seldon-style error body and close the connection."""
        body = ('{"status":{"status":1,"info":%s,"code":-1,"reason":"MICROSERVICE_BAD_DATA"}}'
                % _json_string(info)).encode("utf-8")
        conn.inbuf.clear()
        conn.deadline = 0.0
        conn.close_after = True
        self.send(conn, (_REFUSAL % (status, len(body))).encode("latin-1") + body)

    # -- output -------------------------------------------------------------------------

    def send(self, conn: Connection, data: bytes) -> None:
        if conn.sock is None:
            return
        if not conn.outbuf:
            try:
                sent = conn.sock.send(data)
            except WOULD_BLOCK:
                sent = 0
            except OSError:
                self.close(conn)
                return
            if sent == len(data):
                if conn.close_after:
                    self.finish(conn)
                return
            data = data[sent:]
        conn.outbuf += data
        if not conn.writing:
            conn.writing = True
            self.selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def flush(self, conn: Connection) -> None:
        if conn.sock is None or not conn.outbuf:
            return
        try:
            sent = conn.sock.send(conn.outbuf)
        except WOULD_BLOCK:
            return
        except OSError:
            self.close(conn)
            return
        del conn.outbuf[:sent]
        conn.last_active = time.monotonic()
        if conn.outbuf:
            return
        conn.writing = False
        if conn.close_after:
            self.finish(conn)
            return
        self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
        if conn.inbuf:
            self.serve_buffered(conn)

    def finish(self, conn: Connection) -> None:
        """The last answer on a connection is out. Half-close it and discard what the client
        still sends for up to LINGER seconds before closing: closing a socket with unread
        input resets it, and a client still sending a refused body (413) or the request after
        a 400 would get a broken pipe instead of reading the answer (a lingering close)."""
        if conn.sock is None or conn.linger_until or not self.alive:
            self.close(conn)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        conn.inbuf.clear()
        conn.linger_until = time.monotonic() + LINGER
        if conn.writing:
            conn.writing = False
            self.selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def close(self, conn: Connection) -> None:
        sock = conn.sock
        if sock is None:
            return
        conn.sock = None
        close_registered(self.selector, self.connections, sock)


def _json_string(text: str) -> str:
    import json

    return json.dumps(text)
