"""gRPC on the real server (``python -m python_runtime``): one gRPC server per gunicorn worker,
serving the same model object as that worker's REST loop.

Clients are built from modelkiln's own descriptors (``python_runtime.protocols.protos``), so
this file needs only grpcio and protobuf. Every channel here uses its own subchannel pool, so a new
channel is a new TCP connection, which the kernel hands to one of the workers' SO_REUSEPORT
listeners.

Apps: ``apps/counter`` (answers its pid and its own call count), ``apps/slowpredict``,
``apps/slowload``, ``apps/fuzzecho`` (hands every input back; it never raises, so any
INTERNAL or UNKNOWN in the fuzz tests is the server's fault).
"""

import base64
import os
import signal
import socket
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from python_runtime.protocols import protos as protos_module

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = pytest.mark.slow

LiveServer = live.LiveServer
metric_sum = live.metric_sum
parameters = live.parameters
wait_for = live.wait_for

PROTOS = protos_module.load()
SeldonMessage = PROTOS.message("seldon.protos.SeldonMessage")
SeldonMessageList = PROTOS.message("seldon.protos.SeldonMessageList")
Feedback = PROTOS.message("seldon.protos.Feedback")
ModelInferRequest = PROTOS.message("inference.ModelInferRequest")
ModelInferResponse = PROTOS.message("inference.ModelInferResponse")

PREDICT = "/seldon.protos.Model/Predict"
INFER = "/inference.GRPCInferenceService/ModelInfer"
SERVER_READY = "/inference.GRPCInferenceService/ServerReady"
PREDICTIONS = "/api/v1.0/predictions"
CLIENT_CODES = {"INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE", "FAILED_PRECONDITION",
                "RESOURCE_EXHAUSTED"}
CALL_TIMEOUT = 30.0


# -- clients --------------------------------------------------------------------------------

class Answer(NamedTuple):
    code: str
    details: str
    trailing: Dict[str, str]
    response: Any


def channel(port: int) -> grpc.Channel:
    """A channel with its own connection (not shared through grpc's global subchannel pool)."""
    return grpc.insecure_channel("127.0.0.1:%d" % port,
                                 options=[("grpc.use_local_subchannel_pool", 1)])


def call(chan: grpc.Channel, method: str, request: Any, response_class: Any = None,
         timeout: float = CALL_TIMEOUT) -> Answer:
    """One unary call; ``request`` is a message or raw bytes; errors are values."""
    serialize = (lambda b: b) if isinstance(request, bytes) else (
        lambda m: m.SerializeToString())
    stub = chan.unary_unary(method, request_serializer=serialize,
                            response_deserializer=(response_class.FromString if response_class
                                                   else (lambda b: b)))
    try:
        response, rpc = stub.with_call(request, timeout=timeout)
    except grpc.RpcError as exc:
        return Answer(exc.code().name, exc.details() or "",
                      dict(exc.trailing_metadata() or ()), None)
    return Answer("OK", "", dict(rpc.trailing_metadata() or ()), response)


def once(port: int, method: str, request: Any, response_class: Any = None,
         timeout: float = CALL_TIMEOUT) -> Answer:
    """One call on a new connection."""
    chan = channel(port)
    try:
        return call(chan, method, request, response_class, timeout)
    finally:
        chan.close()


