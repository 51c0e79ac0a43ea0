"""The seeds' job APIs served by the image: Modzy's file-job API on PSC_MODEL_PORT (/status,
/run, /shutdown) and ODAHU's /api/model/info and /api/model/invoke on the REST port."""

import json
import os
import sys

import pytest
import requests
from werkzeug.test import Client

from python_runtime.jobs import predict as jobs
from python_runtime.model.context import LoadState
from python_runtime.transport.http import PortApp, create_app
from python_runtime.inference import documents
from python_runtime.protocols import modzy
from python_runtime.server import load_component, user_class
from python_runtime.settings import Settings

from .live import APPS, LiveServer, free_port, running

FILEJOB = str(APPS / "filejob")
MODZYYAML = str(APPS / "modzyyaml")
MODZY_PORT = 8099  # the modzyyaml app's .s2i/environment sets it (never bound in-process)


def call(client, method, path, **kwargs):
    answer = client.open(path, method=method, **kwargs)
    return answer.status_code, json.loads(answer.data)


@pytest.fixture(scope="module")
def yaml_app():
    """The app with a model.yaml, built in this process; its Modzy port as a WSGI client."""
    return Client(PortApp(jobs.load_app(MODZYYAML), MODZY_PORT))


@pytest.fixture(scope="module")
def server():
    """A live server of the filejob app with Modzy's API on a port of its own."""
    port = free_port()
    with running("filejob", env={"PSC_MODEL_PORT": str(port)}) as live:
        live.modzy_port = port
        yield live


def modzy_url(server, path):
    return "http://127.0.0.1:%d%s" % (server.modzy_port, path)


def run_job(server, job, **kwargs):
    kwargs.setdefault("json", job)
    answer = requests.post(modzy_url(server, "/run"), timeout=30, **kwargs)
    return answer.status_code, answer.json()


# -- Modzy ------------------------------------------------------------------------------------

def test_modzy_status_says_ready_in_the_spec_body(server):
    answer = requests.get(modzy_url(server, "/status"), timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"statusCode": 200, "status": "OK", "message": "FileJob is ready"}


def test_modzy_run_reads_input_json_and_writes_results_json(server, tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    target.mkdir()
    (source / "input.json").write_text(json.dumps({"data": {"ndarray": [[1, 2.5]]}}))
    status, body = run_job(server, {"type": "file", "input": str(source),
                                    "output": str(target)})
    assert status == 200, body
    assert body["statusCode"] == 200 and body["status"] == "OK"
    assert body["message"].startswith("wrote results.json")
    result = json.loads((target / "results.json").read_text())
    assert result["data"]["ndarray"] == [[1, 2.5]]
    # other JSON goes to the model as jsonData, and its jsonData answer is the whole file
    (source / "input.json").write_text(json.dumps({"colour": "ffaa00"}))
    status, body = run_job(server, {"type": "file", "input": str(source),
                                    "output": str(target)})
    assert status == 200, body
    assert json.loads((target / "results.json").read_text()) == {"colour": "ffaa00"}
    assert [p.name for p in target.iterdir()] == ["results.json"]  # no temporary left


@pytest.mark.parametrize("job, status, words", [
    ({"type": "stream", "input": "/tmp", "output": "/tmp"}, 400, '"type" must be "file"'),
    ({"type": "file", "input": "/etc", "output": "/tmp"}, 400,
     "invalid job configuration: the input folder /etc is in the system folder /etc"),
    ({"type": "file", "input": "data", "output": "/tmp"}, 400,
     "invalid job configuration: the input folder data is not an absolute path"),
    ({"type": "file", "input": "/tmp", "output": os.path.realpath(FILEJOB)}, 400,
     "the output folder %s is inside the app folder %s" % ((os.path.realpath(FILEJOB),) * 2)),
    ({"type": "file", "output": "/tmp"}, 400, '"input" must name a folder'),
    ({"type": "file", "input": "/no/such/folder", "output": "/tmp"}, 400,
     "input folder /no/such/folder does not exist"),
    ([1, 2], 400, "the job must be a JSON object"),
])
def test_modzy_run_refuses_a_bad_job_with_400(server, job, status, words):
    code, body = run_job(server, job)
    assert code == status and body["statusCode"] == status, body
    assert body["status"] == "Bad Request" and words in body["message"]


def test_modzy_run_status_codes_follow_the_spec(server, tmp_path):
    job = {"type": "file", "input": str(tmp_path), "output": str(tmp_path)}
    code, body = run_job(server, job)  # no input.json in the folder
    assert code == 400 and "input.json cannot be read" in body["message"], body
    answer = requests.post(modzy_url(server, "/run"), data=json.dumps(job), timeout=10,
                           headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and answer.json()["status"] == "Unsupported Media Type"
    (tmp_path / "input.json").write_text("{not json")
    code, body = run_job(server, job)
    assert code == 422 and "input.json is not JSON" in body["message"], body
    (tmp_path / "input.json").write_text(json.dumps({"refuse": "cats"}))
    code, body = run_job(server, job)
    assert code == 422 and body["status"] == "Unprocessable Entity", body
    assert "this model does not take 'cats'" in body["message"]
    (tmp_path / "input.json").write_text(json.dumps(
        {"data": {"tensor": {"shape": [2, 2], "values": [1]}}}))
    code, body = run_job(server, job)  # the runtime cannot decode it: the input's fault
    assert code == 422, body
    (tmp_path / "input.json").write_text(json.dumps({"strData": "boom"}))
    code, body = run_job(server, job)
    assert code == 500 and body["status"] == "Internal Server Error", body
    assert "the model broke on boom" in body["message"]
    assert not (tmp_path / "results.json").exists()  # nothing half-written


def test_modzy_port_answers_its_own_404_and_the_rest_port_is_unchanged(server):
    answer = requests.get(modzy_url(server, "/predict"), timeout=10)
    assert answer.status_code == 404 and answer.json()["statusCode"] == 404
    assert requests.get(server.url("/run"), timeout=10).status_code == 404  # REST port
    answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[3]]}})
    assert answer.status_code == 200 and answer.json()["data"]["ndarray"] == [[3]]


