"""The server's own OpenAPI document, and the V2 answers against the published V2 types.

(a) ``GET /openapi.json`` is a valid OpenAPI document (openapi-spec-validator);
(b) schemathesis, driven by that document, V2 operations only, a bounded number of examples:
    no answer is a server error, and every error answer is ``{"error": str}``;
(c) real V2 answers parse as the open-inference-openapi types (InferenceResponse,
    MetadataServerResponse, MetadataModelResponse, InferenceErrorResponse) and hold no field
    those types do not know;
(d) a hypothesis fuzzer of what schemathesis cannot make: valid V2 requests (every datatype,
    shapes, nested or flat JSON data, binary-extension inputs, column inputs), half of them
    then damaged (a field replaced by random JSON, sizes and lengths off, bytes cut or added,
    extreme numbers, 30-70 dimensions, junk bodies): no 5xx, errors as {"error": str}, an
    undamaged request echoed exactly, and every server still healthy afterwards.

schemathesis runs through its hypothesis strategies (``operation.as_strategy``), not its
pytest loader, which does not work on pytest 9 (see run_schemathesis).
"""

import copy
import json
import struct
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from open_inference.openapi import types as oip
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .servers import ModelkilnServer
from .values import EXTREME_NUMBERS, NP_DTYPE

MODELS = ("Echo", "Declared", "RawV2", "Shapes")
EXAMPLES_PER_OPERATION = 30


@pytest.fixture(scope="module")
def servers(fleet: Any) -> Dict[str, ModelkilnServer]:
    return fleet.get(*MODELS)


def openapi_document(server: ModelkilnServer) -> Dict[str, Any]:
    answer = server.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


# -- (a) the document is valid OpenAPI --------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_openapi_document_is_valid(servers: Dict[str, ModelkilnServer], model: str) -> None:
    document = openapi_document(servers[model])
    validate(document)  # raises OpenAPIValidationError with the reason
    v2 = sorted(p for p in document["paths"] if p.startswith("/v2"))
    assert v2 == sorted([
        "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model_name}",
        "/v2/models/{model_name}/ready", "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}",
        "/v2/models/{model_name}/versions/{model_version}/ready",
        "/v2/models/{model_name}/versions/{model_version}/infer"])


# -- (b) schemathesis on the V2 operations ----------------------------------------------------

def focused(document: Dict[str, Any], name: str, version: Optional[str]) -> Dict[str, Any]:
    """The document with the path parameters drawn mostly from the served name and version,
    so that generated bodies reach the model (other values still test the 404s)."""
    document = copy.deepcopy(document)
    names = {"model_name": [name, "unknown-model"],
             "model_version": [version or "1", "0"]}
    for item in document["paths"].values():
        for parameter in item.get("parameters", []):
            if parameter.get("in") == "path" and parameter["name"] in names:
                parameter["schema"] = {"type": "string", "enum": names[parameter["name"]]}
    return document