def grpc_listeners(server: LiveServer, pids: List[int]) -> List[int]:
    """Which of ``pids`` hold a listening socket on the server's gRPC port (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for row in rows:
            fields = row.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "0A" and port == server.grpc_port:  # 0A: LISTEN
                inodes.add("socket:[%s]" % fields[9])
    found = []
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except (IOError, OSError):
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                    found.append(pid)
                    break
            except (IOError, OSError):
                continue
    return sorted(found)


def wait_grpc_on(server: LiveServer, pids: List[int]) -> None:
    wait_for(lambda: grpc_listeners(server, pids) == sorted(pids), 30,
             "gRPC listeners in workers %s" % pids)


def seldon_message(rows: List[List[float]]) -> Any:
    return json_format.ParseDict({"data": {"ndarray": rows}}, SeldonMessage())


def v2_request(model: str, values: List[int]) -> Any:
    request = ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name="x", datatype="INT64", shape=[1, len(values)])
    tensor.contents.int64_contents.extend(values)
    return request


def pid_and_count_seldon(answer: Answer) -> Tuple[int, int]:
    assert answer.code == "OK", answer
    body = json_format.MessageToDict(answer.response)
    ((pid, count),) = body["data"]["ndarray"]
    return int(pid), int(count)


def pid_and_count_v2(answer: Answer) -> Tuple[int, int]:
    assert answer.code == "OK", answer
    (output,) = answer.response.outputs
    assert (output.datatype, list(output.shape)) == ("INT64", [1, 2]), output
    pid, count = output.contents.int64_contents
    return pid, count


def pid_and_count_rest(answer: requests.Response, v2: bool = False) -> Tuple[int, int]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    if v2:
        pid, count = body["outputs"][0]["data"]
    else:
        ((pid, count),) = body["data"]["ndarray"]
    return int(pid), int(count)


# -- (a) one model object per worker, shared by REST and gRPC -------------------------------

def counter_calls(server: LiveServer, chan: Optional[grpc.Channel], kind: str
                  ) -> Tuple[int, int]:
    if kind == "rest-seldon":
        # Connection: close, so that with several workers each call may reach another one
        return pid_and_count_rest(server.post(PREDICTIONS, json={"data": {"ndarray": [[0]]}},
                                              headers={"Connection": "close"}))
    if kind == "rest-v2":
        return pid_and_count_rest(server.post(
            "/v2/models/Counter/infer", headers={"Connection": "close"}, json={"inputs": [
                {"name": "x", "datatype": "INT64", "shape": [1], "data": [0]}]}), v2=True)
    if kind == "grpc-seldon":
        request = seldon_message([[0]])
        answer = (call(chan, PREDICT, request, SeldonMessage) if chan is not None
                  else once(server.grpc_port, PREDICT, request, SeldonMessage))
        return pid_and_count_seldon(answer)
    request = v2_request("Counter", [0])
    answer = (call(chan, INFER, request, ModelInferResponse) if chan is not None
              else once(server.grpc_port, INFER, request, ModelInferResponse))
    return pid_and_count_v2(answer)


KINDS = ("rest-seldon", "grpc-seldon", "rest-v2", "grpc-v2")


def test_rest_and_grpc_reach_the_same_object_in_one_worker(serve):
    server = serve("counter", "Counter")
    (worker,) = server.wait_workers(1)
    chan = channel(server.grpc_port)
    try:
        seen = [(kind,) + counter_calls(server, chan, kind)
                for _ in range(5) for kind in KINDS]
    finally:
        chan.close()
    assert {pid for _, pid, _ in seen} == {worker}, seen
    counts = [count for _, _, count in seen]
    assert counts == list(range(counts[0], counts[0] + len(seen))), seen


def test_with_two_workers_each_grpc_answer_comes_from_a_rest_worker(serve):
    server = serve("counter", "Counter", env={"GUNICORN_WORKERS": "2"})
    workers = server.wait_workers(2)
    wait_grpc_on(server, workers)
    seen = []  # (kind, pid, count), every call on a new connection
    for i in range(64):
        kind = KINDS[i % 4]
        seen.append((kind,) + counter_calls(server, None, kind))
    rest_pids = {pid for kind, pid, _ in seen if kind.startswith("rest")}
    grpc_pids = {pid for kind, pid, _ in seen if kind.startswith("grpc")}
    assert rest_pids <= set(workers), (rest_pids, workers)
    assert grpc_pids == set(workers), (grpc_pids, workers)  # both serve gRPC
    # Per worker, REST and gRPC calls count on one object: one gap-free sequence.
    for pid in workers:
        counts = sorted(count for _, p, count in seen if p == pid)
        assert counts == list(range(counts[0], counts[0] + len(counts))), (pid, seen)


# -- (b) SIGTERM drains in-flight gRPC calls ------------------------------------------------

def test_sigterm_lets_in_flight_grpc_calls_finish(serve, tmp_path):
    started = tmp_path / "started"
    graceful = 20
    server = serve("slowpredict", "SlowPredict", env={
        "GUNICORN_GRACEFUL_TIMEOUT": str(graceful),
        "PREDICTIVE_UNIT_PARAMETERS": parameters(started_path=str(started), seconds=1.5),
    })
    server.wait_workers(1)
    results = {}  # type: Dict[str, Answer]

    def run(name: str, method: str, request: Any, response_class: Any) -> None:
        results[name] = once(server.grpc_port, method, request, response_class, timeout=60)

    seldon = threading.Thread(target=run, args=("seldon", PREDICT, seldon_message([[1, 2]]),
                                                SeldonMessage))
    v2 = threading.Thread(target=run, args=("v2", INFER, v2_request("SlowPredict", [3, 4]),
                                            ModelInferResponse))
    seldon.start()
    wait_for(started.exists, 30, "predict() to start")
    v2.start()  # waits for the model lock inside the server: in flight, not started
    time.sleep(0.5)
    os.kill(server.pid, signal.SIGTERM)
    for thread in (seldon, v2):
        thread.join(60)
        assert not thread.is_alive()
    assert server.wait_exit(graceful + 15) == 0, server.log_tail()
    assert json_format.MessageToDict(results["seldon"].response or SeldonMessage()) == {
        "data": {"names": ["t:0", "t:1"], "ndarray": [[10.0, 20.0]]}, "meta": {}}, results
    answer = results["v2"]
    assert answer.code == "OK", answer
    assert list(answer.response.outputs[0].contents.int64_contents) == [30, 40]
    assert started.read_text().count("started") == 2
    assert "Traceback" not in server.log(), server.log_tail()
    # nothing listens any more
    assert once(server.grpc_port, SERVER_READY, b"", timeout=5).code == "UNAVAILABLE"


# -- (c) a killed worker under gRPC load -----------------------------------------------------

def test_killed_worker_under_grpc_load_is_replaced_and_serves_grpc(serve):
    server = serve("counter", "Counter", env={"GUNICORN_WORKERS": "2"})
    workers = server.wait_workers(2)
    log = []  # (time, code, pid or None)
    stop = threading.Event()

    def load() -> None:
        request = seldon_message([[0]])
        while not stop.is_set():
            answer = once(server.grpc_port, PREDICT, request, SeldonMessage, timeout=10)
            pid = pid_and_count_seldon(answer)[0] if answer.code == "OK" else None
            log.append((time.monotonic(), answer.code, pid))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: {pid for _, _, pid in log} >= set(workers), 30,
                 "gRPC answers from both workers")
        victim = workers[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def replacement() -> Any:
            pids = server.workers()  # read once: the dying worker may still show
            return len(pids) == 2 and victim not in pids and pids

        replaced = wait_for(replacement, 60, "gunicorn to replace the killed worker")
        (newcomer,) = set(replaced) - set(workers)
        wait_grpc_on(server, replaced)  # the replacement listens on the gRPC port too
        wait_for(lambda: any(pid == newcomer for _, _, pid in log), 60,
                 "the replacement worker to answer gRPC")
        settled = time.monotonic()
        wait_for(lambda: sum(1 for t, _, _ in log if t > settled) >= 60, 60,
                 "60 more calls")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    failures = [(t - killed_at, code) for t, code, _ in log if code != "OK"]
    print("calls: %d, failures (seconds after the kill, code): %s" % (len(log), failures))
    assert all(code == "UNAVAILABLE" for _, code in failures), failures
    # failures only around the kill, then every call succeeds again
    assert all(-0.5 < at < 5.0 for at, _ in failures), failures
    after = [(code, pid) for t, code, pid in log if t > settled]
    assert all(code == "OK" for code, _ in after), after
    assert {pid for _, pid in after} == set(replaced), (after, replaced)
    assert victim not in {pid for t, _, pid in log if t > killed_at + 5}
    assert server.alive(), server.log_tail()


# -- (d) readiness covers gRPC --------------------------------------------------------------

def test_grpc_is_unavailable_until_ready(serve, tmp_path):
    gate = tmp_path / "gate"
    server = serve("slowload", "SlowLoad", env={
        "PREDICTIVE_UNIT_PARAMETERS": parameters(gate=str(gate))}, ready=False)
    server.wait_live()
    workers = server.wait_workers(1)
    request = v2_request("SlowLoad", [5])
    for _ in range(3):
        assert server.get("/ready").status_code == 503
        assert grpc_listeners(server, workers) == []  # the gRPC server starts after load()
        for method, message in ((INFER, request), (PREDICT, seldon_message([[5]])),
                                (SERVER_READY, b"")):
            answer = once(server.grpc_port, method, message, timeout=5)
            assert answer.code == "UNAVAILABLE", (method, answer)
        time.sleep(0.2)
    gate.write_text("go")
    server.wait_ready()
    assert grpc_listeners(server, workers) == workers
    # ready over REST means gRPC already answers: no wait, no retry
    answer = once(server.grpc_port, INFER, request, ModelInferResponse)
    assert answer.code == "OK", answer
    assert list(answer.response.outputs[0].contents.int64_contents) == [5]


# -- (e) GRPC_WORKERS=0 ----------------------------------------------------------------------

def test_grpc_workers_zero_turns_grpc_off(serve):
    server = serve("echo", "Echo", env={"GRPC_WORKERS": "0"})
    workers = server.wait_workers(1)
    assert grpc_listeners(server, workers + [server.pid]) == []
    answer = server.post(PREDICTIONS, json={"data": {"ndarray": [[1]]}})
    assert answer.status_code == 200, answer.text
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        assert sock.connect_ex(("127.0.0.1", server.grpc_port)) != 0, "something listens"
    assert once(server.grpc_port, PREDICT, seldon_message([[1]]), timeout=5).code == \
        "UNAVAILABLE"
    assert "gRPC off" in server.log(), server.log_tail()


# -- (f) metrics -----------------------------------------------------------------------------

def test_grpc_calls_are_counted_across_workers(serve):
    server = serve("counter", "Counter", env={"GUNICORN_WORKERS": "2"})
    workers = server.wait_workers(2)
    wait_grpc_on(server, workers)
    pids = set()
    for _ in range(20):
        pids.add(pid_and_count_seldon(once(server.grpc_port, PREDICT, seldon_message([[0]]),
                                           SeldonMessage))[0])
    for _ in range(10):
        pids.add(pid_and_count_v2(once(server.grpc_port, INFER, v2_request("Counter", [0]),
                                       ModelInferResponse))[0])
    for _ in range(4):
        assert once(server.grpc_port, INFER, v2_request("Other", [0])).code == "NOT_FOUND"
    for _ in range(3):
        answer = once(server.grpc_port, INFER, ModelInferRequest(model_name="Counter"))
        assert answer.code == "INVALID_ARGUMENT"
    for _ in range(5):
        assert once(server.grpc_port, SERVER_READY, b"").code == "OK"
    assert pids == set(workers), (pids, workers)  # both workers counted some
    text = server.scrape()
    expected = {
        (PREDICT, "OK"): 20, (INFER, "OK"): 10, (INFER, "NOT_FOUND"): 4,
        (INFER, "INVALID_ARGUMENT"): 3, (SERVER_READY, "OK"): 5,
    }
    for (method, code), count in expected.items():
        assert metric_sum(text, "modelkiln_grpc_requests_total", method=method,
                          code=code) == count, (method, code, text)
        assert metric_sum(text, "modelkiln_grpc_request_duration_seconds_count",
                          method=method, code=code) == count, (method, code)
    # unknown model names make no label values; REST is counted apart
    assert "Other" not in text
    assert metric_sum(text, "modelkiln_http_requests_total", route=PREDICTIONS) == 0


# -- (g) fuzzing -----------------------------------------------------------------------------

MAX_EXAMPLES = int(os.environ.get("MODELKILN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None,
                suppress_health_check=list(HealthCheck))

SELDON_METHODS = {  # method -> request kind
    "/seldon.protos.Model/Predict": "message", "/seldon.protos.Seldon/Predict": "message",
    "/seldon.protos.Generic/TransformInput": "message",
    "/seldon.protos.Transformer/TransformInput": "message",
    "/seldon.protos.OutputTransformer/TransformOutput": "message",
    "/seldon.protos.Router/Route": "message", "/seldon.protos.Generic/Route": "message",
    "/seldon.protos.Model/Metadata": "message",
    "/seldon.protos.Combiner/Aggregate": "list", "/seldon.protos.Generic/Aggregate": "list",
    "/seldon.protos.Model/SendFeedback": "feedback",
    "/seldon.protos.Router/SendFeedback": "feedback",
}
TF_DTYPES = ("DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16",
             "DT_INT8", "DT_STRING", "DT_COMPLEX64", "DT_INT64", "DT_BOOL", "DT_UINT16",
             "DT_HALF", "DT_UINT32", "DT_UINT64")
TF_FIELDS = ("floatVal", "doubleVal", "intVal", "int64Val", "uint32Val", "uint64Val",
             "boolVal", "halfVal", "stringVal")
V2_DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                "INT64", "FP16", "FP32", "FP64", "BYTES")
ITEMSIZE = {"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2,
            "UINT32": 4, "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}
CONTENTS = {  # typed field -> its values
    "bool_contents": st.booleans(),
    "int_contents": st.integers(-2 ** 31, 2 ** 31 - 1),
    "int64_contents": st.integers(-2 ** 63, 2 ** 63 - 1),
    "uint_contents": st.integers(0, 2 ** 32 - 1),
    "uint64_contents": st.integers(0, 2 ** 64 - 1),
    "fp32_contents": st.floats(width=32),
    "fp64_contents": st.floats(),
    "bytes_contents": st.binary(max_size=8),
}
TYPED_FIELD = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
               "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
               "UINT16": "uint_contents", "UINT32": "uint_contents",
               "UINT64": "uint64_contents", "FP32": "fp32_contents",
               "FP64": "fp64_contents", "BYTES": "bytes_contents"}

words = st.text(max_size=6) | st.sampled_from(["x", "FuzzEcho", "t:0", ""])
# float and double fields in protobuf JSON: numbers, or NaN and the infinities as strings
json_floats = (st.floats(allow_nan=False, allow_infinity=False)
               | st.sampled_from(["NaN", "Infinity", "-Infinity"]))
json_floats32 = (st.floats(width=32, allow_nan=False, allow_infinity=False)
                 | st.sampled_from(["NaN", "Infinity", "-Infinity"]))
# values for google.protobuf.Value fields (NaN and the infinities included: JSON has no
# form for them, so they must be refused, never be an INTERNAL)
json_leaf = (st.none() | st.booleans() | st.floats() | st.integers(-2 ** 53, 2 ** 53)
             | words)
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(words, inner, max_size=3), max_leaves=12)


@st.composite
def seldon_dicts(draw: Any) -> Dict[str, Any]:
    """A SeldonMessage in its JSON form (what ParseDict takes)."""
    kind = draw(st.sampled_from(["ndarray", "tensor", "tftensor", "strData", "binData",
                                 "jsonData", "names", "nothing"]))
    out = {}  # type: Dict[str, Any]
    if kind == "ndarray":
        out["data"] = {"ndarray": draw(st.lists(json_values, max_size=4))}
    elif kind == "tensor":
        out["data"] = {"tensor": {"shape": draw(st.lists(st.integers(-2, 5), max_size=3)),
                                  "values": draw(st.lists(json_floats, max_size=8))}}
    elif kind == "tftensor":
        dtype = draw(st.sampled_from(TF_DTYPES))
        dims = draw(st.lists(st.integers(-1, 4), max_size=3))
        tensor = {"dtype": dtype, "tensorShape": {"dim": [{"size": str(s)} for s in dims]}
                  }  # type: Dict[str, Any]
        for field in draw(st.lists(st.sampled_from(TF_FIELDS), max_size=2, unique=True)):
            if field == "stringVal":
                values = [base64.b64encode(b).decode() for b in draw(
                    st.lists(st.binary(max_size=4), max_size=4))]
            elif field in ("floatVal", "doubleVal"):
                values = draw(st.lists(json_floats32, max_size=6))
            elif field == "boolVal":
                values = draw(st.lists(st.booleans(), max_size=6))
            else:
                values = draw(st.lists(st.integers(0, 2 ** 31 - 1), max_size=6))
            tensor[field] = values
        if draw(st.booleans()):
            tensor["tensorContent"] = base64.b64encode(draw(st.binary(max_size=24))).decode()
        out["data"] = {"tftensor": tensor}
    elif kind == "strData":
        out["strData"] = draw(st.text(max_size=20))
    elif kind == "binData":
        out["binData"] = base64.b64encode(draw(st.binary(max_size=20))).decode()
    elif kind == "jsonData":
        out["jsonData"] = draw(json_values)
    elif kind == "names":
        out["data"] = {}
    if "data" in out and draw(st.booleans()):
        out["data"]["names"] = draw(st.lists(words, max_size=4))
    if draw(st.booleans()):
        out["meta"] = draw(st.fixed_dictionaries({}, optional={
            "puid": words, "tags": st.dictionaries(words, json_values, max_size=3),
            "routing": st.dictionaries(words, st.integers(-2 ** 31, 2 ** 31 - 1), max_size=2),
            "requestPath": st.dictionaries(words, words, max_size=2)}))
    return out


@st.composite
def seldon_calls(draw: Any) -> Tuple[str, Any]:
    method = draw(st.sampled_from(sorted(SELDON_METHODS)))
    kind = SELDON_METHODS[method]
    if kind == "list":
        body = {"seldonMessages": draw(st.lists(seldon_dicts(), max_size=3))}
        return method, json_format.ParseDict(body, SeldonMessageList())
    if kind == "feedback":
        body = draw(st.fixed_dictionaries({}, optional={
            "request": seldon_dicts(), "response": seldon_dicts(), "truth": seldon_dicts(),
            "reward": json_floats32}))
        return method, json_format.ParseDict(body, Feedback())
    return method, json_format.ParseDict(draw(seldon_dicts()), SeldonMessage())


def _set_parameter(draw: Any, target: Any, key: str) -> None:
    which = draw(st.sampled_from(["bool_param", "int64_param", "string_param",
                                  "double_param", "uint64_param", None]))
    value = {"bool_param": st.booleans(), "int64_param": st.integers(-2 ** 63, 2 ** 63 - 1),
             "string_param": st.text(max_size=6), "double_param": st.floats(),
             "uint64_param": st.integers(0, 2 ** 64 - 1), None: st.none()}[which]
    if which is None:
        target[key].SetInParent()  # an InferParameter with nothing set
    else:
        setattr(target[key], which, draw(value))


def rarely(draw: Any, usual: Any, odd: Any) -> Any:
    """Mostly a draw from ``usual``; one time in eight from ``odd`` (the client's mistakes)."""
    return draw(odd) if draw(st.integers(0, 7)) == 0 else draw(usual)


@st.composite
def infer_requests(draw: Any) -> Any:
    """ModelInferRequests that are mostly well formed (so that many reach the model), with
    every field sometimes wrong: model, version, names, datatypes, shapes, sizes, fields."""
    request = ModelInferRequest(model_name=rarely(draw, st.just("FuzzEcho"), words),
                                model_version=rarely(draw, st.just(""), words), id=draw(words))
    for key in draw(st.lists(words, max_size=3, unique=True)):
        _set_parameter(draw, request.parameters, key)
    raw = draw(st.booleans())
    rows = draw(st.integers(0, 3))
    for index in range(draw(st.sampled_from([1, 1, 1, 2, 3, 0]))):
        datatype = rarely(draw, st.sampled_from(V2_DATATYPES),
                          st.sampled_from(["BF16", "", "fp32"]))
        shape = rarely(draw, st.sampled_from([[rows], [rows, 1], [rows, 2], []]),
                       st.lists(st.sampled_from([-1, 0, 1, 3, 2 ** 31, 2 ** 40]), max_size=3))
        name = rarely(draw, st.just("in%d" % index), words)
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
        for key in draw(st.lists(words, max_size=2, unique=True)):
            _set_parameter(draw, tensor.parameters, key)
        count = int(np.prod(shape)) if all(0 <= d <= 4 for d in shape) else None
        fits = count is not None and draw(st.integers(0, 4)) > 0  # the right amount of data
        if raw:
            if fits and datatype in ITEMSIZE:
                data = draw(st.binary(min_size=count * ITEMSIZE[datatype],
                                      max_size=count * ITEMSIZE[datatype]))
            elif fits and datatype == "BYTES":
                data = b"".join(len(b).to_bytes(4, "little") + b for b in draw(
                    st.lists(st.binary(max_size=4), min_size=count, max_size=count)))
            else:
                data = draw(st.binary(max_size=40))
            request.raw_input_contents.append(data)
        else:
            field = (TYPED_FIELD[datatype] if fits and datatype in TYPED_FIELD
                     else draw(st.sampled_from(sorted(CONTENTS))))
            size = count if fits else draw(st.integers(0, 6))
            values = draw(st.lists(CONTENTS[field], min_size=size, max_size=size))
            getattr(tensor.contents, field).extend(values)
    if raw and draw(st.integers(0, 7)) == 0:  # one raw entry too many or too few
        if len(request.raw_input_contents) and draw(st.booleans()):
            del request.raw_input_contents[-1]
        else:
            request.raw_input_contents.append(draw(st.binary(max_size=8)))
    if draw(st.integers(0, 3)) == 0:
        for name in draw(st.lists(st.sampled_from(["output-0"]) | words, max_size=2)):
            request.outputs.add(name=name)
    return request


@st.composite
def mangled_bytes(draw: Any) -> Tuple[str, bytes]:
    """(method, bytes): random bytes, or a valid request truncated, flipped or extended."""
    method = draw(st.sampled_from([INFER, PREDICT, "/seldon.protos.Model/SendFeedback",
                                   "/seldon.protos.Combiner/Aggregate",
                                   "/inference.GRPCInferenceService/ModelMetadata"]))
    if draw(st.booleans()):
        return method, draw(st.binary(max_size=120))
    valid = (draw(infer_requests()) if method == INFER
             else json_format.ParseDict(draw(seldon_dicts()), SeldonMessage()))
    data = bytearray(valid.SerializeToString())
    how = draw(st.sampled_from(["truncate", "flip", "append", "insert"]))
    if how == "truncate" and data:
        del data[draw(st.integers(0, len(data) - 1)):]
    elif how == "flip" and data:
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    elif how == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=8))
    else:
        data += draw(st.binary(min_size=1, max_size=8))
    return method, bytes(data)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = LiveServer("fuzzecho", "FuzzEcho", env={"GUNICORN_WORKERS": "2"},
                        workdir=str(tmp_path_factory.mktemp("grpcfuzz")))
    server.start()
    try:
        server.wait_ready()
        server.initial_workers = server.wait_workers(2)
        wait_grpc_on(server, server.initial_workers)
        server.channel = channel(server.grpc_port)
        yield server
    finally:
        server.stop()
        print(server.log_tail())


