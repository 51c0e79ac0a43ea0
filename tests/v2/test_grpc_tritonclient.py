"""V2 gRPC (inference.GRPCInferenceService) against live modelkiln servers, through the real
client, tritonclient.grpc, and through its stubs (service_pb2) for what the client does not
send: typed ``contents`` (tritonclient always sends raw_input_contents) and calls whose
status and trailing metadata are checked.

Every test asserts on what came back (values, datatypes, shapes, forms, messages), never only
on a status. The servers (one per class of tests/v2/models) are started once per session and
shared with the REST tests: the same servers answer both.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from .grpcv2 import (CONTENTS_FIELD, Answer, Client, assert_same_array, form_of, outputs_of,
                     parameters_of, raw_request, typed_request)
from .servers import ModelkilnServer, check_server_python
from .values import DATATYPES, NP_DTYPE, sample

MODELS = ("Echo", "Doubler", "Declared", "Shapes", "Router", "Outlier", "RawV2", "Fails",
          "Teapot", "Halves")
TYPED_DATATYPES = tuple(d for d in DATATYPES if d in CONTENTS_FIELD)  # all but FP16


@pytest.fixture(scope="module")
def servers(fleet: Any) -> Dict[str, ModelkilnServer]:
    return fleet.get(*MODELS)


@pytest.fixture(scope="module")
def clients(servers: Dict[str, ModelkilnServer]) -> Iterator[Dict[str, Any]]:
    """tritonclient.grpc clients, one per server."""
    made = {name: grpcclient.InferenceServerClient("127.0.0.1:%d" % server.grpc_port)
            for name, server in servers.items()}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def stubs(servers: Dict[str, ModelkilnServer]) -> Iterator[Dict[str, Client]]:
    """service_pb2 stubs, one per server."""
    made = {name: Client("127.0.0.1:%d" % server.grpc_port)
            for name, server in servers.items()}
    yield made
    for client in made.values():
        client.close()


def make_input(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    item = grpcclient.InferInput(name, list(array.shape), datatype)
    item.set_data_from_numpy(array)
    return item


def server_error(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def assert_error(answer: Answer, code: str, message: str, http_status: int) -> None:
    """A failed call: its status code, its exact message, and modelkiln's trailing metadata
    (the HTTP status REST would have answered, and Seldon's reason)."""
    assert (answer.code, answer.details) == (code, message), answer
    assert answer.trailing.get("modelkiln-http-status") == str(http_status), answer.trailing
    assert answer.trailing.get("modelkiln-reason"), answer.trailing


# -- server and model metadata --------------------------------------------------------------

def test_server_live_ready_and_metadata(clients: Dict[str, Any]) -> None:
    client = clients["Echo"]
    assert client.is_server_live() is True
    assert client.is_server_ready() is True
    assert client.is_model_ready("Echo") is True
    metadata = client.get_server_metadata()
    assert metadata.name == "modelkiln"
    assert isinstance(metadata.version, str) and metadata.version
    assert "binary_tensor_data" in metadata.extensions


def test_same_version_over_grpc_and_rest(servers: Dict[str, ModelkilnServer],
                                         clients: Dict[str, Any]) -> None:
    rest = requests.get(servers["Echo"].url("/v2"), timeout=10).json()
    grpc_metadata = clients["Echo"].get_server_metadata()
    assert (grpc_metadata.name, grpc_metadata.version, list(grpc_metadata.extensions)) == (
        rest["name"], rest["version"], rest["extensions"])


def test_model_metadata_shows_declared_inputs_and_version(clients: Dict[str, Any]) -> None:
    client = clients["Declared"]
    for version in ("", "3"):
        metadata = client.get_model_metadata("Declared", model_version=version)
        assert metadata.name == "Declared"
        assert list(metadata.versions) == ["3"]
        assert metadata.platform == "test-platform"
        assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
            ("x", "FP32", [-1, 4])]
        assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
            ("sums", "FP32", [-1, 1])]
    assert client.is_model_ready("Declared", model_version="3") is True
    for call in (lambda: client.get_model_metadata("Declared", model_version="4"),
                 lambda: client.is_model_ready("Declared", model_version="4")):
        error = server_error(call)
        assert error.status() == "StatusCode.NOT_FOUND"
        assert error.message() == "model 'Declared' has no version '4' (it serves version '3')"


