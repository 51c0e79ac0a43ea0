"""ODAHU GPPI artifacts (python_runtime/model/formats/gppi.py): which folders are GPPI
projects, what their settings become, ODAHU's docker-rest API and docker-cli jobs on them,
and ODAHU's self-check. The API is compared with ODAHU's own handler in tests/compat_gppi."""

import json
import os
import pickle
import shutil
import textwrap
from pathlib import Path

import pytest
from werkzeug.test import Client

from python_runtime.jobs import predict as jobs
from python_runtime.model.formats import gppi, resolve
from python_runtime.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "test_apps" / "gppi-matrix"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def resolved(folder, env=None):
    return resolve(Settings.load([str(folder)], environ=env or {}, read_annotations=False))


def project(tmp_path, entrypoint, yaml=None, name="gppi"):
    """A GPPI folder whose work dir holds ``entrypoint`` as entrypoint.py."""
    folder = tmp_path / name
    (folder / "odahuflow_model").mkdir(parents=True)
    (folder / "odahuflow_model" / "entrypoint.py").write_text(textwrap.dedent(entrypoint))
    (folder / gppi.PROJECT).write_text(yaml or textwrap.dedent("""\
        binaries: {type: python, dependencies: conda, conda_path: odahuflow_model/conda.yaml}
        model: {name: probe, version: '2.0', workDir: odahuflow_model, entrypoint: entrypoint}
        """))
    return folder


PROBE = """\
    import numpy

    def init():
        return MODE

    MODE = "matrix"

    def predict_on_matrix(input_matrix, provided_columns_names=None):
        if input_matrix == [["boom"]]:
            raise KeyError("boom")
        if input_matrix == [["complex"]]:
            return numpy.array([[1 + 2j]]), ("c",)
        if input_matrix == [["object"]]:
            return object(), ("o",)
        return numpy.asarray(input_matrix, dtype=numpy.float32) * 2, tuple(
            "2*" + c for c in (provided_columns_names or ["x"]))

    def info():
        return ([{"name": "x", "type": "number", "example": 1}],
                [{"name": "2*x", "type": "number", "example": 2}])

    class Encoder(__import__("json").JSONEncoder):
        def default(self, value):
            return "<%s>" % type(value).__name__

    def get_output_json_serializer():
        return Encoder
    """


@pytest.fixture
def probe(tmp_path, monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "odahuflow_model.entrypoint", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "odahuflow_model", raising=False)
    monkeypatch.delenv("MODEL_LOCATION", raising=False)
    return project(tmp_path, PROBE)


def client(folder):
    return Client(jobs.load_app(str(folder)))


# -- recognition and settings --------------------------------------------------------------

def test_a_gppi_project_is_recognised_named_and_on_odahus_port():
    settings, module = resolved(MATRIX)
    assert module.NAME == "gppi" and settings.model_format == "gppi"
    assert settings.model_name == "flower-scores"
    assert settings.v2_model_name == "flower-scores" and settings.v2_model_version == "1.3"
    assert settings.http_port == 5000 and settings.grpc_port == 9000


