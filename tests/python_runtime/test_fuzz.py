"""Property tests against one live server whose class hands every input back unchanged.

Whatever is POSTed, the server must answer with valid JSON: a success with ``meta`` and
exactly one payload, or Seldon's error body with a 4xx status. A 5xx here can only be the
server's fault (the user class ``apps/fuzzecho/FuzzEcho.py`` never raises), and so is a
``Traceback`` in its log or a worker that died.
"""

import base64
import json
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("MODELKILN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None,
                suppress_health_check=list(HealthCheck))

MESSAGE_ROUTES = ("/predict", "/api/v1.0/predictions", "/transform-input", "/transform-output",
                  "/route", "/aggregate", "/send-feedback")
PAYLOAD_KEYS = {"data", "strData", "binData", "jsonData"}
SELDON_WORDS = ("data", "meta", "ndarray", "tensor", "tftensor", "names", "shape", "values",
                "jsonData", "strData", "binData", "tags", "metrics", "puid", "requestPath",
                "routing", "request", "response", "reward", "truth", "seldonMessages",
                "dtype", "tensorShape", "dim", "size", "intVal", "floatVal", "doubleVal",
                "int64Val", "stringVal", "boolVal", "halfVal", "tensorContent", "type",
                "key", "value")
TF_DTYPES = ("DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_INT16", "DT_INT8", "DT_UINT8",
             "DT_UINT16", "DT_INT64", "DT_UINT32", "DT_UINT64", "DT_BOOL", "DT_HALF",
             "DT_STRING", "DT_COMPLEX64", "float32")
TF_FIELDS = ("floatVal", "doubleVal", "intVal", "int64Val", "uint32Val", "uint64Val",
             "boolVal", "halfVal", "stringVal")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = live.LiveServer("fuzzecho", "FuzzEcho", env={"GUNICORN_WORKERS": "2"},
                             workdir=str(tmp_path_factory.mktemp("fuzz")))
    server.start()
    try:
        server.wait_ready()
        server.initial_workers = server.wait_workers(2)
        yield server
    finally:
        server.stop()
        print(server.log_tail())


@pytest.fixture
def healthy_after(server):
    """Each test leaves the server as it found it: same workers, still answering."""
    yield
    assert server.alive(), server.log_tail()
    assert server.workers() == server.initial_workers, (
        "a worker died or was replaced: %s -> %s\n%s"
        % (server.initial_workers, server.workers(), server.log_tail()))
    for _ in range(4):  # enough to reach both workers
        answer = server.post("/predict", json={"data": {"ndarray": [[1, 2]]}})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]},
                                 "meta": {}}


def assert_no_traceback(server, since):
    """No unhandled exception was logged by the server since log offset ``since``."""
    new_log = server.log()[since:]
    assert "Traceback" not in new_log, new_log[-6000:]


# -- strategies ------------------------------------------------------------------------------

keys = st.sampled_from(SELDON_WORDS) | st.text(max_size=8)
json_scalars = (st.none() | st.booleans() | st.text(max_size=12)
                | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
                | st.integers()  # beyond 64 bits: a 400, never a 500
                | st.floats())  # NaN and Infinity included: a 400
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25)

# Structured messages: mostly well-formed, each part sometimes replaced by something wrong,
# so that both the decoding and the answer-building code are exercised.
numbers = (st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
           | st.floats(allow_nan=False, allow_infinity=False))
leaves = (numbers | st.integers(min_value=-(1 << 70), max_value=1 << 70)  # beyond 64 bits
          | st.text(max_size=4) | st.booleans() | st.none())
ragged = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=20)
dims = (st.integers(min_value=-2, max_value=6)
        | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1))


def sometimes_wrong(draw, good, wrong, odds=4):
    """``good`` usually; ``wrong`` one time in ``odds``."""
    return draw(wrong) if draw(st.integers(1, odds)) == 1 else draw(good)


@st.composite
def rectangular(draw, elements):
    """(shape, nested list of that shape)."""
    shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))

    def build(rest):
        return [build(rest[1:]) for _ in range(rest[0])] if rest else draw(elements)

    return shape, build(shape)


def _flat(nested):
    if isinstance(nested, list):
        return [x for item in nested for x in _flat(item)]
    return [nested]


element_kinds = st.sampled_from([numbers, numbers, st.integers(-9, 9), leaves])


