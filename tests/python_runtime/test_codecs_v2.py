"""V2 tensors: JSON and binary inputs, outputs, and every refusal as a table."""

import json
import struct

import numpy as np
import pytest

from python_runtime.codecs import jsonio
from python_runtime.codecs.v2 import (DTYPES, BinaryReader, decode_input, encode_output,
                                      join_body, split_body, split_bytes)
from python_runtime.errors import BadDataError, InternalError


def tensor(datatype, shape, data=None, **parameters):
    item = {"name": "x", "datatype": datatype, "shape": shape}
    if data is not None:
        item["data"] = data
    if parameters:
        item["parameters"] = parameters
    return item


INT_BOUNDS = [(name, np.iinfo(dtype)) for name, dtype in DTYPES.items() if dtype.kind in "iu"]


@pytest.mark.parametrize("name, info", INT_BOUNDS, ids=[n for n, _ in INT_BOUNDS])
def test_json_integers_at_their_bounds(name, info):
    decoded = decode_input(tensor(name, [2], [int(info.min), int(info.max)]), 0, None)
    assert decoded.array.dtype == DTYPES[name]
    assert decoded.array.tolist() == [int(info.min), int(info.max)]


@pytest.mark.parametrize("datatype, data, shape, expected", [
    ("FP64", [[1, 2.5], [3, 4]], [2, 2], [[1.0, 2.5], [3.0, 4.0]]),
    ("FP32", [1, 2, 3, 4], [2, 2], [[1.0, 2.0], [3.0, 4.0]]),
    ("FP16", [0.5], [1], [0.5]),
    ("BOOL", [True, False], [2], [True, False]),
    ("INT64", 7, [], 7),
    ("BYTES", ["a", "é", ""], [3], [b"a", "é".encode(), b""]),
    ("BYTES", [["a"], ["b"]], [2, 1], [[b"a"], [b"b"]]),
])
def test_json_inputs(datatype, data, shape, expected):
    decoded = decode_input(tensor(datatype, shape, data), 0, None)
    assert list(decoded.array.shape) == shape
    assert decoded.array.tolist() == expected


def test_bytes_as_text_when_the_input_says_str():
    decoded = decode_input(tensor("BYTES", [2], ["a", "b"], content_type="str"), 0, None)
    assert decoded.array.tolist() == ["a", "b"]


@pytest.mark.parametrize("item, fragment", [
    ("x", "inputs[0] must be an object"),
    ({"datatype": "FP32", "shape": [1], "data": [1]}, "needs a name"),
    (tensor("FP128", [1], [1]), "datatype 'FP128' is not one of"),
    (tensor("FP32", [-1], [1]), "shape must be a list of non-negative integers"),
    (tensor("FP32", "2", [1]), "shape must be a list of non-negative integers"),
    (tensor("FP32", [2]), "has no data"),
    (tensor("FP32", [3], [1, 2]), "shape needs 3 values, data holds 2"),
    # a one-value body must not become a huge array: refused before any allocation
    (tensor("FP64", [100000, 100000], [1]),
     "10000000000 elements, more than the limit of 134217728 (MODELKILN_MAX_ELEMENTS)"),
    (tensor("FP64", [1000, 100], [1]), "shape needs 100000 values, data holds 1"),
    (tensor("FP32", [2, 2], [[1, 2], [3]]), "ragged"),
    (tensor("INT32", [2], [1, 2.5]), "INT32 data must be integers, got numbers with a fraction"),
    (tensor("INT8", [1], [200]), "200 is out of range (-128 to 127) for INT8"),
    (tensor("UINT8", [1], [-1]), "-1 is out of range (0 to 255) for UINT8"),
    (tensor("BOOL", [1], [1]), "BOOL data must be true/false, got integers"),
    (tensor("FP32", [1], ["1"]), "FP32 data must be numbers, got strings"),
    (tensor("FP32", [1], [1e300]), "too large for FP32"),
    (tensor("BYTES", [2], ["a", 1]), "BYTES data must be strings, got int"),
    (tensor("BYTES", [1], ["a", "b"]), "shape needs 1 BYTES elements, data holds more"),
    (tensor("FP32", [1], [1], binary_data_size=4), "has both data and binary_data_size"),
    (tensor("FP32", [1], binary_data_size=4), "no Inference-Header-Content-Length header"),
    ({"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": 3},
     "parameters must be an object"),
    ({"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": []},
     "parameters must be an object"),
    (tensor(["FP32"], [1], [1]), "datatype ['FP32'] is not one of"),
    (tensor({}, [1], [1]), "datatype {} is not one of"),
    (tensor("FP32", [1] * 33, [1]), "shape has 33 dimensions; at most 32 are supported"),
    (tensor("FP16", [2], [70000, 1]), "too large for FP16"),
    (tensor("FP32", [1], [2 ** 200]), "FP32 data must be numbers"),
    (tensor("FP64", [2], [1, None]), "FP64 data must be numbers, got null"),
])
def test_bad_inputs_name_the_problem(item, fragment):
    with pytest.raises(BadDataError) as info:
        decode_input(item, 0, None)
    assert fragment in info.value.message


def binary(*arrays):
    return BinaryReader(b"".join(a.astype(a.dtype.newbyteorder("<")).tobytes() for a in arrays))


def test_binary_inputs_in_order():
    reader = binary(np.array([1.5, 2.5]), np.array([7], dtype=np.int32))
    first = decode_input(tensor("FP64", [1, 2], binary_data_size=16), 0, reader)
    second = decode_input(tensor("INT32", [1], binary_data_size=4), 1, reader)
    reader.check_consumed()
    assert first.array.tolist() == [[1.5, 2.5]] and second.array.tolist() == [7]


