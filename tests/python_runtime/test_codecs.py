"""Codecs: strict JSON, the three data kinds, and the response-kind rules."""

import base64

import numpy as np
import pytest

from python_runtime.codecs import jsonio
from python_runtime.codecs.message import build_meta, decode_message, encode_payload, protobuf_shaped
from python_runtime.codecs.tensors import NDARRAY, TENSOR, TFTENSOR, decode_data
from python_runtime.errors import BadDataError


def as_json(value):
    """What the client receives: encoders may hand arrays to the JSON writer directly."""
    return jsonio.loads(jsonio.dumps(value))


def t_names(array):
    return ["t:%d" % i for i in range(array.shape[1])] if array.ndim > 1 else []


# --- JSON ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, fragment", [
    (b"", "empty body"),
    (b"   ", "empty body"),
    (b'{"a": NaN}', "NaN"),
    (b'{"a": Infinity}', "invalid JSON"),
    (b'{"a": -Infinity}', "invalid JSON"),
    (b'{"a": 1e400}', "invalid JSON"),
    (b'{"a": 123456789012345678901234567890}', "64 bits"),
    (b'{"a": -9223372036854775809}', "64 bits"),
    (b'{"a": "\xff\xfe"}', "UTF-8"),
    (b'[1, 2', "invalid JSON"),
    (b'{"a": 1,}', "invalid JSON"),
    (b"[" * 100000 + b"1234567890123456789" + b"]" * 100000, "nested too deeply"),
])
def test_json_rejects_with_reason(raw, fragment):
    with pytest.raises(BadDataError) as info:
        jsonio.loads(raw)
    assert fragment in info.value.message
    assert info.value.status_code == 400


@pytest.mark.parametrize("raw, value", [
    (b'{"a": 1}', {"a": 1}),
    (b'[1, 2.5, "x", null, true]', [1, 2.5, "x", None, True]),
    (b'{"big": 18446744073709551615}', {"big": 18446744073709551615}),
    (b'{"neg": -9223372036854775808}', {"neg": -9223372036854775808}),
    (b'{"long": 0.1234567890123456789012}', {"long": 0.1234567890123456789012}),
    ('{"u": "\u00e9\u4e2d"}'.encode("utf-8"), {"u": "\u00e9\u4e2d"}),
])
def test_json_accepts(raw, value):
    assert jsonio.loads(raw) == value


def test_json_ints_stay_ints():
    value = jsonio.loads(b'{"x": [1, 2, 3]}')
    assert all(type(v) is int for v in value["x"])


def test_dumps_numpy_and_non_finite():
    out = jsonio.loads(jsonio.dumps({"a": np.float64(0.5), "b": np.int64(3), "c": float("nan"),
                                     "d": [float("inf")]}))
    assert out == {"a": 0.5, "b": 3, "c": None, "d": [None]}


def test_dumps_falls_back_for_unknown_types():
    out = jsonio.loads(jsonio.dumps({"arr": np.array([1, "a"], dtype=object), "s": (1, 2)}))
    assert out == {"arr": [1, "a"], "s": [1, 2]}


# --- data kinds ---------------------------------------------------------------------------

def test_ndarray_round_trip_keeps_ints():
    array = NDARRAY.decode([[1, 2], [3, 4]])
    assert array.dtype.kind == "i"
    assert as_json(NDARRAY.encode(array)) == [[1, 2], [3, 4]]


def test_tensor_round_trip():
    array = TENSOR.decode({"shape": [2, 2], "values": [1.0, 2.0, 3.0, 4.0]})
    assert array.shape == (2, 2)
    assert as_json(TENSOR.encode(array)) == {"values": [1.0, 2.0, 3.0, 4.0], "shape": [2, 2]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_tftensor_round_trip(dtype):
    array = np.arange(6).reshape(2, 3).astype(dtype)
    encoded = TFTENSOR.encode(array)
    back = TFTENSOR.decode(encoded)
    assert back.dtype == array.dtype
    assert np.array_equal(back, array)


def test_tftensor_value_lists():
    value = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}, {"size": "2"}]},
             "floatVal": [1, 2, 3, 4]}
    assert TFTENSOR.decode(value).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    lone = {"dtype": "DT_INT64", "tensorShape": {"dim": [{"size": "3"}]}, "int64Val": ["7"]}
    assert TFTENSOR.decode(lone).tolist() == [7, 7, 7]


