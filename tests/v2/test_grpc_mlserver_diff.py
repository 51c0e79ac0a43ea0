"""Differential test over V2 gRPC: modelkiln against MLServer 1.7.1 serving the same classes.

MLServer serves tests/v2/models through tests/v2/mlserver/seldon_runtime.py (NumpyCodec in,
``predict(X, [])``, NumpyCodec out as ``output-0``) and answers GRPCInferenceService on its
``grpc_port``. The same request message (built with tritonclient's service_pb2, raw or typed)
goes to both; each answer becomes a plain structure and the two are compared field by field:
the status code, then model name, version, id, parameters, the answer's form (raw or typed)
and every output's name, datatype, shape, parameters and values (floats bit for bit).

Every difference must be recorded in tests/v2/intentional.py (GRPC_EVERY_ANSWER,
GRPC_INTENTIONAL), exactly: a difference that is not there fails, and so does a recorded one
that does not show. Both servers' messages are printed for errors.
"""

import re
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Tuple

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from google.protobuf import json_format
from tritonclient.grpc import service_pb2

from . import intentional
from .grpcv2 import Answer, Client, parameters_of, raw_request, split_bytes, typed_request
from .intentional import ABSENT, GRPC_EVERY_ANSWER, GRPC_INTENTIONAL, MODELKILN_VERSION, UUID
from .servers import MLServer, ModelkilnServer
from . import values
from .values import UUID_RE, canonical, short, DATATYPES, NP_DTYPE, sample

TYPED = tuple(d for d in DATATYPES if d != "FP16")


@pytest.fixture(scope="module")
def peers(ours: Dict[str, ModelkilnServer], mlserver: MLServer
          ) -> Iterator[Tuple[Dict[str, Client], Client]]:
    """(modelkiln clients by model, the MLServer client): each modelkiln server serves one
    model, MLServer serves them all."""
    mine = {name: Client("127.0.0.1:%d" % server.grpc_port) for name, server in ours.items()}
    theirs = Client("127.0.0.1:%d" % mlserver.grpc_port)
    yield mine, theirs
    for client in list(mine.values()) + [theirs]:
        client.close()


# -- the cases --------------------------------------------------------------------------------

class Case(NamedTuple):
    id: str
    model: str  # the modelkiln server that answers
    method: str
    request: Any


def infer_case(case_id: str, model: str, request: Any) -> Case:
    return Case(case_id, model, "ModelInfer", request)


def x(datatype: str, array: np.ndarray) -> List[Tuple[str, str, np.ndarray]]:
    return [("x", datatype, array)]


def answer_cases() -> List[Case]:
    cases = []
    for datatype in DATATYPES:
        for rows in (1, 1000):
            array = sample(datatype, rows, seed=rows + DATATYPES.index(datatype))
            cases.append(infer_case("%s-raw-%drows" % (datatype.lower(), rows), "Echo",
                                    raw_request("Echo", x(datatype, array))))
            if datatype in TYPED:
                cases.append(infer_case("%s-typed-%drows" % (datatype.lower(), rows), "Echo",
                                        typed_request("Echo", x(datatype, array))))
    fp64 = sample("FP64", 1, seed=2)
    special = np.array([[np.nan, np.inf, -np.inf, -0.0]])
    one_d = np.array([0.5, -1.25, 3.0])
    cases += [
        infer_case("fp64-1d-raw", "Echo", raw_request("Echo", x("FP64", one_d))),
        infer_case("fp64-1d-typed", "Echo", typed_request("Echo", x("FP64", one_d))),
        infer_case("fp64-3d-typed", "Echo", typed_request(
            "Echo", x("FP64", np.arange(12.5, 24.5).reshape(2, 3, 2)))),
        infer_case("int16-scalar-raw", "Echo",
                   raw_request("Echo", x("INT16", np.array(7, np.int16)))),
        infer_case("fp32-empty-raw", "Echo",
                   raw_request("Echo", x("FP32", np.zeros((0, 4), np.float32)))),
        infer_case("fp64-nan-inf-raw", "Echo", raw_request("Echo", x("FP64", special))),
        infer_case("fp32-nan-inf-typed", "Echo",
                   typed_request("Echo", x("FP32", special.astype(np.float32)))),
        infer_case("bytes-fixed-width-typed", "Echo", typed_request(
            "Echo", x("BYTES", np.array([[b"ab", b"cd"]], dtype=object)))),
        infer_case("request-id", "Echo",
                   raw_request("Echo", x("FP64", fp64), request_id="request-42")),
        infer_case("request-parameters", "Echo", raw_request(
            "Echo", x("INT64", sample("INT64", 1, seed=9)), parameters={"trace": "on"})),
        infer_case("outputs-selected", "Echo",
                   raw_request("Echo", x("FP64", fp64), outputs=["output-0"])),
        infer_case("doubler-fp32-1000rows", "Doubler", raw_request(
            "Doubler", x("FP32", sample("FP32", 1000, seed=11).clip(-1e30, 1e30)))),
        infer_case("doubler-int64-typed", "Doubler",
                   typed_request("Doubler", x("INT64", np.array([[1, -2, 3, 2 ** 40]])))),
    ]
    return cases


