"""gRPC in every worker: Seldon's services, V2's GRPCInferenceService and server reflection.

How the model is shared: each worker, once its ``load()`` has finished, opens its own
listener on the gRPC port with SO_REUSEPORT (the kernel spreads connections over the
workers' listeners) and serves it from one thread of its own, an event loop over HTTP/2
(``http2``). Calls run on that thread against the same component object the worker's REST
loop calls, under the component's lock, so there is exactly one copy of the model per worker
and it is never entered by two requests at once; with GUNICORN_THREADS > 1 (a model that takes
concurrent calls) they run on GRPC_THREADS threads instead. A worker that dies takes its
listener with it; the master's replacement opens a new one. On SIGTERM the worker sends
GOAWAY on every connection, lets in-flight calls finish (graceful timeout), then closes.

gRPC is spoken here rather than through grpcio: grpcio's server cost ~20 MiB per worker and
~0.2 ms of CPU per call in its own machinery, several times what the model call costs.

Hostile clients: what a connection holds (``http2`` counts it; request messages its calls
hold, here) is charged to the worker's memory budget, shared with the REST loop; a reset call
still queued on the pool is cancelled; a connection with too many calls queued, or idle for
MODELKILN_GRPC_IDLE_TIMEOUT, gets GOAWAY; accept() pauses when descriptors run out.
"""

import logging
import os
import re
import selectors
import socket
import ssl
import threading
import time
import zlib
from collections import deque
from typing import (Any, Callable, Dict, Iterator, List, Optional, Set,  # noqa: F401
                    Tuple)

from .. import logs
from ..errors import MicroserviceError, as_error, from_user_exception
from ..model.context import ServingContext
from ..tracing import Tracing
from . import http2
from .sockets import (HANDSHAKE_DONE, HANDSHAKE_WRITE, WOULD_BLOCK, accepted, bound,
                      close_registered, handshake, receive)

log = logging.getLogger("modelkiln")

# HTTP status of an error -> gRPC status code name (docs/serving/grpc.md, "What a call means")
STATUS_FOR_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 405: "UNIMPLEMENTED", 409: "ABORTED",
                   413: "RESOURCE_EXHAUSTED", 415: "INVALID_ARGUMENT",
                   429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 501: "UNIMPLEMENTED",
                   503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
