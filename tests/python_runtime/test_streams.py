"""Streamed answers piece by piece (python_runtime/streams.py), the joining rule for requests
that do not ask for a stream, and the OpenAI prefix check; live streams are in tests/openai."""

import threading

import numpy as np
import pytest

from python_runtime.errors import InternalError
from python_runtime.inference.seldon import join_pieces
from python_runtime.model.component import ModelLock
from python_runtime.protocols.openai import check_prefix
from python_runtime.streams import Stream, accepts_events, is_stream, sse


def test_pieces_then_the_tail_then_nothing():
    stream = Stream(iter(["a", "b"]), lambda p: p.encode(), lambda e: b"!", tail=lambda: b"end")
    assert [stream.next_piece() for _ in range(5)] == [b"a", b"b", b"end", None, None]
    assert stream.count == 2 and stream.first is not None


def test_a_generator_that_raises_ends_with_the_failure_bytes():
    def pieces():
        yield 1
        raise ValueError("bad piece")

    stream = Stream(pieces(), lambda p: b"%d" % p, lambda e: b"error: " + str(e).encode())
    assert stream.next_piece() == b"1"
    assert stream.next_piece() == b"error: bad piece"
    assert stream.next_piece() is None


def test_closing_early_runs_the_generators_finally_under_the_lock_once():
    lock = ModelLock()
    seen = []

    def pieces():
        try:
            while True:
                seen.append(("piece", lock.mine()))
                yield b"x"
        finally:
            seen.append(("closed", lock.mine()))

    counted = []
    stream = Stream(pieces(), lambda p: p, lambda e: b"", lock=lock)
    stream.counted = lambda: counted.append(1)
    assert stream.next_piece() == b"x"
    stream.close()
    stream.close()
    assert seen == [("piece", True), ("closed", True)]
    assert counted == [1] and not lock.mine()


def test_each_piece_waits_for_the_model_lock():
    lock = ModelLock()
    stream = Stream(iter([b"p"]), lambda p: p, lambda e: b"", lock=lock)
    got = []
    lock.acquire()  # another call into the model
    thread = threading.Thread(target=lambda: got.append(stream.next_piece()))
    thread.start()
    thread.join(0.2)
    assert got == []
    lock.release()
    thread.join(5)
    assert got == [b"p"]


def test_sse_and_what_counts_as_a_stream():
    assert sse(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert sse(b"{}", "end") == b"event: end\ndata: {}\n\n"
    assert sse(b"one\ntwo") == b"data: one\ndata: two\n\n"
    assert is_stream(iter([])) and is_stream(x for x in ())
    assert not any(is_stream(v) for v in ([1], "text", b"x", {"a": 1}, np.zeros(2)))
    assert accepts_events({"HTTP_ACCEPT": "text/event-stream"})
    assert not accepts_events({"HTTP_ACCEPT": "application/json"}) and not accepts_events({})


def test_pieces_joined_for_a_request_that_did_not_ask_for_a_stream():
    assert join_pieces(["a", "b"]) == "ab"
    assert join_pieces([b"a", b"b"]) == b"ab"
    assert join_pieces([[1], [2, 3]]) == [1, 2, 3]
    assert join_pieces([np.ones((1, 2)), np.zeros((2, 2))]).shape == (3, 2)
    assert join_pieces([]) == []
    with pytest.raises(InternalError) as caught:
        join_pieces([np.ones((1, 2)), np.ones((1, 3))])
    assert "Accept: text/event-stream" in caught.value.message


def test_the_openai_prefix_cannot_take_another_protocols_paths():
    taken = {"/v2/models", "/predict"}.__contains__
    assert check_prefix("/v1", taken) is None
    assert check_prefix("/openai/v1", taken) is None
    assert "under Seldon's /api or V2's /v2" in check_prefix("/api/v1.0", taken)
    assert "already a route" in check_prefix("/v2", taken)
    assert "start with /" in check_prefix("v1", taken)
