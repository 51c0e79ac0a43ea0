"""gRPC calls modelkiln answers differently from seldon-core 1.18 on purpose.

Each entry maps a case id (``cases.py``) to a ``Difference``: why modelkiln differs, and the
answer modelkiln must give instead: the status code name, the details of an error, the
answer (``MessageToDict``, compared like seldon's would be) of a success, and the trailing
metadata. The test checks modelkiln's answer is exactly this one, and that seldon's still
differs (an entry that no longer differs must be removed).

``python -m tests.compat_grpc.report -k <id>`` prints both answers and a ready entry.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..compat.intentional import OUTLIER_SCORES


@dataclass(frozen=True)
class Difference:
    reason: str
    code: str                              # grpc.StatusCode name, or "OK"
    details: str = ""                      # an error's details
    body: Any = None                       # MessageToDict of a successful answer
    trailers: Optional[Dict[str, str]] = None


# Why modelkiln answers differently; README.md here lists these reasons (a test keeps the two in
# step), and the site's "Differences from Seldon" page is written from them at build time.
USER_ERROR_STATUS = (
    "gRPC: an exception raised by the user's class gets the gRPC status for the HTTP status REST "
    "answers (500 → INTERNAL; an exception's own status_code otherwise, e.g. 418 → "
    "FAILED_PRECONDITION, 429 → RESOURCE_EXHAUSTED), its message as details and trailing "
    "metadata modelkiln-http-status / modelkiln-reason; Seldon answers every error UNKNOWN "
    "\"Exception calling application: <message>\".")
CLIENT_ERROR_STATUS = (
    "gRPC: a request that cannot be served (no payload, an empty message list, a tensor whose "
    "values do not fit its shape, a ragged ndarray) is INVALID_ARGUMENT naming the problem; "
    "Seldon answers UNKNOWN, often with empty details or a numpy error.")
MISSING_METHOD = (
    "gRPC: calling a method the class does not define (Route without route(), Aggregate without "
    "aggregate()) is UNIMPLEMENTED naming the missing method (REST answers 400, as Seldon's "
    "REST does); Seldon answers UNKNOWN with empty details.")
BAD_ANSWER_TYPE = (
    "gRPC: a user method answering something Seldon cannot send (None, a number, a tuple, a "
    "non-int route) is INVALID_ARGUMENT naming the value, as REST answers 400; Seldon answers "
    "UNKNOWN with a TypeError's text.")
TFTENSOR = (
    "gRPC: tftensor is decoded and encoded without TensorFlow (numbers as tensor_content, "
    "strings as string_val); Seldon answers UNKNOWN unless tensorflow is installed.")
LIST_AS_IS = (
    "A list answer is sent as data.ndarray as it is, also when numpy cannot make an array of it "
    "(mixed nesting); Seldon answers an error.")
GRAPH_METADATA = (
    "gRPC: Seldon.GraphMetadata answers a one-model graph (the unit's metadata); Seldon's "
    "wrapper answers UNKNOWN \"GraphMetadata not available on the Model level\".")
BAD_METADATA = (
    "gRPC: invalid user metadata makes Model.Metadata / Seldon.ModelMetadata fail with INTERNAL "
    "(MICROSERVICE_BAD_METADATA) naming the problem, as REST answers 500; Seldon answers an "
    "empty SeldonModelMetadata.")
RAW_AS_DICT = (
    "gRPC: predict_raw and the other raw methods get the SeldonMessage itself, as Seldon passes "
    "it, and may answer a SeldonMessage or a dict (as REST raw methods do); Seldon fails unless "
    "a SeldonMessage comes back.")
UNSENDABLE_ANSWER = (
    "gRPC: an answer with no SeldonMessage form (a 0-d string array as data.ndarray) is "
    "INTERNAL saying why, with the status REST would answer; Seldon answers UNKNOWN with a "
    "numpy error.")
NAN_IN_VALUE = (
    "gRPC: NaN or Infinity in a google.protobuf.Value (data.ndarray, jsonData, meta.tags) is "
    "INVALID_ARGUMENT, as REST answers such numbers 400 (send them in a tensor); Seldon turns "
    "them into the string \"NaN\".")
MESSAGE_SIZE = (
    "gRPC accepts messages up to MODELKILN_MAX_REQUEST_SIZE (100 MiB) by default; Seldon keeps "
    "grpcio's 4 MiB unless the seldon.io/grpc-max-message-size annotation is set.")
UNPARSEABLE = (
    "gRPC: bytes that are not a valid request message (corrupt wire format, a string field that "
    "is not UTF-8) are INVALID_ARGUMENT naming the message type, and counted in the metrics; "
    "Seldon answers INTERNAL \"Exception deserializing request!\" and logs a traceback.")
REASONS = (USER_ERROR_STATUS, CLIENT_ERROR_STATUS, MISSING_METHOD, BAD_ANSWER_TYPE, TFTENSOR,
           LIST_AS_IS, GRAPH_METADATA, BAD_METADATA, RAW_AS_DICT, UNSENDABLE_ANSWER,
           NAN_IN_VALUE, MESSAGE_SIZE, UNPARSEABLE, OUTLIER_SCORES)

_400 = {"modelkiln-http-status": "400", "modelkiln-reason": "MICROSERVICE_BAD_DATA"}
_500 = {"modelkiln-http-status": "500", "modelkiln-reason": "MICROSERVICE_INTERNAL_ERROR"}
_NO_PAYLOAD = "Invalid request data type: the message has none of data, jsonData, strData, binData"
_NO_ROUTE = "Route not defined: this class has no route() or route_raw() method"
_NO_AGGREGATE = "Aggregate not defined: this class has no aggregate() or aggregate_raw() method"
_UNKNOWN_TYPE = ("Unknown data type returned as payload (must be list, numpy array, str, bytes "
                 "or dict): ")


def _tf(dtype: str, shape, content: str = "", names=None, **values) -> Dict[str, Any]:
    tensor = {"dtype": dtype, "tensorShape": {"dim": [{"size": str(n)} for n in shape]}}
    if content:
        tensor["tensorContent"] = content
    tensor.update(values)
    data = {"tftensor": tensor}  # type: Dict[str, Any]
    if names:
        data["names"] = names
    return {"data": data, "meta": {}}


INTENTIONAL_DIFFERENCES: Dict[str, Difference] = {
    # --- user exceptions ------------------------------------------------------------------
    "value-error-predict": Difference(USER_ERROR_STATUS, "INTERNAL",
                                      "model cannot handle this input", trailers=_500),
    "value-error-seldon-predict": Difference(USER_ERROR_STATUS, "INTERNAL",
                                             "model cannot handle this input", trailers=_500),
    "doubler-strdata": Difference(USER_ERROR_STATUS, "INTERNAL",
                                  "Doubler needs numbers, got str (dtype kind U)", trailers=_500),
    "doubler-ndarray-strings": Difference(USER_ERROR_STATUS, "INTERNAL",
                                          "Doubler needs numbers, got ndarray (dtype kind U)",
                                          trailers=_500),
    "transformer-input-strdata": Difference(USER_ERROR_STATUS, "INTERNAL",
                                            "Transformer needs numbers, got str (dtype kind U)",
                                            trailers=_500),
    "combiner-mismatched-shapes": Difference(
        USER_ERROR_STATUS, "INTERNAL",
        "setting an array element with a sequence. The requested array has an inhomogeneous "
        "shape after 2 dimensions. The detected shape was (2, 1) + inhomogeneous part.",
        trailers=_500),
    # TagsMetrics answers np.asarray("hello world"), a 0-d array: neither server can send it.
    "tags-metrics-strdata": Difference(UNSENDABLE_ANSWER, 'INTERNAL', details='the answer cannot be sent as a SeldonMessage: a list is needed where it has str', trailers={'modelkiln-http-status': '500', 'modelkiln-reason': 'MICROSERVICE_INTERNAL_ERROR'}),
    "custom-error-predict": Difference(USER_ERROR_STATUS, 'FAILED_PRECONDITION', details='short and stout', trailers={'modelkiln-http-status': '418', 'modelkiln-reason': 'USER_TEAPOT'}),
    "custom-error-seldon-predict": Difference(USER_ERROR_STATUS, 'FAILED_PRECONDITION', details='short and stout', trailers={'modelkiln-http-status': '418', 'modelkiln-reason': 'USER_TEAPOT'}),
    "seldon-style-exception-403": Difference(USER_ERROR_STATUS, 'PERMISSION_DENIED', details='negative input refused', trailers={'modelkiln-http-status': '403', 'modelkiln-reason': 'FORBIDDEN_INPUT'}),
    "seldon-style-exception-default": Difference(USER_ERROR_STATUS, 'INVALID_ARGUMENT', details='bad input, default status', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
    "custom-error-nohandler-predict": Difference(USER_ERROR_STATUS, 'RESOURCE_EXHAUSTED', details='quota exceeded', trailers={'modelkiln-http-status': '429', 'modelkiln-reason': 'USER_QUOTA'}),

    # --- requests that cannot be served -----------------------------------------------------
    "bare-predict-empty": Difference(CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
                                     _NO_PAYLOAD + " (keys: none)", trailers=_400),
    "bare-predict-meta-only": Difference(CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
                                         _NO_PAYLOAD + " (keys: meta)", trailers=_400),
    "bare-transformer-transform-input-empty": Difference(
        CLIENT_ERROR_STATUS, "INVALID_ARGUMENT", _NO_PAYLOAD + " (keys: none)", trailers=_400),
    "router-empty": Difference(CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
                               _NO_PAYLOAD + " (keys: none)", trailers=_400),
    "bare-generic-aggregate-empty": Difference(CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
                                               "/aggregate needs at least one message",
                                               trailers=_400),
    "combiner-empty": Difference(CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
                                 "/aggregate needs at least one message", trailers=_400),
    "bare-predict-tensor-bad-shape": Difference(
        CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
        "data.tensor.values has 3 values, which does not fit shape [2, 2] (cannot reshape array "
        "of size 3 into shape (2,2))", trailers=_400),
    "bare-predict-tensor-no-values": Difference(
        CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
        "data.tensor.values has 0 values, which does not fit shape [2] (cannot reshape array of "
        "size 0 into shape (2,))", trailers=_400),
    "bare-predict-tensor-no-shape": Difference(
        CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
        "data.tensor.values has 2 values, which does not fit shape [] (cannot reshape array of "
        "size 2 into shape ())", trailers=_400),
    "bare-predict-ndarray-ragged": Difference(
        CLIENT_ERROR_STATUS, "INVALID_ARGUMENT",
        "data.ndarray is ragged: every row must have the same length (setting an array element "
        "with a sequence. The requested array has an inhomogeneous shape after 1 dimensions. The "
        "detected shape was (2,) + inhomogeneous part.)", trailers=_400),

    # --- methods the class lacks ------------------------------------------------------------
    "bare-generic-route": Difference(MISSING_METHOD, 'UNIMPLEMENTED', details='Route not defined: this class has no route() or route_raw() method', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
    "bare-router-route": Difference(MISSING_METHOD, 'UNIMPLEMENTED', details='Route not defined: this class has no route() or route_raw() method', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
    "bare-generic-aggregate": Difference(MISSING_METHOD, 'UNIMPLEMENTED', details='Aggregate not defined: this class has no aggregate() or aggregate_raw() method', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
    "bare-combiner-aggregate": Difference(MISSING_METHOD, 'UNIMPLEMENTED', details='Aggregate not defined: this class has no aggregate() or aggregate_raw() method', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),

    # --- answers Seldon cannot send ---------------------------------------------------------
    "bare-predict-jsondata-scalar": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT",
                                               _UNKNOWN_TYPE + "7.0", trailers=_400),
    "bare-predict-jsondata-null": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT",
                                             _UNKNOWN_TYPE + "None", trailers=_400),
    "odd-returns-none": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT", _UNKNOWN_TYPE + "None",
                                   trailers=_400),
    "odd-returns-int": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT", _UNKNOWN_TYPE + "42",
                                  trailers=_400),
    "odd-returns-tuple": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT", _UNKNOWN_TYPE + "(1, 2)",
                                    trailers=_400),
    "router-non-int": Difference(BAD_ANSWER_TYPE, "INVALID_ARGUMENT",
                                 "Routing response must be int but got 'branch-left'",
                                 trailers=_400),
    "bare-predict-jsondata-list": Difference(
        LIST_AS_IS, "OK", body={"data": {"ndarray": [1.0, "two", [3.5], {"four": True}]},
                                "meta": {}}),

    # --- tftensor (every tensorContent checked by decoding it with numpy) --------------------
    "bare-predict-tftensor-float": Difference(TFTENSOR, "OK", body=_tf(
        "DT_FLOAT", [2], "AADAPwAAAMA=")),                              # [1.5, -2.0]
    "bare-predict-tftensor-double": Difference(TFTENSOR, "OK", body=_tf(
        "DT_DOUBLE", [1, 3], "mpmZmZmZuT8AAAAAAAAAQAAAAAAAAArA",
        names=["t:0", "t:1", "t:2"])),                                  # [[0.1, 2.0, -3.25]]
    "bare-predict-tftensor-int32": Difference(TFTENSOR, "OK", body=_tf(
        "DT_INT32", [2, 2], "AQAAAP7///8DAAAABAAAAA==", names=["t:0", "t:1"])),  # [[1,-2],[3,4]]
    "bare-predict-tftensor-int64": Difference(TFTENSOR, "OK", body=_tf(
        "DT_INT64", [3], "BQAAAAAAAAD6/////////wEAAAAAACAA")),       # [5, -6, 2**53 + 1]
    "bare-predict-tftensor-uint8": Difference(TFTENSOR, "OK", body=_tf(
        "DT_UINT8", [2], "AP8=")),                                      # [0, 255]
    "bare-predict-tftensor-bool": Difference(TFTENSOR, "OK", body=_tf(
        "DT_BOOL", [2], "AQA=")),                                       # [True, False]
    "bare-predict-not-protobuf": Difference(UNPARSEABLE, "INVALID_ARGUMENT", details=(
        "the request is not a valid seldon.protos.SeldonMessage message (Error parsing message "
        "with type 'seldon.protos.SeldonMessage': Wire format was corrupt); check that the "
        "client uses the same .proto"), trailers=_400),
    "bare-predict-strdata-not-utf8": Difference(UNPARSEABLE, "INVALID_ARGUMENT", details=(
        "the request is not a valid seldon.protos.SeldonMessage message (Error parsing message "
        "with type 'seldon.protos.SeldonMessage': String field had bad UTF-8); check that the "
        "client uses the same .proto"), trailers=_400),
    "bare-predict-tftensor-string": Difference(TFTENSOR, "OK", body=_tf(
        "DT_STRING", [2], stringVal=["Y2F0", "ZG9n"])),                 # [b"cat", b"dog"]
    "bare-predict-tftensor-content": Difference(TFTENSOR, "OK", body=_tf(
        "DT_FLOAT", [2, 2], "AACAPwAAAEAAAEBAAACQQA==", names=["t:0", "t:1"])),  # [[1,2],[3,4.5]]
    "bare-predict-tftensor-broadcast": Difference(TFTENSOR, "OK", body=_tf(
        "DT_FLOAT", [3], "AADgQAAA4EAAAOBA")),                          # [7.0, 7.0, 7.0]
    "doubler-tftensor-int32": Difference(TFTENSOR, "OK", body=_tf(
        "DT_INT32", [2, 2], "AgAAAPz///8GAAAACAAAAA==", names=["t:0", "t:1"])),  # [[2,-4],[6,8]]
    "doubler-tftensor-double": Difference(TFTENSOR, "OK", body=_tf(
        "DT_DOUBLE", [1, 3], "mpmZmZmZyT8AAAAAAAAQQAAAAAAAABrA",
        names=["t:0", "t:1", "t:2"])),                                  # [[0.2, 4.0, -6.5]]
    "transformer-input-tftensor": Difference(TFTENSOR, "OK", body=_tf(
        "DT_INT32", [2, 2], "AgAAAP////8EAAAABQAAAA==", names=["t:0", "t:1"])),  # [[2,-1],[4,5]]

    # --- metadata -----------------------------------------------------------------------------
    "bare-seldon-graph-metadata": Difference(GRAPH_METADATA, "OK", body={
        "name": "model", "models": {"model": {"versions": [""]}}}),
    "health-meta-graph-metadata": Difference(GRAPH_METADATA, "OK", body={
        "name": "health-meta",
        "models": {"health-meta": {
            "name": "health-meta", "versions": ["v7"], "platform": "custom",
            "custom": {"author": "compat-suite"},
            "inputs": [{"messagetype": "tensor", "schema": {"names": ["a", "b"], "shape": [2.0]}}],
            "outputs": [{"messagetype": "tensor", "schema": {"shape": [1.0]}}]}},
        "inputs": [{"messagetype": "tensor", "schema": {"names": ["a", "b"], "shape": [2.0]}}],
        "outputs": [{"messagetype": "tensor", "schema": {"shape": [1.0]}}]}),
    "identity-graph-metadata": Difference(GRAPH_METADATA, "OK", body={
        "name": "classifier",
        "models": {"classifier": {"name": "example.com/team/classifier", "versions": ["1.2.3"]}}}),
    "bad-metadata-metadata": Difference(
        BAD_METADATA, "INTERNAL",
        "Model metadata unavailable: invalid model metadata: versions must be a list",
        trailers={"modelkiln-http-status": "500", "modelkiln-reason": "MICROSERVICE_BAD_METADATA"}),

    # --- raw methods ----------------------------------------------------------------------------
    "raw-predict-meta": Difference(RAW_AS_DICT, 'OK', body={'jsonData': {'keys': ['SeldonMessage']}, 'meta': {'tags': {'raw': True}}}),
    "raw-predict-strdata": Difference(RAW_AS_DICT, 'OK', body={'jsonData': {'keys': ['SeldonMessage']}, 'meta': {'tags': {'raw': True}}}),
    "raw-predict-status": Difference(RAW_AS_DICT, 'OK', body={'jsonData': {'keys': ['SeldonMessage']}, 'meta': {'tags': {'raw': True}}}),
    "passthrough-strdata": Difference(RAW_AS_DICT, "OK", body={"jsonData": {"decoded": True}}),

    # --- limits, outlier detectors ----------------------------------------------------------------
    "returns-dict-bindata-5mib": Difference(MESSAGE_SIZE, "OK", body={
        "jsonData": {"kind": "bytes", "length": 5242880.0}, "meta": {}}),
    "outlier-transform-input": Difference(OUTLIER_SCORES, "OK", body={
        "data": {"names": ["t:0", "t:1"], "ndarray": [[1.0, -2.0], [0.5, 0.5]]},
        "meta": {"puid": "o1", "tags": {"outlierScore": [3.0, 1.0]}}}),
    "bare-predict-ndarray-nan": Difference(NAN_IN_VALUE, 'INVALID_ARGUMENT', details='NaN and Infinity are not valid in ndarray, jsonData or tags (as in JSON); send them in a tensor', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
    "bare-predict-jsondata-nan": Difference(NAN_IN_VALUE, 'INVALID_ARGUMENT', details='NaN and Infinity are not valid in ndarray, jsonData or tags (as in JSON); send them in a tensor', trailers={'modelkiln-http-status': '400', 'modelkiln-reason': 'MICROSERVICE_BAD_DATA'}),
}
