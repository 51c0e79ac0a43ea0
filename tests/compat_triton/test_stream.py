"""Streaming against both servers: tritonclient.grpc's stream (``start_stream``,
``async_stream_infer``, ``stop_stream``) on the decoupled model ``words`` and on the
non-decoupled ``text`` and ``scale``; the same streams as raw ``ModelStreamInfer`` messages
(grpcio, which also shows what tritonclient drops: the ``infer_response`` that an error message
carries, the end status of the call); unary ``ModelInfer`` on a decoupled model; and the REST
cases of ``cases.STREAM_CASES`` (infer on a decoupled model, generate and generate_stream).

Each case compares modelkiln's sequence with tritonserver's, never with written answers (but
for one sanity check of tritonserver). Responses of one request come in order; responses of
several requests on one stream interleave as they are produced (tritonserver gives no order
between them, not even to the final flag of a request that ended before the next began), so
those cases compare each request's sequence. An unknown model on a stream while a decoupled
request is still answering can abort tritonserver 2.51 (a gRPC write race), so that case waits
for each request's end before sending the next."""

import json
import threading

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from google.protobuf import json_format
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from .cases import STREAM_CASES
from .intentional import INTENTIONAL
from .test_clients import infer as client_infer
from .test_rest import normalised as rest_normalised, send

TIMEOUT = 60.0
STREAM_METHOD = "/inference.GRPCInferenceService/ModelStreamInfer"


def server_for(modelkiln, model):
    return modelkiln.get(model, modelkiln["words"])


# -- tritonclient.grpc's stream --------------------------------------------------------------

def inputs_for(model, value):
    """TEXT for words (and unknown models) [1], for text [1, 1]; scale: (input name, rows)."""
    if model == "scale":
        name, rows = value
        item = grpcclient.InferInput(name, [rows, 4], "FP32")
        item.set_data_from_numpy(np.arange(rows * 4, dtype=np.float32).reshape(rows, 4))
        return [item]
    array = np.array([value.encode()], dtype=np.object_)
    if model == "text":
        array = array.reshape(1, 1)
    item = grpcclient.InferInput("TEXT", list(array.shape), "BYTES")
    item.set_data_from_numpy(array)
    return [item]


def event(result, error):
    """A callback's arguments, comparable: an error's status and message, or a result's id,
    model, version, response parameters and outputs (name, datatype, shape, numpy dtype and
    values)."""
    if error is not None:
        return ("error", error.status(), error.message())
    response = result.get_response()
    parameters = {key: json_format.MessageToDict(value)
                  for key, value in response.parameters.items()}
    outputs = [(o.name, o.datatype, list(o.shape), result.as_numpy(o.name).dtype.str,
                result.as_numpy(o.name).tolist()) for o in response.outputs]
    return ("result", response.id, response.model_name, response.model_version, parameters,
            outputs)


def final(item):
    return item[0] == "result" and item[4].get("triton_final_response", {}).get("boolParam")


def stream(server, calls, sequential=False):
    """Every callback of one stream carrying ``calls`` [(model, value, keyword arguments of
    async_stream_infer)]. ``stop_stream`` waits until the server has ended the stream (it does
    once every request is answered). ``sequential``: each request is sent once the previous one
    has ended (an error, or a response flagged final)."""
    events = []
    changed = threading.Condition()

    def callback(result, error):
        with changed:
            events.append(event(result, error))
            changed.notify_all()

    client = grpcclient.InferenceServerClient(server.grpc_url)
    client.start_stream(callback, stream_timeout=TIMEOUT)
    try:
        for model, value, kwargs in calls:
            start = len(events)
            try:
                client.async_stream_infer(model, inputs_for(model, value), **kwargs)
            except InferenceServerException as exc:
                with changed:
                    events.append(("not sent", exc.message()))
                continue
            if sequential:
                with changed:
                    if not changed.wait_for(lambda: any(e[0] == "error" or final(e)
                                                        for e in events[start:]), TIMEOUT):
                        events.append(("no end of request", model, value))
    finally:
        client.stop_stream()
        client.close()
    return events


def by_request(events):
    """Results grouped by request id, in order; errors (tritonclient gives them no id) sorted."""
    grouped = {}
    for item in events:
        if item[0] == "result":
            grouped.setdefault(item[1], []).append(item)
    return grouped, sorted((e for e in events if e[0] != "result"), key=repr)


def words(text, rid="w", empty_final=False, **kwargs):
    return ("words", text, dict(request_id=rid, enable_empty_final_response=empty_final,
                                **kwargs))


def text(value, rid="t", empty_final=False):
    return ("text", value, dict(request_id=rid, enable_empty_final_response=empty_final))


def scale(rows, rid="s", name="INPUT0", empty_final=False, **kwargs):
    return ("scale", (name, rows), dict(request_id=rid,
                                        enable_empty_final_response=empty_final, **kwargs))


