"""tritonclient's gRPC streaming client (``start_stream``, ``async_stream_infer``), unchanged,
against modelkiln's ``ModelStreamInfer`` on a class that streams (tests/python_runtime/apps/
spells: predict_stream() spells a text, one character per piece) and on one that does not
(tests/v2/models/Doubler): what the callback receives, in order, with and without
``enable_empty_final_response``, an error in the middle of a stream, and requests on one
stream answered in turn."""

import queue
from typing import Any, List, Tuple

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from tests.python_runtime.live import LiveServer

from .servers import SERVER_PYTHON, check_server_python


class SpellsServer(LiveServer):
    """tests/python_runtime/apps/spells, run with the modelkiln virtualenv's Python."""

    @property
    def command(self) -> List[str]:
        cmd = super(SpellsServer, self).command
        cmd[0] = SERVER_PYTHON
        return cmd


@pytest.fixture(scope="module")
def spells() -> Any:
    check_server_python()
    server = SpellsServer("spells", "Spells").start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def stream(port: int, calls: List[Tuple[str, Any, str, dict]], final: bool = False,
           expected: int = 0) -> List[Any]:
    """Each call (model, array, id, parameters) sent on one stream; what the callback got:
    ("ok", id, outputs as lists, final flag) or ("error", message)."""
    got = queue.Queue()  # type: Any
    client = grpcclient.InferenceServerClient("127.0.0.1:%d" % port)
    client.start_stream(callback=lambda result, error: got.put((result, error)))
    try:
        for model, array, request_id, parameters in calls:
            item = grpcclient.InferInput("INPUT", list(array.shape),
                                         "BYTES" if array.dtype == object else "FP32")
            item.set_data_from_numpy(array)
            client.async_stream_infer(model, [item], request_id=request_id,
                                      parameters=parameters or None,
                                      enable_empty_final_response=final)
        found = []
        while len(found) < expected:
            result, error = got.get(timeout=30)
            if error is not None:
                found.append(("error", error.message()))
                continue
            response = result.get_response()
            flag = response.parameters.get("triton_final_response")
            found.append(("ok", response.id, {o.name: result.as_numpy(o.name).tolist()
                                              for o in response.outputs},
                          flag.bool_param if flag is not None else None))
        assert got.empty()
        return found
    finally:
        client.stop_stream()
        client.close()


def text(value: str) -> np.ndarray:
    return np.array([value.encode("utf-8")], dtype=object)


def test_each_piece_reaches_the_callback_in_order(spells: Any) -> None:
    found = stream(spells.grpc_port, [("Spells", text("hey"), "1", {}),
                                      ("Spells", text("ab!c"), "2", {}),
                                      ("Spells", text("ok"), "3", {})], expected=8)
    assert found == [("ok", "1", {"output-0": [b"h"]}, False),
                     ("ok", "1", {"output-0": [b"e"]}, False),
                     ("ok", "1", {"output-0": [b"y"]}, False),
                     ("ok", "2", {"output-0": [b"a"]}, False),
                     ("ok", "2", {"output-0": [b"b"]}, False),
                     ("error", "the model cannot spell '!'"),
                     ("ok", "3", {"output-0": [b"o"]}, False),
                     ("ok", "3", {"output-0": [b"k"]}, False)]


def test_enable_empty_final_response_marks_the_end_of_each_request(spells: Any) -> None:
    found = stream(spells.grpc_port, [("Spells", text("ab"), "1", {"size": 2}),
                                      ("Spells", text(""), "2", {})], final=True, expected=4)
    assert found == [("ok", "1", {"output-0": [b"aa"]}, False),
                     ("ok", "1", {"output-0": [b"bb"]}, False),
                     ("ok", "1", {}, True),
                     ("ok", "2", {}, True)]


def test_a_model_that_does_not_stream_answers_once_per_request(fleet: Any) -> None:
    doubler = fleet.get("Doubler")["Doubler"]
    rows = np.array([[1.5, 2.0], [3.0, -1.0]], dtype=np.float32)
    found = stream(doubler.grpc_port, [("Doubler", rows, "a", {}),
                                       ("Doubler", rows[:1], "b", {})], final=True, expected=2)
    unary = grpcclient.InferenceServerClient("127.0.0.1:%d" % doubler.grpc_port)
    item = grpcclient.InferInput("INPUT", [2, 2], "FP32")
    item.set_data_from_numpy(rows)
    expected = unary.infer("Doubler", [item]).as_numpy("output-0").tolist()
    unary.close()
    # one answer per request, which says it is the last (no empty one follows), as Triton's
    # models that are not decoupled answer
    assert found == [("ok", "a", {"output-0": expected}, True),
                     ("ok", "b", {"output-0": expected[:1]}, True)]
    assert expected == [[3.0, 4.0], [6.0, -2.0]]