def test_model_yaml_names_the_files_of_a_job(yaml_app, tmp_path):
    (tmp_path / "words.txt").write_text("hello")
    (tmp_path / "settings.json").write_text('{"loud": true}')
    out = tmp_path / "out"
    out.mkdir()
    # several inputs: one jsonData object keyed by file name; its keys fill the outputs
    status, body = call(yaml_app, "POST", "/run", json={
        "type": "file", "input": str(tmp_path), "output": str(out)})
    assert status == 200, body
    assert (out / "words.txt").read_text() == "hello"
    assert json.loads((out / "settings.json").read_text()) == {"loud": True}
    os.remove(str(tmp_path / "words.txt"))
    status, body = call(yaml_app, "POST", "/run", json={
        "type": "file", "input": str(tmp_path), "output": str(out)})
    assert status == 400 and "words.txt cannot be read" in body["message"]


@pytest.mark.parametrize("text, words", [
    ("inputs: [a, b]\n", "inputs must map file names"),
    ("outputs:\n  ../escape.json: {}\n", "not a file name"),
    ("- just\n- a list\n", "must be a mapping"),
    ("inputs: {a: [\n", "cannot be read"),
])
def test_a_broken_model_yaml_is_named(tmp_path, text, words):
    (tmp_path / "model.yaml").write_text(text)
    with pytest.raises(modzy.ModelYamlError) as caught:
        modzy.job_files(str(tmp_path))
    assert words in str(caught.value) and "model.yaml" in str(caught.value)


def test_job_files_default_without_model_yaml(tmp_path):
    assert modzy.job_files(str(tmp_path)) == (("input.json",), ("results.json",))


def test_modzy_shutdown_answers_202_then_the_server_exits_0():
    port = free_port()
    live = LiveServer("filejob", args=["--modzy-port", str(port)])
    live.start()
    try:
        live.wait_ready()
        answer = requests.post("http://127.0.0.1:%d/shutdown" % port, timeout=10)
        assert answer.status_code == 202
        assert answer.json() == {"statusCode": 202, "status": "Accepted",
                                 "message": "the server stops and exits with code 0"}
        assert live.wait_exit(30) == 0, live.log_tail()
    finally:
        live.stop()


# -- Modzy: where a job may read and write, and how much ---------------------------------------

APP = os.path.realpath(FILEJOB)
PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(modzy.__file__)))
PREFIX = os.path.realpath(sys.prefix)
INVALID = "invalid job configuration: "
NEVER = (", which jobs may never read or write: give the job folders of its own, e.g. a "
         "mounted volume (MODELKILN_JOB_ROOTS lists the folders jobs may use)")
SYSTEM = (": use another absolute folder (/tmp, /data, a mounted volume), or set "
          "MODELKILN_JOB_ROOTS to the folders the platform mounts")


