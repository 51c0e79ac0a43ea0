"""The WSGI app in-process: every route, body form and error, as tables of request -> answer."""

import io
import json

import numpy as np
import pytest
from werkzeug.test import Client

from python_runtime.model.component import Component
from python_runtime.transport.http import LoadState, create_app
from python_runtime.model.response import Response
from python_runtime.settings import Settings


class Teapot(Exception):
    status_code = 418

    def __init__(self, message):
        super(Teapot, self).__init__(message)
        self.message = message

    def to_dict(self):
        return {"status": {"status": 1, "info": self.message, "code": 1402, "reason": "TEAPOT"}}


class Full(object):
    """Implements every hook."""

    def predict(self, X, features_names, meta=None):
        if isinstance(X, np.ndarray) and X.size and X.flat[0] == 418:
            raise Teapot("short and stout")
        if isinstance(X, np.ndarray) and X.size and X.flat[0] == 500:
            raise ValueError("model cannot handle this")
        if isinstance(X, str) and X == "meta":
            return {"meta": meta}
        if isinstance(X, np.ndarray):
            return Response(X * 2, tags={"runtime": "yes"},
                            metrics=[{"type": "COUNTER", "key": "calls", "value": 1}])
        return X

    def transform_input(self, X, names):
        return X + 1

    def transform_output(self, X, names):
        return X * 10

    def route(self, X, names):
        return 1 if X.sum() > 0 else 0

    def aggregate(self, Xs, names_list):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)

    def send_feedback(self, features, names, reward, truth, routing=None):
        return [[reward, -1 if routing is None else routing]]

    def tags(self):
        return {"model": "full"}

    def class_names(self):
        return ["a", "b"]

    def health_status(self):
        return {"healthy": True}

    def init_metadata(self):
        return {"name": "full-model", "versions": ["v1"],
                "inputs": [{"messagetype": "ndarray", "schema": {"names": ["x", "y"]}}]}


class Bare(object):
    def predict(self, X, names):
        return X


class Raw(object):
    def predict_raw(self, msg):
        if msg.get("strData") == "status":
            return {"status": {"code": 422, "info": "nope", "status": 1, "reason": "USER"}}
        return {"jsonData": {"keys": sorted(msg)}, "meta": {"metrics": [
            {"type": "GAUGE", "key": "raw_gauge", "value": 3}]}}


class Outliers(object):
    def score(self, X, names):
        return np.abs(X).sum(axis=1)


def make_client(obj, service_type="MODEL", env=None, ready=True):
    env = dict(env or {})
    settings = Settings.load(["Test", "--service-type", service_type], environ=env,
                             read_annotations=False)
    state = LoadState()
    state.ready = ready
    app = create_app(settings, Component(obj, service_type), None, state)
    return Client(app)


def call(client, method, path, **kwargs):
    response = client.open(path, method=method, **kwargs)
    text = response.get_data(as_text=True)
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    return response.status_code, body, response


