"""Open Inference Protocol (V2) tensors: JSON ``data`` and the binary tensor extension.

An input becomes a numpy array of its declared shape and datatype; an array becomes an output
in JSON or in binary. Every size is checked against the shape before anything is allocated,
so a small request cannot make a large array, and every problem is a 400 naming the tensor.
Binary tensors are little-endian and row-major; a BYTES element is a 4-byte little-endian
length followed by its bytes.
"""

import base64
import struct
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import BadDataError, InternalError, clipped, shown
from . import jsonio, limits
from .tensors import check_int_range

# V2 datatype -> numpy dtype (BYTES: an object array of bytes)
DTYPES = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
DATATYPE_OF = {dtype: name for name, dtype in DTYPES.items() if name != "BYTES"}
# The wire form of each numeric datatype: little-endian (computed once, not per call).
LITTLE = {name: dtype.newbyteorder("<") for name, dtype in DTYPES.items() if name != "BYTES"}
# numpy kinds a JSON list may parse to, for each datatype
_JSON_KINDS = {"BOOL": "b", "BYTES": "U", "FP16": "iuf", "FP32": "iuf", "FP64": "iuf"}
_JSON_KINDS.update({n: "iu" for n in DTYPES if n.startswith(("INT", "UINT"))})
# Parameters of the binary extension: not passed on to the model, not echoed.
EXTENSION_PARAMETERS = frozenset(("binary_data_size", "binary_data", "binary_data_output"))
HEADER_LENGTH = "HTTP_INFERENCE_HEADER_CONTENT_LENGTH"
MAX_DIMENSIONS = 32  # numpy 1.x's limit (2.x allows 64)
_LENGTH = struct.Struct("<I")


class Tensor(object):
    """A decoded V2 input (or an output before encoding)."""

    __slots__ = ("name", "datatype", "shape", "parameters", "array")

    def __init__(self, name: str, datatype: str, shape: List[int],
                 parameters: Dict[str, Any], array: np.ndarray) -> None:
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.parameters = parameters
        self.array = array


