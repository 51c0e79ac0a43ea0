"""Build-time settings and pip options, and the host's apt/pip settings."""

import os
import shutil
from pathlib import Path

import pytest

from builder import assemble
from modelkiln_cli.hostconfig import apt_mirror
from builder.settings import BuildSettings, BuildSettingsError


CATWALK_ECHO = Path(__file__).resolve().parents[1] / "compat_catwalk" / "models" / "echo"


def test_model_name_or_a_known_model_folder_is_required(tmp_path):
    with pytest.raises(BuildSettingsError) as info:
        BuildSettings.load({"MODELKILN_MODEL_FORMAT": "seldon"})
    assert "MODEL_NAME is not set" in str(info.value)
    settings = BuildSettings.load({})
    with pytest.raises(BuildSettingsError) as info:
        settings.decide_format(str(tmp_path))
    assert str(info.value).startswith("MODEL_NAME is not set: add MODEL_NAME=")
    assert ("another system (catwalk: model.yml and model.py; modzy: model.yaml and app.py "
            "calling flask_psc_model's create_app(...); gppi: odahuflow.project.yaml"
            ) in str(info.value)
    settings.decide_format(str(CATWALK_ECHO))
    assert settings.model_format == "catwalk"
    named = BuildSettings.load({"MODEL_NAME": "M"})
    named.decide_format(str(CATWALK_ECHO))  # MODEL_NAME wins whatever the folder holds
    assert named.model_format == "seldon"


def test_the_import_check_of_a_catwalk_folder(tmp_path):
    from builder import importcheck

    assert importcheck.main(["--format", "catwalk", str(CATWALK_ECHO)]) == 0
    broken = tmp_path / "broken"
    shutil.copytree(str(CATWALK_ECHO), str(broken))
    (broken / "model.py").write_text("class Model(object):\n    def predict(self, X):\n"
                                     "        return X +\n")
    assert importcheck.main(["--format", "catwalk", str(broken)]) == importcheck.APP_WRONG
    (broken / "model.py").write_text("import no_such_library\n")
    assert importcheck.main(["--format", "catwalk", str(broken)]) == importcheck.IMPORT_FAILED


def test_service_type_checked():
    with pytest.raises(BuildSettingsError) as info:
        BuildSettings.load({"MODEL_NAME": "M", "SERVICE_TYPE": "PREDICTOR"})
    assert "SERVICE_TYPE='PREDICTOR' is invalid" in str(info.value)


def test_defaults_and_switches():
    s = BuildSettings.load({"MODEL_NAME": "M", "DISABLE_SETUP_PY_PROCESSING": "true",
                            "REQUIREMENTS_FILE": "reqs/prod.txt"})
    assert s.service_type == "MODEL"
    assert s.disable_setup_py is True and s.disable_pyproject is False
    assert s.requirements_file == "reqs/prod.txt"


def test_pip_options_from_settings(monkeypatch, tmp_path):
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    s = BuildSettings.load({"MODEL_NAME": "M", "PIP_INDEX_URL": "https://example.com/simple",
                            "EXTRA_INDEX_URL": "https://a.example.com/s https://b.example.com/s",
                            "PIP_TRUSTED_HOST": "a.example.com", "PIP_FIND_LINKS": "/wheels"})
    assert assemble.pip_options(s) == [
        "--find-links", "/wheels", "--index-url", "https://example.com/simple",
        "--extra-index-url", "https://a.example.com/s",
        "--extra-index-url", "https://b.example.com/s", "--trusted-host", "a.example.com"]


def test_injected_wheels_come_first(monkeypatch, tmp_path):
    (tmp_path / "x-1.0-py3-none-any.whl").write_text("")
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path))
    s = BuildSettings.load({"MODEL_NAME": "M", "PIP_FIND_LINKS": "/wheels"})
    assert assemble.pip_options(s)[:4] == ["--find-links", str(tmp_path), "--find-links",
                                           "/wheels"]


def pip_environment_with(monkeypatch, tmp_path, ca_text, conf_text):
    """pip_environment() with these contents in the injected CA bundle and pip.conf."""
    ca, conf = tmp_path / "ca.crt", tmp_path / "pip.conf"
    ca.write_text(ca_text)
    conf.write_text(conf_text)
    monkeypatch.setattr(assemble.paths, "CA_BUNDLE", str(ca))
    monkeypatch.setattr(assemble.paths, "PIP_CONF", str(conf))
    return str(ca), str(conf), assemble.pip_environment(BuildSettings.load({"MODEL_NAME": "M"}))