@st.composite
def ndarrays(draw):
    shape, nested = draw(rectangular(draw(element_kinds)))
    return {"ndarray": sometimes_wrong(draw, st.just(nested), ragged | json_values)}


@st.composite
def tensors(draw):
    shape, nested = draw(rectangular(draw(element_kinds)))
    tensor = {"shape": sometimes_wrong(draw, st.just(shape), st.lists(dims, max_size=5)
                                       | json_values),
              "values": sometimes_wrong(draw, st.just(_flat(nested)), ragged | json_values)}
    for key in ("shape", "values"):
        if draw(st.integers(1, 10)) == 1:
            del tensor[key]
    return {"tensor": sometimes_wrong(draw, st.just(tensor), json_values, odds=10)}


TF_VALUES = {
    "DT_FLOAT": ("floatVal", numbers), "DT_DOUBLE": ("doubleVal", numbers),
    "DT_INT32": ("intVal", st.integers(-(1 << 31), (1 << 31) - 1)),
    "DT_INT16": ("intVal", st.integers(-(1 << 15), (1 << 15) - 1)),
    "DT_INT8": ("intVal", st.integers(-128, 127)), "DT_UINT8": ("intVal", st.integers(0, 255)),
    "DT_UINT16": ("intVal", st.integers(0, (1 << 16) - 1)),
    "DT_INT64": ("int64Val", st.integers(-(1 << 63), (1 << 63) - 1).map(str)),
    "DT_UINT32": ("uint32Val", st.integers(0, (1 << 32) - 1)),
    "DT_UINT64": ("uint64Val", st.integers(0, (1 << 64) - 1).map(str)),
    "DT_BOOL": ("boolVal", st.booleans()), "DT_HALF": ("halfVal", st.integers(0, 65535)),
    "DT_STRING": ("stringVal", st.binary(max_size=6).map(
        lambda b: base64.b64encode(b).decode())),
}
TF_ITEMSIZE = {"DT_FLOAT": 4, "DT_DOUBLE": 8, "DT_INT32": 4, "DT_INT16": 2, "DT_INT8": 1,
               "DT_UINT8": 1, "DT_UINT16": 2, "DT_INT64": 8, "DT_UINT32": 4, "DT_UINT64": 8,
               "DT_BOOL": 1, "DT_HALF": 2}


@st.composite
def tftensors(draw):
    dtype = draw(st.sampled_from(sorted(TF_VALUES)))
    field, element = TF_VALUES[dtype]
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    size = 1
    for d in shape:
        size *= d
    tensor = {"dtype": sometimes_wrong(draw, st.just(dtype), st.sampled_from(TF_DTYPES)
                                       | json_values, odds=6),
              "tensorShape": sometimes_wrong(
                  draw, st.just({"dim": [{"size": str(d)} for d in shape]}),
                  st.fixed_dictionaries({"dim": st.lists(st.fixed_dictionaries(
                      {"size": dims | st.text(max_size=3) | json_values}), max_size=4)})
                  | json_values, odds=6)}
    if dtype in TF_ITEMSIZE and draw(st.booleans()):
        content = draw(st.binary(min_size=size * TF_ITEMSIZE[dtype],
                                 max_size=size * TF_ITEMSIZE[dtype]))
        tensor["tensorContent"] = sometimes_wrong(
            draw, st.just(base64.b64encode(content).decode()), st.text(max_size=8)
            | json_values, odds=6)
    else:
        values = draw(st.lists(element, min_size=size, max_size=size))
        wrong_field = st.sampled_from(TF_FIELDS)
        tensor[sometimes_wrong(draw, st.just(field), wrong_field, odds=8)] = sometimes_wrong(
            draw, st.just(values), st.lists(leaves, max_size=8) | json_values, odds=6)
    return {"tftensor": tensor}


@st.composite
def data_defs(draw):
    data = dict(draw(ndarrays() | tensors() | tftensors()))
    if draw(st.integers(1, 8)) == 1:
        data.update(draw(st.dictionaries(keys, json_values, max_size=2)))
    if draw(st.booleans()):
        data["names"] = sometimes_wrong(draw, st.lists(st.text(max_size=4), max_size=4),
                                        json_values, odds=6)
    return data


