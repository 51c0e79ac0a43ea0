"""Adaptive batching: rows of concurrent requests merged into one call of the model.

Off unless MODELKILN_MAX_BATCH_SIZE > 1. Then each Seldon v1 or V2 request whose payload is a
numeric or string array (REST or gRPC, JSON or binary) is *submitted* here instead of calling
the model itself. A REST request is decoded on the worker's loop, in a greenlet that parks
here while its batch runs (``transport.parking``: the loop goes on reading meanwhile); a gRPC
request, or a REST one without greenlet installed, waits in a thread of the worker's pool.
One batching thread per worker takes the oldest waiting request, waits at most
MODELKILN_MAX_BATCH_TIME from its arrival for others it can be merged with, until their rows
reach MODELKILN_MAX_BATCH_SIZE (or a preferred size), concatenates them along the first axis,
calls the model once under the model's lock (so the model is still entered by one call at a
time), and splits the answer back by row counts.

Requests merge when the same method serves them with the same column names, dtype and
trailing shape and no request parameters (Seldon ``meta.tags``, V2 ``parameters``); the rest
wait for a batch of their own kind. A request with more rows than the maximum runs alone,
unsplit, outside the batcher. An answer that is not one row per input row fails every request
of the batch with a message saying so. When a merged call raises, each of its requests is
run again alone, so an error reaches only the requests it belongs to.

With a batcher, each of the user's methods takes the model's lock for its own call
(``Component.guard``), so request threads decode and encode without it while the batching
thread runs the model: before, they held it from decoding to encoding, and the batching thread
waited for them in turn (a third of the throughput of a 1 ms model at c=32). A thread that
does hold it here (a file job, through ``ServingContext.call``) lets go of it while it waits,
and takes it back for its answer.

While requests are parked on the loop, only the loop and the batching thread run Python, and
they take turns as long as the model's calls keep their thread busy (``Batcher._model_turn``):
a dispatch-bound model (bench/apps/torch-mlp) otherwise lost the interpreter's lock to the
loop between its operations and took twice as long per call. The loop waits for such a call at
most LOOP_WAIT (10 ms): a longer call (a slow first call, a big batch) has the loop beside it,
so probes and refusals are still answered while it runs.

The window is the longest a batch waits, not a fixed delay. The worker's event loop and its
gRPC server count the model requests they have taken in and not yet seen here (``expect``,
``expected``; a loop that parks requests holds one count for each turn that reads them); once
every one of them has joined the queue (or been answered without it), a batch starts at once:
waiting longer could only gather requests that have not reached the worker yet. So a lone
request costs no window, and under load a batch holds what arrived while the model ran plus
what the worker was still reading. A batcher no worker counts for (the unit tests, a file job)
waits the whole window.
"""

import collections
import os
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InternalError
from ..model.response import Response, unpack

Key = Tuple[Any, ...]

MERGEABLE_KINDS = frozenset("biufUS")  # bool, ints, floats, fixed-width strings and bytes
RECHECK = 64  # a model call that left its thread idle: how often a call runs alone again
MEASURE = 8   # while calls keep their thread busy: how often one is measured
# the longest the loop waits for a model call that runs alone before it takes a turn beside
# it: a long call (a slow first call, a big batch) must not keep probes and refusals waiting
LOOP_WAIT = 0.01
NO_ROWS = np.zeros((0,))  # a task's rows (run_here, run_parked)


def thread_cpu() -> float:
    """This thread's CPU time in seconds (time.thread_time is Python 3.7+)."""
    return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)


def batch_key(method: str, X: Any, names: Sequence[str]) -> Optional[Key]:
    """What a request must share with others to be merged with them; None when its payload
    cannot be merged (not an array, an object array, a scalar)."""
    if type(X) is not np.ndarray or X.ndim == 0 or X.dtype.kind not in MERGEABLE_KINDS:
        return None
    return (method, X.dtype.str if X.dtype.kind not in "US" else X.dtype.kind,
            X.shape[1:], tuple(names or ()))


class Item(object):
    """One request's rows, waiting for its share of a batch's answer."""

    __slots__ = ("key", "X", "names", "meta", "rows", "arrived", "done", "result", "error",
                 "queued", "parked")

    def __init__(self, key: Key, X: Any, names: List[str], meta: Any,
                 rows: Optional[int] = None, parked: Any = None) -> None:
        self.key = key
        self.X = X  # the rows; in a list batch, the model's own request object
        self.names = names
        self.meta = meta
        self.rows = int(X.shape[0]) if rows is None else rows
        self.arrived = time.monotonic()
        # a request thread waits on ``done``; a request parked on the worker's loop
        # (``Parking``) has none: the batching thread hands it back to the loop instead
        self.parked = parked
        self.done = threading.Event() if parked is None else None
        self.result = None  # type: Any
        self.error = None  # type: Optional[BaseException]
        self.queued = 0.0  # seconds from arrival to the start of its batch


