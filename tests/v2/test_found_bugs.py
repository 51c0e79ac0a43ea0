"""Server bugs the V2 tests found, one reproducer each: fixed, and kept so they stay fixed."""

import gzip
import json
from typing import Any, Dict

import numpy as np
import pytest
import tritonclient.http as httpclient

from .servers import ModelkilnServer, check_server_python


@pytest.fixture(scope="module")
def servers(fleet: Any) -> Dict[str, ModelkilnServer]:
    return fleet.get("Echo", "Shapes")



def assert_400_naming(answer: Any, *words: str) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text)
    message = answer.json()["error"]
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("datatype", [[], {}, ["FP32"]])
def test_datatype_that_is_not_a_string_is_400(servers: Dict[str, ModelkilnServer],
                                              datatype: Any) -> None:
    answer = servers["Echo"].infer({"inputs": [{"name": "x", "datatype": datatype,
                                                "shape": [1], "data": [1]}]})
    assert_400_naming(answer, "'x'", "datatype")


@pytest.mark.parametrize("binary", [False, True])
def test_more_than_64_dimensions_is_400(servers: Dict[str, ModelkilnServer],
                                        binary: bool) -> None:
    server = servers["Echo"]
    item = {"name": "x", "datatype": "FP32", "shape": [1] * 65}  # type: Dict[str, Any]
    if binary:
        item["parameters"] = {"binary_data_size": 4}
        header = json.dumps({"inputs": [item]}).encode()
        answer = server.session.post(
            server.url("/v2/models/Echo/infer"), data=header + b"\0\0\x80\x3f",
            headers={"Inference-Header-Content-Length": str(len(header))}, timeout=60)
    else:
        item["data"] = [1.0]
        answer = server.infer({"inputs": [item]})
    assert_400_naming(answer, "'x'", "shape")


@pytest.mark.parametrize("data", [[70000], [70000, 1], [-(2 ** 40)]])
def test_fp16_integer_too_large_is_400(servers: Dict[str, ModelkilnServer], data: Any) -> None:
    answer = servers["Echo"].infer({"inputs": [{"name": "x", "datatype": "FP16",
                                                "shape": [len(data)], "data": data}]})
    assert_400_naming(answer, "'x'", "FP16")


def test_unencodable_model_answer_is_a_server_error(servers: Dict[str, ModelkilnServer]
                                                    ) -> None:
    answer = servers["Shapes"].infer({"inputs": [{"name": "x", "datatype": "BYTES",
                                                  "shape": [1], "data": ["complex"]}]})
    assert answer.status_code == 500, (answer.status_code, answer.text)
    assert "complex128" in answer.json()["error"]


def test_class_with_only_predict_v2_raw_serves_v2() -> None:
    check_server_python()
    server = ModelkilnServer("RawOnly").start()
    try:
        server.wait_v2_ready(timeout=30)
        answer = server.infer({"inputs": [{"name": "x", "datatype": "INT32", "shape": [2],
                                           "data": [4, 5]}]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"] == [{"name": "same", "datatype": "INT32",
                                             "shape": [2], "data": [4, 5]}]
    finally:
        server.stop()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_request_body(servers: Dict[str, ModelkilnServer], algorithm: str) -> None:
    client = httpclient.InferenceServerClient(servers["Echo"].host_port, network_timeout=60.0)
    array = np.array([[1.5, -2.0]], dtype=np.float32)
    item = httpclient.InferInput("x", [1, 2], "FP32")
    item.set_data_from_numpy(array)
    try:
        result = client.infer("Echo", [item], request_compression_algorithm=algorithm)
        assert result.as_numpy("output-0").tobytes() == array.tobytes()
    finally:
        client.close()
    # the same with JSON only, as any HTTP client sends it
    server = servers["Echo"]
    body = gzip.compress(json.dumps({"inputs": [{"name": "x", "datatype": "FP32",
                                                 "shape": [1], "data": [1.5]}]}).encode())
    answer = server.session.post(server.url("/v2/models/Echo/infer"), data=body, timeout=60,
                                 headers={"Content-Type": "application/json",
                                          "Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [1.5]