def test_odahus_variables_and_modelkilns_ports_win(tmp_path):
    env = {"ODAHU_MODEL_NAME": "renamed", "ODAHU_MODEL_VERSION": "7",
           "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8080"}
    settings, _ = resolved(MATRIX, env)
    assert settings.model_name == "renamed" and settings.v2_model_version == "7"
    assert settings.http_port == 8080 and settings.grpc_port == 5000  # no swap then
    settings, _ = resolved(MATRIX, {"PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "7000"})
    assert settings.http_port == 5000 and settings.grpc_port == 7000
    with pytest.raises(SettingsError) as info:
        resolved(MATRIX, {"PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "5000"})
    assert "ODAHU's REST port" in str(info.value)


def test_model_name_makes_a_gppi_folder_a_seldon_folder():
    settings, module = resolved(MATRIX, {"MODEL_NAME": "Anything"})
    assert module.NAME == "seldon" and settings.http_port == 9000


@pytest.mark.parametrize("yaml, fragment", [
    ("[1, 2]\n", "holds no mapping (a GPPI project has model: and binaries:)"),
    ("binaries: {type: python}\nmodel: {name: m, version: '1'}\n",
     "has no model.workDir, model.entrypoint"),
    ("binaries: {type: java}\nmodel: {name: m, version: '1', workDir: w, entrypoint: e}\n",
     "binaries.type is 'java'; modelkiln serves GPPI models of type python"),
    ("binaries: {type: python}\nmodel: {name: m, version: '1', workDir: ../x, entrypoint: e}\n",
     "model.workDir ../x is not a folder inside the project"),
    ("model: [unclosed\n", "cannot be read"),
])
def test_a_broken_project_file_is_named_with_its_fix(tmp_path, yaml, fragment):
    folder = project(tmp_path, PROBE, yaml=yaml)
    with pytest.raises(SettingsError) as info:
        resolved(folder)
    assert fragment in str(info.value)


def test_an_entrypoint_without_odahus_functions_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "odahuflow_model.entrypoint", raising=False)
    folder = project(tmp_path, "def init():\n    return 'matrix'\n")
    with pytest.raises(jobs.JobError) as info:
        jobs.load_app(str(folder))
    assert "has no predict_on_matrix, info()" in str(info.value)


# -- ODAHU's docker-rest API -----------------------------------------------------------------

def test_invoke_answers_as_odahus_handler(probe):
    http = client(probe)
    answer = http.post("/api/model/invoke", json={"columns": ["a", "b"], "data": [[1, 2.5]]})
    assert answer.status_code == 200
    assert answer.headers["Model-Name"] == "probe" and answer.headers["Model-Version"] == "2.0"
    assert answer.get_data() == b'{"prediction":[[2.0,5.0]],"columns":["2*a","2*b"]}'
    # a dtype orjson cannot write goes through tolist(), as the handler's fallback does
    answer = http.post("/api/model/invoke", json={"data": [["complex"]]})
    assert answer.status_code == 500  # complex numbers are not JSON either way
    assert answer.get_json()["message"].startswith("the model's answer cannot be written")


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"", "application/json", 400, "Please provide data with this POST request"),
    (b"data=1", "application/x-www-form-urlencoded", 400,
     "Please provide data with this POST request"),
    (b"\xff", "application/json", 400, "Can not decode POST data using utf-8 charset: "
     "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    (b"[1", "application/json", 400, "Can not parse input as JSON: "),
    (b'{"columns": ["a"]}', "application/json", 400, "Matrix is not provided"),
    (b'{"data": []}', "text/plain", 400, "Matrix is not provided"),
    (b"[[1]]", "application/json", 400, "Matrix is not provided: expected"),
    (b'{"data": [["boom"]]}', "application/json", 500, "Exception during prediction: 'boom'"),
])
def test_invoke_errors_carry_the_handlers_messages(probe, body, content_type, status, message):
    answer = client(probe).post("/api/model/invoke", data=body, content_type=content_type)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.get_json()["message"].startswith(message), answer.get_json()


@pytest.mark.parametrize("mode, message", [
    ("objects", "Can not handle this types of requests"),
    ("tensor", "Unknown model's return type: tensor"),
])
def test_modes_the_handler_cannot_serve(tmp_path, monkeypatch, mode, message):
    monkeypatch.delitem(__import__("sys").modules, "odahuflow_model.entrypoint", raising=False)
    folder = project(tmp_path, PROBE.replace('MODE = "matrix"', "MODE = %r" % mode))
    http = client(folder)
    answer = http.post("/api/model/invoke", json={"data": [[1]]})
    assert (answer.status_code, answer.get_json()) == (500, {"message": message})
    answer = http.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1]]}})
    assert answer.status_code == 500 and message in answer.get_data(as_text=True)


