"""V2 REST in-process: how a Seldon-style class answers, declared inputs, errors, readiness."""

import json

import numpy as np
import pytest

from .test_http import call, make_client, post_json


class Seen(object):
    """Answers with what predict() received, so tests can see the mapping."""

    def predict(self, X, names, meta=None):
        return {"dtype": str(X.dtype), "shape": list(X.shape), "names": names, "meta": meta,
                "values": X.tolist()}


class Doubler(object):
    def predict(self, X, names):
        if X.size and X.flat[0] == 500:
            raise ValueError("model cannot handle this")
        if X.size and X.flat[0] == 418:
            raise Teapot("short and stout")
        return X * 2

    def class_names(self):
        return ["a", "b"]

    def tags(self):
        return {"model": "doubler"}


class Teapot(Exception):
    status_code = 418

    def __init__(self, message):
        super(Teapot, self).__init__(message)
        self.message = message


class Kinds(object):
    """str, bytes or dict answers, chosen by the first value."""

    def predict(self, X, names):
        return {1: "text", 2: b"\x00\xff", 3: {"k": [1, 2]}}[int(X.flat[0])]


class Declared(object):
    def predict(self, X, names):
        return X.sum(axis=1)

    def init_metadata(self):
        return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}],
                "outputs": [{"name": "total", "datatype": "FP32", "shape": [-1]}]}


class RawV2(object):
    def predict(self, X, names):
        raise AssertionError("predict_v2_raw wins for V2 requests")

    def predict_v2_raw(self, request):
        a, b = (i["data"] for i in request["inputs"])
        return {"outputs": [{"name": "sum", "data": a + b},
                            {"name": "names", "data": ["x", "y"], "datatype": "BYTES"}],
                "parameters": {"raw": True}}


class SeldonRaw(object):
    def predict_raw(self, message):
        values = message["data"]["ndarray"]
        return {"data": {"ndarray": [[v * 10 for v in row] for row in values]},
                "meta": {"tags": {"raw": "yes"}}}


class Router(object):
    def route(self, X, names):
        return 1 if X.sum() > 0 else 0


class Outliers(object):
    def score(self, X, names):
        return np.abs(X).sum(axis=1)


class Combiner(object):
    def aggregate(self, Xs, names):
        return Xs[0]


def infer(client, body, model="Test"):
    return post_json(client, "/v2/models/%s/infer" % model, body)


def fp(name, shape, data, datatype="FP64"):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_one_input_is_X_with_its_shape_and_datatype():
    client = make_client(Seen())
    status, body, _ = infer(client, {"id": "r-1", "parameters": {"p": "q"},
                                     "inputs": [fp("x", [2, 2], [1, 2, 3, 4], "INT32")]})
    assert status == 200, body
    seen = json.loads(body["outputs"][0]["data"][0])
    assert body["outputs"][0]["parameters"] == {"content_type": "json"}
    assert seen == {"dtype": "int32", "shape": [2, 2], "names": [],
                    "meta": {"puid": "r-1", "tags": {"p": "q"}}, "values": [[1, 2], [3, 4]]}
    assert body["id"] == "r-1" and body["model_name"] == "Test"
    assert body["parameters"] == {"p": "q"}


def test_column_inputs_become_one_table():
    client = make_client(Seen())
    status, body, _ = infer(client, {"inputs": [fp("a", [2], [1, 2]), fp("b", [2, 1], [3, 4])]})
    seen = json.loads(body["outputs"][0]["data"][0])
    assert status == 200 and seen["names"] == ["a", "b"]
    assert seen["values"] == [[1.0, 3.0], [2.0, 4.0]]


def test_other_input_combinations_are_a_clear_400():
    client = make_client(Seen())
    status, body, _ = infer(client, {"inputs": [fp("a", [2], [1, 2]), fp("b", [3], [1, 2, 3])]})
    assert status == 400
    assert "each must have shape [N] or [N, 1] with the same N, got a [2], b [3]" in body["error"]
    assert "predict_v2_raw(request)" in body["error"]


@pytest.fixture(scope="module")
def doubler():
    return make_client(Doubler())


def test_answer_with_class_names_and_tags(doubler):
    status, body, _ = infer(doubler, {"parameters": {"req": 1},
                                      "inputs": [fp("x", [1, 2], [1.5, 2])]})
    assert status == 200
    assert body == {"model_name": "Test", "parameters": {"req": 1, "model": "doubler"},
                    "outputs": [{"name": "output-0", "datatype": "FP64", "shape": [1, 2],
                                 "data": [3.0, 4.0], "parameters": {"names": ["a", "b"]}}]}