def test_model_metadata_without_declarations(clients: Dict[str, Any]) -> None:
    metadata = clients["Echo"].get_model_metadata("Echo")
    assert metadata == service_pb2.ModelMetadataResponse(name="Echo", platform="modelkiln")


def test_unknown_model_is_not_found_naming_both_models(clients: Dict[str, Any],
                                                       stubs: Dict[str, Client]) -> None:
    client = clients["Echo"]
    x = make_input("x", np.ones((1, 4), np.float32), "FP32")
    for call in (lambda: client.infer("Nope", [x]), lambda: client.get_model_metadata("Nope"),
                 lambda: client.is_model_ready("Nope")):
        error = server_error(call)
        assert error.status() == "StatusCode.NOT_FOUND"
        assert error.message() == "unknown model 'Nope': this server serves 'Echo'"
    answer = stubs["Echo"].infer(raw_request("Nope", [("x", "FP32", np.ones(1, np.float32))]))
    assert_error(answer, "NOT_FOUND", "unknown model 'Nope': this server serves 'Echo'", 404)


# -- every datatype -------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [1, 1000])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_round_trips_exactly_raw(clients: Dict[str, Any], datatype: str,
                                                rows: int) -> None:
    """tritonclient's default: raw_input_contents in, raw_output_contents out."""
    array = sample(datatype, rows, seed=rows + DATATYPES.index(datatype))
    result = clients["Echo"].infer("Echo", [make_input("x", array, datatype)])
    response = result.get_response()
    assert form_of(response) == "raw"
    assert len(response.raw_output_contents) == 1
    output = result.get_output("output-0")
    assert (output.name, output.datatype, list(output.shape)) == (
        "output-0", datatype, [rows, 4])
    assert not output.HasField("contents")
    got = result.as_numpy("output-0")
    if datatype == "BYTES":
        assert got.dtype == np.object_ and got.ravel().tolist() == array.ravel().tolist()
    else:
        assert_same_array(got, array)


@pytest.mark.parametrize("rows", [1, 1000])
@pytest.mark.parametrize("datatype", TYPED_DATATYPES)
def test_every_datatype_round_trips_exactly_typed(stubs: Dict[str, Client], datatype: str,
                                                  rows: int) -> None:
    """Typed contents in, the same typed field out (no raw_output_contents)."""
    array = sample(datatype, rows, seed=rows + DATATYPES.index(datatype))
    answer = stubs["Echo"].infer(typed_request("Echo", [("x", datatype, array)]))
    assert answer.code == "OK", answer
    response = answer.response
    assert form_of(response) == "typed"
    assert len(response.raw_output_contents) == 0
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == (
        "output-0", datatype, [rows, 4])
    field = CONTENTS_FIELD[datatype]
    assert [f.name for f, _ in output.contents.ListFields()] == [field]
    assert_same_array(outputs_of(response)["output-0"], array)


def test_fp16_cannot_be_typed(stubs: Dict[str, Client]) -> None:
    """FP16 has no typed field: a typed request must send it raw, and is told so."""
    request = typed_request("Echo", [("x", "FP16", np.ones((1, 2), np.float16))])
    assert_error(stubs["Echo"].infer(request), "INVALID_ARGUMENT",
                 "input 'x': FP16 data must come in raw_input_contents", 400)


