"""The protobuf messages and gRPC services modelkiln serves, declared here in Python.

Five packages, with the names and field numbers the clients use (the wire format):
``tensorflow`` (TensorProto, for Seldon's tftensor), ``seldon.protos`` (Seldon Core v1's
prediction API), ``inference`` (the Open Inference Protocol's GRPCInferenceService, with
Triton's ModelConfig method, whose message ``model.formats.triton_config`` declares) and
gRPC's server reflection (``grpc.reflection.v1alpha`` and ``v1``, what grpcurl asks).
The descriptors are built at run time into a private descriptor pool, so no generated code
ties the image to one protobuf release (the py36 image has protobuf 3.19, the py311 image
7.x), and a model that imports seldon-core's own generated modules does not clash with them.

Nothing happens at import time: ``load()`` builds everything once and caches it.
"""

import threading
from typing import Any, Dict

from ..codecs.descriptors import (BOOL, BYTES, DOUBLE, ENUM, FLOAT, INT32, INT64, MESSAGE,
                                   STRING, UINT32, UINT64, file_proto, message_class)
from ..model.formats import triton_config

_LOCK = threading.Lock()
_LOADED = {}  # type: Dict[str, Any]

TENSORFLOW = {
    "package": "tensorflow",
    "enums": {"DataType": [
        ("DT_INVALID", 0), ("DT_FLOAT", 1), ("DT_DOUBLE", 2), ("DT_INT32", 3), ("DT_UINT8", 4),
        ("DT_INT16", 5), ("DT_INT8", 6), ("DT_STRING", 7), ("DT_COMPLEX64", 8),
        ("DT_INT64", 9), ("DT_BOOL", 10), ("DT_UINT16", 17), ("DT_COMPLEX128", 18),
        ("DT_HALF", 19), ("DT_UINT32", 22), ("DT_UINT64", 23)]},
    "messages": [
        ("TensorShapeProto", [
            ("dim", 2, MESSAGE, ".tensorflow.TensorShapeProto.Dim", True),
            ("unknown_rank", 3, BOOL)],
         [("Dim", [("size", 1, INT64), ("name", 2, STRING)])]),
        ("TensorProto", [
            ("dtype", 1, ENUM, ".tensorflow.DataType"),
            ("tensor_shape", 2, MESSAGE, ".tensorflow.TensorShapeProto"),
            ("version_number", 3, INT32),
            ("tensor_content", 4, BYTES),
            ("half_val", 13, INT32, None, True),
            ("float_val", 5, FLOAT, None, True),
            ("double_val", 6, DOUBLE, None, True),
            ("int_val", 7, INT32, None, True),
            ("string_val", 8, BYTES, None, True),
            ("scomplex_val", 9, FLOAT, None, True),
            ("int64_val", 10, INT64, None, True),
            ("bool_val", 11, BOOL, None, True),
            ("dcomplex_val", 12, DOUBLE, None, True),
            ("uint32_val", 16, UINT32, None, True),
            ("uint64_val", 17, UINT64, None, True)]),
    ],
}

