"""modelkiln's OpenAI-compatible routes and streamed answers, checked with clients it did not
write: the official openai Python client (chat, completions, embeddings, models, streaming,
errors) and curl -N (the first event arrives while the generator still runs); then what a
stream does with a client that goes away, one that does not read, and the other connections
of the worker meanwhile."""

import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import openai
import pytest
import requests

from .conftest import Server, start


def client(server, prefix="/v1"):
    return openai.OpenAI(base_url=server.url(prefix), api_key="unused", max_retries=0,
                         timeout=30)


def chat(content, **extra):
    return dict(model="chatty", messages=[{"role": "user", "content": content}], **extra)


# -- the official client --------------------------------------------------------------------


def test_chat_completion_without_stream_joins_the_generators_pieces(chatty):
    answer = client(chatty).chat.completions.create(**chat("hello there world"))
    assert answer.object == "chat.completion"
    assert answer.model == "chatty"
    assert answer.id.startswith("chatcmpl-")
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == "hello there world "
    assert answer.choices[0].finish_reason == "stop"


def test_chat_completion_streams_one_chunk_per_piece_then_stop(chatty):
    chunks = list(client(chatty).chat.completions.create(stream=True, **chat("one two three")))
    texts = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert texts == ["one ", "two ", "three "]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1


def test_completion_one_answer_and_a_stream(chatty):
    c = client(chatty)
    answer = c.completions.create(model="chatty", prompt="hi")
    assert answer.object == "text_completion"
    assert answer.choices[0].text == "echo: hi"
    pieces = [chunk.choices[0].text
              for chunk in c.completions.create(model="chatty", prompt="spell:abc", stream=True)]
    assert "".join(pieces) == "abc" and pieces[:3] == ["a", "b", "c"]
    # a method that returns one answer to a streaming request: one chunk
    one = [chunk.choices[0].text
           for chunk in c.completions.create(model="chatty", prompt="hi", stream=True)]
    assert "".join(one) == "echo: hi"


def test_embeddings_as_floats_and_as_the_clients_default_base64(chatty):
    c = client(chatty)
    default = c.embeddings.create(model="chatty", input=["ab", "abcd"])  # base64 on the wire
    assert [d.embedding for d in default.data] == [[2.0, 1.0, 0.5], [4.0, 1.0, 0.5]]
    assert [d.index for d in default.data] == [0, 1]
    floats = c.embeddings.create(model="chatty", input="xyz", encoding_format="float")
    assert floats.data[0].embedding == [3.0, 1.0, 0.5]


def test_models_list_and_retrieve(chatty):
    c = client(chatty)
    assert [m.id for m in c.models.list()] == ["chatty", "chatty-large"]
    assert c.models.retrieve("chatty-large").owned_by == "tests"
    with pytest.raises(openai.NotFoundError) as caught:
        c.models.retrieve("nope")
    assert "nope" in caught.value.message


def test_a_bad_request_gets_openais_error_body_and_400(chatty):
    with pytest.raises(openai.BadRequestError) as caught:
        client(chatty).chat.completions.create(model="chatty", messages="not a list")
    assert "messages" in caught.value.message
    raw = requests.post(chatty.url("/v1/chat/completions"), data=b"{broken", timeout=10)
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_a_generator_that_raises_mid_stream_ends_it_with_an_error_event(chatty):
    stream = client(chatty).chat.completions.create(stream=True, **chat("fine then boom"))
    seen = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["fine ", "then "]
    assert "boom" in str(caught.value)


# -- streaming on the wire --------------------------------------------------------------------