def _with(request: Any, change: Callable[[Any], None]) -> Any:
    change(request)
    return request


def error_cases() -> List[Case]:
    one = np.array([[1.0]], np.float32)
    return [
        infer_case("unknown-model", "Echo", raw_request("Nope", x("FP32", one))),
        infer_case("unknown-version", "Echo", raw_request("Echo", x("FP32", one), version="7")),
        infer_case("no-inputs", "Echo", service_pb2.ModelInferRequest(model_name="Echo")),
        infer_case("unknown-datatype", "Echo", _with(
            raw_request("Echo", x("FP32", one)),
            lambda r: setattr(r.inputs[0], "datatype", "FP8"))),
        infer_case("raw-size-mismatch", "Echo", _with(
            raw_request("Echo", x("FP64", np.ones((2, 2)))),
            lambda r: r.raw_input_contents.__setitem__(0, b"\0" * 24))),
        infer_case("typed-count-mismatch", "Echo", _with(
            typed_request("Echo", x("FP64", np.ones((2, 2)))),
            lambda r: r.inputs[0].contents.fp64_contents.append(5.0))),
        infer_case("raw-entries-for-no-input", "Echo", _with(
            raw_request("Echo", x("FP32", one)),
            lambda r: r.raw_input_contents.append(b"\0\0\0\0"))),
        infer_case("fp16-typed", "Echo",
                   typed_request("Echo", x("FP16", np.ones((1, 2), np.float16)))),
        infer_case("int8-out-of-range-typed", "Echo", _with(
            typed_request("Echo", x("INT8", np.array([0, 1], np.int8))),
            lambda r: r.inputs[0].contents.int_contents.__setitem__(1, 1000))),
        infer_case("unknown-output", "Echo",
                   raw_request("Echo", x("FP32", one), outputs=["nope"])),
        infer_case("model-value-error", "Fails", raw_request("Fails", x("FP32", one))),
        infer_case("model-status-418", "Teapot", raw_request("Teapot", x("FP32", one))),
        Case("metadata-unknown-model", "Echo", "ModelMetadata",
             service_pb2.ModelMetadataRequest(name="Nope")),
        Case("ready-unknown-model", "Echo", "ModelReady",
             service_pb2.ModelReadyRequest(name="Nope")),
    ]


def other_cases() -> List[Case]:
    return [
        Case("server-live", "Echo", "ServerLive", service_pb2.ServerLiveRequest()),
        Case("server-ready", "Echo", "ServerReady", service_pb2.ServerReadyRequest()),
        Case("model-ready", "Echo", "ModelReady", service_pb2.ModelReadyRequest(name="Echo")),
        Case("server-metadata", "Echo", "ServerMetadata", service_pb2.ServerMetadataRequest()),
        Case("model-metadata", "Echo", "ModelMetadata",
             service_pb2.ModelMetadataRequest(name="Echo")),
    ]