def assert_still_serving(server):
    """Same workers as at the start, gRPC (on both workers) and REST answering."""
    assert server.alive(), server.log_tail()
    assert server.workers() == server.initial_workers, (
        "a worker died or was replaced: %s -> %s\n%s"
        % (server.initial_workers, server.workers(), server.log_tail()))
    for _ in range(6):  # new connections: both workers
        answer = once(server.grpc_port, PREDICT, seldon_message([[1, 2]]), SeldonMessage)
        assert answer.code == "OK", answer
        assert json_format.MessageToDict(answer.response)["data"]["ndarray"] == [[1.0, 2.0]]
    assert server.post("/predict", json={"data": {"ndarray": [[1]]}}).status_code == 200


@pytest.fixture
def still_serving(fuzz_server):
    yield
    assert_still_serving(fuzz_server)


def log_mark(server: LiveServer) -> Tuple[int, int]:
    return len(server.stdout()), len(server.stderr())


def log_since(server: LiveServer, mark: Tuple[int, int]) -> str:
    """What the server logged since ``log_mark`` (stdout, then stderr)."""
    return server.stdout()[mark[0]:] + server.stderr()[mark[1]:]


@pytest.fixture
def healthy_after(fuzz_server):
    """Each test leaves the server as it found it: still serving, and no unhandled exception
    in its log."""
    mark = log_mark(fuzz_server)
    yield
    assert_still_serving(fuzz_server)
    new_log = log_since(fuzz_server, mark)
    assert "Traceback" not in new_log, new_log[-6000:]