_VALUE = ".google.protobuf.Value"
_MSG = ".seldon.protos.SeldonMessage"
SELDON = {
    "package": "seldon.protos",
    "deps": ["google/protobuf/struct.proto", "google/protobuf/any.proto",
             "google/protobuf/empty.proto", "modelkiln/tensorflow.proto"],
    "enums": {},
    "messages": [
        ("SeldonMessage", [
            ("status", 1, MESSAGE, ".seldon.protos.Status"),
            ("meta", 2, MESSAGE, ".seldon.protos.Meta"),
            ("data", 3, MESSAGE, ".seldon.protos.DefaultData", False, 0),
            ("binData", 4, BYTES, None, False, 0),
            ("strData", 5, STRING, None, False, 0),
            ("jsonData", 6, MESSAGE, _VALUE, False, 0),
            ("customData", 7, MESSAGE, ".google.protobuf.Any", False, 0)],
         [], ["data_oneof"]),
        ("DefaultData", [
            ("names", 1, STRING, None, True),
            ("tensor", 2, MESSAGE, ".seldon.protos.Tensor", False, 0),
            ("ndarray", 3, MESSAGE, ".google.protobuf.ListValue", False, 0),
            ("tftensor", 4, MESSAGE, ".tensorflow.TensorProto", False, 0)],
         [], ["data_oneof"]),
        ("Tensor", [("shape", 1, INT32, None, True), ("values", 2, DOUBLE, None, True)]),
        ("Meta", [
            ("puid", 1, STRING),
            ("tags", 2, "map", (STRING, _VALUE)),
            ("routing", 3, "map", (STRING, INT32)),
            ("requestPath", 4, "map", (STRING, STRING)),
            ("metrics", 5, MESSAGE, ".seldon.protos.Metric", True)]),
        ("Metric", [
            ("key", 1, STRING),
            ("type", 2, ENUM, ".seldon.protos.Metric.MetricType"),
            ("value", 3, FLOAT),
            ("tags", 4, "map", (STRING, STRING))],
         [], [], {"MetricType": [("COUNTER", 0), ("GAUGE", 1), ("TIMER", 2)]}),
        ("SeldonMessageList", [("seldonMessages", 1, MESSAGE, _MSG, True)]),
        ("Status", [
            ("code", 1, INT32), ("info", 2, STRING), ("reason", 3, STRING),
            ("status", 4, ENUM, ".seldon.protos.Status.StatusFlag")],
         [], [], {"StatusFlag": [("SUCCESS", 0), ("FAILURE", 1)]}),
        ("Feedback", [
            ("request", 1, MESSAGE, _MSG), ("response", 2, MESSAGE, _MSG),
            ("reward", 3, FLOAT), ("truth", 4, MESSAGE, _MSG)]),
        ("RequestResponse", [("request", 1, MESSAGE, _MSG), ("response", 2, MESSAGE, _MSG)]),
        ("SeldonModelMetadataRequest", [("name", 1, STRING)]),
        ("SeldonMessageMetadata", [
            ("messagetype", 1, STRING), ("schema", 2, MESSAGE, _VALUE), ("name", 3, STRING),
            ("datatype", 4, STRING), ("shape", 5, INT64, None, True)]),
        ("SeldonModelMetadata", [
            ("name", 1, STRING), ("versions", 2, STRING, None, True), ("platform", 3, STRING),
            ("inputs", 4, MESSAGE, ".seldon.protos.SeldonMessageMetadata", True),
            ("outputs", 5, MESSAGE, ".seldon.protos.SeldonMessageMetadata", True),
            ("custom", 6, "map", (STRING, STRING))]),
        ("SeldonGraphMetadata", [
            ("name", 1, STRING),
            ("models", 2, "map", (STRING, ".seldon.protos.SeldonModelMetadata")),
            ("inputs", 3, MESSAGE, ".seldon.protos.SeldonMessageMetadata", True),
            ("outputs", 4, MESSAGE, ".seldon.protos.SeldonMessageMetadata", True)]),
    ],
    # service -> [(method, request type, response type)]
    "services": {
        "Generic": [("TransformInput", _MSG, _MSG), ("TransformOutput", _MSG, _MSG),
                    ("Route", _MSG, _MSG),
                    ("Aggregate", ".seldon.protos.SeldonMessageList", _MSG),
                    ("SendFeedback", ".seldon.protos.Feedback", _MSG)],
        "Model": [("Predict", _MSG, _MSG), ("SendFeedback", ".seldon.protos.Feedback", _MSG),
                  ("Metadata", ".google.protobuf.Empty", ".seldon.protos.SeldonModelMetadata")],
        "Router": [("Route", _MSG, _MSG), ("SendFeedback", ".seldon.protos.Feedback", _MSG)],
        "Transformer": [("TransformInput", _MSG, _MSG)],
        "OutputTransformer": [("TransformOutput", _MSG, _MSG)],
        "Combiner": [("Aggregate", ".seldon.protos.SeldonMessageList", _MSG)],
        "Seldon": [("Predict", _MSG, _MSG), ("SendFeedback", ".seldon.protos.Feedback", _MSG),
                   ("ModelMetadata", ".seldon.protos.SeldonModelMetadataRequest",
                    ".seldon.protos.SeldonModelMetadata"),
                   ("GraphMetadata", ".google.protobuf.Empty",
                    ".seldon.protos.SeldonGraphMetadata")],
    },
}

