"""V2 REST against live modelkiln servers, through the real client: tritonclient.http.

Every test asserts on what came back (values, datatypes, shapes, messages), never only on a
status. The servers (one per class of tests/v2/models) are started once per session.
"""

import json
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from .servers import ModelkilnServer
from .values import DATATYPES, EXTREME_NUMBERS, echoed, sample

MODELS = ("Echo", "Doubler", "Declared", "Shapes", "Router", "Outlier", "RawV2", "Fails",
          "Teapot")
# (binary inputs, binary outputs)
MODES = {"json": (False, False), "binary": (True, True), "bin-in-json-out": (True, False),
         "json-in-bin-out": (False, True)}


@pytest.fixture(scope="module")
def servers(fleet: Any) -> Dict[str, ModelkilnServer]:
    return fleet.get(*MODELS)


@pytest.fixture(scope="module")
def clients(servers: Dict[str, ModelkilnServer]) -> Iterator[Dict[str, Any]]:
    made = {name: httpclient.InferenceServerClient(server.host_port, network_timeout=60.0,
                                                   connection_timeout=60.0)
            for name, server in servers.items()}
    yield made
    for client in made.values():
        client.close()


def make_input(name: str, array: np.ndarray, datatype: str, binary: bool
               ) -> httpclient.InferInput:
    item = httpclient.InferInput(name, list(array.shape), datatype)
    item.set_data_from_numpy(array, binary_data=binary)
    return item


def as_json(*names: str) -> List[httpclient.InferRequestedOutput]:
    """Outputs asked for in JSON (without outputs, tritonclient asks for all in binary)."""
    return [httpclient.InferRequestedOutput(name, binary_data=False) for name in names]