def post_json(client, path, body):
    return call(client, "POST", path, data=json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def full():
    return make_client(Full(), env={"PREDICTIVE_UNIT_ID": "full",
                                    "PREDICTIVE_UNIT_IMAGE": "repo/full:1.0"})


FULL_CASES = [
    # (id, path, body, status, expected body)
    ("predict-ndarray", "/predict", {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "p"}}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[2, 4]]},
      "meta": {"puid": "p", "tags": {"model": "full", "runtime": "yes"},
               "metrics": [{"type": "COUNTER", "key": "calls", "value": 1}],
               "requestPath": {"full": "repo/full:1.0"}}}),
    ("predict-v1-tensor", "/api/v1.0/predictions",
     {"data": {"tensor": {"shape": [1, 2], "values": [1.5, 2]}}}, 200,
     {"data": {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [3.0, 4.0]}},
      "meta": {"tags": {"model": "full", "runtime": "yes"},
               "metrics": [{"type": "COUNTER", "key": "calls", "value": 1}],
               "requestPath": {"full": "repo/full:1.0"}}}),
    ("predict-v01-strdata", "/api/v0.1/predictions", {"strData": "hello"}, 200,
     {"strData": "hello", "meta": {"tags": {"model": "full"},
                                   "requestPath": {"full": "repo/full:1.0"}}}),
    ("predict-meta-passed", "/predict", {"strData": "meta", "meta": {"puid": "x", "tags": {"t": 1}}},
     200, {"jsonData": {"meta": {"puid": "x", "tags": {"t": 1}}},
           "meta": {"puid": "x", "tags": {"t": 1, "model": "full"},
                    "requestPath": {"full": "repo/full:1.0"}}}),
    ("transform-input", "/transform-input", {"data": {"ndarray": [[1, 2]]}}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[2, 3]]},
      "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("transform-output", "/transform-output", {"data": {"ndarray": [[1, 2]]}}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[10, 20]]},
      "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("route", "/route", {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "r"}}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[1]]},
      "meta": {"puid": "r", "tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("aggregate-list", "/aggregate",
     [{"data": {"ndarray": [[1, 2]]}, "meta": {"tags": {"x": 1}}},
      {"data": {"ndarray": [[3, 4]]}, "meta": {"tags": {"y": 2}}}], 200,
     {"data": {"names": ["a", "b"], "ndarray": [[2.0, 3.0]]},
      "meta": {"tags": {"x": 1, "y": 2, "model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("aggregate-object", "/aggregate", {"seldonMessages": [{"data": {"ndarray": [[2, 2]]}}]}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[2.0, 2.0]]},
      "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("feedback", "/send-feedback",
     {"request": {"data": {"ndarray": [[1]]}}, "response": {"meta": {"routing": {"full": 1}}},
      "reward": 0.5}, 200,
     {"data": {"names": ["a", "b"], "ndarray": [[0.5, 1.0]]},
      "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("feedback-v1", "/api/v1.0/feedback", {"reward": 1}, 200,
     {"data": {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [1.0, -1.0]}},
      "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}),
    ("user-status-code", "/predict", {"data": {"ndarray": [418]}}, 418,
     {"status": {"status": 1, "info": "short and stout", "code": 1402, "reason": "TEAPOT"}}),
    ("user-exception", "/predict", {"data": {"ndarray": [500]}}, 500,
     {"status": {"status": 1, "info": "model cannot handle this", "code": -1,
                 "reason": "MICROSERVICE_INTERNAL_ERROR"}}),
]


@pytest.mark.parametrize("case", FULL_CASES, ids=[c[0] for c in FULL_CASES])
def test_full_model_routes(full, case):
    _, path, body, status, expected = case
    got_status, got, _ = post_json(full, path, body)
    assert (got_status, got) == (status, expected)


def bad(status, reason, fragment):
    return status, reason, fragment


BAD_REQUESTS = [
    # (id, method, path, kwargs, status, reason, info fragment)
    ("malformed-json", "POST", "/predict", dict(data="{", content_type="application/json"),
     400, "MICROSERVICE_BAD_DATA", "invalid JSON"),
    ("empty-body", "POST", "/predict", dict(data="", content_type="application/json"),
     400, "MICROSERVICE_BAD_DATA", "Can't find JSON"),
    ("no-body-get", "GET", "/predict", {}, 400, "MICROSERVICE_BAD_DATA", "Can't find JSON"),
    ("nan", "POST", "/predict", dict(data='{"data":{"ndarray":[NaN]}}',
                                     content_type="application/json"),
     400, "MICROSERVICE_BAD_DATA", "NaN"),
    ("huge-int", "POST", "/predict",
     dict(data='{"data":{"ndarray":[1234567890123456789012345]}}', content_type="application/json"),
     400, "MICROSERVICE_BAD_DATA", "64 bits"),
    ("non-utf8", "POST", "/predict", dict(data=b'{"strData":"\xff"}', content_type="application/json"),
     400, "MICROSERVICE_BAD_DATA", "UTF-8"),
    ("text-plain", "POST", "/predict", dict(data="hello", content_type="text/plain"),
     415, "MICROSERVICE_BAD_DATA", "text/plain"),
    ("form-without-json", "POST", "/predict", dict(data="a=1",
                                                   content_type="application/x-www-form-urlencoded"),
     400, "MICROSERVICE_BAD_DATA", "json="),
    ("form-malformed-json", "POST", "/predict",
     dict(data="json=%7B", content_type="application/x-www-form-urlencoded"),
     400, "MICROSERVICE_BAD_DATA", "form field json"),
    ("query-malformed", "GET", "/predict?json=%7Bx", {}, 400, "MICROSERVICE_BAD_DATA",
     "query parameter json"),
    ("list-body", "POST", "/predict", dict(json=[1, 2]), 400, "MICROSERVICE_BAD_DATA",
     "Invalid request data type"),
    ("empty-object", "POST", "/predict", dict(json={}), 400, "MICROSERVICE_BAD_DATA", "none of data"),
    ("ragged", "POST", "/predict", dict(json={"data": {"ndarray": [[1, 2], [3]]}}), 400,
     "MICROSERVICE_BAD_DATA", "ragged"),
    ("tensor-shape", "POST", "/predict",
     dict(json={"data": {"tensor": {"shape": [3, 3], "values": [1]}}}), 400,
     "MICROSERVICE_BAD_DATA", "does not fit shape"),
    ("tags-not-object", "POST", "/predict",
     dict(json={"data": {"ndarray": [1]}, "meta": {"tags": [1]}}), 400, "MICROSERVICE_BAD_DATA",
     "meta.tags"),
    ("route-non-json", "POST", "/route", dict(json={"strData": "x"}), 500,
     "MICROSERVICE_INTERNAL_ERROR", "'str' object has no attribute 'sum'"),
    ("aggregate-object", "POST", "/aggregate", dict(json={"data": {"ndarray": [1]}}), 400,
     "MICROSERVICE_BAD_DATA", "list of SeldonMessages"),
    ("aggregate-empty", "POST", "/aggregate", dict(json=[]), 400, "MICROSERVICE_BAD_DATA",
     "at least one"),
    ("feedback-unknown-field", "POST", "/send-feedback", dict(json={"reward": 1, "x": 2}), 400,
     "MICROSERVICE_BAD_DATA", "unknown field"),
    ("feedback-bad-reward", "POST", "/send-feedback", dict(json={"reward": "high"}), 400,
     "MICROSERVICE_BAD_DATA", "reward must be a number"),
    ("unknown-route", "GET", "/nope", {}, 404, "MICROSERVICE_BAD_DATA", "no route /nope"),
    ("wrong-method", "PUT", "/predict", dict(json={}), 405, "MICROSERVICE_BAD_DATA",
     "does not accept PUT"),
    ("get-only-v1", "GET", "/api/v1.0/predictions", {}, 405, "MICROSERVICE_BAD_DATA",
     "does not accept GET"),
    ("multipart-bad-field", "POST", "/predict",
     dict(data={"data": "{oops"}, content_type="multipart/form-data"), 400,
     "MICROSERVICE_BAD_DATA", "form field 'data'"),
    ("multipart-part-without-name", "POST", "/predict",
     dict(data=b'--XX\r\nContent-Disposition: form-data\r\n\r\n{"strData": "a"}\r\n--XX--\r\n',
          content_type="multipart/form-data; boundary=XX"), 400, "MICROSERVICE_BAD_DATA",
     "a multipart part has no name"),
    ("multipart-file-without-name", "POST", "/predict",
     dict(data=b'--XX\r\nContent-Disposition: form-data; filename="w.bin"\r\n\r\nabc\r\n'
               b'--XX--\r\n', content_type="multipart/form-data; boundary=XX"), 400,
     "MICROSERVICE_BAD_DATA", "a multipart part has no name"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_clear_errors(full, case):
    _, method, path, kwargs, status, reason, fragment = case
    got_status, body, _ = call(full, method, path, **kwargs)
    assert got_status == status
    assert set(body) == {"status"}
    assert body["status"]["status"] == 1
    assert body["status"]["code"] == -1
    assert body["status"]["reason"] == reason
    assert fragment in body["status"]["info"]


def test_wrong_method_lists_allowed(full):
    status, _, response = call(full, "DELETE", "/health/ping")
    assert status == 405
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("kwargs, expected", [
    (dict(method="GET", path="/predict?json=%7B%22strData%22%3A%22q%22%7D"), {"strData": "q"}),
    (dict(method="POST", path="/predict", data={"json": '{"strData": "f"}'}), {"strData": "f"}),
    (dict(method="POST", path="/predict", data='{"strData": "c"}',
          content_type="application/x-www-form-urlencoded"), {"strData": "c"}),
    (dict(method="POST", path="/predict", data='{"strData": "n"}'), {"strData": "n"}),
    (dict(method="POST", path="/predict", data={"strData": "m"}, content_type="multipart/form-data"),
     {"strData": "m"}),
    (dict(method="POST", path="/predict",
          data={"binData": (io.BytesIO(b"\x00\x01"), "f.bin"), "meta": '{"puid": "mp"}'},
          content_type="multipart/form-data"), {"binData": "AAE=", "puid": "mp"}),
    (dict(method="POST", path="/predict",
          data={"strData": (io.BytesIO(b"file text"), "f.txt")},
          content_type="multipart/form-data"), {"strData": "file text"}),
    (dict(method="POST", path="/predict", data={"data": '{"ndarray": [[1, 2]]}'},
          content_type="multipart/form-data"), {"ndarray": [[1, 2]]}),
])
def test_body_forms(kwargs, expected):
    client = make_client(Bare())
    status, body, _ = call(client, **kwargs)
    assert status == 200, body
    if "puid" in expected:
        assert body["meta"]["puid"] == expected.pop("puid")
    if "ndarray" in expected:
        assert body["data"]["ndarray"] == expected["ndarray"]
    else:
        assert {k: body[k] for k in expected} == expected


def test_health_routes(full):
    assert call(full, "GET", "/health/ping")[:2] == (200, "pong")
    expected = {"jsonData": {"healthy": True},
                "meta": {"tags": {"model": "full"}, "requestPath": {"full": "repo/full:1.0"}}}
    assert call(full, "GET", "/health/status")[:2] == (200, expected)
    assert call(full, "GET", "/api/v1.0/health/status")[:2] == (200, expected)
    assert call(full, "GET", "/live")[:2] == (200, {"status": "alive"})
    assert call(full, "GET", "/ready")[:2] == (200, {"status": "ready"})


def test_default_health_status():
    assert call(make_client(Bare()), "GET", "/health/status")[:2] == (
        200, {"strData": "healthy", "meta": {}})


@pytest.mark.parametrize("path", ["/ready", "/health/status", "/predict"])
def test_not_ready_is_503(path):
    client = make_client(Bare(), ready=False)
    status, body, _ = call(client, "POST" if path == "/predict" else "GET", path,
                           json={"strData": "x"} if path == "/predict" else None)
    assert status == 503
    assert body["status"]["reason"] == "MICROSERVICE_NOT_READY"
    assert "still loading" in body["status"]["info"]
    assert call(client, "GET", "/live")[:2] == (200, {"status": "alive"})


def test_load_failure_details_stay_in_the_log():
    settings = Settings.load(["Test"], environ={}, read_annotations=False)
    state = LoadState()
    state.error = "OSError: /srv/secret/weights.bin missing"
    client = Client(create_app(settings, Component(Bare(), "MODEL"), None, state))
    status, body, _ = call(client, "GET", "/health/status")
    assert status == 503
    assert body["status"]["info"] == "the model failed to load; the server log says why"
    assert body["status"]["reason"] == "MICROSERVICE_NOT_READY"


def test_metadata_from_init_metadata_and_env():
    client = make_client(Full(), env={"MODEL_METADATA": "name: from-env\nplatform: sklearn\n",
                                      "PREDICTIVE_UNIT_IMAGE": "repo/full:2.0"})
    status, body, _ = call(client, "GET", "/metadata")
    assert status == 200
    assert body == {"name": "from-env", "versions": ["v1"], "platform": "sklearn",
                    "inputs": [{"messagetype": "ndarray", "schema": {"names": ["x", "y"]}}],
                    "outputs": [], "custom": {}}
    assert call(client, "GET", "/api/v1.0/metadata")[:2] == (200, body)


def test_metadata_defaults_from_image():
    client = make_client(Bare(), env={"PREDICTIVE_UNIT_IMAGE": "repo/bare:3.1"})
    assert call(client, "GET", "/metadata")[:2] == (200, {
        "name": "repo/bare", "versions": ["3.1"], "platform": "", "inputs": [], "outputs": [],
        "custom": {}})


@pytest.mark.parametrize("metadata, fragment", [
    ("{not: [valid", "not valid YAML"),
    ("- a list", "must be a mapping"),
    ("unknown: 1", "unexpected key 'unknown'"),
    ("inputs: [{messagetype: ndarray, schema: {bogus: 1}}]", "unexpected keys bogus"),
    ("inputs: [{name: x, datatype: FLOAT999}]", "datatype must be one of"),
    ("custom: {a: 1}", "custom values must be strings"),
])
def test_invalid_metadata_is_500_with_reason(metadata, fragment):
    client = make_client(Bare(), env={"MODEL_METADATA": metadata})
    status, body, _ = call(client, "GET", "/metadata")
    assert status == 500
    assert body["status"]["reason"] == "MICROSERVICE_BAD_METADATA"
    assert fragment in body["status"]["info"]


def test_raw_methods_and_status_code():
    client = make_client(Raw())
    assert post_json(client, "/predict", {"data": {"ndarray": [1]}, "meta": {}})[:2] == (
        200, {"jsonData": {"keys": ["data", "meta"]},
              "meta": {"metrics": [{"type": "GAUGE", "key": "raw_gauge", "value": 3}]}})
    status, body, _ = post_json(client, "/predict", {"strData": "status"})
    assert (status, body["status"]["reason"]) == (422, "USER")


def test_missing_methods_behave_like_seldon():
    client = make_client(Bare())
    assert post_json(client, "/transform-input", {"data": {"ndarray": [[1, 2]]}})[:2] == (
        200, {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]}, "meta": {}})
    for path in ("/route", "/aggregate"):
        status, body, _ = post_json(client, path, [{"strData": "x"}] if path == "/aggregate"
                                    else {"strData": "x"})
        assert status == 400
        assert "not defined" in body["status"]["info"]


def test_outlier_detector_adds_scores():
    client = make_client(Outliers(), service_type="OUTLIER_DETECTOR")
    status, body, _ = post_json(client, "/transform-input",
                                {"data": {"ndarray": [[1, -2], [0.5, 0.5]]}, "meta": {"puid": "o"}})
    assert status == 200
    assert body == {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, -2], [0.5, 0.5]]},
                    "meta": {"puid": "o", "tags": {"outlierScore": [3.0, 1.0]}}}


def test_payload_passthrough_takes_json_field_text():
    class Echo(object):
        def predict_raw(self, body):
            return {"got": body if isinstance(body, str) else body.decode()}

    client = make_client(Echo(), env={"PAYLOAD_PASSTHROUGH": "1"})
    assert call(client, "POST", "/predict", data={"json": '{"strData":"x"}'})[:2] == (
        200, {"got": '{"strData":"x"}'})
    assert call(client, "GET", "/predict?json=%7B%7D")[:2] == (200, {"got": "{}"})


def test_payload_passthrough():
    class Echo(object):
        def predict_raw(self, body):
            return body[::-1]

    client = make_client(Echo(), env={"PAYLOAD_PASSTHROUGH": "true"})
    status, body, response = call(client, "POST", "/predict", data=b"abc{",
                                  content_type="text/plain")
    assert (status, body) == (200, "{cba")
    assert response.headers["Content-Type"] == "application/json"


def test_max_request_size():
    client = make_client(Bare(), env={"MODELKILN_MAX_REQUEST_SIZE": "1k"})
    status, body, _ = post_json(client, "/predict", {"strData": "x" * 2000})
    assert status == 413
    assert "exceeds the limit of 1024 bytes" in body["status"]["info"]
    assert post_json(client, "/predict", {"strData": "x" * 500})[0] == 200


def test_cors():
    client = make_client(Bare())
    status, _, response = call(client, "OPTIONS", "/predict",
                               headers={"Origin": "http://example.com",
                                        "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "Content-Type"})
    assert status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    _, _, response = call(client, "POST", "/predict", json={"strData": "x"},
                          headers={"Origin": "http://example.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_openapi_lists_served_routes(full):
    status, doc, _ = call(full, "GET", "/seldon.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    served = {route.path for route in full.application.router.routes}
    assert set(doc["paths"]) == served
    assert {"/predict", "/api/v1.0/predictions", "/api/v0.1/feedback", "/aggregate",
            "/health/status", "/ready", "/seldon.json"} <= served
    operation_ids = [op["operationId"] for item in doc["paths"].values()
                     for key, op in item.items() if key != "parameters"]
    assert len(operation_ids) == len(set(operation_ids))
    assert set(doc["paths"]["/predict"]) == {"get", "post"}
    assert "requestBody" in doc["paths"]["/api/v1.0/predictions"]["post"]


def test_head_has_no_body(full):
    status, body, response = call(full, "HEAD", "/health/ping")
    assert status == 200 and body == ""
    assert response.headers["Content-Length"] == "4"


class RecordingMetrics(object):
    def __init__(self):
        self.observed = []

    def observe_request(self, route, status, seconds):
        self.observed.append((route, status))


def test_a_request_is_counted_once_its_answer_is_written():
    """The server calls close() after writing the answer (WSGI); a worker killed before that
    leaves no count for an answer no client got."""
    settings = Settings.load(["Test"], environ={}, read_annotations=False)
    state = LoadState()
    state.ready = True
    metrics = RecordingMetrics()
    app = create_app(settings, Component(Bare(), "MODEL"), metrics, state)
    body = json.dumps({"strData": "x"}).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "CONTENT_TYPE":
               "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "modelkiln.local_port": settings.http_port}
    started = []
    result = app(environ, lambda status, headers: started.append(status))
    assert started == ["200 OK"] and json.loads(b"".join(result))["strData"] == "x"
    assert metrics.observed == []
    result.close()
    result.close()  # once only
    assert metrics.observed == [("/predict", 200)]


@pytest.fixture
def seldon_stand_in():
    """seldon_core from modelkiln's stand-in, forgotten after the test."""
    import sys

    from python_runtime.model import seldon_compat

    seldon_compat.install()
    yield
    for name in [n for n in sys.modules if n == "seldon_core" or n.startswith("seldon_core.")]:
        del sys.modules[name]


def test_seldon_not_implemented_error_at_call_time_means_absent_as_in_seldon(seldon_stand_in):
    """A SeldonComponent method that raises SeldonNotImplementedError when called is answered
    as if it did not exist (Seldon's wrapper does the same); other exceptions still count."""
    from seldon_core.user_model import SeldonComponent, SeldonNotImplementedError

    class Declines(SeldonComponent):
        def predict(self, X, features_names):
            if np.asarray(X).flat[0] < 0:
                raise SeldonNotImplementedError("not today")
            raise ValueError("a real failure")

        def transform_input(self, X, features_names):
            raise SeldonNotImplementedError("no transform")

        def tags(self):
            raise SeldonNotImplementedError("no tags")

        def class_names(self):
            raise SeldonNotImplementedError("no names")

        def health_status(self):
            raise SeldonNotImplementedError("no health")

    client = make_client(Declines())
    status, body, _ = post_json(client, "/predict", {"data": {"ndarray": [[-1, 2]]}})
    assert (status, body) == (200, {"data": {"names": [], "ndarray": []}, "meta": {}})
    status, body, _ = post_json(client, "/predict", {"data": {"ndarray": [[1, 2]]}})
    assert status == 500 and "a real failure" in body["status"]["info"]
    status, body, _ = post_json(client, "/transform-input", {"data": {"ndarray": [[3, 4]]}})
    assert (status, body) == (200, {"data": {"names": ["t:0", "t:1"], "ndarray": [[3, 4]]},
                                    "meta": {}})
    status, body, _ = call(client, "GET", "/health/status")
    assert (status, body) == (200, {"strData": "not implemented - assuming healthy",
                                    "meta": {}})

    class Placeholders(SeldonComponent):  # health_status left as SeldonComponent's
        def predict(self, X, features_names):
            return X

    status, body, _ = call(make_client(Placeholders()), "GET", "/health/status")
    assert (status, body) == (200, {"strData": "not implemented - assuming healthy",
                                    "meta": {}})
