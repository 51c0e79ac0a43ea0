"""The seeds' job APIs served by the image: Modzy's file-job API on PSC_MODEL_PORT (/status,
/run, /shutdown) and ODAHU's /api/model/info and /api/model/invoke on the REST port."""

import json
import os

import pytest
import requests
from werkzeug.test import Client

from python_runtime import jobs
from python_runtime.http import PortApp
from python_runtime.protocols import modzy

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
