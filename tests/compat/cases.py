"""The differential case table: which server to start and which requests to send it.

A *deployment* is a user class from ``models/`` plus the service type and environment it
runs with; one oracle/candidate pair is started per deployment. A *case* is one HTTP request
sent identically to both servers. Nothing here says what the answer must be: seldon-core
1.18 is the oracle (see ``intentional.py`` for the answers modelkiln gives on purpose).

How a case's body travels (``send``):

- ``json``: ``json.dumps(body)`` with ``Content-Type: application/json``;
- ``form``: urlencoded form field ``json=<json.dumps(body)>``;
- ``query``: query parameter ``json=<json.dumps(body)>``;
- ``multipart``: multipart/form-data; ``binData`` (bytes) as a file upload, ``strData`` as a
  text field, a ``File`` value as a file, a ``Text`` value verbatim, anything else as a
  JSON-encoded text field;
- ``raw``: ``body`` (str or bytes) verbatim, with ``content_type`` if given;
- ``none``: no body at all.
"""

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class Deployment:
    name: str
    model: str                       # MODEL_NAME: file and class in models/
    service_type: str = "MODEL"
    env: Dict[str, str] = field(default_factory=dict)
    # True when /metadata comes from the user (init_metadata / MODEL_METADATA): then its
    # name/versions are compared; otherwise they name the server image and are ignored.
    user_metadata: bool = False
    # True when PREDICTIVE_UNIT_ID/IMAGE are set: requestPath and metadata compared exactly.
    exact_identity: bool = False
    # Set when modelkiln must refuse to start this deployment (intentionally, see
    # intentional.py): the start-up error it must print. Its cases then run only in the
    # seldon self-check, and test_modelkiln_refuses_to_start checks the refusal.
    refused_by_modelkiln: str = ""


@dataclass(frozen=True)
class File:
    """A multipart part sent as a file upload (with a filename)."""
    content: bytes
    filename: str = "upload.txt"


@dataclass(frozen=True)
class Text:
    """A multipart part sent verbatim as a text field (not JSON-encoded)."""
    value: str


@dataclass(frozen=True)
class Case:
    id: str
    deployment: str
    path: str
    method: str = "POST"
    send: str = "json"
    body: Any = None
    content_type: Optional[str] = None   # only for send="raw"
    compare: str = "exact"               # "exact" or "status" (documents that must differ)
    note: str = ""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


PARAMETERS = [
    {"name": "scale", "value": "2.5", "type": "FLOAT"},
    {"name": "offset", "value": "3", "type": "INT"},
    {"name": "label", "value": "hello", "type": "STRING"},
    {"name": "enabled", "value": "true", "type": "BOOL"},
    {"name": "ratio", "value": "0.25", "type": "DOUBLE"},
]

METADATA_YAML = """\
name: env-model
versions: [env/1]
platform: seldon
inputs:
- messagetype: ndarray
  schema:
    names: [x, y]
outputs:
- messagetype: ndarray
  schema:
    shape: [1]
"""

DEPLOYMENTS: List[Deployment] = [
    Deployment("bare", "Bare"),
    Deployment("no-methods", "NoMethods",
               refused_by_modelkiln="class NoMethods has no predict or predict_raw method, "
                                    "which SERVICE_TYPE=MODEL needs"),
    Deployment("doubler", "Doubler"),
    Deployment("softmax", "Softmax"),
    Deployment("int-model", "IntModel"),
    Deployment("returns-list", "ReturnsList"),
    Deployment("returns-strings", "ReturnsStrings"),
    Deployment("returns-str", "ReturnsStr"),
    Deployment("returns-bytes", "ReturnsBytes"),
    Deployment("returns-dict", "ReturnsDict"),
    Deployment("odd-returns", "OddReturns"),
    Deployment("tags-metrics", "TagsMetrics"),
    Deployment("seldon-style", "SeldonStyle"),
    Deployment("meta-aware", "MetaAware"),
    Deployment("raw-predict", "RawPredict"),
    Deployment("passthrough", "Passthrough", env={"PAYLOAD_PASSTHROUGH": "true"}),
    Deployment("custom-error", "CustomError"),
    Deployment("custom-error-nohandler", "CustomErrorNoHandler"),
    Deployment("value-error", "RaisesValueError"),
    Deployment("transformer", "Transformer", service_type="TRANSFORMER"),
    Deployment("output-transformer", "Transformer", service_type="OUTPUT_TRANSFORMER"),
    Deployment("router", "Router", service_type="ROUTER"),
    Deployment("combiner", "Combiner", service_type="COMBINER"),
    Deployment("outlier", "Outlier", service_type="OUTLIER_DETECTOR"),
    Deployment("feedback", "Feedback"),
    Deployment("health-meta", "HealthMeta", user_metadata=True),
    Deployment("bad-metadata", "BadMetadata", user_metadata=True),
    Deployment("metadata-env", "Bare", env={"MODEL_METADATA": METADATA_YAML}, user_metadata=True),
    Deployment("metadata-env-override", "HealthMeta",
               env={"MODEL_METADATA": json.dumps({"versions": ["override/2"], "platform": "env"})},
               user_metadata=True),
    Deployment("params", "Params", env={"PREDICTIVE_UNIT_PARAMETERS": json.dumps(PARAMETERS)}),
    Deployment("identity", "Bare", exact_identity=True, user_metadata=True,
               env={"PREDICTIVE_UNIT_ID": "classifier",
                    "PREDICTIVE_UNIT_IMAGE": "example.com/team/classifier:1.2.3"}),
]

