"""The gRPC case table: which server pairs to start and which calls to make.

A *deployment* is ``tests.compat.cases.Deployment`` (user class, SERVICE_TYPE, environment),
mostly the REST suite's own, serving the REST suite's user classes (``tests/compat/models``);
``GRPC_MODELS`` names the few classes that live in ``tests/compat_grpc/models``.

A *case* is one unary call ``seldon.protos.<service>/<method>`` sent identically to both
servers with seldon-core's generated stubs. Its request is:

- a dict: the protobuf JSON form, parsed with ``json_format.ParseDict`` into the method's
  request class from seldon-core's wheel (``SeldonMessage``, ``SeldonMessageList``,
  ``Feedback``, ``SeldonModelMetadataRequest`` or ``Empty``);
- ``None``: the empty request message (zero bytes on the wire);
- ``Wire(...)``: exact bytes, for what a stub cannot send (unknown fields, invalid protobuf).

Nothing here says what the answer must be: seldon-core 1.18 is the oracle; see
``intentional.py`` for the answers modelkiln gives on purpose.
"""

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any, Dict, List

from ..compat import cases as rest
from ..compat.cases import Deployment

# The services and methods of seldon-core's prediction.proto (package seldon.protos).
SERVICES: Dict[str, List[str]] = {
    "Generic": ["TransformInput", "TransformOutput", "Route", "Aggregate", "SendFeedback"],
    "Model": ["Predict", "SendFeedback", "Metadata"],
    "Router": ["Route", "SendFeedback"],
    "Transformer": ["TransformInput"],
    "OutputTransformer": ["TransformOutput"],
    "Combiner": ["Aggregate"],
    "Seldon": ["Predict", "SendFeedback", "ModelMetadata", "GraphMetadata"],
}


@dataclass(frozen=True)
class Wire:
    """A request given as bytes: ``base`` (protobuf JSON, or None) serialized with seldon's
    class for the method, followed by ``append`` verbatim."""
    base: Any = None
    append: bytes = b""


@dataclass(frozen=True)
class GrpcCase:
    id: str
    deployment: str
    rpc: str                 # "Service.Method", e.g. "Model.Predict"
    request: Any = None      # dict (protobuf JSON), None (empty message) or Wire
    note: str = ""

    @property
    def service(self) -> str:
        return self.rpc.split(".")[0]

    @property
    def method(self) -> str:
        return self.rpc.split(".")[1]


# Classes from tests/compat_grpc/models (every other class is from tests/compat/models).
GRPC_MODELS = frozenset(("ProtoRaw", "TypeReport"))

_REST = rest.DEPLOYMENT_BY_NAME
DEPLOYMENTS: List[Deployment] = [_REST[name] for name in (
    "bare", "doubler", "returns-str", "returns-bytes", "returns-dict", "returns-strings",
    "odd-returns", "tags-metrics", "seldon-style", "meta-aware", "raw-predict", "passthrough", "custom-error",
    "custom-error-nohandler", "value-error", "transformer", "router", "combiner", "outlier",
    "feedback", "health-meta", "bad-metadata", "params", "identity")] + [
    Deployment("type-report", "TypeReport"),
    Deployment("proto-raw", "ProtoRaw"),
]
DEPLOYMENT_BY_NAME = {d.name: d for d in DEPLOYMENTS}


def models_dir_name(dep: Deployment) -> str:
    return "compat_grpc" if dep.model in GRPC_MODELS else "compat"


# --- payloads (protobuf JSON) -------------------------------------------------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