def test_bytes_that_are_not_utf8_round_trip(clients: Dict[str, Any],
                                            stubs: Dict[str, Client]) -> None:
    array = np.array([[b"\xff\xfe", b"", b"ok", b"\x00\x80"]], dtype=object)
    result = clients["Echo"].infer("Echo", [make_input("x", array, "BYTES")])
    assert result.as_numpy("output-0").tolist() == array.tolist()
    answer = stubs["Echo"].infer(typed_request("Echo", [("x", "BYTES", array)]))
    assert answer.code == "OK", answer
    assert list(answer.response.outputs[0].contents.bytes_contents) == array.ravel().tolist()


@pytest.mark.parametrize("form", ["raw", "typed"])
def test_scalar_and_empty_tensors(stubs: Dict[str, Client], form: str) -> None:
    build = raw_request if form == "raw" else typed_request
    for array, datatype in ((np.zeros((0, 4), np.float32), "FP32"),
                            (np.array(7, dtype=np.int16), "INT16"),
                            (np.array([], dtype=object), "BYTES")):
        answer = stubs["Echo"].infer(build("Echo", [("x", datatype, array)]))
        assert answer.code == "OK", (datatype, answer)
        output = answer.response.outputs[0]
        assert (output.datatype, list(output.shape)) == (datatype, list(array.shape))
        assert_same_array(outputs_of(answer.response)["output-0"],
                          array.astype(NP_DTYPE[datatype]))


@pytest.mark.parametrize("datatype, value", [
    ("INT8", 128), ("INT8", -129), ("UINT8", 256), ("INT16", 2 ** 15), ("UINT16", 2 ** 16),
])
def test_typed_value_out_of_range_is_invalid_argument(stubs: Dict[str, Client], datatype: str,
                                                      value: int) -> None:
    """int_contents / uint_contents are 32-bit: a value the datatype cannot hold is refused,
    never wrapped around."""
    request = service_pb2.ModelInferRequest(model_name="Echo")
    tensor = request.inputs.add(name="x", datatype=datatype, shape=[2])
    getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend([0, value])
    assert_error(stubs["Echo"].infer(request), "INVALID_ARGUMENT",
                 "input 'x': a value is out of range for %s" % datatype, 400)


def test_request_errors_are_invalid_argument_naming_the_input(stubs: Dict[str, Client]
                                                              ) -> None:
    echo = stubs["Echo"]
    x = np.array([1.5, 2.5], np.float32)
    # typed values that do not fill the shape
    request = typed_request("Echo", [("x", "FP32", x)])
    request.inputs[0].shape[:] = [3]
    answer = echo.infer(request)
    assert answer.code == "INVALID_ARGUMENT" and "'x'" in answer.details, answer
    # raw bytes that do not fill the shape
    request = raw_request("Echo", [("x", "FP32", x)])
    request.raw_input_contents[0] = request.raw_input_contents[0][:-1]
    answer = echo.infer(request)
    assert answer.code == "INVALID_ARGUMENT" and "'x'" in answer.details, answer
    # a BYTES element that runs past its raw contents
    request = raw_request("Echo", [("x", "BYTES", np.array([b"ab"], dtype=object))])
    request.raw_input_contents[0] = b"\x05\x00\x00\x00ab"
    assert_error(echo.infer(request), "INVALID_ARGUMENT",
                 "input 'x': a BYTES element of 5 bytes runs past the binary data", 400)
    # raw contents for some inputs only
    request = raw_request("Echo", [("x", "FP32", x)])
    request.inputs.add(name="y", datatype="FP32", shape=[2])
    assert_error(echo.infer(request), "INVALID_ARGUMENT",
                 "raw_input_contents has 1 entries for 2 inputs: give every input's data "
                 "there, or none", 400)
    # a datatype V2 does not have
    request = raw_request("Echo", [("x", "FP32", x)])
    request.inputs[0].datatype = "FP8"
    answer = echo.infer(request)
    assert answer.code == "INVALID_ARGUMENT", answer
    assert answer.details.startswith("input 'x': datatype 'FP8' is not one of BOOL,"), answer
    # no inputs at all
    assert_error(echo.infer(service_pb2.ModelInferRequest(model_name="Echo")),
                 "INVALID_ARGUMENT", "a V2 inference request needs inputs: a non-empty list",
                 400)


