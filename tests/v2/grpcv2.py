"""V2 gRPC helpers for the tests: requests built by hand with tritonclient's own stubs
(``tritonclient.grpc.service_pb2``), and answers read back whatever form they came in.

- ``typed_request`` puts every input in ``InferInputTensor.contents``; ``raw_request`` puts it
  in ``raw_input_contents`` (tritonclient's default).
- ``outputs_of`` reads every output of a ModelInferResponse into a numpy array, from
  ``raw_output_contents`` (one entry per output, in output order) or from typed ``contents``.
- ``call`` makes one call through a stub and returns ``Answer(code, details, trailing,
  response)``, so errors are values and their trailing metadata can be checked.
"""

import struct
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

from .values import NP_DTYPE

# datatype -> the typed field of InferTensorContents that carries it (FP16 has none)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
    "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
    "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
_LENGTH = struct.Struct("<I")
# Enough for 1000-row tensors and then some; both servers are local.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20),
                   ("grpc.max_send_message_length", 64 << 20)]
TIMEOUT = 60.0

Input = Tuple[str, str, np.ndarray]  # (name, datatype, array)


class Answer(NamedTuple):
    code: str  # grpc.StatusCode name: "OK", "NOT_FOUND", ...
    details: str
    trailing: Dict[str, str]
    response: Any  # the response message when OK, else None


class Client(object):
    """A channel to one server and the GRPCInferenceService stub on it."""

    def __init__(self, host_port: str) -> None:
        self.host_port = host_port
        self.channel = grpc.insecure_channel(host_port, options=CHANNEL_OPTIONS)
        self.stub = service_pb2_grpc.GRPCInferenceServiceStub(self.channel)

    def call(self, method: str, request: Any) -> Answer:
        try:
            response, rpc = getattr(self.stub, method).with_call(request, timeout=TIMEOUT)
        except grpc.RpcError as exc:
            return Answer(exc.code().name, exc.details() or "",
                          dict(exc.trailing_metadata() or ()), None)
        return Answer("OK", "", dict(rpc.trailing_metadata() or ()), response)

    def infer(self, request: Any) -> Answer:
        return self.call("ModelInfer", request)

    def close(self) -> None:
        self.channel.close()


def serialize_bytes(array: np.ndarray) -> bytes:
    """BYTES raw contents: each element a 4-byte little-endian length, then its bytes."""
    return b"".join(_LENGTH.pack(len(b)) + b for b in array.ravel().tolist())


def raw_bytes_of(datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        return serialize_bytes(array)
    dtype = np.dtype(NP_DTYPE[datatype])
    return np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")).tobytes()


def _request(model: str, version: str, request_id: str,
             parameters: Optional[Dict[str, Any]], outputs: Optional[Sequence[str]]) -> Any:
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version,
                                            id=request_id)
    set_parameters(request.parameters, parameters or {})
    for name in outputs or ():
        request.outputs.add(name=name)
    return request


def typed_request(model: str, inputs: Iterable[Input], version: str = "",
                  request_id: str = "", parameters: Optional[Dict[str, Any]] = None,
                  outputs: Optional[Sequence[str]] = None) -> Any:
    """Every input's values in its typed ``contents`` field."""
    request = _request(model, version, request_id, parameters, outputs)
    for name, datatype, array in inputs:
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
        field = CONTENTS_FIELD.get(datatype)
        if field is not None:
            getattr(tensor.contents, field).extend(array.ravel().tolist())
    return request


def raw_request(model: str, inputs: Iterable[Input], version: str = "",
                request_id: str = "", parameters: Optional[Dict[str, Any]] = None,
                outputs: Optional[Sequence[str]] = None) -> Any:
    """Every input's data in ``raw_input_contents``, in input order."""
    request = _request(model, version, request_id, parameters, outputs)
    for name, datatype, array in inputs:
        request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
        request.raw_input_contents.append(raw_bytes_of(datatype, array))
    return request


def set_parameters(target: Any, values: Dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        elif isinstance(value, float):
            target[key].double_param = value
        else:
            target[key].string_param = value


def parameters_of(parameters: Any) -> Dict[str, Any]:
    """An InferParameter map as {key: value} (the set member of each oneof)."""
    out = {}
    for key, value in parameters.items():
        which = value.WhichOneof("parameter_choice")
        out[key] = getattr(value, which) if which else None
    return out


def form_of(response: Any) -> str:
    """"raw" when the answer used raw_output_contents, "typed" when it filled contents."""
    typed = any(o.HasField("contents") and o.contents.ListFields() for o in response.outputs)
    if len(response.raw_output_contents) and typed:
        return "mixed"
    return "raw" if len(response.raw_output_contents) else "typed"


def split_bytes(data: bytes) -> List[bytes]:
    items, offset = [], 0
    while offset < len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        items.append(bytes(data[offset:offset + size]))
        offset += size
    return items


def _array(datatype: str, shape: List[int], values: Any) -> np.ndarray:
    if datatype == "BYTES":
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    return np.array(list(values), dtype=NP_DTYPE[datatype]).reshape(shape)


def outputs_of(response: Any) -> Dict[str, np.ndarray]:
    """Every output as an array of its datatype and shape (raw or typed, per the spec: when
    raw_output_contents is used it holds every output, in output order)."""
    raw = list(response.raw_output_contents)
    if raw and len(raw) != len(response.outputs):
        raise AssertionError("raw_output_contents has %d entries for %d outputs: the spec "
                             "wants one per output, in order" % (len(raw), len(response.outputs)))
    found = {}
    for index, output in enumerate(response.outputs):
        shape = list(output.shape)
        if raw:
            data = raw[index]
            if output.datatype == "BYTES":
                found[output.name] = _array("BYTES", shape, split_bytes(data))
            else:
                dtype = np.dtype(NP_DTYPE[output.datatype]).newbyteorder("<")
                found[output.name] = np.frombuffer(data, dtype=dtype).astype(
                    NP_DTYPE[output.datatype]).reshape(shape)
        else:
            field = CONTENTS_FIELD[output.datatype]
            found[output.name] = _array(output.datatype, shape,
                                        getattr(output.contents, field))
    return found


def assert_same_array(got: np.ndarray, want: np.ndarray) -> None:
    """Same shape and dtype, and the same values bit for bit (BYTES: the same bytes)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype == object:
        assert got.ravel().tolist() == want.ravel().tolist()
        return
    if got.tobytes() != want.tobytes():
        bits = "u%d" % want.dtype.itemsize  # compare bit patterns: -0.0, NaN
        bad = np.flatnonzero(np.ascontiguousarray(got).ravel().view(bits)
                             != np.ascontiguousarray(want).ravel().view(bits))[:5]
        raise AssertionError("values differ at %s: got %s, want %s"
                             % (bad.tolist(), got.ravel()[bad], want.ravel()[bad]))
