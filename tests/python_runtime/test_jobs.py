"""File jobs (``python -m python_runtime.jobs predict|info``): every input format, errors
mid-file, workers keeping order, shards, resume after a SIGKILL, ODAHU's form, bad inputs."""

import contextlib
import csv
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from python_runtime.jobs import inputs as jobinputs, outputs as joboutputs, predict as jobs

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
    assert json.loads((outdir / "results.json").read_text()) == {
        "prediction": [[1, 2], [3, 4]], "columns": ["t:0", "t:1"]}


@pytest.mark.parametrize("make, says", [
    (lambda d: (d / "missing.jsonl", d / "out.jsonl"), "does not exist"),
    (lambda d: (d / "in.txt", d / "out.jsonl"), "the extension says the format"),
    (lambda d: (d / "in.jsonl", d / "no-such-folder" / "out.jsonl"),
     "no-such-folder does not exist: create it first"),
    (lambda d: (d / "bad.csv", d / "out.csv"), "bad.csv line 3 has 1 values for 2 columns"),
    (lambda d: (d / "in.csv", d / "out.jsonl"), "name the output .csv or .npy"),
], ids=["missing", "extension", "missing-folder", "columns", "table-to-lines"])
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


# -- resume: byte-identical to a clean run, whatever the kill point ----------------------------

def resume_at_every_offset(run, target, clean, code):
    """Cut ``target`` at every byte of the clean output ``clean`` (empty, a cut header, the
    header alone, a cut line, a row boundary, the whole file) and resume with ``run()``: each
    time the clean bytes and exit code come back."""
    for offset in range(len(clean) + 1):
        target.write_bytes(clean[:offset])
        assert run() == code, offset
        assert target.read_bytes() == clean, "cut at byte %d of %d" % (offset, len(clean))
        assert not os.path.exists(str(target) + ".lock")


def write_table(path, rows, names=("a", "b")):
    if str(path).endswith(".npy"):
        np.save(str(path), np.asarray(rows, dtype=float))
    else:
        path.write_text(",".join(names) + "\n" + "".join(
            ",".join("%g" % v for v in row) + "\n" for row in rows))


RESUMED = [  # (id, app, input, output, extra arguments, exit code)
    ("jsonl", ECHO, "in.jsonl", "out.jsonl", [], 1),  # with an error line: exit 1 both times
    ("json-array", ECHO, "in.json", "out.jsonl", [], 0),
    ("jsonl-shard", ECHO, "in.jsonl", "out.jsonl", ["--shard", "1/2"], 1),
    ("jsonl-workers", ECHO, "in.jsonl", "out.jsonl", ["--workers", "2"], 1),
    ("csv", ECHO, "in.csv", "out.csv", ["--batch-size", "2"], 0),
    ("csv-quoted-newlines", os.path.join(APPS, "labels"), "in.csv", "out.csv",
     ["--batch-size", "2"], 0),
    ("npy-to-csv", ECHO, "in.npy", "out.csv", ["--batch-size", "3"], 0),
    ("npy", ECHO, "in.npy", "out.npy", [], 0),
    ("csv-to-npy", ECHO, "in.csv", "out.npy", [], 0),
]


@pytest.mark.parametrize("app, source, target, extra, code",
                         [row[1:] for row in RESUMED], ids=[row[0] for row in RESUMED])
def test_resume_after_any_kill_point_gives_the_clean_runs_bytes(tmp_path, capsys, app, source,
                                                                target, extra, code):
    source, target = tmp_path / source, tmp_path / target
    if source.suffix == ".jsonl":
        write_lines(source, [message(1, 2), "{not json", message(3, 4), v2(5, 6)])
    elif source.suffix == ".json":
        source.write_text(json.dumps([message(1, 2), v2(3, 4), message(5, 6)]))
    else:
        write_table(source, [[i, 0.5 * i] for i in range(5)])
    def run(*more):
        return jobs.main(["predict", app, str(source), str(target)] + extra + list(more))

    written = tmp_path / "out.shard-1-of-2.jsonl" if "--shard" in extra else target
    assert run() == code
    clean = written.read_bytes()
    assert clean.endswith(b"\n") or written.suffix == ".npy"
    if "--workers" in extra:  # a pool is slow to start: one kill point of each kind
        first = clean.index(b"\n") + 1
        for cut in (b"", clean[:5], clean[:first], clean[:first + 5], clean):
            written.write_bytes(cut)
            assert run("--resume") == code and written.read_bytes() == clean
    else:
        resume_at_every_offset(lambda: run("--resume"), written, clean, code)
    assert "Traceback" not in capsys.readouterr().err


def test_a_csv_output_holding_only_its_header_is_not_given_a_second_one(tmp_path, capsys):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    write_table(source, [[1, 2], [3, 4]])
    target.write_bytes(b"t:0,t:1\r\n")
    assert jobs.main(["predict", ECHO, str(source), str(target), "--resume"]) == 0
    assert target.read_bytes() == b"t:0,t:1\r\n1.0,2.0\r\n3.0,4.0\r\n"