def assert_client_code(answer: Answer, what: Any) -> None:
    event(answer.code)  # pytest --hypothesis-show-statistics shows the mix
    assert answer.code == "OK" or answer.code in CLIENT_CODES, (answer, what)
    if answer.code != "OK":
        assert answer.details, (answer, what)


@FUZZ
@given(case=seldon_calls())
@example(case=(PREDICT, SeldonMessage()))
@example(case=("/seldon.protos.Combiner/Aggregate", SeldonMessageList()))
@example(case=(PREDICT, json_format.ParseDict(
    {"data": {"tftensor": {"dtype": "DT_HALF", "tensorShape": {"dim": [{"size": "2"}]},
                           "halfVal": [15360, 65535]}}}, SeldonMessage())))
def test_fuzz_seldon_messages(fuzz_server, healthy_after, case):
    method, message = case
    assert_client_code(call(fuzz_server.channel, method, message), (method, message))


@FUZZ
@given(request=infer_requests())
@example(request=ModelInferRequest(model_name="FuzzEcho"))
def test_fuzz_model_infer_requests(fuzz_server, healthy_after, request):
    answer = call(fuzz_server.channel, INFER, request, ModelInferResponse)
    assert_client_code(answer, request)
    if answer.code == "OK":  # the echo: the answer mirrors the request's form
        assert (len(answer.response.raw_output_contents) > 0) == (
            len(request.raw_input_contents) > 0), (request, answer.response)