TEXTS = [("words", "a b c"), ("one-word", "one"), ("fail-inside", "a fail c"), ("fail", "fail"),
         ("fail-twice", "fail fail"), ("raise", "raise"), ("raise-second", "a raise"),
         ("no-words", ""), ("blanks", "   "), ("later", "later x y"),
         ("later-fail", "later fail z"), ("later-alone", "later"),
         ("utf8-and-blanks", "h\xe9llo  w\xf6rld\tz")]
SINGLE = [("words-%s%s" % (what, "-empty-final" if flag else ""), [words(t, "r1", flag)])
          for what, t in TEXTS for flag in (False, True)] + [
    ("words-no-id", [("words", "a b", {})]),
    ("words-no-id-empty-final", [("words", "a b", {"enable_empty_final_response": True})]),
    ("words-version-1", [words("a b", "v", True, model_version="1")]),
    ("words-unknown-version", [words("a b", "v", True, model_version="2")]),
    ("words-one-output-requested", [words("a b", "o", True,
                                          outputs=[grpcclient.InferRequestedOutput("INDEX")])]),
    ("words-request-parameters", [words("a", "p", True, parameters={"x": "y", "n": 3})]),
    ("text", [text("ab")]),
    ("text-empty-final", [text("ab", empty_final=True)]),
    ("text-error-response", [text("fail")]),
    ("text-error-response-empty-final", [text("fail", empty_final=True)]),
    ("text-execute-raises", [text("raise")]),
    ("text-execute-raises-empty-final", [text("raise", empty_final=True)]),
    ("scale", [scale(2)]),
    ("scale-empty-final", [scale(2, empty_final=True)]),
    ("scale-one-output-requested", [scale(1, outputs=[grpcclient.InferRequestedOutput("SUM")])]),
    ("scale-batch-too-large", [scale(9)]),
    ("scale-unknown-input", [scale(1, name="NOPE")]),
    ("unknown-model", [("zzz", "a", {"request_id": "u"})]),
]
# one stream, the requests sent at once: each request's sequence compared
CONCURRENT = [
    ("words-several", [words("a b c", "1"), words("later d e", "2", True), words("f g", "3"),
                       words("", "4", True), words("h", "5", True), words("a fail", "6", True),
                       words("raise", "7"), words("i j", "8")]),
    ("words-several-no-empty-final", [words(t, str(i)) for i, t in enumerate(
        ["a b", "c", "later d", "e f g", "fail h"])]),
    ("text-several", [text(t, str(i)) for i, t in enumerate(["a", "fail", "b", "cd"])]),
    ("scale-several", [scale(1, "1"), scale(2, "2"), scale(9, "3"), scale(3, "4")]),
]
# one stream, each request sent once the previous one has ended: the whole sequence compared
SEQUENTIAL = [
    ("words-after-an-error-response", [words("fail", "1"), words("p q", "2", True)]),
    ("words-after-execute-raised", [words("raise", "1"), words("p q", "2", True)]),
    ("words-after-an-unknown-model", [("zzz", "a", {"request_id": "1"}), words("p q", "2", True)]),
    ("words-after-an-unknown-version", [words("a", "1", model_version="5"),
                                        words("p q", "2", True)]),
    ("words-later-then-words", [words("later a b", "1", True), words("c", "2", True)]),
    ("text-after-execute-raised", [text("raise", "1"), text("x", "2"), text("fail", "3"),
                                   text("y", "4")]),
    ("scale-after-errors", [scale(9, "1"), scale(1, "2", name="NOPE"), scale(1, "3")]),
]


@pytest.mark.parametrize("case", SINGLE, ids=[c[0] for c in SINGLE])
def test_stream(case, triton, modelkiln):
    name, calls = case
    server = server_for(modelkiln, calls[0][0])
    assert stream(server, calls) == stream(triton, calls)


@pytest.mark.parametrize("case", CONCURRENT, ids=[c[0] for c in CONCURRENT])
def test_stream_several_requests(case, triton, modelkiln):
    name, calls = case
    server = server_for(modelkiln, calls[0][0])
    assert by_request(stream(server, calls)) == by_request(stream(triton, calls))


@pytest.mark.parametrize("case", SEQUENTIAL, ids=[c[0] for c in SEQUENTIAL])
def test_stream_goes_on(case, triton, modelkiln):
    name, calls = case
    server = server_for(modelkiln, calls[-1][0])
    assert stream(server, calls, sequential=True) == stream(triton, calls, sequential=True)


def test_tritonserver_sends_the_words_in_order(triton):
    """The oracle itself: one response per word, in order, then the empty final one."""
    got = stream(triton, [words("a b c", "r", True)])
    assert [(e[4], e[5][0][4], e[5][1][4]) for e in got[:-1]] == [
        ({"triton_final_response": {"boolParam": False}}, [w], [i])
        for i, w in enumerate([b"a", b"b", b"c"])]
    assert got[-1][4:] == ({"triton_final_response": {"boolParam": True}}, [])


