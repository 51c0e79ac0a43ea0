"""gRPC ``ModelStreamInfer`` (V2's streaming method) on a live server, with clients modelkiln
did not write: grpcio's bidirectional stub, and a bare HTTP/2 connection (the ``h2`` package)
that never reads, for what a slow reader costs. tritonclient's streaming client is in
tests/v2/test_grpc_stream.py; decoupled Triton models against tritonserver in
tests/compat_triton/test_stream.py.

Apps: ``apps/spells`` (predict_stream only: a text spelled one character per piece, steered by
the request's parameters) and ``apps/fuzzecho`` (no stream: one answer per request).
"""

import os
import socket
import threading
import time

import grpc
import h2.config
import h2.connection
import h2.events
import pytest
from requests import get as requests_get

from python_runtime.protocols import protos as protos_module

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = pytest.mark.slow

PROTOS = protos_module.load()
Request = PROTOS.message("inference.ModelInferRequest")
Answer = PROTOS.message("inference.ModelStreamInferResponse")
STREAM = "/inference.GRPCInferenceService/ModelStreamInfer"
INFER = "/inference.GRPCInferenceService/ModelInfer"


@pytest.fixture(scope="module")
def spells(tmp_path_factory):
    with live.running("spells", "Spells", workdir=str(tmp_path_factory.mktemp("sp"))) as server:
        yield server


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    with live.running("fuzzecho", "FuzzEcho",
                      workdir=str(tmp_path_factory.mktemp("e"))) as server:
        yield server


def text_request(model, text, request_id="", **parameters):
    request = Request(model_name=model, id=request_id)
    item = request.inputs.add(name="text", datatype="BYTES", shape=[1])
    item.contents.bytes_contents.append(text.encode("utf-8"))
    for key, value in parameters.items():
        if isinstance(value, bool):
            request.parameters[key].bool_param = value
        elif isinstance(value, int):
            request.parameters[key].int64_param = value
        elif isinstance(value, float):
            request.parameters[key].double_param = value
        else:
            request.parameters[key].string_param = value
    return request


def channel(server):
    return grpc.insecure_channel("127.0.0.1:%d" % server.grpc_port,
                                 options=[("grpc.use_local_subchannel_pool", 1)])


def stream_stub(chan):
    return chan.stream_stream(STREAM, request_serializer=Request.SerializeToString,
                              response_deserializer=Answer.FromString)


def texts_of(answers):
    """Each answer as ("id", text) or ("error", message)."""
    found = []
    for answer in answers:
        if answer.error_message:
            found.append(("error", answer.error_message))
            continue
        response = answer.infer_response
        output = response.outputs[0]
        data = (response.raw_output_contents[0][4:] if response.raw_output_contents
                else output.contents.bytes_contents[0])
        found.append((response.id, data.decode("utf-8")))
    return found