@schemathesis.check
def v2_error_body(ctx: Any, response: Any, case: Any) -> Optional[bool]:
    """Every V2 error answer is {"error": "<message>"}, as JSON."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type") or response.headers.get(
        "Content-Type") or [""]
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), "error answered as %r" % content_type
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str) \
        and body["error"], "error body is not {\"error\": str}: %r" % body
    return None


def schemathesis_schema(server: ModelkilnServer) -> Any:
    document = focused(openapi_document(server), server.v2_name, server.version)
    config = schemathesis.Config.from_dict({
        "base-url": server.url(""),
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "database": "none"},
    })
    return schemathesis.openapi.from_dict(document, config=config)


def reaching_the_model(document: Dict[str, Any]) -> Dict[str, Any]:
    """The document narrowed to JSON bodies for the served model whose one input is a
    one-element tensor of small integers, so that most generated bodies are valid requests
    (JSON Schema cannot tie data to shape); BOOL and BYTES inputs are still 400s."""
    document = copy.deepcopy(document)
    schema = document["components"]["schemas"]["V2RequestInput"]
    schema["properties"]["name"] = {"type": "string", "minLength": 1, "maxLength": 8}
    schema["properties"]["shape"] = {"type": "array", "items": {"type": "integer",
                                                                "enum": [1]}, "maxItems": 3}
    schema["properties"]["data"] = {"type": "array", "minItems": 1, "maxItems": 1,
                                    "items": {"type": "integer", "minimum": 0,
                                              "maximum": 127}}
    schema["properties"].pop("parameters", None)
    schema["required"] = ["name", "shape", "datatype", "data"]
    schema["additionalProperties"] = False
    request = document["components"]["schemas"]["V2InferenceRequest"]
    request["properties"]["inputs"].update(minItems=1, maxItems=1)
    request["properties"].pop("outputs", None)
    for item in document["paths"].values():
        for parameter in item.get("parameters", []):
            if parameter["name"] == "model_name":
                parameter["schema"]["enum"] = parameter["schema"]["enum"][:1]
        if "post" in item:
            item["post"]["requestBody"]["content"].pop("application/octet-stream", None)
    return document


@pytest.fixture(scope="module")
def echo_schema(servers: Dict[str, ModelkilnServer]) -> Any:
    return schemathesis_schema(servers["Echo"])


@pytest.fixture(scope="module")
def declared_schema(servers: Dict[str, ModelkilnServer]) -> Any:
    return schemathesis_schema(servers["Declared"])


@pytest.fixture(scope="module")
def echo_reaching_schema(servers: Dict[str, ModelkilnServer]) -> Any:
    server = servers["Echo"]
    document = reaching_the_model(focused(openapi_document(server), "Echo", None))
    validate(document)
    config = schemathesis.Config.from_dict({"base-url": server.url("")})
    return schemathesis.openapi.from_dict(document, config=config)


CHECKS = [not_a_server_error, v2_error_body]
V2_OPERATIONS = [
    ("GET", "/v2"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{model_name}"), ("GET", "/v2/models/{model_name}/ready"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("GET", "/v2/models/{model_name}/versions/{model_version}"),
    ("GET", "/v2/models/{model_name}/versions/{model_version}/ready"),
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
]


def run_schemathesis(schema: Any, method: str, path: str, negative: bool = True) -> Any:
    """Positive and negative cases for one operation, each checked by CHECKS.

    (schemathesis' own pytest loader, ``schemathesis.pytest.from_fixture(...).parametrize()``,
    fails on pytest 9 (it sets ``node._nodeid``, which pytest 9 no longer has), so the cases
    come from its hypothesis strategies instead.)
    """
    found = [result.ok() for result in schema.include(path_regex="^/v2").get_all_operations()]
    operations = [op for op in found if op.method.upper() == method and op.path == path]
    assert len(operations) == 1, "the document has no single %s %s: %s" % (
        method, path, sorted("%s %s" % (op.method.upper(), op.path) for op in found))
    operation = operations[0]
    modes = [GenerationMode.POSITIVE]
    if method == "POST" and negative:  # a GET has no parameter worth breaking
        modes.append(GenerationMode.NEGATIVE)
    statuses = []  # type: List[int]
    for mode in modes:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: Any) -> None:
            statuses.append(case.call_and_validate(checks=CHECKS).status_code)

        run()
    return statuses


@pytest.mark.parametrize("method, path", V2_OPERATIONS, ids=lambda v: v)
def test_schemathesis_echo(echo_schema: Any, method: str, path: str) -> None:
    """Echo takes any input: generated bodies travel through the whole codec and back."""
    run_schemathesis(echo_schema, method, path)


@pytest.mark.parametrize("method, path", V2_OPERATIONS, ids=lambda v: v)
def test_schemathesis_declared(declared_schema: Any, method: str, path: str) -> None:
    """Declared has a version and a declared input: versioned routes, signature checks."""
    run_schemathesis(declared_schema, method, path)


def test_schemathesis_echo_bodies_that_reach_the_model(echo_reaching_schema: Any) -> None:
    """The served document's own bodies are nearly all 400s (their data never fits their
    shape); narrowed, most reach the model and come back."""
    statuses = run_schemathesis(echo_reaching_schema, "POST", "/v2/models/{model_name}/infer",
                                negative=False)
    assert statuses.count(200) >= len(statuses) // 3, statuses


# -- (c) real answers against the open-inference-openapi types -------------------------------

def strict(model: Any, value: Any, where: str = "answer") -> Any:
    """Parse value as model, and refuse fields the model does not have (the generated
    models ignore them silently)."""
    parsed = model.parse_obj(value)
    fields = model.__fields__
    extra = set(value) - {f.alias for f in fields.values()}
    assert not extra, "%s has fields %s that %s does not know" % (where, extra, model.__name__)
    return parsed


def check_inference_response(answer: requests.Response) -> Any:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    parsed = strict(oip.InferenceResponse, body)
    for index, output in enumerate(body["outputs"]):
        strict(oip.ResponseOutput, output, "outputs[%d]" % index)
        assert output["datatype"] in NP_DTYPE
    return parsed


def tensor(name: str, datatype: str, shape: List[int], data: Any) -> Dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def test_inference_responses_match_the_published_types(servers: Dict[str, ModelkilnServer]
                                                       ) -> None:
    echo = servers["Echo"]
    body = {"id": "t-1", "parameters": {"p": 1},
            "inputs": [tensor("x", "FP32", [2, 2], [1, 2, 3, 4.5])]}
    # the generated request type accepts what we send
    strict(oip.InferenceRequest, body, "request")
    parsed = check_inference_response(echo.infer(body))
    assert parsed.id == "t-1" and parsed.model_name == "Echo"
    assert parsed.outputs[0].shape == [2, 2]
    assert parsed.outputs[0].data.__root__ == [1.0, 2.0, 3.0, 4.5]
    # BYTES, BOOL, a version, two outputs
    check_inference_response(echo.infer({"inputs": [tensor("x", "BYTES", [2], ["é", ""])]}))
    check_inference_response(echo.infer({"inputs": [tensor("x", "BOOL", [1, 2],
                                                           [True, False])]}))
    parsed = check_inference_response(servers["Declared"].session.post(
        servers["Declared"].url("/v2/models/Declared/versions/3/infer"),
        json={"inputs": [tensor("x", "FP32", [1, 4], [1, 2, 3, 4])]}, timeout=60))
    assert parsed.model_version == "3"
    parsed = check_inference_response(servers["RawV2"].infer(
        {"inputs": [tensor("x", "INT64", [2, 1], [5, 6])]}))
    assert [o.name for o in parsed.outputs] == ["total", "names"]
    for word in ("str", "dict", "bytes"):
        check_inference_response(servers["Shapes"].infer(
            {"inputs": [tensor("x", "BYTES", [1], [word])]}))


def test_metadata_matches_the_published_types(servers: Dict[str, ModelkilnServer]) -> None:
    server = strict(oip.MetadataServerResponse, servers["Echo"].get("/v2").json())
    assert server.name == "modelkiln"
    for name, path in (("Echo", "/v2/models/Echo"), ("Declared", "/v2/models/Declared"),
                       ("Declared", "/v2/models/Declared/versions/3")):
        body = servers[name].get(path).json()
        model = strict(oip.MetadataModelResponse, body, path)
        for index, item in enumerate(body["inputs"] + body["outputs"]):
            strict(oip.MetadataTensor, item, "%s tensor %d" % (path, index))
        assert model.name == name
    declared = oip.MetadataModelResponse.parse_obj(servers["Declared"].get(
        "/v2/models/Declared").json())
    assert declared.inputs[0].name == "x" and declared.inputs[0].datatype == "FP32"
    assert declared.inputs[0].shape == [-1, 4]


@pytest.mark.parametrize("body, message", [
    ({"inputs": [tensor("x", "FP32", [2, 2], [1, 2, 3])]},
     "input 'x': shape needs 4 values, data holds 3"),
    ({"inputs": "nope"}, "a V2 inference request needs inputs: a non-empty list"),
    ({"inputs": [tensor("x", "INT8", [1], [1000])]},
     "input 'x': 1000 is out of range (-128 to 127) for INT8"),
])
def test_error_answers_match_the_published_type(servers: Dict[str, ModelkilnServer],
                                                body: Any, message: str) -> None:
    answer = servers["Echo"].infer(body)
    assert answer.status_code == 400
    assert strict(oip.InferenceErrorResponse, answer.json()).error == message
    answer = servers["Echo"].infer(body, model="Unknown")
    assert answer.status_code == 404
    assert strict(oip.InferenceErrorResponse, answer.json()).error == (
        "unknown model 'Unknown': this server serves 'Echo'")


# -- (d) fuzzing: valid V2 requests (checked against Echo's answer), then damaged ones ------

DATATYPE_NAMES = sorted(NP_DTYPE)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


# 500s tolerated as known server bugs, by a fragment of their message -> the test that
# reproduces it (tests/v2/test_found_bugs.py). None is open today.
KNOWN_500 = {}  # type: Dict[str, str]


def element(datatype: str) -> Any:
    """A strategy for one JSON value that the datatype holds exactly."""
    if datatype == "BOOL":
        return st.booleans()
    if datatype == "BYTES":
        return TEXT
    dtype = np.dtype(NP_DTYPE[datatype])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    return st.floats(width=dtype.itemsize * 8, allow_nan=False, allow_infinity=False)


@st.composite
def valid_tensor(draw: Any, name: str, shape: Optional[List[int]] = None
                 ) -> Tuple[Dict[str, Any], List[Any]]:
    """(a V2 input with JSON data, its flat values)."""
    datatype = draw(st.sampled_from(DATATYPE_NAMES))
    if shape is None:
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
    count = int(np.prod(shape)) if shape else 1
    flat = draw(st.lists(element(datatype), min_size=count, max_size=count))
    data = flat  # type: Any
    if shape and count and draw(st.booleans()):  # nested, row-major
        data = np.array(flat, dtype=object).reshape(shape).tolist()
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}, flat


def binary_of(datatype: str, flat: List[Any]) -> bytes:
    if datatype == "BYTES":
        return length_prefixed([t.encode("utf-8") for t in flat])
    return np.array(flat, dtype=NP_DTYPE[datatype]).astype(
        np.dtype(NP_DTYPE[datatype]).newbyteorder("<")).tobytes()


def length_prefixed(items: List[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


class Fuzzed(object):
    """A request body and headers; ``expected`` is Echo's answer when nothing was damaged."""

    def __init__(self, data: bytes, headers: Dict[str, str],
                 expected: Optional[Dict[str, Any]]) -> None:
        self.data = data
        self.headers = headers
        self.expected = expected

    def __repr__(self) -> str:
        return "Fuzzed(data=%r, headers=%r)" % (self.data[:2000], self.headers)