def server_error(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


# -- every datatype -----------------------------------------------------------------------

def assert_same(got: np.ndarray, want: np.ndarray, datatype: str, binary_out: bool) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    if datatype == "BYTES":
        # JSON answers hold strings, binary ones bytes (tritonclient's as_numpy)
        expected = want if binary_out else np.vectorize(lambda b: b.decode("utf-8"),
                                                        otypes=[object])(want)
        assert got.dtype == np.object_, got.dtype
        assert got.ravel().tolist() == expected.ravel().tolist()
        return
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    # bit for bit: -0.0, subnormals and the extremes survive exactly
    if got.tobytes() != want.tobytes():
        bad = np.flatnonzero(got.ravel() != want.ravel())[:5]
        raise AssertionError("values differ at %s: got %s, want %s"
                             % (bad.tolist(), got.ravel()[bad], want.ravel()[bad]))


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("rows", [1, 1000])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_round_trips_exactly(clients: Dict[str, Any], datatype: str, rows: int,
                                            mode: str) -> None:
    binary_in, binary_out = MODES[mode]
    array = sample(datatype, rows, seed=rows + DATATYPES.index(datatype))
    result = clients["Echo"].infer(
        "Echo", [make_input("x", array, datatype, binary_in)],
        outputs=[httpclient.InferRequestedOutput("output-0", binary_data=binary_out)])
    output = result.get_output("output-0")
    assert output["datatype"] == datatype
    assert output["shape"] == [rows, 4]
    assert ("binary_data_size" in (output.get("parameters") or {})) == binary_out, output
    assert ("data" in output) == (not binary_out), output
    assert_same(result.as_numpy("output-0"), array, datatype, binary_out)


def test_bytes_that_are_not_utf8_round_trip_in_binary_and_are_base64_in_json(
        clients: Dict[str, Any], servers: Dict[str, ModelkilnServer]) -> None:
    array = np.array([[b"\xff\xfe", b"", "ok".encode("utf-8"), b"\x00\x80"]], dtype=object)
    result = clients["Echo"].infer(
        "Echo", [make_input("x", array, "BYTES", True)],
        outputs=[httpclient.InferRequestedOutput("output-0", binary_data=True)])
    assert result.as_numpy("output-0").tolist() == array.tolist()
    # In JSON, one element that is not UTF-8 makes every element base64, and says so.
    result = clients["Echo"].infer(
        "Echo", [make_input("x", array, "BYTES", True)],
        outputs=[httpclient.InferRequestedOutput("output-0", binary_data=False)])
    output = result.get_output("output-0")
    assert output["parameters"] == {"content_type": "base64"}
    assert output["data"] == ["//4=", "", "b2s=", "AIA="]


def test_scalar_and_empty_tensors(clients: Dict[str, Any]) -> None:
    empty = np.zeros((0, 4), dtype=np.float32)
    for binary in (False, True):
        result = clients["Echo"].infer(
            "Echo", [make_input("x", empty, "FP32", binary)],
            outputs=[httpclient.InferRequestedOutput("output-0", binary_data=binary)])
        got = result.as_numpy("output-0")
        assert got.shape == (0, 4) and got.dtype == np.float32
    scalar = np.array(7, dtype=np.int16)
    result = clients["Echo"].infer("Echo", [make_input("x", scalar, "INT16", True)],
                                   outputs=as_json("output-0"))
    assert result.get_output("output-0") == {"name": "output-0", "datatype": "INT16",
                                             "shape": [], "data": [7]}


def limit_cases() -> List[Any]:
    cases = []
    for datatype in DATATYPES:
        for value in EXTREME_NUMBERS:
            cases.append(pytest.param(datatype, value, id="%s-%r" % (datatype, value)))
    return cases


@pytest.mark.parametrize("datatype, value", limit_cases())
def test_json_numbers_at_the_limits_of_every_datatype(servers: Dict[str, ModelkilnServer],
                                                      datatype: str, value: Any) -> None:
    """A value the datatype holds comes back (rounded to it, for floats); any other is a
    400 naming the input, never a wrapped integer, an infinity or a null."""
    answer = servers["Echo"].infer({"inputs": [{"name": "x", "datatype": datatype,
                                                "shape": [1], "data": [value]}]})
    want = echoed(datatype, value)
    if want is None:
        assert answer.status_code == 400, (answer.status_code, answer.text)
        assert "'x'" in answer.json()["error"]
    else:
        assert answer.status_code == 200, answer.text
        output = answer.json()["outputs"][0]
        assert (output["datatype"], output["shape"]) == (datatype, [1])
        assert json.dumps(output["data"]) == json.dumps([want])


# -- server and model metadata --------------------------------------------------------------

def test_server_live_ready_and_metadata(clients: Dict[str, Any]) -> None:
    client = clients["Echo"]
    assert client.is_server_live() is True
    assert client.is_server_ready() is True
    assert client.is_model_ready("Echo") is True
    assert client.is_model_ready("NotServed") is False
    metadata = client.get_server_metadata()
    assert metadata["name"] == "modelkiln"
    assert isinstance(metadata["version"], str) and metadata["version"]
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_shows_declared_inputs_and_version(clients: Dict[str, Any]) -> None:
    client = clients["Declared"]
    expected = {
        "name": "Declared",
        "versions": ["3"],
        "platform": "test-platform",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "sums", "datatype": "FP32", "shape": [-1, 1]}],
    }
    assert client.get_model_metadata("Declared") == expected
    assert client.get_model_metadata("Declared", model_version="3") == expected
    assert client.is_model_ready("Declared", model_version="3") is True
    error = server_error(lambda: client.get_model_metadata("Declared", model_version="4"))
    assert error.status() == "404"
    assert error.message() == "model 'Declared' has no version '4' (it serves version '3')"


def test_model_metadata_without_declarations(clients: Dict[str, Any]) -> None:
    assert clients["Echo"].get_model_metadata("Echo") == {
        "name": "Echo", "platform": "modelkiln", "inputs": [], "outputs": []}