@FUZZ
@given(case=mangled_bytes())
@example(case=(INFER, b"\xff\xff\xff"))
@example(case=(PREDICT, b"\x0a\x02\xff\xfe"))
def test_fuzz_raw_bytes(fuzz_server, healthy_after, case):
    method, data = case
    assert_client_code(call(fuzz_server.channel, method, data), case)


# -- bugs found here: reproducers (fixed unless marked xfail) ------------------------------

def test_unparseable_request_is_invalid_argument(fuzz_server, still_serving):
    # a truncated varint; a model_name that is not UTF-8
    for method, data in ((INFER, b"\xff\xff\xff"), (INFER, b"\x0a\x02\xff\xfe"),
                         (PREDICT, b"\x12\x05\x0a")):
        answer = call(fuzz_server.channel, method, data)
        assert answer.code == "INVALID_ARGUMENT", (method, data, answer)
        expected = "ModelInferRequest" if method == INFER else "SeldonMessage"
        assert "not a valid" in answer.details and expected in answer.details, answer
        assert answer.trailing["modelkiln-http-status"] == "400", answer


@pytest.mark.parametrize("body", [
    {"data": {"ndarray": [[float("nan"), 1.0]]}},
    {"jsonData": {"a": float("inf")}},
    {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"t": float("-inf")}}},
], ids=["ndarray", "jsonData", "tags"])
def test_nan_or_infinity_in_a_value_is_invalid_argument(fuzz_server, healthy_after, body):
    """Refused as REST refuses it (or kept a number); never INTERNAL (protobuf >= 5's
    MessageToDict raises on them), and never turned into the string "NaN" (what protobuf 4's
    does, making the numbers next to it strings too)."""
    message = json_format.ParseDict(body, SeldonMessage())
    answer = call(fuzz_server.channel, PREDICT, message, SeldonMessage)
    assert answer.code in ("OK", "INVALID_ARGUMENT"), answer
    if answer.code == "OK":
        assert not {"NaN", "Infinity", "-Infinity"} & set(value_strings(answer.response)), (
            answer.response)