def test_outputs_selection_and_binary_output(doubler):
    request = {"inputs": [fp("x", [2], [1, 2], "INT64")],
               "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}]}
    response = doubler.open("/v2/models/Test/infer", method="POST", data=json.dumps(request),
                            content_type="application/json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    raw = response.get_data()
    length = int(response.headers["Inference-Header-Content-Length"])
    header = json.loads(raw[:length])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert np.frombuffer(raw[length:], dtype="<i8").tolist() == [2, 4]
    request["outputs"] = [{"name": "nope"}]
    status, body, _ = infer(doubler, request)
    assert status == 400 and body["error"] == "unknown output 'nope': this model answers 'output-0'"


def test_binary_request_and_binary_output_for_all(doubler):
    header = json.dumps({"parameters": {"binary_data_output": True}, "inputs": [
        {"name": "x", "shape": [1, 2], "datatype": "FP32",
         "parameters": {"binary_data_size": 8}}]}).encode()
    data = header + np.array([1.25, 2.5], dtype="<f4").tobytes()
    response = doubler.open("/v2/models/Test/infer", method="POST", data=data,
                            headers={"Inference-Header-Content-Length": str(len(header))})
    assert response.status_code == 200
    raw = response.get_data()
    length = int(response.headers["Inference-Header-Content-Length"])
    assert np.frombuffer(raw[length:], dtype="<f4").tolist() == [2.5, 5.0]


@pytest.mark.parametrize("first, output", [
    (1, {"name": "output-0", "datatype": "BYTES", "shape": [1], "data": ["text"],
         "parameters": {"content_type": "str"}}),
    (2, {"name": "output-0", "datatype": "BYTES", "shape": [1], "data": ["AP8="],
         "parameters": {"content_type": "base64"}}),
    (3, {"name": "output-0", "datatype": "BYTES", "shape": [1], "data": ['{"k":[1,2]}'],
         "parameters": {"content_type": "json"}}),
])
def test_str_bytes_and_dict_answers(first, output):
    status, body, _ = infer(make_client(Kinds()), {"inputs": [fp("x", [1], [first])]})
    assert status == 200 and body["outputs"] == [output]


@pytest.mark.parametrize("first, status, error", [
    (500, 500, "model cannot handle this"), (418, 418, "short and stout")])
def test_user_errors_in_v2_shape(doubler, first, status, error):
    got, body, _ = infer(doubler, {"inputs": [fp("x", [1], [first])]})
    assert (got, body) == (status, {"error": error})


@pytest.fixture(scope="module")
def declared():
    return make_client(Declared())


@pytest.mark.parametrize("inputs, fragment", [
    ([fp("y", [1, 2], [1, 2], "FP32")], "missing input(s) 'x': this model declares x (FP32 [-1, 2])"),
    ([fp("x", [1, 2], [1, 2], "FP32"), fp("z", [1], [1], "FP32")], "unknown input 'z'"),
    ([fp("x", [1, 2], [1, 2], "FP64")], "input 'x' must have datatype FP32, got FP64"),
    ([fp("x", [1, 3], [1, 2, 3], "FP32")], "input 'x' must have shape [-1, 2] (-1: any size), got [1, 3]"),
])
def test_declared_inputs_are_enforced_on_v2(declared, inputs, fragment):
    status, body, _ = infer(declared, {"inputs": inputs})
    assert status == 400 and fragment in body["error"]


def test_declared_output_name_and_metadata(declared):
    status, body, _ = infer(declared, {"inputs": [fp("x", [2, 2], [1, 2, 3, 4], "FP32")]})
    assert status == 200 and body["outputs"][0]["name"] == "total"
    assert body["outputs"][0]["data"] == [3.0, 7.0]
    status, meta, _ = call(declared, "GET", "/v2/models/Test")
    assert (status, meta) == (200, {
        "name": "Test", "platform": "modelkiln",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}],
        "outputs": [{"name": "total", "datatype": "FP32", "shape": [-1]}]})


@pytest.mark.parametrize("data, status, fragment", [
    ({"ndarray": [[1, 2], [3, 4]]}, 200, None),
    ({"tensor": {"shape": [1, 2], "values": [1.5, 2]}}, 200, None),
    ({"ndarray": [[1, 2, 3]]}, 400, "data: input 'x' must have shape [-1, 2] (-1: any size), got [1, 3]"),
    ({"ndarray": [["a", "b"]]}, 400, "data: input 'x' must hold FP32 values (floating point numbers or integers), got strings"),
])
def test_declared_inputs_are_enforced_on_seldon_data(declared, data, status, fragment):
    got, body, _ = post_json(declared, "/api/v1.0/predictions", {"data": data})
    assert got == status, body
    if fragment:
        assert body["status"]["info"] == fragment
        assert body["status"]["reason"] == "MICROSERVICE_BAD_DATA"