def test_binary_bytes_elements():
    raw = b"".join(struct.pack("<I", len(v)) + v for v in (b"ab", b"", "é".encode()))
    decoded = decode_input(tensor("BYTES", [3], binary_data_size=len(raw)), 0,
                           BinaryReader(raw))
    assert decoded.array.tolist() == [b"ab", b"", "é".encode()]


@pytest.mark.parametrize("item, data, fragment", [
    (tensor("FP64", [2], binary_data_size=8), np.zeros(1).tobytes(),
     "shape needs 16 bytes of FP64, binary_data_size is 8"),
    (tensor("FP64", [1], binary_data_size=16), np.zeros(1).tobytes(),
     "binary_data_size 16 runs past the end of the body"),
    (tensor("BYTES", [1], binary_data_size=6), struct.pack("<I", 9) + b"ab",
     "a BYTES element of 9 bytes runs past the binary data"),
    (tensor("BYTES", [1], binary_data_size=2), b"ab", "ends inside a length prefix"),
    (tensor("BYTES", [2], binary_data_size=6), struct.pack("<I", 2) + b"ab",
     "shape needs 2 BYTES elements, the binary data holds 1"),
    (tensor("FP32", [1], binary_data_size=-4), b"", "must be a non-negative integer"),
])
def test_bad_binary_inputs(item, data, fragment):
    with pytest.raises(BadDataError) as info:
        decode_input(item, 0, BinaryReader(data))
    assert fragment in info.value.message


def test_unclaimed_binary_data_is_refused():
    reader = binary(np.array([1.0, 2.0]))
    decode_input(tensor("FP64", [1], binary_data_size=8), 0, reader)
    with pytest.raises(BadDataError) as info:
        reader.check_consumed()
    assert "8 bytes of binary data that no input's binary_data_size accounts for" in str(
        info.value)


@pytest.mark.parametrize("length, fragment", [("x", "is not a number"), ("-1", "is -1"),
                                              ("99", "is 99, but the body has 10 bytes")])
def test_bad_header_length(length, fragment):
    with pytest.raises(BadDataError) as info:
        split_body(b"0123456789", length)
    assert fragment in info.value.message


def test_split_body():
    header, reader = split_body(b'{"a":1}XYZ', "7")
    assert header == b'{"a":1}' and bytes(reader.take(3, "x")) == b"XYZ"
    assert split_body(b"{}", None) == (b"{}", None)


@pytest.mark.parametrize("array, datatype", [
    (np.array([[True, False]]), "BOOL"), (np.arange(3, dtype=np.uint16), "UINT16"),
    (np.arange(3, dtype=np.int8), "INT8"), (np.array([0.5], dtype=np.float16), "FP16"),
    (np.array([[1.5]]), "FP64"), (np.array([1.5], dtype=">f8"), "FP64"),
])
def test_outputs_in_json_and_binary(array, datatype):
    out, raw = encode_output("y", array, False)
    assert out["datatype"] == datatype and out["shape"] == list(array.shape)
    assert json.loads(json.dumps(out["data"] if isinstance(out["data"], list)
                                 else out["data"].tolist())) == array.ravel().tolist()
    out, raw = encode_output("y", array, True)
    assert out["parameters"]["binary_data_size"] == len(raw)
    back = np.frombuffer(raw, dtype=array.dtype.newbyteorder("<"))
    assert back.tolist() == array.ravel().tolist() and "data" not in out


@pytest.mark.parametrize("copies", [1, 10])  # 13 values (a list), 130 (widened: WIDEN_FROM)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, ">f4"])
def test_fp16_and_fp32_outputs_are_written_as_their_float64_values(dtype, copies):
    """Written as tolist() would be (Triton's and MLServer's spelling: 0.1 in FP32 is
    0.10000000149011612), special values included, also where the encoder widens the array
    instead of making a list."""
    values = np.array([0.1, 1 / 3, -0.0, 0.0, 1e-7, 6e-8, 1e-45, 65504.0, 3e38, -2.5,
                       np.nan, np.inf, -np.inf] * copies, dtype=np.float64)
    with np.errstate(over="ignore"):
        array = values.astype(dtype).reshape(13 * copies, 1)
    out, raw = encode_output("y", array, False)
    assert raw is None and out["shape"] == [13 * copies, 1]
    assert isinstance(out["data"], list) == (copies == 1 or not jsonio.HAVE_ORJSON)
    written = jsonio.dumps({"data": out["data"]})
    assert written == jsonio.dumps({"data": array.ravel().tolist()})
    if dtype == np.float32 and jsonio.HAVE_ORJSON:
        assert written.startswith(b'{"data":[0.10000000149011612,0.3333333432674408,-0.0,')


def test_bytes_outputs_text_base64_and_binary():
    out, _ = encode_output("y", np.array(["a", "é"], dtype=object), False)
    assert out["data"] == ["a", "é"] and "parameters" not in out
    out, _ = encode_output("y", np.array([b"\xff\x00"], dtype=object), False)
    assert out["data"] == ["/wA="] and out["parameters"] == {"content_type": "base64"}
    out, raw = encode_output("y", np.array([b"ab", "c"], dtype=object), True)
    assert raw == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 1) + b"c"


def test_unsendable_outputs_are_named_and_a_server_error():
    with pytest.raises(InternalError) as info:
        encode_output("y", np.array([1 + 2j]), False)
    assert "output 'y': numpy complex128 cannot be sent as a V2 tensor" in info.value.message
    assert info.value.status_code == 500  # the model's answer, not the client's mistake


def test_join_body():
    body, length = join_body({"outputs": []}, [b"\x01", b"\x02"])
    assert body[:length] == b'{"outputs":[]}' and body[length:] == b"\x01\x02"


def test_split_bytes_of_nothing():
    assert split_bytes(memoryview(b""), "x") == []
