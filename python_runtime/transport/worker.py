"""An event-loop gunicorn worker: non-blocking sockets, strict HTTP/1.1 keep-alive, bounded
memory.

Why not gunicorn's workers: its sync worker closes the connection after every answer and
parses in pure Python around a blocking read; its gthread worker's parser is lenient on the
oldest pins (gunicorn 20.1, before its Transfer-Encoding fix). This worker keeps connections
open, parses with llhttp (``http1``: the same strict rules on every Python the pins cover),
and hands a request to the WSGI app only once it is complete, so a client that sends slowly
holds a buffer, not the worker.

With ``GUNICORN_THREADS=1`` (the default) the app runs on the loop's own thread, one request
at a time: model code needs no locks, and gunicorn's master kills a worker whose request
outlives ``--timeout`` (the loop reports to it between requests). With more threads the loop
keeps reading and writing while a pool of that many threads runs the app, one request per
connection at a time (answers keep their order). With a pool, requests that are not for the
model (GET, HEAD, OPTIONS: probes, metadata, metrics, the docs, CORS preflights) run on a
few threads of their own, so a probe never waits behind model requests.

Bounds, whatever a client does:
- A connection is not read while its answer is pending: a client that pipelines and never
  reads holds one answer, not the worker's memory. An answer nobody reads for
  ``MODELKILN_WRITE_TIMEOUT`` seconds ends its connection.
- What every connection buffers counts against the worker's memory budget (``budget``),
  shared with the worker's gRPC loop: input that would pass it is refused with 503.
- Read deadlines per request (``MODELKILN_HEADER_TIMEOUT``, ``MODELKILN_BODY_TIMEOUT``), the
  head size limit and the request size limit (413 unread).

Retiring (``max_requests``) or stopping (SIGTERM): the answer that reaches the limit and every
answer written while draining carry ``Connection: close``; requests already received, and
those that arrive on open connections while it drains, are answered before the worker exits
(within the graceful timeout); connections are closed once idle for a moment, so no client
that sent a whole request sees a reset. An idle connection is never closed with a request
waiting unread in its socket.
"""

import collections
import io
import os
import selectors
import socket
import ssl
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Tuple
from urllib.parse import unquote

from gunicorn.workers.base import Worker

from .. import logs
from ..budget import Budget
from ..streams import Stream, producing
from .http1 import BODY, Request, RequestReader
from .parking import Parking, available as greenlets_available
from .sockets import (HANDSHAKE_DONE, HANDSHAKE_WRITE, WOULD_BLOCK, accepted, close_registered,
                      handshake, receive)

READ_SIZE = 256 * 1024
DEFAULT_BODY_LIMIT = 100 << 20
READY_HOLD = 2.0              # seconds a new worker waits for load() before it accepts
LINGER = 5.0                  # seconds a closing connection keeps discarding client input
HEADER_TIMEOUT = 10.0         # defaults of the deadlines (the app's settings win)
BODY_TIMEOUT = 60.0
WRITE_TIMEOUT = 30.0
DRAIN_MARGIN = 1.0            # seconds before gunicorn's graceful timeout the drain gives up
DRAIN_IDLE = 0.5              # seconds a stopping worker keeps an idle connection open
SWEEP_EVERY = 0.05            # seconds between checks of idle connections and deadlines
BEAT_EVERY = 0.1              # seconds between the heartbeats the master's --timeout watches
NOT_FOR_THE_MODEL = ("GET", "HEAD", "OPTIONS")  # probes, metadata, docs, CORS preflights
SIDE_THREADS = 4              # threads for requests not for the model (with a pool)
REFUSAL_WAIT = 0.001          # seconds a full worker goes on refusing before a model call
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REFUSAL = ("HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
            "Content-Length: %d\r\n\r\n")
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Connection(object):
    __slots__ = ("sock", "peer", "base", "reader", "outbuf", "last_active", "write_since",
                 "close_after", "continue_sent", "events", "linger_until", "deadline",
                 "deadline_key", "handshaking", "handshake_write", "busy", "held", "inflight",
                 "paused", "piping", "chunked")

    def __init__(self, sock: socket.socket, peer: Any, base: Dict[str, Any],
                 reader: RequestReader) -> None:
        self.sock = sock
        self.peer = peer
        self.base = base            # the environ entries every request of this connection has
        self.reader = reader
        self.outbuf = bytearray()
        self.last_active = time.monotonic()
        self.write_since = 0.0      # when the pending output last made progress
        self.close_after = False    # close once the output is flushed
        self.continue_sent = False  # 100 Continue already sent for the pending request
        self.events = 0             # what the selector watches (0: not registered)
        self.linger_until = 0.0     # > 0: answered and half-closed, discarding input until then
        self.deadline = 0.0         # > 0: the request being received must be complete by then
        self.deadline_key: Any = None  # (request number, phase) the deadline is for
        self.handshaking = False    # TLS: the handshake is not done yet
        self.handshake_write = False
        self.busy = False           # a request of this connection is with the app (threads)
        self.held = 0               # bytes counted in the budget for this connection
        self.inflight = 0           # of those, the body the app is working on
        self.paused = False         # registered for reading, though not read (``_watch``)
        self.piping: Any = None     # Piping: an answer being written piece by piece
        self.chunked = False        # its pieces go out in chunked transfer coding

    @property
    def idle(self) -> bool:
        """Nothing received, pending or being answered."""
        return not (self.busy or self.outbuf or self.reader.ready or self.reader.in_request
                    or self.linger_until)