class Coming(object):
    """One request the worker has taken in that may still come to the batcher."""

    __slots__ = ("open",)

    def __init__(self) -> None:
        self.open = True


class Batcher(object):
    """The batching thread of one worker and the queue it takes batches from."""

    def __init__(self, call: Callable[[str, Any, List[str], Any], Any], lock: Any,
                 max_rows: int, max_time: float, preferred: Sequence[int] = (),
                 metrics: Any = None, name: str = "modelkiln-batcher",
                 list_call: Optional[Callable[[List[Any]], List[Any]]] = None) -> None:
        self.call = call          # the model: call(method, X, names, meta) -> its answer
        # a model that takes a batch as a list of its own request objects and answers one
        # response each (Triton's execute(requests)): list_call(requests) -> responses
        self.list_call = list_call
        self.lock = lock          # component.ModelLock: one model call at a time
        self.max_rows = max_rows
        self.max_time = max_time
        self.preferred = sorted(set(n for n in preferred if 0 < n <= max_rows))
        self.metrics = metrics
        self.queue: Deque[Item] = collections.deque()
        self.tasks: Deque[Item] = collections.deque()  # run_here: load()
        self.cond = threading.Condition(threading.Lock())
        self.stopped = False
        self.name = name
        self.pid = 0  # the process whose batching thread runs (started on the first request)
        self.counted = False  # a worker counts what is coming (expect): windows end early
        self.coming = 0       # requests taken in by the worker, not yet here nor answered
        self.local = threading.local()  # the request thread's Coming
        self.waiting: Dict[Key, int] = {}  # rows in the queue, by key
        # the worker's loop when it runs requests in greenlets (transport.parking.Parking):
        # a request submitted from one of them is parked on the loop instead of holding a
        # thread, and handed back to the loop once its batch has answered
        self.parking = None  # type: Any
        # turns between the loop and the model's call (``loop_turn``, ``_model_turn``)
        self.turns = threading.Condition(threading.Lock())
        self.loop_busy = False    # the loop is in a turn
        self.model_waits = False  # a model call waits for the loop's turn to end, or runs
        self.exclusive = True     # the last call measured kept its thread busy
        self.calls = 0

    # -- request threads ------------------------------------------------------------------

    def fits(self, X: Any) -> bool:
        return 0 < int(X.shape[0]) <= self.max_rows

    def run_here(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the batching thread (the worker runs the model's ``load()``
        there, so thread-local state it sets, such as torch.set_grad_enabled(False), holds
        for every batch); its result, or what it raised."""
        task = Item((), NO_ROWS, [], function)
        with self.cond:
            self._started()
            self.tasks.append(task)
            self.cond.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result

    def run_parked(self, function: Callable[[], Any]) -> Tuple[bool, Any]:
        """From a request parked on the worker's loop (``transport.parking``): ``function()``
        on the batching thread while the request is parked, and (True, its result); it
        raises what the function raised. Elsewhere (False, None): the caller runs it. The
        model lock sends a call of the user's code here when it finds itself held
        (``ModelLock.elsewhere``), so a request that is not batched (parameters, a raw
        method, more rows than a batch) does not hold up the loop while the model runs."""
        parking = self.parking
        parked = parking.current() if parking is not None else None
        if parked is None:
            return False, None
        task = Item((), NO_ROWS, [], function, 0, parked)
        with self.cond:
            self._started()
            self.tasks.append(task)
            self.cond.notify()
        parking.park()
        if task.error is not None:
            raise task.error
        return True, task.result

    def _started(self) -> None:
        if self.pid != os.getpid():  # (a worker forked after the batcher was made)
            self.pid = os.getpid()
            threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def expect(self) -> Coming:
        """A model request the worker has taken in (its loop calls this before the request
        goes to a thread): until it is queued here or answered, a batch may wait for it."""
        with self.cond:
            self.counted = True
            self.coming += 1
        return Coming()

    def expected(self, coming: Coming, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on a request thread, for the request ``coming`` stands for."""
        self.local.coming = coming
        try:
            return function(*args)
        finally:
            self.local.coming = None
            self.arrived(coming)

    def arrived(self, coming: Optional[Coming]) -> None:
        """``coming`` no longer holds a batch open (answered, failed or cancelled); once."""
        if coming is not None and coming.open:
            with self.cond:
                if coming.open:
                    coming.open = False
                    self.coming -= 1
                    if self.queue:
                        self.cond.notify()

    def loop_turn(self, starting: bool) -> None:
        """(The worker's loop, when it parks requests.) A turn of the loop starts (once no
        model call runs that must run alone, or that call has run LOOP_WAIT seconds) or
        ends."""
        with self.turns:
            if starting:
                if self.model_waits:
                    # not longer than LOOP_WAIT: past it, the loop reads, refuses and answers
                    # probes beside the call (which loses the interpreter's lock to it at times)
                    until = time.monotonic() + LOOP_WAIT
                    while self.model_waits:
                        left = until - time.monotonic()
                        if left <= 0:
                            break
                        self.turns.wait(left)
                self.loop_busy = True
            else:
                self.loop_busy = False
                if self.model_waits:
                    self.turns.notify_all()

    def _model_turn(self, starting: bool) -> bool:
        """Around a model call when requests are parked on the loop: the call waits for
        the loop's turn to end and the loop waits for the call, as long as the calls keep
        their thread busy (CPU time at least half their wall time, measured on every
        MEASURE-th call while they do, and on every RECHECK-th call, run alone again, once
        they did not). Then the two threads do not take the interpreter's lock from each
        other between the model's operations, which made a call of a dispatch-bound model
        up to twice as long. A call that mostly waits (a GPU computing, a remote service)
        leaves the loop free to read and decode meanwhile. Whether the call runs alone."""
        with self.turns:
            if starting:
                self.calls += 1
                if self.exclusive or self.calls % RECHECK == 0:
                    self.model_waits = True
                    while self.loop_busy:
                        self.turns.wait()
                    return True
                return False
            self.model_waits = False
            self.turns.notify_all()
            return False

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` under the model's lock, in its turn (``_model_turn``)."""
        if self.parking is None:
            with self.lock:
                return function(*args)
        alone = self._model_turn(True)  # (before the lock: the loop may be waiting for it)
        measure = alone and (not self.exclusive or self.calls % MEASURE == 1)
        if measure:
            wall, cpu = time.perf_counter(), thread_cpu()
        try:
            with self.lock:
                return function(*args)
        finally:
            if measure:
                wall, cpu = time.perf_counter() - wall, thread_cpu() - cpu
                self.exclusive = cpu >= 0.5 * wall
            if alone:
                self._model_turn(False)

    def submit(self, key: Key, X: Any, names: List[str], meta: Any = None,
               rows: Optional[int] = None) -> Any:
        """The model's answer for these rows (a Response: its rows of the batch's data, the
        batch's tags, metrics for one of its requests); raises what the call raised. With
        ``list_call``, ``X`` is a request object of ``rows`` rows and the answer its
        response."""
        parking = self.parking
        parked = None
        if parking is not None and not (self.lock is not None and self.lock.mine()):
            parked = parking.current()  # None unless on the loop, in a request's greenlet
        item = Item(key, X, names, meta, rows, parked)
        coming = getattr(self.local, "coming", None)
        with self.cond:
            self._started()
            self.queue.append(item)
            waiting = self.waiting.get(key, 0) + item.rows
            self.waiting[key] = waiting
            if coming is not None and coming.open:  # here now: no longer coming
                coming.open = False
                self.coming -= 1
            # wake the batching thread only when it may have something to do: a first
            # request, a batch that may be full, nothing more on its way. Not from a turn of
            # the loop (a parked request) while the model's calls wait for the loop's turns
            # (``_model_turn``): the turn's end wakes it (``arrived``), and woken before, it
            # could only wait for that end, at the cost of two thread switches
            if parked is None or not (self.loop_busy and self.exclusive):
                if (len(self.queue) == 1 or waiting >= self.max_rows
                        or waiting in self.preferred or (self.counted and self.coming <= 0)):
                    self.cond.notify()
        if parked is not None:
            parking.park()  # the loop switches back here once the batch has answered
            if item.error is not None:
                raise item.error
            return item.result
        released = self.lock is not None and self.lock.release_if_mine()
        try:
            item.done.wait()
        finally:
            if released:
                self.lock.acquire()
        if item.error is not None:
            raise item.error
        return item.result

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()

    # -- the batching thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if isinstance(batch, Item):
                try:
                    batch.result = batch.meta()
                except BaseException as exc:
                    batch.error = exc
                self._hand_back([batch])
                continue
            self._execute(batch)

    def _next_batch(self) -> Any:
        """A task (``run_here``), or the oldest waiting request and those that merge with
        it, once their rows reach the maximum (or a preferred size), the oldest has waited
        the window, or nothing the worker has taken in is still on its way; None once
        stopped."""
        with self.cond:
            while not self.queue and not self.tasks:
                if self.stopped:
                    return None
                self.cond.wait()
            if self.tasks:
                return self.tasks.popleft()
            first = self.queue[0]
            deadline = first.arrived + self.max_time
            while True:
                rows, batch = self._gather(first.key)
                now = time.monotonic()
                if (rows >= self.max_rows or rows in self.preferred or now >= deadline
                        or (self.counted and self.coming <= 0)):
                    break
                self.cond.wait(deadline - now)
            for item in batch:
                self.queue.remove(item)
            left = self.waiting[first.key] - rows
            if left:
                self.waiting[first.key] = left
            else:
                del self.waiting[first.key]
            started = time.monotonic()
            for item in batch:
                item.queued = started - item.arrived
            return batch

    def _gather(self, key: Key) -> Tuple[int, List[Item]]:
        """Waiting requests of ``key``, oldest first, as many as fit in one batch."""
        rows, batch = 0, []
        for item in self.queue:
            if item.key == key and rows + item.rows <= self.max_rows:
                rows += item.rows
                batch.append(item)
        return rows, batch

    def _execute(self, batch: List[Item]) -> None:
        if self.metrics is not None:
            self.metrics.observe_batch(sum(item.rows for item in batch),
                                       [item.queued for item in batch])
        if self.list_call is not None and batch[0].key[:1] == ("triton",):
            self._execute_list(batch)  # (a Triton model's Seldon calls go the method's way)
            return
        if len(batch) == 1:
            self._alone(batch[0])
            return
        try:
            X = np.concatenate([item.X for item in batch])
            answer = self._call(self.call, batch[0].key[0], X, batch[0].names, {})
            data, tags, metrics = unpack(answer)
            parts = split(data, [item.rows for item in batch])
        except Exception:  # whose? each request again on its own, so only its own fails
            for item in batch:
                self._alone(item, hand_back=False)
            self._hand_back(batch)
            return
        if isinstance(parts, Exception):
            for item in batch:
                item.error = parts
            self._hand_back(batch)
            return
        for number, (item, part) in enumerate(zip(batch, parts)):
            item.result = Response(part, tags, metrics if number == 0 else [])
        self._hand_back(batch)

    def _execute_list(self, batch: List[Item]) -> None:
        """One call with the batch's requests as a list, one response each; what the call
        raises fails them all (as in Triton: whose it is cannot be known)."""
        try:
            responses = self._call(self.list_call, [item.X for item in batch])
        except BaseException as exc:
            for item in batch:
                item.error = exc
            self._hand_back(batch)
            return
        for item, response in zip(batch, responses):
            item.result = response
        self._hand_back(batch)

    def _alone(self, item: Item, hand_back: bool = True) -> None:
        try:
            item.result = self._call(self.call, item.key[0], item.X, item.names, item.meta)
        except BaseException as exc:  # the request's own error, raised in its thread
            item.error = exc
        if hand_back:
            self._hand_back([item])

    def _hand_back(self, items: List[Item]) -> None:
        """Answered: wake the threads that wait for ``items``, and give the parked ones back
        to the loop (one wake-up for all of them)."""
        parked = []
        for item in items:
            if item.done is not None:
                item.done.set()
            else:
                parked.append(item)
        if parked:
            self.parking.resume(parked)


def split(data: Any, rows: List[int]) -> Any:
    """``data`` cut into consecutive pieces of ``rows`` rows; an InternalError (returned) when
    the answer does not have one row per input row."""
    total = sum(rows)
    length = len(data) if isinstance(data, (list, np.ndarray)) and np.ndim(data) > 0 else None
    if length != total:
        return InternalError(
            "with adaptive batching the model must answer one row per input row: a batch of "
            "%d rows from %d requests got %s; set MODELKILN_MAX_BATCH_SIZE=1 for this model"
            % (total, len(rows), "%d rows" % length if length is not None
               else "an answer of type %s" % type(data).__name__))
    pieces, start = [], 0
    for count in rows:
        pieces.append(data[start:start + count])
        start += count
    return pieces


class Admission(object):
    """The per-worker queue limit (MODELKILN_QUEUE_LIMIT): requests held for the model at
    once, REST and gRPC together; ``enter`` is False when the limit is reached."""

    def __init__(self, limit: int, metrics: Any = None) -> None:
        self.limit = limit
        self.metrics = metrics
        self.held = 0
        self.guard = threading.Lock()

    def enter(self, protocol: str) -> bool:
        with self.guard:
            if self.limit and self.held >= self.limit:
                refused = True
            else:
                self.held += 1
                refused = False
        if refused and self.metrics is not None:
            self.metrics.observe_refused(protocol)
        return not refused

    def leave(self) -> None:
        with self.guard:
            self.held -= 1

    @property
    def full(self) -> bool:
        """Whether a request would be refused now (read without the lock: a hint)."""
        return bool(self.limit) and self.held >= self.limit

    @property
    def message(self) -> str:
        return ("the worker holds %d requests for the model, its limit "
                "(MODELKILN_QUEUE_LIMIT): try again shortly" % self.limit)