def test_ca_bundle_and_pip_conf_only_in_pip_environment(monkeypatch, tmp_path):
    ca, conf, env = pip_environment_with(monkeypatch, tmp_path, "cert", "[global]\n")
    assert env["PIP_CERT"] == ca
    assert env["PIP_CONFIG_FILE"] == conf
    assert env["PIP_NO_CACHE_DIR"] == "1"


@pytest.mark.parametrize("text, mirror", [
    ("deb http://mirror.example.com/debian bookworm main\n", "http://mirror.example.com/debian"),
    ("Types: deb\nURIs: http://m.example.com/debian/\nSuites: bookworm\n",
     "http://m.example.com/debian"),
    ("URIs: http://m.example.com/debian-security\n", None),
    ("# deb http://x.example.com/debian bookworm main\n", None),
])
def test_apt_mirror(tmp_path, text, mirror):
    path = tmp_path / "sources"
    path.write_text(text)
    assert apt_mirror([str(path)]) == mirror


def test_empty_injected_files_count_as_absent(monkeypatch, tmp_path):
    """A 0-byte stub (what s2i leaves of an injected file, or a file mount in an image built
    earlier) is not a CA bundle or a pip.conf: pip must not be pointed at it."""
    ca, conf, env = pip_environment_with(monkeypatch, tmp_path, "", "")
    for key in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CONFIG_FILE"):
        assert env.get(key) not in (ca, conf), key


def test_fix_permissions_gives_group_the_owner_rights(tmp_path):
    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    record = meta / "python-3.9.2-0.json"
    record.write_text("{}")
    record.chmod(0o600)
    tool = tmp_path / "env" / "bin-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    assemble.fix_permissions([str(tmp_path / "env")])
    assert record.stat().st_mode & 0o777 == 0o660
    assert tool.stat().st_mode & 0o777 == 0o770


def test_runtime_for_an_environment_python(monkeypatch, tmp_path):
    """Another minor version gets its pin file installed; the image's own minor version
    reuses the image's libraries through the .pth file and installs nothing."""
    import sys
    import sysconfig

    site = tmp_path / "site"
    site.mkdir()
    calls = []
    monkeypatch.setattr(assemble.subprocess, "run", lambda *a, **k: type(
        "R", (), {"stdout": str(site) + "\n"})())
    monkeypatch.setattr(assemble, "run_pip", lambda python, args, env, what: calls.append(args))
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    settings = BuildSettings.load({"MODEL_NAME": "M"})
    pth = site / "modelkiln-runtime.pth"

    assemble.install_runtime("/env/bin/python", (3, 9), settings, {})
    assert calls == [["-r", "/opt/modelkiln/pins/runtime-py39.txt"]]
    assert pth.read_text() == "/opt/modelkiln/src\n"

    calls.clear()
    assemble.install_runtime("/env/bin/python", tuple(sys.version_info[:2]), settings, {})
    assert calls == []
    assert pth.read_text() == "/opt/modelkiln/src\n%s\n" % sysconfig.get_paths()["purelib"]


FAKE_PIP = """#!/bin/sh
echo "$@" >> "%(log)s"
case "$*" in
  *--no-index*) [ "%(offline)s" = ok ] && { echo "installed from wheels"; exit 0; }
                echo "ERROR: No matching distribution found for pandas"; exit 1 ;;
esac
[ "%(online)s" = tls ] && { echo "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]'))"; exit 1; }
[ "%(online)s" = fail ] && { echo "ERROR: No matching distribution found for pandas"; exit 1; }
echo "installed"; exit 0
"""


@pytest.mark.parametrize("offline, online, calls, error", [
    ("ok", "ok", ["--no-index"], None),
    ("missing", "ok", ["--no-index", "--retries 1"], None),
    ("missing", "fail", ["--no-index", "--retries 1"], "put every package it needs there"),
    ("missing", "tls", ["--no-index", "--retries 1"], "TLS certificate"),
], ids=["all-in-whl", "rest-from-index", "offline-and-missing", "tls-failure"])
def test_wheels_first_then_the_index(tmp_path, capsys, offline, online, calls, error):
    log = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(FAKE_PIP % {"log": log, "offline": offline, "online": online})
    fake.chmod(0o755)
    args = ["--find-links", assemble.paths.WHEEL_DIR, "-r", "requirements.txt"]
    if error is None:
        assemble.run_pip(str(fake), args, {"PATH": "/usr/bin:/bin"}, "requirements.txt")
    else:
        with pytest.raises(assemble.AssembleError) as info:
            assemble.run_pip(str(fake), args, {"PATH": "/usr/bin:/bin"}, "requirements.txt")
        assert error in str(info.value)
    made = log.read_text().splitlines()
    assert len(made) == len(calls)
    for line, marker in zip(made, calls):
        assert line.startswith("-m pip install --find-links /whl -r requirements.txt")
        assert marker in line
    out = capsys.readouterr().out
    assert ("installed" in out) == (error is None)