_PARAMS = ("map", (STRING, ".inference.InferParameter"))
_I = ".inference."
INFERENCE = {
    "package": "inference",
    "deps": [triton_config.FILE_NAME],
    "enums": {},
    "messages": [
        # Triton's model configuration extension (ModelConfig: model.formats.triton_config)
        ("ModelConfigRequest", [("name", 1, STRING), ("version", 2, STRING)]),
        ("ModelConfigResponse", [("config", 1, MESSAGE, _I + "ModelConfig")]),
        ("ServerLiveRequest", []), ("ServerLiveResponse", [("live", 1, BOOL)]),
        ("ServerReadyRequest", []), ("ServerReadyResponse", [("ready", 1, BOOL)]),
        ("ModelReadyRequest", [("name", 1, STRING), ("version", 2, STRING)]),
        ("ModelReadyResponse", [("ready", 1, BOOL)]),
        ("ServerMetadataRequest", []),
        ("ServerMetadataResponse", [("name", 1, STRING), ("version", 2, STRING),
                                    ("extensions", 3, STRING, None, True)]),
        ("ModelMetadataRequest", [("name", 1, STRING), ("version", 2, STRING)]),
        ("ModelMetadataResponse", [
            ("name", 1, STRING), ("versions", 2, STRING, None, True), ("platform", 3, STRING),
            ("inputs", 4, MESSAGE, _I + "ModelMetadataResponse.TensorMetadata", True),
            ("outputs", 5, MESSAGE, _I + "ModelMetadataResponse.TensorMetadata", True)],
         [("TensorMetadata", [("name", 1, STRING), ("datatype", 2, STRING),
                              ("shape", 3, INT64, None, True)])]),
        ("InferParameter", [
            ("bool_param", 1, BOOL, None, False, 0), ("int64_param", 2, INT64, None, False, 0),
            ("string_param", 3, STRING, None, False, 0),
            ("double_param", 4, DOUBLE, None, False, 0),
            ("uint64_param", 5, UINT64, None, False, 0)],
         [], ["parameter_choice"]),
        ("InferTensorContents", [
            ("bool_contents", 1, BOOL, None, True), ("int_contents", 2, INT32, None, True),
            ("int64_contents", 3, INT64, None, True), ("uint_contents", 4, UINT32, None, True),
            ("uint64_contents", 5, UINT64, None, True), ("fp32_contents", 6, FLOAT, None, True),
            ("fp64_contents", 7, DOUBLE, None, True), ("bytes_contents", 8, BYTES, None, True)]),
        ("ModelInferRequest", [
            ("model_name", 1, STRING), ("model_version", 2, STRING), ("id", 3, STRING),
            ("parameters", 4) + _PARAMS,
            ("inputs", 5, MESSAGE, _I + "ModelInferRequest.InferInputTensor", True),
            ("outputs", 6, MESSAGE, _I + "ModelInferRequest.InferRequestedOutputTensor", True),
            ("raw_input_contents", 7, BYTES, None, True)],
         [("InferInputTensor", [
             ("name", 1, STRING), ("datatype", 2, STRING), ("shape", 3, INT64, None, True),
             ("parameters", 4) + _PARAMS,
             ("contents", 5, MESSAGE, _I + "InferTensorContents")]),
          ("InferRequestedOutputTensor", [("name", 1, STRING), ("parameters", 2) + _PARAMS])]),
        ("ModelInferResponse", [
            ("model_name", 1, STRING), ("model_version", 2, STRING), ("id", 3, STRING),
            ("parameters", 4) + _PARAMS,
            ("outputs", 5, MESSAGE, _I + "ModelInferResponse.InferOutputTensor", True),
            ("raw_output_contents", 6, BYTES, None, True)],
         [("InferOutputTensor", [
             ("name", 1, STRING), ("datatype", 2, STRING), ("shape", 3, INT64, None, True),
             ("parameters", 4) + _PARAMS,
             ("contents", 5, MESSAGE, _I + "InferTensorContents")])]),
        # Triton's streaming extension: zero or more answers per request of the stream
        ("ModelStreamInferResponse", [
            ("error_message", 1, STRING),
            ("infer_response", 2, MESSAGE, _I + "ModelInferResponse")]),
    ],
    "services": {
        "GRPCInferenceService": [
            (name, _I + name + "Request", _I + name + "Response")
            for name in ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata",
                         "ModelMetadata", "ModelInfer")] + [
            ("ModelStreamInfer", _I + "ModelInferRequest", _I + "ModelStreamInferResponse",
             True),
            ("ModelConfig", _I + "ModelConfigRequest", _I + "ModelConfigResponse")],
    },
}


