"""``modelkiln batch`` (python -m python_runtime.jobs.batch) against a live server, through a proxy
that injects 503s and dropped connections: answers in input order, retries, 4xx lines written
as errors at once, tables over both protocols, resume, and the errors that stop a job."""

import csv
import http.client
import json
import os
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from python_runtime.jobs import batch

from .live import REPO_ROOT, running
from .test_jobs import (message, read_lines, resume_at_every_offset, v2, write_lines,
                        write_table)


class _ThreadingServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True


class FlakyProxy(object):
    """Forwards POSTs to ``upstream``; ``fault(n)`` picks what the n-th request (from 1) gets:
    None (forwarded), an HTTP status, or "drop" (the connection is closed unanswered)."""

    def __init__(self, upstream_port, fault):
        proxy = self
        self.count = 0
        self.faults = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.count += 1
                    decision = fault(proxy.count)
                    proxy.faults += decision is not None
                if decision == "drop":
                    self.close_connection = True
                    return
                if decision is not None:
                    data = json.dumps({"error": "injected %d" % decision}).encode()
                    self.send_response(decision)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                upstream.request("POST", self.path, body,
                                 {"Content-Type": "application/json"})
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server():
    with running("echo") as live:
        yield live


@pytest.fixture
def proxy(server):
    proxies = []

    def make(fault):
        made = FlakyProxy(server.http_port, fault)
        proxies.append(made)
        return made

    yield make
    for made in proxies:
        made.close()


def run_batch(*args):
    return subprocess.run([sys.executable, "-m", "python_runtime.jobs.batch"]
                          + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))


def test_messages_in_order_through_injected_503s_and_drops(server, proxy, tmp_path):
    # every 4th request is refused with 503, every 9th connection dropped: all are retried
    # (10 retries: a line failing 11 times in a row would be a 1-in-100,000 chance)
    flaky = proxy(lambda n: 503 if n % 4 == 0 else ("drop" if n % 9 == 0 else None))
    items = [message(i, i * 0.5) for i in range(40)]
    items[10] = "{not json"
    items[20] = {"data": {"tensor": {"shape": [2, 2], "values": [1]}}}  # the server's 400
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, items)
    done = run_batch("--url", "http://127.0.0.1:%d" % flaky.port, source, target,
                     "--workers", "4", "--retries", "10")
    assert done.returncode == 1, done.stderr  # two lines failed, the rest did not
    lines = read_lines(target)
    assert len(lines) == 40
    for i, line in enumerate(lines):
        if i == 10:
            assert line["line"] == 11 and line["error"]["status"] == 400
            assert "line 11 is not JSON" in line["error"]["message"]
        elif i == 20:
            assert line["line"] == 21 and line["error"]["status"] == 400
            assert line["error"]["reason"] == "MICROSERVICE_BAD_DATA"
        else:
            assert line.get("data", {}).get("ndarray") == [[i, i * 0.5]], (i, line)
    assert flaky.faults > 5
    assert "40 item(s) sent" in done.stderr and "2 failed" in done.stderr
    assert "0 retried" not in done.stderr


def test_a_4xx_is_not_retried_and_retries_run_out_on_a_down_model(server, proxy, tmp_path):
    always = proxy(lambda n: 503)
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [message(1), message(2)])
    done = run_batch("--url", "http://127.0.0.1:%d" % always.port, source, target,
                     "--retries", "2", "--workers", "1")
    assert done.returncode == 1
    assert [line["error"]["status"] for line in read_lines(target)] == [503, 503]
    assert read_lines(target)[0]["error"]["message"] == "injected 503"
    assert always.count == 6  # 1 + 2 retries per line
    refusing = proxy(lambda n: 422)
    done = run_batch("--url", "http://127.0.0.1:%d" % refusing.port, source, target,
                     "--retries", "4")
    assert done.returncode == 1 and refusing.count == 2  # a client's mistake: no retry
    assert [line["error"]["status"] for line in read_lines(target)] == [422, 422]