STREAM_AHEAD = 64 * 1024  # bytes a stream thread may produce ahead of what the loop wrote


class Piping(object):
    """A streamed answer between the stream thread producing its pieces and the loop
    writing them (``LoopWorker._pipe``, ``deliver_pieces``)."""

    __slots__ = ("stream", "lock", "chunks", "size", "signalled", "running", "ended",
                 "cancelled")

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.chunks: List[bytes] = []  # produced, not yet taken by the loop
        self.size = 0
        self.signalled = False  # the loop has been told of chunks it has not taken
        self.running = False    # a stream thread is producing for it
        self.ended = False      # the stream gave its last bytes
        self.cancelled = False  # the connection is gone: stop after the current piece


class Answer(object):
    """What the app made of one request, ready to be written on the loop's thread."""

    __slots__ = ("data", "keep", "closer", "environ", "status", "size", "started", "stream",
                 "chunked")

    def __init__(self, data: bytes, keep: bool, closer: Any, environ: Dict[str, Any],
                 status: str, size: int, started: float, stream: Any = None,
                 chunked: bool = False) -> None:
        self.data, self.keep, self.closer = data, keep, closer
        self.environ, self.status, self.size, self.started = environ, status, size, started
        self.stream, self.chunked = stream, chunked  # a streamed answer: data is its head


