"""The real server, started as ``python -m python_runtime`` (gunicorn, or Flask with --debug).

Every test starts its own server in its own process group and kills the group afterwards.
Apps live in ``apps/<folder>/``; see their docstrings for what each does.
"""

import json
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

LiveServer = live.LiveServer
assert_error_body = live.assert_error_body
metric_sum = live.metric_sum
parameters = live.parameters
wait_for = live.wait_for

pytestmark = pytest.mark.slow

NOT_READY = "MICROSERVICE_NOT_READY"
PREDICTIONS = "/api/v1.0/predictions"


def message(rows):
    return {"data": {"ndarray": rows}}


def echoed(rows, names=None):
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
    return {"data": {"names": names if names is not None else
                     ["t:%d" % i for i in range(width)], "ndarray": rows}, "meta": {}}


# -- probes and health ----------------------------------------------------------------------


def test_probes_and_default_health(serve):
    server = serve("echo", "Echo")
    live_answer = server.get("/live")
    assert live_answer.status_code == 200 and live_answer.json() == {"status": "alive"}
    ready = server.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    ping = server.get("/health/ping")
    assert ping.status_code == 200 and ping.text == "pong"
    for path in ("/health/status", "/api/v1.0/health/status"):
        status = server.get(path)
        assert status.status_code == 200, status.text
        assert status.headers["Content-Type"].startswith("application/json")
        assert status.json() == {"strData": "healthy", "meta": {}}
    answer = server.post("/predict", json=message([[1, 2.5]]))
    assert answer.status_code == 200, answer.text
    assert answer.json() == echoed([[1, 2.5]])


def test_health_status_from_class(serve):
    server = serve("healthcheck", "HealthCheck")
    status = server.get("/health/status")
    assert status.status_code == 200, status.text
    assert status.json() == {"jsonData": {"checked": "by HealthCheck", "answer": 42}, "meta": {}}


def test_app_folder_as_argument(tmp_path):
    """The positional argument may be the app folder; its .s2i/environment names the class."""
    server = live.LiveServer("echo", str(live.APPS / "echo"), workdir=str(tmp_path))
    server.app_dir = tmp_path  # run from elsewhere: only the argument points at the app
    try:
        server.start()
        server.wait_ready()
        answer = server.post(PREDICTIONS, json=message([[7]]))
        assert answer.status_code == 200, answer.text
        assert answer.json() == echoed([[7]])
    finally:
        server.stop()


def test_slow_load_is_not_ready_until_it_finishes(serve, tmp_path):
    gate = tmp_path / "gate"
    server = serve("slowload", "SlowLoad", env={"PREDICTIVE_UNIT_PARAMETERS":
                                                parameters(gate=str(gate))}, ready=False)
    server.wait_live()
    for path in ("/ready", "/health/status"):
        assert_error_body(server.get(path), 503, NOT_READY, ["loading"])
    assert_error_body(server.post("/predict", json=message([[1]])), 503, NOT_READY, ["loading"])
    assert server.get("/live").status_code == 200
    assert server.get("/health/ping").text == "pong"

    gate.write_text("go")
    server.wait_ready()
    status = server.get("/health/status")
    assert status.status_code == 200 and status.json() == {"strData": "healthy", "meta": {}}
    answer = server.post("/predict", json=message([[1]]))
    assert answer.status_code == 200 and answer.json() == echoed([[1]]), answer.text


def test_failing_load_is_retried_then_the_server_exits_3(serve):
    server = serve("failload", "FailLoad", env={"MODELKILN_LOAD_RETRIES": "1"}, ready=False)
    assert server.wait_exit(30) == 3, server.log_tail()
    log = server.log()
    assert log.count("cannot open weights: disk on fire") >= 2, log  # both attempts
    assert "trying again in 1 s (attempt 2 of 2" in log, log
    assert "the server exits with code 3" in log and "MODELKILN_ON_LOAD_FAILURE" in log, log


def test_load_that_fails_once_is_retried_and_serves(serve, tmp_path):
    server = serve("failload", "FailLoad", env={"PREDICTIVE_UNIT_PARAMETERS": parameters(
        failures=1, count_path=str(tmp_path / "attempts"))})
    answer = server.post("/predict", json=message([[1]]))
    assert answer.status_code == 200 and answer.json() == echoed([[1]]), answer.text
    assert (tmp_path / "attempts").read_text() == "2"
    assert "trying again in 1 s" in server.log()


