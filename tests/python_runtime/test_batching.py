"""Adaptive batching and the queue limit (python_runtime/inference/batching.py): the batcher on
its own (merging, keys, the window, errors, random mixes against unbatched answers), then live
servers (Seldon and V2 over REST and gRPC in one batch, refusals when the queue is full)."""

import concurrent.futures
import threading
import time

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from python_runtime.errors import InternalError
from python_runtime.inference.batching import Admission, Batcher, batch_key, split
from python_runtime.model.component import ModelLock
from python_runtime.model.response import unpack

from .live import running


class Recorder(object):
    """A model for the batcher: answers X * 2 + 1, raises on a row holding -1, and records
    the rows of each call."""

    def __init__(self, cost=0.0, rows_answered=None):
        self.calls = []
        self.cost = cost
        self.rows_answered = rows_answered
        self.guard = threading.Lock()

    def __call__(self, method, X, names, meta):
        with self.guard:
            self.calls.append((method, int(X.shape[0]), tuple(names)))
        time.sleep(self.cost)
        if (X == -1).any():
            raise ValueError("a row holds -1")
        if self.rows_answered is not None:
            return np.zeros(self.rows_answered)
        return X * 2 + 1


def batcher(model, max_rows=16, max_time=0.05, preferred=()):
    return Batcher(model, ModelLock(), max_rows, max_time, preferred)


def submit_all(b, arrays, names=()):
    """Submit each array from its own thread at once; their answers (or errors), in order."""
    def one(X):
        try:
            key = batch_key("predict", X, list(names))
            return unpack(b.submit(key, X, list(names)))[0]
        except Exception as exc:
            return exc
    with concurrent.futures.ThreadPoolExecutor(len(arrays)) as pool:
        return list(pool.map(one, arrays))


def test_concurrent_requests_become_one_call_and_get_their_own_rows():
    model = Recorder()
    arrays = [np.full((n, 2), float(i)) for i, n in enumerate((1, 3, 2, 1))]
    answers = submit_all(batcher(model), arrays)
    assert model.calls == [("predict", 7, ())]
    for X, answer in zip(arrays, answers):
        assert np.array_equal(answer, X * 2 + 1)


def test_requests_that_differ_are_never_merged():
    model = Recorder()
    b = batcher(model)
    cases = [np.ones((1, 2)), np.ones((1, 3)), np.ones((1, 2), dtype=np.int64)]
    keys = {batch_key("predict", X, []) for X in cases}
    assert len(keys) == 3  # trailing shape, dtype
    assert batch_key("predict", np.ones((1, 2)), ["a", "b"]) != batch_key(
        "predict", np.ones((1, 2)), ["b", "a"])  # column names
    assert batch_key("predict", np.ones(2), []) != batch_key("transform_input", np.ones(2), [])
    assert batch_key("predict", np.array([{"a": 1}], dtype=object), []) is None
    assert batch_key("predict", np.float64(1.0), []) is None
    answers = submit_all(b, cases)
    assert sorted(rows for _, rows, _ in model.calls) == [1, 1, 1]
    for X, answer in zip(cases, answers):
        assert np.array_equal(answer, X * 2 + 1)


def test_a_lone_request_waits_the_window_and_no_longer():
    model = Recorder()
    b = batcher(model, max_time=0.1)
    started = time.monotonic()
    b.submit(batch_key("predict", np.ones((1, 2)), []), np.ones((1, 2)), [])
    waited = time.monotonic() - started
    assert 0.09 <= waited < 0.5, waited


def counted_submit(b, coming, X, delay=0.0):
    """A request thread of a worker that counts what is coming: ``delay`` s to decode, then
    submit; its answer."""
    def work():
        time.sleep(delay)
        return unpack(b.submit(batch_key("predict", X, []), X, []))[0]
    return b.expected(coming, work)


def test_with_a_worker_counting_a_lone_request_does_not_wait_the_window():
    model = Recorder()
    b = batcher(model, max_time=5.0)  # a window far longer than the test
    started = time.monotonic()
    answer = counted_submit(b, b.expect(), np.ones((1, 2)))
    assert time.monotonic() - started < 2.0
    assert np.array_equal(answer, np.full((1, 2), 3.0)) and model.calls == [("predict", 1, ())]
    assert b.coming == 0