# -- comparing --------------------------------------------------------------------------------

def _values(datatype: str, data: Any) -> List[Any]:
    """Values as JSON-comparable items: floats exactly (NaN, -0.0 kept), bytes by repr."""
    if datatype == "BYTES":
        return [repr(bytes(b)) for b in data]
    return np.asarray(data, dtype=NP_DTYPE[datatype]).ravel().tolist()


def _output_data(output: Any, raw: List[bytes], index: int) -> Any:
    if index < len(raw):
        data = raw[index]
        if output.datatype == "BYTES":
            return _values("BYTES", split_bytes(data))
        dtype = np.dtype(NP_DTYPE[output.datatype]).newbyteorder("<")
        return _values(output.datatype, np.frombuffer(data, dtype=dtype))
    fields = output.contents.ListFields()
    if not fields:
        return []
    return _values(output.datatype, list(fields[0][1]))


def infer_structure(response: Any) -> Dict[str, Any]:
    raw = list(response.raw_output_contents)
    typed = any(o.contents.ListFields() for o in response.outputs)
    form = "mixed" if raw and typed else "raw" if raw else "typed"
    return {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "id": response.id,
        "parameters": parameters_of(response.parameters),
        "form": form,
        "outputs": [{"name": o.name, "datatype": o.datatype, "shape": list(o.shape),
                     "parameters": parameters_of(o.parameters),
                     "data": _output_data(o, raw, i)}
                    for i, o in enumerate(response.outputs)],
    }


def structure(answer: Answer) -> Dict[str, Any]:
    if answer.response.DESCRIPTOR.name == "ModelInferResponse":
        return infer_structure(answer.response)
    return json_format.MessageToDict(answer.response, preserving_proto_field_name=True)


def structure_diff(ours: Dict[str, Any], theirs: Dict[str, Any]
                   ) -> Dict[str, Tuple[Any, Any]]:
    """{path: (modelkiln, MLServer)} for every field that differs (outputs compared output
    by output when both have as many, fields of an output one by one)."""
    found = {}  # type: Dict[str, Tuple[Any, Any]]
    for key in list(ours) + [k for k in theirs if k not in ours]:
        a, b = ours.get(key, ABSENT), theirs.get(key, ABSENT)
        if key == "outputs" and isinstance(a, list) and isinstance(b, list) \
                and len(a) == len(b):
            for index, (mine, other) in enumerate(zip(a, b)):
                for field in list(mine) + [f for f in other if f not in mine]:
                    p, q = mine.get(field, ABSENT), other.get(field, ABSENT)
                    if canonical(p) != canonical(q):
                        found["outputs[%d].%s" % (index, field)] = (p, q)
        elif canonical(a) != canonical(b):
            found[key] = (a, b)
    return found


def normalise(found: Dict[str, Tuple[Any, Any]], request: Any
              ) -> Dict[str, Tuple[Any, Any]]:
    """Markers for values that change from run to run: generated ids, our version."""
    out = {}
    for path, (a, b) in found.items():
        if path == "id" and a == "" and isinstance(b, str) and UUID_RE.match(b) \
                and not getattr(request, "id", ""):
            b = UUID
        if path == "version" and a == intentional.modelkiln_version():
            a = MODELKILN_VERSION
        out[path] = (a, b)
    return out


