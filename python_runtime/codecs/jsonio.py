"""Strict, fast JSON: orjson when installed, the standard library otherwise.

Both paths agree: NaN/Infinity and integers outside 64 bits are rejected with a 400, invalid
UTF-8 is a 400, and non-finite floats in answers are written as ``null`` (valid JSON).
"""

import json
import math
from typing import Any

from ..errors import BadDataError

try:  # orjson is optional: the py36 image may not have it
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the oldest-pins run
    _orjson = None

HAVE_ORJSON = _orjson is not None
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1
# 19+ digits in a row may be an integer beyond 64 bits, which orjson would turn into a float.
# Mapping every digit to "0" and searching for a run is ~20x faster than a regex.
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def _has_long_digit_run(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS_TO_ZERO)


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not a valid JSON number" % name)


def _parse_int(text: str) -> int:
    value = int(text)
    if not _INT64_MIN <= value <= _UINT64_MAX:
        raise ValueError("integer %s does not fit in 64 bits" % (text[:40]))
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number %s is too large for a 64-bit float" % text[:40])
    return value


def _stdlib_loads(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDataError(
            "request body is not valid UTF-8 (byte %d); JSON must be UTF-8 encoded" % exc.start
        ) from exc
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except ValueError as exc:
        raise BadDataError("invalid JSON: %s" % exc) from exc
    except RecursionError as exc:
        raise BadDataError("invalid JSON: nested too deeply") from exc


def loads(data: bytes) -> Any:
    """Parse a JSON document; any problem is a ``BadDataError`` that says where."""
    if not data.strip():
        raise BadDataError("empty body: send a SeldonMessage as JSON")
    if _orjson is None or _has_long_digit_run(data):
        return _stdlib_loads(data)
    try:
        return _orjson.loads(data)
    except _orjson.JSONDecodeError as exc:
        message = str(exc)
        if "UTF-8" in message:
            # The standard library names the first bad byte.
            return _stdlib_loads(data)
        if message.startswith("unexpected character") and (b"NaN" in data or b"Infinity" in data):
            message = "NaN and Infinity are not valid JSON numbers (%s)" % message
        raise BadDataError("invalid JSON: %s" % message) from exc


def _to_builtin(obj: Any) -> Any:
    """``default`` hook for the standard library: numpy scalars and arrays, bytes."""
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError("%s is not JSON serialisable" % type(obj).__name__)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _stdlib_dumps(obj: Any) -> bytes:
    try:
        text = json.dumps(obj, default=_to_builtin, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(
            _finite(json.loads(json.dumps(obj, default=_to_builtin))),
            separators=(",", ":"),
        )
    return text.encode("utf-8")


def writes_array_as_list(array: Any) -> bool:
    """True when ``dumps`` writes this numpy array exactly as ``array.tolist()`` would be
    written, without building the list: orjson does so for C-contiguous integer, bool and
    float64 arrays (float32 would come out in its own shorter spelling)."""
    if _orjson is None or not array.flags.c_contiguous:
        return False
    kind = array.dtype.kind
    return kind in "iub" or (kind == "f" and array.dtype.itemsize == 8)


# FP16/FP32 arrays of at least this many values are widened to float64 before they are written
# (``for_json``): below it the copy costs more than the Python floats it saves
WIDEN_FROM = 64


def for_json(array: Any) -> Any:
    """What ``dumps`` should be given for a numpy array so that it is written as
    ``array.tolist()`` would be: the array itself where orjson writes it so; an FP16/FP32 array
    of WIDEN_FROM values or more as a float64 copy (the same float64 values tolist() gives,
    Triton's and MLServer's spelling, without a Python float each: 4000 FP32 values 86 us
    against 138); otherwise the list."""
    if (_orjson is not None and array.dtype.kind == "f" and array.dtype.itemsize < 8
            and array.size >= WIDEN_FROM):
        array = array.astype("float64")
    return array if writes_array_as_list(array) else array.tolist()


if _orjson is not None:
    _OPTIONS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        """Serialise an answer to compact JSON bytes."""
        try:
            return _orjson.dumps(obj, option=_OPTIONS)
        except TypeError:
            # Types orjson does not know (e.g. numpy object arrays, sets): slower but complete.
            return _stdlib_dumps(obj)

else:  # pragma: no cover - exercised by the oldest-pins run
    dumps = _stdlib_dumps
