"""Tracing (OpenTelemetry over OTLP/HTTP to a receiver this test runs on 127.0.0.1) and JSON
log lines, on live servers. The tracing tests need the OpenTelemetry SDK (installed by
``make venv``; not on the py36 stack, where tracing is an optional extra)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, List

import pytest

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

pytestmark = pytest.mark.slow

PREDICTIONS = "/api/v1.0/predictions"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
SMALL = {"data": {"ndarray": [[1, 2]]}}
V2_BODY = {"id": "v2-req-7", "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64",
                                         "data": [1.0, 2.0]}]}


# -- an OTLP/HTTP receiver --------------------------------------------------------------------

class Receiver(object):
    """Accepts OTLP/HTTP protobuf exports on /v1/traces and keeps the spans."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest)

        spans: List[Dict[str, Any]] = []
        self.spans = spans
        self.paths: List[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                paths.append(self.path)
                export = ExportTraceServiceRequest.FromString(body)
                for resource in export.resource_spans:
                    service = {a.key: a.value.string_value
                               for a in resource.resource.attributes}.get("service.name")
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            spans.append(_span_dict(span, service))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, predicate: Any, what: str) -> List[Dict[str, Any]]:
        return live.wait_for(lambda: [s for s in list(self.spans) if predicate(s)], 30, what)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _span_dict(span: Any, service: str) -> Dict[str, Any]:
    return {"name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
            "parent_id": span.parent_span_id.hex(), "kind": span.kind,
            "status": span.status.code, "service": service,
            "attributes": {a.key: _value(a.value) for a in span.attributes}}


@pytest.fixture(scope="module")
def receiver():
    pytest.importorskip("opentelemetry.sdk")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    found = Receiver()
    yield found
    found.close()


@pytest.fixture(scope="module")
def traced(receiver, tmp_path_factory):
    with live.running("echo", "Echo", env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % receiver.port,
            "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_SERVICE_NAME": "traced-echo",
            "TRACING": "1"}, workdir=str(tmp_path_factory.mktemp("traced"))) as server:
        yield server


SERVER_KIND = 2  # Span.SpanKind.SPAN_KIND_SERVER


def children(receiver: Receiver, parent: Dict[str, Any], count: int) -> Dict[str, Any]:
    found = receiver.wait(lambda s: s["parent_id"] == parent["span_id"]
                          and len([t for t in receiver.spans
                                   if t["parent_id"] == parent["span_id"]]) >= count,
                          "%d child spans of %s" % (count, parent["name"]))
    return {s["name"]: s for s in found}


def test_rest_request_span_continues_the_callers_trace(traced, receiver):
    answer = traced.post(PREDICTIONS, json=dict(SMALL, meta={"puid": "p-77"}),
                         headers={"traceparent": TRACEPARENT, "X-Request-Id": "req-rest-1"})
    assert answer.status_code == 200, answer.text
    version, trace_id, span_id, flags = answer.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01") and span_id != PARENT_ID

    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the request's span")
    assert span["name"] == "POST " + PREDICTIONS
    assert (span["trace_id"], span["parent_id"], span["kind"]) == (TRACE_ID, PARENT_ID,
                                                                    SERVER_KIND)
    assert span["service"] == "traced-echo"
    attributes = span["attributes"]
    assert attributes["http.route"] == PREDICTIONS
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 200
    assert attributes["modelkiln.request_id"] == "req-rest-1"
    assert attributes["seldon.puid"] == answer.json()["meta"]["puid"] == "p-77"

    steps = children(receiver, span, 3)
    assert sorted(steps) == ["decode", "encode", "predict"]
    assert all(s["trace_id"] == TRACE_ID for s in steps.values())
    [user] = receiver.wait(lambda s: s["parent_id"] == steps["predict"]["span_id"],
                           "the user method's span")
    assert user["name"] == "Echo.predict"


def test_v2_request_without_traceparent_starts_a_trace(traced, receiver):
    answer = traced.post("/v2/models/Echo/infer", json=V2_BODY)
    assert answer.status_code == 200, answer.text
    _, trace_id, span_id, _ = answer.headers["traceparent"].split("-")
    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the V2 request's span")
    assert span["name"] == "POST /v2/models/{model_name}/infer"
    assert span["parent_id"] == "" and span["trace_id"] == trace_id != TRACE_ID
    assert span["attributes"]["inference.request_id"] == "v2-req-7"
    assert sorted(children(receiver, span, 3)) == ["decode", "encode", "infer"]