def test_tftensor_strings_from_protobuf_json():
    value = {"dtype": "DT_DOUBLE", "tensorShape": {"dim": [{"size": "2"}]},
             "doubleVal": ["1.5", "NaN"]}
    decoded = TFTENSOR.decode(value)
    assert decoded[0] == 1.5 and np.isnan(decoded[1])


def test_tftensor_dt_string_round_trip():
    value = {"dtype": "DT_STRING", "tensorShape": {"dim": [{"size": "2"}]},
             "stringVal": ["YWJj", "eHl6"]}
    decoded = TFTENSOR.decode(value)
    assert decoded.tolist() == [b"abc", b"xyz"]
    assert TFTENSOR.encode(decoded) == value
    answer = encode_payload(decoded, {"data": {"tftensor": value}}, t_names)
    assert answer["data"]["tftensor"] == value


@pytest.mark.parametrize("datadef, fragment", [
    ([1, 2], '"data" must be an object'),
    ({"ndarray": "abc"}, "must be a (nested) list"),
    ({"ndarray": [[1, 2], [3]]}, "ragged"),
    ({"ndarray": [[1, [2, 3]], [4, 5]]}, "ragged"),
    ({"tensor": {"values": [1, 2, 3]}}, '"shape" and "values"'),
    ({"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}, "does not fit shape"),
    ({"tensor": {"shape": [2, "x"], "values": [1, 2]}}, "list of integers"),
    ({"tensor": {"shape": [2], "values": "12"}}, "flat list"),
    ({"tftensor": {"dtype": "DT_COMPLEX64"}}, "not supported"),
    ({"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}]},
                   "floatVal": [1, 2]}}, "has 2 values"),
    ({"ndarry": [[1]]}, "ndarry"),
    ({"tftensor": {"dtype": ["DT_FLOAT"]}}, "is not supported"),
    ({"tftensor": {"dtype": "DT_FLOAT", "tensorShape": 5}}, "tensorShape must look like"),
    ({"tftensor": {"dtype": "DT_INT8", "tensorShape": {"dim": [{"size": "1"}]},
                   "intVal": [1000]}}, "cannot be read as DT_INT8: 1000 is out of range"),
    ({"tftensor": {"dtype": "DT_UINT8", "tensorShape": {"dim": [{"size": "2"}]},
                   "intVal": [3, -1]}}, "cannot be read as DT_UINT8: -1 is out of range"),
    ({"tftensor": {"dtype": "DT_INT16", "tensorShape": {"dim": [{"size": "1"}]},
                   "intVal": ["40000"]}}, "cannot be read as DT_INT16: 40000 is out of range"),
    ({"tftensor": {"dtype": "DT_HALF", "tensorShape": {"dim": [{"size": "1"}]},
                   "halfVal": [70000]}}, "cannot be read as DT_HALF: 70000 is out of range"),
    ({"tftensor": {"dtype": "DT_UINT64", "tensorShape": {"dim": [{"size": "1"}]},
                   "uint64Val": [str(2 ** 64)]}}, "cannot be read as DT_UINT64"),
    ({"tftensor": {"dtype": "DT_STRING", "tensorShape": {"dim": [{"size": "1"}]},
                   "stringVal": ["%%%"]}}, "cannot be read as DT_STRING"),
])
def test_bad_data_definitions(datadef, fragment):
    with pytest.raises(BadDataError) as info:
        decode_data(datadef)
    assert fragment in info.value.message


def test_names_only_is_empty_array():
    codec, array = decode_data({"names": ["a"]})
    assert codec is None and array.size == 0


# --- messages -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, kind, check", [
    ({"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}, "data",
     lambda m: m.names == ["a", "b"] and m.features.tolist() == [[1, 2]]),
    ({"strData": "hi"}, "strData", lambda m: m.features == "hi"),
    ({"jsonData": {"k": [1]}}, "jsonData", lambda m: m.features == {"k": [1]}),
    ({"binData": base64.b64encode(b"\x00\xff").decode()}, "binData",
     lambda m: m.features == b"\x00\xff"),
    ({"data": {"ndarray": [1]}, "strData": "x"}, "data", lambda m: m.features.tolist() == [1]),
    ({"meta": {"puid": "p"}, "strData": "x"}, "strData", lambda m: m.meta == {"puid": "p"}),
])
def test_decode_message(raw, kind, check):
    message = decode_message(raw)
    assert message.kind == kind
    assert check(message)