def test_failing_load_with_unready_keeps_server_up_and_not_ready(serve):
    server = serve("failload", "FailLoad", env={"MODELKILN_LOAD_RETRIES": "0",
                                                "MODELKILN_ON_LOAD_FAILURE": "unready"},
                   ready=False)
    server.wait_live()

    def failed():
        answer = server.get("/ready")
        return answer.status_code == 503 and "failed to load" in answer.text

    wait_for(failed, live.READY_TIMEOUT, "/ready to report the load() failure")
    for _ in range(3):
        # Clients learn that it failed, not the exception text (file paths, secrets): that
        # is in the log.
        for path in ("/ready", "/health/status"):
            answer = server.get(path)
            assert_error_body(answer, 503, NOT_READY, ["failed to load", "server log"])
            assert "disk on fire" not in answer.text
        answer = server.post("/predict", json=message([[1]]))
        assert_error_body(answer, 503, NOT_READY, ["failed to load"])
        assert "disk on fire" not in answer.text
        time.sleep(0.5)
    assert server.alive()
    assert server.get("/live").status_code == 200
    log = server.log()
    assert "cannot open weights: disk on fire" in log
    assert "/ready: 503" not in log and "/ready failed" not in log, log  # probes: not errors


@pytest.mark.parametrize("construct_in", ["worker", "master"])
def test_where_init_runs_and_load_once_per_worker(serve, tmp_path, construct_in):
    log_path = tmp_path / "pids.log"
    server = serve("pidlog", "PidLog", env={
        "GUNICORN_WORKERS": "2", "MODELKILN_CONSTRUCT_IN": construct_in,
        "PREDICTIVE_UNIT_PARAMETERS": parameters(log_path=str(log_path))})

    def lines():
        text = log_path.read_text() if log_path.exists() else ""
        found = [line.split() for line in text.splitlines()]
        return found if len([f for f in found if f[0] == "load"]) >= 2 else None

    found = wait_for(lines, live.READY_TIMEOUT, "both workers to run load()")
    workers = server.wait_workers(2)
    inits = [int(pid) for what, pid in found if what == "init"]
    loads = [int(pid) for what, pid in found if what == "load"]
    assert len(set(loads)) == 2 and server.pid not in loads, loads
    assert sorted(loads) == workers, (loads, workers)
    if construct_in == "master":  # Seldon's way: __init__ once, before the fork
        assert inits == [server.pid], (inits, server.pid)
    else:  # in each worker, after the fork
        assert sorted(inits) == workers, (inits, workers)
    assert len(found) == len(inits) + 2, found


def test_load_runs_on_the_thread_that_serves_rest_calls(serve):
    """As in Seldon: thread-local state set in load() holds for predict() (REST)."""
    server = serve("threadlocal", "ThreadLocal", env={"GUNICORN_WORKERS": "2"})
    for _ in range(6):
        answer = server.post("/predict", json=message([[0]]), headers={"Connection": "close"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["ndarray"] == [[1, 1]], answer.text


# -- signals and workers --------------------------------------------------------------------


@pytest.mark.parametrize("threads", ["1", "4"], ids=["loop", "threads"])
def test_sigterm_drains_in_flight_request(serve, tmp_path, threads):
    started = tmp_path / "started"
    graceful = 20
    server = serve("slowpredict", "SlowPredict", env={
        "GUNICORN_THREADS": threads,
        "GUNICORN_GRACEFUL_TIMEOUT": str(graceful),
        "PREDICTIVE_UNIT_PARAMETERS": parameters(started_path=str(started), seconds=2.0),
    })
    result = {}

    def call():
        try:
            result["answer"] = server.post(PREDICTIONS, json=message([[1, 2]]))
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    client = threading.Thread(target=call)
    client.start()
    wait_for(started.exists, 30, "predict() to start")
    os.kill(server.pid, signal.SIGTERM)
    client.join(60)
    assert not client.is_alive()
    assert "error" not in result, result
    answer = result["answer"]
    assert answer.status_code == 200, answer.text
    assert answer.json() == echoed([[10, 20]])
    assert server.wait_exit(graceful + 15) == 0, server.log_tail()


def test_killed_worker_is_replaced(serve):
    server = serve("echo", "Echo", env={"GUNICORN_WORKERS": "2"})
    victim = server.wait_workers(2)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), 60,
             "gunicorn to replace the killed worker")
    server.wait_ready()
    assert server.alive()
    for i in range(20):
        answer = server.post(PREDICTIONS, json=message([[i, -i]]))
        assert answer.status_code == 200, answer.text
        assert answer.json() == echoed([[i, -i]])