def test_complete_records_cuts_a_record_cut_inside_its_quotes(tmp_path):
    out = tmp_path / "out.csv"
    out.write_bytes(b'a,b\r\n"x\r\ny",1\r\n"cut\r\nhere')
    assert joboutputs.complete_records(str(out)) == 2
    assert out.read_bytes() == b'a,b\r\n"x\r\ny",1\r\n'
    out.write_bytes(b'a,b\r\n1,"2"x\r\n')
    with pytest.raises(jobs.JobError) as info:
        joboutputs.complete_records(str(out))
    assert "cannot resume" in str(info.value) and "remove it to start over" in str(info.value)


# -- one job per output -----------------------------------------------------------------------

def test_a_second_job_on_the_same_output_is_refused_and_nothing_is_lost(tmp_path):
    slow = os.path.join(APPS, "slowecho")
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(source, [message(i) for i in range(40)])
    # 0.25 s an item: the first job runs for 10 s, time for two more jobs to start on a
    # loaded machine (each imports numpy) while it holds the output
    slower = json.dumps([{"name": "seconds", "value": "0.25", "type": "FLOAT"}])
    first = subprocess.Popen([sys.executable, "-m", "python_runtime.jobs", "predict", slow,
                              str(source), str(target)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             env=dict(os.environ, PYTHONPATH=REPO_ROOT,
                                      PREDICTIVE_UNIT_PARAMETERS=slower))
    try:
        deadline = time.time() + 60
        while not (target.exists() and target.read_text().count("\n") >= 2):
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
        for extra in ([], ["--resume"]):
            second = run_job("predict", ECHO, source, target, *extra)
            assert second.returncode == 2
            assert second.stderr == (
                "ERROR: output %s is in use by another job (pid %d on %s, lock %s.lock): wait "
                "for it to end, or give this job another output\n"
                % (target, first.pid, socket.gethostname(), target))
        assert first.poll() is None, "the first job ended before the second ones were refused"
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert [line["data"]["ndarray"] for line in read_lines(target)] == [[[i]] for i in range(40)]
    assert not os.path.exists(str(target) + ".lock")


def test_the_lock_of_a_killed_job_does_not_hold_back_its_resume(tmp_path):
    target = tmp_path / "out.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from python_runtime.jobs.outputs import OutputLock\n"
        "with OutputLock(%r):\n    print('locked', flush=True); time.sleep(60)\n")
        % (REPO_ROOT, str(target))], stdout=subprocess.PIPE, universal_newlines=True)
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(joboutputs.JobError):
        joboutputs.OutputLock(str(target)).__enter__()
    holder.kill()
    holder.wait(10)
    with joboutputs.OutputLock(str(target)):  # the kernel released the dead job's lock
        assert os.path.exists(str(target) + ".lock")
    assert not os.path.exists(str(target) + ".lock")


# -- the job could not run: exit 2, one line ---------------------------------------------------

AS_THE_SERVER = " (JSON numbers, as the server reads them: no NaN, Infinity or empty values)\n"
CANNOT_RUN = [  # (id, input name, input bytes, output name, the line on stderr)
    ("empty-npy", "in.npy", b"", "out.npy",
     "ERROR: {d}/in.npy is empty: a .npy input holds an array written by numpy.save\n"),
    ("csv-field-over-128k", "in.csv", b"a,b\n1," + b"7" * (128 << 10) + b"1\n", "out.csv",
     "ERROR: {d}/in.csv line 2 is not a CSV row of numbers: field larger than field limit "
     "(131072)\n"),
    ("csv-nan", "in.csv", b"a,b\n1,2\n3,NaN\n", "out.csv",
     "ERROR: {d}/in.csv line 3: 'NaN' in column b is not a number" + AS_THE_SERVER),
    ("csv-infinity", "in.csv", b"a,b\n-Infinity,2\n", "out.csv",
     "ERROR: {d}/in.csv line 2: '-Infinity' in column a is not a number" + AS_THE_SERVER),
    ("csv-not-utf8", "in.csv", b"a,b\n1,2\n\xff,3\n", "out.csv",
     "ERROR: {d}/in.csv line 3 is not UTF-8 text (byte 0): save the file as UTF-8\n"),
    ("csv-empty", "in.csv", b"", "out.csv",
     "ERROR: {d}/in.csv is empty: a CSV input starts with a header line\n"),
    ("json-nan", "in.json", b'[{"data": {"ndarray": [[NaN]]}}]', "out.jsonl",
     "ERROR: {d}/in.json is not JSON the server accepts: invalid JSON: NaN"),
    ("npy-corrupt", "in.npy", b"\x93NUMPY\x01\x00garbage", "out.npy",
     "ERROR: {d}/in.npy is not a readable .npy array: "),
    ("output-folder-missing", "in.jsonl", b"{}\n", "gone/out.jsonl",
     "ERROR: cannot write {d}/gone/out.jsonl: the folder {d}/gone does not exist: create it "
     "first\n"),
    ("output-a-folder", "in.jsonl", b"{}\n", ".",
     "ERROR: output {d} is a folder: name the output file"),
]


