"""Streamed answers outside the OpenAI routes: Seldon's predictions as Server-Sent Events
(Accept: text/event-stream) and V2's generate extension (generate, generate_stream), read with
curl -N and requests; the joining rule for requests that do not ask for a stream."""

import json
import subprocess

import requests


def events(text):
    """(event name or None, data) of each Server-Sent Event in ``text``."""
    found = []
    for block in text.strip().split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
        found.append((name, json.loads("\n".join(data))))
    return found


def curl_events(url, body, accept="text/event-stream"):
    out = subprocess.run(["curl", "-sN", "-H", "Accept: " + accept, "-H",
                          "Content-Type: application/json", "--data-binary", json.dumps(body),
                          url], stdout=subprocess.PIPE, timeout=60, check=True).stdout
    return out.decode()


def test_seldon_predictions_as_server_sent_events(chatty):
    text = curl_events(chatty.url("/api/v1.0/predictions"), {"strData": "red green blue"})
    found = events(text)
    assert found[:3] == [(None, {"strData": "red", "meta": {}}),
                         (None, {"strData": "green", "meta": {}}),
                         (None, {"strData": "blue", "meta": {}})]
    assert found[3] == ("end", {})
    # an ndarray request: each piece an answer message of the same kind
    rows = events(curl_events(chatty.url("/predict"), {"data": {"ndarray": [[1, 2], [3, 4]]}}))
    assert [e[1]["data"]["ndarray"] for e in rows[:2]] == [[[1, 2]], [[3, 4]]]
    # without the Accept header the same route answers predict() as always
    plain = requests.post(chatty.url("/api/v1.0/predictions"),
                          json={"data": {"ndarray": [[1, 2]]}}, timeout=10)
    assert plain.status_code == 200 and plain.json()["data"]["ndarray"] == [[1, 2]]


def test_a_seldon_stream_that_fails_ends_with_an_error_event(chatty):
    found = events(curl_events(chatty.url("/api/v1.0/predictions"), {"strData": "ok boom"}))
    assert found[0] == (None, {"strData": "ok", "meta": {}})
    name, body = found[1]
    assert name == "error" and "boom" in body["status"]["info"]
    assert len(found) == 2


def test_a_model_that_does_not_stream_asked_for_a_stream_gets_406(plain):
    answer = requests.post(plain.url("/api/v1.0/predictions"), json={"strData": "x"},
                           headers={"Accept": "text/event-stream"}, timeout=10)
    assert answer.status_code == 406
    assert "predict_stream" in answer.json()["status"]["info"]
    # and it has no OpenAI or generate routes
    assert requests.get(plain.url("/v1/models"), timeout=10).status_code == 404
    assert requests.post(plain.url("/v2/models/Plain/generate"), json={"text_input": "x"},
                         timeout=10).status_code == 404


def test_a_class_that_only_streams_answers_joined_pieces_without_a_stream(streamer):
    answer = requests.post(streamer.url("/api/v1.0/predictions"),
                           json={"strData": "a b c"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["strData"] == "abc"


def test_v2_generate_and_generate_stream(chatty):
    url = chatty.url("/v2/models/Chatty/generate")
    whole = requests.post(url, json={"text_input": "one two three"}, timeout=10)
    assert whole.status_code == 200
    assert whole.json() == {"model_name": "Chatty", "text_output": "onetwothree"}
    found = events(curl_events(url + "_stream", {"text_input": "one two"}))
    assert found == [(None, {"model_name": "Chatty", "text_output": "one"}),
                     (None, {"model_name": "Chatty", "text_output": "two"})]
    failing = events(curl_events(url + "_stream", {"text_input": "fine boom"}))
    assert failing[0][1]["text_output"] == "fine"
    assert "boom" in failing[1][1]["error"]
    missing = requests.post(url, json={"prompt": "x"}, timeout=10)
    assert missing.status_code == 400 and "text_input" in missing.json()["error"]
    unknown = requests.post(chatty.url("/v2/models/Other/generate_stream"),
                            json={"text_input": "x"}, timeout=10)
    assert unknown.status_code == 404