ND_FLOAT = rest.ND_FLOAT
ND_INT = rest.ND_INT
ND_3D = rest.ND_3D
ND_EMPTY = rest.ND_EMPTY
ND_STRINGS = rest.ND_STRINGS
ND_MIXED = rest.ND_MIXED
ND_BOOL = rest.ND_BOOL
ND_RAGGED = rest.ND_RAGGED
TENSOR = rest.TENSOR
TENSOR_INT = rest.TENSOR_INT
TENSOR_EMPTY = {"data": {"tensor": {"shape": [0]}}}
TENSOR_BAD_SHAPE = rest.TENSOR_BAD_SHAPE
TENSOR_NO_VALUES = rest.TENSOR_NO_VALUES
TENSOR_NO_SHAPE = rest.TENSOR_NO_SHAPE
# NaN and infinities are ordinary doubles in protobuf (REST refuses them: not JSON).
TENSOR_NAN = {"data": {"tensor": {"shape": [1, 3], "values": ["NaN", "Infinity", 1.5]}}}
ND_NAN = {"data": {"ndarray": [[float("nan"), float("-inf"), 1.5]]}}
STR = rest.STR
STR_UNICODE = rest.STR_UNICODE
STR_EMPTY = {"strData": ""}
BIN_RAW = rest.BIN_RAW
BIN = rest.BIN
BIN_EMPTY = {"binData": ""}
BIN_5MIB = {"binData": b64(bytes(5 << 20))}  # above grpcio's default 4 MiB receive limit
JSONDATA = rest.JSONDATA
JSONDATA_SCALAR = rest.JSONDATA_SCALAR
JSONDATA_LIST = {"jsonData": [1, "two", [3.5], {"four": True}]}
JSONDATA_NULL = {"jsonData": None}
CUSTOM_DATA = {"customData": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": "opaque"}}
META = rest.META
META_REQUEST_PATH = rest.META_REQUEST_PATH
META_ONLY = rest.META_ONLY
META_TAG_KINDS = {"meta": {"puid": "kinds", "tags": {"s": "x", "n": 2, "f": 0.5, "b": True,
                                                   "z": None, "l": [1, "a"], "o": {"k": [None]}}},
                  "data": {"ndarray": [[1.0]]}}
META_ALL = {"meta": {"puid": "all-1", "tags": {"t": "v"}, "routing": {"r": 2},
                     "requestPath": {"up": "img:2"},
                     "metrics": [{"key": "g", "type": "GAUGE", "value": 1.5,
                                  "tags": {"zone": "b"}},
                                 {"key": "t", "type": "TIMER", "value": 3}]},
            "strData": "with all meta"}
NAMES_ONLY = rest.NAMES_ONLY
WITH_STATUS = {"status": {"code": 7, "info": "from client", "reason": "R", "status": "FAILURE"},
               "data": {"ndarray": [[1.0]]}}

AGG_LIST = rest.AGG_LIST
AGG_META = rest.AGG_META
AGG_MISMATCH = rest.AGG_MISMATCH
FEEDBACK = rest.FEEDBACK
FEEDBACK_TRUTH = rest.FEEDBACK_TRUTH
FEEDBACK_ROUTING_DEFAULT = rest.FEEDBACK_ROUTING_DEFAULT
FEEDBACK_TENSOR = {"request": {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}},
                   "response": {"meta": {"routing": {"0": 1}}, "strData": "answer"},
                   "reward": 6, "truth": {"data": {"tensor": {"shape": [1], "values": [1]}}}}
FEEDBACK_STR_REQUEST = {"request": {"strData": "words"}, "reward": 9}


def with_puid(message: Dict[str, Any]) -> Dict[str, Any]:
    return dict(message, meta={"puid": "typed"})


def tf(dtype: str, shape: List[int], **values: Any) -> Dict[str, Any]:
    """A ``data.tftensor`` payload (tensorflow.TensorProto in protobuf JSON)."""
    tensor = {"dtype": dtype, "tensorShape": {"dim": [{"size": str(n)} for n in shape]}}
    tensor.update(values)
    return {"data": {"tftensor": tensor}}


TF_FLOAT = tf("DT_FLOAT", [2], floatVal=[1.5, -2.0])
TF_DOUBLE = tf("DT_DOUBLE", [1, 3], doubleVal=[0.1, 2.0, -3.25])
TF_INT32 = tf("DT_INT32", [2, 2], intVal=[1, -2, 3, 4])
TF_INT64 = tf("DT_INT64", [3], int64Val=["5", "-6", "9007199254740993"])
TF_UINT8 = tf("DT_UINT8", [2], intVal=[0, 255])
TF_BOOL = tf("DT_BOOL", [2], boolVal=[True, False])
TF_STRING = tf("DT_STRING", [2], stringVal=[b64(b"cat"), b64(b"dog")])
TF_CONTENT = tf("DT_FLOAT", [2, 2], tensorContent=b64(struct.pack("<4f", 1.0, 2.0, 3.0, 4.5)))
TF_SCALAR_BROADCAST = tf("DT_FLOAT", [3], floatVal=[7.0])  # one value fills the shape