def test_predict_v2_raw_gets_arrays_and_names_its_outputs():
    status, body, _ = infer(make_client(RawV2()), {"inputs": [
        fp("a", [2], [1, 2], "INT64"), fp("b", [2], [10, 20], "INT64")]})
    assert status == 200
    assert body["parameters"] == {"raw": True}
    assert body["outputs"] == [
        {"name": "sum", "datatype": "INT64", "shape": [2], "data": [11, 22]},
        {"name": "names", "datatype": "BYTES", "shape": [2], "data": ["x", "y"]}]


def test_a_raw_only_seldon_class_answers_through_a_seldon_message():
    status, body, _ = infer(make_client(SeldonRaw()), {"inputs": [fp("x", [1, 2], [1, 2],
                                                                        "INT64")]})
    assert status == 200 and body["parameters"] == {"raw": "yes"}
    assert body["outputs"][0]["data"] == [10, 20] and body["outputs"][0]["shape"] == [1, 2]


@pytest.mark.parametrize("obj, service_type, data, expected", [
    (Router(), "ROUTER", [1.0], {"name": "route", "datatype": "INT64", "shape": [1],
                                 "data": [1]}),
    (Outliers(), "OUTLIER_DETECTOR", [[1.0, -2.0]], {"name": "outlier_score",
                                                    "datatype": "FP64", "shape": [1],
                                                    "data": [3.0]}),
])
def test_router_and_outlier_detector_over_v2(obj, service_type, data, expected):
    shape = list(np.array(data).shape)
    status, body, _ = infer(make_client(obj, service_type),
                            {"inputs": [fp("x", shape, data)]})
    assert status == 200 and body["outputs"] == [expected]


def test_a_combiner_cannot_be_reached_over_v2():
    status, body, _ = infer(make_client(Combiner(), "COMBINER"), {"inputs": [fp("x", [1], [1])]})
    assert status == 400 and "use Seldon's /aggregate" in body["error"]


@pytest.mark.parametrize("method, path, status, body", [
    ("GET", "/v2", 200, {"name": "modelkiln", "version": "0.1.0",
                         "extensions": ["binary_tensor_data"]}),
    ("GET", "/v2/health/live", 200, {"live": True}),
    ("GET", "/v2/health/ready", 200, {"ready": True}),
    ("GET", "/v2/models/Test/ready", 200, {"name": "Test", "ready": True}),
    ("GET", "/v2/models/Other", 404, {"error": "unknown model 'Other': this server serves 'Test'"}),
    ("GET", "/v2/models/Test/versions/2/ready", 404,
     {"error": "model 'Test' has no version '2' (it has no versions)"}),
    ("POST", "/v2/models/Test", 405, None),
    ("GET", "/v2/elsewhere", 404, {"error": "no route /v2/elsewhere; see /openapi.json for the "
                                            "routes served"}),
])
def test_v2_routes(doubler, method, path, status, body):
    got, answer, _ = call(doubler, method, path)
    assert got == status
    if body is not None:
        assert answer == body
    else:
        assert set(answer) == {"error"}


def test_name_and_version_settings():
    client = make_client(Doubler(), env={"MODELKILN_V2_MODEL_NAME": "iris",
                                         "MODELKILN_V2_MODEL_VERSION": "7"})
    status, body, _ = infer(client, {"inputs": [fp("x", [1], [1])]}, model="iris/versions/7")
    assert status == 200 and (body["model_name"], body["model_version"]) == ("iris", "7")
    assert call(client, "GET", "/v2/models/iris")[1]["versions"] == ["7"]
    assert call(client, "GET", "/v2/models/Test")[0] == 404
    seldon = make_client(Doubler(), env={"PREDICTIVE_UNIT_ID": "classifier"})
    assert call(seldon, "GET", "/v2/models/classifier/ready")[0] == 200


def test_not_ready_answers():
    client = make_client(Doubler(), ready=False)
    for path in ("/v2/health/ready", "/v2/models/Test/ready"):
        status, body, _ = call(client, "GET", path)
        assert status == 400 and "still loading" in body["error"]
    status, body, _ = infer(client, {"inputs": [fp("x", [1], [1])]})
    assert status == 503 and "still loading" in body["error"]
    assert call(client, "GET", "/v2/health/live")[0] == 200