def test_all_workers_killed_at_once_are_replaced(serve):
    """Several workers dying together (an OOM kill, a node under pressure) must not take the
    master down: each exit runs the child_exit hook from gunicorn's SIGCHLD handling."""
    count = 8
    server = serve("echo", "Echo", env={"GUNICORN_WORKERS": str(count)})
    workers = server.wait_workers(count)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not server.alive() or (
        len(server.workers()) == count and not set(workers) & set(server.workers())),
        60, "gunicorn to replace every killed worker")
    assert server.alive(), server.log_tail()
    assert "Traceback" not in server.log(), server.log_tail()
    server.wait_ready()
    answer = server.post(PREDICTIONS, json=message([[5]]))
    assert answer.status_code == 200 and answer.json() == echoed([[5]]), answer.text


def test_sigterm_with_many_workers_exits_cleanly(serve):
    count = 8
    server = serve("echo", "Echo", env={"GUNICORN_WORKERS": str(count)})
    server.wait_workers(count)  # a worker still booting would swallow the SIGTERM
    os.kill(server.pid, signal.SIGTERM)
    assert server.wait_exit(60) == 0, server.log_tail()
    assert "Traceback" not in server.log(), server.log_tail()


# -- metrics --------------------------------------------------------------------------------


def test_request_metrics_survive_worker_recycling(serve):
    """GUNICORN_MAX_REQUESTS replaces workers; what they counted still counts."""
    server = serve("echo", "Echo", env={"GUNICORN_MAX_REQUESTS": "4"})
    first = server.workers()
    n = 14
    for i in range(n):
        answer = server.post(PREDICTIONS, json=message([[i]]))
        assert answer.status_code == 200 and answer.json() == echoed([[i]]), answer.text
    wait_for(lambda: server.workers() and server.workers() != first, 30, "a recycled worker")
    text = server.scrape()
    assert metric_sum(text, "modelkiln_http_requests_total", route=PREDICTIONS,
                      status="200") == n, text
    assert metric_sum(text, "modelkiln_http_request_duration_seconds_count",
                      route=PREDICTIONS, status="200") == n
    assert "Traceback" not in server.log(), server.log_tail()


def test_request_metrics_are_summed_across_workers(serve):
    server = serve("echo", "Echo", env={"GUNICORN_WORKERS": "2"})
    n = 24
    for i in range(n):
        answer = server.post(PREDICTIONS, json=message([[i]]))
        assert answer.status_code == 200 and answer.json() == echoed([[i]]), answer.text
    bad = server.post(PREDICTIONS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert_error_body(bad, 400, "MICROSERVICE_BAD_DATA")
    # a request is counted once its answer is written: the last one may trail its answer
    wait_for(lambda: metric_sum(server.scrape(), "modelkiln_http_requests_total",
                                route=PREDICTIONS, status="400") == 1, 10, "the 400 counted")

    scrape = requests.get(server.metrics_url("/metrics"), timeout=live.REQUEST_TIMEOUT)
    assert scrape.status_code == 200
    assert scrape.headers["Content-Type"].startswith("text/plain")
    text = scrape.text
    labels = {"route": PREDICTIONS, "status": "200"}
    assert metric_sum(text, "modelkiln_http_requests_total", **labels) == n, text
    assert metric_sum(text, "modelkiln_http_request_duration_seconds_count", **labels) == n
    assert metric_sum(text, "modelkiln_http_request_duration_seconds_bucket",
                      le="+Inf", **labels) == n
    assert metric_sum(text, "modelkiln_http_requests_total",
                      route=PREDICTIONS, status="400") == 1
    # Probes made by wait_ready are counted under their own route.
    assert metric_sum(text, "modelkiln_http_requests_total", route="/ready", status="200") >= 1


def test_v2_requests_are_counted_under_their_route_pattern(serve):
    server = serve("echo", "Echo")
    body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "INT64", "data": [7]}]}
    for model in ("Echo", "Echo", "Other", "Another"):
        answer = server.post("/v2/models/%s/infer" % model, json=body)
        assert answer.status_code == (200 if model == "Echo" else 404), answer.text
    assert answer.json() == {"error": "unknown model 'Another': this server serves 'Echo'"}
    text = server.scrape()
    infer = "/v2/models/{model_name}/infer"
    assert metric_sum(text, "modelkiln_http_requests_total", route=infer, status="200") == 2
    # Unknown names do not make new label values: one series per route pattern and status.
    assert metric_sum(text, "modelkiln_http_requests_total", route=infer, status="404") == 2
    assert "Other" not in text and "Another" not in text