@pytest.mark.parametrize("raw, fragment", [
    ([1, 2], "got list"),
    ("text", "got str"),
    ({}, "none of data"),
    ({"meta": {"puid": "x"}}, "none of data"),
    ({"meta": "x", "strData": "a"}, '"meta" must be an object'),
    ({"strData": 5}, '"strData" must be a string'),
    ({"binData": "not base64!"}, "not valid base64"),
    ({"data": {"ndarray": [1], "names": "a"}}, "list of strings"),
    ({"strData": "a", "meta": {"tags": [1]}}, '"meta.tags" must be an object'),
    ({"strData": "a", "meta": {"metrics": 5}}, '"meta.metrics" must be a list'),
    ({"strData": "a", "meta": {"metrics": [5]}}, 'each of "meta.metrics"'),
    ({"strData": "a", "meta": {"requestPath": "ab"}}, '"meta.requestPath" must be an object'),
    ({"strData": "a", "meta": {"routing": [1]}}, '"meta.routing" must be an object'),
])
def test_decode_message_errors(raw, fragment):
    with pytest.raises(BadDataError) as info:
        decode_message(raw)
    assert fragment in info.value.message


@pytest.mark.parametrize("result, request_raw, expected", [
    ({"a": 1}, {}, {"jsonData": {"a": 1}}),
    (b"\x01\x02", {}, {"binData": "AQI="}),
    ("label", {}, {"strData": "label"}),
    (np.array([[1.5, 2.0]]), {"data": {"ndarray": [[0]]}},
     {"data": {"ndarray": [[1.5, 2.0]], "names": ["t:0", "t:1"]}}),
    (np.array([[1, 2]]), {"data": {"tensor": {"shape": [1, 1], "values": [0]}}},
     {"data": {"tensor": {"values": [1, 2], "shape": [1, 2]}, "names": ["t:0", "t:1"]}}),
    (np.array([[1, 2]]), {"strData": "x"},
     {"data": {"tensor": {"values": [1, 2], "shape": [1, 2]}, "names": ["t:0", "t:1"]}}),
    (np.array([["a", "b"]]), {"data": {"tensor": {"shape": [1], "values": [0]}}},
     {"data": {"ndarray": [["a", "b"]], "names": ["t:0", "t:1"]}}),
    ([[1, 2.5]], {"data": {"ndarray": [[0]]}},
     {"data": {"ndarray": [[1, 2.5]], "names": ["t:0", "t:1"]}}),
    (np.array([True, False]), {"data": {"ndarray": [0]}},
     {"data": {"ndarray": [True, False], "names": []}}),
    ([], {"data": {"ndarray": []}}, {"data": {"ndarray": [], "names": []}}),
])
def test_encode_payload_kind_rules(result, request_raw, expected):
    assert as_json(encode_payload(result, request_raw, t_names)) == expected


def test_encode_payload_ints_stay_ints():
    out = as_json(encode_payload(np.array([[3, 1]]), {"data": {"ndarray": [[0]]}}, t_names))
    assert all(type(v) is int for v in out["data"]["ndarray"][0])