# -- raw ModelStreamInfer messages -----------------------------------------------------------

def message(model, value, rid="", empty_final=False, version="", shape=None):
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version, id=rid)
    item = request.inputs.add()
    item.name, item.datatype = "TEXT", "BYTES"
    item.shape.extend(shape or ([1, 1] if model == "text" else [1]))
    data = value.encode()
    request.raw_input_contents.append(len(data).to_bytes(4, "little") + data)
    if empty_final:
        request.parameters["triton_enable_empty_final_response"].bool_param = True
    return request


def raw_stream(server, messages):
    """Every ModelStreamInferResponse (as a dict, raw contents in base64) of one call that sends
    ``messages`` and half-closes, and the call's end status."""
    channel = grpc.insecure_channel(server.grpc_url)
    call = channel.stream_stream(
        STREAM_METHOD, request_serializer=service_pb2.ModelInferRequest.SerializeToString,
        response_deserializer=service_pb2.ModelStreamInferResponse.FromString)
    got = []
    try:
        responses = call(iter(messages), timeout=TIMEOUT)
        for response in responses:
            got.append(json_format.MessageToDict(response, preserving_proto_field_name=True))
        end = (responses.code().name, responses.details())
    except grpc.RpcError as exc:
        end = (exc.code().name, exc.details())
    finally:
        channel.close()
    return got, end


RAW = [("words-%s%s" % (what, "-empty-final" if flag else ""), [message("words", t, "r1", flag)])
       for what, t in TEXTS for flag in (False, True)] + [
    ("words-wrong-shape", [message("words", "a", "r1", True, shape=[1, 1])]),
    ("words-unknown-version", [message("words", "a", "r1", True, version="3")]),
    ("words-no-id", [message("words", "a b", "", True)]),
    ("text", [message("text", "ab", "t1")]),
    ("text-empty-final", [message("text", "ab", "t1", True)]),
    ("text-error-response", [message("text", "fail", "t1", True)]),
    ("text-execute-raises", [message("text", "raise", "t1")]),
    ("unknown-model", [message("zzz", "a", "u1", True)]),
]


@pytest.mark.parametrize("case", RAW, ids=[c[0] for c in RAW])
def test_raw_stream(case, triton, modelkiln):
    name, messages = case
    server = server_for(modelkiln, messages[0].model_name)
    assert raw_stream(server, messages) == raw_stream(triton, messages)


def raw_by_request(answer):
    got, end = answer
    grouped = {}
    for item in got:
        grouped.setdefault(item.get("infer_response", {}).get("id"), []).append(item)
    return grouped, end


def test_raw_stream_several_requests(triton, modelkiln):
    messages = [message("words", t, str(i), i % 2 == 0) for i, t in enumerate(
        ["a b c", "later d e", "fail f", "", "raise", "g", "later"])]
    assert raw_by_request(raw_stream(modelkiln["words"], messages)) == raw_by_request(
        raw_stream(triton, messages))


# -- unary inference on the decoupled model --------------------------------------------------

@pytest.mark.parametrize("kind", ("grpc", "http"))
@pytest.mark.parametrize("value", ("a b", "", "raise"))
def test_unary_infer_on_decoupled(kind, value, triton, modelkiln):
    inputs = [("TEXT", np.array([value.encode()], dtype=np.object_), "BYTES")]
    assert client_infer(kind, modelkiln["words"], "words", inputs) == client_infer(
        kind, triton, "words", inputs)


# -- REST: infer on the decoupled model, generate and generate_stream ------------------------

def sse(body):
    """An event stream's events (each its lines as (field, value), a data value JSON-parsed
    when it is JSON) and what follows the last blank line."""
    blocks = body.split(b"\n\n")
    rest = blocks.pop()
    events = []
    for block in blocks:
        lines = []
        for line in block.split(b"\n"):
            field, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if field == b"data":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            lines.append((field, value))
        events.append(lines)
    return events, rest


def normalised(answer):
    """test_rest's (status, media type, body), an event stream's body split into events."""
    media = (answer.headers.get("Content-Type") or "").split(";")[0]
    if media == "text/event-stream":
        return answer.status_code, answer.headers.get("Content-Type"), sse(answer.content)
    return rest_normalised(answer)


@pytest.mark.parametrize("case", STREAM_CASES, ids=[case[0] for case in STREAM_CASES])
def test_same_rest_answer(case, triton, modelkiln):
    name, model, method, path, body, headers = case
    theirs = normalised(send(triton.url(""), method, path, body, headers))
    ours = normalised(send(server_for(modelkiln, model).url(""), method, path, body, headers))
    if name in INTENTIONAL:
        why, status = INTENTIONAL[name]
        assert ours[0] == status, (why, ours)
        return
    assert ours == theirs