def test_custom_metrics_across_workers(serve):
    server = serve("custommetrics", "CustomMetrics", env={"GUNICORN_WORKERS": "2"})
    n = 20
    for i in range(1, n + 1):
        answer = server.post("/predict", json=message([[i]]))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["data"]["ndarray"] == [[i]]
        assert {m["key"]: m["type"] for m in body["meta"]["metrics"]} == {
            "mk_test_calls": "COUNTER", "mk_test_last": "GAUGE", "mk_test_timer": "TIMER"}
    text = server.scrape()
    assert metric_sum(text, "mk_test_calls_total", method="predict") == n, text
    assert metric_sum(text, "mk_test_timer_count", method="predict") == n, text
    assert metric_sum(text, "mk_test_timer_sum", method="predict") == pytest.approx(n * 0.007)
    gauges = [s for s in live.prometheus_samples(text) if s.name == "mk_test_last"]
    assert gauges, text
    # prometheus_client >= 0.17 keeps the most recent value ("mostrecent"); older ones keep
    # one sample per live worker ("liveall"), whose newest is the largest here.
    if not any("pid" in s.labels for s in gauges):
        assert [s.value for s in gauges] == [float(n)], gauges
    assert max(s.value for s in gauges) == float(n), gauges
    assert all(s.value in {float(i) for i in range(1, n + 1)} for s in gauges), gauges


def test_custom_metric_series_are_capped(serve):
    server = serve("metricsecho", "MetricsEcho", env={"MODELKILN_MAX_METRIC_SERIES": "5"})

    def send(name, value=1):
        answer = server.post("/predict", json={"data": {"ndarray": [[1]]}, "meta": {
            "metrics": [{"type": "COUNTER", "key": name, "value": value}]}})
        assert answer.status_code == 200, answer.text

    names = ["client_made_%d" % i for i in range(8)]
    for name in names:
        send(name)
    send(names[0], 2)   # an admitted series keeps counting
    send(names[7], 5)   # a dropped one stays dropped, without a second warning
    text = server.scrape()
    kept = [n for n in names if metric_sum(text, n + "_total") > 0]
    assert kept == names[:5], text
    assert metric_sum(text, names[0] + "_total") == 3
    log = server.log()
    for name in names[5:]:
        assert log.count("custom metric %r dropped" % name) == 1, log
    assert "MODELKILN_MAX_METRIC_SERIES" in log


def test_custom_metrics_endpoint(serve):
    server = serve("echo", "Echo", env={"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus"})
    assert server.post("/predict", json=message([[1]])).status_code == 200
    text = server.scrape("/prometheus")
    assert metric_sum(text, "modelkiln_http_requests_total", route="/predict",
                      status="200") == 1, text
    assert_error_body(requests.get(server.metrics_url("/metrics"), timeout=30), 404)


def test_rest_and_metrics_ports_are_separate(serve):
    server = serve("echo", "Echo")
    assert_error_body(server.get("/metrics"), 404)
    on_metrics = requests.post(server.metrics_url("/predict"), json=message([[1]]), timeout=30)
    assert_error_body(on_metrics, 404, info_contains=["/metrics"])
    assert_error_body(requests.get(server.metrics_url("/ready"), timeout=30), 404)
    assert "modelkiln_http_requests_total" in server.scrape()


# -- request size, routing, CORS ------------------------------------------------------------