def test_unknown_model_is_404_naming_both_models(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1, 4), np.float32), "FP32", True)
    error = server_error(lambda: clients["Echo"].infer("Nope", [x]))
    assert error.status() == "404"
    assert error.message() == "unknown model 'Nope': this server serves 'Echo'"
    error = server_error(lambda: clients["Echo"].get_model_metadata("Nope"))
    assert error.status() == "404"
    assert error.message() == "unknown model 'Nope': this server serves 'Echo'"


# -- declared inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [False, True])
def test_declared_input_is_served_with_its_output_name_and_version(
        clients: Dict[str, Any], binary: bool) -> None:
    x = np.array([[1, 2, 3, 4], [0.5, 0.25, -1, 8]], dtype=np.float32)
    result = clients["Declared"].infer("Declared", [make_input("x", x, "FP32", binary)],
                                       model_version="3", request_id="declared-1")
    response = result.get_response()
    assert response["model_name"] == "Declared"
    assert response["model_version"] == "3"
    assert response["id"] == "declared-1"
    assert result.get_output("sums")["datatype"] == "FP32"
    got = result.as_numpy("sums")
    np.testing.assert_array_equal(got, np.array([[10], [7.75]], dtype=np.float32))
    assert got.dtype == np.float32


@pytest.mark.parametrize("binary", [False, True])
def test_declared_input_wrong_datatype_is_400_naming_it(clients: Dict[str, Any],
                                                        binary: bool) -> None:
    x = make_input("x", np.ones((2, 4), np.float64), "FP64", binary)
    error = server_error(lambda: clients["Declared"].infer("Declared", [x]))
    assert error.status() == "400"
    assert error.message() == "input 'x' must have datatype FP32, got FP64"


@pytest.mark.parametrize("shape", [(2, 3), (4,), (1, 4, 1)])
def test_declared_input_wrong_shape_is_400_naming_it(clients: Dict[str, Any],
                                                     shape: Any) -> None:
    x = make_input("x", np.ones(shape, np.float32), "FP32", True)
    error = server_error(lambda: clients["Declared"].infer("Declared", [x]))
    assert error.status() == "400"
    assert error.message() == ("V2 request: input 'x' must have shape [-1, 4] (-1: any size), "
                               "got %s" % list(shape))


def test_declared_input_missing_or_extra_is_400_naming_it(clients: Dict[str, Any]) -> None:
    y = make_input("y", np.ones((1, 4), np.float32), "FP32", True)
    error = server_error(lambda: clients["Declared"].infer("Declared", [y]))
    assert error.status() == "400"
    assert error.message() == "missing input(s) 'x': this model declares x (FP32 [-1, 4])"
    x = make_input("x", np.ones((1, 4), np.float32), "FP32", True)
    error = server_error(lambda: clients["Declared"].infer("Declared", [x, y]))
    assert error.status() == "400"
    assert error.message() == "unknown input 'y': this model declares x (FP32 [-1, 4])"


def test_wrong_version_is_404(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1, 4), np.float32), "FP32", True)
    error = server_error(lambda: clients["Declared"].infer("Declared", [x], model_version="9"))
    assert error.status() == "404"
    assert error.message() == "model 'Declared' has no version '9' (it serves version '3')"


# -- request id, parameters, outputs selection ----------------------------------------------

def test_request_id_and_parameters_are_echoed_with_tags(clients: Dict[str, Any]) -> None:
    x = np.array([[1, 2, 3, 4]], dtype=np.float64)
    result = clients["Doubler"].infer(
        "Doubler", [make_input("x", x, "FP64", True)], request_id="req-éß-1",
        parameters={"trace": "on", "n": 3})
    response = result.get_response()
    assert response["id"] == "req-éß-1"
    # request parameters, then the class's tags() (Seldon's merge order)
    assert response["parameters"] == {"trace": "on", "n": 3, "model_tag": "doubler"}
    output = result.get_output("output-0")
    assert output["parameters"]["names"] == ["a", "b", "c", "d"]
    assert output["datatype"] == "FP64"
    np.testing.assert_array_equal(result.as_numpy("output-0"), x * 2)


