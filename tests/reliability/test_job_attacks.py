"""File jobs (``predict``, ``batch --url``) against what used to lose data or end in a
traceback: each row says what a broken file, server, disk or second job does and what must
happen. Servers listen on 127.0.0.1; every job has a timeout.

Exit codes: 0 every item succeeded, 1 some items failed (error lines), 2 the job could not run
(one ``ERROR:`` line on stderr naming the fix, no traceback).
"""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

import pytest

from ..python_runtime import live
from ..python_runtime.test_jobs import (AS_THE_SERVER, ECHO, message, read_lines, root_owned,
                                        write_lines, write_table)

pytestmark = pytest.mark.slow

JOB_TIMEOUT = 120


def job(module, *args, env=None):
    return subprocess.run([sys.executable, "-m", module] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=JOB_TIMEOUT,
                          env=dict(os.environ, PYTHONPATH=str(live.REPO_ROOT), **(env or {})))


def predict(*args, env=None):
    return job("python_runtime.jobs", "predict", ECHO, *args, env=env)


def one_error_line(done):
    """The job could not run: exit 2, one ERROR line (after any progress lines) and no
    traceback; that line."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines(True)
    assert lines and lines[-1].startswith("ERROR: "), done.stderr
    assert all(line.startswith("progress: ") for line in lines[:-1]), done.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def server():
    with live.running("echo") as echo:
        yield echo


class _Threading(ThreadingMixIn, HTTPServer):
    daemon_threads = True


@pytest.fixture
def stub():
    """A server on 127.0.0.1 that answers every POST with ``answer() -> (status, headers,
    body)``: what a broken or hostile server sends."""
    servers = []

    def start(answer):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body = answer()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        made = _Threading(("127.0.0.1", 0), Handler)
        threading.Thread(target=made.serve_forever, daemon=True).start()
        servers.append(made)
        return "http://127.0.0.1:%d" % made.server_address[1]

    yield start
    for made in servers:
        made.shutdown()
        made.server_close()


# -- resume and concurrent jobs ---------------------------------------------------------------

def test_resume_of_a_csv_output_holding_only_its_header(tmp_path):
    source, clean, cut = tmp_path / "in.csv", tmp_path / "clean.csv", tmp_path / "cut.csv"
    write_table(source, [[1, 2], [3, 4], [5, 6]])
    assert predict(source, clean).returncode == 0
    header = clean.read_bytes().split(b"\n")[0] + b"\n"
    cut.write_bytes(header)  # killed after the header
    done = predict(source, cut, "--resume")
    assert done.returncode == 0, done.stderr
    assert cut.read_bytes() == clean.read_bytes()  # one header, as in a clean run


def test_two_jobs_started_together_on_one_output(tmp_path):
    """A retried Indexed Job pod beside the first: one runs, the other is refused; before,
    both exited 0 and only the second's lines survived."""
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [message(i) for i in range(30)])
    command = [sys.executable, "-m", "python_runtime.jobs", "predict",
               str(live.APPS / "slowecho"), str(source), str(target)]
    env = dict(os.environ, PYTHONPATH=str(live.REPO_ROOT),
               PREDICTIVE_UNIT_PARAMETERS=live.parameters(seconds=0.1))  # 3 s of scoring
    jobs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, env=env) for _ in range(2)]
    results = []
    for started in jobs:
        try:
            results.append((started.wait(JOB_TIMEOUT),) + started.communicate())
        finally:
            if started.poll() is None:
                started.kill()
    assert sorted(code for code, _, _ in results) == [0, 2], results
    refused = [err for code, _, err in results if code == 2][0]
    winner = [started.pid for started, (code, _, _) in zip(jobs, results) if code == 0][0]
    assert refused.startswith("ERROR: output %s is in use by another job (pid %d on "
                              % (target, winner)), refused
    assert refused.count("\n") == 1
    assert [line["data"]["ndarray"] for line in read_lines(target)] == [[[i]] for i in range(30)]


# -- answers that do not fit the batch --------------------------------------------------------

def test_batch_refuses_50x4_for_100x2(tmp_path):
    """Before: folded into 100 rows of 2 and exit 0."""
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    write_table(source, [[i, -i] for i in range(100)])
    with live.running("reshape") as reshaping:
        done = job("python_runtime.jobs.batch", "--url", reshaping.url(""), source, target,
                   "--batch-size", "100")
    assert one_error_line(done) == (
        "ERROR: rows 1-100 of %s failed: the server answered 50 row(s) (shape [50, 4]) for 100 "
        "rows sent: a table answer has one row per row sent; the 0 row(s) before them are in "
        "%s (rerun with --resume to continue)\n" % (source, target))