def _body_of_size(size):
    """A JSON SeldonMessage of exactly ``size`` bytes."""
    head, tail = b'{"data":{"ndarray":[[', b']]}}'
    digits = size - len(head) - len(tail)
    assert digits >= 1
    ones = b"1" + b",1" * ((digits - 1) // 2)
    body = head + ones + b" " * (digits - len(ones)) + tail
    assert len(body) == size
    return body


@pytest.mark.parametrize("threads", ["1", "2"], ids=["loop", "threads-keepalive"])
def test_max_request_size(serve, threads):
    server = serve("echo", "Echo", env={"MODELKILN_MAX_REQUEST_SIZE": "1k",
                                        "GUNICORN_THREADS": threads})
    # One connection throughout where the worker keeps it alive: a refused body must not
    # leak into the next request on it.
    post = server.session.post
    url = server.url("/predict")
    headers = {"Content-Type": "application/json"}
    small = _body_of_size(500)
    too_big = _body_of_size(2048)
    for _ in range(2):
        answer = post(url, data=small, headers=headers, timeout=live.REQUEST_TIMEOUT)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["ndarray"] == json.loads(small)["data"]["ndarray"]
        assert_error_body(post(url, data=too_big, headers=headers, timeout=live.REQUEST_TIMEOUT),
                          413, info_contains=["2048", "1024", "MODELKILN_MAX_REQUEST_SIZE"])
    # Without Content-Length (chunked), the limit holds too.
    chunked = post(url, data=iter([too_big[:1000], too_big[1000:]]), headers=headers,
                   timeout=live.REQUEST_TIMEOUT)
    assert_error_body(chunked, 413, info_contains=["1024"])
    chunked_small = post(url, data=iter([small[:100], small[100:]]), headers=headers,
                         timeout=live.REQUEST_TIMEOUT)
    assert chunked_small.status_code == 200, chunked_small.text
    assert chunked_small.json()["data"]["ndarray"] == json.loads(small)["data"]["ndarray"]
    answer = post(url, json=message([[3]]), timeout=live.REQUEST_TIMEOUT)
    assert answer.status_code == 200 and answer.json() == echoed([[3]]), answer.text


@pytest.mark.parametrize("threads", ["1", "2"], ids=["loop", "threads"])
@pytest.mark.parametrize("body", [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n",
                                  b"2\r\n{}XX0\r\n\r\n"], ids=["size", "short", "terminator"])
def test_bad_chunked_framing_is_400(serve, threads, body):
    server = serve("echo", "Echo", env={"GUNICORN_THREADS": threads})
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)  # "short": the body ends here
        answer = live.read_until_closed(sock)
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    error = json.loads(text)["status"]
    assert error["reason"] == "MICROSERVICE_BAD_DATA", error
    assert "chunk" in error["info"].lower() or "body" in error["info"], error
    assert "Traceback" not in server.log(), server.log_tail()


def test_unknown_route_and_wrong_method(serve):
    server = serve("echo", "Echo")
    for method, path in (("GET", "/nope"), ("POST", "/api/v2.0/predictions"),
                         ("OPTIONS", "/nope")):
        assert_error_body(server.request(method, path), 404, info_contains=[path])

    wrong = server.request("PUT", "/predict", json=message([[1]]))
    assert_error_body(wrong, 405, info_contains=["/predict", "PUT"])
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "PUT" not in wrong.headers["Allow"]
    wrong = server.request("DELETE", PREDICTIONS)
    assert_error_body(wrong, 405)
    assert wrong.headers["Allow"].replace(" ", "").split(",") == ["POST"]
    wrong = server.post("/health/ping")
    assert_error_body(wrong, 405)
    assert "GET" in wrong.headers["Allow"]


def test_cors(serve):
    server = serve("echo", "Echo")
    origin = "http://dashboard.example"
    preflight = server.request("OPTIONS", PREDICTIONS, headers={
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-trace-id",
    })
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", origin)
    allowed = preflight.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")
    assert "POST" in allowed
    assert preflight.headers["Access-Control-Allow-Headers"].lower() == "content-type,x-trace-id"
    assert preflight.content == b""

    answer = server.post(PREDICTIONS, json=message([[1]]), headers={"Origin": origin})
    assert answer.status_code == 200 and answer.json() == echoed([[1]])
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", origin)
    error = server.post(PREDICTIONS, data=b"[", headers={"Origin": origin,
                                                        "Content-Type": "application/json"})
    assert_error_body(error, 400)
    assert error.headers["Access-Control-Allow-Origin"] in ("*", origin)