def test_client_error_is_recorded_with_its_status(traced, receiver):
    answer = traced.post(PREDICTIONS, data=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    span_id = answer.headers["traceparent"].split("-")[2]
    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the failed request's span")
    assert span["attributes"]["http.response.status_code"] == 400
    assert span["status"] == 0  # unset: a client's error is not the server's


def test_grpc_call_span_continues_the_callers_trace(traced, receiver):
    import grpc

    from python_runtime.protocols import protos as protos_module

    protos = protos_module.load()
    message = protos.message("seldon.protos.SeldonMessage")
    request = message()
    request.data.ndarray.extend([[1.0, 2.0]])  # a ListValue of ListValues
    chan = grpc.insecure_channel("127.0.0.1:%d" % traced.grpc_port)
    try:
        stub = chan.unary_unary("/seldon.protos.Model/Predict",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=message.FromString)
        response, call = stub.with_call(request, timeout=30,
                                        metadata=(("traceparent", TRACEPARENT),))
    finally:
        chan.close()
    assert response.data.ndarray[0][0] == 1.0
    initial = dict(call.initial_metadata())
    _, trace_id, span_id, _ = initial["traceparent"].split("-")
    assert trace_id == TRACE_ID
    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the gRPC call's span")
    assert span["name"] == "seldon.protos.Model/Predict"
    assert span["parent_id"] == PARENT_ID and span["kind"] == SERVER_KIND
    attributes = span["attributes"]
    assert (attributes["rpc.system"], attributes["rpc.service"], attributes["rpc.method"],
            attributes["rpc.grpc.status_code"]) == ("grpc", "seldon.protos.Model", "Predict",
                                                    "OK")
    assert sorted(children(receiver, span, 3)) == ["decode", "encode", "predict"]


@pytest.fixture(scope="module")
def traced_stream(receiver, tmp_path_factory):
    with live.running("spells", "Spells", env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % receiver.port,
            "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_SERVICE_NAME": "traced-spells"},
            workdir=str(tmp_path_factory.mktemp("spells"))) as server:
        yield server


def test_a_streamed_answer_has_a_span_to_its_last_piece(traced_stream, receiver):
    answer = traced_stream.post(PREDICTIONS, json={"strData": "abc"},
                                headers={"traceparent": TRACEPARENT,
                                         "Accept": "text/event-stream"})
    assert answer.status_code == 200 and answer.text.count("data: ") == 4  # 3 pieces, end
    span_id = answer.headers["traceparent"].split("-")[2]
    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the request's span")
    [stream] = receiver.wait(lambda s: s["parent_id"] == span_id
                             and s["name"].startswith("stream "), "the stream's span")
    assert stream["name"] == "stream " + PREDICTIONS and stream["trace_id"] == TRACE_ID
    assert stream["attributes"]["modelkiln.stream.pieces"] == 3


def test_each_request_of_a_grpc_stream_has_a_span(traced_stream, receiver):
    import grpc

    from python_runtime.protocols import protos as protos_module

    protos = protos_module.load()
    request_class = protos.message("inference.ModelInferRequest")
    answer_class = protos.message("inference.ModelStreamInferResponse")
    request = request_class(model_name="Spells", id="traced-1")
    item = request.inputs.add(name="text", datatype="BYTES", shape=[1])
    item.contents.bytes_contents.append(b"xyz")
    chan = grpc.insecure_channel("127.0.0.1:%d" % traced_stream.grpc_port)
    try:
        call = chan.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer",
                                  request_serializer=request_class.SerializeToString,
                                  response_deserializer=answer_class.FromString)(
            iter([request]), timeout=30, metadata=(("traceparent", TRACEPARENT),))
        answers = list(call)
        initial = dict(call.initial_metadata())
    finally:
        chan.close()
    assert [a.infer_response.id for a in answers] == ["traced-1"] * 3
    _, trace_id, span_id, _ = initial["traceparent"].split("-")
    assert trace_id == TRACE_ID
    [span] = receiver.wait(lambda s: s["span_id"] == span_id, "the stream request's span")
    assert span["name"] == "inference.GRPCInferenceService/ModelStreamInfer"
    assert span["parent_id"] == PARENT_ID and span["kind"] == SERVER_KIND
    assert span["attributes"]["modelkiln.stream.answers"] == 3
    assert span["attributes"]["rpc.method"] == "ModelStreamInfer"


def test_seldon_tracing_variable_is_answered_on_the_log(traced):
    # TRACING=1 is set beside the OTEL_* variables: they win, no warning then
    assert "does not speak" not in traced.log()
    assert "tracing: OpenTelemetry spans exported with otlp" in traced.log()


