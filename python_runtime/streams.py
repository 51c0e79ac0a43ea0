"""Answers written piece by piece: Server-Sent Events from a model's generator.

A protocol handler that streams returns a ``Stream`` as its body. The REST worker
(``transport.worker``) writes the head at once (chunked on HTTP/1.1), then has a thread of its
stream pool produce the pieces, and writes each as soon as it comes (pieces that come while it
writes go out together); the thread pauses once 64 KiB wait for the loop, which takes them only
once the connection's earlier output has left the buffer. So a slow reader holds a bounded part
of the answer, not all of it, and the write timeout ends a stream nobody reads. A client that
goes away stops the generator: its ``close()`` runs (``GeneratorExit`` inside it) once the
piece being produced is done. Under another WSGI server (``--debug``'s development server) a
``Stream`` is an ordinary WSGI iterable.

Each piece is produced by a call into the model's generator under the model's lock when the
worker has one (``MODELKILN_STREAM_THREADS`` threads ask for pieces; with one worker thread the
lock keeps the model entered by one call at a time, as without streams). The event loop never
runs the generator, so it goes on answering other connections between pieces; a generator that
blocks between pieces holds one stream thread (and the lock) while it does.
"""

import logging
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

log = logging.getLogger("modelkiln")

EVENTS = "text/event-stream; charset=utf-8"  # a streamed answer's content type and headers
EVENT_HEADERS = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
_producer = threading.local()  # .gone: () -> whether the client of this thread's stream left


class Stream(object):
    """An answer's pieces: ``pieces`` yields the model's items, ``encode`` turns each into
    the bytes to write (an SSE event); ``failure(exc)`` is the bytes that end a stream whose
    generator raised (an error event in the protocol's error body), ``tail`` the bytes after
    the last piece (an end event, OpenAI's ``[DONE]``), or a function that returns them."""

    def __init__(self, pieces: Iterator[Any], encode: Callable[[Any], bytes],
                 failure: Callable[[BaseException], bytes], tail: Any = b"",
                 lock: Any = None, metrics: Any = None, label: str = "",
                 tracing: Any = None) -> None:
        if tracing is not None:  # a span from the head to the last piece
            pieces = tracing.pieces_in(tracing.stream_span(label), pieces,
                                       "modelkiln.stream.pieces")
        self.pieces = pieces
        self.encode = encode
        self.failure = failure
        self.tail = tail
        self.lock = lock  # component.ModelLock: each piece is one call into the model
        self.metrics = metrics
        self.label = label
        self.started = time.perf_counter()
        self.first = None  # type: Optional[float]  # seconds to the first piece
        self.count = 0
        self.done = False
        self.closed = False
        self.counted = None  # type: Optional[Callable[[], None]]

    # -- producing (a stream thread) ------------------------------------------------------

    def next_piece(self) -> Optional[bytes]:
        """The next bytes to write, or None once the stream is over."""
        if self.done:
            return None
        try:
            item = self._next()
        except StopIteration:
            self.done = True
            tail = self.tail() if callable(self.tail) else self.tail
            return tail or None
        except Exception as exc:
            self.done = True
            log.error("a stream's generator failed after %d piece(s)", self.count,
                           exc_info=exc)
            return self.failure(exc)
        data = self.encode(item)
        self.count += 1
        if self.first is None:
            self.first = time.perf_counter() - self.started
        return data

    def _next(self) -> Any:
        return under(self.lock, next, self.pieces)

    def close(self) -> None:
        """End the generator (its ``finally`` blocks run) and count the request; once."""
        if self.closed:
            return
        self.closed = True
        close = getattr(self.pieces, "close", None)
        if close is not None and not self.done:  # (a finished generator needs no close)
            try:
                under(self.lock, close)
            except Exception:
                log.exception("closing a stream's generator failed")
        if self.metrics is not None:
            self.metrics.observe_stream(self.label, self.first, self.count,
                                        time.perf_counter() - self.started)
        if self.counted is not None:
            self.counted()

    # -- WSGI (another server than modelkiln's worker) -------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.next_piece()
            if data is None:
                return
            yield data


def under(lock: Any, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` holding ``lock`` (a component.ModelLock: one call at a time into
    the model), unless there is none or this thread holds it already."""
    if lock is None or lock.mine():
        return function(*args)
    with lock:
        return function(*args)


def producing(gone: Optional[Callable[[], bool]]) -> None:
    """This thread produces pieces for a stream from now on (``gone``: whether its client has
    left), or for none (None)."""
    _producer.gone = gone


def client_gone() -> bool:
    """Whether the client of the stream this thread produces for has left: a producer that
    waits (a decoupled Triton model's responses) stops waiting then."""
    gone = getattr(_producer, "gone", None)
    return gone is not None and gone()


def drain(pieces: Any, lock: Any) -> List[Any]:
    """Every piece of a generator at once (a request that did not ask for a stream)."""
    return under(lock, list, pieces)


def sse(data: bytes, event: Optional[str] = None) -> bytes:
    """One Server-Sent Event holding ``data`` (JSON: one line)."""
    lines: List[bytes] = [b"event: " + event.encode("ascii")] if event else []
    lines.extend(b"data: " + line for line in data.split(b"\n"))
    return b"\n".join(lines) + b"\n\n"


def is_stream(value: Any) -> bool:
    """Whether a model method's answer is a stream of pieces (a generator or another
    iterator), not one answer (a list, an array, a string, a dict are not)."""
    return hasattr(value, "__next__") and hasattr(value, "__iter__")


def accepts_events(environ: Any) -> bool:
    """Whether the request asks for Server-Sent Events (``Accept: text/event-stream``)."""
    return "text/event-stream" in (environ.get("HTTP_ACCEPT") or "")