def modzy_client(app=FILEJOB, **env):
    """Modzy's port of ``app`` in this process, with these settings."""
    environ = dict(env, PSC_MODEL_PORT=str(MODZY_PORT))
    settings = Settings.load([app], environ=environ, read_annotations=False)
    state = LoadState()
    state.ready = True
    app = create_app(settings, load_component(settings, user_class(settings)), None, state)
    return Client(PortApp(app, MODZY_PORT))


@pytest.fixture
def job_tmp(tmp_path):
    """A job folder holding input.json, an empty output folder and a few links."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "input.json").write_text('{"strData": "hi"}')
    (tmp_path / "out").mkdir()
    (tmp_path / "jobs" / "in").mkdir(parents=True)
    (tmp_path / "jobs" / "in" / "input.json").write_text('{"strData": "hi"}')
    (tmp_path / "to-app").symlink_to(APP)
    (tmp_path / "jobs" / "to-outside").symlink_to(tmp_path / "out")
    return tmp_path


CONFINEMENT = [
    # id, MODELKILN_JOB_ROOTS (None: unset), input, output, status, message ({tmp}: the
    # job folder; {app}, {package}, {prefix}: the app folder and modelkiln's own install)
    ("accepted", None, "{tmp}/in", "{tmp}/out", 200, None),
    ("relative-input", None, "in", "{tmp}/out", 400,
     INVALID + "the input folder in is not an absolute path: name it from / (a relative path "
     "would resolve against the server's working folder)"),
    ("dot-relative-output", None, "{tmp}/in", "./out", 400,
     INVALID + "the output folder ./out is not an absolute path: name it from / (a relative "
     "path would resolve against the server's working folder)"),
    ("path-too-long", None, "/tmp/" + "a/" * 2046, "{tmp}/out", 400,
     INVALID + "the input folder /tmp/%s... is longer than a path can be (4096 characters)"
     % ("a/" * 96)),
    ("app-folder", None, "{tmp}/in", "{app}", 400,
     INVALID + "the output folder {app} is inside the app folder {app}" + NEVER),
    ("inside-app-folder", None, "{tmp}/in", "{app}/.s2i", 400,
     INVALID + "the output folder {app}/.s2i is inside the app folder {app}" + NEVER),
    ("dotdot-into-app", None, "{tmp}/in", "{app}/.s2i/..", 400,
     INVALID + "the output folder {app}/.s2i/.. is inside the app folder {app}" + NEVER),
    ("link-to-app", None, "{tmp}/to-app", "{tmp}/out", 400,
     INVALID + "the input folder {tmp}/to-app (a link to {app}) is inside the app folder "
     "{app}" + NEVER),
    ("own-package", None, "{tmp}/in", "{package}", 400,
     INVALID + "the output folder {package} is inside modelkiln's own package {package}"
     + NEVER),
    ("python-environment", None, "{prefix}/bin", "{tmp}/out", 400,
     INVALID + "the input folder {prefix}/bin is inside the Python environment the server "
     "runs from {prefix}" + NEVER),
    ("etc", None, "{tmp}/in", "/etc", 400,
     INVALID + "the output folder /etc is in the system folder /etc" + SYSTEM),
    ("root", None, "/", "{tmp}/out", 400,
     INVALID + "the input folder / is in the system folder /" + SYSTEM),
    ("usr-below", None, "/usr/share", "{tmp}/out", 400,
     INVALID + "the input folder /usr/share is in the system folder /usr" + SYSTEM),
    ("any-lib", None, "/libx32/nothing", "{tmp}/out", 400,
     INVALID + "the input folder /libx32/nothing is in the system folder /libx32" + SYSTEM),
    ("proc", None, "/proc/1", "{tmp}/out", 400,
     INVALID + "the input folder /proc/1 is in the system folder /proc" + SYSTEM),
    ("var-tmp", None, "{tmp}/in", "/var/tmp", 400,
     INVALID + "the output folder /var/tmp is in the system folder /var" + SYSTEM),
    ("inside-roots", "{tmp}/jobs", "{tmp}/jobs/in", "{tmp}/jobs", 200, None),
    ("outside-roots", "{tmp}/jobs", "{tmp}/jobs/in", "{tmp}/out", 400,
     INVALID + "the output folder {tmp}/out is outside MODELKILN_JOB_ROOTS ({tmp}/jobs): use a "
     "folder under one of them, or add its volume to MODELKILN_JOB_ROOTS"),
    ("link-out-of-roots", "/nowhere:{tmp}/jobs", "{tmp}/jobs/in", "{tmp}/jobs/to-outside", 400,
     INVALID + "the output folder {tmp}/jobs/to-outside (a link to {tmp}/out) is outside "
     "MODELKILN_JOB_ROOTS (/nowhere:{tmp}/jobs): use a folder under one of them, or add its "
     "volume to MODELKILN_JOB_ROOTS"),
    ("roots-never-open-the-app", "/,{tmp}", "{tmp}/in", "{app}", 400,
     INVALID + "the output folder {app} is inside the app folder {app}" + NEVER),
    ("roots-may-name-a-system-folder", "/usr", "/usr/share", "{tmp}/out", 400,
     INVALID + "the output folder {tmp}/out is outside MODELKILN_JOB_ROOTS (/usr): use a folder "
     "under one of them, or add its volume to MODELKILN_JOB_ROOTS"),
]


@pytest.mark.parametrize("roots, source, target, status, message",
                         [c[1:] for c in CONFINEMENT], ids=[c[0] for c in CONFINEMENT])
def test_modzy_run_confines_a_jobs_folders(job_tmp, roots, source, target, status, message):
    places = dict(tmp=str(job_tmp), app=APP, package=PACKAGE, prefix=PREFIX)
    env = {"MODELKILN_JOB_ROOTS": roots.format(**places)} if roots else {}
    job = {"type": "file", "input": source.format(**places),
           "output": target.format(**places)}
    code, body = call(modzy_client(**env), "POST", "/run", json=job)
    assert code == status and body["statusCode"] == status, body
    if message is not None:
        assert body["message"] == message.format(**places)
    else:
        output = os.path.join(job["output"], "results.json")
        assert open(output).read() == '"hi"'  # the strData answer, as JSON


def test_an_input_file_linked_elsewhere_or_not_a_file_is_refused(job_tmp):
    client = modzy_client()
    job = {"type": "file", "input": str(job_tmp / "in"), "output": str(job_tmp / "out")}
    source = job_tmp / "in" / "input.json"
    source.unlink()
    source.symlink_to(os.path.join(APP, "FileJob.py"))
    code, body = call(client, "POST", "/run", json=job)
    assert (code, body["message"]) == (400, INVALID + "the input file %s (a link to %s) is "
                                       "inside the app folder %s" % (source, os.path.join(
                                           APP, "FileJob.py"), APP) + NEVER)
    source.unlink()
    os.mkfifo(str(source))  # open() would wait for a writer for ever
    code, body = call(client, "POST", "/run", json=job)
    assert (code, body["message"]) == (400, INVALID + "input file %s is not a regular file"
                                       % source)
    assert os.listdir(str(job_tmp / "out")) == []


def test_an_input_file_over_the_request_size_limit_is_a_422(job_tmp):
    client = modzy_client(MODELKILN_MAX_REQUEST_SIZE="1k")
    job = {"type": "file", "input": str(job_tmp / "in"), "output": str(job_tmp / "out")}
    source = job_tmp / "in" / "input.json"
    source.write_text('{"strData": "%s"}' % ("x" * (1024 - 15)))  # exactly the limit
    code, body = call(client, "POST", "/run", json=job)
    assert code == 200, body
    source.write_text('{"strData": "%s"}' % ("x" * (1024 - 14)))
    code, body = call(client, "POST", "/run", json=job)
    assert (code, body) == (422, {
        "statusCode": 422, "status": "Unprocessable Entity",
        "message": "input file too large: %s is 1025 bytes, over the limit of 1024 bytes "
                   "(MODELKILN_MAX_REQUEST_SIZE; raise it to process larger files)" % source})


def test_an_input_file_growing_while_read_stops_at_the_limit(job_tmp, monkeypatch):
    client = modzy_client(MODELKILN_MAX_REQUEST_SIZE="1k")
    source = job_tmp / "in" / "input.json"
    source.write_text('{"strData": "%s"}' % ("x" * 5000))
    real_fstat = os.fstat

    def small_when_stat(fd):  # the file was small when stat looked, then grew
        status = list(real_fstat(fd))
        status[6] = 10  # st_size
        return os.stat_result(status)

    monkeypatch.setattr(os, "fstat", small_when_stat)
    code, body = call(client, "POST", "/run", json={
        "type": "file", "input": str(job_tmp / "in"), "output": str(job_tmp / "out")})
    assert (code, body["message"]) == (
        422, "input file too large: %s is more than 1024 bytes (it grew while read), over the "
             "limit of 1024 bytes (MODELKILN_MAX_REQUEST_SIZE; raise it to process larger "
             "files)" % source)


def test_several_input_files_share_the_limit(tmp_path):
    client = modzy_client(MODZYYAML, MODELKILN_MAX_REQUEST_SIZE="1k")
    (tmp_path / "words.txt").write_text("w" * 600)
    (tmp_path / "settings.json").write_text('"%s"' % ("s" * 598))
    out = tmp_path / "out"
    out.mkdir()
    code, body = call(client, "POST", "/run", json={
        "type": "file", "input": str(tmp_path), "output": str(out)})
    assert (code, body["message"]) == (
        422, "input file too large: %s is 600 bytes, over the 424 bytes left of the limit of "
             "1024 bytes for all input files (MODELKILN_MAX_REQUEST_SIZE; raise it to process "
             "larger files)" % (tmp_path / "settings.json"))


def test_outputs_replace_a_link_never_write_through_it_and_leave_no_temporary(job_tmp):
    client = modzy_client()
    job = {"type": "file", "input": str(job_tmp / "in"), "output": str(job_tmp / "out")}
    victim = job_tmp / "victim.json"
    victim.write_text("keep me")
    (job_tmp / "out" / "results.json").symlink_to(victim)
    code, body = call(client, "POST", "/run", json=job)
    assert code == 200, body
    assert victim.read_text() == "keep me"
    result = job_tmp / "out" / "results.json"
    assert not result.is_symlink() and result.read_text() == '"hi"'
    result.unlink()
    result.mkdir()  # a folder where the output file goes: the rename fails
    code, body = call(client, "POST", "/run", json=job)
    assert code == 400 and body["message"].startswith(
        INVALID + "output file %s cannot be written: " % result), body
    assert os.listdir(str(job_tmp / "out")) == ["results.json"]  # no .modelkiln-* left


@pytest.mark.parametrize("fails", ["write", "fsync", "replace"])
def test_write_atomically_removes_its_temporary_whatever_fails(tmp_path, monkeypatch, fails):
    target = tmp_path / "results.json"
    target.write_text("old")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if fails == "write":
        monkeypatch.setattr(documents.os, "fdopen", lambda fd, mode: _FailingFile(fd))
    else:
        monkeypatch.setattr(documents.os, fails, broken)
    with pytest.raises(OSError):
        documents.write_atomically(str(target), b"new")
    assert os.listdir(str(tmp_path)) == ["results.json"] and target.read_text() == "old"


class _FailingFile(object):
    """A file whose write fails, as on a full disk."""

    def __init__(self, fd):
        self.handle = open(fd, "wb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        raise OSError(28, "No space left on device")


def test_job_roots_setting_takes_absolute_folders():
    parse = lambda text: Settings.load(["Echo"], environ={"MODELKILN_JOB_ROOTS": text},
                                       read_annotations=False).job_roots
    assert parse("/data:/mnt/jobs/,/srv") == ("/data", "/mnt/jobs", "/srv")
    assert parse("") is None
    with pytest.raises(ValueError) as info:
        parse("/data:jobs")
    assert str(info.value) == ("MODELKILN_JOB_ROOTS='/data:jobs' is invalid: each folder must "
                               "be an absolute path, got 'jobs'")


# -- ODAHU ------------------------------------------------------------------------------------

def test_odahu_invoke_answers_prediction_and_columns(server):
    answer = server.post("/api/model/invoke", json={"columns": ["a", "b", "c"],
                                                    "data": [[1, 2, 3], [4, 5, 6]]})
    assert answer.status_code == 200, answer.text
    # output columns as Seldon names them for a class without class_names
    assert answer.json() == {"prediction": [[1, 2, 3], [4, 5, 6]],
                             "columns": ["t:0", "t:1", "t:2"]}


@pytest.mark.parametrize("body, words", [
    ({"columns": ["a", "b"], "data": [[1, 2], [3]]}, "data row 2 has 1 values for 2 columns"),
    ({"columns": "a", "data": [[1]]}, '"columns" must be a list'),
    ({"columns": ["a"]}, 'expected {"columns"'),
    ({"data": [5]}, "data row 1 is not a list"),
])
def test_odahu_invoke_names_what_is_wrong_with_400(server, body, words):
    answer = server.post("/api/model/invoke", json=body)
    assert answer.status_code == 400 and words in answer.json()["message"], answer.text


def test_odahu_invoke_refuses_other_media_types(server):
    answer = server.post("/api/model/invoke", data="columns=a",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415 and "application/json" in answer.json()["message"]


def test_odahu_info_is_an_openapi_document_of_invoke(server):
    answer = server.get("/api/model/info")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"].startswith("3.") and document["info"]["title"] == "FileJob"
    operation = document["paths"]["/api/model/invoke"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "data"]
    assert set(server.get("/openapi.json").json()["paths"]) >= {"/api/model/info",
                                                                "/api/model/invoke"}