@pytest.mark.parametrize("name, data, output, says", [row[1:] for row in CANNOT_RUN],
                         ids=[row[0] for row in CANNOT_RUN])
def test_a_job_that_cannot_run_exits_2_with_one_line(tmp_path, name, data, output, says):
    (tmp_path / name).write_bytes(data)
    done = run_job("predict", ECHO, tmp_path / name, tmp_path / output)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(says.format(d=tmp_path)), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_a_table_answer_of_another_row_count_stops_the_job(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    write_table(source, [[i, i] for i in range(6)])
    done = run_job("predict", os.path.join(APPS, "reshape"), source, target, "--batch-size", "6")
    assert done.returncode == 2
    assert done.stderr == ("ERROR: rows 1-6 of %s: the model answered 3 row(s) for 6; a table "
                           "job needs one answer row per input row\n" % source)


@contextlib.contextmanager
def root_owned():
    """A folder as ``docker run -v $PWD:/data`` mounts a root-owned one: mode 755, reachable
    by every user (pytest's own temporary folders are not)."""
    if os.getuid() != 0:
        pytest.skip("needs root to own the folder and run the job as another user")
    folder = tempfile.mkdtemp(prefix="modelkiln-data-")
    os.chmod(folder, 0o755)
    try:
        yield pathlib.Path(folder)
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def root_owned_folder():
    with root_owned() as folder:
        yield folder


def as_image_user(target):
    """``joboutputs.writable_folder(target)`` as the image's user (uid 1001, group 0): its
    message, or "" when the folder is writable. The interpreter is one whose standard library
    that user can read (this test's own may live in root's home folder)."""
    script = ("import os, sys; os.setgroups([]); os.setgid(0); os.setuid(1001); "
              "sys.path.insert(0, %r); from python_runtime.jobs import outputs as joboutputs\n"
              "try:\n    joboutputs.writable_folder(sys.argv[1])\n"
              "except joboutputs.JobError as exc:\n    print(exc)\n" % REPO_ROOT)
    for python in (sys.executable, "/usr/bin/python3"):
        done = subprocess.run([python, "-c", script, str(target)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        if done.returncode == 0:
            return done.stdout
    pytest.skip("no Python here that uid 1001 can run: %s" % done.stderr[-200:])


def test_an_unwritable_folder_says_how_to_run_the_container(root_owned_folder):
    """The image's user and a folder that root owns: the message names the two fixes the
    README gives, and the second one works."""
    folder = root_owned_folder
    assert as_image_user(folder / "out.jsonl") == (
        'cannot write {d}/out.jsonl: {d} is not a writable folder for this user (uid '
        '1001, group 0): run the container with --user "$(id -u):$(id -g)" (the folder '
        "owner's ids), or make the folder group-writable for group 0 (chgrp 0 {d} && chmod g+w "
        "{d})\n".format(d=folder))
    os.chmod(str(folder), 0o775)  # chmod g+w: group 0 is the folder's group here
    assert as_image_user(folder / "out.jsonl") == ""


# -- the server's number parsing and limits ---------------------------------------------------

@pytest.mark.parametrize("line", [
    b'{"data": {"ndarray": [[NaN]]}}', b'{"data": {"ndarray": [[Infinity]]}}',
    b'{"data": {"ndarray": [[-Infinity]]}}', b'{"data": {"ndarray": [[1e999]]}}',
    b'{"data": {"ndarray": [[18446744073709551616]]}}', b'{"data": {"ndarray": [[1]]}}',
    b'{"data": {"ndarray": [[-9223372036854775808, 18446744073709551615]]}}',
    b'{"x": "\xff"}', b'[1, 2]', b'{"a": 1,}', b'  {"data": {"ndarray": [[0.5]]}}\r\n',
])
def test_a_job_line_is_parsed_as_the_server_parses_a_body(line):
    from python_runtime.codecs import jsonio
    from python_runtime.errors import BadDataError

    got = jobinputs.parse_line(7, line)
    try:
        expected = jsonio.loads(line)
    except BadDataError as exc:
        assert isinstance(got, jobinputs.BadLine)
        assert got.message.startswith("line 7")
        assert exc.message.replace("invalid JSON: ", "") in got.message
    else:
        assert got == expected


def test_bounded_lines_never_hold_a_long_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"ab\n" + b"x" * 100000 + b"\n\ncd")
    with open(str(path), "rb") as handle:
        assert list(jobinputs.bounded_lines(handle, 10)) == [
            (1, b"ab\n"), (2, None), (3, b"\n"), (4, b"cd")]