GARBAGE = [  # (id, the server's answer, what the job writes for the item)
    ("retry-after-nan", (503, [("Retry-After", "nan")], b'{"error": "busy"}'),
     {"status": 503, "reason": "HTTP_503", "message": "busy"}),
    ("retry-after-negative", (503, [("Retry-After", "-5")], b"{}"),
     {"status": 503, "reason": "HTTP_503", "message": "{}"}),
    ("retry-after-not-digits", (503, [("Retry-After", "1e9")], b"{}"),
     {"status": 503, "reason": "HTTP_503", "message": "{}"}),
    ("not-json", (200, [], b"<html>"), None),
    ("nested-100k-deep", (200, [], b"[" * 100000), None),
    ("not-utf8", (200, [], b'{"data": "\xff"}'), None),
]


@pytest.mark.parametrize("answer, error", [row[1:] for row in GARBAGE],
                         ids=[row[0] for row in GARBAGE])
def test_garbage_from_the_server_fails_the_item_not_the_job(stub, tmp_path, answer, error):
    url = stub(lambda: answer)
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [message(1), message(2)])
    done = job("python_runtime.jobs.batch", "--url", url, source, target, "--retries", "2",
               "--workers", "2")
    assert done.returncode == 1, done.stderr  # some items failed: their error lines
    assert "Traceback" not in done.stderr
    lines = read_lines(target)
    assert [line["line"] for line in lines] == [1, 2]
    if error is not None:
        assert [line["error"] for line in lines] == [error, error]
    else:
        assert all(line["error"]["message"].startswith("the server answered 200 with a body "
                                                       "that is not JSON") for line in lines)


# -- the job could not run --------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (needs root and mount rights: skipped otherwise)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stdout[-200:])
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".npy"])
def test_a_full_disk_stops_the_job_and_resume_finishes_it(tmp_path, tiny_disk, ext):
    if ext == ".jsonl":
        source = tmp_path / "in.jsonl"
        write_lines(source, [message(*range(i, i + 40)) for i in range(400)])
    else:
        source = tmp_path / "in.csv"
        write_table(source, [list(range(i, i + 40)) for i in range(400)],
                    names=["c%d" % i for i in range(40)])
    clean, target = tmp_path / ("clean" + ext), tiny_disk / ("out" + ext)
    assert predict(source, clean).returncode == 0
    assert len(clean.read_bytes()) > 64 << 10
    done = predict(source, target)
    says = one_error_line(done)
    assert says.startswith("ERROR: cannot write %s: No space left on device" % target), says
    assert not os.path.exists(str(target) + ".lock")
    if ext == ".npy":  # written whole at the end: nothing half-written is left behind
        assert says.endswith(": free some space, then run the job again (this output is "
                             "written whole at the end)\n")
        assert os.listdir(str(tiny_disk)) == []
        return
    assert says.endswith(": free some space, then rerun with --resume to continue\n")
    kept = target.read_bytes()
    subprocess.run(["mount", "-o", "remount,size=1m", str(tiny_disk)], check=True)
    done = predict(source, target, "--resume")
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == clean.read_bytes() and len(kept) > 0


@pytest.fixture
def root_owned_folder():
    with root_owned() as folder:
        yield folder


