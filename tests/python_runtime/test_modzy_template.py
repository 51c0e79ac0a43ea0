"""A folder made from Modzy's Python model template (``test_apps/modzy-template``) served
unchanged: which folders are recognised as one, Modzy's container API on the REST port with
every status code of the seed's spec (000_*/001_*), asserted on status and body, modelkiln's
flask_psc_model imported instead of the folder's own, Seldon's predict on the same model,
the offline file jobs, and ``run_examples`` on the template's test data."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from werkzeug.test import Client

from python_runtime.jobs import predict as jobs
from python_runtime.model.context import LoadState
from python_runtime.model.formats import modzy, recognised, resolve
from python_runtime.server import load_component, user_class
from python_runtime.settings import Settings, SettingsError
from python_runtime.transport.http import create_app, load_model

from .live import REPO_ROOT, LiveServer, running

TEMPLATE = REPO_ROOT / "test_apps" / "modzy-template"
ECHO = REPO_ROOT / "tests" / "compat_catwalk" / "models" / "echo"
SELDON_WITH_MODEL_YAML = REPO_ROOT / "tests" / "python_runtime" / "apps" / "modzyyaml"
NAME = "Color Name Predictor"
ORANGE = {"color": "orange", "hex": "#ffaa00", "rgb": [255, 170, 0], "distance": 5.0}
NOT_HEX = "invalid hex colour 'zzzzzz': expected six hex digits such as ffaa00"
INVALID = "invalid job configuration: "


def dto(status, phrase, message):
    return {"statusCode": status, "status": phrase, "message": message}


def resolved(folder, env=None, argv=()):
    return resolve(Settings.load([str(folder)] + list(argv), environ=env or {},
                                 read_annotations=False))


def template_copy(tmp_path, name="app"):
    folder = tmp_path / name
    shutil.copytree(str(TEMPLATE), str(folder))
    return folder


def write_folder(folder, model_py, app_py=None):
    """A small template folder: model.yaml naming input.txt and results.json, its model."""
    (folder / "model_lib").mkdir(parents=True)
    (folder / "model_lib" / "__init__.py").write_text("")
    (folder / "model_lib" / "model.py").write_text(textwrap.dedent(model_py))
    (folder / "model.yaml").write_text(
        "specification: '0.3'\ntype: file\nname: Probe\nversion: 1.0.0\n"
        "inputs:\n  input.txt: {}\noutputs:\n  results.json: {}\ntimeout:\n  run: 5s\n")
    (folder / "app.py").write_text(app_py or (
        "from flask_psc_model import create_app\nfrom model_lib.model import Probe\n\n"
        "app = create_app(Probe)\n"))
    return folder


# A model that fails as each input asks it to: what the template app cannot be made to do.
PROBE = """
    import json
    from flask_psc_model import ModelBase

    class Probe(ModelBase):
        input_filenames = "input.txt"
        output_filenames = ["results.json"]

        def run(self, source, target):
            with open(source) as handle:
                word = handle.read().strip()
            if word == "crash":
                raise RuntimeError("the model crashed")
            if word == "weights":
                open("/nonexistent/modelkiln-weights.bin")
            if word == "silent":
                return
            with open(target, "w") as handle:
                json.dump({"word": word}, handle)
