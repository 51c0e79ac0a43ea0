"""Settings: one declaration per setting, precedence flag > env > .s2i/environment > default."""

import pytest

from python_runtime import settings as settings_mod
from python_runtime.settings import Settings, SettingsError, rest_timeout_from_annotations


def load(argv, env=None):
    return Settings.load(argv, environ=env or {}, read_annotations=False)


def test_defaults_match_seldon():
    s = load(["MyModel"])
    assert (s.http_port, s.metrics_port, s.metrics_endpoint) == (9000, 6000, "/metrics")
    assert (s.workers, s.threads, s.keepalive) == (1, 1, 2)
    assert s.service_type == "MODEL"
    assert s.timeout == 60.0
    assert s.request_path == {}


def test_env_then_flag_precedence():
    env = {"GUNICORN_WORKERS": "3", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9100"}
    s = load(["MyModel", "--workers", "5"], env)
    assert s.workers == 5
    assert s.http_port == 9100


def test_s2i_environment_is_lowest(tmp_path):
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text(
        "# comment\nMODEL_NAME=FromFile\nSERVICE_TYPE=router\nGUNICORN_WORKERS = 4\nbad line\n")
    s = load([str(tmp_path)], {"GUNICORN_WORKERS": "2"})
    assert s.model_name == "FromFile"
    assert s.service_type == "ROUTER"
    assert s.workers == 2
    assert s.app_dir == str(tmp_path)


@pytest.mark.parametrize("env, fragment", [
    ({"GUNICORN_WORKERS": "0"}, "GUNICORN_WORKERS='0' is invalid"),
    ({"GUNICORN_WORKERS": "many"}, "GUNICORN_WORKERS"),
    ({"SERVICE_TYPE": "PREDICTOR"}, "must be one of MODEL"),
    ({"PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "70000"}, "TCP port"),
    ({"PREDICTIVE_UNIT_METRICS_ENDPOINT": "metrics"}, "must start with '/'"),
    ({"FLASK_SINGLE_THREADED": "perhaps"}, "true/false"),
    ({"MODELKILN_MAX_REQUEST_SIZE": "-5"}, "positive size"),
])
def test_invalid_values_name_the_variable(env, fragment):
    with pytest.raises(SettingsError) as info:
        load(["MyModel"], env)
    assert fragment in str(info.value)


def test_missing_model_name_says_how_to_fix(tmp_path, monkeypatch):
    from python_runtime.model.formats import FOREIGN, resolve

    monkeypatch.chdir(tmp_path)  # a folder of no known kind
    with pytest.raises(SettingsError) as info:
        resolve(load([]))
    assert str(info.value) == (
        "no model class given: pass MODEL_NAME as the first argument, set MODEL_NAME, or point "
        "at an app folder whose .s2i/environment sets it; or a model folder of another system: "
        "catwalk: model.yml and model.py; modzy: model.yaml and app.py calling "
        "flask_psc_model's create_app(...); gppi: odahuflow.project.yaml%s "
        "(MODELKILN_MODEL_FORMAT picks one)" % "".join(
            "; %s: %s" % (m.NAME, m.MARKERS) for m in FOREIGN[3:]))  # (formats added later)
    with pytest.raises(SettingsError) as info:
        load([], {"MODELKILN_MODEL_FORMAT": "seldon"})
    assert str(info.value).startswith("no model class given: pass MODEL_NAME")


def test_api_type_argument_is_refused():
    with pytest.raises(SettingsError) as info:
        load(["MyModel", "REST"])
    assert "no longer a CLI argument" in str(info.value)


@pytest.mark.parametrize("text, expected", [("1k", 1024), ("2m", 2 << 20), ("1g", 1 << 30),
                                            ("512", 512), ("10mb", 10 << 20)])
def test_sizes(text, expected):
    assert load(["M"], {"MODELKILN_MAX_REQUEST_SIZE": text}).max_request_size == expected


def test_request_path_uses_unit_id_and_image():
    s = load(["M"], {"PREDICTIVE_UNIT_ID": "clf", "PREDICTIVE_UNIT_IMAGE": "repo/clf:1.2"})
    assert s.request_path == {"clf": "repo/clf:1.2"}
    s = load(["M"], {"PREDICTIVE_UNIT_ID": "clf"})
    assert s.request_path == {"clf": "NOT_IMPLEMENTED:NOT_IMPLEMENTED"}


def test_bool_flags_and_log_alias():
    s = load(["M", "--access-log", "--single-threaded"], {"LOG_LEVEL": "debug"})
    assert s.access_log is True and s.single_threaded is True
    assert s.log_level == "DEBUG"


def test_rest_timeout_annotation(tmp_path):
    path = tmp_path / "annotations"
    path.write_text('seldon.io/other="x"\nseldon.io/rest-timeout="15000"\n')
    assert rest_timeout_from_annotations(str(path)) == 15.0
    assert rest_timeout_from_annotations(str(tmp_path / "missing")) is None


def test_annotation_applies_only_without_explicit_timeout(tmp_path, monkeypatch):
    path = tmp_path / "annotations"
    path.write_text('seldon.io/rest-timeout="120000"\n')
    monkeypatch.setattr(settings_mod, "ANNOTATIONS_FILE", str(path))
    assert Settings.load(["M"], environ={}).timeout == 120.0
    assert Settings.load(["M"], environ={"GUNICORN_TIMEOUT": "5"}).timeout == 5.0


def test_every_setting_has_help_and_a_source():
    for s in settings_mod.SETTINGS:
        assert s.help
        assert s.env or s.flag