# -- declared inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["raw", "typed"])
def test_declared_input_is_served_with_its_output_name_and_version(
        stubs: Dict[str, Client], form: str) -> None:
    x = np.array([[1, 2, 3, 4], [0.5, 0.25, -1, 8]], dtype=np.float32)
    build = raw_request if form == "raw" else typed_request
    answer = stubs["Declared"].infer(build("Declared", [("x", "FP32", x)], version="3",
                                           request_id="declared-1"))
    assert answer.code == "OK", answer
    response = answer.response
    assert (response.model_name, response.model_version, response.id) == (
        "Declared", "3", "declared-1")
    assert form_of(response) == form
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("sums", "FP32", [2, 1])]
    assert_same_array(outputs_of(response)["sums"], np.array([[10], [7.75]], np.float32))


def test_declared_input_errors_are_invalid_argument_naming_it(stubs: Dict[str, Client]
                                                             ) -> None:
    declared = stubs["Declared"]
    ones = np.ones((1, 4), np.float32)
    for form in (raw_request, typed_request):
        assert_error(declared.infer(form("Declared", [("x", "FP64", ones.astype(np.float64))])),
                     "INVALID_ARGUMENT", "input 'x' must have datatype FP32, got FP64", 400)
        for shape in ((2, 3), (4,), (1, 4, 1)):
            assert_error(
                declared.infer(form("Declared", [("x", "FP32", np.ones(shape, np.float32))])),
                "INVALID_ARGUMENT", "V2 request: input 'x' must have shape [-1, 4] (-1: any "
                "size), got %s" % list(shape), 400)
        assert_error(declared.infer(form("Declared", [("y", "FP32", ones)])),
                     "INVALID_ARGUMENT",
                     "missing input(s) 'x': this model declares x (FP32 [-1, 4])", 400)
        assert_error(declared.infer(form("Declared", [("x", "FP32", ones),
                                                      ("y", "FP32", ones)])),
                     "INVALID_ARGUMENT", "unknown input 'y': this model declares x (FP32 "
                     "[-1, 4])", 400)


def test_wrong_version_is_not_found(clients: Dict[str, Any], stubs: Dict[str, Client]) -> None:
    x = np.ones((1, 4), np.float32)
    error = server_error(lambda: clients["Declared"].infer(
        "Declared", [make_input("x", x, "FP32")], model_version="9"))
    assert error.status() == "StatusCode.NOT_FOUND"
    assert error.message() == "model 'Declared' has no version '9' (it serves version '3')"
    assert_error(stubs["Echo"].infer(raw_request("Echo", [("x", "FP32", x)], version="1")),
                 "NOT_FOUND", "model 'Echo' has no version '1' (it has no versions)", 404)


# -- request id, parameters, outputs selection ----------------------------------------------

def test_request_id_and_parameters_are_echoed_with_tags(clients: Dict[str, Any]) -> None:
    x = np.array([[1, 2, 3, 4]], dtype=np.float64)
    result = clients["Doubler"].infer(
        "Doubler", [make_input("x", x, "FP64")], request_id="req-éß-1",
        parameters={"trace": "on", "n": -3, "flag": True, "ratio": 0.25})
    response = result.get_response()
    assert response.id == "req-éß-1"
    # each keeps its type; the request's parameters, then the class's tags() (Seldon's merge)
    assert parameters_of(response.parameters) == {"trace": "on", "n": -3, "flag": True,
                                                  "ratio": 0.25, "model_tag": "doubler"}
    assert response.parameters["n"].WhichOneof("parameter_choice") == "int64_param"
    assert response.parameters["flag"].WhichOneof("parameter_choice") == "bool_param"
    output = result.get_output("output-0")
    # a list-valued output parameter travels as its JSON text
    assert json.loads(parameters_of(output.parameters)["names"]) == ["a", "b", "c", "d"]
    assert output.datatype == "FP64"
    assert_same_array(result.as_numpy("output-0"), x * 2)