@pytest.mark.parametrize("env", [
    {},
    {"OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_SDK_DISABLED": "true"},
], ids=["unconfigured", "exporter-none", "sdk-disabled"])
def test_no_tracing_unless_configured(receiver, tmp_path, env):
    before = len(receiver.paths)
    extra = dict(env, TRACING="1")
    if env:  # an endpoint that would receive spans, were tracing on
        extra["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:%d" % receiver.port
        extra["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    with live.running("echo", "Echo", env=extra, workdir=str(tmp_path)) as server:
        for _ in range(3):
            answer = server.post(PREDICTIONS, json=SMALL, headers={"traceparent": TRACEPARENT})
            assert answer.status_code == 200 and "traceparent" not in answer.headers
        time.sleep(1.0)
        log = server.log()
    assert len(receiver.paths) == before
    assert "TRACING=1 asks for Seldon's Jaeger tracing" in log
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in log


# -- JSON log lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("threads", ["1", "4"], ids=["loop", "threads"])
def test_json_log_lines_carry_the_request_id_of_the_access_line(tmp_path, threads):
    with live.running("echo", "Echo", env={"MODELKILN_LOG_FORMAT": "json",
                                           "GUNICORN_ACCESS_LOG": "true",
                                           "GUNICORN_THREADS": threads},
                      workdir=str(tmp_path)) as server:
        bad = server.post(PREDICTIONS, data=b"{oops", headers={
            "Content-Type": "application/json", "X-Request-Id": "client-id-42"})
        assert bad.status_code == 400
        unnamed = server.post("/predict", data=b"[1,", headers={
            "Content-Type": "application/json"})
        assert unnamed.status_code == 400
        ok = server.post(PREDICTIONS, json=SMALL)
        assert ok.status_code == 200
        live.wait_for(lambda: server.log().count('"status": 200') >= 1, 10, "access lines")
        text = server.stdout() + server.stderr()  # gunicorn's own lines go to stderr
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, text
    for line in lines:
        assert {"time", "level", "logger", "message", "pid"} <= set(line), line
        assert line["time"].endswith("Z") and "T" in line["time"]
    access = [line for line in lines if "status" in line and "method" in line]
    app_lines = [line for line in lines if "access" not in line["logger"]
                 and "request_id" in line]

    named = [line for line in access if line["request_id"] == "client-id-42"]
    assert len(named) == 1 and named[0]["status"] == 400 and named[0]["path"] == PREDICTIONS
    assert named[0]["method"] == "POST" and named[0]["bytes"] > 0
    assert any(line["request_id"] == "client-id-42" and "400" in line["message"]
               for line in app_lines), app_lines

    [made] = [line for line in access if line["path"] == "/predict"]
    assert len(made["request_id"]) == 32  # made by the server
    assert any(line["request_id"] == made["request_id"] for line in app_lines), app_lines
    ids = [line["request_id"] for line in access]
    assert len(ids) == len(set(ids))  # one id per request
    assert any(line["logger"] == "modelkiln" and "serving REST" in line["message"]
               for line in lines)
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"]
               for line in lines)


def test_text_logs_stay_text(serve):
    server = serve("echo", "Echo", env={"GUNICORN_ACCESS_LOG": "true"})
    assert server.post(PREDICTIONS, json=SMALL).status_code == 200
    live.wait_for(lambda: '"POST %s HTTP/1.1" 200' % PREDICTIONS in server.log(), 10,
                  "the access line")
    assert not any(line.startswith("{") for line in server.stdout().splitlines())


def test_request_latencies_land_in_the_buckets_prometheus_would_put_them_in():
    """observe_request() writes the histogram's sum and buckets itself (one bisect): the
    exposition must be what Histogram.observe() gives for the same latencies."""
    import prometheus_client

    from python_runtime.metrics import REQUEST_BUCKETS, Metrics
    from python_runtime.settings import Settings

    metrics = Metrics(Settings.load(["Echo"], environ={}, read_annotations=False), None)
    reference = prometheus_client.Histogram("reference", "", buckets=REQUEST_BUCKETS,
                                            registry=prometheus_client.CollectorRegistry())
    latencies = [0.0, 0.0005, 0.00050001, 0.001, 0.3, 0.25, 60.0, 61.0] + list(REQUEST_BUCKETS)
    for seconds in latencies:
        metrics.observe_request("/predict", 200, seconds)
        reference.observe(seconds)
    mine = {s.labels["le"]: s.value for s in metrics.latency.collect()[0].samples
            if s.name.endswith("_bucket")}
    theirs = {s.labels["le"]: s.value for s in reference.collect()[0].samples
              if s.name.endswith("_bucket")}
    assert mine == theirs and len(mine) == len(REQUEST_BUCKETS) + 1
    total = [s.value for s in metrics.latency.collect()[0].samples if s.name.endswith("_sum")]
    assert total == [sum(latencies)]
    count = [s.value for s in metrics.requests.collect()[0].samples if s.name.endswith("_total")]
    assert count == [len(latencies)]