def test_curl_sees_the_first_event_before_the_generator_ends(chatty):
    body = json.dumps(chat("a b c d", stream=True, delay=0.6))
    started = time.monotonic()
    proc = subprocess.Popen(
        ["curl", "-sN", "-H", "Content-Type: application/json", "--data-binary", body,
         chatty.url("/v1/chat/completions")], stdout=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        first_at = time.monotonic() - started
        rest = proc.stdout.read()
        total = time.monotonic() - started
    finally:
        proc.wait(30)
    assert first.startswith(b"data: {") and b'"a "' in first
    # four pieces 0.6 s apart: the first came after about one delay, the whole after four
    assert first_at < 1.8 < total, (first_at, total)
    assert rest.rstrip().endswith(b"data: [DONE]")


def test_a_client_that_goes_away_stops_the_generator_within_a_piece(chatty):
    marker = os.path.join(tempfile.mkdtemp(), "marker")
    body = json.dumps(chat("w " * 50, stream=True, delay=0.2, marker=marker)).encode()
    sock = socket.create_connection(("127.0.0.1", chatty.http_port))
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    received = b""
    while b"data: " not in received:
        received += sock.recv(65536)
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(marker) as handle:
            text = handle.read()
        if "closed" in text:
            break
        time.sleep(0.05)
    count = int(text.split()[0])
    assert "closed" in text, text
    assert count < 10, text  # stopped after a piece or two, not after all 50


def test_a_client_that_does_not_read_holds_a_few_pieces_then_the_write_timeout_ends_it(
        chatty):
    marker = os.path.join(tempfile.mkdtemp(), "marker")
    # 400 pieces of 256 KiB: 100 MiB if the server produced them all into memory
    body = json.dumps(chat("x " * 400, stream=True, marker=marker,
                           piece_bytes=256 * 1024)).encode()
    sock = socket.create_connection(("127.0.0.1", chatty.http_port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    time.sleep(1.5)
    with open(marker) as handle:
        produced = int(handle.read().split()[0])
    assert produced < 40, produced  # the generator waits for the reader
    # MODELKILN_WRITE_TIMEOUT=3 (conftest): nothing read for 3 s ends the stream
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and "closed" not in text:
        time.sleep(0.2)
        with open(marker) as handle:
            text = handle.read()
    sock.close()
    assert "closed" in text, text
    assert int(text.split()[0]) < 40, text


def test_other_requests_are_answered_while_a_generator_sleeps(chatty):
    done = []

    def slow_stream():
        answer = requests.post(chatty.url("/v1/chat/completions"),
                               json=chat("a b c", stream=True, delay=1.0), timeout=30)
        done.append(answer.text)

    thread = threading.Thread(target=slow_stream)
    thread.start()
    time.sleep(0.3)  # the generator is in its first one-second sleep
    started = time.monotonic()
    live = requests.get(chatty.url("/v2/health/live"), timeout=10)
    ready = requests.get(chatty.url("/v2/models/Chatty/ready"), timeout=10)
    elapsed = time.monotonic() - started
    thread.join(30)
    assert live.status_code == 200 and ready.status_code == 200
    assert elapsed < 0.8, elapsed
    assert done and done[0].rstrip().endswith("data: [DONE]")


def test_stream_metrics_count_pieces_and_time_to_the_first(chatty):
    list(client(chatty).chat.completions.create(stream=True, **chat("m1 m2 m3")))
    text = requests.get("http://127.0.0.1:%d/metrics" % chatty.metrics_port, timeout=10).text
    assert 'modelkiln_stream_pieces_total{route="/v1/chat/completions"}' in text
    assert 'modelkiln_stream_first_piece_seconds_count{route="/v1/chat/completions"}' in text


# -- settings -------------------------------------------------------------------------------


def test_the_prefix_is_a_setting_and_cannot_take_seldons_or_v2s_paths():
    server = start({"MODELKILN_OPENAI_PREFIX": "/openai/v1"})
    try:
        answer = client(server, "/openai/v1").completions.create(model="m", prompt="x")
        assert answer.choices[0].text == "echo: x"
        assert requests.get(server.url("/v1/models"), timeout=10).status_code == 404
    finally:
        server.stop()
    refused = Server("chatty", "Chatty", env={
        "GRPC_WORKERS": "0", "MODELKILN_OPENAI_PREFIX": "/v2"})
    refused.start()
    try:
        refused.wait_exit(60)
        assert "MODELKILN_OPENAI_PREFIX=/v2" in refused.log()
    finally:
        refused.stop()


def test_a_fast_generators_many_pieces_arrive_whole_and_in_order(chatty):
    words = ["p%d" % n for n in range(50)]
    chunks = client(chatty).chat.completions.create(stream=True, extra_body={"repeat": 40},
                                                    **chat(" ".join(words)))
    texts = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert texts == [w + " " for w in words] * 40  # 2000 pieces, in order, none lost