@pytest.mark.parametrize("protocol", ["seldon", "v2"])
def test_a_csv_table_in_batches_over_both_protocols(server, tmp_path, protocol):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    rows = [[i, i + 0.25, -i] for i in range(50)]
    with open(str(source), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c"])
        writer.writerows(rows)
    done = run_batch("--url", server.url(""), source, target, "--protocol", protocol,
                     "--model", "Echo", "--batch-size", "7", "--workers", "3")
    assert done.returncode == 0, done.stderr
    with open(str(target), newline="") as handle:
        out = list(csv.reader(handle))
    assert len(out) == 51
    assert [[float(v) for v in row] for row in out[1:]] == [[float(v) for v in r] for r in rows]
    assert len(out[0]) == 3


def test_resume_continues_a_cut_output_to_what_a_clean_run_writes(server, tmp_path):
    items = [message(i) for i in range(30)] + [v2(7, 8)]
    source = tmp_path / "in.jsonl"
    write_lines(source, items)
    clean, cut = tmp_path / "clean.jsonl", tmp_path / "cut.jsonl"
    url = server.url("")
    assert run_batch("--url", url, source, clean, "--protocol", "seldon").returncode == 1
    text = clean.read_text()
    # a job killed after 12 lines and part of the 13th
    lines = text.splitlines(True)
    cut.write_text("".join(lines[:12]) + lines[12][:9])
    done = run_batch("--url", url, source, cut, "--resume")
    assert "resuming after 12 completed line(s)" in done.stderr
    assert cut.read_text() == text


def test_shards_split_the_lines_between_jobs(server, tmp_path):
    source = tmp_path / "in.jsonl"
    write_lines(source, [message(i) for i in range(9)])
    out = tmp_path / "out.jsonl"
    for index in range(3):
        done = run_batch("--url", server.url(""), source, out, "--shard", "%d/3" % index)
        assert done.returncode == 0, done.stderr
    got = {}
    for index in range(3):
        shard = read_lines(tmp_path / ("out.shard-%d-of-3.jsonl" % index))
        for position, line in enumerate(shard):
            got[index + 3 * position] = line["data"]["ndarray"][0][0]
    assert got == {i: i for i in range(9)}


def test_what_stops_a_job_before_it_starts(tmp_path):
    source = tmp_path / "in.jsonl"
    write_lines(source, [message(1)])
    done = run_batch("--url", "http://127.0.0.1:1", source, tmp_path / "out.jsonl")
    assert done.returncode == 2 and "cannot connect to http://127.0.0.1:1" in done.stderr
    assert "is the server running?" in done.stderr
    done = run_batch("--url", "http://127.0.0.1:1", source, tmp_path / "out.jsonl",
                     "--protocol", "v2")
    assert done.returncode == 2 and "--protocol v2 needs --model NAME" in done.stderr
    done = run_batch("--url", "ftp://example.com", source, tmp_path / "out.jsonl")
    assert done.returncode == 2 and "must be http://HOST:PORT" in done.stderr
    done = run_batch("--url", "http://127.0.0.1:1", tmp_path / "missing.jsonl",
                     tmp_path / "out.jsonl")
    assert done.returncode == 2 and "missing.jsonl does not exist" in done.stderr


def test_what_is_retried():
    assert [batch.retryable(s) for s in (0, 500, 502, 503, 504, 501, 505, 400, 422, 200)] == [
        True, True, True, True, True, False, False, False, False, False]


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    assert batch.backoff(3, "2") == 2.0
    assert batch.backoff(1, "600") == batch.MAX_BACKOFF
    for attempt, top in ((1, 0.1), (2, 0.2), (4, 0.8), (12, batch.MAX_BACKOFF)):
        value = batch.backoff(attempt, "soon")  # neither seconds nor a date: the schedule
        assert top / 2 <= value <= top


def test_error_bodies_of_both_protocols_become_error_lines():
    seldon = json.dumps({"status": {"status": 1, "info": "bad shape", "code": -1,
                                    "reason": "MICROSERVICE_BAD_DATA"}}).encode()
    assert batch.parse_answer(400, seldon) == {"error": {
        "status": 400, "reason": "MICROSERVICE_BAD_DATA", "message": "bad shape"}}
    assert batch.parse_answer(400, b'{"error": "no such input"}')["error"]["message"] == \
        "no such input"
    assert batch.parse_answer(502, b"<html>gateway</html>")["error"] == {
        "status": 502, "reason": "HTTP_502", "message": "<html>gateway</html>"}
    assert batch.parse_answer(200, b"[1")["error"]["status"] == 200


BATCH_RESUMED = [  # (id, input, output, extra arguments, exit code)
    ("jsonl", "in.jsonl", "out.jsonl", [], 1),  # an error line in it: exit 1 both times
    ("json-array", "in.json", "out.jsonl", [], 0),
    ("csv-seldon", "in.csv", "out.csv", ["--batch-size", "2"], 0),
    ("csv-v2", "in.csv", "out.csv", ["--batch-size", "2", "--protocol", "v2", "--model", "Echo"],
     0),
    ("npy-to-csv", "in.npy", "out.csv", ["--batch-size", "3"], 0),
]


@pytest.mark.parametrize("source, target, extra, code", [row[1:] for row in BATCH_RESUMED],
                         ids=[row[0] for row in BATCH_RESUMED])
def test_resume_after_any_kill_point_gives_the_clean_runs_bytes(server, tmp_path, capsys,
                                                                source, target, extra, code):
    source, target = tmp_path / source, tmp_path / target
    if source.suffix == ".jsonl":
        write_lines(source, [message(1, 2), "{not json", message(3, 4), v2(5, 6)])
    elif source.suffix == ".json":
        source.write_text(json.dumps([message(1, 2), message(3, 4)]))
    else:
        write_table(source, [[i, 0.5 * i] for i in range(5)])

    def run(*more):
        return batch.main(["--url", server.url(""), str(source), str(target), "--workers", "2"]
                          + extra + list(more))

    assert run() == code
    resume_at_every_offset(lambda: run("--resume"), target, target.read_bytes(), code)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("answer, problem", [
    ({"data": {"ndarray": [[1, 2]] * 3}}, "the server answered 3 row(s) (shape [3, 2]) for 4"),
    ({"data": {"ndarray": 7}}, "the server answered no row(s) (shape []) for 4"),
    ({"data": {"tensor": {"shape": [8], "values": list(range(8))}}},
     "the server answered 8 row(s) (shape [8]) for 4"),
    ({"outputs": [{"name": "y", "shape": [2, 4], "data": list(range(8))}]},
     "the server answered 2 row(s) (shape [2, 4]) for 4"),
    ({"error": "a 200 that says error"}, "the server's answer holds no table"),
])
def test_table_answers_of_another_shape_are_named(answer, problem):
    """(A live server's 50x4 for 100x2: tests/reliability/test_job_attacks.py.)"""
    protocol = "v2" if "outputs" in answer else "seldon"
    job = batch.Batch(batch.Endpoint("http://127.0.0.1:1", protocol, "m", 1.0), protocol, 1, 0,
                      4, "x", limit=1000)
    assert job._table_answer(answer, 4)[0].startswith(problem)
    if protocol == "seldon":  # a column of 4 values is 4 rows
        assert job._table_answer({"data": {"ndarray": [1, 2, 3, 4]}}, 4) == (
            "", ["t:0"], [[1], [2], [3], [4]])


@pytest.mark.parametrize("value, seconds", [
    ("2", 2.0), ("0", 0.0), ("600", 600.0), ("99999999999999999999", 999999999999.0),
    ("nan", None), ("inf", None), ("-1", None), ("1e3", None), ("1.5", None), ("", None),
    ("٣", None), ("Thu, 01 Jan 1970 00:00:05 GMT", 0.0), ("Thu, 01 Jan 1970 00:00:30 GMT", 20.0),
    ("Thu, 01 Jan 1970 00:00:30", 20.0), ("Mon, 99 Foo 2015", None), ("garbage\x00", None),
])
def test_retry_after_is_seconds_or_a_date_and_nothing_else(value, seconds):
    assert batch.retry_after_seconds(value, now=10.0) == seconds
    wait = batch.backoff(1, value)
    assert 0.0 <= wait <= batch.MAX_BACKOFF  # never NaN, negative or long
    if seconds is not None and value.isdigit():
        assert wait == min(seconds, batch.MAX_BACKOFF)


def test_a_bad_request_size_limit_stops_the_job(tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.jsonl"
    write_lines(source, [message(1)])
    monkeypatch.setenv("MODELKILN_MAX_REQUEST_SIZE", "lots")
    assert batch.main(["--url", "http://127.0.0.1:1", str(source),
                       str(tmp_path / "out.jsonl")]) == 2
    assert capsys.readouterr().err.startswith(
        "ERROR: MODELKILN_MAX_REQUEST_SIZE='lots' is invalid: ")