@pytest.mark.parametrize("body, headers, fragment", [
    (b"", {}, "empty body: send a V2 inference request as JSON"),
    (b"[1]", {}, "a V2 inference request is a JSON object with inputs, got [1]"),
    (b'{"inputs": []}', {}, "needs inputs: a non-empty list"),
    (b'{"inputs": [1]}', {}, "inputs[0] must be an object"),
    (b'{"id": 5, "inputs": [{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}', {},
     "request id must be a string"),
    (b'{"inputs": [{"name":"x","shape":[1],"datatype":"FP64","data":[1]},'
     b'{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}', {}, "input names must be unique"),
    (b'{"inputs": [{"name":"x","shape":[1],"datatype":"FP64","data":[NaN]}]}', {},
     "valid JSON number"),
    (b'{"inputs": []}xx', {"Inference-Header-Content-Length": "100"}, "but the body has 16 bytes"),
])
def test_bad_v2_bodies(doubler, body, headers, fragment):
    status, answer, _ = call(doubler, "POST", "/v2/models/Test/infer", data=body,
                             headers=headers)
    assert status == 400 and fragment in answer["error"]


def test_body_limit_holds_on_v2():
    client = make_client(Doubler(), env={"MODELKILN_MAX_REQUEST_SIZE": "1k"})
    status, body, _ = infer(client, {"inputs": [fp("x", [300], list(range(300)))]})
    assert status == 413 and "exceeds the limit of 1024 bytes" in body["error"]


class OnlyV2(object):
    def predict_v2_raw(self, request):
        return {"outputs": [{"name": "n", "data": [len(request["inputs"])]}]}


def test_a_class_with_only_predict_v2_raw_serves_v2_and_says_so_on_seldon_routes():
    client = make_client(OnlyV2())
    status, body, _ = infer(client, {"inputs": [fp("x", [1], [1])]})
    assert status == 200 and body["outputs"][0]["data"] == [1]
    status, body, _ = post_json(client, "/predict", {"data": {"ndarray": [[1]]}})
    assert status == 400 and "defines only predict_v2_raw()" in body["status"]["info"]


@pytest.mark.parametrize("request_body, fragment", [
    ({"inputs": [fp("x", [1], [1])], "outputs": [{"name": "output-0"}, {"name": "output-0"}]},
     "output 'output-0' is requested twice"),
    ({"inputs": [fp("x", [1], [1])], "outputs": [{"name": "output-0",
                                                  "parameters": {"binary_data": "yes"}}]},
     "output 'output-0': binary_data must be true or false"),
    ({"inputs": [fp("x", [1], [1])], "parameters": {"binary_data_output": 1}},
     "binary_data_output must be true or false"),
    ({"inputs": [fp("x", [1], [1])], "parameters": []}, "request parameters must be an object"),
])
def test_request_options_are_checked(doubler, request_body, fragment):
    status, body, _ = infer(doubler, request_body)
    assert status == 400 and fragment in body["error"]


def test_a_model_answer_v2_cannot_carry_is_a_500():
    status, body, _ = infer(make_client(Kinds()), {"inputs": [fp("x", [1], [9])]})
    assert status == 500  # Kinds has no answer for 9: a KeyError in the model


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_request_bodies(doubler, encoding):
    import gzip
    import zlib

    raw = json.dumps({"inputs": [fp("x", [2], [1, 2])]}).encode()
    data = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    status, body, _ = call(doubler, "POST", "/v2/models/Test/infer", data=data,
                           headers={"Content-Encoding": encoding})
    assert status == 200 and body["outputs"][0]["data"] == [2.0, 4.0]


@pytest.mark.parametrize("encoding, data, status, fragment", [
    ("br", b"xx", 415, "Content-Encoding 'br' is not supported"),
    ("gzip", b"not gzip at all", 400, "body is not valid gzip data"),
    ("gzip", None, 413, "inflates to more than the limit of 1024 bytes"),
])
def test_bad_compressed_bodies(encoding, data, status, fragment):
    import gzip

    client = make_client(Doubler(), env={"MODELKILN_MAX_REQUEST_SIZE": "1k"})
    if data is None:  # a few hundred bytes that inflate to 200 kB
        data = gzip.compress(b" " * 200000)
        assert len(data) < 1024
    got, body, _ = call(client, "POST", "/v2/models/Test/infer", data=data,
                        headers={"Content-Encoding": encoding})
    assert got == status and fragment in body["error"]