def value_strings(message: Any) -> List[str]:
    """Every string_value of a google.protobuf.Value anywhere inside ``message``."""
    found = []
    if message.DESCRIPTOR.full_name == "google.protobuf.Value" and \
            message.WhichOneof("kind") == "string_value":
        found.append(message.string_value)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if hasattr(value, "DESCRIPTOR"):  # one message
            items = [value]
        elif hasattr(value, "keys"):  # a map: its values, when they are messages
            items = [v for v in value.values() if hasattr(v, "DESCRIPTOR")]
        else:  # a repeated message field
            items = list(value)
        for item in items:
            found.extend(value_strings(item))
    return found


def test_custom_data_of_a_type_the_server_does_not_know(serve):
    """customData (a google.protobuf.Any) of any type is the model's to unpack: the echo
    answers it unchanged (it was INTERNAL: MessageToDict cannot render an unknown Any)."""
    server = serve("echo", "Echo")
    message = SeldonMessage()
    message.customData.type_url = "type.googleapis.com/acme.Unknown"
    message.customData.value = b"\x08\x01"
    answer = once(server.grpc_port, PREDICT, message, SeldonMessage)
    assert answer.code == "OK", answer
    assert answer.response.WhichOneof("data_oneof") == "customData", answer.response
    assert (answer.response.customData.type_url, answer.response.customData.value) == (
        "type.googleapis.com/acme.Unknown", b"\x08\x01")


