"""Which format a model folder is served as (python_runtime/model/formats), and what each
format's settings become. The catwalk API itself is compared with catwalk in
tests/compat_catwalk."""

import os
import shutil

import pytest

from python_runtime.model.formats import resolve
from python_runtime.settings import Settings, SettingsError

ECHO = os.path.join(os.path.dirname(__file__), "..", "compat_catwalk", "models", "echo")


def catwalk_folder(tmp_path, model_yml=None):
    folder = tmp_path / "model"
    shutil.copytree(ECHO, str(folder))
    if model_yml is not None:
        (folder / "model.yml").write_text(model_yml)
    return folder


def resolved(folder, env=None, argv=()):
    return resolve(Settings.load([str(folder)] + list(argv), environ=env or {},
                                 read_annotations=False))


def test_a_catwalk_folder_is_recognised_and_named_from_its_model_yml(tmp_path):
    folder = catwalk_folder(tmp_path)
    text = (folder / "model.yml").read_text()
    (folder / "model.yml").write_text(text.replace('name: "SchemaEcho"', 'name: "Echo Model (2)"'))
    settings, module = resolved(folder)
    assert module.NAME == "catwalk" and settings.model_format == "catwalk"
    assert settings.model_name == "Echo Model (2)"
    assert settings.v2_model_name == "echo-model-2" and settings.v2_model_version == "1.2.3"
    assert settings.http_port == 9090  # catwalk's port


def test_model_name_makes_any_folder_a_seldon_folder(tmp_path):
    folder = catwalk_folder(tmp_path)
    settings, module = resolved(folder, {"MODEL_NAME": "Echo"})
    assert module.NAME == "seldon" and settings.model_name == "Echo"
    assert settings.http_port == 9000


def test_server_port_is_the_rest_port_and_may_not_contradict_it(tmp_path):
    folder = catwalk_folder(tmp_path)
    assert resolved(folder, {"SERVER_PORT": "8123"})[0].http_port == 8123
    assert resolved(folder, {"PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8124"})[0].http_port == 8124
    same = {"SERVER_PORT": "8125", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8125"}
    assert resolved(folder, same)[0].http_port == 8125
    with pytest.raises(SettingsError) as info:
        resolved(folder, {"SERVER_PORT": "8126", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8127"})
    assert "SERVER_PORT=8126 and PREDICTIVE_UNIT_HTTP_SERVICE_PORT=8127" in str(info.value)
    with pytest.raises(SettingsError) as info:
        resolved(folder, {"SERVER_PORT": "nine"})
    assert str(info.value) == "SERVER_PORT='nine' is not a TCP port"


def test_model_path_points_at_the_model_folder(tmp_path):
    catwalk_folder(tmp_path)
    settings, _ = resolved(tmp_path, {"MODEL_PATH": "model",
                                      "MODELKILN_MODEL_FORMAT": "catwalk"})
    assert settings.app_dir == str(tmp_path / "model")
    with pytest.raises(SettingsError) as info:
        resolved(tmp_path, {"MODEL_PATH": "elsewhere", "MODELKILN_MODEL_FORMAT": "catwalk"})
    assert "holds no catwalk model" in str(info.value)


def test_a_model_yml_without_what_serving_needs_is_named(tmp_path):
    folder = catwalk_folder(tmp_path, "name: x\ncontact: {name: a, email: b}\n")
    with pytest.raises(SettingsError) as info:
        resolved(folder)
    assert "model.yml has no version, schema" in str(info.value)


def test_tls_from_catwalks_server_config(tmp_path):
    folder = catwalk_folder(tmp_path)
    (folder / "application.yml").write_text(
        "server:\n  ssl:\n    enabled: true\n    cert: missing.pem\n    key: missing.pem\n")
    with pytest.raises(SettingsError) as info:
        resolved(folder, {"SERVER_CONFIG": "application.yml"})
    assert "MODELKILN_TLS_CERT=missing.pem: no readable file there" in str(info.value)
    (folder / "off.yml").write_text("server:\n  ssl:\n    enabled: false\n")
    assert resolved(folder, {"SERVER_CONFIG": "off.yml"})[0].tls_cert is None


def test_a_folder_of_no_known_kind_names_the_choices(tmp_path):
    with pytest.raises(SettingsError) as info:
        resolved(tmp_path)
    assert "MODELKILN_MODEL_FORMAT" in str(info.value) and "catwalk: model.yml" in str(info.value)