def test_a_batch_waits_for_a_request_the_worker_has_taken_in_and_no_longer():
    model = Recorder()
    b = batcher(model, max_time=5.0)
    first, second = b.expect(), b.expect()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a = pool.submit(counted_submit, b, first, np.full((1, 2), 1.0))
        c = pool.submit(counted_submit, b, second, np.full((2, 2), 2.0), 0.3)  # still reading
        answers = a.result(), c.result()
    assert time.monotonic() - started < 2.0
    assert model.calls == [("predict", 3, ())]  # one batch: the first waited for the second
    assert np.array_equal(answers[0], np.full((1, 2), 3.0))
    assert np.array_equal(answers[1], np.full((2, 2), 5.0))


def test_a_request_answered_without_the_batcher_lets_the_batch_go():
    model = Recorder()
    b = batcher(model, max_time=5.0)
    first, second = b.expect(), b.expect()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a = pool.submit(counted_submit, b, first, np.ones((1, 2)))
        # the second request ends before the model (a client error, a GET): not waited for
        other = pool.submit(b.expected, second, lambda: time.sleep(0.2) or "400")
        assert other.result() == "400"
        assert np.array_equal(a.result(), np.full((1, 2), 3.0))
    assert time.monotonic() - started < 2.0 and model.calls == [("predict", 1, ())]
    third = b.expect()
    b.arrived(third)  # a call cancelled before it ran (gRPC): counted once, however often
    b.arrived(third)
    assert b.coming == 0


def test_a_full_or_preferred_batch_goes_at_once():
    model = Recorder()
    b = batcher(model, max_rows=4, max_time=5.0)  # a window far longer than the test
    started = time.monotonic()
    submit_all(b, [np.ones((2, 1)), np.ones((2, 1))])
    assert time.monotonic() - started < 2.0 and model.calls == [("predict", 4, ())]
    model = Recorder()
    b = batcher(model, max_rows=64, max_time=5.0, preferred=(3,))
    started = time.monotonic()
    submit_all(b, [np.ones((1, 1)), np.ones((2, 1))])
    assert time.monotonic() - started < 2.0 and model.calls == [("predict", 3, ())]


def test_rows_beyond_the_maximum_wait_for_the_next_batch():
    model = Recorder(cost=0.05)
    b = batcher(model, max_rows=4, max_time=0.2)
    answers = submit_all(b, [np.ones((3, 1)), np.ones((3, 1)), np.ones((1, 1))])
    assert sorted(rows for _, rows, _ in model.calls) == [3, 4]
    assert all(np.array_equal(a, 3 * np.ones_like(a)) for a in answers)
    assert not b.fits(np.ones((5, 1))) and b.fits(np.ones((4, 1)))


def test_an_error_in_a_merged_call_reaches_only_its_request():
    model = Recorder()
    arrays = [np.ones((1, 2)), np.full((1, 2), -1.0), np.ones((2, 2))]
    answers = submit_all(batcher(model), arrays)
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "a row holds -1"
    assert np.array_equal(answers[0], [[3.0, 3.0]])
    assert np.array_equal(answers[2], [[3.0, 3.0], [3.0, 3.0]])
    assert model.calls[0] == ("predict", 4, ())  # the merged call, then each alone
    assert sorted(rows for _, rows, _ in model.calls[1:]) == [1, 1, 2]


def test_an_answer_without_one_row_per_row_fails_the_whole_batch_clearly():
    model = Recorder(rows_answered=1)
    answers = submit_all(batcher(model), [np.ones((1, 2)), np.ones((2, 2))])
    for answer in answers:
        assert isinstance(answer, InternalError)
        assert answer.message == (
            "with adaptive batching the model must answer one row per input row: a batch of "
            "3 rows from 2 requests got 1 rows; set MODELKILN_MAX_BATCH_SIZE=1 for this model")
    assert isinstance(split({"a": 1}, [1]), InternalError)
    assert [list(p) for p in split([1, 2, 3], [2, 1])] == [[1, 2], [3]]


def test_the_model_lock_is_let_go_while_waiting_and_taken_back():
    lock = ModelLock()
    model = Recorder()
    b = Batcher(model, lock, 16, 0.05)
    with lock:  # as ctx.call holds it around a request
        answer = b.submit(batch_key("predict", np.ones((1, 1)), []), np.ones((1, 1)), [])
        assert lock.release_if_mine()  # still this thread's after the wait
        lock.acquire()
    assert np.array_equal(unpack(answer)[0], [[3.0]])
    assert not lock.release_if_mine()  # not held