@pytest.mark.parametrize("array", [
    np.array([[0.1, 1 / 3, 1e-300, -2.5e17]]),
    np.arange(6, dtype=np.int32).reshape(2, 3),
    np.array([True, False]),
    np.array([[0.1, 0.2]], dtype=np.float32),
    np.arange(12, dtype=np.float64).reshape(3, 4)[:, 1:3],  # not contiguous
    # FP16/FP32 of jsonio.WIDEN_FROM values or more: written from a float64 copy
    np.array([0.1, 1 / 3, -0.0, 1e-7, 1e-45, 3e38, np.nan, np.inf] * 10,
             dtype=np.float32).reshape(8, 10),
    np.array([0.1, 65504.0, 6e-8, -np.inf] * 20, dtype=np.float16).reshape(4, 20),
    (np.arange(256, dtype=np.float32) / 7).reshape(16, 16)[:, ::2],  # not contiguous
])
def test_direct_array_writing_matches_tolist(array):
    assert jsonio.dumps(NDARRAY.encode(array)) == jsonio.dumps(array.tolist())
    assert jsonio.dumps(TENSOR.encode(array)["values"]) == jsonio.dumps(array.ravel().tolist())


def test_encode_payload_rejects_unknown_types():
    with pytest.raises(Exception) as info:
        encode_payload(None, {}, t_names)
    assert "Unknown data type returned as payload" in str(info.value)
    assert getattr(info.value, "status_code", None) == 400  # as Seldon answers


def test_build_meta_merges_in_seldon_order():
    request_meta = {"puid": "p1", "tags": {"a": 1, "b": 1}, "metrics": [{"key": "m"}],
                    "requestPath": {"up": "img:1"}}
    meta = build_meta(request_meta, {"meta": request_meta}, [{"b": 2, "c": 2}, {"c": 3}],
                      [{"key": "n"}], {"me": "img:2"})
    assert meta == {"tags": {"a": 1, "b": 2, "c": 3}, "metrics": [{"key": "m"}, {"key": "n"}],
                    "puid": "p1", "requestPath": {"me": "img:2", "up": "img:1"}}
    assert request_meta["tags"] == {"a": 1, "b": 1}  # the request is not mutated


def test_build_meta_empty():
    assert build_meta(None, {}, [None], [], {}) == {}


def test_protobuf_shaped_feedback_answers():
    assert protobuf_shaped({"data": {"ndarray": [], "names": []}, "meta": {}}) == {
        "data": {"ndarray": []}, "meta": {}}
    assert protobuf_shaped({"data": {"tensor": {"shape": [0], "values": []}, "names": []},
                            "meta": {}}) == {"data": {"tensor": {"shape": [0]}}, "meta": {}}
    shaped = protobuf_shaped({"data": {"ndarray": [[7, True, "x"]], "names": ["t:0"]}})
    assert shaped == {"data": {"ndarray": [[7.0, True, "x"]], "names": ["t:0"]}}
    assert type(shaped["data"]["ndarray"][0][0]) is float


@pytest.mark.parametrize("name,field,values,dtype", [
    ("DT_INT8", "intVal", [-128, 127], np.int8),
    ("DT_UINT8", "intVal", [0, "255"], np.uint8),
    ("DT_UINT64", "uint64Val", ["18446744073709551615", 0], np.uint64),
    ("DT_INT64", "int64Val", ["-9223372036854775808", 1], np.int64),
])
def test_tftensor_integers_at_their_bounds_are_kept(name, field, values, dtype):
    """The range check refuses only what the dtype cannot hold, on numpy 1.x as on 2.x."""
    _, array = decode_data({"tftensor": {"dtype": name, field: values,
                                         "tensorShape": {"dim": [{"size": "2"}]}}})
    assert array.dtype == dtype
    assert array.tolist() == [int(v) for v in values]
