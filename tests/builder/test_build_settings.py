"""Build-time settings and pip options, and the host's apt/pip settings."""

import pytest

from builder import assemble
from builder.hostconfig import apt_mirror
from builder.settings import BuildSettings, BuildSettingsError


def test_model_name_required():
    with pytest.raises(BuildSettingsError) as info:
        BuildSettings.load({})
    assert "MODEL_NAME is not set" in str(info.value)
    assert ".s2i/environment" in str(info.value)


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


def test_readme_build_table_is_generated():
    import os

    from builder.settings import markdown_table

    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme) as handle:
        assert markdown_table() in handle.read(), "README build table is stale: run make docs"


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