def test_admission_counts_and_refuses_beyond_its_limit():
    admission = Admission(2)
    assert admission.enter("rest") and not admission.full and admission.enter("grpc")
    assert admission.full and not admission.enter("rest")
    admission.leave()
    assert not admission.full and admission.enter("rest")
    assert "MODELKILN_QUEUE_LIMIT" in admission.message
    unlimited = Admission(0)
    assert all(unlimited.enter("rest") for _ in range(1000)) and not unlimited.full


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["f8", "i8"]),
                          st.sampled_from([(), ("a", "b")]), st.booleans()),
                min_size=1, max_size=12))
def test_every_answer_equals_the_unbatched_answer(mix):
    model = Recorder()
    b = batcher(model, max_rows=8, max_time=0.01)
    arrays = []
    for number, (rows, dtype, names, bad) in enumerate(mix):
        X = (np.arange(rows * 2).reshape(rows, 2) + number).astype(dtype)
        if bad:
            X[0, 0] = -1
        arrays.append((X, names))

    def one(case):
        X, names = case
        try:
            return unpack(b.submit(batch_key("predict", X, list(names)), X, list(names)))[0]
        except ValueError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(len(arrays)) as pool:
        answers = list(pool.map(one, arrays))
    for (X, _), answer in zip(arrays, answers):
        if (X == -1).any():
            assert isinstance(answer, ValueError)
        else:
            assert answer.dtype == (X * 2 + 1).dtype and np.array_equal(answer, X * 2 + 1)
    assert all(rows <= 8 for _, rows, _ in model.calls)


# -- requests parked on the loop (transport/parking.py) ------------------------------------


class LoopStandIn(object):
    """What the worker's loop does with parked requests: a wake-up pipe stand-in (an Event)
    and the turn it takes (switch_ready) once woken."""

    def __init__(self, b):
        from python_runtime.transport.parking import Parking

        self.woken = threading.Event()
        self.parking = Parking(self.woken.set)
        b.parking = self.parking
        self.answers = {}

    def start(self, b, number, X):
        def request():
            key = batch_key("predict", X, [])
            try:
                self.answers[number] = unpack(b.submit(key, X, []))[0]
            except Exception as exc:
                self.answers[number] = exc
        self.parking.run(request)

    def turn_until(self, count, limit=5.0):
        deadline = time.monotonic() + limit
        while len(self.answers) < count and time.monotonic() < deadline:
            if self.woken.wait(0.05):
                self.woken.clear()
                self.parking.switch_ready()
        return self.answers


def test_requests_parked_on_the_loop_share_a_call_and_get_their_own_rows():
    model = Recorder()
    b = batcher(model, max_time=5.0)
    loop = LoopStandIn(b)
    coming = b.expect()  # the loop's turn: a batch waits until it has read everything
    for number in range(3):
        loop.start(b, number, np.full((number + 1, 2), float(number)))
    # each request parked in the batcher and gave the loop back: nothing answered yet
    assert loop.answers == {} and loop.parking.parked == 3
    b.arrived(coming)  # the turn ends: the batch goes at once, not after the 5 s window
    started = time.monotonic()
    answers = loop.turn_until(3)
    assert time.monotonic() - started < 2.0
    assert model.calls == [("predict", 6, ())]
    for number in range(3):
        assert np.array_equal(answers[number], np.full((number + 1, 2), number * 2.0 + 1))
    assert loop.parking.parked == 0