def test_info_is_the_swagger_document_and_healthcheck_answers(probe):
    http = client(probe)
    document = http.get("/api/model/info").get_json()
    assert document["swagger"] == "2.0"
    assert document["info"]["title"] == "probe" and document["info"]["version"] == "2.0"
    body = document["paths"]["/api/model/invoke"]["post"]["parameters"][0]["schema"]
    assert body["properties"]["columns"]["example"] == ["x"]
    assert body["properties"]["data"]["example"] == [[1]]
    out = document["paths"]["/api/model/invoke"]["post"]["responses"]["200"]["properties"]
    assert out["prediction"]["example"] == [[2]] and out["columns"]["example"] == ["2*x"]
    answer = http.get("/healthcheck")
    assert (answer.status_code, answer.get_json()) == (200, {"status": True})


def test_seldon_and_v2_reach_predict_on_matrix_with_column_names(probe):
    http = client(probe)
    answer = http.post("/api/v1.0/predictions",
                       json={"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}})
    assert answer.status_code == 200
    assert answer.get_json()["data"] == {"names": ["2*a", "2*b"], "ndarray": [[2.0, 4.0]]}
    answer = http.post("/v2/models/probe/infer", json={"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [2], "data": [1, 2]},
        {"name": "b", "datatype": "FP32", "shape": [2], "data": [3, 4]}]})
    assert answer.status_code == 200, answer.get_json()
    output = answer.get_json()["outputs"][0]
    assert output["shape"] == [2, 2] and output["data"] == [2.0, 6.0, 4.0, 8.0]
    assert output["parameters"]["names"] == ["2*a", "2*b"]
    answer = http.post("/api/v1.0/predictions", json={"data": {"ndarray": [1, 2]}})
    assert answer.status_code == 400 and "predicts on a matrix" in answer.get_data(as_text=True)


# -- ODAHU's docker-cli jobs -------------------------------------------------------------------

def test_predict_writes_results_json_with_the_output_serializer(probe, tmp_path, capsys):
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"columns": ["a"], "data": [[1.5]]}))
    out = tmp_path / "out"
    out.mkdir()
    assert jobs.main(["predict", str(probe), str(source), str(out)]) == jobs.EXIT_OK
    assert json.loads((out / "results.json").read_text()) == {
        "prediction": [[3.0]], "columns": ["2*a"]}
    assert "Prediction is successful. Result file: %s" % (out / "results.json") in \
        capsys.readouterr().err
    source.write_text(json.dumps({"data": [["object"]]}))
    assert jobs.main(["predict", str(probe), str(source), str(out),
                      "--output_file_name", "other.json"]) == jobs.EXIT_OK
    assert json.loads((out / "other.json").read_text()) == {
        "prediction": "<object>", "columns": ["o"]}  # the entrypoint's Encoder wrote it
    source.write_text(json.dumps({"columns": ["a"]}))
    assert jobs.main(["predict", str(probe), str(source), str(out)]) == jobs.EXIT_USAGE
    assert "ERROR: Matrix is not provided" in capsys.readouterr().err


def test_info_prints_odahus_input_and_output_schemas(probe, capsys):
    assert jobs.main(["info", str(probe)]) == jobs.EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith("Input schema:\n{\n    \"columns\": {\n        \"example\": [")
    first, second = text.split("Output schema:\n")
    assert json.loads(first[len("Input schema:\n"):])["data"]["example"] == [[1]]
    assert json.loads(second)["prediction"]["example"] == [[2]]


# -- ODAHU's self-check -------------------------------------------------------------------------

def test_self_check_tries_the_saved_sample_input(probe):
    verdicts = gppi.self_check(str(probe))
    assert [ok for ok, _ in verdicts] == [True, True, True, True]
    assert "no head_input.pkl" in verdicts[-1][1]
    with open(str(probe / "odahuflow_model" / "head_input.pkl"), "wb") as handle:
        pickle.dump([["boom"]], handle)
    verdicts = gppi.self_check(str(probe))
    assert verdicts[-1] == (False, "predict_on_matrix(head_input.pkl): KeyError: 'boom'")


def test_the_work_dir_is_model_location(probe, monkeypatch):
    shutil.copy(str(MATRIX / "odahuflow_model" / "weights.json"),
                str(probe / "odahuflow_model" / "weights.json"))
    gppi.import_entrypoint(str(probe))
    assert os.environ["MODEL_LOCATION"] == str(probe / "odahuflow_model")
