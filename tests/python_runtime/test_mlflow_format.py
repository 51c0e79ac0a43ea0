"""MLflow model folders: recognition, settings, and what needs no mlflow (the API itself is
compared with `mlflow models serve` in tests/compat_mlflow, which has mlflow-skinny)."""

import sys

import pytest

from python_runtime.errors import BadDataError, LoadError, MethodNotAllowed, RouteNotFound
from python_runtime.model.formats import mlflow as mlflow_format
from python_runtime.model.formats import resolve
from python_runtime.protocols.mlflow import MlflowRest, media_type
from python_runtime.settings import Settings, SettingsError

MLMODEL = """flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.skops
    python_version: 3.11.7
  sklearn:
    pickled_model: model.skops
mlflow_version: 3.17.2
model_uuid: 7a1b
"""


def mlflow_folder(tmp_path, text=MLMODEL):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(text)
    (folder / "requirements.txt").write_text("mlflow==3.17.2\n")
    return folder


def resolved(folder, env=None):
    return resolve(Settings.load([str(folder)], environ=env or {}, read_annotations=False))


def test_an_mlflow_folder_is_recognised_without_model_name(tmp_path):
    settings, module = resolved(mlflow_folder(tmp_path))
    assert module.NAME == "mlflow" and settings.model_format == "mlflow"
    assert settings.model_name == "mlflow-model" and settings.v2_model_name == "mlflow-model"
    assert settings.http_port == 9000  # MLflow's 5000 is the gRPC port here


def test_model_name_makes_it_a_seldon_folder_and_the_format_can_be_forced(tmp_path):
    folder = mlflow_folder(tmp_path)
    assert resolved(folder, {"MODEL_NAME": "Model"})[1].NAME == "seldon"
    assert resolved(folder, {"MODELKILN_MODEL_FORMAT": "mlflow"})[1].NAME == "mlflow"


def test_the_name_comes_from_mlmodel_when_it_has_one(tmp_path):
    folder = mlflow_folder(tmp_path, MLMODEL + "artifact_path: iris model\n")
    settings, _ = resolved(folder)
    assert settings.model_name == "iris-model" and settings.v2_model_name == "iris-model"
    named = resolved(folder, {"MODELKILN_V2_MODEL_NAME": "other"})[0]
    assert named.v2_model_name == "other"


@pytest.mark.parametrize("text, message", [
    ("flavors:\n  sklearn: {pickled_model: m.pkl}\n",
     "has no python_function flavor (it has sklearn): modelkiln serves MLflow models"),
    ("name: x\n", "has no flavors: an MLflow MLmodel file names the flavors"),
    ("- a list\n", "has no flavors"),
    ("flavors: [unclosed\n", "cannot be read"),
])
def test_an_mlmodel_that_cannot_be_served_is_named(tmp_path, text, message):
    with pytest.raises(SettingsError) as info:
        resolved(mlflow_folder(tmp_path, text))
    assert message in str(info.value)


def test_without_mlflow_the_load_names_the_package(tmp_path, monkeypatch):
    settings, module = resolved(mlflow_folder(tmp_path))
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)
    with pytest.raises(LoadError) as info:
        module.user_class(settings)
    assert "mlflow cannot be imported" in str(info.value)
    assert "pip install mlflow-skinny pandas" in str(info.value)


class Spec(object):
    def __init__(self, name, kind, shape=None):
        self.name, self.type, self.shape = name, kind, shape


class Kind(object):
    def __init__(self, name):
        self.name = name


class Schema(object):
    def __init__(self, inputs, tensors):
        self.inputs, self.tensors = inputs, tensors

    def is_tensor_spec(self):
        return self.tensors


def test_a_signature_becomes_v2_metadata():
    columns = Schema([Spec("x", Kind("double")), Spec("n", Kind("long")), Spec("w", Kind("string")),
                      Spec("f", Kind("boolean")), Spec("i", Kind("integer")),
                      Spec("s", Kind("float")), Spec("b", Kind("binary"))], False)
    assert mlflow_format.v2_tensors(columns, "input") == [
        {"name": "x", "datatype": "FP64", "shape": [-1]},
        {"name": "n", "datatype": "INT64", "shape": [-1]},
        {"name": "w", "datatype": "BYTES", "shape": [-1]},
        {"name": "f", "datatype": "BOOL", "shape": [-1]},
        {"name": "i", "datatype": "INT32", "shape": [-1]},
        {"name": "s", "datatype": "FP32", "shape": [-1]},
        {"name": "b", "datatype": "BYTES", "shape": [-1]}]
    tensors = Schema([Spec(None, "float32", (-1, 3)), Spec(None, "uint8", (-1, 28, 28))], True)
    assert mlflow_format.v2_tensors(tensors, "input") == [
        {"name": "input-0", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "input-1", "datatype": "UINT8", "shape": [-1, 28, 28]}]
    assert mlflow_format.v2_tensors(None, "output") == []


class Ctx(object):
    pass


def test_errors_on_mlflows_routes_have_its_bodies():
    rest = MlflowRest(Ctx())
    assert rest.error_answer(RouteNotFound("x")) == (404, b'{"detail":"Not Found"}',
                                                     "application/json")
    assert rest.error_answer(MethodNotAllowed("x", "GET"))[:2] == (
        405, b'{"detail":"Method Not Allowed"}')
    status, body, _ = rest.error_answer(BadDataError("the reason"))
    assert (status, body) == (400, b'{"error_code":"BAD_REQUEST","message":"the reason"}')
    assert [route.path for route in rest.routes()] == ["/invocations", "/ping", "/health",
                                                       "/version"]


def test_text_answers_say_their_charset_as_mlflows_server_does():
    assert media_type("text/plain") == "text/plain; charset=utf-8"
    assert media_type("application/json") == "application/json"
    assert media_type("text/csv; charset=utf-8") == "text/csv; charset=utf-8"