def test_no_request_id_means_no_id_in_the_answer(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1, 4), np.float32), "FP32")
    response = clients["Echo"].infer("Echo", [x]).get_response()
    assert response.id == ""
    assert len(response.parameters) == 0
    assert response.model_name == "Echo" and response.model_version == ""


@pytest.mark.parametrize("form", ["raw", "typed"])
def test_outputs_selection_picks_and_orders_outputs(stubs: Dict[str, Client],
                                                    form: str) -> None:
    x = np.array([[1, 2], [3, 4.5]], dtype=np.float64)
    build = raw_request if form == "raw" else typed_request
    client = stubs["RawV2"]
    answer = client.infer(build("RawV2", [("x", "FP64", x)], outputs=["names"]))
    assert answer.code == "OK", answer
    assert [o.name for o in answer.response.outputs] == ["names"]
    assert form_of(answer.response) == form
    assert outputs_of(answer.response)["names"].tolist() == [b"x"]
    answer = client.infer(build("RawV2", [("x", "FP64", x)], outputs=["names", "total"]))
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.response.outputs] == [
        ("names", "BYTES", [1]), ("total", "FP64", [2])]
    got = outputs_of(answer.response)
    assert got["names"].tolist() == [b"x"]
    assert_same_array(got["total"], np.array([3.0, 7.5]))


def test_unknown_output_requested_is_invalid_argument_naming_it(clients: Dict[str, Any]
                                                                ) -> None:
    x = make_input("x", np.ones((1, 2), np.float64), "FP64")
    error = server_error(lambda: clients["RawV2"].infer(
        "RawV2", [x], outputs=[grpcclient.InferRequestedOutput("nope")]))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert error.message() == "unknown output 'nope': this model answers 'total', 'names'"


# -- predict_v2_raw, several inputs, answer kinds, service types ---------------------------

def test_predict_v2_raw_gets_every_input_and_answers_two_outputs(clients: Dict[str, Any]
                                                                 ) -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.float32)
    b = np.array([10, 20], dtype=np.int64)
    result = clients["RawV2"].infer(
        "RawV2", [make_input("a", a, "FP32"), make_input("b", b, "INT64")],
        request_id="raw-1", parameters={"ignored": True})
    response = result.get_response()
    assert response.id == "raw-1"
    # predict_v2_raw's own parameters, not the request's
    assert parameters_of(response.parameters) == {"raw": True, "n_inputs": 2}
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("total", "FP64", [2]), ("names", "BYTES", [2])]
    assert_same_array(result.as_numpy("total"), np.array([3.0, 7.0]))
    assert result.as_numpy("names").tolist() == [b"a", b"b"]


def test_several_inputs_reach_predict_as_columns(stubs: Dict[str, Client]) -> None:
    a = np.array([1, 2, 3], dtype=np.float32)
    b = np.array([[10], [20], [30]], dtype=np.float32)
    for build in (raw_request, typed_request):
        answer = stubs["Doubler"].infer(build("Doubler", [("a", "FP32", a), ("b", "FP32", b)]))
        assert answer.code == "OK", answer
        assert_same_array(outputs_of(answer.response)["output-0"],
                          np.array([[2, 20], [4, 40], [6, 60]], dtype=np.float32))