def _count(shape: List[int]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _header(item: Any, index: int, what: str) -> Tuple[str, str, List[int], Dict[str, Any]]:
    """name, datatype, shape and parameters of an input or output object, checked."""
    if not isinstance(item, dict):
        raise BadDataError("%s[%d] must be an object with name, shape, datatype and data"
                           % (what, index))
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadDataError("%s[%d] needs a name (a non-empty string)" % (what, index))
    datatype = item.get("datatype")
    if not isinstance(datatype, str) or datatype not in DTYPES:
        raise BadDataError("input %s: datatype %s is not one of %s"
                           % (shown(name), shown(datatype), ", ".join(DTYPES)))
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadDataError("input %s: shape must be a list of non-negative integers, got %s"
                           % (shown(name), jsonio.dumps(shape).decode()[:80]))
    if len(shape) > MAX_DIMENSIONS:
        raise BadDataError("input %s: shape has %d dimensions; at most %d are supported"
                           % (shown(name), len(shape), MAX_DIMENSIONS))
    if _count([d for d in shape if d]) >= 1 << 60:  # numpy cannot index it, even empty
        raise BadDataError("input %s: shape %s is too large" % (shown(name), shape))
    count = _count(shape)
    if count > limits.LIMITS.max_elements:  # (the name is shown only then: every request)
        limits.check_elements(count, "input %s (shape %s)", shown(name), shape)
    parameters = item.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadDataError("input %s: parameters must be an object" % shown(name))
    return name, datatype, shape, parameters


def decode_input(item: Any, index: int, binary: Optional["BinaryReader"]) -> Tensor:
    """One request input: from its JSON ``data`` or from the binary part of the body."""
    name, datatype, shape, parameters = _header(item, index, "inputs")
    count = _count(shape)
    size = parameters.get("binary_data_size")
    if size is not None:
        if "data" in item:
            raise BadDataError("input %s has both data and binary_data_size" % shown(name))
        if binary is None:
            raise BadDataError("input %s has binary_data_size, but the request has no "
                               "Inference-Header-Content-Length header (binary extension)"
                               % shown(name))
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadDataError("input %s: binary_data_size must be a non-negative integer"
                               % shown(name))
        array = _from_binary(name, datatype, count, binary.take(size, name))
    elif "data" in item:
        array = _from_json(name, datatype, count, item["data"], parameters)
    else:
        raise BadDataError("input %s has no data (and no binary_data_size)" % shown(name))
    return Tensor(name, datatype, shape, parameters, array.reshape(shape))


def _from_binary(name: str, datatype: str, count: int, raw: memoryview) -> np.ndarray:
    if datatype == "BYTES":
        items = split_bytes(raw, name)
        if len(items) != count:
            raise BadDataError("input %s: shape needs %d BYTES elements, the binary data "
                               "holds %d" % (shown(name), count, len(items)))
        array = np.empty(count, dtype=object)
        array[:] = items
        return array
    dtype = DTYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise BadDataError("input %s: shape needs %d bytes of %s, binary_data_size is %d"
                           % (shown(name), count * dtype.itemsize, datatype, len(raw)))
    return np.frombuffer(raw, dtype=LITTLE[datatype]).astype(dtype, copy=False)


def _from_json(name: str, datatype: str, count: int, data: Any,
               parameters: Dict[str, Any]) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]  # a lone scalar is a one-element tensor
    if datatype == "BYTES":
        return _bytes_from_json(name, count, data, parameters)
    try:
        parsed = np.array(data)
    except ValueError as exc:  # ragged nesting (numpy >= 1.24)
        raise BadDataError("input %s: data is ragged (%s)" % (shown(name), clipped(exc))
                           ) from exc
    if parsed.size != count:
        raise BadDataError("input %s: shape needs %d values, data holds %s"
                           % (shown(name), count, parsed.size if parsed.dtype != object
                              else "a ragged or mixed list"))
    kinds = _JSON_KINDS[datatype]
    dtype = DTYPES[datatype]
    if count and parsed.dtype.kind not in kinds:
        # numpy reads [0, 2**64 - 1] as floats: such integers are kept exact instead
        exact = _exact_integers(data, parsed) if dtype.kind in "iu" else None
        if exact is None:
            raise BadDataError("input %s: %s data must be %s, got %s" % (
                shown(name), datatype,
                {"b": "true/false", "iu": "integers", "iuf": "numbers"}[kinds],
                _describe_kind(parsed)))
        parsed = exact
    if dtype.kind in "iu" and count:
        try:
            check_int_range([parsed.min(), parsed.max()], dtype)
        except OverflowError as exc:
            raise BadDataError("input %s: %s for %s" % (shown(name), clipped(exc), datatype)
                               ) from exc
    with np.errstate(over="ignore"):
        array = parsed.astype(dtype, copy=False)
        if dtype.kind == "f" and dtype.itemsize < 8 and count:  # 70000 as FP16 is inf
            if not np.isfinite(array).all():
                raise BadDataError("input %s: a value is too large for %s"
                                   % (shown(name), datatype))
    return array.ravel()


def _exact_integers(data: List[Any], parsed: np.ndarray) -> Optional[np.ndarray]:
    """The values as an object array of Python ints, or None unless all are integers."""
    if parsed.dtype.kind not in "fO":
        return None
    exact = np.array(data, dtype=object)
    values = exact.ravel().tolist()
    if exact.size != parsed.size or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return np.array(values, dtype=object)


def _describe_kind(parsed: np.ndarray) -> str:
    if parsed.dtype.kind == "O" and any(v is None for v in parsed.ravel().tolist()):
        return "null"
    return {"b": "true/false", "i": "integers", "u": "integers", "f": "numbers with a "
            "fraction", "U": "strings"}.get(parsed.dtype.kind, "a mix of kinds")


def _bytes_from_json(name: str, count: int, data: List[Any],
                     parameters: Dict[str, Any]) -> np.ndarray:
    flat = []  # type: List[Any]
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            if not isinstance(item, str):
                raise BadDataError("input %s: BYTES data must be strings, got %s"
                                   % (shown(name), type(item).__name__))
            flat.append(item)
            if len(flat) > count:
                raise BadDataError("input %s: shape needs %d BYTES elements, data holds "
                                   "more" % (shown(name), count))
        else:
            stack.pop()
    if len(flat) != count:
        raise BadDataError("input %s: shape needs %d BYTES elements, data holds %d"
                           % (shown(name), count, len(flat)))
    as_text = parameters.get("content_type") == "str"
    array = np.empty(count, dtype=object)
    array[:] = flat if as_text else [s.encode("utf-8") for s in flat]
    return array


