"""The three numeric ``data`` kinds of a SeldonMessage: ``ndarray``, ``tensor``, ``tftensor``.

Each codec decodes its JSON form to a numpy array and encodes an array back. ``tftensor`` is
TensorFlow's TensorProto in protobuf-JSON form, handled without TensorFlow.
"""

import base64
import binascii
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import BadDataError, clipped, few, shown
from . import jsonio, limits


def _has_nested_list(array: np.ndarray) -> bool:
    for item in array.flat:
        if isinstance(item, (list, tuple)):
            return True
    return False


class NdarrayCodec(object):
    """``{"ndarray": [[1, 2], [3, 4]]}``: nested lists, any element type."""

    key = "ndarray"

    def decode(self, value: Any) -> np.ndarray:
        if not isinstance(value, list):
            raise BadDataError(
                "data.ndarray must be a (nested) list, got %s" % type(value).__name__
            )
        try:
            array = np.array(value)
        except ValueError as exc:
            raise BadDataError(
                "data.ndarray is ragged: every row must have the same length (%s)"
                % clipped(exc)
            ) from exc
        # numpy < 1.24 builds an object array from ragged lists instead of raising.
        if array.dtype == object and _has_nested_list(array):
            raise BadDataError("data.ndarray is ragged: every row must have the same length")
        return array

    def encode(self, array: np.ndarray) -> Any:
        """The nested list, or the array itself where the JSON writer spells it the same."""
        return jsonio.for_json(array)


class TensorCodec(object):
    """``{"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}``: flat values plus a shape."""

    key = "tensor"

    def decode(self, value: Any) -> np.ndarray:
        if not isinstance(value, dict) or "values" not in value or "shape" not in value:
            raise BadDataError('data.tensor must be an object with "shape" and "values"')
        values, shape = value["values"], value["shape"]
        if not isinstance(values, list):
            raise BadDataError("data.tensor.values must be a flat list of numbers")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape
        ):
            raise BadDataError("data.tensor.shape must be a list of integers")
        if len(shape) > 32:
            raise BadDataError("data.tensor.shape has %d dimensions; numpy allows 32"
                               % len(shape))
        size = 1
        for dim in shape:
            size *= abs(dim)
        limits.check_elements(size, "data.tensor (shape %s)", shape)
        try:
            return np.array(values).reshape(shape)
        except ValueError as exc:
            raise BadDataError(
                "data.tensor.values has %d values, which does not fit shape %s (%s)"
                % (len(values), shape, clipped(exc))
            ) from exc

    def encode(self, array: np.ndarray) -> Dict[str, Any]:
        return {"values": jsonio.for_json(array.ravel()), "shape": list(array.shape)}


# TensorFlow DataType names -> (numpy dtype, name of the repeated *_val field in JSON).
_TF_TYPES = {
    "DT_FLOAT": (np.float32, "floatVal"),
    "DT_DOUBLE": (np.float64, "doubleVal"),
    "DT_INT32": (np.int32, "intVal"),
    "DT_INT16": (np.int16, "intVal"),
    "DT_INT8": (np.int8, "intVal"),
    "DT_UINT8": (np.uint8, "intVal"),
    "DT_UINT16": (np.uint16, "intVal"),
    "DT_INT64": (np.int64, "int64Val"),
    "DT_UINT32": (np.uint32, "uint32Val"),
    "DT_UINT64": (np.uint64, "uint64Val"),
    "DT_BOOL": (np.bool_, "boolVal"),
    "DT_HALF": (np.float16, "halfVal"),
    "DT_STRING": (object, "stringVal"),
}
_TF_BY_DTYPE = {np.dtype(t): name for name, (t, _) in _TF_TYPES.items() if t is not object}


def check_int_range(items: list, dtype: Any) -> None:
    """Raise OverflowError for integers the dtype cannot hold. numpy 2 does so by itself, but
    numpy 1.x (the py36 stack) silently wraps them (1000 as DT_INT8 becomes -24)."""
    try:
        low, high = min(items), max(items)
    except (TypeError, ValueError):  # empty, or not comparable: np.array reports it
        return
    info = np.iinfo(dtype)
    for value in (low, high):
        if not isinstance(value, bool) and (value < info.min or value > info.max):
            raise OverflowError("%s is out of range (%d to %d)" % (value, info.min, info.max))