def test_the_loop_reuses_a_finished_requests_greenlet_with_its_context_cleared():
    """A greenlet that has answered its request runs the next one (making one per request
    cost a memory map and its unmapping), and the next request sees no context variables
    the one before it set; more than KEEP finished greenlets are not kept."""
    from python_runtime.transport import parking as parking_module

    contextvars = pytest.importorskip("contextvars")
    greenlet = pytest.importorskip("greenlet")
    variable = contextvars.ContextVar("modelkiln_test", default="unset")
    model = Recorder()
    b = batcher(model, max_time=0.01)
    loop = LoopStandIn(b)
    seen = []

    def request(number):
        seen.append((number, greenlet.getcurrent(), variable.get()))
        variable.set("set by %d" % number)
        X = np.full((1, 2), float(number))
        loop.answers[number] = unpack(b.submit(batch_key("predict", X, []), X, []))[0]

    loop.parking.run(request, 0)
    assert loop.turn_until(1)[0].tolist() == [[1.0, 1.0]]
    loop.parking.run(request, 1)
    assert loop.turn_until(2)[1].tolist() == [[3.0, 3.0]]
    assert seen[1][1] is seen[0][1]  # the same greenlet ran both
    assert [value for _, _, value in seen] == ["unset", "unset"]
    assert len(loop.parking.idle) == 1
    # a request that raises ends its greenlet, and the error reaches the loop as before
    def fails():
        raise KeyError("boom")
    with pytest.raises(KeyError):
        loop.parking.run(fails)
    assert loop.parking.idle == []
    # no more than KEEP finished greenlets wait
    parked = []

    def waits():
        parked.append(_Parked(greenlet.getcurrent()))
        loop.parking.park()
    for _ in range(parking_module.KEEP + 5):
        loop.parking.run(waits)
    assert loop.parking.parked == parking_module.KEEP + 5
    loop.parking.ready.extend(parked)
    loop.parking.switch_ready()
    assert loop.parking.parked == 0 and len(loop.parking.idle) == parking_module.KEEP


class _Parked(object):
    """What the batcher hands back to the loop: an item with its parked greenlet."""

    def __init__(self, parked):
        self.parked = parked


def test_a_parked_request_gets_its_own_error_and_a_thread_still_waits_as_before():
    model = Recorder()
    b = batcher(model, max_time=0.05)
    loop = LoopStandIn(b)
    loop.start(b, 0, np.array([[-1.0, 1.0]]))
    loop.start(b, 1, np.array([[1.0, 1.0]]))
    from_thread = submit_all(b, [np.array([[4.0, 4.0]])])  # not the loop's thread: no parking
    answers = loop.turn_until(2)
    assert isinstance(answers[0], ValueError) and "-1" in str(answers[0])
    assert np.array_equal(answers[1], np.array([[3.0, 3.0]]))
    assert np.array_equal(from_thread[0], np.array([[9.0, 9.0]]))


def test_a_busy_model_call_and_the_loop_take_turns_an_idle_one_does_not_wait():
    spin = {"seconds": 0.05, "busy": True}

    def model(method, X, names, meta):
        end = time.monotonic() + spin["seconds"]
        if spin["busy"]:
            while time.monotonic() < end:  # keeps its thread on the CPU
                pass
        else:
            time.sleep(spin["seconds"])  # waits, as for a GPU
        return X

    b = batcher(model, max_time=0.0)
    loop = LoopStandIn(b)
    X = np.ones((1, 1))
    # a busy call waits for the loop's turn to end
    b.loop_turn(True)
    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(b.submit, ("predict",), X, [])
    time.sleep(0.2)
    assert not waiting.done()  # the call has not started: the loop is in its turn
    b.loop_turn(False)
    assert unpack(waiting.result(timeout=5))[0].tolist() == [[1.0]]
    assert b.exclusive  # it kept its thread busy: the next calls run alone too
    # and the loop's next turn waits while such a call runs, but not longer than LOOP_WAIT:
    # then it takes its turn beside the call (probes, refusals)
    from python_runtime.inference.batching import LOOP_WAIT
    spin["seconds"] = 0.5
    running_call = concurrent.futures.ThreadPoolExecutor(1).submit(b.submit, ("predict",), X, [])
    while not b.model_waits:
        time.sleep(0.001)
    started = time.monotonic()
    b.loop_turn(True)
    waited = time.monotonic() - started
    assert LOOP_WAIT * 0.9 <= waited < 0.3, waited
    assert not running_call.done() and b.model_waits  # the call runs on beside the turn
    b.loop_turn(False)
    assert unpack(running_call.result(timeout=5))[0].tolist() == [[1.0]]
    # a call that mostly waits no longer holds the loop back
    spin["busy"] = False
    spin["seconds"] = 0.01
    from python_runtime.inference.batching import MEASURE
    for _ in range(MEASURE):  # (while calls are busy, one in MEASURE is measured)
        b.submit(("predict",), X, [])
    assert not b.exclusive
    calls = b.calls
    b.loop_turn(True)
    overlapping = concurrent.futures.ThreadPoolExecutor(1).submit(b.submit, ("predict",), X, [])
    assert unpack(overlapping.result(timeout=5))[0].tolist() == [[1.0]]  # ran in the turn
    b.loop_turn(False)
    assert b.calls == calls + 1
    assert loop.parking.parked == 0