CODES = {name: number for number, name in enumerate((
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"))}
ENCODINGS = "identity,deflate,gzip"
READ_SIZE = 256 * 1024
OUT_LIMIT = 4 << 20   # unsent bytes on a connection beyond which it is not read (a peer
                      # that sends but does not read, e.g. a PING flood, is held back)
TICK = 0.5
DRAIN_WINDOW = 1.0    # seconds between the first GOAWAY and the last, on SIGTERM
INFLATE_STEP = 1 << 20  # a compressed message is inflated this much at a time (checked)
ACCEPT_BACKOFF = (0.05, 2.0)  # first and longest pause of accept() when out of descriptors
SILENT_LOG_EVERY = 60.0  # seconds between summaries of connections that sent no preface
HTTP1_REQUEST = re.compile(rb"[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")


def code_for(error: MicroserviceError) -> str:
    """The gRPC code name of an error: its own, else the one for its HTTP status."""
    return error.grpc_code or status_for(error.status_code)


def _reason(error: MicroserviceError) -> str:
    status = (error.custom_body or {}).get("status")
    reason = status.get("reason") if isinstance(status, dict) else None
    return reason if isinstance(reason, str) else error.reason


def status_for(http_status: int) -> str:
    """The gRPC code name for an error that REST answers with ``http_status``."""
    found = STATUS_FOR_HTTP.get(http_status)
    if found:
        return found
    return "FAILED_PRECONDITION" if 400 <= http_status < 500 else "INTERNAL"


def percent_encoded(text: str) -> str:
    """grpc-message's encoding: UTF-8, with bytes outside printable ASCII and '%' as %XX."""
    if all(" " <= char <= "~" and char != "%" for char in text):
        return text
    return "".join(chr(byte) if 0x20 <= byte <= 0x7E and byte != 0x25 else "%%%02X" % byte
                   for byte in text.encode("utf-8", "replace"))


def _printable(text: str) -> str:
    return "".join(char if " " <= char <= "~" else "?" for char in text)


# The answer's head and the trailers of a call that succeeded never change.
HEAD = http2.header_block(((":status", "200"), ("content-type", "application/grpc"),
                           ("grpc-accept-encoding", ENCODINGS)))
TRAILERS_OK = http2.header_block((("grpc-status", "0"),))
# the calls that reach the model, which the queue limit counts (probes and metadata never wait)
MODEL_CALLS = frozenset(("Predict", "ModelInfer", "TransformInput", "TransformOutput", "Route",
                         "Aggregate", "SendFeedback"))
# methods whose every request message may be answered by any number of messages, produced on a
# stream thread while the loop goes on (``_Pipe``)
PRODUCING = frozenset(("/inference.GRPCInferenceService/ModelStreamInfer",))
STREAM_AHEAD = 64 * 1024  # bytes a call's answers may be produced ahead of being written
QUEUED_REQUESTS = 8       # request messages a streaming call may hold before the client waits
SIDE_THREADS = 4          # (with a pool) threads for calls that are not for the model


class _Method(object):
    """One method: parse the bytes, call the protocol, count it; errors become a status."""

    __slots__ = ("full_method", "call", "parse", "type_name", "metrics", "streaming", "model")

    def __init__(self, metrics: Any, full_method: str, call: Callable[[Any], Any],
                 request_class: Any, streaming: bool = False) -> None:
        self.full_method = full_method
        self.call = call
        self.parse = request_class.FromString
        self.type_name = request_class.DESCRIPTOR.full_name
        self.metrics = metrics
        self.streaming = streaming
        self.model = full_method.rsplit("/", 1)[-1] in MODEL_CALLS  # counted, batched

    def produce(self, raw: bytes) -> Iterator[bytes]:
        """A method that answers each request message of a stream with any number of
        messages (``PRODUCING``): their bytes, as the handler makes them. An error raised
        here ends the call with its status."""
        started = time.perf_counter()
        code = "OK"
        first = None  # type: Optional[float]
        count = 0
        try:
            try:
                request = self.parse(raw)
            except Exception as exc:
                raise MicroserviceError(
                    "the request is not a valid %s message (%s); check that the client uses "
                    "the same .proto" % (self.type_name, exc or type(exc).__name__)) from None
            for answer in self.call(request):
                if first is None:
                    first = time.perf_counter() - started
                count += 1
                yield answer.SerializeToString()
        except MicroserviceError as exc:
            code = code_for(exc)
            raise
        except Exception:
            code = "INTERNAL"
            raise
        finally:
            if self.metrics is not None:
                elapsed = time.perf_counter() - started
                self.metrics.observe_grpc(self.full_method, code, elapsed)
                self.metrics.observe_stream(self.full_method, first, count, elapsed)

    def run(self, raw: bytes) -> Tuple[Any, Any]:
        """(answer's bytes, None) or (None, error)."""
        started = time.perf_counter()
        error = None  # type: Any
        answer = None
        try:
            try:
                request = self.parse(raw)
            except Exception as exc:  # DecodeError, or a string field that is not UTF-8
                raise MicroserviceError(
                    "the request is not a valid %s message (%s); check that the client uses "
                    "the same .proto" % (self.type_name, exc or type(exc).__name__)) from None
            answer = self.call(request).SerializeToString()
        except MicroserviceError as exc:
            error = exc
        except Exception as exc:  # user code: the error names it; the server stays up
            error = from_user_exception(exc)
            if error.status_code >= 500:
                log.error("%s failed: %s", self.full_method, error.message, exc_info=exc)
        if self.metrics is not None:
            self.metrics.observe_grpc(self.full_method,
                                      "OK" if error is None else code_for(error),
                                      time.perf_counter() - started)
        return answer, error


class CallContext(object):
    """What tracing and logging ask of a call: its metadata; headers to add to the answer."""

    __slots__ = ("metadata", "initial")

    def __init__(self, metadata: List[Tuple[str, str]]) -> None:
        self.metadata = metadata
        self.initial = []  # type: List[Tuple[str, str]]

    def send_initial_metadata(self, pairs: Any) -> None:
        self.initial.extend(pairs)


def _runner(method: _Method, traced: Optional[Tracing]
            ) -> Optional[Callable[[bytes, CallContext], Tuple[Any, Any]]]:
    """``method.run`` with the call's request id on its log lines and in its span if traced;
    None when neither is on (the call then needs no context)."""
    if traced is None and not logs.STATE.json:
        return None

    def run(raw: bytes, context: CallContext) -> Tuple[Any, Any]:
        metadata = dict(context.metadata)
        request = logs.grpc_request(metadata)
        logs.enter(request)
        try:
            if traced is None:
                return method.run(raw)
            return traced.grpc(method.full_method, context, metadata, logs.request_id(request),
                               method.run, raw, code_for)
        finally:
            logs.leave()

    return run


def _producer(method: _Method, traced: Optional[Tracing]
              ) -> Optional[Callable[[bytes, CallContext], Iterator[bytes]]]:
    """``method.produce`` with the call's request id on its log lines and each request
    message of the stream in a span of its own if traced; None when neither is on."""
    if traced is None and not logs.STATE.json:
        return None

    def produce(raw: bytes, context: CallContext) -> Iterator[bytes]:
        metadata = dict(context.metadata)
        request = logs.grpc_request(metadata)
        answers = method.produce(raw)
        if traced is not None:
            answers = traced.grpc_stream(method.full_method, context, metadata,
                                         logs.request_id(request), answers)
        try:
            while True:
                logs.enter(request)
                try:
                    answer = next(answers)
                except StopIteration:
                    return
                finally:
                    logs.leave()
                yield answer
        finally:
            answers.close()

    return produce


class _Pipe(object):
    """A streaming call's answers between the stream thread producing them and the loop
    writing them (``GrpcServer._produce``, ``_deliver``): the request messages waiting, the
    answers produced and not yet taken."""

    __slots__ = ("lock", "requests", "queued", "taken", "current", "chunks", "size",
                 "signalled", "running", "ended", "cancelled", "failed", "paused")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = deque()  # type: Any  (request messages not yet taken by the thread)
        self.queued = 0          # (the loop's) bytes of them, counted in the link's budget
        self.taken = 0           # bytes of them the thread has taken since the loop looked
        self.current = None  # type: Any  (the answers of the request being produced)
        self.chunks = []  # type: List[bytes]
        self.size = 0
        self.signalled = False   # the loop has been told of what it has not taken
        self.running = False     # a stream thread is producing for it
        self.ended = False       # (the loop's) the client sent its last request message
        self.cancelled = False   # the call or its connection is gone: stop
        self.failed = None  # type: Any  (the error that ends the call)
        self.paused = False      # (the loop's) waiting for its answers to leave

    def idle(self) -> bool:
        """(Under the lock.) Nothing left to produce."""
        return not self.requests and self.current is None


class _Call(object):
    """A stream's gRPC state."""

    __slots__ = ("method", "run", "encoding", "raw", "context", "head_sent", "future", "pipe")

    def __init__(self, method: _Method, run: Any, encoding: Optional[str],
                 context: Optional[CallContext]) -> None:
        self.method = method
        self.run = run
        self.encoding = encoding
        self.raw = None  # type: Optional[bytes]
        self.context = context
        self.head_sent = False
        self.future = None  # type: Any  (queued or running on the pool)
        self.pipe = None  # type: Optional[_Pipe]  (a PRODUCING method's answers)


class _Refusal(object):
    """A request that is not gRPC (wrong method or content type): answered once it ends,
    with a plain-text body saying what the port is."""

    __slots__ = ("status", "sent")

    def __init__(self, status: str) -> None:
        self.status = status
        self.sent = False


class _Link(object):
    """One client connection."""

    __slots__ = ("sock", "peer", "h2", "writing", "reading", "handshaking", "deadline",
                 "last_active", "futures", "held", "pipes")

    def __init__(self, sock: Any, peer: Any, max_message: int, budget: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.h2 = http2.Connection(max_message, budget)
        self.writing = False
        self.reading = True
        self.handshaking = False
        self.deadline = 0.0  # > 0: the HTTP/2 preface (and TLS handshake) must be in by then
        self.last_active = time.monotonic()
        self.futures = set()  # type: Set[Any]  (its calls queued or running on the pool)
        self.held = 0  # bytes of request messages its calls hold (counted in the budget)
        self.pipes = {}  # type: Dict[Any, _Pipe]  (stream -> its PRODUCING call's answers)


def _methods(ctx: ServingContext, protos: Any) -> Dict[str, Any]:
    """Full method name (``/service/Method``) -> (method, runner)."""
    from ..protocols.grpc_reflection import Reflection
    from ..protocols.grpc_seldon import SeldonGrpc
    from ..protocols.grpc_v2 import V2Grpc

    implemented = {}  # type: Dict[str, Dict[str, Callable[[Any], Any]]]
    for protocol in (SeldonGrpc(ctx, protos), V2Grpc(ctx, protos), Reflection(protos)):
        implemented.update(protocol.handlers())
    table = {}
    for service, methods in protos.services.items():
        calls = implemented.get(service, {})
        for name, request_type, _response_type in methods:
            if name in calls:
                full = "/%s/%s" % (service, name)
                metrics = None if service.startswith("grpc.reflection.") else ctx.metrics
                method = _Method(metrics, full, calls[name], protos.message(request_type),
                                 full in protos.streaming)
                table[full] = (method, _producer(method, ctx.tracing) if full in PRODUCING
                               else _runner(method, ctx.tracing))
    return table


def _listener(host: str, port: int) -> socket.socket:
    """This worker's listener: SO_REUSEPORT, beside the other workers' on the same port."""
    try:
        sock = bound(host, port, reuse_port=True)
        sock.listen(1024)
    except OSError as exc:
        raise RuntimeError("cannot listen for gRPC on %s:%d (%s): give gRPC a free port with "
                           "PREDICTIVE_UNIT_GRPC_SERVICE_PORT, or turn it off with "
                           "GRPC_WORKERS=0" % (host, port, exc)) from exc
    sock.setblocking(False)
    return sock


class GrpcServer(object):
    """This worker's gRPC listener and connections, served by one thread (``start``)."""

    def __init__(self, ctx: ServingContext) -> None:
        from ..protocols import protos as protos_module
        from ..tls import grpc_context

        settings = ctx.settings
        self.methods = _methods(ctx, protos_module.load())
        self.max_message = settings.grpc_max_message_size
        self.preface_timeout = settings.header_timeout
        self.idle_timeout = settings.grpc_idle_timeout
        self.budget = ctx.budget
        self.max_queued = http2.MAX_STREAMS  # calls queued or running per connection
        self.accept_paused = 0.0   # > 0: accept() resumes then (out of file descriptors)
        self.accept_backoff = ACCEPT_BACKOFF[0]
        self.silent = 0            # connections closed without a preface, not yet logged
        self.silent_peer = None  # type: Any
        self.silent_logged = 0.0
        self.tls = grpc_context(settings)
        self.listener = _listener(settings.bind_host, settings.grpc_port)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        self.links = {}  # type: Dict[int, _Link]
        self.pool = None  # type: Any
        self.side_pool = None  # type: Any  (with a pool: calls that are not for the model)
        rows = getattr(ctx, "batch_rows", 1)  # > 1: calls wait for their batch on the pool
        admission = ctx.admission  # the queue limit, when there is one
        self.admission = admission if admission is not None and admission.limit else None
        # with a queue limit, calls run on the pool so that this loop goes on reading and
        # refuses what is over the limit at once (the model lock keeps them one at a time)
        if ((ctx.lock is None and settings.threads > 1) or rows > 1
                or self.admission is not None):
            from concurrent.futures import ThreadPoolExecutor

            from .http import app_threads

            self.pool = ThreadPoolExecutor(
                max_workers=max(settings.grpc_threads,
                                app_threads(settings, rows) if rows > 1 else 0),
                thread_name_prefix="modelkiln-grpc")
            # health, metadata and reflection never wait behind model calls in the pool
            self.side_pool = ThreadPoolExecutor(max_workers=SIDE_THREADS,
                                                thread_name_prefix="modelkiln-grpc-side")
        self.batcher = ctx.component.batcher  # told of each model call taken in
        self.done = deque()  # (link, stream, future) of calls run on the pool
        self.piped = deque()  # type: Any  ((link, stream, pipe) with answers to write)
        self.stream_pool = None  # type: Any  (the threads of PRODUCING calls, made on first use)
        self.stream_threads = settings.stream_threads
        self.stop_at = 0.0   # > 0: draining, close everything by then
        self.next_sweep = 0.0
        self.thread = threading.Thread(target=self._serve, name="modelkiln-grpc",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, grace: float) -> None:
        """GOAWAY to every client; in-flight calls get ``grace`` seconds to finish."""
        self.stop_at = time.monotonic() + grace
        self._wake()
        self.thread.join(grace + 1)
        for pool in (self.pool, self.side_pool, self.stream_pool):
            if pool is not None:
                pool.shutdown(wait=False)

    # -- the loop -----------------------------------------------------------------------

    def _serve(self) -> None:
        draining = 0.0  # > 0: when the last GOAWAY goes out
        try:
            while True:
                now = time.monotonic()
                if self.stop_at and not draining:
                    draining = now + min(DRAIN_WINDOW, self.stop_at - now)
                    self._drain()
                    continue
                if draining and (not self.links or draining < now):
                    if not self.links or now > self.stop_at:
                        return
                    if draining > 0:
                        draining = -1.0  # (still true: the last GOAWAY is out)
                        self._last_goaway()
                        continue
                timeout = TICK if draining <= 0 else max(0.0, min(TICK, draining - now))
                if self.accept_paused:
                    if now >= self.accept_paused:
                        self._resume_accept()
                    else:
                        timeout = min(timeout, self.accept_paused - now)
                for key, mask in self.selector.select(timeout):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        self._woken()
                    else:
                        self._on_events(key.data, mask)
                now = time.monotonic()
                if now >= self.next_sweep:
                    self.next_sweep = now + TICK
                    self._sweep(now)
        except Exception:  # a bug here must not pass silently: the worker goes on with REST
            log.exception("the gRPC server stopped")
        finally:
            for link in list(self.links.values()):
                self._close(link)
            self._close_listener()

    def _wake(self) -> None:
        try:
            os.write(self.wake_write, b".")
        except OSError:
            pass

    def _woken(self) -> None:
        try:
            while os.read(self.wake_read, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self.done:
            link, stream, future = self.done.popleft()
            link.futures.discard(future)
            if link.sock is None:
                continue  # the client went away
            call = stream.call  # its request message is no longer held (_hold, inline)
            if isinstance(call, _Call) and call.raw is not None:
                link.held -= len(call.raw)
                call.raw = None
            if stream.owed:
                link.h2.release(stream)
            if not stream.answered and not future.cancelled():
                try:
                    answer, error = future.result()
                    self._answer(link, stream, answer, error)
                except Exception:  # as in _on_events
                    log.exception("gRPC: error answering %s; closing its connection",
                                  link.peer)
                    link.h2.fail(http2.INTERNAL_ERROR, "internal error")
            self._flush(link)
        while self.piped:
            link, stream, pipe = self.piped.popleft()
            try:
                self._deliver(link, stream, pipe)
            except Exception:  # as in _on_events
                log.exception("gRPC: error answering %s; closing its connection", link.peer)
                link.h2.fail(http2.INTERNAL_ERROR, "internal error")
            self._flush(link)

    def _drain(self) -> None:
        """Stop listening (after taking the connections the kernel has queued, whose calls
        are on their way) and ask every client to open no more streams."""
        if self.listener is not None:
            self._accept()
        self._close_listener()
        for link in list(self.links.values()):
            if link.h2.last_stream:  # a new connection may still be waiting for SETTINGS
                link.h2.announce_goaway()
                self._flush(link)

    def _last_goaway(self) -> None:
        """Streams opened from now on are refused (a client retries them elsewhere); each
        connection closes once its calls are answered."""
        for link in list(self.links.values()):
            link.h2.goaway()
            self._flush(link)

    def _close_listener(self) -> None:
        if self.listener is not None:
            try:
                self.selector.unregister(self.listener)
            except (KeyError, ValueError):
                pass
            self.listener.close()
            self.listener = None

    def _sweep(self, now: float) -> None:
        for link in list(self.links.values()):
            if link.deadline and now > link.deadline:
                self.silent += 1
                self.silent_peer = link.peer
                self._close(link)
            elif (link.h2.idle and not link.futures and not link.pipes and link.h2.preface_seen
                  and now - link.last_active > self.idle_timeout):
                link.h2.goaway(http2.NO_ERROR, "idle")  # (closed once flushed)
                self._flush(link)
        if self.silent and now >= self.silent_logged + SILENT_LOG_EVERY:
            log.info("gRPC: %d connection(s) sent no HTTP/2 preface within %g s (MODELKILN_"
                     "HEADER_TIMEOUT) and were closed; the last from %s", self.silent,
                     self.preface_timeout, self.silent_peer)
            self.silent = 0
            self.silent_logged = now

    def _accept(self) -> None:
        if self.listener is None or self.accept_paused:
            return
        for sock, peer in accepted(self.listener, self.tls, 256, self._out_of_descriptors):
            self.accept_backoff = ACCEPT_BACKOFF[0]
            link = _Link(sock, peer, self.max_message, self.budget)
            link.handshaking = self.tls is not None
            link.deadline = time.monotonic() + self.preface_timeout
            self.links[sock.fileno()] = link
            self.selector.register(sock, selectors.EVENT_READ, link)
            # the server's SETTINGS go out with the answer to the client's preface (so that
            # an HTTP/1 client gets a readable refusal instead)

    def _out_of_descriptors(self, exc: OSError) -> None:
        """accept() failed for want of descriptors or memory: the waiting connection stays
        queued and the listener stays readable, so stop watching it for a while instead of
        spinning (each pause twice the last, up to ACCEPT_BACKOFF[1])."""
        log.warning("gRPC: cannot accept connections (%s); pausing %.2f s", exc.strerror or exc,
                    self.accept_backoff)
        self.accept_paused = time.monotonic() + self.accept_backoff
        self.accept_backoff = min(self.accept_backoff * 2, ACCEPT_BACKOFF[1])
        try:
            self.selector.unregister(self.listener)
        except (KeyError, ValueError):
            pass

    def _resume_accept(self) -> None:
        self.accept_paused = 0.0
        if self.listener is not None:
            self.selector.register(self.listener, selectors.EVENT_READ, None)

    def _handshake(self, link: _Link) -> bool:
        try:
            state = handshake(link.sock)
        except (ssl.SSLError, OSError) as exc:
            log.info("gRPC: TLS handshake with %s failed: %s", link.peer, exc)
            self._close(link)
            return False
        writing = state == HANDSHAKE_WRITE
        if writing != link.writing:
            link.writing = writing
            self.selector.modify(link.sock, selectors.EVENT_READ | (
                selectors.EVENT_WRITE if writing else 0), link)
        if state != HANDSHAKE_DONE:
            return False
        link.handshaking = False
        return True

    def _on_events(self, link: _Link, mask: int) -> None:
        if link.sock is None:  # closed earlier in this round (by an answer in _woken, say)
            return
        if link.handshaking and not self._handshake(link):
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(link)
            if link.sock is None:
                return
        if not link.reading or not (mask & selectors.EVENT_READ or self.tls is not None):
            return
        try:
            data = receive(link.sock, READ_SIZE, self.tls is not None)
        except WOULD_BLOCK:
            return
        except OSError:
            self._close(link)
            return
        if not data:
            self._close(link)
            return
        h2 = link.h2
        link.last_active = time.monotonic()
        try:
            events = h2.receive(data)
            if h2.preface_seen:
                link.deadline = 0.0
            elif h2.closed:
                self._not_http2(link, data)
                return
            if events and not h2.closed:  # (after a connection error nothing is answered)
                self._handle(link, events)
        except Exception:  # a bug: it costs this connection, not the worker's gRPC server
            log.exception("gRPC: error serving %s; closing its connection", link.peer)
            h2.fail(http2.INTERNAL_ERROR, "internal error")
        self._flush(link)

    def _not_http2(self, link: _Link, data: bytes) -> None:
        """An HTTP/1 request (curl, a browser) on the gRPC port: say what the port is."""
        if HTTP1_REQUEST.match(data):
            body = (b"this port serves gRPC (HTTP/2); REST is on the REST port "
                    b"(PREDICTIVE_UNIT_HTTP_SERVICE_PORT)\n")
            link.h2.out[:] = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                              b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                              % len(body)) + body
        self._flush(link)

    # -- calls --------------------------------------------------------------------------

    def _handle(self, link: _Link, events: List[Any]) -> None:
        for kind, stream, value in events:
            if kind == http2.RESET:  # a queued call never runs (rapid reset)
                call = stream.call
                if isinstance(call, _Call) and call.future is not None:
                    call.future.cancel()
                self._hold(link, stream, None)
                if isinstance(call, _Call) and call.pipe is not None:
                    self._cancel(link, stream, call.pipe)
                continue
            if stream.answered or (stream.call is None and kind != http2.STARTED):
                continue
            if isinstance(stream.call, _Refusal):
                if kind == http2.ENDED:
                    self._refuse(link, stream)
                continue
            if kind == http2.MESSAGE:
                self._message(link, stream, value)
            elif kind == http2.ENDED:
                self._ended(link, stream, value)
            elif kind == http2.STARTED:
                self._started(link, stream)
            elif kind == http2.OVERSIZE:
                self._fail(link, stream, "RESOURCE_EXHAUSTED", (
                    "the request message is %d bytes, over the limit of %d "
                    "(MODELKILN_GRPC_MAX_MESSAGE_SIZE or the seldon.io/grpc-max-message-size "
                    "annotation)" % (value, self.max_message)) if value >= 0 else (
                    "the server holds too much request data at the moment: try again "
                    "shortly (the worker's memory budget, MODELKILN_MEMORY_BUDGET)"))

    def _started(self, link: _Link, stream: http2.Stream) -> None:
        if stream.header(":method") != "POST":
            self._refuse(link, stream, "405")
            return
        if not (stream.header("content-type") or "").startswith("application/grpc"):
            self._refuse(link, stream, "415")
            return
        if self.budget.used > self.budget.limit:  # (not budget.fits(0): on every call)
            self._fail(link, stream, "RESOURCE_EXHAUSTED", "the server holds too much data at "
                       "the moment: try again shortly (the worker's memory budget, "
                       "MODELKILN_MEMORY_BUDGET, is spent)")
            return
        path = stream.header(":path") or ""
        found = self.methods.get(path)
        if found is None:
            self._fail(link, stream, "UNIMPLEMENTED", "unknown method %s: see the services "
                       "through server reflection (grpcurl HOST:PORT list)" % path)
            return
        encoding = stream.header("grpc-encoding")
        if encoding not in (None, "identity", "gzip", "deflate"):
            self._fail(link, stream, "UNIMPLEMENTED", "grpc-encoding %s is not supported "
                       "(%s are)" % (encoding, ENCODINGS))
            return
        method, run = found
        context = None
        if run is not None:  # logging or tracing: they read the metadata
            context = CallContext(http2.header_pairs(stream.headers))
        stream.call = _Call(method, run, encoding, context)

    def _refuse(self, link: _Link, stream: http2.Stream, status: str = "") -> None:
        """Not a gRPC request: answered (405 or 415, plain text) once the request is in."""
        refusal = stream.call
        if refusal is None:
            refusal = stream.call = _Refusal(status)
            stream.discard = True  # its body is not read
        if not stream.ended or refusal.sent:
            return
        refusal.sent = True
        body = (b"this port serves gRPC (POST, content-type application/grpc); REST is on "
                b"the REST port (PREDICTIVE_UNIT_HTTP_SERVICE_PORT)\n")
        link.h2.send_headers(stream, http2.header_block((
            (":status", refusal.status), ("content-type", "text/plain"),
            ("content-length", str(len(body))))))
        link.h2.send_data(stream, body)
        link.h2.finish(stream, b"")

    def _hold(self, link: _Link, stream: http2.Stream, raw: Optional[bytes]) -> None:
        """The call on ``stream`` holds ``raw`` now (None: nothing), counted in the budget."""
        call = stream.call
        if isinstance(call, _Call):
            before = len(call.raw) if call.raw is not None else 0
            call.raw = raw
            link.held += (len(raw) if raw is not None else 0) - before

    def _message(self, link: _Link, stream: http2.Stream, value: Tuple[int, bytes]) -> None:
        call = stream.call
        compressed, raw = value
        if compressed:
            raw = self._inflate(link, stream, raw)
            if raw is None:
                return
        if call.method.full_method in PRODUCING:
            self._queue(link, stream, raw)
        elif call.method.streaming:
            self._run(link, stream, raw)
            link.h2.release(stream)
        elif call.raw is not None:
            self._fail(link, stream, "INVALID_ARGUMENT", "%s takes one request message; this "
                       "call sent more" % call.method.full_method)
        else:
            self._hold(link, stream, raw)

    def _inflate(self, link: _Link, stream: http2.Stream, raw: bytes) -> Optional[bytes]:
        encoding = stream.call.encoding
        if encoding in (None, "identity"):
            self._fail(link, stream, "INVALID_ARGUMENT", "a compressed message without a "
                       "grpc-encoding header")
            return None
        inflater = zlib.decompressobj(31 if encoding == "gzip" else 15)
        pieces = []  # type: List[bytes]
        size = 0
        rest = raw  # type: bytes
        try:
            # a step at a time: the output is checked against the limit and the worker's
            # memory budget as it grows, so a bomb costs at most the limit's worth of work
            while True:
                piece = inflater.decompress(rest, INFLATE_STEP)
                rest = inflater.unconsumed_tail
                size += len(piece)
                pieces.append(piece)
                if size > self.max_message:
                    self._fail(link, stream, "RESOURCE_EXHAUSTED", "the request message "
                               "decompresses to over %d bytes (MODELKILN_GRPC_MAX_MESSAGE_SIZE)"
                               % self.max_message)
                    return None
                if not self.budget.fits(size):
                    self._fail(link, stream, "RESOURCE_EXHAUSTED", "the server holds too much "
                               "data at the moment: try again shortly (the worker's memory "
                               "budget, MODELKILN_MEMORY_BUDGET, is spent)")
                    return None
                if inflater.eof or (not rest and len(piece) < INFLATE_STEP):
                    break
        except zlib.error as exc:
            self._fail(link, stream, "INVALID_ARGUMENT", "the %s message does not decompress: %s"
                       % (encoding, exc))
            return None
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _ended(self, link: _Link, stream: http2.Stream, partial: bool) -> None:
        call = stream.call
        if partial:
            self._fail(link, stream, "INVALID_ARGUMENT",
                       "the request ended inside a message (a truncated gRPC frame)")
        elif call.pipe is not None:
            call.pipe.ended = True
            self._deliver(link, stream, call.pipe)
        elif call.method.streaming:
            if not call.head_sent:
                call.head_sent = True
                link.h2.send_headers(stream, HEAD)
            link.h2.finish(stream, TRAILERS_OK)
        elif call.raw is None:
            self._fail(link, stream, "INVALID_ARGUMENT", "%s needs a request message; the "
                       "call sent none" % call.method.full_method)
        else:
            self._run(link, stream, call.raw)

    def _run(self, link: _Link, stream: http2.Stream, raw: bytes) -> None:
        call = stream.call
        counted = self.admission is not None and call.method.model
        if counted and not self.admission.enter("grpc"):  # the worker's queue is full
            self._fail(link, stream, "UNAVAILABLE", self.admission.message)
            return
        try:
            self._start(link, stream, raw, counted)
        except BaseException:
            if counted:
                self.admission.leave()
            raise

    def _start(self, link: _Link, stream: http2.Stream, raw: bytes, counted: bool) -> None:
        call = stream.call
        if self.pool is None or call.method.streaming:
            if call.run is None:
                answer, error = call.method.run(raw)
            else:
                answer, error = call.run(raw, call.context)
            if call.raw is not None:  # (_hold(link, stream, None), inline: the hot path)
                link.held -= len(call.raw)
                call.raw = None
            if stream.owed:
                link.h2.release(stream)
            if counted:
                self.admission.leave()
            self._answer(link, stream, answer, error)
            return
        if len(link.futures) >= self.max_queued:
            if counted:
                self.admission.leave()
            link.h2.fail(http2.ENHANCE_YOUR_CALM, "too many calls queued on one connection")
            return
        run, args = ((call.method.run, (raw,)) if call.run is None
                     else (call.run, (raw, call.context)))
        coming = None
        model = call.method.model
        if model and self.batcher is not None:
            coming = self.batcher.expect()
            future = self.pool.submit(self.batcher.expected, coming, run, *args)
        else:
            future = (self.pool if model else self.side_pool).submit(run, *args)
        call.future = future
        link.futures.add(future)

        def finished(_future: Any) -> None:
            if coming is not None:  # (cancelled while queued: it never ran)
                self.batcher.arrived(coming)
            if counted:
                self.admission.leave()
            self.done.append((link, stream, _future))
            self._wake()

        future.add_done_callback(finished)

    def _answer(self, link: _Link, stream: http2.Stream, answer: Optional[bytes],
                error: Optional[MicroserviceError]) -> None:
        if error is not None:
            self._fail(link, stream, code_for(error), error.message, (
                ("modelkiln-http-status", str(error.status_code)),
                ("modelkiln-reason", _printable(_reason(error)))))
            return
        assert answer is not None
        if len(answer) > self.max_message:
            self._fail(link, stream, "RESOURCE_EXHAUSTED", "the answer is %d bytes, over the "
                       "limit of %d (MODELKILN_GRPC_MAX_MESSAGE_SIZE)"
                       % (len(answer), self.max_message))
            return
        h2 = link.h2
        call = stream.call
        if not call.head_sent:
            call.head_sent = True
            initial = call.context.initial if call.context is not None else None
            h2.send_headers(stream, HEAD + http2.header_block(initial) if initial else HEAD)
        h2.send_message(stream, answer)
        if not call.method.streaming:
            h2.finish(stream, TRAILERS_OK)

    def _fail(self, link: _Link, stream: http2.Stream, code: str, message: str,
              extra: Tuple[Tuple[str, str], ...] = ()) -> None:
        """End the call with status ``code`` (trailers only, unless the head went out)."""
        fields = [("grpc-status", str(CODES[code])), ("grpc-message", percent_encoded(message))]
        fields.extend(extra)
        self._hold(link, stream, None)
        call = stream.call
        if isinstance(call, _Call) and call.pipe is not None:
            self._cancel(link, stream, call.pipe)
        if call is not None and call.head_sent:
            link.h2.finish(stream, http2.header_block(fields))
        else:
            link.h2.send_headers(stream, HEAD + http2.header_block(fields), end=True)

    # -- streaming calls (PRODUCING): answers made on a stream thread -------------------

    def _queue(self, link: _Link, stream: http2.Stream, raw: bytes) -> None:
        """A request message of a streaming call: queued for its stream thread, which is
        started when none is producing for the call. The client may send QUEUED_REQUESTS
        before its flow-control window is withheld."""
        call = stream.call
        pipe = call.pipe
        if pipe is None:
            pipe = call.pipe = link.pipes[stream] = _Pipe()
        with pipe.lock:
            if pipe.cancelled:
                return
            pipe.requests.append(raw)
            start = not pipe.running and not pipe.paused and not pipe.chunks
            if start:
                pipe.running = True
            waiting = len(pipe.requests)
        pipe.queued += len(raw)
        link.held += len(raw)
        if waiting < QUEUED_REQUESTS:
            link.h2.release(stream)
        if start:
            self._start_producing(link, stream, pipe)

    def _start_producing(self, link: _Link, stream: http2.Stream, pipe: _Pipe) -> None:
        if self.stream_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.stream_pool = ThreadPoolExecutor(self.stream_threads,
                                                  thread_name_prefix="modelkiln-stream")
        self.stream_pool.submit(self._produce, link, stream, pipe)

    def _produce(self, link: _Link, stream: http2.Stream, pipe: _Pipe) -> None:
        """(A stream thread.) The call's answers, handed to the loop as they come, until
        STREAM_AHEAD bytes wait for it, its requests are all answered, or it is cancelled."""
        from ..streams import producing

        call = stream.call
        producing(lambda: pipe.cancelled)
        try:
            while True:
                data = failed = None  # type: Any
                answers = pipe.current
                if answers is None:
                    with pipe.lock:
                        raw = pipe.requests.popleft() if pipe.requests else None
                        if raw is not None:
                            pipe.taken += len(raw)
                    if raw is not None:
                        answers = pipe.current = (
                            call.method.produce(raw) if call.run is None
                            else call.run(raw, call.context))
                if answers is not None:
                    try:
                        data = next(answers)
                    except StopIteration:
                        pipe.current = None
                    except Exception as exc:  # (the handler answers its own errors)
                        failed = as_error(exc)
                        if failed.status_code >= 500:
                            log.error("%s failed: %s", call.method.full_method,
                                      failed.message, exc_info=exc)
                        pipe.current = None
                with pipe.lock:
                    if data is not None:
                        pipe.chunks.append(data)
                        pipe.size += len(data)
                    if failed is not None:
                        pipe.failed = failed
                    stop = (pipe.cancelled or pipe.failed is not None
                            or pipe.size >= STREAM_AHEAD or pipe.idle())
                    if stop:
                        pipe.running = False
                    signal = not pipe.signalled and (stop or data is not None)
                    if signal:
                        pipe.signalled = True
                if signal:  # (one wake-up of the loop for whatever it has not taken yet)
                    self.piped.append((link, stream, pipe))
                    self._wake()
                if stop:
                    return
        finally:
            producing(None)

    def _deliver(self, link: _Link, stream: http2.Stream, pipe: _Pipe) -> None:
        """(The loop.) Write what the call's thread produced, once the answers written
        before have left (or are about to: within STREAM_AHEAD of the socket and of the
        client's window; ``_flush`` comes back when they leave); then end the call (its
        requests answered and the client done sending, or an error), or have the thread go
        on. A thread whose answers are not taken stops after STREAM_AHEAD bytes."""
        room = len(stream.pending) < STREAM_AHEAD and len(link.h2.out) < STREAM_AHEAD
        with pipe.lock:
            chunks = []  # type: List[bytes]
            if room:
                chunks, pipe.chunks, pipe.size = pipe.chunks, [], 0
            pipe.signalled = False
            taken, pipe.taken = pipe.taken, 0
            running, idle, failed = pipe.running, pipe.idle(), pipe.failed
            waiting = len(pipe.requests)
        if pipe.cancelled or link.sock is None or stream.answered:
            if not running:  # (_cancel counted its requests out of the budget)
                self._cancel(link, stream, pipe)
            return
        pipe.queued -= taken
        link.held -= taken
        if not room:
            pipe.paused = True
            return
        call = stream.call
        for data in chunks:
            if len(data) > self.max_message:
                self._fail(link, stream, "RESOURCE_EXHAUSTED", "an answer is %d bytes, over "
                           "the limit of %d (MODELKILN_GRPC_MAX_MESSAGE_SIZE)"
                           % (len(data), self.max_message))
                return
            if not call.head_sent:
                call.head_sent = True
                initial = call.context.initial if call.context is not None else None
                link.h2.send_headers(stream, HEAD + http2.header_block(initial) if initial
                                     else HEAD)
            link.h2.send_message(stream, data)
        if stream.owed and waiting < QUEUED_REQUESTS:
            link.h2.release(stream)
        if failed is not None:
            self._answer(link, stream, None, failed)
        elif running:
            return
        elif idle and pipe.ended:  # every request answered, and no more will come
            link.pipes.pop(stream, None)
            if not call.head_sent:
                call.head_sent = True
                link.h2.send_headers(stream, HEAD)
            link.h2.finish(stream, TRAILERS_OK)
        elif not idle:
            with pipe.lock:
                pipe.running = True
            self._start_producing(link, stream, pipe)

    def _cancel(self, link: _Link, stream: http2.Stream, pipe: _Pipe) -> None:
        """(The loop.) The call is over: its thread stops after the answer it is making, and
        the answers of the request being answered are closed (on a stream thread: a
        generator's ``finally`` is user code)."""
        link.pipes.pop(stream, None)
        link.held -= pipe.queued
        pipe.queued = 0
        with pipe.lock:
            pipe.cancelled = True
            pipe.requests.clear()
            pipe.chunks = []
            if pipe.running:
                return  # (_deliver comes back once the thread stops)
            answers, pipe.current = pipe.current, None
        close = getattr(answers, "close", None)
        if close is not None:
            if self.stream_pool is None:
                close()
            else:
                self.stream_pool.submit(close)

    # -- output -------------------------------------------------------------------------

    def _flush(self, link: _Link) -> None:
        sock = link.sock
        if sock is None:
            return
        out = link.h2.out
        if out and not link.handshaking:
            try:
                sent = sock.send(out)
            except WOULD_BLOCK:
                sent = 0
            except OSError:
                self._close(link)
                return
            del out[:sent]
        if link.h2.closed or (link.h2.going_away and link.h2.idle):
            if not out:
                self._close(link)
                return
        if link.pipes and len(out) < STREAM_AHEAD:
            for stream, pipe in list(link.pipes.items()):
                if pipe.paused and len(stream.pending) < STREAM_AHEAD:
                    pipe.paused = False
                    self._deliver(link, stream, pipe)
        link.h2.account(link.held)
        reading = len(out) < OUT_LIMIT
        writing = bool(out)
        if reading != link.reading or writing != link.writing:
            link.reading, link.writing = reading, writing
            mask = (selectors.EVENT_READ if reading else 0) | (
                selectors.EVENT_WRITE if writing else 0)
            self.selector.modify(sock, mask, link)

    def _close(self, link: _Link) -> None:
        sock = link.sock
        if sock is None:
            return
        link.sock = None
        for future in link.futures:  # its queued calls are not run for nobody
            future.cancel()
        for stream, pipe in list(link.pipes.items()):
            self._cancel(link, stream, pipe)
        link.held = 0
        link.h2.uncharge()
        close_registered(self.selector, self.links, sock)


_RUNNING = []  # type: List[Tuple[GrpcServer, float]]


def start_in_worker(ctx: ServingContext) -> GrpcServer:
    """Start this worker's gRPC server; ``stop_all`` (the worker's exit hook) stops it."""
    server = GrpcServer(ctx)
    server.start()
    _RUNNING.append((server, float(ctx.settings.graceful_timeout)))
    log.info("serving gRPC on :%d (Seldon services, inference.GRPCInferenceService, "
             "server reflection)", server.port)
    return server


def stop_all() -> None:
    """Stop this process's gRPC servers, letting in-flight calls finish (graceful timeout)."""
    while _RUNNING:
        server, grace = _RUNNING.pop()
        server.stop(grace)