def test_no_request_id_means_no_id_in_the_answer(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1, 4), np.float32), "FP32", True)
    response = clients["Echo"].infer("Echo", [x]).get_response()
    assert "id" not in response
    assert "parameters" not in response


def test_outputs_selection_picks_and_orders_outputs(clients: Dict[str, Any]) -> None:
    x = np.array([[1, 2], [3, 4.5]], dtype=np.float64)
    client = clients["RawV2"]
    result = client.infer("RawV2", [make_input("x", x, "FP64", True)],
                          outputs=[httpclient.InferRequestedOutput("names", binary_data=False)])
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["names"]
    assert result.as_numpy("names").tolist() == ["x"]
    assert result.as_numpy("total") is None
    # both, in the order asked, one binary and one JSON
    result = client.infer("RawV2", [make_input("x", x, "FP64", False)], outputs=[
        httpclient.InferRequestedOutput("names", binary_data=True),
        httpclient.InferRequestedOutput("total", binary_data=False)])
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == ["names", "total"]
    assert outputs[0]["parameters"] == {"binary_data_size": 5}
    assert outputs[1]["data"] == [3.0, 7.5]
    assert result.as_numpy("names").tolist() == [b"x"]
    np.testing.assert_array_equal(result.as_numpy("total"), np.array([3.0, 7.5]))


def test_unknown_output_requested_is_400_naming_it(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1, 2), np.float64), "FP64", True)
    error = server_error(lambda: clients["RawV2"].infer(
        "RawV2", [x], outputs=[httpclient.InferRequestedOutput("nope")]))
    assert error.status() == "400"
    assert error.message() == "unknown output 'nope': this model answers 'total', 'names'"


# -- predict_v2_raw, several inputs, answer kinds, service types ---------------------------

def test_predict_v2_raw_gets_every_input_and_answers_two_outputs(clients: Dict[str, Any]
                                                                 ) -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.float32)
    b = np.array([10, 20], dtype=np.int64)
    result = clients["RawV2"].infer(
        "RawV2", [make_input("a", a, "FP32", True), make_input("b", b, "INT64", False)],
        request_id="raw-1", parameters={"ignored": True})
    response = result.get_response()
    assert response["id"] == "raw-1"
    # predict_v2_raw's own parameters, not the request's
    assert response["parameters"] == {"raw": True, "n_inputs": 2}
    assert [(o["name"], o["datatype"], o["shape"]) for o in response["outputs"]] == [
        ("total", "FP64", [2]), ("names", "BYTES", [2])]
    np.testing.assert_array_equal(result.as_numpy("total"), np.array([3.0, 7.0]))
    assert result.as_numpy("total").dtype == np.float64
    assert result.as_numpy("names").tolist() == [b"a", b"b"]  # binary: tritonclient's default


def test_several_inputs_reach_predict_as_columns(clients: Dict[str, Any]) -> None:
    a = np.array([1, 2, 3], dtype=np.float32)
    b = np.array([[10], [20], [30]], dtype=np.float32)
    result = clients["Doubler"].infer("Doubler", [make_input("a", a, "FP32", True),
                                                  make_input("b", b, "FP32", False)])
    np.testing.assert_array_equal(result.as_numpy("output-0"),
                                  np.array([[2, 20], [4, 40], [6, 60]], dtype=np.float32))
    assert result.get_output("output-0")["shape"] == [3, 2]


def test_several_inputs_that_are_not_columns_are_400(clients: Dict[str, Any]) -> None:
    a = make_input("a", np.ones((2,), np.float32), "FP32", True)
    b = make_input("b", np.ones((2, 2), np.float32), "FP32", True)
    error = server_error(lambda: clients["Doubler"].infer("Doubler", [a, b]))
    assert error.status() == "400"
    assert error.message().startswith(
        "several inputs reach predict(X, names) only as the columns of one table: each must "
        "have shape [N] or [N, 1] with the same N, got a [2], b [2, 2]")


