"""Requests parked on the worker's loop while the adaptive batcher runs their batch.

With adaptive batching, a request thread used to wait for its share of a batch: the loop
handed each request to a pool thread, the thread decoded it and blocked in the batcher, the
batching thread woke every such thread after the model call, and each thread encoded its
answer and woke the loop. Those hand-offs between some thirty threads cost more than the
model's share of a call, and the runnable threads kept taking the interpreter's lock from the
batching thread between the model's own operations (a 1.7 ms call of bench/apps/torch-mlp took
7 ms under load).

With greenlet installed, the loop runs each model request in a greenlet of its own thread
instead: the request is decoded there, and where it would wait for its batch
(``Batcher.submit``) it switches back to the loop, which goes on reading and parsing. Once the
batch has answered, the batching thread hands the parked requests back (one wake-up of the loop
for the whole batch), and the loop switches into each of them to encode and write its answer.
So only two threads run Python: the loop and the batching thread.

Without greenlet (an environment that does not have it), requests go to the pool as before.

A greenlet that has answered its request waits for the next one (up to KEEP of them wait):
making a greenlet costs a memory map of its own for the interpreter's frames, and unmapping
it when the greenlet ends stops the process's other threads for a moment, once per request.
"""

import collections
import threading
from typing import Any, Callable, Deque, List, Optional

try:
    import greenlet
except ImportError:  # pragma: no cover - the runtime's pins install it
    greenlet = None  # type: ignore[assignment]


KEEP = 64  # finished greenlets kept for the next requests


def available() -> bool:
    return greenlet is not None


class Parking(object):
    """The loop thread's greenlets: ``run`` starts a request in one, ``park`` (called inside
    it by the batcher) returns to the loop, ``resume`` (from the batching thread) queues
    answered requests, and ``switch_ready`` (on the loop) continues them."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self.thread = threading.get_ident()
        self.main = greenlet.getcurrent()
        self.wake = wake            # wakes the loop (its self-pipe)
        self.ready: Deque[Any] = collections.deque()
        self.parked = 0             # requests parked now
        self.idle: List[Any] = []   # greenlets waiting for a request (``_serve``)

    def run(self, function: Callable[..., Any], *args: Any) -> None:
        """``function(*args)`` in a greenlet of its own; returns when it ends or parks."""
        if self.idle:
            runner = self.idle.pop()
            _fresh_context(runner)
        else:
            runner = greenlet.greenlet(self._serve, parent=self.main)
        runner.switch(function, args)

    def _serve(self, function: Callable[..., Any], args: Any) -> None:
        """A greenlet's life: requests, one after another, until KEEP others wait (what a
        request raises ends it, and goes to the loop as it did without reuse)."""
        while True:
            function(*args)
            function = args = None
            if len(self.idle) >= KEEP:
                return
            self.idle.append(greenlet.getcurrent())
            function, args = self.main.switch()

    def current(self) -> Optional[Any]:
        """The greenlet to park, when called on the loop thread inside a request's greenlet;
        else None (a request thread, a file job, the loop itself)."""
        if threading.get_ident() != self.thread:
            return None
        here = greenlet.getcurrent()
        return None if here is self.main else here

    def park(self) -> None:
        """Back to the loop until ``switch_ready`` switches here again."""
        self.parked += 1
        try:
            self.main.switch()
        finally:
            self.parked -= 1

    def resume(self, items: List[Any]) -> None:
        """(The batching thread.) ``items`` (batching.Item) are answered: continue them."""
        self.ready.extend(items)
        self.wake()

    def switch_ready(self) -> None:
        """(The loop.) Continue every answered request, each until it ends or parks again."""
        ready = self.ready
        while ready:
            ready.popleft().parked.switch()


def _fresh_context(runner: Any) -> None:
    """The next request in ``runner`` starts with no context variables set, as in a new
    greenlet (tracing keeps its context in them); Python 3.6 has none."""
    try:
        runner.gr_context = None
    except AttributeError:  # pragma: no cover - greenlet on Python 3.6
        pass