DEPLOYMENT_BY_NAME = {d.name: d for d in DEPLOYMENTS}

# --- payloads -------------------------------------------------------------------------

ND_FLOAT = {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0], [3.0, 4.5]]}}
ND_INT = {"data": {"ndarray": [[1, 2], [3, 4]]}}
ND_1D = {"data": {"ndarray": [1.5, 2, 3]}}
ND_3D = {"data": {"ndarray": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}}
ND_EMPTY = {"data": {"ndarray": []}}
ND_STRINGS = {"data": {"names": ["w"], "ndarray": [["cat"], ["dog"]]}}
ND_MIXED = {"data": {"ndarray": [[1, "a", None, True]]}}
ND_RAGGED = {"data": {"ndarray": [[1, 2], [3]]}}
ND_BOOL = {"data": {"ndarray": [[True, False]]}}
ND_SOFTMAX = {"data": {"names": ["x", "y", "z"], "ndarray": [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]}}
TENSOR = {"data": {"names": ["a", "b"], "tensor": {"shape": [2, 2], "values": [1.0, 2.0, 3.0, 4.0]}}}
TENSOR_INT = {"data": {"tensor": {"shape": [1, 3], "values": [1, 2, 3]}}}
TENSOR_BAD_SHAPE = {"data": {"tensor": {"shape": [2, 2], "values": [1.0, 2.0, 3.0]}}}
TENSOR_NO_VALUES = {"data": {"tensor": {"shape": [2]}}}
TENSOR_NO_SHAPE = {"data": {"tensor": {"values": [1.0, 2.0]}}}
TFTENSOR = {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]},
                                  "floatVal": [1.0, 2.0]}}}