@st.composite
def v2_requests(draw: Any) -> Fuzzed:
    """A valid request (one input, or column inputs; JSON or binary data per input), then,
    one time in two, one damage: a field replaced by random JSON, a size or length off by
    some bytes, bytes cut or added, a wrong header, or a random body."""
    if draw(st.integers(0, 3)) == 0:  # columns: several [N] or [N, 1] inputs
        rows = draw(st.integers(0, 4))
        shapes = [draw(st.sampled_from([[rows], [rows, 1]]))
                  for _ in range(draw(st.integers(2, 3)))]
    else:
        shapes = [None]
    inputs, flats, chunks = [], [], []
    for index, shape in enumerate(shapes):
        item, flat = draw(valid_tensor("in%d" % index, shape))
        if draw(st.booleans()):  # this one in binary
            raw = binary_of(item["datatype"], flat)
            del item["data"]
            item["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        inputs.append(item)
        flats.append(flat)
    request = {"inputs": inputs}  # type: Dict[str, Any]
    binary_out = draw(st.booleans())
    if binary_out:
        request["parameters"] = {"binary_data_output": True}
    if draw(st.booleans()):
        request["id"] = draw(TEXT)
    expected = None
    if len(inputs) == 1:
        expected = {"datatype": inputs[0]["datatype"], "shape": inputs[0]["shape"],
                    "data": flats[0], "binary": binary_out}
    damage = draw(st.integers(0, 19))
    if damage == 1:
        target = draw(st.sampled_from(["name", "datatype", "shape", "data", "parameters"]))
        inputs[0][target] = draw(JSON_VALUES)
    elif damage == 2:
        request[draw(st.sampled_from(["inputs", "outputs", "id", "parameters"]))] = draw(
            JSON_VALUES)
    elif damage == 3:
        del inputs[0][draw(st.sampled_from(["name", "datatype", "shape"]))]
    elif damage == 4:
        inputs[0]["shape"] = inputs[0]["shape"] + [draw(st.integers(0, 3))]
    elif damage == 5:
        request["outputs"] = [{"name": draw(st.sampled_from(["output-0", "other", ""])),
                               "parameters": draw(JSON_VALUES | st.dictionaries(
                                   st.just("binary_data"), JSON_VALUES))}]
    elif damage == 12 and "data" in inputs[0] and inputs[0]["shape"]:
        # a number at or past the datatype's limits (or not of its kind)
        inputs[0]["shape"] = [1]
        inputs[0]["data"] = [draw(st.sampled_from(EXTREME_NUMBERS))]
    elif damage == 13:  # more dimensions than numpy has
        inputs[0]["shape"] = [1] * draw(st.integers(30, 70))
    header = json.dumps(request).encode()
    body = header + b"".join(chunks)
    headers = {"Content-Type": "application/json"}
    if chunks or draw(st.integers(0, 3)) == 0:
        headers["Inference-Header-Content-Length"] = str(len(header))
    if damage == 6 and chunks:
        body = body[:-draw(st.integers(1, 4))]
    elif damage == 7:
        body += draw(st.binary(min_size=1, max_size=8))
    elif damage == 8:
        headers["Inference-Header-Content-Length"] = draw(st.sampled_from(
            ["0", "-1", "x", str(len(header) - 1), str(len(header) + 1), str(len(body) + 1)]))
    elif damage == 9:
        body = draw(st.binary(max_size=64))
    elif damage == 10:
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif damage == 11 and chunks:
        inputs_size = [i for i in inputs if "parameters" in i]
        inputs_size[0]["parameters"]["binary_data_size"] += draw(st.sampled_from(
            [-1, 1, 1 << 40]))
        header = json.dumps(request).encode()
        body = header + b"".join(chunks)
        headers["Inference-Header-Content-Length"] = str(len(header))
    if damage in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        expected = None
    return Fuzzed(body, headers, expected)


def check_answer(answer: requests.Response, fuzzed: Fuzzed, echo: bool = True) -> None:
    if answer.status_code == 500 and any(k in answer.text for k in KNOWN_500):
        return  # a reported bug, asserted by its own test
    assert answer.status_code < 500, (answer.status_code, answer.text[:500])
    if answer.status_code >= 400:
        assert answer.headers["Content-Type"].startswith("application/json")
        body = answer.json()
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        assert fuzzed.expected is None, "a valid request was refused: %s" % body["error"]
        return
    assert answer.status_code == 200, answer.text[:500]
    if answer.headers["Content-Type"].startswith("application/octet-stream"):
        length = int(answer.headers["Inference-Header-Content-Length"])
        header = json.loads(answer.content[:length])
        sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]
                 if "binary_data_size" in (o.get("parameters") or {})]
        assert length + sum(sizes) == len(answer.content)
        values = None
    else:
        header = answer.json()
        values = header["outputs"][0].get("data") if header["outputs"] else None
        # JSON requests cannot carry NaN or infinity, and the fuzzer's binary floats are
        # finite: a null in what Echo answers is a value the server let overflow
        for output in header["outputs"] if echo else ():
            assert None not in (output.get("data") or []), (
                "%s answered a null: %s" % (output["datatype"], output))
    expected = fuzzed.expected
    if expected is None:
        return
    (output,) = header["outputs"]
    assert output["datatype"] == expected["datatype"]
    assert output["shape"] == expected["shape"]
    if expected["binary"]:
        raw = answer.content[length:]
        assert raw == binary_of(expected["datatype"], expected["data"])
    else:
        assert json.dumps(values) == json.dumps(expected["data"]), (values, expected)