def split_bytes(raw: memoryview, name: str) -> List[bytes]:
    """BYTES elements of a binary tensor: 4-byte little-endian length, then the bytes."""
    items = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise BadDataError("input %s: BYTES binary data ends inside a length prefix"
                               % shown(name))
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > end:
            raise BadDataError("input %s: a BYTES element of %d bytes runs past the binary "
                               "data" % (shown(name), length))
        items.append(bytes(raw[offset:offset + length]))
        offset += length
    return items


class BinaryReader(object):
    """The binary part of a request body, handed out to inputs in order."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.offset = 0

    def take(self, size: int, name: str) -> memoryview:
        end = self.offset + size
        if end > len(self.view):
            raise BadDataError("input %s: binary_data_size %d runs past the end of the body "
                               "(%d bytes of binary data left)"
                               % (shown(name), size, len(self.view) - self.offset))
        part = self.view[self.offset:end]
        self.offset = end
        return part

    def check_consumed(self) -> None:
        left = len(self.view) - self.offset
        if left:
            raise BadDataError("the body has %d bytes of binary data that no input's "
                               "binary_data_size accounts for" % left)


def split_body(body: bytes, header_length: Optional[str]) -> Tuple[bytes, Optional[BinaryReader]]:
    """(JSON part, binary part) of a request body, by Inference-Header-Content-Length."""
    if header_length is None:
        return body, None
    try:
        length = int(header_length)
    except ValueError:
        raise BadDataError("Inference-Header-Content-Length %r is not a number"
                           % header_length[:40])
    if length < 0 or length > len(body):
        raise BadDataError("Inference-Header-Content-Length is %d, but the body has %d bytes"
                           % (length, len(body)))
    return body[:length], BinaryReader(body[length:])


# -- outputs ---------------------------------------------------------------------------

def datatype_of(array: np.ndarray, name: str) -> str:
    kind = array.dtype.kind
    if kind in "OSU":
        return "BYTES"
    datatype = DATATYPE_OF.get(array.dtype.newbyteorder("="))
    if datatype is None:  # the model's answer, not the client's fault
        raise InternalError("output %r: numpy %s cannot be sent as a V2 tensor (use bool, "
                            "integers, floats or strings)" % (name, array.dtype))
    return datatype


def _bytes_items(array: np.ndarray) -> List[bytes]:
    return [v if isinstance(v, bytes) else bytes(v) if isinstance(v, bytearray)
            else str(v).encode("utf-8") for v in array.ravel()]


def encode_output(name: str, array: np.ndarray, binary: bool,
                  parameters: Optional[Dict[str, Any]] = None
                  ) -> Tuple[Dict[str, Any], Optional[bytes]]:
    """(output object, its binary data or None)."""
    datatype = datatype_of(array, name)
    out = {"name": name, "datatype": datatype, "shape": list(array.shape)}  # type: Dict[str, Any]
    params = dict(parameters or {})
    raw = None
    if binary:
        if datatype == "BYTES":
            raw = b"".join(_LENGTH.pack(len(v)) + v for v in _bytes_items(array))
        else:
            raw = np.ascontiguousarray(array, dtype=LITTLE[datatype]).tobytes()
        params["binary_data_size"] = len(raw)
    elif datatype == "BYTES":
        out["data"], as_base64 = _bytes_as_text(array)
        if as_base64:
            params["content_type"] = "base64"
    else:
        out["data"] = jsonio.for_json(array.ravel())
    if params:
        out["parameters"] = params
    return out, raw


def _bytes_as_text(array: np.ndarray) -> Tuple[List[str], bool]:
    """JSON strings for BYTES elements; base64 for all when any element is not UTF-8."""
    items = [v for v in array.ravel()]
    if all(isinstance(v, str) for v in items):
        return items, False
    raw = _bytes_items(array)
    try:
        return [v.decode("utf-8") for v in raw], False
    except UnicodeDecodeError:
        return [base64.b64encode(v).decode("ascii") for v in raw], True


def join_body(response: Dict[str, Any], chunks: List[bytes]) -> Tuple[bytes, int]:
    """A binary-extension body: the JSON header, then the outputs' binary data in order."""
    header = jsonio.dumps(response)
    return header + b"".join(chunks), len(header)
