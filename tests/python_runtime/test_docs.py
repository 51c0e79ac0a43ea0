"""The /docs page without a browser (tests/browser drives it in Chromium): the page and its
header, the / redirect, the assets and where they come from, the setting that turns it off,
and the request examples the OpenAPI document carries for "Try it out"."""

import json

import pytest
from werkzeug.test import Client

from python_runtime.jobs import predict as jobs
from python_runtime.protocols.docs import missing_assets_warning

from .live import APPS, REPO_ROOT

TEMPLATE = str(REPO_ROOT / "templates" / "model-template-app")


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A stand-in Swagger UI folder (the real one comes from swagger-ui-bundle)."""
    folder = tmp_path / "swagger"
    folder.mkdir()
    (folder / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = null;")
    (folder / "swagger-ui.css").write_text("body {}")
    monkeypatch.setenv("MODELKILN_DOCS_ASSETS", str(folder))
    return folder


def client(app_dir):
    return Client(jobs.load_app(app_dir, docs=True))


def document(app_dir):
    return json.loads(client(app_dir).get("/openapi.json").data)


def request_examples(doc, path):
    content = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content.get("examples", {}).items()}


def test_the_page_shows_the_model_and_loads_its_files_from_this_server(assets, monkeypatch):
    monkeypatch.setenv("MODELKILN_V2_MODEL_VERSION", "2.0")
    web = client(TEMPLATE)
    page = web.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.data.decode()
    assert "<h1>MyModel</h1>" in text and ">MODEL<" in text and ">2.0<" in text
    assert 'class="ready">ready<' in text
    assert 'src="docs/swagger-ui-bundle.js"' in text and "http" not in text.split("<body>")[1]
    script = web.get("/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.data == b"window.SwaggerUIBundle = null;"
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert web.get("/docs/swagger-ui.css").headers["Content-Type"].startswith("text/css")
    missing = web.get("/docs/index.html")
    assert missing.status_code == 404 and "no file index.html" in json.loads(missing.data)["error"]
    root = web.get("/")
    assert root.status_code == 302 and root.headers["Location"].endswith("docs")


def test_without_swagger_files_the_page_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELKILN_DOCS_ASSETS", str(tmp_path))  # empty
    monkeypatch.setattr("python_runtime.protocols.docs.SHARE_DIR", str(tmp_path))
    monkeypatch.setitem(__import__("sys").modules, "swagger_ui_bundle", None)
    web = client(TEMPLATE)
    assert "install swagger-ui-bundle or set MODELKILN_DOCS_ASSETS" in web.get("/docs").data.decode()
    settings = web.application.ctx.settings  # the server says it once, at start
    assert "MODELKILN_DOCS=false" in missing_assets_warning(settings)
    answer = web.get("/docs/swagger-ui.css")
    assert answer.status_code == 404 and "no Swagger UI files" in json.loads(answer.data)["error"]


def test_the_setting_turns_the_page_off(assets, monkeypatch):
    monkeypatch.setenv("MODELKILN_DOCS", "false")
    web = client(TEMPLATE)
    for path in ("/docs", "/docs/swagger-ui.css", "/"):
        answer = web.get(path)
        assert answer.status_code == 404, path
    assert "/docs" not in json.loads(web.get("/openapi.json").data)["paths"]


def test_examples_come_from_examples_json_for_seldon_and_v2(assets):
    doc = document(TEMPLATE)
    seldon = request_examples(doc, "/api/v1.0/predictions")
    assert list(seldon) == ["predict ndarray", "predict tensor"]  # 2xx JSON requests only
    assert seldon["predict ndarray"]["data"]["ndarray"][0] == [5.1, 3.5, 1.4, 0.2]
    assert request_examples(doc, "/predict") == seldon  # the form example is not JSON
    v2 = request_examples(doc, "/v2/models/{model_name}/infer")
    assert v2 == {"predict ndarray": {"inputs": [{
        "name": "input-0", "shape": [2, 4], "datatype": "FP64",
        "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}}
    odahu = request_examples(doc, "/api/model/invoke")
    assert odahu == {"predict ndarray": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}
    parameters = doc["paths"]["/v2/models/{model_name}/infer"]["parameters"]
    assert parameters[0]["name"] == "model_name" and parameters[0]["example"] == "MyModel"


def test_examples_come_from_declared_inputs_else_a_minimal_message(assets, tmp_path):
    app = tmp_path / "declared"
    app.mkdir()
    (app / "Declared.py").write_text(
        "class Declared(object):\n"
        "    def init_metadata(self):\n"
        "        return {'inputs': [{'name': 'pixels', 'datatype': 'INT32', 'shape': [-1, 3]}]}\n"
        "    def predict(self, X, names):\n"
        "        return X\n")
    (app / ".s2i").mkdir()
    (app / ".s2i" / "environment").write_text("MODEL_NAME=Declared\n")
    doc = document(str(app))
    assert request_examples(doc, "/v2/models/{model_name}/infer") == {"a V2 request": {
        "inputs": [{"name": "pixels", "shape": [1, 3], "datatype": "INT32", "data": [0, 0, 0]}]}}
    assert request_examples(doc, "/api/v1.0/predictions") == {
        "a Seldon message": {"data": {"ndarray": [[0, 0, 0]]}}}
    doc = document(str(APPS / "echo"))  # nothing declared, no examples.json
    assert request_examples(doc, "/api/v1.0/predictions") == {
        "a Seldon message": {"data": {"ndarray": [[1.0]]}}}
    assert request_examples(doc, "/v2/models/{model_name}/infer")["a V2 request"]["inputs"][0][
        "shape"] == [1, 1]
