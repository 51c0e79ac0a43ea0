"""Differential test: modelkiln against MLServer 1.7.1 serving the same user class files.

MLServer serves tests/v2/models through tests/v2/mlserver/seldon_runtime.py (NumpyCodec in,
``predict(X, [])``, NumpyCodec out as ``output-0``). The same request goes to both; the
answers are compared field by field (outputs: name, datatype, shape and data, floats exactly),
and for errors only the status class is compared (both messages are printed).

Every difference must be recorded in tests/v2/intentional.py, exactly: a difference that is
not there fails, and so does a recorded one that does not show.
"""

import gzip
import json
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from . import intentional
from .intentional import ABSENT, EVERY_ANSWER, INTENTIONAL, MODELKILN_VERSION, UUID
from .servers import MLServer, ModelkilnServer
from . import values
from .values import UUID_RE, canonical, INTEGER, flat_json, sample

JSON_HEADERS = {"Content-Type": "application/json"}


# -- the cases --------------------------------------------------------------------------------

class Case(NamedTuple):
    id: str
    model: str
    body: Any  # a JSON object, or raw bytes
    headers: Optional[Dict[str, str]] = None
    path: str = "/v2/models/{model}/infer"
    method: str = "POST"


def tensor(datatype: str, array: np.ndarray, name: str = "x", nested: bool = False
           ) -> Dict[str, Any]:
    data = flat_json(array)
    if nested:
        data = np.array(data, dtype=object).reshape(array.shape).tolist()
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def infer(*inputs: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    body = {"inputs": list(inputs)}
    body.update(extra)
    return body


def answer_cases() -> List[Case]:
    cases = []
    for datatype in ("FP64", "FP32", "INT64", "BOOL"):
        for rows in (1, 1000):
            array = sample(datatype, rows, seed=rows)
            cases.append(Case("%s-%drows" % (datatype.lower(), rows), "Echo",
                              infer(tensor(datatype, array))))
            cases.append(Case("%s-%drows-nested" % (datatype.lower(), rows), "Echo",
                              infer(tensor(datatype, array, nested=True))))
    for datatype in INTEGER:  # each integer type's min and max
        cases.append(Case("%s-extremes" % datatype.lower(), "Echo",
                          infer(tensor(datatype, sample(datatype, 1, seed=7)))))
    cases += [
        Case("fp16-1rows", "Echo", infer(tensor("FP16", sample("FP16", 1, seed=3)))),
        Case("fp64-3d-nested", "Echo",
             infer(tensor("FP64", np.arange(12.5, 24.5).reshape(2, 3, 2), nested=True))),
        Case("bytes-2d", "Echo", infer(tensor("BYTES", sample("BYTES", 2, seed=5)))),
        Case("fp64-1d", "Echo", infer(tensor("FP64", np.array([0.5, -1.25, 3.0])))),
        Case("bytes-1d", "Echo", infer({"name": "x", "datatype": "BYTES", "shape": [2],
                                        "data": ["é", ""]})),
        Case("fp64-scalar-data", "Echo", infer({"name": "x", "datatype": "FP64",
                                                "shape": [1, 1], "data": 2.5})),
        Case("request-id", "Echo", infer(tensor("FP32", sample("FP32", 1, seed=9)),
                                         id="request-42")),
        Case("request-parameters", "Echo", infer(tensor("INT64", sample("INT64", 1, seed=9)),
                                                 parameters={"trace": "on"})),
        Case("outputs-selected", "Echo", infer(tensor("FP64", sample("FP64", 1, seed=2)),
                                               outputs=[{"name": "output-0"}])),
        Case("doubler-fp32-1000rows", "Doubler",
             infer(tensor("FP32", sample("FP32", 1000, seed=11).clip(-1e30, 1e30)))),
        Case("doubler-int64", "Doubler", infer(tensor("INT64", sample("INT64", 1, seed=1)))),
        Case("doubler-bool", "Doubler", infer(tensor("BOOL", sample("BOOL", 2, seed=1)))),
    ]
    return cases


def error_cases() -> List[Case]:
    x = infer({"name": "x", "datatype": "FP32", "shape": [1, 1], "data": [1.0]})
    return [
        Case("malformed-json", "Echo", b'{"inputs": [{"name": "x", "datatype": "FP32"',
             JSON_HEADERS),
        Case("empty-body", "Echo", b"", JSON_HEADERS),
        Case("not-an-object", "Echo", b"[1, 2]", JSON_HEADERS),
        Case("no-inputs", "Echo", {"inputs": []}),
        Case("unknown-model", "Nope", x),
        Case("unknown-datatype", "Echo", infer({"name": "x", "datatype": "FP8", "shape": [1],
                                                "data": [1]})),
        Case("shape-data-mismatch", "Echo", infer({"name": "x", "datatype": "FP64",
                                                   "shape": [2, 2], "data": [1, 2, 3]})),
        Case("bytes-shape-data-mismatch", "Echo", infer({"name": "x", "datatype": "BYTES",
                                                         "shape": [2, 3], "data": ["a", "b"]})),
        Case("uint8-out-of-range", "Echo", infer({"name": "x", "datatype": "UINT8",
                                                  "shape": [1, 2], "data": [0, 256]})),
        Case("strings-for-fp64", "Echo", infer({"name": "x", "datatype": "FP64", "shape": [1],
                                                "data": "abc"})),
        Case("fraction-for-int32", "Echo", infer({"name": "x", "datatype": "INT32",
                                                  "shape": [1, 2], "data": [1.5, 2]})),
        Case("null-for-fp64", "Echo", infer({"name": "x", "datatype": "FP64", "shape": [1, 2],
                                             "data": [1.0, None]})),
        Case("unknown-output", "Echo", dict(x, outputs=[{"name": "nope"}])),
        Case("text-plain-content-type", "Echo", json.dumps(x).encode(),
             {"Content-Type": "text/plain"}),
        Case("model-value-error", "Fails", x),
        Case("model-status-418", "Teapot", x),
        Case("metadata-unknown-model", "Nope", None, path="/v2/models/{model}", method="GET"),
    ]


def other_cases() -> List[Case]:
    return [
        Case("server-metadata", "Echo", None, path="/v2", method="GET"),
        Case("model-metadata", "Echo", None, path="/v2/models/{model}", method="GET"),
        Case("model-ready", "Echo", None, path="/v2/models/{model}/ready", method="GET"),
        Case("server-ready", "Echo", None, path="/v2/health/ready", method="GET"),
        Case("server-live", "Echo", None, path="/v2/health/live", method="GET"),
    ]


# -- comparing --------------------------------------------------------------------------------

def send(base_url: str, case: Case, session: requests.Session, keep_alive: bool = True
         ) -> requests.Response:
    url = base_url + case.path.format(model=case.model)
    headers = dict(case.headers or {})
    if not keep_alive:
        headers["Connection"] = "close"
    if case.method == "GET":
        return session.get(url, headers=headers, timeout=60)
    if isinstance(case.body, bytes):
        return session.post(url, data=case.body, headers=headers, timeout=60)
    return session.post(url, json=case.body, headers=headers, timeout=60)


def body_of(answer: requests.Response) -> Any:
    if not answer.content:
        return ABSENT  # an empty body
    try:
        return answer.json()
    except ValueError:
        return answer.text


def json_diff(ours: Any, theirs: Any, path: str = "") -> Dict[str, Tuple[Any, Any]]:
    """{path: (modelkiln, MLServer)} for every field that differs (lists compared whole,
    except outputs, compared output by output)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = {}  # type: Dict[str, Tuple[Any, Any]]
        for key in list(ours) + [k for k in theirs if k not in ours]:
            where = "%s.%s" % (path, key) if path else key
            a, b = ours.get(key, ABSENT), theirs.get(key, ABSENT)
            if key == "outputs" and isinstance(a, list) and isinstance(b, list) \
                    and len(a) == len(b):
                for index, (x, y) in enumerate(zip(a, b)):
                    found.update(json_diff(x, y, "%s[%d]" % (where, index)))
            elif isinstance(a, dict) and isinstance(b, dict) and key != "parameters":
                found.update(json_diff(a, b, where))
            elif canonical(a) != canonical(b):
                found[where] = (a, b)
        return found
    if canonical(ours) != canonical(theirs):
        return {path or "body": (ours, theirs)}
    return {}


def normalise(found: Dict[str, Tuple[Any, Any]], request: Any
              ) -> Dict[str, Tuple[Any, Any]]:
    """Markers for values that change from run to run: generated ids, our version."""
    out = {}
    for path, (a, b) in found.items():
        if path == "id" and a is ABSENT and isinstance(b, str) and UUID_RE.match(b) \
                and not (isinstance(request, dict) and "id" in request):
            b = UUID
        if path == "version" and a == intentional.modelkiln_version():
            a = MODELKILN_VERSION
        out[path] = (a, b)
    return out


def compare(case: Case, ours: requests.Response, theirs: requests.Response
            ) -> Dict[str, Tuple[Any, Any]]:
    print("%s: modelkiln %d %s" % (case.id, ours.status_code, ours.text[:300]))
    print("%s: MLServer  %d %s" % (case.id, theirs.status_code, theirs.text[:300]))
    if ours.status_code >= 400:  # ours always answers {"error": str}
        error = ours.json()
        assert set(error) == {"error"} and isinstance(error["error"], str), error
    if ours.status_code // 100 != theirs.status_code // 100:
        return {"status": (ours.status_code, theirs.status_code)}
    if ours.status_code >= 400:
        return {}  # errors: the status class only
    found = normalise(json_diff(body_of(ours), body_of(theirs)), case.body)
    if case.method == "POST":  # differences every inference answer has
        for path, (expected, _reason) in EVERY_ANSWER.items():
            for key in list(found):
                if re.fullmatch(path, key) and canonical(found[key]) == canonical(expected):
                    del found[key]
    return found


def check_recorded(case_id: str, found: Dict[str, Tuple[Any, Any]]) -> None:
    values.check_recorded(case_id, found, INTENTIONAL.get(case_id), 'difference')

def run_case(case: Case, ours: Dict[str, ModelkilnServer], mlserver: MLServer) -> None:
    server = ours.get(case.model) or ours["Echo"]
    try:
        ours_answer = send(server.url(""), case, server.session)
    except requests.ConnectionError as exc:
        raise AssertionError("%s: modelkiln dropped the connection: %s\n%s"
                             % (case.id, exc, server.log_tail())) from exc
    # A new connection each time: after a 500, uvicorn closes the connection without saying
    # so, and the next request sent on it is reset.
    theirs_answer = send(mlserver.url(""), case, mlserver.session, keep_alive=False)
    check_recorded(case.id, compare(case, ours_answer, theirs_answer))


@pytest.mark.parametrize("case", answer_cases(), ids=lambda c: c.id)
def test_same_answer(case: Case, ours: Dict[str, ModelkilnServer], mlserver: MLServer
                     ) -> None:
    run_case(case, ours, mlserver)


@pytest.mark.parametrize("case", error_cases(), ids=lambda c: c.id)
def test_same_error_class(case: Case, ours: Dict[str, ModelkilnServer], mlserver: MLServer
                          ) -> None:
    run_case(case, ours, mlserver)


@pytest.mark.parametrize("case", other_cases(), ids=lambda c: c.id)
def test_same_metadata_and_health(case: Case, ours: Dict[str, ModelkilnServer],
                                  mlserver: MLServer) -> None:
    run_case(case, ours, mlserver)


def test_gzip_request_body(ours: Dict[str, ModelkilnServer], mlserver: MLServer) -> None:
    """tritonclient's request_compression_algorithm="gzip": MLServer inflates the body."""
    body = infer(tensor("FP64", sample("FP64", 1, seed=4)))
    case = Case("gzip-request-body", "Echo", gzip.compress(json.dumps(body).encode()),
                {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    run_case(case, ours, mlserver)


# -- through tritonclient ---------------------------------------------------------------------

def triton_infer(host_port: str, model: str, array: np.ndarray, datatype: str,
                 binary: bool) -> Any:
    client = httpclient.InferenceServerClient(host_port, network_timeout=60.0)
    try:
        item = httpclient.InferInput("x", list(array.shape), datatype)
        item.set_data_from_numpy(array, binary_data=binary)
        return client.infer(model, [item], outputs=[
            httpclient.InferRequestedOutput("output-0", binary_data=binary)])
    finally:
        client.close()


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "FP16", "INT64", "UINT64", "INT8",
                                      "BOOL", "BYTES"])
def test_tritonclient_json_answers_are_the_same(datatype: str,
                                                ours: Dict[str, ModelkilnServer],
                                                mlserver: MLServer) -> None:
    array = sample(datatype, 1000, seed=21)
    mine = triton_infer(ours["Echo"].host_port, "Echo", array, datatype, False)
    theirs = triton_infer(mlserver.host_port, "Echo", array, datatype, False)
    a, b = mine.as_numpy("output-0"), theirs.as_numpy("output-0")
    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    if datatype == "BYTES":
        assert a.tolist() == b.tolist()
    else:
        assert a.tobytes() == b.tobytes()  # bit for bit


def test_tritonclient_binary_extension(ours: Dict[str, ModelkilnServer], mlserver: MLServer
                                       ) -> None:
    """tritonclient's default (binary inputs): ours answers, MLServer 1.7.1 cannot."""
    array = sample("FP32", 3, seed=8)
    mine = triton_infer(ours["Echo"].host_port, "Echo", array, "FP32", True)
    assert mine.as_numpy("output-0").tobytes() == array.tobytes()
    with pytest.raises(InferenceServerException) as caught:
        triton_infer(mlserver.host_port, "Echo", array, "FP32", True)
    print("MLServer:", caught.value)
    found = {"status": (200, int(caught.value.status()))}
    check_recorded("tritonclient-binary-inputs", found)