def test_a_parked_request_calls_the_users_code_on_the_batching_thread_not_the_loop():
    lock = ModelLock()
    threads = []

    def tags():  # a user method the request calls itself, outside any batch
        threads.append(threading.get_ident())
        return {"where": "batching thread"}

    b = Batcher(Recorder(), lock, 16, 0.05)
    lock.elsewhere = b.run_parked
    guarded_tags = lock.guarded(tags)
    loop = LoopStandIn(b)
    answers = loop.answers
    # while the batching thread holds the model lock, the request parks instead of blocking
    # the loop on the lock, and the loop goes on
    held, release = threading.Event(), threading.Event()

    def hold():  # the model busy in another thread
        with lock:
            held.set()
            release.wait(5)
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    loop.parking.run(lambda: answers.setdefault(0, guarded_tags()))
    assert answers == {} and loop.parking.parked == 1
    release.set()
    holder.join()
    assert loop.turn_until(1)[0] == {"where": "batching thread"}
    assert threads and threads[0] != threading.get_ident()
    # off the loop (a thread of the pool, a file job) it is called where it is
    assert guarded_tags() == {"where": "batching thread"}
    assert threads[-1] == threading.get_ident()


# -- live servers ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batched():
    env = {"MODELKILN_MAX_BATCH_SIZE": "64", "MODELKILN_MAX_BATCH_TIME": "0.05",
           "MODELKILN_TEST_CALL_COST": "0.05"}
    with running("batched", "Batched", env=env) as server:
        yield server