metric_items = st.fixed_dictionaries(
    {"type": st.sampled_from(["COUNTER", "GAUGE", "TIMER"]),
     "key": st.from_regex(r"[a-z_]{1,8}", fullmatch=True), "value": numbers},
    optional={"tags": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2)})


@st.composite
def metas(draw):
    meta = draw(st.fixed_dictionaries({}, optional={
        "puid": st.text(max_size=8),
        "tags": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        "metrics": st.lists(metric_items, max_size=2),
        "requestPath": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
        "routing": st.dictionaries(st.text(max_size=3), st.integers(-1, 3), max_size=2),
    }))
    for key in list(meta) + ["extra"]:
        if draw(st.integers(1, 6)) == 1:
            meta[key] = draw(json_values)
    return sometimes_wrong(draw, st.just(meta), json_values, odds=10)


@st.composite
def messages(draw):
    kind = draw(st.sampled_from(["data"] * 6 + ["strData", "binData", "jsonData", "several",
                                                "none"]))
    message = {}
    if kind == "data":
        message["data"] = sometimes_wrong(draw, data_defs(), json_values, odds=20)
    elif kind == "strData":
        message["strData"] = sometimes_wrong(draw, st.text(max_size=20), json_values)
    elif kind == "binData":
        message["binData"] = sometimes_wrong(
            draw, st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()),
            st.text(max_size=20) | json_values)
    elif kind == "jsonData":
        message["jsonData"] = draw(json_values)
    elif kind == "several":
        for key in draw(st.sets(st.sampled_from(sorted(PAYLOAD_KEYS)), min_size=2)):
            message[key] = draw(json_values)
    if draw(st.booleans()):
        message["meta"] = draw(metas())
    return message


@st.composite
def route_bodies(draw):
    """(route, body) with the body shaped for the route, give or take."""
    route = draw(st.sampled_from(MESSAGE_ROUTES))
    if route == "/aggregate":
        items = draw(st.lists(messages(), max_size=3))
        body = draw(st.sampled_from(["list", "wrapped", "single"]))
        if body == "list":
            return route, items
        if body == "wrapped":
            return route, {"seldonMessages": items}
        return route, draw(messages())
    if route == "/send-feedback":
        feedback = draw(st.fixed_dictionaries({}, optional={
            "request": messages(), "response": messages(), "truth": messages(),
            "reward": st.floats(allow_nan=False) | st.integers(-(1 << 63), (1 << 63) - 1),
        }))
        for key in list(feedback) + ["extra"]:
            if draw(st.integers(1, 8)) == 1:
                feedback[key] = draw(json_values)
        return route, feedback
    return route, draw(messages())


CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/json",
                 "application/vnd.seldon+json", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=fuzzboundary", "multipart/form-data",
                 "text/plain", "application/octet-stream", "image/png", "", "*/*",
                 "application/json; charset=latin-1", "multipart/mixed; boundary=x")