STR = {"strData": "hello world"}
STR_UNICODE = {"strData": "h\u00e9llo \u2603"}
BIN_RAW = b"\x00\x01\x02binary\xff"
BIN = {"binData": b64(BIN_RAW)}
BIN_NOT_B64 = {"binData": "@@not base64@@"}
JSONDATA = {"jsonData": {"a": 1, "b": [1.5, "x"], "c": {"d": None}}}
JSONDATA_SCALAR = {"jsonData": 7}
META = {"meta": {"puid": "puid-123", "tags": {"client": "t1", "shared": "from-request"},
                 "routing": {"r1": 1}},
        "data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}
META_REQUEST_PATH = {"meta": {"requestPath": {"upstream": "img:1"}, "metrics": [
    {"key": "up", "type": "COUNTER", "value": 2}]}, "data": {"ndarray": [[1]]}}
META_ONLY = {"meta": {"puid": "only-meta"}}
NAMES_ONLY = {"data": {"names": ["a", "b"]}}
DATA_LIST = {"data": [1, 2]}
DATA_NULL = {"data": None}
TWO_KINDS = {"data": {"ndarray": [[1]]}, "strData": "also"}
UNKNOWN_KEY = {"foo": "bar"}
STR_NOT_STRING = {"strData": 12}
NDARRAY_NOT_LIST = {"data": {"ndarray": "abc"}}

AGG_LIST = [{"data": {"ndarray": [[1.0, 2.0]]}}, {"data": {"ndarray": [[3.0, 4.0]]}}]
AGG_META = [
    {"meta": {"puid": "p1", "tags": {"from": "first", "a": 1}, "requestPath": {"m1": "img1"},
              "metrics": [{"key": "k1", "type": "COUNTER", "value": 1}]},
     "data": {"names": ["x", "y"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}},
    {"meta": {"tags": {"from": "second", "b": 2}, "requestPath": {"m2": "img2"}},
     "data": {"names": ["x", "y"], "tensor": {"shape": [1, 2], "values": [5.0, 6.0]}}},
]
AGG_MISMATCH = [{"data": {"ndarray": [[1.0, 2.0]]}}, {"data": {"ndarray": [[3.0]]}}]

FEEDBACK = {"request": {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}},
            "response": {"data": {"ndarray": [[0.9, 0.1]]}},
            "reward": 1.0}
FEEDBACK_TRUTH = {"request": {"data": {"ndarray": [[1.0, 2.0]]}},
                  "response": {"meta": {"routing": {"feedback": 1, "other": 0}},
                               "data": {"ndarray": [[0.9]]}},
                  "reward": 7, "truth": {"data": {"ndarray": [[1.0]]}}}
FEEDBACK_ROUTING_DEFAULT = {"request": {"data": {"ndarray": [[1.0]]}},
                            "response": {"meta": {"routing": {"0": 2}}},
                            "reward": 9}


def _c(id, deployment, path, **kw) -> Case:
    return Case(id=id, deployment=deployment, path=path, **kw)


CASES: List[Case] = [
    # --- bare: routes and their defaults -----------------------------------------------
    _c("bare-predict-ndarray-float", "bare", "/predict", body=ND_FLOAT),
    _c("bare-predict-ndarray-int", "bare", "/predict", body=ND_INT),
    _c("bare-predict-tensor", "bare", "/predict", body=TENSOR),
    _c("bare-predict-strdata", "bare", "/predict", body=STR),
    _c("bare-predict-bindata", "bare", "/predict", body=BIN),
    _c("bare-predict-jsondata", "bare", "/predict", body=JSONDATA),
    _c("bare-predict-meta", "bare", "/predict", body=META),
    _c("bare-predict-meta-requestpath-metrics", "bare", "/predict", body=META_REQUEST_PATH),
    _c("bare-v1-predictions", "bare", "/api/v1.0/predictions", body=ND_FLOAT),
    _c("bare-v01-predictions", "bare", "/api/v0.1/predictions", body=ND_FLOAT),
    _c("bare-v1-predictions-get", "bare", "/api/v1.0/predictions", method="GET", send="query",
       body=ND_FLOAT),
    _c("bare-predict-get-query", "bare", "/predict", method="GET", send="query", body=ND_FLOAT),
    _c("bare-predict-form", "bare", "/predict", send="form", body=ND_FLOAT),
    _c("bare-predict-post-query", "bare", "/predict", send="query", body=TENSOR),
    _c("bare-transform-input", "bare", "/transform-input", body=ND_FLOAT),
    _c("bare-transform-input-tensor-meta", "bare", "/transform-input",
       body={"meta": {"puid": "x1", "tags": {"t": 1}},
             "data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}),
    _c("bare-transform-output", "bare", "/transform-output", body=ND_FLOAT),
    _c("bare-transform-output-strdata", "bare", "/transform-output", body=STR),
    _c("bare-route", "bare", "/route", body=ND_FLOAT),
    _c("bare-aggregate", "bare", "/aggregate", body=AGG_LIST),
    _c("bare-send-feedback", "bare", "/send-feedback", body=FEEDBACK),
    _c("bare-health-ping", "bare", "/health/ping", method="GET", send="none"),
    _c("bare-health-status", "bare", "/health/status", method="GET", send="none"),
    _c("bare-v1-health-status", "bare", "/api/v1.0/health/status", method="GET", send="none"),
    _c("bare-metadata", "bare", "/metadata", method="GET", send="none"),
    _c("bare-v1-metadata", "bare", "/api/v1.0/metadata", method="GET", send="none"),
    _c("bare-unknown-route", "bare", "/no-such-route", method="GET", send="none"),
    _c("bare-health-ping-post", "bare", "/health/ping", send="none"),
    _c("bare-health-status-post", "bare", "/health/status", body=ND_FLOAT),
    _c("bare-openapi", "bare", "/seldon.json", method="GET", send="none", compare="status",
       note="the OpenAPI document is written independently; only its presence is compared"),

    # --- request parsing errors ---------------------------------------------------------
    _c("bare-err-malformed-json", "bare", "/predict", send="raw", body='{"data": {"ndarray": [[1,',
       content_type="application/json"),
    _c("bare-err-empty-body-json", "bare", "/predict", send="raw", body="",
       content_type="application/json"),
    _c("bare-err-no-body", "bare", "/predict", send="none"),
    _c("bare-err-text-plain", "bare", "/predict", send="raw", body=json.dumps(ND_FLOAT),
       content_type="text/plain"),
    _c("bare-err-json-no-content-type", "bare", "/predict", send="raw", body=json.dumps(ND_FLOAT)),
    _c("bare-err-form-malformed", "bare", "/predict", send="raw", body="json=%7Bnot-json",
       content_type="application/x-www-form-urlencoded"),
    _c("bare-err-query-malformed", "bare", "/predict?json=%7Bnot-json", send="none"),
    _c("bare-json-charset", "bare", "/predict", send="raw", body=json.dumps(ND_INT),
       content_type="application/json; charset=utf-8"),
    _c("bare-json-plus-json-type", "bare", "/predict", send="raw", body=json.dumps(ND_INT),
       content_type="application/vnd.example+json"),
    _c("bare-form-and-query", "bare", "/predict?json=%7B%22strData%22%3A%22from-query%22%7D",
       send="form", body={"strData": "from-form"}),
    _c("bare-predict-bigint", "bare", "/predict", body={"data": {"ndarray": [[12345678901234567890]]}}),
    _c("bare-predict-jsondata-null", "bare", "/predict", body={"jsonData": None}),
    _c("bare-predict-strdata-empty", "bare", "/predict", body={"strData": ""}),
    _c("bare-err-json-list", "bare", "/predict", body=[1, 2, 3]),
    _c("bare-err-json-string", "bare", "/predict", body="hello"),
    _c("bare-err-json-null", "bare", "/predict", send="raw", body="null",
       content_type="application/json"),
    _c("bare-err-empty-object", "bare", "/predict", body={}),
    _c("bare-err-meta-only", "bare", "/predict", body=META_ONLY),
    _c("bare-err-names-only", "bare", "/predict", body=NAMES_ONLY),
    _c("bare-err-data-list", "bare", "/predict", body=DATA_LIST),
    _c("bare-err-data-null", "bare", "/predict", body=DATA_NULL),
    _c("bare-err-two-kinds", "bare", "/predict", body=TWO_KINDS),
    _c("bare-err-unknown-key", "bare", "/predict", body=UNKNOWN_KEY),
    _c("bare-err-strdata-not-string", "bare", "/predict", body=STR_NOT_STRING),
    _c("bare-err-ndarray-not-list", "bare", "/predict", body=NDARRAY_NOT_LIST),
    _c("bare-err-bindata-not-base64", "bare", "/predict", body=BIN_NOT_B64),
    _c("bare-err-tensor-bad-shape", "bare", "/predict", body=TENSOR_BAD_SHAPE),
    _c("bare-err-tensor-no-values", "bare", "/predict", body=TENSOR_NO_VALUES),
    _c("bare-err-tensor-no-shape", "bare", "/predict", body=TENSOR_NO_SHAPE),
    _c("bare-tftensor", "bare", "/predict", body=TFTENSOR),
    _c("bare-err-nan-input", "bare", "/predict", send="raw",
       body='{"data": {"ndarray": [[NaN, Infinity]]}}', content_type="application/json"),
    _c("bare-err-non-utf8", "bare", "/predict", send="raw", body=b'{"strData": "\xff\xfe"}',
       content_type="application/json"),
    _c("bare-err-meta-not-object", "bare", "/predict",
       body={"meta": "x", "data": {"ndarray": [[1]]}}),
    _c("bare-err-puid-not-string", "bare", "/predict",
       body={"meta": {"puid": 5}, "data": {"ndarray": [[1]]}}),
    _c("bare-err-tags-not-object", "bare", "/predict",
       body={"meta": {"tags": [1]}, "data": {"ndarray": [[1]]}}),

    # --- multipart ----------------------------------------------------------------------
    _c("bare-multipart-strdata", "bare", "/predict", send="multipart", body={"strData": "from a form"}),
    _c("bare-multipart-strdata-file", "bare", "/predict", send="multipart",
       body={"strData": File("file text\n".encode())}),
    _c("bare-multipart-bindata", "bare", "/predict", send="multipart", body={"binData": BIN_RAW}),
    _c("bare-multipart-bindata-meta", "bare", "/predict", send="multipart",
       body={"binData": BIN_RAW, "meta": {"puid": "mp-1", "tags": {"via": "multipart"}}}),
    _c("bare-multipart-data-field", "bare", "/predict", send="multipart",
       body={"data": {"ndarray": [[1, 2]]}}),
    _c("bare-multipart-jsondata-field", "bare", "/predict", send="multipart",
       body={"jsonData": {"k": "v"}}),
    _c("bare-multipart-unknown-field", "bare", "/predict", send="multipart", body={"foo": 1}),
    _c("bare-multipart-meta-not-json", "bare", "/predict", send="multipart",
       body={"strData": "x", "meta": Text("{not json")}),
    _c("returns-bytes-multipart-bindata", "returns-bytes", "/predict", send="multipart",
       body={"binData": BIN_RAW}),
    _c("returns-str-multipart-strdata", "returns-str", "/predict", send="multipart",
       body={"strData": "x"}),

    # --- no methods at all --------------------------------------------------------------
    _c("no-methods-predict", "no-methods", "/predict", body=ND_FLOAT),
    _c("no-methods-predict-tensor", "no-methods", "/predict", body=TENSOR),
    _c("no-methods-predict-strdata", "no-methods", "/predict", body=STR),
    _c("no-methods-transform-input", "no-methods", "/transform-input", body=TENSOR),
    _c("no-methods-transform-output", "no-methods", "/transform-output", body=JSONDATA),
    _c("no-methods-route", "no-methods", "/route", body=ND_FLOAT),
    _c("no-methods-aggregate", "no-methods", "/aggregate", body=AGG_LIST),
    _c("no-methods-send-feedback", "no-methods", "/send-feedback", body=FEEDBACK),
    _c("no-methods-health-status", "no-methods", "/health/status", method="GET", send="none"),
    _c("no-methods-metadata", "no-methods", "/metadata", method="GET", send="none"),

    # --- numeric models -----------------------------------------------------------------
    _c("doubler-ndarray-float", "doubler", "/predict", body=ND_FLOAT),
    _c("doubler-ndarray-int", "doubler", "/predict", body=ND_INT),
    _c("doubler-ndarray-1d", "doubler", "/predict", body=ND_1D),
    _c("doubler-ndarray-3d", "doubler", "/predict", body=ND_3D),
    _c("doubler-ndarray-empty", "doubler", "/predict", body=ND_EMPTY),
    _c("doubler-ndarray-bool", "doubler", "/predict", body=ND_BOOL),
    _c("doubler-ndarray-strings", "doubler", "/predict", body=ND_STRINGS),
    _c("doubler-ndarray-mixed", "doubler", "/predict", body=ND_MIXED),
    _c("doubler-ndarray-ragged", "doubler", "/predict", body=ND_RAGGED),
    _c("doubler-tensor-float", "doubler", "/predict", body=TENSOR),
    _c("doubler-tensor-int", "doubler", "/predict", body=TENSOR_INT),
    _c("doubler-strdata", "doubler", "/predict", body=STR),
    _c("doubler-jsondata", "doubler", "/predict", body=JSONDATA),
    _c("doubler-meta-puid-tags", "doubler", "/predict", body=META),
    _c("doubler-v01-tensor", "doubler", "/api/v0.1/predictions", body=TENSOR),
    _c("doubler-form", "doubler", "/predict", send="form", body=ND_INT),
    _c("doubler-query-get", "doubler", "/predict", method="GET", send="query", body=TENSOR_INT),
    _c("softmax-ndarray", "softmax", "/predict", body=ND_SOFTMAX),
    _c("softmax-tensor", "softmax", "/predict",
       body={"data": {"tensor": {"shape": [1, 3], "values": [0.5, 0.25, 4.0]}}}),
    _c("softmax-no-names", "softmax", "/predict", body={"data": {"ndarray": [[1, 1, 1]]}}),
    _c("int-model-ndarray", "int-model", "/predict", body=ND_FLOAT),
    _c("int-model-tensor", "int-model", "/predict", body=TENSOR),
    _c("int-model-strdata", "int-model", "/predict", body=STR),
    _c("int-model-jsondata", "int-model", "/predict", body=JSONDATA),

    # --- return kinds -------------------------------------------------------------------
    _c("returns-list-ndarray", "returns-list", "/predict", body=ND_FLOAT),
    _c("returns-list-tensor", "returns-list", "/predict", body=TENSOR),
    _c("returns-list-strdata", "returns-list", "/predict", body=STR),
    _c("returns-strings-ndarray", "returns-strings", "/predict", body=ND_FLOAT),
    _c("returns-strings-tensor", "returns-strings", "/predict", body=TENSOR),
    _c("returns-str-ndarray", "returns-str", "/predict", body=ND_FLOAT),
    _c("returns-str-strdata", "returns-str", "/predict", body=STR_UNICODE),
    _c("returns-str-bindata", "returns-str", "/predict", body=BIN),
    _c("returns-str-jsondata", "returns-str", "/predict", body=JSONDATA),
    _c("returns-bytes-ndarray", "returns-bytes", "/predict", body=ND_FLOAT),
    _c("returns-bytes-bindata", "returns-bytes", "/predict", body=BIN),
    _c("returns-dict-ndarray", "returns-dict", "/predict", body=ND_FLOAT),
    _c("returns-dict-jsondata", "returns-dict", "/predict", body=JSONDATA),
    _c("returns-dict-jsondata-scalar", "returns-dict", "/predict", body=JSONDATA_SCALAR),
    _c("returns-dict-strdata", "returns-dict", "/predict", body=STR),
    _c("returns-dict-bindata", "returns-dict", "/predict", body=BIN),
    _c("returns-dict-meta", "returns-dict", "/predict",
       body={"meta": {"puid": "d1", "tags": {"x": "y"}}, "jsonData": {"q": 1}}),
    _c("odd-returns-none", "odd-returns", "/predict", body={"jsonData": {"return": "none"}}),
    _c("odd-returns-int", "odd-returns", "/predict", body={"jsonData": {"return": "int"}}),
    _c("odd-returns-numpy-float", "odd-returns", "/predict", body={"jsonData": {"return": "float"}}),
    _c("odd-returns-tuple", "odd-returns", "/predict", body={"jsonData": {"return": "tuple"}}),
    _c("odd-returns-nan", "odd-returns", "/predict", body={"jsonData": {"return": "nan"}}),
    _c("odd-returns-empty", "odd-returns", "/predict", body={"jsonData": {"return": "empty"}}),
    _c("odd-returns-bool", "odd-returns", "/predict", body={"jsonData": {"return": "bool"}}),
    _c("odd-returns-mixed-list", "odd-returns", "/predict", body={"jsonData": {"return": "mixed"}}),

    # --- tags, metrics, meta ------------------------------------------------------------
    _c("tags-metrics-ndarray", "tags-metrics", "/predict", body=ND_FLOAT),
    _c("tags-metrics-request-tags", "tags-metrics", "/predict", body=META),
    _c("tags-metrics-transform-input", "tags-metrics", "/transform-input", body=META),
    _c("tags-metrics-strdata", "tags-metrics", "/predict", body=STR),
    _c("meta-aware-with-meta", "meta-aware", "/predict", body=META),
    _c("meta-aware-without-meta", "meta-aware", "/predict", body=ND_FLOAT),
    _c("meta-aware-strdata", "meta-aware", "/predict", body={"meta": {"puid": "s"}, "strData": "q"}),

    # --- raw methods and passthrough ----------------------------------------------------
    _c("raw-predict-ndarray", "raw-predict", "/predict", body=META),
    _c("raw-predict-strdata", "raw-predict", "/predict", body=STR),
    _c("raw-predict-status-201", "raw-predict", "/predict", body={"jsonData": {"want_status": 201}}),
    _c("raw-predict-status-503", "raw-predict", "/predict", body={"jsonData": {"want_status": 503}}),
    _c("raw-predict-multipart", "raw-predict", "/predict", send="multipart",
       body={"binData": BIN_RAW, "meta": {"puid": "r"}}),
    _c("raw-predict-transform-input", "raw-predict", "/transform-input", body=ND_FLOAT),
    _c("passthrough-json-body", "passthrough", "/predict", send="raw", body='{"strData": "ping"}',
       content_type="application/json"),
    _c("passthrough-form", "passthrough", "/predict", send="form", body={"strData": "ping"}),
    _c("passthrough-text-body", "passthrough", "/predict", send="raw", body="ping ping",
       content_type="text/plain"),
    _c("passthrough-malformed-json", "passthrough", "/predict", send="raw", body="{ping",
       content_type="application/json"),
    _c("passthrough-transform-input", "passthrough", "/transform-input", body=STR),

    # --- user errors ----------------------------------------------------------------------
    # a class written against seldon_core (the candidate runs it on modelkiln's stand-in)
    _c("seldon-style-predict", "seldon-style", "/predict", body=ND_FLOAT),
    _c("seldon-style-predict-tensor", "seldon-style", "/api/v1.0/predictions", body=TENSOR),
    _c("seldon-style-request-tags", "seldon-style", "/predict", body=META),
    _c("seldon-style-exception-403", "seldon-style", "/predict",
       body={"data": {"ndarray": [[-1, 5]]}}),
    _c("seldon-style-exception-default", "seldon-style", "/predict",
       body={"data": {"ndarray": [[-2]]}}),
    _c("seldon-style-not-implemented-error", "seldon-style", "/predict",
       body={"data": {"ndarray": [[-3]]}}),
    _c("seldon-style-stub-transform-input", "seldon-style", "/transform-input", body=ND_FLOAT),
    _c("seldon-style-stub-route", "seldon-style", "/route", body=ND_FLOAT),
    _c("seldon-style-stub-health", "seldon-style", "/health/status", method="GET", send="none"),
    _c("custom-error-handler", "custom-error", "/predict", body=ND_FLOAT),
    _c("custom-error-handler-v1", "custom-error", "/api/v1.0/predictions", body=STR),
    _c("custom-error-no-handler", "custom-error-nohandler", "/predict", body=ND_FLOAT),
    _c("value-error-predict", "value-error", "/predict", body=ND_FLOAT),
    _c("value-error-transform-input", "value-error", "/transform-input", body=ND_FLOAT),

    # --- transformers -------------------------------------------------------------------
    _c("transformer-input-ndarray", "transformer", "/transform-input", body=ND_FLOAT),
    _c("transformer-input-tensor", "transformer", "/transform-input", body=TENSOR_INT),
    _c("transformer-input-meta", "transformer", "/transform-input", body=META),
    _c("transformer-input-strdata", "transformer", "/transform-input", body=STR),
    _c("transformer-output-ndarray", "transformer", "/transform-output", body=ND_INT),
    _c("transformer-predict", "transformer", "/predict", body=ND_FLOAT),
    _c("transformer-input-form", "transformer", "/transform-input", send="form", body=ND_FLOAT),
    _c("transformer-input-get-query", "transformer", "/transform-input", method="GET",
       send="query", body=ND_FLOAT),
    _c("output-transformer-output-tensor", "output-transformer", "/transform-output", body=TENSOR),
    _c("output-transformer-input", "output-transformer", "/transform-input", body=TENSOR),
    _c("outlier-transform-input", "outlier", "/transform-input",
       body={"meta": {"puid": "o1"}, "data": {"ndarray": [[1.0, -2.0], [0.5, 0.5]]}}),
    _c("outlier-predict", "outlier", "/predict", body=ND_FLOAT),

    # --- routers ------------------------------------------------------------------------
    _c("router-positive", "router", "/route", body={"data": {"ndarray": [[3.0, 1.0]]}}),
    _c("router-negative", "router", "/route", body={"data": {"ndarray": [[-3.0, 1.0]]}}),
    _c("router-tensor-meta", "router", "/route",
       body={"meta": {"puid": "rt", "tags": {"a": 1}}, "data": {"tensor": {"shape": [1, 1], "values": [5]}}}),
    _c("router-non-int", "router", "/route", body={"data": {"ndarray": [["left"]]}}),
    _c("router-strdata", "router", "/route", body={"strData": "abc"}),
    _c("router-form", "router", "/route", send="form", body={"data": {"ndarray": [[1]]}}),
    _c("router-predict", "router", "/predict", body=ND_FLOAT),

    # --- combiners ----------------------------------------------------------------------
    _c("combiner-list", "combiner", "/aggregate", body=AGG_LIST),
    _c("combiner-seldon-messages", "combiner", "/aggregate", body={"seldonMessages": AGG_LIST}),
    _c("combiner-meta-merge", "combiner", "/aggregate", body=AGG_META),
    _c("combiner-mismatched-shapes", "combiner", "/aggregate", body=AGG_MISMATCH),
    _c("combiner-single", "combiner", "/aggregate", body=AGG_LIST[:1]),
    _c("combiner-err-empty-list", "combiner", "/aggregate", body=[]),
    _c("combiner-err-object", "combiner", "/aggregate", body=ND_FLOAT),
    _c("combiner-err-seldon-messages-not-list", "combiner", "/aggregate",
       body={"seldonMessages": {"data": {"ndarray": [[1]]}}}),
    _c("combiner-form", "combiner", "/aggregate", send="form", body=AGG_LIST),
    _c("combiner-predict", "combiner", "/predict", body=ND_FLOAT),

    # --- feedback -----------------------------------------------------------------------
    _c("feedback-basic", "feedback", "/send-feedback", body=FEEDBACK),
    _c("feedback-truth-routing", "feedback", "/send-feedback", body=FEEDBACK_TRUTH),
    _c("feedback-routing-default-unit", "feedback", "/send-feedback", body=FEEDBACK_ROUTING_DEFAULT),
    _c("feedback-v1", "feedback", "/api/v1.0/feedback", body=FEEDBACK),
    _c("feedback-v01", "feedback", "/api/v0.1/feedback", body=FEEDBACK_TRUTH),
    _c("feedback-empty", "feedback", "/send-feedback", body={}),
    _c("feedback-reward-only", "feedback", "/send-feedback", body={"reward": 8}),
    _c("feedback-err-unknown-field", "feedback", "/send-feedback", body={"reward": 1, "bogus": 2}),
    _c("feedback-err-malformed", "feedback", "/send-feedback", send="raw", body="{",
       content_type="application/json"),
    _c("feedback-get-query", "feedback", "/send-feedback", method="GET", send="query",
       body=FEEDBACK_TRUTH),
    _c("feedback-form", "feedback", "/send-feedback", send="form", body=FEEDBACK),

    # --- health and metadata ------------------------------------------------------------
    _c("health-meta-status", "health-meta", "/health/status", method="GET", send="none"),
    _c("health-meta-v1-status", "health-meta", "/api/v1.0/health/status", method="GET", send="none"),
    _c("health-meta-ping", "health-meta", "/health/ping", method="GET", send="none"),
    _c("health-meta-metadata", "health-meta", "/metadata", method="GET", send="none"),
    _c("health-meta-v1-metadata", "health-meta", "/api/v1.0/metadata", method="GET", send="none"),
    _c("health-meta-predict", "health-meta", "/predict", body=ND_FLOAT),
    _c("bad-metadata-metadata", "bad-metadata", "/metadata", method="GET", send="none"),
    _c("bad-metadata-predict", "bad-metadata", "/predict", body=ND_FLOAT),
    _c("metadata-env-metadata", "metadata-env", "/metadata", method="GET", send="none"),
    _c("metadata-env-override-metadata", "metadata-env-override", "/metadata", method="GET",
       send="none"),

    # --- constructor parameters and identity ----------------------------------------------
    _c("params-predict", "params", "/predict", body=ND_INT),
    _c("params-predict-tensor", "params", "/predict", body=TENSOR),
    _c("identity-predict", "identity", "/predict", body=META),
    _c("identity-metadata", "identity", "/metadata", method="GET", send="none"),
    _c("identity-transform-input", "identity", "/transform-input", body=ND_FLOAT),
    _c("identity-feedback", "identity", "/send-feedback", body=FEEDBACK_ROUTING_DEFAULT),
]


def cases_in_deployment_order() -> List[Case]:
    """CASES grouped by deployment (table order kept), so each server pair starts once."""
    order = {d.name: i for i, d in enumerate(DEPLOYMENTS)}
    return sorted(CASES, key=lambda c: order[c.deployment])