# -- threads --------------------------------------------------------------------------------


def _parallel(server, payloads, path=PREDICTIONS):
    with ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(lambda p: server.post(path, json=p), payloads))


def test_threads_answer_each_request_with_its_own_data(serve):
    server = serve("echo", "Echo", env={"GUNICORN_THREADS": "4"})
    rows = [[[i, i * 2, i * 3]] for i in range(16)]
    for _ in range(2):
        answers = _parallel(server, [message(r) for r in rows])
        for r, answer in zip(rows, answers):
            assert answer.status_code == 200, answer.text
            assert answer.json() == echoed(r)


def test_single_threaded_serialises_user_calls(serve):
    server = serve("serial", "Serial", env={
        "GUNICORN_THREADS": "4", "FLASK_SINGLE_THREADED": "1",
        "PREDICTIVE_UNIT_PARAMETERS": parameters(strict=True)})
    answers = _parallel(server, [message([[i]]) for i in range(8)])
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json() == echoed([[1]])


def test_threads_overlap_without_single_threaded(serve):
    """Control for the test above: the same requests do run concurrently without it."""
    server = serve("serial", "Serial", env={
        "GUNICORN_THREADS": "4", "PREDICTIVE_UNIT_PARAMETERS": parameters(strict=False)})
    answers = _parallel(server, [message([[i]]) for i in range(8)])
    peaks = []
    for answer in answers:
        assert answer.status_code == 200, answer.text
        peaks.append(answer.json()["data"]["ndarray"][0][0])
    assert max(peaks) >= 2, peaks


# -- payload pass-through -------------------------------------------------------------------


def test_payload_passthrough(serve):
    server = serve("passthrough", "Passthrough", env={"PAYLOAD_PASSTHROUGH": "true"})
    for body, ctype in ((b"\x00\x01\xff not JSON at all {", "application/octet-stream"),
                        (b'{"data": {"ndarray": [[1, 2]]}}', "application/json"),
                        (b"plain text", "text/plain")):
        answer = server.post("/predict", data=body, headers={"Content-Type": ctype})
        assert answer.status_code == 200, answer.text
        assert answer.content == body[::-1]


# -- start-up failures ----------------------------------------------------------------------

STARTUP_FAILURES = [
    # id, MODEL_NAME, extra env, expected exit code (None: any non-zero), substrings of the
    # ERROR line(s), whether a traceback must (True) / must not (False) be on stderr
    ("module-not-found", "DoesNotExist", {}, 1,
     ["ERROR:", "DoesNotExist", "no module"], False),
    ("module-raises", "RaisesOnImport", {}, 1,
     ["ERROR:", "RaisesOnImport", "RuntimeError", "missing secret sauce", "RaisesOnImport.py"],
     True),
    ("class-missing", "NoClassHere", {}, 1,
     ["ERROR:", "no class 'NoClassHere'", "Other"], False),
    ("no-predict", "NoPredict", {}, 1,
     ["ERROR:", "NoPredict", "predict", "SERVICE_TYPE=MODEL"], False),
    ("parameters-not-json", "Fine", {"PREDICTIVE_UNIT_PARAMETERS": "[{name: size}"}, 1,
     ["ERROR:", "PREDICTIVE_UNIT_PARAMETERS", "not valid JSON"], False),
    ("parameters-bad-int", "Fine", {"PREDICTIVE_UNIT_PARAMETERS":
                                    '[{"name": "size", "value": "big", "type": "INT"}]'}, 1,
     ["ERROR:", "PREDICTIVE_UNIT_PARAMETERS[0]", "size", "INT"], False),
    ("parameters-bad-type", "Fine", {"PREDICTIVE_UNIT_PARAMETERS":
                                     '[{"name": "size", "value": "1", "type": "LONG"}]'}, 1,
     ["ERROR:", "PREDICTIVE_UNIT_PARAMETERS[0]", "LONG"], False),
    # constructed in the worker (the default): its failure halts the server with code 3
    ("constructor-raises", "CtorFails", {"PREDICTIVE_UNIT_PARAMETERS": parameters(threshold=9)},
     3, ["ERROR:", "CtorFails", "ValueError", "threshold 9 is out of range", "CtorFails.py"],
     True),
    ("constructor-raises-in-master", "CtorFails", {
        "PREDICTIVE_UNIT_PARAMETERS": parameters(threshold=9), "MODELKILN_CONSTRUCT_IN": "master"},
     1, ["ERROR:", "CtorFails", "ValueError", "threshold 9 is out of range", "CtorFails.py"],
     True),
    ("bad-service-type", "Fine", {"SERVICE_TYPE": "PREDICTOR"}, 2,
     ["ERROR:", "SERVICE_TYPE", "PREDICTOR"], False),
    ("zero-workers", "Fine", {"GUNICORN_WORKERS": "0"}, 2,
     ["ERROR:", "GUNICORN_WORKERS"], False),
]