def compare(case: Case, mine: Answer, theirs: Answer) -> Dict[str, Tuple[Any, Any]]:
    for who, answer in (("modelkiln", mine), ("MLServer ", theirs)):
        shown = answer.details if answer.code != "OK" else short(structure(answer))
        print("%s: %s %s %s" % (case.id, who, answer.code, shown))
    if mine.code != "OK":  # ours always says why and which HTTP status REST would answer
        assert mine.details and mine.trailing.get("modelkiln-http-status"), mine
    if mine.code != theirs.code:
        return {"code": (mine.code, theirs.code)}
    if mine.code != "OK":
        return {}  # errors: the code only
    found = normalise(structure_diff(structure(mine), structure(theirs)), case.request)
    if case.method == "ModelInfer":  # differences every inference answer has
        for path, (expected, _reason) in GRPC_EVERY_ANSWER.items():
            for key in list(found):
                if re.fullmatch(path, key) and canonical(found[key]) == canonical(expected):
                    del found[key]
    return found


def check_recorded(case_id: str, found: Dict[str, Tuple[Any, Any]]) -> None:
    values.check_recorded(case_id, found, GRPC_INTENTIONAL.get(case_id), 'gRPC difference')

def run_case(case: Case, peers: Tuple[Dict[str, Client], Client]) -> None:
    mine, theirs = peers
    ours_answer = mine[case.model].call(case.method, case.request)
    theirs_answer = theirs.call(case.method, case.request)
    check_recorded(case.id, compare(case, ours_answer, theirs_answer))


@pytest.mark.parametrize("case", answer_cases(), ids=lambda c: c.id)
def test_same_answer(case: Case, peers: Tuple[Dict[str, Client], Client]) -> None:
    run_case(case, peers)


@pytest.mark.parametrize("case", error_cases(), ids=lambda c: c.id)
def test_same_error_code(case: Case, peers: Tuple[Dict[str, Client], Client]) -> None:
    run_case(case, peers)


@pytest.mark.parametrize("case", other_cases(), ids=lambda c: c.id)
def test_same_metadata_and_health(case: Case, peers: Tuple[Dict[str, Client], Client]) -> None:
    run_case(case, peers)


def test_every_recorded_case_exists() -> None:
    """A recorded difference whose case is gone is stale: remove it from intentional.py."""
    ids = {c.id for c in answer_cases() + error_cases() + other_cases()}
    ids.add("tritonclient-bytes")
    assert sorted(set(GRPC_INTENTIONAL) - ids) == []


# -- through tritonclient ---------------------------------------------------------------------

def triton_infer(port: int, model: str, array: np.ndarray, datatype: str) -> Any:
    client = grpcclient.InferenceServerClient("127.0.0.1:%d" % port)
    try:
        item = grpcclient.InferInput("x", list(array.shape), datatype)
        item.set_data_from_numpy(array)
        return client.infer(model, [item])
    finally:
        client.close()


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "FP16", "INT64", "UINT64", "INT8",
                                      "UINT16", "BOOL"])
def test_tritonclient_answers_are_the_same(datatype: str, ours: Dict[str, ModelkilnServer],
                                           mlserver: MLServer) -> None:
    array = sample(datatype, 1000, seed=21)
    mine = triton_infer(ours["Echo"].grpc_port, "Echo", array, datatype)
    theirs = triton_infer(mlserver.grpc_port, "Echo", array, datatype)
    a, b = mine.as_numpy("output-0"), theirs.as_numpy("output-0")
    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    assert a.tobytes() == b.tobytes() == array.tobytes()  # bit for bit


def test_tritonclient_bytes(ours: Dict[str, ModelkilnServer], mlserver: MLServer) -> None:
    """BYTES of varying lengths through tritonclient: ours answers them, MLServer cannot."""
    from tritonclient.utils import InferenceServerException

    array = sample("BYTES", 3, seed=8)
    mine = triton_infer(ours["Echo"].grpc_port, "Echo", array, "BYTES")
    assert mine.as_numpy("output-0").tolist() == array.tolist()
    with pytest.raises(InferenceServerException) as caught:
        triton_infer(mlserver.grpc_port, "Echo", array, "BYTES")
    print("MLServer:", caught.value)
    check_recorded("tritonclient-bytes",
                   {"code": ("OK", caught.value.status().replace("StatusCode.", ""))})