@given(fuzzed=v2_requests())
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_fuzz_v2_requests_against_echo(servers: Dict[str, ModelkilnServer], fuzzed: Fuzzed
                                       ) -> None:
    server = servers["Echo"]
    check_answer(server.session.post(server.url("/v2/models/Echo/infer"), data=fuzzed.data,
                                     headers=fuzzed.headers, timeout=60), fuzzed)


@given(fuzzed=v2_requests())
@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_fuzz_v2_requests_against_declared_and_raw(servers: Dict[str, ModelkilnServer],
                                                   fuzzed: Fuzzed) -> None:
    fuzzed.expected = None  # these models do not echo
    for name in ("Declared", "RawV2"):
        server = servers[name]
        check_answer(server.session.post(server.url(server.infer_path()), data=fuzzed.data,
                                         headers=fuzzed.headers, timeout=60), fuzzed,
                     echo=False)


def unexpected_tracebacks(log: str) -> List[str]:
    """The exception line of every traceback in a server log but those of KNOWN_500."""
    lines = log.splitlines()
    found = []
    for index, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        for later in lines[index + 1:]:
            if later and not later.startswith(" "):  # the exception line closes the trace
                if not any(known in later for known in KNOWN_500):
                    found.append(later)
                break
    return found


def test_servers_healthy_after_fuzzing(servers: Dict[str, ModelkilnServer]) -> None:
    for name, server in servers.items():
        assert server.alive(), server.log_tail()
        assert server.get("/v2/health/ready").json() == {"ready": True}
        answer = server.get("/v2/models/%s/ready" % name)
        assert answer.json() == {"name": name, "ready": True}
    for name in ("Echo", "Declared"):  # models that never raise: any traceback is the server's
        assert not unexpected_tracebacks(servers[name].log()), servers[name].log_tail()
