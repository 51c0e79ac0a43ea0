"""File jobs (``python -m python_runtime.jobs predict|info``): every input format, errors
mid-file, workers keeping order, shards, resume after a SIGKILL, ODAHU's form, bad inputs."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from python_runtime import jobs

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
ECHO = os.path.join(APPS, "echo")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def message(*row):
    return {"data": {"ndarray": [list(row)]}}


def v2(*row):
    return {"id": "r%d" % row[0], "inputs": [{"name": "x", "shape": [1, len(row)],
                                               "datatype": "FP64", "data": list(row)}]}


def write_lines(path, items):
    path.write_text("".join((json.dumps(i) if not isinstance(i, str) else i) + "\n"
                            for i in items))


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_job(*args, env=None):
    """The job as a command (a fresh process, as in an image)."""
    return subprocess.run([sys.executable, "-m", "python_runtime.jobs"] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT, **(env or {})))


def test_json_lines_of_both_protocols_with_errors_mid_file(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [message(1, 2), v2(3, 4.5), "{not json", message(5, 6), "[1, 2]"])
    done = run_job("predict", ECHO, source, target)
    assert done.returncode == 1, done.stderr  # not every line succeeded
    lines = read_lines(target)
    assert lines[0]["data"]["ndarray"] == [[1, 2]]
    assert lines[1]["model_name"] == "Echo" and lines[1]["id"] == "r3"
    assert lines[1]["outputs"][0]["data"] == [3.0, 4.5]
    assert lines[2]["line"] == 3 and "line 3 is not JSON" in lines[2]["error"]["message"]
    assert lines[3]["data"]["ndarray"] == [[5, 6]]
    assert lines[4]["line"] == 5 and lines[4]["error"]["status"] == 400
    assert "5 item(s) scored" in done.stderr and "2 failed" in done.stderr


def test_a_json_array_and_several_workers_keep_the_order(tmp_path):
    items = [message(i, -i) for i in range(95)]
    source, target = tmp_path / "in.json", tmp_path / "out.jsonl"
    source.write_text(json.dumps(items))
    done = run_job("predict", ECHO, source, target, "--workers", "3")
    assert done.returncode == 0, done.stderr
    assert [line["data"]["ndarray"] for line in read_lines(target)] == [
        [[i, -i]] for i in range(95)]


@pytest.mark.parametrize("ext", [".csv", ".npy"])
def test_tables_in_batches(tmp_path, ext):
    rows = np.arange(21.0).reshape(7, 3)
    source, target = tmp_path / ("in" + ext), tmp_path / ("out" + ext)
    if ext == ".csv":
        source.write_text("a,b,c\n" + "".join("%g,%g,%g\n" % tuple(r) for r in rows))
    else:
        np.save(str(source), rows)
    done = run_job("predict", ECHO, source, target, "--batch-size", "3")
    assert done.returncode == 0, done.stderr
    if ext == ".csv":
        with open(str(target)) as handle:
            table = list(csv.reader(handle))
        assert table[0] == ["t:0", "t:1", "t:2"]  # the output names, as Seldon names them
        assert np.array_equal(np.array(table[1:], dtype=float), rows)
    else:
        assert np.array_equal(np.load(str(target)), rows)


def test_shards_split_the_items_between_them(tmp_path):
    source = tmp_path / "in.jsonl"
    write_lines(source, [message(i) for i in range(10)])
    target = tmp_path / "out.jsonl"
    for index in range(3):
        done = run_job("predict", ECHO, source, target, "--shard", "auto",
                       env={"JOB_COMPLETION_INDEX": str(index), "MODELKILN_SHARDS": "3"})
        assert done.returncode == 0, done.stderr
    got = {}
    for index in range(3):
        shard = tmp_path / ("out.shard-%d-of-3.jsonl" % index)
        values = [line["data"]["ndarray"][0][0] for line in read_lines(shard)]
        assert values == list(range(index, 10, 3))
        got.update((v, index) for v in values)
    assert sorted(got) == list(range(10)) and not target.exists()


def test_resume_after_a_killed_run_gives_the_clean_runs_output(tmp_path):
    slow = os.path.join(APPS, "slowecho")
    source = tmp_path / "in.jsonl"
    write_lines(source, [message(i, i * i) for i in range(80)])
    clean = tmp_path / "clean.jsonl"
    assert run_job("predict", slow, source, clean,
                   env={"PREDICTIVE_UNIT_PARAMETERS": "[]"}).returncode == 0
    killed = tmp_path / "killed.jsonl"
    job = subprocess.Popen([sys.executable, "-m", "python_runtime.jobs", "predict", slow,
                            str(source), str(killed)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    deadline = time.time() + 60
    while not (killed.exists() and killed.read_text().count("\n") >= 20):
        assert time.time() < deadline and job.poll() is None
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait(10)
    written = killed.read_text().count("\n")
    assert 20 <= written < 80
    with killed.open("a") as handle:
        handle.write('{"data": {"ndar')  # a line cut by the kill
    done = run_job("predict", slow, source, killed, "--resume")
    assert done.returncode == 0, done.stderr
    assert "resuming after %d completed line(s)" % written in done.stderr
    assert killed.read_text() == clean.read_text()


def test_info_prints_metadata_and_schema(tmp_path):
    done = run_job("info", os.path.join(REPO_ROOT, "templates", "model-template-app"))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["model_name"] == "MyModel" and info["service_type"] == "MODEL"
    assert {"metadata", "inputs", "outputs"} <= set(info)


def test_odahu_form_writes_result_json_into_the_folder(tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}))
    outdir = tmp_path / "out"
    outdir.mkdir()
    done = run_job("predict", ECHO, source, outdir)
    assert done.returncode == 0, done.stderr
    assert json.loads((outdir / "result.json").read_text()) == {
        "prediction": [[1, 2], [3, 4]], "columns": ["t:0", "t:1"]}


@pytest.mark.parametrize("make, says", [
    (lambda d: (d / "missing.jsonl", d / "out.jsonl"), "does not exist"),
    (lambda d: (d / "in.txt", d / "out.jsonl"), "the extension says the format"),
    (lambda d: (d / "in.jsonl", d / "no-such-folder" / "out.jsonl"), "not a writable folder"),
    (lambda d: (d / "bad.csv", d / "out.csv"), "bad.csv line 3 has 1 values for 2 columns"),
    (lambda d: (d / "in.csv", d / "out.jsonl"), "name the output .csv or .npy"),
], ids=["missing", "extension", "unwritable", "columns", "table-to-lines"])
def test_bad_jobs_say_what_is_wrong(tmp_path, make, says):
    (tmp_path / "in.txt").write_text("x")
    write_lines(tmp_path / "in.jsonl", [message(1)])
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3\n")
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    source, target = make(tmp_path)
    done = run_job("predict", ECHO, source, target)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ERROR: ") and says in done.stderr, done.stderr


def test_parse_shard():
    assert jobs.parse_shard("1/4") == (1, 4)
    assert jobs.parse_shard(None) is None
    assert jobs.parse_shard("auto", {"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "5"}) == (2, 5)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(jobs.JobError):
            jobs.parse_shard(bad)
    with pytest.raises(jobs.JobError) as info:
        jobs.parse_shard("auto", {})
    assert "JOB_COMPLETION_INDEX" in str(info.value)