def wait_for_marker(path, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                text = handle.read()
            if predicate(text):
                return text
        time.sleep(0.05)
    raise AssertionError("the marker says %r after %.0f s" % (text, timeout))


def test_each_piece_is_an_answer_in_order_and_the_stream_goes_on_after_an_error(spells):
    requests = [text_request("Spells", "abc", "first"),
                text_request("Spells", "xy!z", "second"),
                text_request("Spells", "ok", "third")]
    with channel(spells) as chan:
        call = stream_stub(chan)(iter(requests), timeout=30)
        found = texts_of(call)
        assert call.code() == grpc.StatusCode.OK
    assert found == [("first", "a"), ("first", "b"), ("first", "c"),
                     ("second", "x"), ("second", "y"),
                     ("error", "the model cannot spell '!'"),
                     ("third", "o"), ("third", "k")]
    metrics = live.wait_for(lambda: [line for line in requests_get(
        "http://127.0.0.1:%d/metrics" % spells.metrics_port).text.splitlines()
        if line.startswith("modelkiln_stream_pieces_total{") and STREAM in line], 10,
        "the stream's pieces in the metrics")
    assert float(metrics[0].rsplit(" ", 1)[1]) >= 7


def test_an_empty_final_answer_ends_each_request_when_asked(spells):
    requests = [text_request("Spells", "ab", "one", triton_enable_empty_final_response=True),
                text_request("Nope", "ab", "two", triton_enable_empty_final_response=True)]
    with channel(spells) as chan:
        answers = list(stream_stub(chan)(iter(requests), timeout=30))
    flags = [(a.error_message or a.infer_response.id,
              a.infer_response.parameters["triton_final_response"].bool_param
              if not a.error_message else None) for a in answers]
    # as Triton answers: each piece says it is not the last, an empty answer ends the
    # request's; a request refused before it reaches the model is one error with its id
    assert flags == [("one", False), ("one", False), ("one", True),
                     ("unknown model 'Nope': this server serves 'Spells'", None)]
    assert len(answers[2].infer_response.outputs) == 0 and answers[2].infer_response.model_name
    assert answers[3].infer_response.id == "two" and not answers[3].infer_response.model_name
    assert list(answers[0].infer_response.parameters) == ["triton_final_response"]


def test_a_model_without_a_stream_answers_each_request_once_as_model_infer_does(echo):
    request = text_request("FuzzEcho", "hello", "e1")
    with channel(echo) as chan:
        unary = chan.unary_unary(INFER, request_serializer=Request.SerializeToString,
                                 response_deserializer=PROTOS.message(
                                     "inference.ModelInferResponse").FromString)(request)
        answers = list(stream_stub(chan)(iter([request, request]), timeout=30))
    unary.parameters["triton_final_response"].bool_param = True  # (one answer: the last)
    assert [a.infer_response for a in answers] == [unary, unary]
    assert texts_of(answers) == [("e1", "hello"), ("e1", "hello")]


def test_a_client_that_cancels_stops_the_generator_within_a_piece(spells, tmp_path):
    marker = str(tmp_path / "marker")
    request = text_request("Spells", "abcdefghij", "slow", delay=0.2, repeat=50,
                           marker=marker)
    with channel(spells) as chan:
        call = stream_stub(chan)(iter([request]), timeout=60)
        first = [next(call), next(call)]
        call.cancel()
        text = wait_for_marker(marker, lambda t: t.endswith("closed"), timeout=5)
    assert texts_of(first) == [("slow", "a"), ("slow", "b")]
    assert int(text.split()[0]) <= 4  # two read, at most one in flight and one being made


def test_the_loop_answers_other_calls_while_a_stream_runs(spells, tmp_path):
    marker = str(tmp_path / "marker")
    slow = text_request("Spells", "ab", "slow", delay=0.3, repeat=20, marker=marker)
    with channel(spells) as chan:
        call = stream_stub(chan)(iter([slow]), timeout=60)
        assert texts_of([next(call)]) == [("slow", "a")]
        started = time.monotonic()
        quick = list(stream_stub(chan)(iter([text_request("Spells", "hi", "q")]), timeout=10))
        took = time.monotonic() - started
        call.cancel()
    assert texts_of(quick) == [("q", "h"), ("q", "i")]
    assert took < 0.3 * 20 / 2  # not after the slow stream


class _Silent(object):
    """An HTTP/2 client that opens one ModelStreamInfer call and then never reads: it grants
    the server no window beyond the 64 KiB the protocol starts with."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def call(self, message):
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [
            (":method", "POST"), (":scheme", "http"), (":path", STREAM),
            (":authority", "localhost"), ("content-type", "application/grpc"),
            ("te", "trailers")])
        data = message.SerializeToString()
        self.conn.send_data(stream_id, b"\x00" + len(data).to_bytes(4, "big") + data,
                            end_stream=True)
        self.sock.sendall(self.conn.data_to_send())

    def close(self):
        self.sock.close()


def test_a_client_that_does_not_read_holds_a_bounded_part_of_the_stream(spells, echo,
                                                                        tmp_path):
    marker = str(tmp_path / "marker")
    silent = _Silent(spells.grpc_port)
    try:
        # 1000 pieces of 10 kB: 10 MB the client never reads
        silent.call(text_request("Spells", "ab", "big", size=10000, repeat=500, marker=marker))
        wait_for_marker(marker, lambda t: t and int(t.split()[0]) >= 5)
        time.sleep(1.5)
        with open(marker) as handle:
            count = int(handle.read().split()[0])
        # the 64 KiB window, 64 KiB waiting for it, 64 KiB produced ahead, a socket's buffers
        assert count < 40, count
        with channel(spells) as chan:  # the worker still answers
            quick = list(stream_stub(chan)(iter([text_request("Spells", "ok", "q")]),
                                           timeout=10))
        assert texts_of(quick) == [("q", "o"), ("q", "k")]
    finally:
        silent.close()
    text = wait_for_marker(marker, lambda t: t.endswith("closed"), timeout=10)
    assert int(text.split()[0]) < 40


def test_many_requests_on_one_stream_are_answered_in_order(spells):
    texts = ["r%d" % index for index in range(40)]

    def requests():
        for index, text in enumerate(texts):
            yield text_request("Spells", text, str(index))

    with channel(spells) as chan:
        found = texts_of(stream_stub(chan)(requests(), timeout=60))
    assert found == [(str(i), char) for i, text in enumerate(texts) for char in text]


def test_streams_from_many_threads_at_once(spells):
    def one(index):
        with channel(spells) as chan:
            return texts_of(stream_stub(chan)(iter([text_request("Spells", "abc%d" % index,
                                                                 str(index))]), timeout=30))

    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, one(i)))
               for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {i: [(str(i), c) for c in "abc%d" % i] for i in range(12)}