class LoopWorker(Worker):
    """See the module docstring."""

    def init_process(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.connections: Dict[int, Connection] = {}
        self.finished: Deque[Tuple[Connection, Answer]] = collections.deque()
        self.pool: Any = None
        self.side_pool: Any = None  # (with a pool) threads for requests not for the model
        self.stream_pool: Any = None  # threads that ask generators for streamed pieces
        self.pieces: Deque[Tuple[Connection, Any]] = collections.deque()  # (conn, Piping)
        self.parking: Any = None  # parking.Parking: model requests run in greenlets
        self.refused = 0  # requests the queue limit refused (REST)
        # admitted model requests of this turn, run in greenlets once every connection that
        # was ready has been read: a request the queue limit refuses is answered then, not
        # after the decoding of every request admitted before it
        self.admitted: Deque[Tuple[Connection, Request, bool, bool]] = collections.deque()
        super(LoopWorker, self).init_process()

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        wsgi = self.wsgi
        self.body_limit = getattr(wsgi, "max_body", None) or DEFAULT_BODY_LIMIT
        self.header_timeout = getattr(wsgi, "header_timeout", None) or HEADER_TIMEOUT
        self.body_timeout = getattr(wsgi, "body_timeout", None) or BODY_TIMEOUT
        self.write_timeout = getattr(wsgi, "write_timeout", None) or WRITE_TIMEOUT
        self.budget = getattr(wsgi, "budget", None) or Budget(2 * self.body_limit)
        self.tls = getattr(wsgi, "tls_context", None)  # ssl.SSLContext: HTTPS
        self.next_sweep = 0.0
        self.next_beat = 0.0
        self.keepalive = max(0, int(self.cfg.keepalive))
        self.idle_limit = float(self.keepalive or 1)  # seconds an idle connection is kept
        self.threads = max(1, int(self.cfg.threads))
        self.access_log = bool(self.cfg.accesslog)
        # the queue limit, and adaptive batching's threads (requests wait there for a batch)
        self.admission = getattr(wsgi, "admission", None)
        if self.admission is not None and not self.admission.limit:
            self.admission = None
        self.batcher = getattr(wsgi, "batcher", None)  # told of each model request taken in
        pool_size = max(self.threads, getattr(wsgi, "app_threads", 0) or 0)
        if pool_size > 1 or self.admission is not None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(pool_size)
            # requests that are not for the model (probes, metadata, metrics, the docs) run
            # on threads of their own: they never wait behind model requests in the pool
            self.side_pool = ThreadPoolExecutor(SIDE_THREADS)
        self.multiprocess = self.cfg.workers > 1
        for listener in self.sockets:
            listener.setblocking(False)
            self.selector.register(listener, READ, None)
        self.selector.register(self.PIPE[0], READ, "wakeup")
        tick = min(1.0, max(0.05, self.timeout / 4.0)) if self.timeout else 1.0
        load = getattr(self, "load_model", None)  # set by the server's post_worker_init
        if load is not None:
            self._load_while_serving(load, tick)
        else:
            self._hold_until_ready()
        if self.batcher is not None and greenlets_available():
            # from here on only this thread runs the loop (the probes' helper has ended)
            self.parking = Parking(self._wake)
            self.batcher.parking = self.parking
        while self.alive:
            self.heartbeat()
            self.turn(tick)
        self.drain()

    def heartbeat(self) -> None:
        """Tell the master this worker is alive: every BEAT_EVERY seconds at most, not
        every turn (each is a system call on the worker's temporary file)."""
        now = time.monotonic()
        if now >= self.next_beat:
            self.next_beat = now + BEAT_EVERY
            self.notify()

    def turn(self, tick: float) -> None:
        """One turn of the loop: wait for events (at most ``tick`` seconds), serve them."""
        events = self.selector.select(tick)
        if events and self.parking is not None:
            # Requests read in this turn are decoded and queued before it ends, and a batch
            # waits for them (the batcher's window ends early once nothing is on its way);
            # the turn and a model call that keeps its thread busy take turns.
            batcher = self.batcher
            coming = batcher.expect()
            batcher.loop_turn(True)
            refused = self.refused
            try:
                self.serve_events(events)
                # what arrived while this turn ran is taken in before the model call that
                # waits for the turn's end: such a request joins the batch, or, the queue
                # being full, is refused now rather than after the call
                events = self.selector.select(0)
                if events:
                    self.serve_events(events)
                if self.refused != refused:  # clients over the limit are sending
                    self._refuse_before_call()
            finally:
                batcher.loop_turn(False)
                batcher.arrived(coming)
        else:
            self.serve_events(events)
        now = time.monotonic()
        if now >= self.next_sweep:  # not every turn: it visits every connection
            self.next_sweep = now + SWEEP_EVERY
            self.sweep(now)

    def _refuse_before_call(self) -> None:
        """The turn refused requests and the queue is still full: for up to REFUSAL_WAIT
        seconds more, answer the requests that keep coming (refusals, probes) before the turn
        ends and a model call that waits for it starts. A client refused a moment ago sends
        again within a fraction of a millisecond, and would otherwise wait for the whole call
        to be refused again. (It costs the call that much delay, only under overload.)"""
        admission = self.admission  # (set: only its refusals count in self.refused)
        until = time.monotonic() + REFUSAL_WAIT
        while admission.full:
            left = until - time.monotonic()
            if left <= 0:
                return
            events = self.selector.select(left)
            if not events:
                return
            self.serve_events(events)

    def serve_events(self, events: List[Tuple[Any, int]]) -> None:
        for key, mask in events:
            if key.data is None:
                self.accept(key.fileobj)
            elif key.data == "wakeup":
                self._drain_wakeup()
            else:
                self.on_events(key.data, mask)
        parking = self.parking
        while True:
            self._run_admitted()
            if parking is not None and parking.ready:
                parking.switch_ready()  # answered batches: encode and write
            if self.finished:
                self.deliver_finished()
            if self.pieces:
                self.deliver_pieces()
            if not self.admitted:  # (writing an answer may find the next request waiting)
                break

    def _run_admitted(self) -> None:
        admitted, parking = self.admitted, self.parking
        while admitted:
            parking.run(self._in_greenlet, *admitted.popleft())

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
            self._wake()
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

    def _wake(self) -> None:
        try:
            os.write(self.PIPE[1], b".")
        except OSError:  # the pipe is full: a wake-up is pending anyway
            pass

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def accept(self, listener: socket.socket) -> None:
        local = listener.getsockname()
        for sock, peer in accepted(listener, self.tls):
            conn = Connection(sock, peer, self._base_environ(local, peer, sock),
                              RequestReader(self.body_limit, self.budget.fits))
            self.connections[sock.fileno()] = conn
            if self.tls is not None:
                conn.handshaking = True
                conn.deadline = time.monotonic() + self.header_timeout  # for the handshake
            self._watch(conn)

    def _base_environ(self, local: Any, peer: Any, sock: Any) -> Dict[str, Any]:
        return {
            "SCRIPT_NAME": "",
            "SERVER_NAME": str(local[0]),
            "SERVER_PORT": str(local[1]),
            "REMOTE_ADDR": peer[0] if isinstance(peer, tuple) else str(peer),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.tls is not None else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.threads > 1,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "gunicorn.socket": sock,
            "modelkiln.local_port": local[1],
        }

    # -- what the selector watches ------------------------------------------------------

    def _watch(self, conn: Connection) -> None:
        """Watch what ``conn`` can do now: read unless an answer is pending (or while
        lingering, to drop input), write while output is pending."""
        if conn.sock is None:
            return
        if conn.handshaking:
            events = READ | (WRITE if conn.handshake_write else 0)
        else:
            events = WRITE if conn.outbuf else 0
            if conn.linger_until or not (conn.busy or conn.outbuf or conn.reader.ready):
                events |= READ
        if not events and conn.events == READ:
            # Stop reading lazily: a connection waiting for its answer rarely sends more,
            # so it stays registered until it does (on_events), which saves two system
            # calls per request.
            conn.paused = True
            return
        conn.paused = False
        if events == conn.events:
            return
        if not conn.events:
            self.selector.register(conn.sock, events, conn)
        elif not events:
            self.selector.unregister(conn.sock)
        else:
            self.selector.modify(conn.sock, events, conn)
        conn.events = events

    def _account(self, conn: Connection) -> None:
        """Bring the budget up to date with what ``conn`` holds now."""
        held = 0 if conn.sock is None else (
            conn.reader.retained + len(conn.outbuf) + conn.inflight)
        if held != conn.held:
            self.budget.add(held - conn.held)
            conn.held = held

    # -- input --------------------------------------------------------------------------

    def on_events(self, conn: Connection, mask: int) -> None:
        if conn.sock is None:  # closed earlier in this turn
            return
        if conn.paused:  # input while its answer is pending: now stop watching it
            self.selector.unregister(conn.sock)
            conn.events, conn.paused = 0, False
            return
        if conn.handshaking and not self.handshake(conn):
            return
        if mask & WRITE:
            self.flush(conn)
            if conn.sock is None:
                return
        if mask & READ and conn.events & READ:
            self.read(conn)

    def handshake(self, conn: Connection) -> bool:
        """Go on with a TLS handshake; whether it is done."""
        try:
            state = handshake(conn.sock)
        except ssl.SSLError as exc:
            if getattr(exc, "reason", None) == "HTTP_REQUEST":
                self._plain_http_on_tls(conn)
                return False
            self.log.info("TLS handshake with %s failed: %s", conn.peer, exc)
            self.close(conn)
            return False
        except OSError as exc:
            self.log.info("TLS handshake with %s failed: %s", conn.peer, exc)
            self.close(conn)
            return False
        conn.handshake_write = state == HANDSHAKE_WRITE
        if state != HANDSHAKE_DONE:
            self._watch(conn)
            return False
        conn.handshaking = False
        conn.deadline = 0.0  # the first request's bytes start its own
        self._watch(conn)
        return True

    def _plain_http_on_tls(self, conn: Connection) -> None:
        """A plain HTTP request on the HTTPS port: say so in plain HTTP, then close."""
        self.log.info("%s sent plain HTTP to the HTTPS port: 400", conn.peer)
        body = _error_body("this port serves HTTPS (MODELKILN_TLS_CERT is set): send the "
                           "request to https://, not http://")
        data = (_REFUSAL % ("400 Bad Request", len(body))).encode("latin-1") + body
        raw = conn.sock
        try:
            socket.socket.send(raw, data)
        except OSError:
            self.close(conn)
            return
        conn.handshaking = False
        conn.close_after = True
        self.finish(conn)

    def read(self, conn: Connection) -> None:
        try:
            data = receive(conn.sock, READ_SIZE, self.tls is not None)
        except WOULD_BLOCK:
            return
        except OSError:
            self.close(conn)
            return
        if conn.linger_until:
            if not data:
                self.close(conn)
            return  # the rest of a refused request, or input after the last answer: dropped
        if not data:
            self.on_eof(conn)
            return
        conn.last_active = time.monotonic()
        if not self.budget.fits(len(data)):
            self.refuse(conn, "503 Service Unavailable", "the server holds too much data at "
                        "the moment: try again shortly (the worker's memory budget, "
                        "MODELKILN_MEMORY_BUDGET, is spent)")
            return
        conn.reader.feed(data)
        self.serve(conn)

    def on_eof(self, conn: Connection) -> None:
        """The client closed its side (it may still read)."""
        if conn.reader.in_request and not conn.linger_until:
            # Tell it, then close.
            self.refuse(conn, "400 Bad Request", "bad HTTP request: the connection ended "
                        "inside a request (its %s)" % (
                            "body" if conn.reader.phase == BODY else "line and headers"))
            return
        if conn.busy or conn.outbuf or conn.reader.ready:
            conn.close_after = True  # answer what it sent, then close
            return
        self.close(conn)

    # -- requests -----------------------------------------------------------------------

    def serve(self, conn: Connection) -> None:
        """Answer the connection's complete requests in order (pipelining): here, one after
        the other; with threads, one at a time in the pool. Then say what to watch."""
        reader = conn.reader
        while conn.sock is not None and reader.ready and not (conn.busy or conn.outbuf
                                                              or conn.close_after):
            request = reader.take()
            conn.continue_sent = False
            conn.inflight = request.size
            self.nr += 1
            last = self.nr >= self.max_requests
            if last:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if self.pool is not None:
                model = request.method not in NOT_FOR_THE_MODEL
                counted = model and self.admission is not None
                if counted and not self.admission.enter("rest"):  # the queue is full
                    self.refused += 1
                    self.deliver(conn, self.refusal(conn, request, last))  # answered at once
                    continue
                conn.busy = True
                if not model:
                    self.side_pool.submit(self._in_pool, conn, request, last)
                    break
                parking = self.parking
                if parking is not None:  # in a greenlet, on this thread
                    self.admitted.append((conn, request, last, counted))
                    break
                coming = self.batcher.expect() if self.batcher is not None else None
                self.pool.submit(self._in_pool, conn, request, last, counted, coming)
                break
            self.deliver(conn, self.respond(conn, request, last))
        if conn.sock is None:
            return
        if reader.error is not None and not (conn.busy or conn.outbuf or reader.ready
                                             or conn.close_after):
            error, reader.error = reader.error, None  # after the requests before it
            self.log.info("bad request from %s: %s", conn.peer, error)
            self.refuse(conn, error.status, "bad HTTP request: %s" % error)
            return
        current = reader.current
        if (current is not None and current.expect_continue and not conn.continue_sent
                and reader.phase == BODY and not (conn.busy or conn.outbuf or reader.ready)):
            conn.continue_sent = True
            self.send(conn, CONTINUE)
        self._account(conn)
        self._deadline(conn)
        self._watch(conn)

    def _deadline(self, conn: Connection) -> None:
        """The request being received must be complete in time: the header deadline starts
        with its first byte, the body deadline once the headers are in. While the
        connection waits for an answer it is not read, and the clock starts again after."""
        reader = conn.reader
        if not reader.in_request or conn.busy or conn.outbuf or reader.ready:
            conn.deadline, conn.deadline_key = 0.0, None
            return
        key = (reader.begun, reader.phase)
        if key != conn.deadline_key:
            conn.deadline_key = key
            conn.deadline = time.monotonic() + (
                self.body_timeout if reader.phase == BODY else self.header_timeout)

    def _in_pool(self, conn: Connection, request: Request, last: bool,
                 counted: bool = False, coming: Any = None) -> None:
        try:
            if coming is not None:
                answer = self.batcher.expected(coming, self.respond, conn, request, last)
            else:
                answer = self.respond(conn, request, last)
        except BaseException:  # respond() answers the app's errors; this is a last resort
            self.log.exception("error answering %s %s", request.method, request.target)
            answer = _failure(request)
        if counted:
            self.admission.leave()
        self.finished.append((conn, answer))
        self._wake()

    def _in_greenlet(self, conn: Connection, request: Request, last: bool,
                     counted: bool) -> None:
        """The app for a model request, in a greenlet of the loop's thread: it parks in the
        batcher while its batch runs (``parking``); its answer is written by the loop."""
        try:
            answer = self.respond(conn, request, last)
        except Exception:  # respond() answers the app's errors; this is a last resort
            self.log.exception("error answering %s %s", request.method, request.target)
            answer = _failure(request)
        finally:
            if counted:
                self.admission.leave()
        self.finished.append((conn, answer))

    def deliver_finished(self) -> None:
        """Write the answers the pool finished, and go on with their connections."""
        while self.finished:
            conn, answer = self.finished.popleft()
            conn.busy = False
            if conn.sock is None:  # closed while the app worked (write timeout, shutdown)
                _close_answer(answer, self.log)
                continue
            self.deliver(conn, answer)
            if conn.sock is not None:
                self.serve(conn)

    def environ(self, conn: Connection, request: Request) -> Dict[str, Any]:
        target = request.target
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ = conn.base.copy()
        environ.update(request.headers)
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"] = unquote(path, "latin-1")
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = target
        environ["SERVER_PROTOCOL"] = "HTTP/" + request.version
        environ["wsgi.input"] = io.BytesIO(request.body)
        if request.oversize:
            environ["CONTENT_LENGTH"] = str(request.oversize)  # the app answers 413
        elif "HTTP_TRANSFER_ENCODING" in environ:
            environ["CONTENT_LENGTH"] = str(len(request.body))  # chunked, decoded
        if request.refused is not None:
            environ["modelkiln.refused"] = request.refused  # the app answers it
        return environ

    def refusal(self, conn: Connection, request: Request, last: bool) -> Answer:
        """The queue is full: the app's ready-made 503 for the request's protocol, without
        running the app (an app without one answers ``request.refused`` itself)."""
        made = getattr(self.wsgi, "refusal", None)
        if made is None:
            request.refused = (503, self.admission.message)
            return self.respond(conn, request, last)
        started = time.time() if self.access_log else 0.0
        path = request.target.partition("?")[0]
        if path.startswith(("http://", "https://")):  # absolute form
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        status, headers, body, result = made(unquote(path, "latin-1"),
                                             "HTTP_ORIGIN" in request.headers)
        head, keep = self._close_or_keep(conn, request, last, _head(status, headers, len(body)))
        environ = self.environ(conn, request) if self.access_log else None
        return Answer((head + "\r\n").encode("latin-1") + body, keep, result.close, environ,
                      status, len(body), started)

    def _close_or_keep(self, conn: Connection, request: Request, last: bool,
                       head: str) -> Tuple[str, bool]:
        """The answer's head with what the connection does after it."""
        # Stopping (SIGTERM, or another request reached max_requests): the connection's last
        # answer says so. (The loop does not read a connection while the pool answers it.)
        if request.keep_alive and not last and self.keepalive and (
                self.alive or conn.reader.ready or conn.reader.in_request):
            if request.version == "1.0":
                head += "Connection: keep-alive\r\n"
            return head, True
        return head + "Connection: close\r\n", False

    def respond(self, conn: Connection, request: Request, last: bool) -> Answer:
        """Run the app for ``request`` (on the loop's thread, or in the pool)."""
        started = time.time() if self.access_log else 0.0
        environ = self.environ(conn, request)
        start = _StartResponse()
        closer = None
        try:
            result = self.wsgi(environ, start)
            if isinstance(result, Stream):
                return self._streamed(conn, request, last, environ, start, result, started)
            closer = getattr(result, "close", None)
            body = (result[0] if isinstance(result, list) and len(result) == 1
                    else b"".join(result))
            status = start.status
            head = _head(status, start.headers, len(body))
        except Exception:  # the app answers its own errors; this is a last resort
            self.log.exception("error handling %s %s", request.method, request.target)
            status, head, body = "500 Internal Server Error", _FAILURE_HEAD, _FAILURE_BODY
            request.keep_alive = False
        head, keep = self._close_or_keep(conn, request, last, head)
        data = (head + "\r\n").encode("latin-1") + body
        return Answer(data, keep, closer, environ, status, len(body), started)

    def _streamed(self, conn: Connection, request: Request, last: bool,
                  environ: Dict[str, Any], start: Any, stream: Stream,
                  started: float) -> Answer:
        """The head of a streamed answer: chunked on HTTP/1.1; on HTTP/1.0 the body ends
        when the connection does."""
        chunked = request.version != "1.0"
        if not chunked:
            request.keep_alive = False
        head = _head(start.status, start.headers, -1)
        if chunked:
            head += "Transfer-Encoding: chunked\r\n"
        head, keep = self._close_or_keep(conn, request, last, head)
        return Answer((head + "\r\n").encode("latin-1"), keep, None, environ, start.status,
                      0, started, stream, chunked)

    def deliver(self, conn: Connection, answer: Answer) -> None:
        """Write ``answer`` (on the loop's thread), then let the app count it."""
        conn.inflight = 0
        if not answer.keep:
            conn.close_after = True
        if answer.stream is not None:  # its head now, its pieces as they come
            piping = conn.piping = Piping(answer.stream)
            conn.chunked, conn.busy = answer.chunked, True
            self.send(conn, answer.data)
            if conn.sock is None:
                self._close_stream(piping)
            elif not conn.outbuf:
                self._produce(conn)
            if self.access_log and answer.environ:
                logs.access(self.log.access_log, answer.environ, answer.status, 0,
                            time.time() - answer.started)
            return
        self.send(conn, answer.data)
        _close_answer(answer, self.log)
        if self.access_log and answer.environ:
            logs.access(self.log.access_log, answer.environ, answer.status, answer.size,
                        time.time() - answer.started)

    # -- streamed answers -----------------------------------------------------------------

    def _produce(self, conn: Connection) -> None:
        """Have a stream thread produce ``conn``'s next pieces (the loop goes on)."""
        if self.stream_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.stream_pool = ThreadPoolExecutor(
                max(1, int(getattr(self.wsgi, "stream_threads", 0) or 8)),
                thread_name_prefix="modelkiln-stream")
        piping = conn.piping
        piping.running = True
        self.stream_pool.submit(self._pipe, conn, piping)

    def _pipe(self, conn: Connection, piping: "Piping") -> None:
        """(A stream thread.) Pieces of the stream, handed to the loop as they come: the
        first at once, the next ones while the loop writes, until STREAM_AHEAD bytes wait for
        the loop (which takes them only once the connection's earlier output is written, and
        then has the thread go on), the stream ends, or the connection is gone."""
        stream = piping.stream
        producing(lambda: piping.cancelled)
        try:
            self._pipe_pieces(conn, piping, stream)
        finally:
            producing(None)

    def _pipe_pieces(self, conn: Connection, piping: "Piping", stream: Stream) -> None:
        while True:
            try:
                data = stream.next_piece()
            except BaseException:  # next_piece answers the generator's errors; a last resort
                self.log.exception("error producing a piece of a streamed answer")
                data = None
            with piping.lock:
                if data is None:
                    piping.ended = True
                else:
                    piping.chunks.append(data)
                    piping.size += len(data)
                stop = piping.ended or piping.cancelled or piping.size >= STREAM_AHEAD
                if stop:
                    piping.running = False
                signal = not piping.signalled
                piping.signalled = True
            if signal:  # (one wake-up of the loop for whatever it has not taken yet)
                self.pieces.append((conn, piping))
                self._wake()
            if stop:
                return

    def deliver_pieces(self) -> None:
        """Write what the stream threads produced, for connections whose earlier output has
        left the buffer (the others' pieces wait for ``flush``)."""
        while self.pieces:
            conn, piping = self.pieces.popleft()
            if conn.piping is not piping or conn.sock is None:  # closed meanwhile
                with piping.lock:
                    running = piping.running
                    piping.signalled = False  # (a thread still running signals once it stops)
                if not running:
                    self._close_stream(piping)
                continue
            if conn.outbuf:
                with piping.lock:
                    piping.signalled = False  # flush() takes them
                continue
            self._write_pieces(conn)

    def _write_pieces(self, conn: Connection) -> None:
        """Write ``conn``'s produced pieces; end the stream after its last bytes, or have it
        go on once everything is written."""
        piping = conn.piping
        with piping.lock:
            chunks, piping.chunks, piping.size = piping.chunks, [], 0
            piping.signalled = False
            running, ended = piping.running, piping.ended
        if chunks:  # (an empty chunk would end a chunked body: none is written)
            self.send(conn, b"".join(b"%x\r\n%s\r\n" % (len(data), data)
                                     for data in chunks if data) if conn.chunked
                      else b"".join(chunks))
            if conn.sock is None:
                return
        if ended:
            self._end_stream(conn)
        elif not running and not conn.outbuf:
            self._produce(conn)

    def _end_stream(self, conn: Connection) -> None:
        piping = conn.piping
        conn.piping, conn.busy = None, False
        self._close_stream(piping)
        if conn.chunked:
            self.send(conn, b"0\r\n\r\n")
        elif conn.close_after and not conn.outbuf:
            self.finish(conn)
        if conn.sock is not None and not conn.outbuf and not conn.close_after:
            self.serve(conn)  # the next request it sent meanwhile

    def _close_stream(self, piping: "Piping") -> None:
        """End a stream. While a stream thread produces for it, that thread stops after its
        piece and hands it back (``deliver_pieces`` closes it then); a generator that has
        not finished is closed on a stream thread (its ``finally`` blocks are user code,
        under the model's lock)."""
        with piping.lock:
            piping.cancelled = True
            if piping.running:
                return
        stream = piping.stream
        if stream.done or self.stream_pool is None:
            stream.close()
        else:
            self.stream_pool.submit(stream.close)

    def refuse(self, conn: Connection, status: str, info: str) -> None:
        """Answer ``status`` with a Seldon-style error body and close the connection."""
        body = _error_body(info)
        conn.close_after = True
        conn.deadline = 0.0
        self.send(conn, (_REFUSAL % (status, len(body))).encode("latin-1") + body)

    def read_timeout(self, conn: Connection) -> None:
        if conn.handshaking:  # no TLS yet to answer on
            self.log.info("%s: no TLS handshake within %g s", conn.peer, self.header_timeout)
            self.close(conn)
            return
        if conn.reader.phase == BODY:
            what, limit, name = "body", self.body_timeout, "MODELKILN_BODY_TIMEOUT"
        else:
            what, limit, name = "request line and headers", self.header_timeout, (
                "MODELKILN_HEADER_TIMEOUT")
        self.log.info("%s: the %s took longer than %g s: 408", conn.peer, what, limit)
        self.refuse(conn, "408 Request Timeout", "the request's %s did not arrive within %g s "
                    "(%s)" % (what, limit, name))

    # -- periodic checks and stopping ---------------------------------------------------

    def sweep(self, now: float) -> None:
        """Deadlines, write timeouts, lingering and idle connections."""
        if not self.connections:
            return
        idle_limit = self.idle_limit
        for conn in list(self.connections.values()):
            if conn.linger_until:
                if now > conn.linger_until:
                    self.close(conn)
            elif conn.outbuf:
                if now - conn.write_since > self.write_timeout:
                    self.log.info("%s read nothing of its answer for %g s: closed "
                                  "(MODELKILN_WRITE_TIMEOUT)", conn.peer, self.write_timeout)
                    self.close(conn)
            elif conn.busy or conn.reader.ready:
                continue
            elif conn.deadline:
                if now > conn.deadline:
                    self.read_timeout(conn)
            elif now - conn.last_active > idle_limit and not _unread(conn.sock):
                # (a request that arrived while the loop was busy is read, not dropped)
                self.close(conn)

    def drain(self) -> None:
        """Graceful stop (SIGTERM, max_requests): accept nothing more, answer every request
        already received or arriving on an open connection (with Connection: close), and
        close connections once idle for DRAIN_IDLE seconds, then exit. Idle connections are
        not closed at once: a client may be sending its next request at that moment, and it
        would see the connection close under it."""
        for listener in self.sockets:
            try:
                self.selector.unregister(listener)
            except (KeyError, ValueError):
                pass
        self.idle_limit = min(self.idle_limit, DRAIN_IDLE)
        deadline = time.monotonic() + max(0.5, float(self.cfg.graceful_timeout) - DRAIN_MARGIN)
        while self.connections and time.monotonic() < deadline:
            self.heartbeat()
            self.turn(SWEEP_EVERY)
        for conn in list(self.connections.values()):
            self.close(conn)
        if self.pool is not None:
            self.pool.shutdown(wait=False)
            self.side_pool.shutdown(wait=False)
        if self.stream_pool is not None:
            self.stream_pool.shutdown(wait=False)

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
                if conn.close_after and conn.piping is None:
                    self.finish(conn)
                return
            data = data[sent:]
            conn.write_since = time.monotonic()
        conn.outbuf += data
        self._account(conn)
        self._watch(conn)

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
        conn.last_active = conn.write_since = time.monotonic()
        self._account(conn)
        if conn.outbuf:
            return
        if conn.piping is not None:  # a streamed answer goes on
            self._write_pieces(conn)
            return
        if conn.close_after:
            self.finish(conn)
            return
        self.serve(conn)

    def finish(self, conn: Connection) -> None:
        """The last answer on a connection is out. Half-close it and discard what the client
        still sends for up to LINGER seconds before closing: closing a socket with unread
        input resets it, and a client still sending a refused body (413) or the request after
        a 400 would get a broken pipe instead of reading the answer (a lingering close)."""
        if conn.sock is None or conn.linger_until:
            self.close(conn)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        conn.outbuf.clear()
        conn.deadline = 0.0
        conn.linger_until = time.monotonic() + LINGER
        self._account(conn)
        self._watch(conn)

    def close(self, conn: Connection) -> None:
        sock = conn.sock
        if sock is None:
            return
        conn.sock = None
        piping = conn.piping
        if piping is not None:  # the client went away, or timed out: stop the generator
            conn.piping = None
            self._close_stream(piping)
        conn.events = 0
        self._account(conn)
        close_registered(self.selector, self.connections, sock)


def _unread(sock: Any) -> bool:
    """Whether bytes wait unread in ``sock`` (TLS: also already decrypted ones)."""
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        # the socket's own recv, under TLS too: a peek at the encrypted bytes
        return bool(socket.socket.recv(sock, 1, socket.MSG_PEEK))
    except (OSError, ValueError):  # nothing waiting (EAGAIN), or the socket broke
        return False


_FAILURE_BODY = b"Internal Server Error"
_FAILURE_HEAD = ("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\n" % len(_FAILURE_BODY))


def _head(status: str, headers: List[Tuple[str, str]], size: int) -> str:
    """Status line and headers (no blank line yet); refuses a CR or LF in any of them, so
    nothing the app echoes can add a header or end the head early."""
    head = "HTTP/1.1 " + status + "\r\n" + "".join(
        [name + ": " + value + "\r\n" for name, value in headers])
    lines = len(headers) + 1
    if head.count("\n") != lines or head.count("\r") != lines:
        raise ValueError("a response header holds CR or LF: %r" % head[:200])
    if size < 0:  # a streamed answer: chunked, or ended by closing the connection
        return head
    for name, _ in headers:
        if name == "Content-Length" or name.lower() == "content-length":
            return head
    return head + "Content-Length: %d\r\n" % size


def _failure(request: Request) -> Answer:
    request.keep_alive = False
    return Answer((_FAILURE_HEAD + "Connection: close\r\n\r\n").encode("latin-1")
                  + _FAILURE_BODY, False, None, {}, "500 Internal Server Error", 0, time.time())


def _close_answer(answer: Answer, log: Any) -> None:
    """WSGI: the app's ``close()`` after the answer is written (it counts the request)."""
    if answer.closer is not None:
        try:
            answer.closer()
        except Exception:
            log.exception("error closing an answer")


def _no_write(data: bytes) -> None:
    """WSGI's write() callable: unused by modelkiln's app."""


class _StartResponse(object):
    """WSGI's start_response for one request: keeps the status and headers."""

    __slots__ = ("status", "headers")

    def __call__(self, status, headers, exc_info=None):  # type: ignore[no-untyped-def]
        self.status = status
        self.headers = headers
        return _no_write


def _error_body(info: str) -> bytes:
    import json

    return ('{"status":{"status":1,"info":%s,"code":-1,"reason":"MICROSERVICE_BAD_DATA"}}'
            % json.dumps(info)).encode("utf-8")