def test_without_wheels_pip_asks_the_index_once_with_its_own_retries(tmp_path):
    log = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(FAKE_PIP % {"log": log, "offline": "missing", "online": "tls"})
    fake.chmod(0o755)
    with pytest.raises(assemble.AssembleError) as info:
        assemble.run_pip(str(fake), ["-r", "r.txt"], {"PATH": "/usr/bin:/bin"}, "r.txt")
    assert "--ca-bundle" in str(info.value) and "--no-host-ca" in str(info.value)
    assert log.read_text().splitlines() == ["-m pip install -r r.txt"]


@pytest.mark.parametrize("source, code", [
    ("class M:\n    def predict(self, X, names)\n        return X\n", 2),      # syntax error
    ("class Other:\n    pass\n", 2),                                         # no class M
    ("class M:\n    pass\n", 2),                                             # no predict
    ("import no_such_gpu_library\nclass M:\n    pass\n", 1),                  # import failed
    ("raise OSError('libcuda.so.1: cannot open shared object file')\n", 1),
    ("class M:\n    def predict(self, X, names):\n        return X\n", 0),
], ids=["syntax", "no-class", "no-method", "missing-import", "raises-on-import", "good"])
def test_import_check_tells_a_wrong_app_from_a_failed_import(tmp_path, source, code):
    """Exit 2 (fix the app) or 1 (the import failed: DISABLE_IMPORT_CHECK may help)."""
    import subprocess
    import sys

    (tmp_path / "M.py").write_text(source)
    done = subprocess.run([sys.executable, "-m", "builder.importcheck", "M", "MODEL",
                           str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert ("ERROR: " in done.stderr) == (code != 0)


@pytest.mark.parametrize("files, env, installs", [
    (["setup.py"], {}, True),
    (["setup.py"], {"DISABLE_SETUP_PY_PROCESSING": "true"}, False),
    (["setup.py", "pyproject.toml"], {"DISABLE_SETUP_PY_PROCESSING": "true"}, False),
    (["setup.py", "pyproject.toml"], {"DISABLE_PYPROJECT_TOML_PROCESSING": "true"}, True),
    (["pyproject.toml"], {}, True),
    (["pyproject.toml"], {"DISABLE_PYPROJECT_TOML_PROCESSING": "true"}, False),
    ([], {}, False),
])
def test_which_switch_governs_the_apps_own_package(monkeypatch, tmp_path, files, env, installs):
    for name in files:
        (tmp_path / name).write_text("")
    calls = []
    monkeypatch.setattr(assemble, "run_pip", lambda python, args, env, what: calls.append(args))
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    settings = BuildSettings.load(dict(env, MODEL_NAME="M"))
    assemble.install_dependencies(settings, str(tmp_path), "/bin/python")
    assert calls == ([[str(tmp_path)]] if installs else [])


def test_dependency_fingerprint_follows_what_decides_the_install(monkeypatch, tmp_path):
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "Model.py").write_text("class Model: pass\n")
    (app / "requirements.txt").write_text("tabulate==0.8.10\n")
    settings = BuildSettings.load({"MODEL_NAME": "Model"})
    first = assemble.dependency_fingerprint(settings, str(app))
    (app / "Model.py").write_text("class Model: pass  # edited\n")
    assert assemble.dependency_fingerprint(settings, str(app)) == first  # source only
    (app / "requirements.txt").write_text("tabulate==0.8.10\nsix\n")
    second = assemble.dependency_fingerprint(settings, str(app))
    assert second != first
    other = BuildSettings.load({"MODEL_NAME": "Model", "PIP_INDEX_URL": "https://example.com"})
    assert assemble.dependency_fingerprint(other, str(app)) != second
    (app / "setup.py").write_text("from setuptools import setup\nsetup(name='m')\n")
    packaged = assemble.dependency_fingerprint(settings, str(app))
    (app / "Model.py").write_text("class Model: pass  # edited again\n")
    assert assemble.dependency_fingerprint(settings, str(app)) != packaged  # it is installed

    stamp = tmp_path / "stamp"
    monkeypatch.setattr(assemble, "DEPENDENCY_STAMP", str(stamp))
    assert not assemble.dependencies_unchanged(packaged)
    stamp.write_text(packaged + "\n")
    assert assemble.dependencies_unchanged(packaged)


def test_requirements_are_installed_before_the_apps_own_package(monkeypatch, tmp_path):
    (tmp_path / "requirements.txt").write_text("tabulate\n")
    (tmp_path / "setup.py").write_text("")
    calls = []
    monkeypatch.setattr(assemble, "run_pip", lambda python, args, env, what: calls.append(what))
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    installed = assemble.install_dependencies(BuildSettings.load({"MODEL_NAME": "M"}),
                                              str(tmp_path), "/bin/python")
    assert installed == ["requirements.txt", "setup.py"]
    assert calls == ["requirements.txt", "the app package from setup.py"]


def test_a_ca_bundle_in_the_source_is_trusted_and_not_copied(monkeypatch, tmp_path):
    """MODELKILN_CA_BUNDLE (what an OpenShift BuildConfig sets for its trusted-CA ConfigMap):
    pip trusts that file, its folder stays out of the app, a missing one stops the build."""
    source, app = tmp_path / "src", tmp_path / "app"
    (source / ".modelkiln-ca").mkdir(parents=True)
    (source / ".modelkiln-ca" / "ca-bundle.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (source / "Model.py").write_text("class Model: pass\n")
    monkeypatch.setattr(assemble.paths, "SOURCE_DIR", str(source))
    monkeypatch.setattr(assemble.paths, "CA_BUNDLE", str(tmp_path / "not-injected.crt"))
    settings = BuildSettings.load({"MODEL_NAME": "M",
                                   "MODELKILN_CA_BUNDLE": ".modelkiln-ca/ca-bundle.crt"})
    env = assemble.pip_environment(settings)
    expected = str(source / ".modelkiln-ca" / "ca-bundle.crt")
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == expected
    assemble.copy_source(str(source), str(app), assemble.source_only(settings))
    assert sorted(p.name for p in app.iterdir()) == ["Model.py"]
    missing = BuildSettings.load({"MODEL_NAME": "M", "MODELKILN_CA_BUNDLE": "certs/ca.crt"})
    with pytest.raises(assemble.AssembleError) as caught:
        assemble.pip_environment(missing)
    assert "MODELKILN_CA_BUNDLE=certs/ca.crt" in str(caught.value)
    assert "missing or empty" in str(caught.value)


def test_a_modzy_folder_leaves_the_template_servers_pins_out(monkeypatch, tmp_path, capsys):
    """The template's requirements.txt pins its Flask server; installed, those pins would
    replace the server modelkiln runs. For a Modzy folder pip gets a copy without them (the
    rest, options and -r includes untouched); any other folder's file goes to pip as it is."""
    (tmp_path / "requirements.txt").write_text(
        "--extra-index-url https://example.com/simple\n-r more.txt\nFlask==1.1.2\n"
        "gunicorn==19.9.0 \\\n    --hash=sha256:abc\nwerkzeug>=1.0  # the template's\n"
        "PyYAML==5.1.2\npython-box==3.4.6\nhumanfriendly==4.18\nflask-cors==3.0\n"
        "scikit-learn==1.3\n")
    seen = []

    def pip(python, args, env, what):
        seen.append(open(args[-1]).read() if args[-2] == "-r" else None)
        seen.append(os.path.dirname(args[-1]))
    monkeypatch.setattr(assemble, "run_pip", pip)
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    modzy = BuildSettings.load({"MODELKILN_MODEL_FORMAT": "modzy"})
    assemble.install_dependencies(modzy, str(tmp_path), "/bin/python")
    assert seen == ["--extra-index-url https://example.com/simple\n-r more.txt\n"
                    "python-box==3.4.6\nhumanfriendly==4.18\nflask-cors==3.0\n"
                    "scikit-learn==1.3\n", str(tmp_path)]
    assert os.listdir(str(tmp_path)) == ["requirements.txt"]  # the copy is gone
    log = capsys.readouterr().out
    assert "leaving out 'Flask==1.1.2'" in log and "leaving out 'PyYAML==5.1.2'" in log
    assert "leaving out 'gunicorn==19.9.0 --hash=sha256:abc'" in log

    seen.clear()
    assemble.install_dependencies(BuildSettings.load({"MODEL_NAME": "M"}), str(tmp_path),
                                  "/bin/python")
    assert seen[0] == (tmp_path / "requirements.txt").read_text()


@pytest.mark.parametrize("line, name", [
    ("Flask==1.1.2", "flask"), ("  Flask[async] >= 2", "flask"), ("PyYAML", "pyyaml"),
    ("python_box==3.4", "python-box"), ("zope.interface", "zope-interface"),
    ("# Flask", None), ("-r other.txt", None), ("--index-url x", None), ("./pkg", None),
    ("https://example.com/a.whl", None), ("", None),
])
def test_project_name_of_a_requirement_line(line, name):
    assert assemble.project_name(line) == name