@st.composite
def multipart_bodies(draw):
    boundary = "fuzzboundary"
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["data", "strData", "binData", "jsonData", "meta",
                                     "json", "x"]))
        content = draw(st.binary(max_size=60) | json_values.map(
            lambda v: json.dumps(v).encode()))
        filename = draw(st.none() | st.sampled_from(["f.bin", "f.json"]))
        disposition = 'form-data; name="%s"' % name
        if filename:
            disposition += '; filename="%s"' % filename
        parts.append(b"--" + boundary.encode() + b"\r\nContent-Disposition: "
                     + disposition.encode() + b"\r\n\r\n" + content + b"\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    if draw(st.booleans()) and draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut]  # truncated
    return body


def _form(value):
    from urllib.parse import urlencode
    return urlencode({"json": value}).encode()


raw_bodies = (st.binary(max_size=300)
              | json_values.map(lambda v: json.dumps(v).encode())
              | json_values.map(lambda v: _form(json.dumps(v)))
              | st.text(max_size=100).map(lambda t: _form(t))
              | multipart_bodies()
              | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
queries = st.none() | json_values.map(lambda v: "json=" + json.dumps(v)) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


# -- properties ------------------------------------------------------------------------------


def check_answer(answer, route, sent=None):
    """The properties every answer to a message route has."""
    where = "%s %s -> %d %r" % (route, describe(sent), answer.status_code, answer.content[:600])
    assert answer.status_code < 500, where
    assert answer.headers.get("Content-Type", "").startswith("application/json"), where
    try:
        body = json.loads(answer.content.decode("utf-8"))
    except ValueError:
        raise AssertionError("answer is not JSON: " + where)
    if answer.status_code != 200:
        assert answer.status_code in (400, 413, 415), where
        assert isinstance(body, dict) and set(body) == {"status"}, where
        inner = body["status"]
        assert set(inner) == live.ERROR_KEYS, where
        assert inner["status"] == 1, where
        assert isinstance(inner["info"], str) and inner["info"], where
        assert isinstance(inner["code"], int) and not isinstance(inner["code"], bool), where
        assert isinstance(inner["reason"], str) and inner["reason"], where
        return body
    assert isinstance(body, dict), where
    assert isinstance(body.get("meta"), dict), where
    assert len(PAYLOAD_KEYS & set(body)) == 1, where
    assert set(body) - PAYLOAD_KEYS <= {"meta"}, where
    return body


def describe(value):
    text = repr(value)
    return text if len(text) < 800 else text[:800] + "..."


def check_echo(route, sent, body):
    """What FuzzEcho answers for the simple payload kinds (identity)."""
    if route not in ("/predict", "/api/v1.0/predictions", "/transform-input",
                     "/transform-output") or not isinstance(sent, dict):
        return
    payload = PAYLOAD_KEYS & set(sent)
    if len(payload) != 1:
        return
    key = payload.pop()
    if key == "strData":
        assert body.get("strData") == sent["strData"], (sent, body)
    elif key == "jsonData" and isinstance(sent["jsonData"], dict):
        assert body.get("jsonData") == sent["jsonData"], (sent, body)
    elif key == "binData":
        assert base64.b64decode(body["binData"]) == base64.b64decode(sent["binData"])


def post_json(server, route, value):
    data = json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    return server.session.post(server.url(route), data=data, timeout=live.REQUEST_TIMEOUT,
                               headers={"Content-Type": "application/json"})


def post_and_check(server, route, value):
    """POST one message; the answer must be well formed, and a 200 must echo the input."""
    answer = post_json(server, route, value)
    body = check_answer(answer, route, value)
    if answer.status_code == 200:
        check_echo(route, value, body)


@pytest.mark.usefixtures("healthy_after")
def test_arbitrary_json_values(server):
    start = server.log_size()

    @FUZZ
    @given(route=st.sampled_from(MESSAGE_ROUTES), value=json_values)
    @example(route="/predict", value={"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "x"}})
    @example(route="/predict", value=[1, 2])
    @example(route="/aggregate", value={"seldonMessages": []})
    @example(route="/predict", value={"data": {"ndarray": [[1.5, float("nan")]]}})
    @example(route="/predict", value={"jsonData": 1 << 64})
    def run(route, value):
        post_and_check(server, route, value)

    run()
    assert_no_traceback(server, start)


@pytest.mark.usefixtures("healthy_after")
def test_structured_but_wrong_messages(server):
    start = server.log_size()

    @FUZZ
    @given(route_body=route_bodies())
    @example(route_body=("/predict", {"data": {"tensor": {"shape": [2, 2],
                                                         "values": [1, 2, 3, 4]}}}))
    @example(route_body=("/predict", {"data": {"ndarray": [[1], [2, 3]]}}))
    @example(route_body=("/predict", {"data": {"ndarray": [[(1 << 64) - 1, -1]]}}))
    @example(route_body=("/send-feedback", {"request": {"data": {"ndarray": [[1]]}},
                                           "reward": 1}))
    def run(route_body):
        post_and_check(server, *route_body)

    run()
    assert_no_traceback(server, start)


@pytest.mark.usefixtures("healthy_after")
def test_arbitrary_bytes_and_content_types(server):
    start = server.log_size()

    @FUZZ
    @given(route=st.sampled_from(MESSAGE_ROUTES), body=raw_bodies,
           content_type=st.none() | st.sampled_from(CONTENT_TYPES)
           | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
           query=queries, method=st.sampled_from(["POST", "POST", "POST", "GET"]))
    @example(route="/predict", body=b"\xff\xfe{}", content_type="application/json",
             query=None, method="POST")
    @example(route="/predict", body=b"", content_type=None, query='json={"strData":"x"}',
             method="GET")
    def run(route, body, content_type, query, method):
        if method == "GET" and route.startswith("/api/"):
            method = "POST"  # the /api/ routes take POST only
        elif method == "GET":
            body = b""
        headers = {} if content_type is None else {"Content-Type": content_type}
        url = server.url(route) + ("?" + query if query else "")
        answer = server.session.request(method, url, data=body, headers=headers,
                                        timeout=live.REQUEST_TIMEOUT)
        check_answer(answer, route, (method, content_type, query, body))

    run()
    assert_no_traceback(server, start)


# -- V2 ------------------------------------------------------------------------------------

V2_INFER = "/v2/models/FuzzEcho/infer"
V2_DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                "INT64", "FP16", "FP32", "FP64", "BYTES")


@st.composite
def v2_inputs(draw):
    datatype = sometimes_wrong(draw, st.sampled_from(V2_DATATYPES), json_scalars, odds=10)
    shape = sometimes_wrong(draw, st.lists(st.integers(min_value=0, max_value=4), max_size=3),
                            st.lists(dims, max_size=3) | json_values, odds=10)
    item = {"name": sometimes_wrong(draw, st.just("x"), json_scalars, odds=10),
            "datatype": datatype, "shape": shape}
    count = 1
    for size in shape if isinstance(shape, list) else []:
        count *= size if isinstance(size, int) and 0 <= size < 10 ** 6 else 1
    count = min(count, 64)  # a wrong shape may ask for more: then the data does not fit
    fitting = {"BOOL": st.booleans(), "BYTES": st.text(max_size=4)}.get(
        datatype, st.integers(0, 100) | st.floats(0, 100, width=16))
    if isinstance(datatype, str) and datatype.startswith(("INT", "UINT")):
        fitting = st.integers(0, 127)
    item["data"] = sometimes_wrong(draw, st.lists(fitting, min_size=count, max_size=count),
                                   ragged | st.lists(leaves, min_size=count, max_size=count))
    if draw(st.integers(0, 5)) == 0:
        item["parameters"] = draw(st.dictionaries(
            st.sampled_from(["binary_data_size", "content_type", "other"]), json_scalars,
            max_size=2))
    return item


@st.composite
def v2_bodies(draw):
    body = {"inputs": sometimes_wrong(draw, st.lists(v2_inputs(), min_size=1, max_size=2),
                                      json_values, odds=10)}
    if draw(st.booleans()):
        body["id"] = sometimes_wrong(draw, st.text(max_size=6), json_scalars)
    if draw(st.integers(0, 3)) == 0:
        requested = st.fixed_dictionaries(
            {"name": st.sampled_from(["output-0", "nope"]),
             "parameters": st.fixed_dictionaries({"binary_data": st.booleans()})})
        body["outputs"] = sometimes_wrong(draw, st.lists(requested, max_size=2), json_values)
    if draw(st.integers(0, 3)) == 0:
        body["parameters"] = sometimes_wrong(
            draw, st.fixed_dictionaries({"binary_data_output": st.booleans()}), json_values)
    return body


def check_v2_answer(answer, sent):
    """200 with outputs (JSON or binary), or a 4xx with {"error": text}; never a 5xx."""
    assert answer.status_code < 500, (sent, answer.status_code, answer.text[:2000])
    if answer.status_code == 200:
        length = answer.headers.get("Inference-Header-Content-Length")
        header = answer.content[:int(length)] if length else answer.content
        body = json.loads(header)
        assert body["model_name"] == "FuzzEcho" and isinstance(body["outputs"], list), body
        return
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body


@pytest.mark.usefixtures("healthy_after")
def test_v2_bodies(server):
    start = server.log_size()

    @FUZZ
    @given(body=v2_bodies(), binary_tail=st.none() | st.binary(max_size=40),
           header_length=st.none() | st.integers(-2, 400)
           | st.text(alphabet="0123456789-x.", min_size=1, max_size=4))
    @example(body={"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2],
                               "data": [1.5, 2]}]}, binary_tail=None, header_length=None)
    @example(body={"inputs": [{"name": "x", "datatype": "INT8", "shape": [1],
                               "parameters": {"binary_data_size": 1}}],
                   "parameters": {"binary_data_output": True}},
             binary_tail=b"\x05", header_length=-1)
    def run(body, binary_tail, header_length):
        data = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        headers = {"Content-Type": "application/json"}
        if binary_tail is not None:
            headers["Inference-Header-Content-Length"] = str(
                len(data) if header_length == -1 or header_length is None else header_length)
            data += binary_tail
        answer = server.session.post(server.url(V2_INFER), data=data, headers=headers,
                                     timeout=live.REQUEST_TIMEOUT)
        check_v2_answer(answer, (body, binary_tail, header_length))
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    statuses = {}
    run()
    assert_no_traceback(server, start)
    # The strategies reach both the model and the refusals.
    assert statuses.get(200, 0) >= 3 and statuses.get(400, 0) >= 3, statuses
    print("V2 fuzz answers by status: %s" % statuses)


# -- inputs the fuzzing found ----------------------------------------------------------------

def _tftensor(dtype, field, values, shape=({"size": "1"},)):
    return {"data": {"tftensor": {"dtype": dtype, "tensorShape": {"dim": list(shape)},
                                  field: values}}}


def _deep(depth, leaf):
    return b"[" * depth + leaf + b"]" * depth


# id, route, Content-Type, body: each must be answered with a 4xx error body (or a 200),
# never a 500 with a traceback in the log.
FOUND = [
    ("tftensor-dtype-is-list", "/predict", _tftensor(["DT_FLOAT"], "floatVal", [1.0])),
    ("tftensor-dtype-is-object", "/predict", _tftensor({}, "floatVal", [1.0])),
    ("tftensor-shape-is-number", "/predict",
     {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": 5, "floatVal": [1.0]}}}),
    ("tftensor-shape-is-list", "/predict",
     {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": [{}], "floatVal": [1.0]}}}),
    ("tftensor-int8-out-of-range", "/predict", _tftensor("DT_INT8", "intVal", [1000])),
    ("tftensor-half-out-of-range", "/predict", _tftensor("DT_HALF", "halfVal", [70000])),
    ("tftensor-uint64-negative", "/predict", _tftensor("DT_UINT64", "uint64Val", ["-1"])),
    ("tftensor-string-round-trip", "/predict", _tftensor("DT_STRING", "stringVal", ["YWJj"])),
    ("meta-metrics-is-number", "/predict", {"data": {"ndarray": [[1]]}, "meta": {"metrics": 5}}),
    ("meta-requestPath-is-number", "/predict",
     {"data": {"ndarray": [[1]]}, "meta": {"requestPath": 5}}),
    ("meta-requestPath-is-string", "/transform-input",
     {"strData": "x", "meta": {"requestPath": "ab"}}),
    ("aggregate-meta-tags-is-list", "/aggregate",
     [{"data": {"ndarray": [[1]]}, "meta": {"tags": [1]}}]),
    ("aggregate-meta-requestPath-is-number", "/aggregate",
     {"seldonMessages": [{"data": {"ndarray": [[1]]}, "meta": {"requestPath": 3}}]}),
    ("aggregate-meta-metrics-is-number", "/aggregate",
     [{"data": {"ndarray": [[1]]}, "meta": {"metrics": 3}}]),
    ("feedback-routing-is-list", "/send-feedback",
     {"request": {"data": {"ndarray": [[1]]}}, "response": {"meta": {"routing": [1]}},
      "reward": 1}),
    # The standard library parser recurses (always without orjson; with orjson when a long
    # number sends the body to the standard library): a RecursionError, not a 400.
    ("deeply-nested-json", "/predict", _deep(100000, b"1234567890123456789")),
    ("deeply-nested-json-form", "/predict",
     b"json=" + b"%5B" * 100000 + b"1234567890123456789" + b"%5D" * 100000),
]


@pytest.mark.usefixtures("healthy_after")
@pytest.mark.parametrize("route,body", [f[1:] for f in FOUND], ids=[f[0] for f in FOUND])
def test_found_inputs_are_not_server_errors(server, route, body):
    start = server.log_size()
    if isinstance(body, bytes):
        ctype = ("application/x-www-form-urlencoded" if body.startswith(b"json=")
                 else "application/json")
        answer = server.session.post(server.url(route), data=body, timeout=live.REQUEST_TIMEOUT,
                                     headers={"Content-Type": ctype})
    else:
        answer = post_json(server, route, body)
    check_answer(answer, route, body)
    assert_no_traceback(server, start)