@pytest.mark.parametrize("word, datatype, data, parameters", [
    ("str", "BYTES", ["héllo wörld"], {"content_type": "str"}),
    ("utf8bytes", "BYTES", ["ünïcode"], None),
    ("bytes", "BYTES", ["AP/+IHJhdw=="], {"content_type": "base64"}),
    ("dict", "BYTES", ['{"answer":42,"names":[],"nested":{"x":[1.5,null]}}'],
     {"content_type": "json"}),
    ("list", "INT64", [1, 2, 3, 4], None),
    ("bigendian", "FP64", [1.5, -2.25], None),
])
def test_str_bytes_dict_and_list_answers(clients: Dict[str, Any], word: str, datatype: str,
                                         data: List[Any], parameters: Optional[Dict]) -> None:
    x = make_input("x", np.array([word.encode()], dtype=object), "BYTES", False)
    output = clients["Shapes"].infer("Shapes", [x], outputs=as_json("output-0")
                                     ).get_output("output-0")
    assert output["datatype"] == datatype
    assert output["data"] == data
    assert output.get("parameters") == parameters
    if word == "dict":
        assert json.loads(output["data"][0]) == {"answer": 42, "names": [],
                                                 "nested": {"x": [1.5, None]}}


def test_str_and_bytes_answers_in_binary(clients: Dict[str, Any]) -> None:
    for word, want in (("str", "héllo wörld".encode("utf-8")), ("bytes", b"\x00\xff\xfe raw")):
        x = make_input("x", np.array([word.encode()], dtype=object), "BYTES", True)
        result = clients["Shapes"].infer(
            "Shapes", [x], outputs=[httpclient.InferRequestedOutput("output-0",
                                                                    binary_data=True)])
        assert result.as_numpy("output-0").tolist() == [want]
        assert result.get_output("output-0")["shape"] == [1]


@pytest.mark.parametrize("value, branch", [(3.5, 1), (-2.0, 0)])
def test_router_answers_its_branch(clients: Dict[str, Any], value: float, branch: int) -> None:
    x = make_input("x", np.array([[value, 1.0]], np.float64), "FP64", True)
    result = clients["Router"].infer("Router", [x], outputs=as_json("route"))
    output = result.get_output("route")
    assert (output["datatype"], output["shape"], output["data"]) == ("INT64", [1], [branch])


def test_outlier_detector_answers_scores(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.array([[1, -2], [3, 4], [0, 0]], np.float32), "FP32", True)
    result = clients["Outlier"].infer("Outlier", [x])
    output = result.get_output("outlier_score")
    assert (output["datatype"], output["shape"]) == ("FP64", [3])
    np.testing.assert_array_equal(result.as_numpy("outlier_score"), [3.0, 7.0, 0.0])


# -- errors from the model ------------------------------------------------------------------

def test_model_value_error_is_500_with_its_message(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1,), np.float32), "FP32", True)
    error = server_error(lambda: clients["Fails"].infer("Fails", [x]))
    assert error.status() == "500"
    assert error.message() == "this model always fails: boom"


def test_model_exception_with_status_code_keeps_it(clients: Dict[str, Any]) -> None:
    x = make_input("x", np.ones((1,), np.float32), "FP32", True)
    error = server_error(lambda: clients["Teapot"].infer("Teapot", [x]))
    assert error.status() == "418"
    assert error.message() == "I am a teapot, not a model"


def test_servers_still_healthy_after_errors(servers: Dict[str, ModelkilnServer]) -> None:
    for name in ("Fails", "Teapot", "Declared"):
        answer = requests.get(servers[name].url("/v2/health/ready"), timeout=10)
        assert answer.json() == {"ready": True}, name
        assert servers[name].alive(), name