"""


# -- which folders are Modzy template folders ------------------------------------------------

def test_the_template_folder_is_recognised_and_set_up_from_its_model_yaml():
    settings, module = resolved(TEMPLATE)
    assert module.NAME == "modzy" and settings.model_format == "modzy"
    assert settings.model_name == NAME
    assert settings.v2_model_name == "color-name-predictor"
    assert settings.v2_model_version == "0.1.0"
    assert settings.http_port == 9000 and settings.modzy_port is None  # the API: REST port
    assert settings.timeout == 30.0  # model.yaml's longest timeout (run: 30s)
    assert settings.on_load_failure == "unready"  # /status answers 500 for a failed load


def test_model_name_makes_the_template_folder_a_seldon_folder():
    settings, module = resolved(TEMPLATE, {"MODEL_NAME": "model_lib.model.ColorNamePredictor"})
    assert module.NAME == "seldon" and settings.model_format == "seldon"
    assert settings.timeout == 60.0 and settings.on_load_failure == "exit"


def test_catwalk_files_beside_the_templates_need_the_format_named(tmp_path):
    folder = template_copy(tmp_path)
    for name in ("model.yml", "model.py"):
        shutil.copy(str(ECHO / name), str(folder / name))
    with pytest.raises(SettingsError) as info:
        resolved(folder)
    message = str(info.value)
    assert "more than one kind of model" in message and "MODELKILN_MODEL_FORMAT" in message
    assert "catwalk: model.yml and model.py" in message
    assert "modzy: model.yaml and app.py calling flask_psc_model's create_app(...)" in message
    assert resolved(folder, {"MODELKILN_MODEL_FORMAT": "modzy"})[1].NAME == "modzy"
    assert resolved(folder, {"MODELKILN_MODEL_FORMAT": "catwalk"})[1].NAME == "catwalk"


NOT_TEMPLATES = [
    ("model-yaml-only", {}),  # a Seldon app with Modzy's model.yaml for PSC_MODEL_PORT
    ("own-create-app", {"app.py": "from webapp import create_app\napp = create_app()\n"}),
    ("no-call", {"app.py": "import flask_psc_model\n"}),
    ("no-model-yaml", {"model.yaml": None}),
]


@pytest.mark.parametrize("changes", [c[1] for c in NOT_TEMPLATES],
                         ids=[c[0] for c in NOT_TEMPLATES])
def test_folders_without_the_templates_files_are_not_recognised(tmp_path, changes):
    folder = tmp_path / "app"
    shutil.copytree(str(SELDON_WITH_MODEL_YAML), str(folder))
    shutil.rmtree(str(folder / ".s2i"))  # no MODEL_NAME
    if changes:
        shutil.copy(str(TEMPLATE / "app.py"), str(folder / "app.py"))
    for name, text in changes.items():
        if text is None:
            (folder / name).unlink()
        else:
            (folder / name).write_text(text)
    assert not modzy.recognises(str(folder)) and recognised(str(folder)) == []
    with pytest.raises(SettingsError) as info:
        resolved(folder)
    assert "MODELKILN_MODEL_FORMAT" in str(info.value)


def test_psc_model_port_names_the_rest_port():
    settings, _ = resolved(TEMPLATE, {"PSC_MODEL_PORT": "8123"})
    assert settings.http_port == 8123 and settings.modzy_port is None
    same = {"PSC_MODEL_PORT": "8124", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8124"}
    assert resolved(TEMPLATE, same)[0].http_port == 8124
    with pytest.raises(SettingsError) as info:
        resolved(TEMPLATE, {"PSC_MODEL_PORT": "8125", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8126"})
    assert str(info.value) == (
        "PSC_MODEL_PORT=8125 and PREDICTIVE_UNIT_HTTP_SERVICE_PORT=8126 both name the port of "
        "Modzy's API, which is the REST port for a Modzy template folder: set one of them")


def test_gunicorn_timeout_given_wins_over_model_yaml():
    assert resolved(TEMPLATE, {"GUNICORN_TIMEOUT": "7"})[0].timeout == 7.0


@pytest.mark.parametrize("text, seconds", [
    ("20s", 20), ("1m", 60), ("1.5 hours", 5400), ("30", 30), ("500ms", 1), (45, 45)])
def test_model_yaml_durations(text, seconds):
    assert modzy.run_timeout({"timeout": {"status": "1s", "run": text}}) == max(seconds, 1)


def test_a_duration_that_is_none_is_named():
    with pytest.raises(SettingsError) as info:
        modzy.run_timeout({"timeout": {"run": "soon"}})
    assert str(info.value) == ("model.yaml: timeout.run='soon' is not a duration such as 20s, "
                               "5m or 1h")


FACTORIES = [
    ("from-import", "from model_lib.model import Probe as P\napp = create_app(P)\n"),
    ("module-alias", "import model_lib.model as mm\napp = create_app(mm.Probe)\n"),
    ("from-package", "from model_lib import model\napp = create_app(model.Probe)\n"),
    ("dotted-string", "app = create_app('model_lib.model.Probe')\n"),
    ("colon-string", "app = create_app('model_lib.model:Probe')\n"),
    ("keyword", "from model_lib.model import Probe\napp = create_app(model_factory=Probe)\n"),
    ("module-attribute", "import flask_psc_model\nfrom model_lib.model import Probe\n"
                         "app = flask_psc_model.create_app(Probe)\n"),
]


@pytest.mark.parametrize("app_py", [f[1] for f in FACTORIES], ids=[f[0] for f in FACTORIES])
def test_the_factory_is_read_from_app_py(tmp_path, app_py):
    if "import flask_psc_model\n" not in app_py:
        app_py = "from flask_psc_model import create_app\n" + app_py
    folder = write_folder(tmp_path / "app", PROBE, app_py)
    assert modzy.factory_in_app(str(folder)) == ("model_lib.model.Probe", "")
    settings, _ = resolved(folder)
    _, kwargs = user_class(settings)
    assert kwargs["factory"].__name__ == "Probe"
    assert kwargs["factory_name"] == "model_lib.model.Probe"


@pytest.mark.parametrize("app_py, why", [
    ("def make():\n    return None\napp = create_app(make)\n",
     "app.py's create_app(make) names something app.py makes itself, which modelkiln does not "
     "run app.py to find"),
    ("app = create_app()\n", "app.py calls create_app() without a model factory"),
    ("from model_lib.model import *\napp = create_app(Probe)\n",
     "app.py's create_app(Probe) names Probe, which no import of app.py names (a star "
     "import?)"),
])
def test_a_factory_app_py_makes_itself_needs_psc_model_factory(tmp_path, app_py, why):
    folder = write_folder(tmp_path / "app", PROBE,
                          "from flask_psc_model import create_app\n" + app_py)
    settings, _ = resolved(folder)
    with pytest.raises(SettingsError) as info:
        user_class(settings)
    assert str(info.value) == (
        "%s: %s; set PSC_MODEL_FACTORY to the model class (or a function returning the model) "
        "as package.module.Name" % (folder, why))
    settings, _ = resolved(folder, {"PSC_MODEL_FACTORY": "model_lib.model.Probe"})
    assert user_class(settings)[1]["factory_name"] == "model_lib.model.Probe"


@pytest.mark.parametrize("app_py, model_py, words", [
    ("from model_lib.nothing import Probe\napp = create_app(Probe)\n", PROBE,
     "the model factory model_lib.nothing.Probe: no module model_lib.nothing in"),
    ("from model_lib.model import Nobody\napp = create_app(Nobody)\n", PROBE,
     "the model factory model_lib.model.Nobody: model_lib.model has no 'Nobody'"),
    ("from model_lib.model import Probe\napp = create_app(Probe)\n",
     "import not_installed_anywhere\n",
     "module model_lib.model raised ModuleNotFoundError while importing: No module named "
     "'not_installed_anywhere' (it imports 'not_installed_anywhere', which is not installed: "
     "add it to requirements.txt)"),
    ("from model_lib.model import Probe\napp = create_app(Probe)\n",
     "class Probe(object):\n    pass\n",
     "the model class model_lib.model.Probe has no run method"),
])
def test_what_stops_the_import_is_named(tmp_path, app_py, model_py, words):
    folder = write_folder(tmp_path / "app", model_py,
                          "from flask_psc_model import create_app\n" + app_py)
    settings, _ = resolved(folder)
    with pytest.raises(Exception) as info:
        user_class(settings)
    assert words in str(info.value)


# -- modelkiln's flask_psc_model, never the folder's own --------------------------------------

def test_the_folders_own_flask_psc_model_does_not_import_here():
    done = subprocess.run([sys.executable, "-c", "import flask_psc_model"], cwd=str(TEMPLATE),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert done.returncode != 0
    assert "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr, done.stderr


def test_modelkilns_flask_psc_model_is_the_one_the_model_imports():
    settings, _ = resolved(TEMPLATE)
    _, kwargs = user_class(settings)
    package = sys.modules["flask_psc_model"]
    assert getattr(package, "__modelkiln_standin__", False)
    assert Path(package.__file__).parent == (REPO_ROOT / "python_runtime" / "seldon_fallback"
                                             / "flask_psc_model")
    assert issubclass(kwargs["factory"], package.ModelBase)
    with pytest.raises(ModuleNotFoundError) as info:
        __import__("flask_psc_model.testing")
    assert "flask_psc_model.testing is not part of modelkiln's flask_psc_model" in str(info.value)


def test_the_stand_ins_model_base_and_metadata(tmp_path):
    settings, _ = resolved(TEMPLATE)
    user_class(settings)
    from flask_psc_model import ModelBase, load_metadata

    class DuckTyped(object):
        input_filenames = output_filenames = "a.txt"
        validation_exception_class, io_exception_class = ValueError, IOError

        def run(self, *paths):
            pass

    assert isinstance(DuckTyped(), ModelBase)
    with pytest.raises(TypeError):
        type("Incomplete", (ModelBase,), {"input_filenames": "a"})()
    metadata = load_metadata(str(TEMPLATE / "model_lib" / "model.py"))
    assert list(metadata.inputs) == ["input.txt"] and metadata.timeout.run == "30s"
    with pytest.raises(TypeError):
        metadata["name"] = "other"
    with pytest.raises(IOError):
        load_metadata(str(tmp_path))


# -- Modzy's API: every status code of the spec, live ------------------------------------------

@pytest.fixture(scope="module")
def server():
    with running(str(TEMPLATE)) as live:
        yield live


def run_job(server, job, **kwargs):
    if "data" not in kwargs:
        kwargs["json"] = job
    answer = server.post("/run", **kwargs)
    assert answer.headers["Content-Type"] == "application/json"
    return answer.status_code, answer.json()


def job_folders(tmp_path, text="ffaa00\n"):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "input.txt").write_text(text)
    return {"type": "file", "input": str(tmp_path / "in"), "output": str(tmp_path / "out")}


def test_status_200_when_the_model_is_loaded(server):
    answer = server.get("/status")
    assert (answer.status_code, answer.json()) == (200, dto(200, "OK", "%s is ready" % NAME))


def test_run_200_writes_the_output_file(server, tmp_path):
    job = job_folders(tmp_path)
    status, body = run_job(server, job)
    assert status == 200 and body["statusCode"] == 200 and body["status"] == "OK"
    assert re.match(r"^wrote results\.json in \d+\.\d{3} s$", body["message"]), body
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == ORANGE


def test_run_422_with_the_models_validation_message(server, tmp_path):
    status, body = run_job(server, job_folders(tmp_path, "zzzzzz\n"))
    assert (status, body) == (422, dto(422, "Unprocessable Entity", NOT_HEX))
    assert not (tmp_path / "out" / "results.json").exists()


def test_run_415_for_a_body_that_is_not_json(server):
    status, body = run_job(server, None, data="cats and dogs",
                           headers={"Content-Type": "text/plain"})
    assert (status, body) == (415, dto(
        415, "Unsupported Media Type", 'POST the job as application/json: {"type": "file", '
        '"input": DIR, "output": DIR} (got Content-Type \'text/plain\')'))


BAD_JOBS = [
    ("not-an-object", ["file"], 'the job must be a JSON object: {"type": "file", '
                                '"input": DIR, "output": DIR}'),
    ("not-json", "{not json", None),
    ("wrong-type", {"type": "stream", "input": "{tmp}/in", "output": "{tmp}/out"},
     '"type" must be "file" (got \'stream\')'),
    ("no-input", {"type": "file", "output": "{tmp}/out"}, '"input" must name a folder'),
    ("relative", {"type": "file", "input": "in", "output": "{tmp}/out"},
     "the input folder in is not an absolute path: name it from / (a relative path would "
     "resolve against the server's working folder)"),
    ("missing-folder", {"type": "file", "input": "{tmp}/absent", "output": "{tmp}/out"},
     "input folder {tmp}/absent does not exist"),
    ("missing-input-file", {"type": "file", "input": "{tmp}/empty", "output": "{tmp}/out"},
     "expected input file {tmp}/empty/input.txt does not exist or cannot be read (the model "
     "reads input.txt)"),
    ("app-folder", {"type": "file", "input": "{tmp}/in", "output": str(TEMPLATE)},
     "the output folder %s is inside the app folder %s, which jobs may never read or write: "
     "give the job folders of its own, e.g. a mounted volume (MODELKILN_JOB_ROOTS lists the "
     "folders jobs may use)" % (TEMPLATE, TEMPLATE)),
]


@pytest.mark.parametrize("job, message", [c[1:] for c in BAD_JOBS], ids=[c[0] for c in BAD_JOBS])
def test_run_400_for_a_job_it_cannot_use(server, tmp_path, job, message):
    job_folders(tmp_path)
    (tmp_path / "empty").mkdir()
    if isinstance(job, str):
        status, body = run_job(server, None, data=job,
                               headers={"Content-Type": "application/json"})
    else:
        job = {key: value.replace("{tmp}", str(tmp_path)) for key, value in job.items()} \
            if isinstance(job, dict) else job
        status, body = run_job(server, job)
    assert status == 400 and body["statusCode"] == 400 and body["status"] == "Bad Request"
    if message is not None:
        assert body["message"] == INVALID + message.replace("{tmp}", str(tmp_path)), body
    else:
        assert body["message"], body


def test_run_400_for_the_models_io_exception_on_a_job_file(server, tmp_path):
    job = job_folders(tmp_path)
    (tmp_path / "out" / "results.json").mkdir(parents=True)  # the model cannot write there
    status, body = run_job(server, job)
    assert (status, body) == (400, dto(
        400, "Bad Request", "the model cannot read or write a job file: [Errno 21] Is a "
        "directory: '%s'" % (tmp_path / "out" / "results.json")))


def test_seldon_predict_runs_the_same_model(server):
    answer = server.post("/api/v1.0/predictions", json={"strData": "ffaa00"})
    assert (answer.status_code, answer.json()) == (200, {"jsonData": ORANGE, "meta": {}})
    answer = server.post("/api/v1.0/predictions", json={"strData": "zzzzzz"})
    assert answer.status_code == 422 and answer.json()["status"]["info"] == NOT_HEX


def test_seldon_predict_of_a_tensor_names_run(server):
    answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2]]}})
    assert answer.status_code == 400
    info = answer.json()["status"]["info"]
    assert info.startswith("this is a Modzy template model, which reads and writes files")
    assert 'POST /run {"type": "file", "input": DIR, "output": DIR}' in info


def test_an_unknown_path_answers_the_dto(server):
    answer = server.get("/nowhere")
    assert (answer.status_code, answer.json()) == (404, dto(
        404, "Not Found", "no route /nowhere; see /openapi.json for the routes served"))


def test_shutdown_202_then_exit_0_with_psc_model_port_as_the_rest_port(tmp_path):
    live = LiveServer(str(TEMPLATE), workdir=str(tmp_path))
    live.env["PSC_MODEL_PORT"] = str(live.http_port)
    live.start()
    try:
        live.wait_ready()
        assert live.get("/status").json()["statusCode"] == 200
        answer = live.post("/shutdown")
        assert (answer.status_code, answer.json()) == (202, dto(
            202, "Accepted", "the server stops and exits with code 0"))
        assert live.wait_exit(30) == 0, live.log_tail()
    finally:
        live.stop()


# -- what the template app cannot show: 500s, a model that fails to load ----------------------

@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    folder = write_folder(tmp_path_factory.mktemp("probe") / "app", PROBE)
    return Client(jobs.load_app(str(folder)))


@pytest.mark.parametrize("word, message", [
    ("crash", "the model raised RuntimeError: the model crashed"),
    ("weights", "the model raised FileNotFoundError: [Errno 2] No such file or directory: "
                "'/nonexistent/modelkiln-weights.bin'"),  # an IO error on no job file
    ("silent", "the model did not write {tmp}/out/results.json"),
])
def test_run_500_for_a_model_error(probe, tmp_path, word, message):
    job = job_folders(tmp_path, word)
    answer = probe.post("/run", json=job)
    assert answer.status_code == 500
    assert json.loads(answer.data) == dto(500, "Internal Server Error",
                                          message.format(tmp=tmp_path))


def test_status_500_when_the_model_failed_to_load(tmp_path):
    folder = write_folder(tmp_path / "app", PROBE.replace(
        "        def run(", "        def __init__(self):\n"
        "            raise OSError('weights.bin is missing')\n\n        def run("))
    settings, _ = resolved(folder, {"MODELKILN_LOAD_RETRIES": "0"})
    component = load_component(settings, user_class(settings))
    state = LoadState()
    load_model(component, state, on_failure=settings.on_load_failure)
    client = Client(create_app(settings, component, None, state))
    answer = client.get("/status")
    assert answer.status_code == 500
    assert json.loads(answer.data) == dto(500, "Internal Server Error",
                                          "the model failed to load: load() failed: OSError: "
                                          "weights.bin is missing")
    answer = client.post("/run", json=job_folders(tmp_path))
    assert answer.status_code == 503 and json.loads(answer.data)["statusCode"] == 503


# -- the offline file jobs: one run per input folder -----------------------------------------

def test_predict_runs_each_input_folder(tmp_path, capsys):
    source = tmp_path / "in"
    for case, text in (("a", "ffaa00"), ("b", "nope")):
        (source / case).mkdir(parents=True)
        (source / case / "input.txt").write_text(text)
    (source / "c").mkdir()
    code = jobs.main(["predict", str(TEMPLATE), str(source), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == jobs.EXIT_FAILED_ITEMS, err
    assert json.loads((tmp_path / "out" / "a" / "results.json").read_text()) == ORANGE
    assert not (tmp_path / "out" / "b" / "results.json").exists()
    assert "%s/b: 422 invalid hex colour 'nope'" % source in err
    assert "%s/c: 400 invalid job configuration: expected input file" % source in err
    assert err.endswith("3 folder(s) run into %s, 2 failed\n" % (tmp_path / "out"))
    code = jobs.main(["predict", str(TEMPLATE), str(source / "a"), str(tmp_path / "one")])
    assert code == jobs.EXIT_OK
    assert json.loads((tmp_path / "one" / "results.json").read_text()) == ORANGE


def test_predict_needs_a_folder(tmp_path, capsys):
    (tmp_path / "input.txt").write_text("ffaa00")
    code = jobs.main(["predict", str(TEMPLATE), str(tmp_path / "input.txt"), str(tmp_path / "o")])
    assert code == jobs.EXIT_USAGE
    assert "is not a folder: a Modzy template model reads its input files" in \
        capsys.readouterr().err


# -- run_examples: the template's test data -------------------------------------------------

def test_run_examples_passes_the_templates_cases():
    assert modzy.run_examples(str(TEMPLATE)) == (5, 0, [
        "PASS examples/hash-upper", "PASS examples/near-gray", "PASS examples/orange",
        "PASS validation-error/empty", "PASS validation-error/not-hex"])


def test_run_examples_says_what_fails(tmp_path):
    folder = template_copy(tmp_path)
    data = folder / "tests" / "data"
    (data / "examples" / "orange" / "results.json").write_text('{"color": "red"}')
    (data / "validation-error" / "not-hex" / "message.txt").write_text("too dark")
    (data / "validation-error" / "valid" / "input").mkdir(parents=True)
    (data / "validation-error" / "valid" / "input" / "c.txt").write_text("ffffff")
    (data / "validation-error" / "valid" / "message.txt").write_text("anything")
    (data / "examples" / "no-input").mkdir()
    passed, failed, lines = modzy.run_examples(str(folder))
    assert (passed, failed) == (3, 4), lines
    assert lines == [
        "PASS examples/hash-upper",
        "PASS examples/near-gray",
        "FAIL examples/no-input: no input file input.txt",
        'FAIL examples/orange: results.json differs: expected {"color": "red"}, got '
        '{"color": "orange", "hex": "#ffaa00", "rgb": [255, 170, 0], "distance": 5.0}',
        "PASS validation-error/empty",
        "FAIL validation-error/not-hex: the 422 message \"%s\" does not hold 'too dark'"
        % NOT_HEX,
        "FAIL validation-error/valid: expected a validation error (422), the model ran",
    ]


def test_run_examples_without_test_data_or_a_loadable_model(tmp_path):
    folder = template_copy(tmp_path)
    shutil.rmtree(str(folder / "tests"))
    assert modzy.run_examples(str(folder)) == (0, 1, [
        "FAIL no test data: %s holds neither examples/ nor validation-error/"
        % (folder / "tests" / "data")])
    broken = template_copy(tmp_path, "broken")
    (broken / "model_lib" / "model.py").write_text("raise RuntimeError('no weights')\n")
    passed, failed, lines = modzy.run_examples(str(broken))
    assert (passed, failed, len(lines)) == (0, 1, 1)
    assert lines[0].startswith("FAIL the model cannot be loaded: ModuleImportFailed: the model "
                               "factory model_lib.model.ColorNamePredictorModel: module "
                               "model_lib.model raised RuntimeError while importing: no weights")
