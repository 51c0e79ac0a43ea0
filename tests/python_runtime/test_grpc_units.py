"""gRPC pieces without a server: the status mapping, V2 parameters and contents, descriptors."""

import numpy as np
import pytest

from python_runtime.protocols import protos
from python_runtime.errors import BadDataError
from python_runtime.transport.grpc_server import status_for
from python_runtime.protocols.grpc_v2 import (V2Grpc, dict_to_parameters,
                                              parameters_to_dict)


@pytest.mark.parametrize("http, code", [
    (400, "INVALID_ARGUMENT"), (404, "NOT_FOUND"), (413, "RESOURCE_EXHAUSTED"),
    (415, "INVALID_ARGUMENT"), (418, "FAILED_PRECONDITION"), (500, "INTERNAL"),
    (501, "UNIMPLEMENTED"), (503, "UNAVAILABLE"), (599, "INTERNAL"), (429, "RESOURCE_EXHAUSTED"),
])
def test_status_mapping(http, code):
    assert status_for(http) == code


@pytest.fixture(scope="module")
def loaded():
    return protos.load()


def test_every_service_and_method_is_declared(loaded):
    assert {name: [m for m, _, _ in methods] for name, methods in loaded.services.items()} == {
        "seldon.protos.Generic": ["TransformInput", "TransformOutput", "Route", "Aggregate",
                                  "SendFeedback"],
        "seldon.protos.Model": ["Predict", "SendFeedback", "Metadata"],
        "seldon.protos.Router": ["Route", "SendFeedback"],
        "seldon.protos.Transformer": ["TransformInput"],
        "seldon.protos.OutputTransformer": ["TransformOutput"],
        "seldon.protos.Combiner": ["Aggregate"],
        "seldon.protos.Seldon": ["Predict", "SendFeedback", "ModelMetadata", "GraphMetadata"],
        "inference.GRPCInferenceService": ["ServerLive", "ServerReady", "ModelReady",
                                           "ServerMetadata", "ModelMetadata", "ModelInfer",
                                           "ModelStreamInfer", "ModelConfig"],
        "grpc.reflection.v1alpha.ServerReflection": ["ServerReflectionInfo"],
        "grpc.reflection.v1.ServerReflection": ["ServerReflectionInfo"],
    }
    assert loaded.streaming == {
        "/inference.GRPCInferenceService/ModelStreamInfer",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"}


@pytest.mark.parametrize("full_name, field, number", [
    ("seldon.protos.SeldonMessage", "jsonData", 6), ("seldon.protos.DefaultData", "tftensor", 4),
    ("seldon.protos.Meta", "requestPath", 4), ("seldon.protos.Feedback", "truth", 4),
    ("tensorflow.TensorProto", "half_val", 13), ("tensorflow.TensorProto", "uint64_val", 17),
    ("inference.ModelInferRequest", "raw_input_contents", 7),
    ("inference.ModelInferResponse", "raw_output_contents", 6),
    ("inference.InferTensorContents", "bytes_contents", 8),
    ("inference.InferParameter", "uint64_param", 5),
    ("inference.ModelStreamInferResponse", "error_message", 1),
    ("inference.ModelStreamInferResponse", "infer_response", 2),
])
def test_field_numbers_are_the_wire_format(loaded, full_name, field, number):
    descriptor = loaded.pool.FindMessageTypeByName(full_name)
    assert descriptor.fields_by_name[field].number == number


def test_a_message_round_trips_through_bytes(loaded):
    cls = loaded.message("seldon.protos.SeldonMessage")
    message = cls()
    message.meta.tags["k"].string_value = "v"
    message.meta.routing["r"] = 2
    message.data.names.extend(["a"])
    message.data.tensor.shape.extend([1, 1])
    message.data.tensor.values.append(1.5)
    again = cls.FromString(message.SerializeToString())
    assert again == message and again.data.tensor.values[0] == 1.5


def test_parameters_both_ways(loaded):
    request = loaded.message("inference.ModelInferRequest")()
    dict_to_parameters({"b": True, "i": -3, "u": 1 << 63, "d": 0.5, "s": "x",
                        "list": [1, 2]}, request.parameters)
    assert parameters_to_dict(request.parameters) == {
        "b": True, "i": -3, "u": 1 << 63, "d": 0.5, "s": "x", "list": "[1, 2]"}


@pytest.mark.parametrize("datatype, field, values, dtype", [
    ("INT8", "int_contents", [-128, 127], np.int8),
    ("UINT64", "uint64_contents", [0, (1 << 64) - 1], np.uint64),
    ("FP32", "fp32_contents", [0.5, -2.0], np.float32),
    ("BOOL", "bool_contents", [True, False], np.bool_),
])
def test_typed_contents_become_little_endian_bytes(loaded, datatype, field, values, dtype):
    tensor = loaded.message("inference.ModelInferRequest.InferInputTensor")(
        name="x", datatype=datatype, shape=[len(values)])
    getattr(tensor.contents, field).extend(values)
    data = V2Grpc._contents_as_bytes(tensor)
    assert np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).tolist() == values


@pytest.mark.parametrize("datatype, field, values, fragment", [
    ("INT8", "int_contents", [200], "out of range for INT8"),
    ("FP16", None, [], "FP16 data must come in raw_input_contents"),
])
def test_typed_contents_refused(loaded, datatype, field, values, fragment):
    tensor = loaded.message("inference.ModelInferRequest.InferInputTensor")(
        name="x", datatype=datatype, shape=[len(values)])
    if field:
        getattr(tensor.contents, field).extend(values)
    with pytest.raises(BadDataError) as info:
        V2Grpc._contents_as_bytes(tensor)
    assert fragment in info.value.message


def _shape(descriptor):
    """A message's fields as (name, number, type, repeated, oneof, message type's short name)."""
    return sorted((f.name, f.number, f.type,
                   f.is_repeated if hasattr(f, "is_repeated") else f.label == f.LABEL_REPEATED,
                   f.containing_oneof.name if f.containing_oneof else None,
                   f.message_type.name if f.message_type else None)
                  for f in descriptor.fields)


@pytest.mark.parametrize("package", protos.REFLECTION_PACKAGES)
def test_reflection_messages_match_grpcio_reflection(loaded, package):
    """The wire format of reflection, compared with grpcio-reflection's own descriptors (v1
    and v1alpha declare the same messages)."""
    reference = pytest.importorskip("grpc_reflection.v1alpha.reflection_pb2").DESCRIPTOR
    assert len(reference.message_types_by_name) == 8
    for name, expected in reference.message_types_by_name.items():
        ours = loaded.pool.FindMessageTypeByName("%s.%s" % (package, name))
        assert _shape(ours) == _shape(expected), name
    from google.protobuf import descriptor_pb2

    service = descriptor_pb2.ServiceDescriptorProto()
    loaded.pool.FindServiceByName(package + ".ServerReflection").CopyToProto(service)
    assert [(m.name, m.client_streaming, m.server_streaming) for m in service.method] == [
        ("ServerReflectionInfo", True, True)]


def test_events_for_a_connection_closed_earlier_in_the_same_round_are_dropped():
    # select() hands back a batch of events; handling one of them (an answer going out in
    # _woken) can close a connection whose own read event comes later in that batch.  The
    # fuzzer in tests/reliability found the server thread dying on it.
    import selectors
    from python_runtime.transport.grpc_server import GrpcServer, _Link

    server = object.__new__(GrpcServer)
    server.tls = None
    link = _Link(None, ("127.0.0.1", 1), 1 << 20, None)
    server._on_events(link, selectors.EVENT_READ)
    assert link.sock is None and link.reading