def test_rest_and_grpc_seldon_and_v2_requests_share_batches(batched):
    from google.protobuf import json_format

    from python_runtime.protocols import protos

    seldon_message = protos.load().message("seldon.protos.SeldonMessage")
    channel = grpc.insecure_channel("127.0.0.1:%d" % batched.grpc_port)
    seldon_grpc = channel.unary_unary(
        "/seldon.protos.Seldon/Predict", request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=seldon_message.FromString)

    def rest_seldon(i):
        answer = batched.post("/api/v1.0/predictions", json={"data": {"ndarray": [[i, 0.5]]}})
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["ndarray"], answer.json()["meta"]["tags"]["call_rows"]

    def rest_v2(i):
        answer = batched.post("/v2/models/Batched/infer", json={"inputs": [
            {"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [i, 0.5]}]})
        assert answer.status_code == 200, answer.text
        out = answer.json()["outputs"][0]
        return [out["data"]], answer.json()["parameters"]["call_rows"]

    def grpc_seldon(i):
        message = json_format.ParseDict({"data": {"ndarray": [[i, 0.5]]}}, seldon_message())
        answer = json_format.MessageToDict(seldon_grpc(message, timeout=10))
        return answer["data"]["ndarray"], int(answer["meta"]["tags"]["call_rows"])

    calls = [(f, i) for i in range(8) for f in (rest_seldon, rest_v2, grpc_seldon)]
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(lambda c: (c[1], c[0](c[1])), calls))
    for i, (rows, _) in results:
        assert rows == [[2 * i + 1, 2.0]]
    assert max(call_rows for _, (_, call_rows) in results) > 8  # merged across protocols
    metrics = batched.session.get(batched.metrics_url()).text
    assert "modelkiln_batch_rows_count" in metrics and "modelkiln_batch_queue_seconds" in metrics


def test_the_users_code_is_entered_one_call_at_a_time_while_requests_are_decoded_freely(
        batched):
    """Request threads decode and encode without the model's lock (each user method takes it
    for its own call): merged requests, requests called directly (tags in the request, which
    keep it out of a batch) and tags() after each answer never overlap in the model."""
    def merged(i):
        return batched.post("/api/v1.0/predictions", json={"data": {"ndarray": [[i, 1]]}})

    def alone(i):
        return batched.post("/api/v1.0/predictions", json={
            "data": {"ndarray": [[i, 1]]}, "meta": {"tags": {"mine": i}}})

    def v2_alone(i):
        return batched.post("/v2/models/Batched/infer", json={
            "parameters": {"mine": i},
            "inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [i, 1]}]})

    calls = [(f, i) for i in range(8) for f in (merged, alone, v2_alone)]
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda c: c[0](c[1]), calls))
    most = []
    for (kind, i), answer in zip(calls, answers):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if kind is v2_alone:
            assert body["outputs"][0]["data"] == [2 * i + 1, 3.0]
            assert body["parameters"]["mine"] == i
            most.append(body["parameters"]["most_at_once"])
        else:
            assert body["data"]["ndarray"] == [[2 * i + 1, 3]]
            most.append(body["meta"]["tags"]["most_at_once"])
    assert max(most) == 1, most


def test_a_failing_row_fails_only_its_request_on_a_live_server(batched):
    def one(value):
        return batched.post("/api/v1.0/predictions", json={"data": {"ndarray": [[value, 1]]}})

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(one, [1, 2, -1, 3, 4, 5]))
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 500, 200, 200, 200], [a.text for a in answers]
    assert "a row holds -1" in answers[2].text


def test_a_lone_request_on_a_live_server_does_not_wait_a_long_window():
    env = {"MODELKILN_MAX_BATCH_SIZE": "8", "MODELKILN_MAX_BATCH_TIME": "3"}
    with running("batched", "Batched", env=env) as server:
        for protocol in ("seldon", "v2"):
            started = time.monotonic()
            if protocol == "seldon":
                answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[2, 1]]}})
                assert answer.json()["data"]["ndarray"] == [[5, 3]], answer.text
            else:
                answer = server.post("/v2/models/Batched/infer", json={"inputs": [
                    {"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [2, 1]}]})
                assert answer.json()["outputs"][0]["data"] == [5, 3], answer.text
            assert time.monotonic() - started < 1.5, protocol  # not the 3 s window
        metrics = server.session.get(server.metrics_url()).text
        assert "modelkiln_batch_rows_count 2" in metrics.replace(".0", ""), metrics[-2000:]


def test_a_full_queue_refuses_at_once_and_probes_still_answer():
    env = {"MODELKILN_QUEUE_LIMIT": "2", "MODELKILN_TEST_CALL_COST": "0.4"}
    with running("batched", "Batched", env=env) as server:
        def one(i):
            started = time.monotonic()
            answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[i]]}})
            return answer, time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, i) for i in range(6)]
            time.sleep(0.15)
            ready = server.get("/ready")  # the readiness probe never queues behind the model
            results = [f.result() for f in futures]
        assert ready.status_code == 200
        refused = [(a, t) for a, t in results if a.status_code == 503]
        answered = [(a, t) for a, t in results if a.status_code == 200]
        assert len(answered) >= 2 and len(refused) >= 1, [a.status_code for a, _ in results]
        for answer, seconds in refused:
            assert answer.headers["Retry-After"] == "1"
            assert answer.json()["status"]["reason"] == "MICROSERVICE_OVERLOADED"
            assert "MODELKILN_QUEUE_LIMIT" in answer.json()["status"]["info"]
            assert seconds < 0.3  # at once, not after the model
        # V2 answers its own error body; gRPC says UNAVAILABLE, at once too
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            busy = [pool.submit(one, i) for i in range(2)]
            time.sleep(0.15)
            v2 = server.post("/v2/models/Batched/infer", json={"inputs": [
                {"name": "x", "datatype": "FP64", "shape": [1, 1], "data": [1.0]}]},
                headers={"Origin": "http://example.com"})
            channel = grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port)
            infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                        request_serializer=lambda raw: raw,
                                        response_deserializer=lambda raw: raw)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as refused_call:
                infer(b"", timeout=5)
            grpc_seconds = time.monotonic() - started
            for future in busy:
                future.result()
        assert v2.status_code == 503 and v2.headers["Retry-After"] == "1"
        assert v2.headers["Access-Control-Allow-Origin"] == "*"
        assert set(v2.json()) == {"error"} and "MODELKILN_QUEUE_LIMIT" in v2.json()["error"]
        assert refused_call.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "MODELKILN_QUEUE_LIMIT" in refused_call.value.details()
        assert grpc_seconds < 0.3
        metrics = server.session.get(server.metrics_url()).text
        assert 'modelkiln_requests_refused_total{protocol="rest"}' in metrics
        assert 'modelkiln_requests_refused_total{protocol="grpc"}' in metrics