def test_an_unreadable_input(root_owned_folder):
    """Root reads every file: the input is opened as another user."""
    source = root_owned_folder / "in.jsonl"
    write_lines(source, [message(1)])
    os.chmod(str(source), 0o600)
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no /usr/bin/python3 to run as another user")
    script = ("import os, sys; os.setgroups([]); os.setgid(65534); os.setuid(65534); "
              "sys.path.insert(0, %r); from python_runtime.jobs import inputs as jobinputs\n"
              "try:\n    jobinputs.open_input(sys.argv[1])\n"
              "except jobinputs.JobError as exc:\n    print(exc)\n" % str(live.REPO_ROOT))
    done = subprocess.run(["/usr/bin/python3", "-c", script, str(source)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert done.stdout == ("cannot read input %s: Permission denied: check that this user can "
                           "read it\n" % source), done.stderr


# -- memory bounded by the batch, not the file ------------------------------------------------

def peak_rss_mb(*args, env=None):
    """The job's peak resident memory (MiB), measured by a parent of its own (so that no
    other child of this test process counts), and the job's exit code."""
    script = ("import resource, subprocess, sys\n"
              "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, "
              "stderr=subprocess.DEVNULL)\n"
              "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", script, sys.executable, "-m",
                           "python_runtime.jobs", "predict", ECHO] + [str(a) for a in args],
                          stdout=subprocess.PIPE, universal_newlines=True, timeout=JOB_TIMEOUT,
                          env=dict(os.environ, PYTHONPATH=str(live.REPO_ROOT), **(env or {})))
    code, rss = done.stdout.split()
    return int(code), int(rss) / 1024.0


# The bound: a job holds a few batches (20 messages each, here 1 KiB a message) beside the
# model, so its peak is the one-line job's plus allocator noise (measured: +1 MiB). 8 MiB is
# less than the 10 MiB file itself, so holding even its raw text would fail the test (the
# whole-file reader peaked at 222 MiB for such an input: the text, then every line parsed).
HEADROOM_MB = 8


def test_a_10_mb_jsonl_job_holds_a_batch_not_the_file(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    row = [round(0.001 * i, 3) for i in range(160)]
    write_lines(small, [{"data": {"ndarray": [row]}}])
    with open(str(big), "w") as handle:
        line = json.dumps({"data": {"ndarray": [row]}}) + "\n"
        for _ in range((10 << 20) // len(line) + 1):
            handle.write(line)
    assert os.path.getsize(str(big)) >= 10 << 20
    code, baseline = peak_rss_mb(small, tmp_path / "small.out.jsonl")
    assert code == 0
    code, peak = peak_rss_mb(big, tmp_path / "big.out.jsonl")
    assert code == 0
    assert peak < baseline + HEADROOM_MB, (baseline, peak)


def test_a_200_mb_line_is_refused_in_pieces(tmp_path):
    """One line over MODELKILN_MAX_REQUEST_SIZE (1 MiB here) is that item's 413, read in
    pieces: the job's memory stays that of a small job (before: 4.2 GB for a 2 GB line)."""
    small, source = tmp_path / "small.jsonl", tmp_path / "in.jsonl"
    write_lines(small, [message(1)])
    with open(str(source), "w") as handle:
        handle.write(json.dumps(message(1)) + "\n" + '{"data": {"ndarray": [[')
        piece = "1," * (1 << 19)
        for _ in range(200):
            handle.write(piece)
        handle.write("1]]}}\n" + json.dumps(message(3)) + "\n")
    env = {"MODELKILN_MAX_REQUEST_SIZE": "1m"}
    code, baseline = peak_rss_mb(small, tmp_path / "small.out.jsonl", env=env)
    assert code == 0
    target = tmp_path / "out.jsonl"
    code, peak = peak_rss_mb(source, target, env=env)
    assert code == 1  # that item failed
    assert peak < baseline + HEADROOM_MB, (baseline, peak)
    lines = read_lines(target)
    assert lines[1] == {"line": 2, "error": {
        "status": 413, "reason": "MICROSERVICE_BAD_DATA", "message":
        "line 2 is longer than the limit of 1048576 bytes (MODELKILN_MAX_REQUEST_SIZE): split "
        "it, or raise the limit"}}
    assert lines[0]["data"]["ndarray"] == [[1]] and lines[2]["data"]["ndarray"] == [[3]]


# -- the server's number parsing --------------------------------------------------------------

BODIES = [
    b'{"data": {"ndarray": [[NaN]]}}', b'{"data": {"ndarray": [[Infinity, 1]]}}',
    b'{"data": {"ndarray": [[-Infinity]]}}', b'{"data": {"ndarray": [[1e400]]}}',
    b'{"data": {"tensor": {"shape": [1], "values": [NaN]}}}',
    b'{"data": {"ndarray": [[18446744073709551616]]}}',
    b'{"data": {"ndarray": [[-9223372036854775809]]}}',
    b'{"data": {"ndarray": [[1.5, -2, 18446744073709551615]]}}',
    b'{"jsonData": {"x": NaN}}', b'{"strData": "NaN"}',
]


def test_job_lines_are_refused_exactly_where_the_server_refuses_the_body(server, tmp_path):
    """The same bodies POSTed to a live server and scored as job lines: the server's 400s
    are the job's error lines, with the server's own message; its 200s are the job's
    answers."""
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"\n".join(BODIES) + b"\n")
    predict(source, target)
    lines = read_lines(target)
    assert len(lines) == len(BODIES)
    for body, line in zip(BODIES, lines):
        answer = server.post("/api/v1.0/predictions", data=body,
                             headers={"Content-Type": "application/json"})
        if answer.status_code == 200:
            assert line == answer.json(), body
        else:
            assert answer.status_code == 400 and line["error"]["status"] == 400, body
            said = answer.json()["status"]["info"].replace("invalid JSON: ", "")
            assert said in line["error"]["message"], (body, said, line)


@pytest.mark.parametrize("field", ["NaN", "nan", "inf", "-Infinity", "1_0", "0x10", "",
                                   "18446744073709551616", "1e400"])
def test_a_csv_value_the_server_would_refuse_stops_the_job(tmp_path, field):
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,2\n3,%s\n" % field)
    says = one_error_line(predict(source, tmp_path / "out.csv"))
    assert says == "ERROR: %s line 3: %r in column b is not a number%s" % (
        source, field, AS_THE_SERVER)