def _reflection(package: str) -> Dict[str, Any]:
    """gRPC's server reflection service (the same messages in v1alpha and v1)."""
    p = "." + package + "."
    return {
        "package": package,
        "enums": {},
        "messages": [
            ("ServerReflectionRequest", [
                ("host", 1, STRING),
                ("file_by_filename", 3, STRING, None, False, 0),
                ("file_containing_symbol", 4, STRING, None, False, 0),
                ("file_containing_extension", 5, MESSAGE, p + "ExtensionRequest", False, 0),
                ("all_extension_numbers_of_type", 6, STRING, None, False, 0),
                ("list_services", 7, STRING, None, False, 0)],
             [], ["message_request"]),
            ("ExtensionRequest", [("containing_type", 1, STRING),
                                  ("extension_number", 2, INT32)]),
            ("ServerReflectionResponse", [
                ("valid_host", 1, STRING),
                ("original_request", 2, MESSAGE, p + "ServerReflectionRequest"),
                ("file_descriptor_response", 4, MESSAGE, p + "FileDescriptorResponse", False,
                 0),
                ("all_extension_numbers_response", 5, MESSAGE, p + "ExtensionNumberResponse",
                 False, 0),
                ("list_services_response", 6, MESSAGE, p + "ListServiceResponse", False, 0),
                ("error_response", 7, MESSAGE, p + "ErrorResponse", False, 0)],
             [], ["message_response"]),
            ("FileDescriptorResponse", [("file_descriptor_proto", 1, BYTES, None, True)]),
            ("ExtensionNumberResponse", [("base_type_name", 1, STRING),
                                         ("extension_number", 2, INT32, None, True)]),
            ("ListServiceResponse", [("service", 1, MESSAGE, p + "ServiceResponse", True)]),
            ("ServiceResponse", [("name", 1, STRING)]),
            ("ErrorResponse", [("error_code", 1, INT32), ("error_message", 2, STRING)]),
        ],
        # a fourth element True: a stream of requests answered by a stream of responses
        "services": {"ServerReflection": [
            ("ServerReflectionInfo", p + "ServerReflectionRequest",
             p + "ServerReflectionResponse", True)]},
    }


REFLECTION_PACKAGES = ("grpc.reflection.v1alpha", "grpc.reflection.v1")
FILES = (("modelkiln/tensorflow.proto", TENSORFLOW), ("modelkiln/seldon.proto", SELDON),
         (triton_config.FILE_NAME, triton_config.MODEL_CONFIG),
         ("modelkiln/inference.proto", INFERENCE),
         ("modelkiln/reflection_v1alpha.proto", _reflection(REFLECTION_PACKAGES[0])),
         ("modelkiln/reflection_v1.proto", _reflection(REFLECTION_PACKAGES[1])))


class Protos(object):
    """The pool, message classes by full name, and service descriptions."""

    def __init__(self) -> None:
        from google.protobuf import any_pb2, descriptor_pool, empty_pb2, struct_pb2

        self.pool = descriptor_pool.DescriptorPool()
        for module in (struct_pb2, any_pb2, empty_pb2):
            self.pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
        self.services = {}  # type: Dict[str, List[Tuple[str, str, str]]]
        self.streaming = set()  # type: Set[str]  (full method names: /service/method)
        for name, spec in FILES:
            self.pool.AddSerializedFile(file_proto(name, spec).SerializeToString())
            for service, methods in spec.get("services", {}).items():
                self.services["%s.%s" % (spec["package"], service)] = [
                    (method, request.lstrip("."), response.lstrip("."))
                    for method, request, response, *_streaming in methods]
                self.streaming.update("/%s.%s/%s" % (spec["package"], service, method[0])
                                      for method in methods if method[3:])
        self._classes = {}  # type: Dict[str, Any]
        # Every message class made now and held for the life of the process: with protobuf
        # 4.22-4.24 (upb; 7.x is fine), a sub-message class made lazily for a run-time pool can be freed
        # while messages still use it, and json_format then crashes the process.
        for name, _spec in FILES:
            self._hold(self.pool.FindFileByName(name).message_types_by_name.values())
        for wkt in ("google.protobuf.Struct", "google.protobuf.Value",
                    "google.protobuf.ListValue", "google.protobuf.Any", "google.protobuf.Empty"):
            self.message(wkt)

    def _hold(self, descriptors: Any) -> None:
        for descriptor in descriptors:
            self.message(descriptor.full_name)
            self._hold(descriptor.nested_types)

    def message(self, full_name: str) -> Any:
        found = self._classes.get(full_name)
        if found is None:
            found = self._classes[full_name] = message_class(self.pool, full_name)
        return found


def load() -> Protos:
    """Build the descriptors once per process."""
    with _LOCK:
        if "protos" not in _LOADED:
            _LOADED["protos"] = Protos()
        return _LOADED["protos"]
