"""The element-count and size limits every decoder applies (codecs/limits.py)."""

from types import SimpleNamespace

import numpy as np
import pytest

from python_runtime.codecs import limits, v2
from python_runtime.codecs.tensors import TensorCodec, TfTensorCodec
from python_runtime.errors import BadDataError, PayloadTooLarge


@pytest.fixture
def small_limits():
    saved = (limits.LIMITS.max_elements, limits.LIMITS.max_bytes, limits.LIMITS.max_form_parts)
    limits.configure(SimpleNamespace(max_elements=100, max_request_size=1000, max_form_parts=3))
    yield
    (limits.LIMITS.max_elements, limits.LIMITS.max_bytes,
     limits.LIMITS.max_form_parts) = saved


def tftensor(dims, **values):
    return dict({"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": str(d)} for d in dims]}},
                **values)


def test_tftensor_shape_over_the_element_limit(small_limits):
    with pytest.raises(BadDataError) as info:
        TfTensorCodec().decode(tftensor([11, 10], floatVal=[1.0]))
    assert "110 elements" in str(info.value) and "MODELKILN_MAX_ELEMENTS" in str(info.value)
    assert TfTensorCodec().decode(tftensor([10, 10], floatVal=[2.0])).tolist() == [[2.0] * 10] * 10


def test_tftensor_lone_value_cannot_fill_more_than_the_request_limit(small_limits):
    limits.LIMITS.max_elements = 10 ** 9
    with pytest.raises(PayloadTooLarge) as info:
        TfTensorCodec().decode(tftensor([251], floatVal=[1.0]))  # 1004 bytes of float32
    assert "MODELKILN_MAX_REQUEST_SIZE" in str(info.value) and "1004" in str(info.value)
    assert TfTensorCodec().decode(tftensor([250], floatVal=[1.0])).shape == (250,)


def test_tftensor_huge_shape_with_default_limits():
    with pytest.raises(BadDataError) as info:
        TfTensorCodec().decode(tftensor([2 ** 40], floatVal=[1.0]))
    assert "MODELKILN_MAX_ELEMENTS" in str(info.value)


def test_tensor_shape_over_the_element_limit(small_limits):
    with pytest.raises(BadDataError) as info:
        TensorCodec().decode({"shape": [101], "values": [1.0]})
    assert "MODELKILN_MAX_ELEMENTS" in str(info.value)
    assert TensorCodec().decode({"shape": [2, -1], "values": [1, 2, 3, 4]}).shape == (2, 2)


def test_v2_shape_over_the_element_limit(small_limits):
    item = {"name": "x", "datatype": "FP32", "shape": [101], "data": [0.0] * 101}
    with pytest.raises(BadDataError) as info:
        v2.decode_input(item, 0, None)
    assert "'x'" in str(info.value) and "MODELKILN_MAX_ELEMENTS" in str(info.value)
    item = {"name": "x", "datatype": "FP32", "shape": [100], "data": [0.0] * 100}
    assert np.array_equal(v2.decode_input(item, 0, None).array, np.zeros(100, np.float32))


@pytest.mark.parametrize("parts, refused", [(3, False), (4, True)])
def test_multipart_parts_over_the_limit_are_refused_before_parsing(small_limits, parts, refused):
    from python_runtime.protocols.body import check_form_parts

    body = b"".join(b'--XX\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i
                    for i in range(parts)) + b"--XX--\r\n"
    if not refused:
        check_form_parts("multipart/form-data; boundary=XX", body)
        return
    with pytest.raises(PayloadTooLarge) as info:
        check_form_parts('multipart/form-data; boundary="XX"', body)
    assert "4 parts" in str(info.value) and "MODELKILN_MAX_FORM_PARTS" in str(info.value)