def test_malformed_message_does_not_crash_the_worker(serve):
    """protobuf 4.21's parser segfaults on these 16 bytes (a parameters map entry holding an
    unknown field, then an input whose datatype is not UTF-8): pyproject.toml excludes it."""
    server = serve("echo", "Echo")
    workers = server.wait_workers(1)
    wait_grpc_on(server, workers)
    answer = once(server.grpc_port, INFER, b'"\x09Q12345678*\x04\x12\x02\xaf\x05', timeout=10)
    assert answer.code == "INVALID_ARGUMENT", answer
    time.sleep(0.2)
    assert server.workers() == workers, server.log_tail()
    assert once(server.grpc_port, PREDICT, seldon_message([[1]]), SeldonMessage).code == "OK"


def test_scalar_bool_answer_is_a_valid_message(fuzz_server, still_serving):
    body = {"data": {"tftensor": {"dtype": "DT_BOOL", "tensorShape": {}, "boolVal": [False]}}}
    answer = call(fuzz_server.channel, PREDICT, json_format.ParseDict(body, SeldonMessage()),
                  SeldonMessage)
    assert answer.code == "OK", answer
    rest = fuzz_server.post("/predict", json=body)
    assert rest.status_code == 200, rest.text
    again = fuzz_server.post("/predict", json=rest.json())  # an answer is a valid request
    assert again.status_code == 200, (rest.text, again.text)


def test_tftensor_lone_value_with_a_huge_shape_is_refused(fuzz_server, still_serving):
    body = {"data": {"tftensor": {"dtype": "DT_FLOAT", "floatVal": [1.0], "tensorShape": {
        "dim": [{"size": str(2 ** 40)}]}}}}
    answer = call(fuzz_server.channel, PREDICT, json_format.ParseDict(body, SeldonMessage()))
    assert answer.code in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"), answer