@pytest.mark.parametrize("model_name,env,code,expected,traceback",
                         [c[1:] for c in STARTUP_FAILURES], ids=[c[0] for c in STARTUP_FAILURES])
def test_startup_failure(serve, model_name, env, code, expected, traceback):
    server = serve("broken", model_name, env=env, ready=False)
    returncode = server.wait_exit(60)
    stderr = server.stderr()
    assert returncode != 0, server.log_tail()
    if code is not None:
        assert returncode == code, server.log_tail()
    error_lines = [line for line in stderr.splitlines() if line.startswith("ERROR:")]
    assert error_lines, stderr
    assert error_lines[0].startswith("ERROR: ")
    for text in expected:
        assert text in stderr, (text, stderr)
    assert expected[1] in error_lines[0], stderr  # the ERROR line itself names the problem
    if traceback is True:
        assert "Traceback (most recent call last)" in stderr, stderr
    elif traceback is False:
        assert "Traceback" not in server.log(), server.log()


def test_same_port_twice_is_refused(tmp_path):
    server = LiveServer("broken", "Fine", workdir=str(tmp_path))
    server.metrics_port = server.http_port
    try:
        server.start()
        assert server.wait_exit(60) != 0
        assert "ERROR:" in server.stderr() and "metrics port" in server.stderr(), server.stderr()
    finally:
        server.stop()


# -- development server ---------------------------------------------------------------------


def test_debug_runs_flask_development_server(serve):
    server = serve("echo", "Echo", args=["--debug"])
    n = 5
    for i in range(n):
        answer = server.post(PREDICTIONS, json=message([[i, 1]]))
        assert answer.status_code == 200, answer.text
        assert answer.json() == echoed([[i, 1]])
    assert server.get("/health/ping").text == "pong"
    # One process, no gunicorn workers.
    assert server.workers() == []
    assert "Serving Flask app" in server.log()
    text = server.scrape()
    assert metric_sum(text, "modelkiln_http_requests_total", route=PREDICTIONS,
                      status="200") == n, text
    assert_error_body(requests.get(server.metrics_url("/predict"), timeout=30), 404)
    # Never Werkzeug's interactive debugger (it runs code sent to /console), and only on
    # 127.0.0.1 unless MODELKILN_BIND_HOST says otherwise.
    console = server.get("/console")
    assert console.status_code == 404 and "Werkzeug" not in console.text, console.text
    assert listen_addresses(server.http_port) == {"127.0.0.1"}


def listen_addresses(port):
    """The local IPv4 addresses listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as handle:
        for row in handle.read().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_gunicorn_listens_on_every_interface_by_default(serve):
    server = serve("echo", "Echo")
    assert listen_addresses(server.http_port) == {"0.0.0.0"}


def test_no_writable_temporary_folder_is_named_with_the_fix(monkeypatch, tmp_path):
    """A read-only root filesystem without an emptyDir on /tmp: the start fails naming it."""
    from python_runtime import server as server_module
    from python_runtime.settings import Settings, SettingsError

    def no_folder(*args, **kwargs):
        raise FileNotFoundError("No usable temporary directory found in ['/tmp']")

    monkeypatch.chdir(str(tmp_path))  # serve() moves into the app folder; restored after
    monkeypatch.setattr(server_module.tempfile, "mkdtemp", no_folder)
    settings = Settings.load([str(live.APPS / "echo")], environ={}, read_annotations=False)
    with pytest.raises(SettingsError) as caught:
        server_module.serve(settings)
    assert "mount an emptyDir (or a tmpfs) at /tmp" in str(caught.value)
    assert "No usable temporary directory" in str(caught.value)
