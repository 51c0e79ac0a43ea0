"""Tensors of every V2 datatype, with each type's extremes, for exact round trips."""

import json
import re
from typing import Any, Dict, Tuple

import numpy as np

NUMERIC = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
           "FP16", "FP32", "FP64")
INTEGER = tuple(d for d in NUMERIC if "INT" in d)
DATATYPES = NUMERIC + ("BYTES",)
NP_DTYPE = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
            "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
            "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
            "BYTES": np.object_}
# BYTES elements: empty, non-ASCII (2-, 3- and 4-byte UTF-8), JSON escapes, NUL
TEXTS = ["", "é", "naïve café", "日本語", "🎉 party", 'quote " backslash \\ /', "nul\x00byte",
         "tab\tnewline\n", "plain"]


def sample(datatype: str, rows: int, seed: int, columns: int = 4) -> np.ndarray:
    """[rows, columns] values of datatype, with its extremes in the first row."""
    rng = np.random.default_rng(seed)
    shape = (rows, columns)
    if datatype == "BOOL":
        array = rng.integers(0, 2, size=shape).astype(np.bool_)
        array.flat[:2] = [True, False]
        return array
    if datatype == "BYTES":
        picks = rng.integers(0, len(TEXTS), size=shape)
        array = np.empty(shape, dtype=object)
        array[...] = [[TEXTS[i].encode("utf-8") for i in row] for row in picks]
        array.flat[:3] = [b"", "é".encode("utf-8"), "🎉".encode("utf-8")]
        return array
    dtype = np.dtype(NP_DTYPE[datatype])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        array.flat[:4] = [info.min, info.max, 0, info.max - 1]
        return array
    # floats: random bit patterns (every exponent, subnormals included), finite only
    bits = np.dtype("u%d" % dtype.itemsize)
    array = rng.integers(0, np.iinfo(bits).max, size=shape, dtype=bits,
                         endpoint=True).view(dtype)
    array[~np.isfinite(array)] = 0
    info = np.finfo(dtype)
    array.flat[:4] = [info.max, info.min, info.tiny, -0.0]
    if rows > 1:
        array.flat[4:8] = [info.smallest_subnormal, 0.1, -1.5, info.eps]
    return array


def flat_json(array: np.ndarray) -> list:
    """The row-major JSON data of an array (BYTES as UTF-8 strings)."""
    if array.dtype == object:
        return [b.decode("utf-8") for b in array.ravel()]
    return array.ravel().tolist()


# JSON values at or past the limits of the datatypes (and some of the wrong kind)
EXTREME_NUMBERS = [65504, 65505, 70000, 65520.0, 1e39, 3.5e38, -3.5e38, 1e308, 1e-46, -1, 256,
                   -129, 32768, 2 ** 31, 2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, -2 ** 63,
                   0.5, True, "1"]


def echoed(datatype: str, value: object) -> object:
    """What a strict server echoes for ``[value]`` as datatype; None: it must refuse (400)."""
    if datatype == "BOOL":
        return value if isinstance(value, bool) else None
    if datatype == "BYTES":
        return value if isinstance(value, str) else None
    if isinstance(value, (bool, str)):
        return None
    dtype = np.dtype(NP_DTYPE[datatype])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        ok = isinstance(value, int) and int(info.min) <= value <= int(info.max)
        return value if ok else None
    with np.errstate(over="ignore"):
        converted = np.array([value]).astype(dtype)
    return float(converted[0]) if np.isfinite(converted).all() else None


def canonical(value: Any) -> str:
    """Equal JSON values, types included (1 is not 1.0, true is not 1), floats exactly."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def short(value: Any) -> Any:
    text = canonical(value)
    return value if len(text) <= 200 else text[:200] + "...(%d chars)" % len(text)


def check_recorded(case_id: str, found: Dict[str, Tuple[Any, Any]], recorded: Any,
                   what: str) -> None:
    """``found`` (path -> (ours, MLServer's)) must be exactly the recorded difference."""
    expected = recorded.diff if recorded is not None else {}
    if canonical(found) == canonical(expected):
        return
    lines = ["%s: the %s from MLServer is not the one recorded in intentional.py"
             % (case_id, what)]
    for path in sorted(set(found) | set(expected)):
        got = found.get(path, "<no difference>")
        want = expected.get(path, "<not recorded>")
        if canonical(got) != canonical(want):
            lines.append("  %s: found %s, recorded %s" % (path, short(got), short(want)))
    raise AssertionError("\n".join(lines))


# the id MLServer makes up for a request that has none
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