@pytest.mark.parametrize("batch_size", ["1", "8"])
def test_a_long_model_call_does_not_hold_back_probes_and_refusals(batch_size):
    # The call lasts 2 s. Unbatched, it runs in the worker's pool, and the probe must not
    # wait behind it there; batched, the first call runs alone (the loop waits for a call
    # that keeps its thread busy until one is measured), and the loop must not wait for all
    # of it.
    env = {"MODELKILN_QUEUE_LIMIT": "1", "MODELKILN_TEST_CALL_COST": "2",
           "MODELKILN_MAX_BATCH_SIZE": batch_size}
    with running("batched", "Batched", env=env) as server:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            call = pool.submit(server.post, "/api/v1.0/predictions",
                               json={"data": {"ndarray": [[3]]}})
            time.sleep(0.4)
            ping = server.get("/health/ping")
            refused = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[4]]}})
            preflight = server.request("OPTIONS", "/api/v1.0/predictions", headers={
                "Origin": "http://example.com", "Access-Control-Request-Method": "POST"})
            during = time.monotonic() - started
            answer = call.result(timeout=30)
        assert during < 1.5, during  # both answered while the 2 s call ran
        assert ping.status_code == 200 and ping.text == "pong"
        assert refused.status_code == 503, refused.text
        assert refused.json()["status"]["reason"] == "MICROSERVICE_OVERLOADED"
        # a CORS preflight is not for the model: never refused by the queue limit
        assert preflight.status_code == 200, preflight.text
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert answer.status_code == 200 and answer.json()["data"]["ndarray"] == [[7]]


@pytest.mark.parametrize("batch_size", ["1", "8"])
def test_a_long_grpc_call_does_not_hold_back_refusals_and_health(batch_size):
    # The same over gRPC alone: unbatched, with one thread, calls used to run on the gRPC
    # loop itself, so a call over the limit waited for the call in progress instead of being
    # refused; health calls must not wait behind model calls either.
    from google.protobuf import json_format

    from python_runtime.protocols import protos

    env = {"MODELKILN_QUEUE_LIMIT": "1", "MODELKILN_TEST_CALL_COST": "2",
           "MODELKILN_MAX_BATCH_SIZE": batch_size}
    with running("batched", "Batched", env=env) as server:
        seldon_message = protos.load().message("seldon.protos.SeldonMessage")
        channel = grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port)
        predict = channel.unary_unary(
            "/seldon.protos.Seldon/Predict", request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=seldon_message.FromString)
        live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive",
                                   request_serializer=lambda raw: raw,
                                   response_deserializer=lambda raw: raw)

        def message(value):
            return json_format.ParseDict({"data": {"ndarray": [[value]]}}, seldon_message())

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            call = pool.submit(predict, message(3), timeout=30)
            time.sleep(0.4)
            alive = live(b"", timeout=10)
            with pytest.raises(grpc.RpcError) as refused:
                predict(message(4), timeout=10)
            during = time.monotonic() - started
            answer = json_format.MessageToDict(call.result(timeout=30))
        assert during < 1.5, during  # both answered while the 2 s call ran
        assert alive == b"\x08\x01"  # ServerLiveResponse {live: true}
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "MODELKILN_QUEUE_LIMIT" in refused.value.details()
        assert answer["data"]["ndarray"] == [[7.0]]


def test_a_triton_model_with_dynamic_batching_gets_requests_as_a_list():
    """config.pbtxt's dynamic_batching (max_batch_size 8, preferred 4 and 8) drives the
    batcher instead of MODELKILN_MAX_BATCH_SIZE: execute() receives several requests at once,
    each answered with its own response."""
    from pathlib import Path

    scale = Path(__file__).resolve().parents[1] / "compat_triton" / "models" / "scale"
    with running(str(scale)) as server:
        def one(i):
            answer = server.post("/v2/models/scale/infer", json={"inputs": [
                {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [i] * 4}]})
            assert answer.status_code == 200, answer.text
            return answer.json()["outputs"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(48)))
        single = server.post("/v2/models/scale/infer", json={"inputs": [
            {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]})
        factor = single.json()["outputs"][0]["data"][0] - 0.5  # 1 * factor + offset 0.5
        for i, outputs in enumerate(answers):
            assert outputs[0]["data"] == [i * factor + 0.5] * 4
            assert outputs[1]["data"] == [4 * (i * factor + 0.5)]
        metrics = server.session.get(server.metrics_url()).text
        count = next(float(line.split()[-1]) for line in metrics.splitlines()
                     if line.startswith("modelkiln_batch_rows_count"))
        assert count < 48  # several requests per execute()