@pytest.mark.parametrize("word, datatype, values, parameters", [
    ("str", "BYTES", ["héllo wörld".encode()], {"content_type": "str"}),
    ("bytes", "BYTES", [b"\x00\xff\xfe raw"], {}),
    ("dict", "BYTES", [b'{"answer":42,"names":[],"nested":{"x":[1.5,null]}}'],
     {"content_type": "json"}),
    ("list", "INT64", [1, 2, 3, 4], {}),
    ("bigendian", "FP64", [1.5, -2.25], {}),
])
@pytest.mark.parametrize("form", ["raw", "typed"])
def test_str_bytes_dict_and_list_answers(stubs: Dict[str, Client], form: str, word: str,
                                         datatype: str, values: List[Any],
                                         parameters: Dict[str, Any]) -> None:
    build = raw_request if form == "raw" else typed_request
    x = np.array([word.encode()], dtype=object)
    answer = stubs["Shapes"].infer(build("Shapes", [("x", "BYTES", x)]))
    assert answer.code == "OK", answer
    (output,) = answer.response.outputs
    assert output.datatype == datatype
    assert parameters_of(output.parameters) == parameters
    assert outputs_of(answer.response)["output-0"].ravel().tolist() == values


@pytest.mark.parametrize("value, branch", [(3.5, 1), (-2.0, 0)])
def test_router_answers_its_branch(clients: Dict[str, Any], value: float, branch: int) -> None:
    x = make_input("x", np.array([[value, 1.0]], np.float64), "FP64")
    result = clients["Router"].infer("Router", [x])
    output = result.get_output("route")
    assert (output.datatype, list(output.shape)) == ("INT64", [1])
    assert result.as_numpy("route").tolist() == [branch]


def test_outlier_detector_answers_scores(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.array([[1, -2], [3, 4], [0, 0]], np.float32), "FP32")
    result = clients["Outlier"].infer("Outlier", [x])
    output = result.get_output("outlier_score")
    assert (output.datatype, list(output.shape)) == ("FP64", [3])
    assert_same_array(result.as_numpy("outlier_score"), np.array([3.0, 7.0, 0.0]))


def test_fp16_answer_to_a_raw_request(stubs: Dict[str, Client]) -> None:
    x = np.array([[1.5, -2.25, 65504.0]], dtype=np.float32)
    answer = stubs["Halves"].infer(raw_request("Halves", [("x", "FP32", x)]))
    assert answer.code == "OK", answer
    assert form_of(answer.response) == "raw"
    got = outputs_of(answer.response)
    assert_same_array(got["same"], x)
    assert_same_array(got["half"], x.astype(np.float16))


def test_fp16_answer_to_a_typed_request_is_all_raw(clients: Dict[str, Any],
                                                   stubs: Dict[str, Client]) -> None:
    x = np.array([[1.5, -2.25, 65504.0]], dtype=np.float32)
    answer = stubs["Halves"].infer(typed_request("Halves", [("x", "FP32", x)]))
    assert answer.code == "OK", answer
    response = answer.response
    assert len(response.raw_output_contents) in (0, len(response.outputs)), response
    got = outputs_of(response)
    assert_same_array(got["same"], x)
    assert_same_array(got["half"], x.astype(np.float16))


def test_zero_sized_shape_too_large_to_index_is_invalid_argument() -> None:
    # its own server: the shared Echo must stay free of tracebacks (test_openapi checks)
    check_server_python()
    server = ModelkilnServer("Echo").start()
    client = None
    try:
        server.wait_v2_ready(timeout=30)
        client = Client("127.0.0.1:%d" % server.grpc_port)
        shape = [0, 2 ** 40, 2 ** 40]
        for build in (raw_request, typed_request):
            request = build("Echo", [("x", "FP32", np.zeros(0, np.float32))])
            request.inputs[0].shape[:] = shape
            answer = client.infer(request)
            assert answer.code == "INVALID_ARGUMENT" and "'x'" in answer.details, answer
        rest = server.infer({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape,
                                         "data": []}]})
        assert rest.status_code == 400, rest.text
    finally:
        if client is not None:
            client.close()
        server.stop()


# -- errors from the model ------------------------------------------------------------------