# Field 100 (varint 1): unknown to both sides; proto3 parsers must skip it.
UNKNOWN_FIELD = b"\xa0\x06\x01"
# SeldonMessage.strData (field 5) holding bytes that are not UTF-8.
BAD_UTF8_STRDATA = b"\x2a\x02\xff\xfe"


def _c(id: str, deployment: str, rpc: str, request: Any = None, note: str = "") -> GrpcCase:
    return GrpcCase(id=id, deployment=deployment, rpc=rpc, request=request, note=note)


CASES: List[GrpcCase] = [
    # --- bare (only predict): payload kinds on Model.Predict ---------------------------
    _c("bare-predict-ndarray-float", "bare", "Model.Predict", ND_FLOAT),
    _c("bare-predict-ndarray-int", "bare", "Model.Predict", ND_INT),
    _c("bare-predict-ndarray-3d", "bare", "Model.Predict", ND_3D),
    _c("bare-predict-ndarray-empty", "bare", "Model.Predict", ND_EMPTY),
    _c("bare-predict-ndarray-strings", "bare", "Model.Predict", ND_STRINGS),
    _c("bare-predict-ndarray-mixed", "bare", "Model.Predict", ND_MIXED),
    _c("bare-predict-ndarray-bool", "bare", "Model.Predict", ND_BOOL),
    _c("bare-predict-ndarray-ragged", "bare", "Model.Predict", ND_RAGGED),
    _c("bare-predict-tensor", "bare", "Model.Predict", TENSOR),
    _c("bare-predict-tensor-int", "bare", "Model.Predict", TENSOR_INT),
    _c("bare-predict-tensor-empty", "bare", "Model.Predict", TENSOR_EMPTY),
    _c("bare-predict-tensor-bad-shape", "bare", "Model.Predict", TENSOR_BAD_SHAPE),
    _c("bare-predict-tensor-no-values", "bare", "Model.Predict", TENSOR_NO_VALUES),
    _c("bare-predict-tensor-no-shape", "bare", "Model.Predict", TENSOR_NO_SHAPE),
    _c("bare-predict-tensor-nan", "bare", "Model.Predict", TENSOR_NAN),
    _c("bare-predict-ndarray-nan", "bare", "Model.Predict", ND_NAN),
    _c("bare-predict-jsondata-nan", "bare", "Model.Predict", {"jsonData": {"x": float("nan")}}),
    _c("bare-predict-tftensor-float", "bare", "Model.Predict", TF_FLOAT),
    _c("bare-predict-tftensor-double", "bare", "Model.Predict", TF_DOUBLE),
    _c("bare-predict-tftensor-int32", "bare", "Model.Predict", TF_INT32),
    _c("bare-predict-tftensor-int64", "bare", "Model.Predict", TF_INT64),
    _c("bare-predict-tftensor-uint8", "bare", "Model.Predict", TF_UINT8),
    _c("bare-predict-tftensor-bool", "bare", "Model.Predict", TF_BOOL),
    _c("bare-predict-tftensor-string", "bare", "Model.Predict", TF_STRING),
    _c("bare-predict-tftensor-content", "bare", "Model.Predict", TF_CONTENT),
    _c("bare-predict-tftensor-broadcast", "bare", "Model.Predict", TF_SCALAR_BROADCAST),
    _c("bare-predict-strdata", "bare", "Model.Predict", STR),
    _c("bare-predict-strdata-unicode", "bare", "Model.Predict", STR_UNICODE),
    _c("bare-predict-strdata-empty", "bare", "Model.Predict", STR_EMPTY),
    _c("bare-predict-bindata", "bare", "Model.Predict", BIN),
    _c("bare-predict-bindata-empty", "bare", "Model.Predict", BIN_EMPTY),
    _c("bare-predict-jsondata", "bare", "Model.Predict", JSONDATA),
    _c("bare-predict-jsondata-scalar", "bare", "Model.Predict", JSONDATA_SCALAR),
    _c("bare-predict-jsondata-list", "bare", "Model.Predict", JSONDATA_LIST),
    _c("bare-predict-jsondata-null", "bare", "Model.Predict", JSONDATA_NULL),
    _c("bare-predict-customdata", "bare", "Model.Predict", CUSTOM_DATA),
    _c("bare-predict-names-only", "bare", "Model.Predict", NAMES_ONLY),
    _c("bare-predict-with-status", "bare", "Model.Predict", WITH_STATUS),
    # --- meta ---------------------------------------------------------------------------
    _c("bare-predict-meta", "bare", "Model.Predict", META),
    _c("bare-predict-meta-requestpath-metrics", "bare", "Model.Predict", META_REQUEST_PATH),
    _c("bare-predict-meta-tag-kinds", "bare", "Model.Predict", META_TAG_KINDS),
    _c("bare-predict-meta-all-strdata", "bare", "Model.Predict", META_ALL),
    _c("bare-predict-meta-only", "bare", "Model.Predict", META_ONLY),
    _c("bare-predict-empty", "bare", "Model.Predict", None),
    # --- on the wire --------------------------------------------------------------------
    _c("bare-predict-unknown-field", "bare", "Model.Predict", Wire(ND_FLOAT, UNKNOWN_FIELD)),
    _c("bare-predict-not-protobuf", "bare", "Model.Predict", Wire(None, b"\xff\xff\xff\xff")),
    _c("bare-predict-strdata-not-utf8", "bare", "Model.Predict", Wire(None, BAD_UTF8_STRDATA)),
    # --- bare: every other service and method, the class lacking most of them -----------
    _c("bare-model-metadata", "bare", "Model.Metadata"),
    _c("bare-model-send-feedback", "bare", "Model.SendFeedback", FEEDBACK),
    _c("bare-model-send-feedback-empty", "bare", "Model.SendFeedback"),
    _c("bare-seldon-predict", "bare", "Seldon.Predict", TENSOR),
    _c("bare-seldon-send-feedback", "bare", "Seldon.SendFeedback", FEEDBACK_TRUTH),
    _c("bare-seldon-model-metadata", "bare", "Seldon.ModelMetadata", {"name": "any"}),
    _c("bare-seldon-model-metadata-empty", "bare", "Seldon.ModelMetadata"),
    _c("bare-seldon-graph-metadata", "bare", "Seldon.GraphMetadata"),
    _c("bare-generic-transform-input", "bare", "Generic.TransformInput", ND_FLOAT),
    _c("bare-generic-transform-input-tensor-meta", "bare", "Generic.TransformInput",
       {"meta": {"puid": "x1", "tags": {"t": 1}},
        "data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}),
    _c("bare-generic-transform-output", "bare", "Generic.TransformOutput", STR),
    _c("bare-generic-route", "bare", "Generic.Route", ND_FLOAT),
    _c("bare-generic-aggregate", "bare", "Generic.Aggregate", {"seldonMessages": AGG_LIST}),
    _c("bare-generic-aggregate-empty", "bare", "Generic.Aggregate"),
    _c("bare-generic-send-feedback", "bare", "Generic.SendFeedback", FEEDBACK),
    _c("bare-router-route", "bare", "Router.Route", ND_FLOAT),
    _c("bare-router-send-feedback", "bare", "Router.SendFeedback", FEEDBACK),
    _c("bare-transformer-transform-input", "bare", "Transformer.TransformInput", TENSOR),
    _c("bare-transformer-transform-input-empty", "bare", "Transformer.TransformInput"),
    _c("bare-output-transformer-transform-output", "bare", "OutputTransformer.TransformOutput",
       JSONDATA),
    _c("bare-combiner-aggregate", "bare", "Combiner.Aggregate", {"seldonMessages": AGG_LIST}),

    # --- numeric model --------------------------------------------------------------------
    _c("doubler-ndarray", "doubler", "Model.Predict", ND_FLOAT),
    _c("doubler-ndarray-int", "doubler", "Model.Predict", ND_INT),
    _c("doubler-tensor", "doubler", "Model.Predict", TENSOR),
    _c("doubler-tftensor-int32", "doubler", "Model.Predict", TF_INT32),
    _c("doubler-tftensor-double", "doubler", "Model.Predict", TF_DOUBLE),
    _c("doubler-strdata", "doubler", "Model.Predict", STR),
    _c("doubler-ndarray-strings", "doubler", "Model.Predict", ND_STRINGS),
    _c("doubler-meta", "doubler", "Seldon.Predict", META),

    # --- answer kinds ------------------------------------------------------------------------
    _c("returns-str-ndarray", "returns-str", "Model.Predict", ND_FLOAT),
    _c("returns-str-bindata", "returns-str", "Model.Predict", BIN),
    _c("returns-str-jsondata", "returns-str", "Model.Predict", JSONDATA),
    _c("returns-bytes-bindata", "returns-bytes", "Model.Predict", BIN),
    _c("returns-bytes-tensor", "returns-bytes", "Model.Predict", TENSOR),
    _c("returns-dict-ndarray", "returns-dict", "Model.Predict", ND_FLOAT),
    _c("returns-dict-jsondata", "returns-dict", "Model.Predict", JSONDATA),
    _c("returns-dict-strdata", "returns-dict", "Model.Predict", STR),
    _c("returns-dict-bindata-5mib", "returns-dict", "Model.Predict", BIN_5MIB),
    _c("returns-dict-meta", "returns-dict", "Model.Predict",
       {"meta": {"puid": "d1", "tags": {"x": "y"}}, "jsonData": {"q": 1}}),
    _c("returns-strings-tensor", "returns-strings", "Model.Predict", TENSOR),
    _c("returns-strings-strdata", "returns-strings", "Model.Predict", STR),
    _c("odd-returns-none", "odd-returns", "Model.Predict", {"jsonData": {"return": "none"}}),
    _c("odd-returns-int", "odd-returns", "Model.Predict", {"jsonData": {"return": "int"}}),
    _c("odd-returns-tuple", "odd-returns", "Model.Predict", {"jsonData": {"return": "tuple"}}),
    _c("odd-returns-nan", "odd-returns", "Model.Predict", {"jsonData": {"return": "nan"}}),
    _c("odd-returns-empty", "odd-returns", "Model.Predict", {"jsonData": {"return": "empty"}}),
    _c("odd-returns-bool", "odd-returns", "Model.Predict", {"jsonData": {"return": "bool"}}),
    _c("odd-returns-mixed", "odd-returns", "Model.Predict", {"jsonData": {"return": "mixed"}}),
    _c("odd-returns-dict", "odd-returns", "Model.Predict", {"jsonData": {"return": "other"}}),

    # --- what the user code receives (types, names, meta) -------------------------------------
    _c("type-report-ndarray", "type-report", "Model.Predict", with_puid(ND_INT)),
    _c("type-report-ndarray-strings", "type-report", "Model.Predict", with_puid(ND_STRINGS)),
    _c("type-report-tensor", "type-report", "Model.Predict", with_puid(TENSOR)),
    _c("type-report-strdata", "type-report", "Model.Predict", with_puid(STR)),
    _c("type-report-bindata", "type-report", "Model.Predict", with_puid(BIN)),
    _c("type-report-jsondata", "type-report", "Model.Predict", with_puid(JSONDATA)),
    _c("type-report-meta", "type-report", "Model.Predict", META_TAG_KINDS),
    _c("type-report-no-meta", "type-report", "Model.Predict", TENSOR),
    _c("type-report-transform-input", "type-report", "Generic.TransformInput", META),
    _c("type-report-feedback", "type-report", "Model.SendFeedback", FEEDBACK_TENSOR),
    _c("meta-aware-with-meta", "meta-aware", "Model.Predict", META),
    _c("meta-aware-without-meta", "meta-aware", "Model.Predict", ND_FLOAT),
    _c("meta-aware-all-meta", "meta-aware", "Model.Predict", META_ALL),

    # --- tags() and metrics() hooks -------------------------------------------------------------
    _c("tags-metrics-ndarray", "tags-metrics", "Model.Predict", ND_FLOAT),
    _c("tags-metrics-request-tags", "tags-metrics", "Model.Predict", META),
    _c("tags-metrics-request-metrics", "tags-metrics", "Model.Predict", META_REQUEST_PATH),
    _c("tags-metrics-strdata", "tags-metrics", "Seldon.Predict", STR),
    _c("tags-metrics-transform-input", "tags-metrics", "Transformer.TransformInput", META),
    _c("tags-metrics-transform-output", "tags-metrics", "Generic.TransformOutput", META),
    _c("tags-metrics-feedback", "tags-metrics", "Model.SendFeedback", FEEDBACK),
    _c("params-predict", "params", "Model.Predict", ND_INT),

    # --- raw methods ------------------------------------------------------------------------------
    _c("raw-predict-meta", "raw-predict", "Model.Predict", META),
    _c("raw-predict-strdata", "raw-predict", "Model.Predict", STR),
    _c("raw-predict-status", "raw-predict", "Model.Predict", {"jsonData": {"want_status": 503}}),
    _c("raw-predict-transform-input", "raw-predict", "Generic.TransformInput", ND_FLOAT),
    _c("proto-raw-strdata", "proto-raw", "Model.Predict",
       {"meta": {"puid": "pr"}, "strData": "abc"}),
    _c("proto-raw-seldon-predict", "proto-raw", "Seldon.Predict", STR),
    _c("passthrough-strdata", "passthrough", "Model.Predict", STR),

    # --- user errors ------------------------------------------------------------------------------
    _c("value-error-predict", "value-error", "Model.Predict", ND_FLOAT),
    _c("value-error-seldon-predict", "value-error", "Seldon.Predict", STR),
    _c("value-error-transform-input", "value-error", "Generic.TransformInput", ND_FLOAT),
    _c("seldon-style-predict", "seldon-style", "Model.Predict", ND_FLOAT),
    _c("seldon-style-request-tags", "seldon-style", "Model.Predict", META),
    _c("seldon-style-exception-403", "seldon-style", "Model.Predict",
       {"data": {"ndarray": [[-1, 5]]}}),
    _c("seldon-style-exception-default", "seldon-style", "Seldon.Predict",
       {"data": {"ndarray": [[-2]]}}),
    _c("seldon-style-not-implemented-error", "seldon-style", "Model.Predict",
       {"data": {"ndarray": [[-3]]}}),
    _c("seldon-style-stub-transform-input", "seldon-style", "Transformer.TransformInput",
       ND_FLOAT),
    _c("custom-error-predict", "custom-error", "Model.Predict", ND_FLOAT),
    _c("custom-error-seldon-predict", "custom-error", "Seldon.Predict", STR),
    _c("custom-error-nohandler-predict", "custom-error-nohandler", "Model.Predict", ND_FLOAT),

    # --- transformers -----------------------------------------------------------------------------
    _c("transformer-input-ndarray", "transformer", "Transformer.TransformInput", ND_FLOAT),
    _c("transformer-input-tensor", "transformer", "Transformer.TransformInput", TENSOR_INT),
    _c("transformer-input-tftensor", "transformer", "Transformer.TransformInput", TF_INT32),
    _c("transformer-input-meta", "transformer", "Transformer.TransformInput", META),
    _c("transformer-input-strdata", "transformer", "Transformer.TransformInput", STR),
    _c("transformer-generic-input", "transformer", "Generic.TransformInput", TENSOR),
    _c("transformer-output-tensor", "transformer", "OutputTransformer.TransformOutput", TENSOR),
    _c("transformer-output-ndarray-meta", "transformer", "OutputTransformer.TransformOutput",
       META),
    _c("transformer-generic-output", "transformer", "Generic.TransformOutput", ND_INT),
    _c("transformer-predict", "transformer", "Model.Predict", ND_FLOAT),
    _c("outlier-transform-input", "outlier", "Transformer.TransformInput",
       {"meta": {"puid": "o1"}, "data": {"ndarray": [[1.0, -2.0], [0.5, 0.5]]}}),

    # --- routers ----------------------------------------------------------------------------------
    _c("router-positive", "router", "Router.Route", {"data": {"ndarray": [[3.0, 1.0]]}}),
    _c("router-negative", "router", "Router.Route", {"data": {"ndarray": [[-3.0, 1.0]]}}),
    _c("router-tensor-meta", "router", "Router.Route",
       {"meta": {"puid": "rt", "tags": {"a": 1}},
        "data": {"tensor": {"shape": [1, 1], "values": [5]}}}),
    _c("router-non-int", "router", "Router.Route", {"data": {"ndarray": [["left"]]}}),
    _c("router-generic", "router", "Generic.Route", {"data": {"ndarray": [[1.0]]}}),
    _c("router-send-feedback", "router", "Router.SendFeedback", FEEDBACK),
    _c("router-empty", "router", "Router.Route"),

    # --- combiners --------------------------------------------------------------------------------
    _c("combiner-list", "combiner", "Combiner.Aggregate", {"seldonMessages": AGG_LIST}),
    _c("combiner-meta-merge", "combiner", "Combiner.Aggregate", {"seldonMessages": AGG_META}),
    _c("combiner-mismatched-shapes", "combiner", "Combiner.Aggregate",
       {"seldonMessages": AGG_MISMATCH}),
    _c("combiner-single", "combiner", "Combiner.Aggregate", {"seldonMessages": AGG_LIST[:1]}),
    _c("combiner-tensor-and-ndarray", "combiner", "Combiner.Aggregate",
       {"seldonMessages": [TENSOR, {"data": {"ndarray": [[3.0, 4.0], [5.0, 6.0]]}}]}),
    _c("combiner-empty", "combiner", "Combiner.Aggregate"),
    _c("combiner-generic", "combiner", "Generic.Aggregate", {"seldonMessages": AGG_LIST}),

    # --- feedback ---------------------------------------------------------------------------------
    _c("feedback-basic", "feedback", "Model.SendFeedback", FEEDBACK),
    _c("feedback-truth-routing", "feedback", "Model.SendFeedback", FEEDBACK_TRUTH),
    _c("feedback-routing-default-unit", "feedback", "Seldon.SendFeedback",
       FEEDBACK_ROUTING_DEFAULT),
    _c("feedback-tensor", "feedback", "Generic.SendFeedback", FEEDBACK_TENSOR),
    _c("feedback-strdata-request", "feedback", "Model.SendFeedback", FEEDBACK_STR_REQUEST),
    _c("feedback-reward-only", "feedback", "Router.SendFeedback", {"reward": 8}),
    _c("feedback-empty", "feedback", "Model.SendFeedback"),

    # --- metadata and identity --------------------------------------------------------------------
    _c("health-meta-metadata", "health-meta", "Model.Metadata"),
    _c("health-meta-model-metadata", "health-meta", "Seldon.ModelMetadata", {"name": "x"}),
    _c("health-meta-graph-metadata", "health-meta", "Seldon.GraphMetadata"),
    _c("bad-metadata-metadata", "bad-metadata", "Model.Metadata"),
    _c("bad-metadata-predict", "bad-metadata", "Model.Predict", ND_FLOAT),
    _c("identity-predict", "identity", "Model.Predict", META),
    _c("identity-predict-request-path", "identity", "Model.Predict", META_REQUEST_PATH),
    _c("identity-metadata", "identity", "Model.Metadata"),
    _c("identity-graph-metadata", "identity", "Seldon.GraphMetadata"),
]


def cases_in_deployment_order() -> List[GrpcCase]:
    """CASES grouped by deployment (table order kept), so each pair starts once."""
    order = {d.name: i for i, d in enumerate(DEPLOYMENTS)}
    return sorted(CASES, key=lambda c: order[c.deployment])


def describe_request(case: GrpcCase) -> str:
    head = "/seldon.protos.%s/%s" % (case.service, case.method)
    if case.request is None:
        return head + "  (empty message)"
    if isinstance(case.request, Wire):
        return "%s  wire: %s + %r" % (head, json.dumps(case.request.base), case.request.append)
    text = json.dumps(case.request, ensure_ascii=False)
    if len(text) > 2000:
        text = text[:1000] + " ...(%d characters)... " % len(text) + text[-200:]
    return head + "\n" + text