class TfTensorCodec(object):
    """``{"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, ...}}``."""

    key = "tftensor"

    def decode(self, value: Any) -> np.ndarray:
        if not isinstance(value, dict):
            raise BadDataError("data.tftensor must be a TensorProto JSON object")
        name = value.get("dtype", "DT_FLOAT")
        if not isinstance(name, str) or name not in _TF_TYPES:
            raise BadDataError("data.tftensor.dtype %s is not supported (use one of %s)"
                               % (shown(name), ", ".join(sorted(_TF_TYPES))))
        dtype, field = _TF_TYPES[name]
        shape = self._shape(value)
        size = 1
        for dim in shape:  # Python ints: np.prod wraps around on huge shapes
            size *= dim
        limits.check_elements(size, "data.tftensor (shape %s)", list(shape))
        values = value.get(field, [])
        if not isinstance(values, list):
            raise BadDataError("data.tftensor.%s must be a list" % field)
        try:
            if "tensorContent" in value and dtype is not object:
                raw = base64.b64decode(value["tensorContent"])
                flat = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
            elif dtype is object:
                flat = np.empty(len(values), dtype=object)
                flat[:] = [base64.b64decode(v, validate=True) for v in values]
            elif name == "DT_HALF":
                check_int_range(values, np.uint16)
                flat = np.array(values, dtype=np.uint16).view(np.float16)
            else:
                number = float if np.dtype(dtype).kind == "f" else int
                items = [number(v) if isinstance(v, str) else v for v in values]
                if np.dtype(dtype).kind in "iu":
                    check_int_range(items, dtype)
                flat = np.array(items, dtype=dtype)
        except (TypeError, ValueError, OverflowError, binascii.Error) as exc:
            raise BadDataError("data.tftensor values cannot be read as %s: %s"
                               % (name, clipped(exc))) from exc
        if flat.size == 1 and size > 1:
            # TensorProto lets one value stand for every element: a few request bytes must
            # not make the worker allocate any amount of memory.
            limits.check_expanded(size * flat.itemsize, "data.tftensor's one value repeated "
                                  "for shape %s" % (list(shape),))
            flat = np.full(size, flat[0], dtype=flat.dtype)  # TensorProto repeats a lone value
        if flat.size != size:
            raise BadDataError(
                "data.tftensor has %d values for shape %s" % (flat.size, list(shape))
            )
        return flat.reshape(shape)

    @staticmethod
    def _shape(value: Dict[str, Any]) -> Tuple[int, ...]:
        # Sizes are strings in protobuf JSON (int64).
        try:
            dims = value.get("tensorShape", {}).get("dim", [])
            shape = tuple(int(d.get("size", 0)) for d in dims)
        except (AttributeError, TypeError, ValueError) as exc:
            raise BadDataError('data.tftensor.tensorShape must look like {"dim": [{"size": '
                               '"2"}, ...]}') from exc
        if any(d < 0 for d in shape):
            raise BadDataError("data.tftensor.tensorShape has a negative size")
        if len(shape) > 32:
            raise BadDataError("data.tftensor.tensorShape has %d dimensions; numpy allows 32"
                               % len(shape))
        return shape

    def encode(self, array: np.ndarray) -> Dict[str, Any]:
        dims = {"dim": [{"size": str(d)} for d in array.shape]}
        if array.dtype.kind in "OSU":  # strings and bytes: DT_STRING, base64 per element
            items = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.flat]
            return {"dtype": "DT_STRING", "tensorShape": dims,
                    "stringVal": [base64.b64encode(v).decode("ascii") for v in items]}
        name = _TF_BY_DTYPE.get(array.dtype)
        if name is None:
            array = array.astype(np.float64)
            name = "DT_DOUBLE"
        out = {"dtype": name, "tensorShape": dims}
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        out["tensorContent"] = base64.b64encode(little.tobytes()).decode("ascii")
        return out


NDARRAY = NdarrayCodec()
TENSOR = TensorCodec()
TFTENSOR = TfTensorCodec()
CODECS = {c.key: c for c in (NDARRAY, TENSOR, TFTENSOR)}
_DATA_KEYS = frozenset(CODECS) | {"names"}


def decode_data(datadef: Any) -> Tuple[Optional[Any], np.ndarray]:
    """Decode a ``data`` definition; returns (codec used or None, array)."""
    if not isinstance(datadef, dict):
        raise BadDataError('"data" must be an object holding ndarray, tensor or tftensor')
    for key, codec in CODECS.items():
        if key in datadef:
            return codec, codec.decode(datadef[key])
    unknown = sorted(k for k in datadef if k not in _DATA_KEYS)
    if unknown:
        raise BadDataError(
            '"data" holds %s; expected one of ndarray, tensor, tftensor' % few(unknown)
        )
    return None, np.array([])