def test_model_value_error_is_internal_with_its_message(clients: Dict[str, Any],
                                                        stubs: Dict[str, Client]) -> None:
    x = np.ones((1,), np.float32)
    error = server_error(lambda: clients["Fails"].infer("Fails", [make_input("x", x, "FP32")]))
    assert error.status() == "StatusCode.INTERNAL"
    assert error.message() == "this model always fails: boom"
    answer = stubs["Fails"].infer(typed_request("Fails", [("x", "FP32", x)]))
    assert_error(answer, "INTERNAL", "this model always fails: boom", 500)
    assert answer.trailing["modelkiln-reason"] == "MICROSERVICE_INTERNAL_ERROR"


def test_model_exception_with_status_code_418_is_failed_precondition(
        clients: Dict[str, Any], stubs: Dict[str, Client]) -> None:
    """status_for(418): a 4xx without a gRPC code of its own is FAILED_PRECONDITION, and the
    trailing metadata keeps the status the model chose."""
    x = np.ones((1,), np.float32)
    error = server_error(lambda: clients["Teapot"].infer("Teapot",
                                                         [make_input("x", x, "FP32")]))
    assert error.status() == "StatusCode.FAILED_PRECONDITION"
    assert error.message() == "I am a teapot, not a model"
    answer = stubs["Teapot"].infer(raw_request("Teapot", [("x", "FP32", x)]))
    assert_error(answer, "FAILED_PRECONDITION", "I am a teapot, not a model", 418)


def test_unencodable_model_answer_is_internal(stubs: Dict[str, Client]) -> None:
    answer = stubs["Shapes"].infer(
        raw_request("Shapes", [("x", "BYTES", np.array([b"complex"], dtype=object))]))
    assert answer.code == "INTERNAL", answer
    assert "complex128" in answer.details
    assert answer.trailing["modelkiln-http-status"] == "500"


def test_successful_calls_carry_no_error_metadata(stubs: Dict[str, Client]) -> None:
    answer = stubs["Echo"].infer(raw_request("Echo", [("x", "INT8", np.array([1], np.int8))]))
    assert answer.code == "OK", answer
    assert "modelkiln-http-status" not in answer.trailing


# -- transport ------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_calls(servers: Dict[str, ModelkilnServer], algorithm: str) -> None:
    client = grpcclient.InferenceServerClient("127.0.0.1:%d" % servers["Echo"].grpc_port)
    array = sample("FP64", 50, seed=3)
    try:
        result = client.infer("Echo", [make_input("x", array, "FP64")],
                              compression_algorithm=algorithm)
        assert_same_array(result.as_numpy("output-0"), array)
    finally:
        client.close()


def test_concurrent_calls_each_get_their_own_answer(servers: Dict[str, ModelkilnServer]
                                                    ) -> None:
    """Calls in parallel on one channel (the server's gRPC threads share one model object,
    behind its lock): each answer holds its own request's data and id."""
    client = grpcclient.InferenceServerClient("127.0.0.1:%d" % servers["Echo"].grpc_port)

    def one(i: int) -> None:
        array = np.full((3, 2), i, dtype=np.int64)
        result = client.infer("Echo", [make_input("x", array, "INT64")], request_id=str(i))
        assert result.get_response().id == str(i)
        assert_same_array(result.as_numpy("output-0"), array)

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(200)))
    finally:
        client.close()


def test_servers_still_healthy_after_errors(servers: Dict[str, ModelkilnServer],
                                            clients: Dict[str, Any]) -> None:
    for name in ("Fails", "Teapot", "Declared", "Echo", "Shapes"):
        assert clients[name].is_server_ready() is True, name
        answer = requests.get(servers[name].url("/v2/health/ready"), timeout=10)
        assert answer.json() == {"ready": True}, name
        assert servers[name].alive(), name
        assert "Traceback" not in servers[name].log() or name in ("Fails", "Shapes"), (
            servers[name].log_tail())
