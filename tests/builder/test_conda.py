"""environment.yml parsing and the conda step's failures (no engine, no channel needed)."""

import sys

import pytest

from builder import conda


def write(tmp_path, text, name="environment.yml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_channels_specs_and_pip(tmp_path):
    spec = conda.read_environment(write(tmp_path, """\
name: ignored
channels:
  - file:///kiln-channel
  - conda-forge
dependencies:
  - kiln-tool >=1
  - conda-forge::python=3.11
  - pip:
    - tabulate==0.8.10
"""))
    assert spec.channels == ["file:///kiln-channel", "conda-forge"]
    assert spec.specs == ["kiln-tool >=1", "conda-forge::python=3.11"]
    assert spec.pip == ["tabulate==0.8.10"]


@pytest.mark.parametrize("text, fragment", [
    ("channels: [c]\ndependencies:\n  - a\n - b\n", "is not valid YAML (line 4, column 2)"),
    ("channels: [c\ndependencies: [a]\n", "is not valid YAML (line 2"),
    ("- just\n- a list\n", "must be a mapping"),
    ("channels: c\ndependencies: [a]\n", "channels must be a list"),
    ("channels: [c]\ndependencies: [{npm: [x]}]\n", "each dependency must be"),
    ("channels: [c]\ndependencies: []\n", "lists no conda dependencies"),
    ("dependencies: [a]\n", "lists no channels"),
])
def test_malformed_files_name_the_problem(tmp_path, text, fragment):
    with pytest.raises(conda.CondaError) as info:
        conda.read_environment(write(tmp_path, text))
    assert fragment in str(info.value)
    assert "environment.yml" in str(info.value)


def test_find_environment_file(tmp_path):
    assert conda.find_environment_file(str(tmp_path), None) is None
    write(tmp_path, "x", "conda.yml")
    assert conda.find_environment_file(str(tmp_path), None).endswith("conda.yml")
    write(tmp_path, "x", "environment.yaml")
    assert conda.find_environment_file(str(tmp_path), None).endswith("environment.yaml")
    with pytest.raises(conda.CondaError) as info:
        conda.find_environment_file(str(tmp_path), "other.yml")
    assert "ENVIRONMENT_FILE=other.yml" in str(info.value)


def test_images_without_the_installer_refuse_the_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rattler", None)  # import rattler -> ImportError
    spec = conda.read_environment(write(tmp_path, "channels: [c]\ndependencies: [a]\n"))
    with pytest.raises(conda.CondaError) as info:
        conda.build_environment(spec, str(tmp_path / "env"), None, {})
    assert "this builder image has no conda installer" in str(info.value)
    assert "modelkiln/python311" in str(info.value)


@pytest.mark.parametrize("text, expected", [
    (None, {}),
    ('{"https://channels.example.com/conda-forge": ["https://m.example.com/cf"]}',
     {"https://channels.example.com/conda-forge": ["https://m.example.com/cf"]}),
    ('{"a": "https://m.example.com/a"}', {"a": ["https://m.example.com/a"]}),
])
def test_mirrors(text, expected):
    assert conda.mirrors_from(text) == expected


def test_bad_mirrors():
    with pytest.raises(conda.CondaError):
        conda.mirrors_from("[1]")


def test_activation_script(tmp_path, monkeypatch):
    monkeypatch.setattr(conda, "ACTIVATE_SCRIPT", str(tmp_path / "etc" / "act.sh"))
    conda.write_activation("/opt/app-root/conda-envs/m", "m", "/opt/app-root/bin/python")
    text = (tmp_path / "etc" / "act.sh").read_text()
    assert "export CONDA_PREFIX=/opt/app-root/conda-envs/m\n" in text
    assert "export PATH=/opt/app-root/conda-envs/m/bin:$PATH\n" in text
    assert "LD_LIBRARY_PATH=/opt/app-root/conda-envs/m/lib" in text
    assert "MODELKILN_PYTHON=/opt/app-root/bin/python\n" in text


def _channel(tmp_path, packages):
    """A local channel holding metadata-only packages: (name, version, depends, subdir)."""
    import asyncio

    from rattler import index

    from tests.images.conda_channel import build_package

    channel = tmp_path / "channel"
    for subdir in ("noarch", "linux-64"):
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    for name, version, depends, subdir in packages:
        build_package(str(channel), name, version, {}, depends=depends, subdir=subdir)
    asyncio.run(index.index_fs(str(channel), force=True))
    return "file://%s" % channel


def _build(tmp_path, monkeypatch, channel, specs):
    monkeypatch.setattr(conda, "CACHE_DIR", str(tmp_path / "cache"))
    path = write(tmp_path, "channels: [%s]\ndependencies: [%s]\n" % (channel, ", ".join(specs)))
    prefix = tmp_path / "env"
    with pytest.raises(conda.CondaError) as info:
        conda.build_environment(conda.read_environment(path), str(prefix), None, {})
    return str(info.value), prefix


@pytest.mark.parametrize("version", ["2.7.18", "3.5.10", "3.14.0"])
def test_python_outside_the_supported_range_stops_before_installing(tmp_path, monkeypatch,
                                                                    version):
    channel = _channel(tmp_path, [("python", version, [], "linux-64"),
                                  ("pip", "21.3.1", [], "noarch")])
    message, prefix = _build(tmp_path, monkeypatch, channel, ["python"])
    assert "environment.yml resolves to python %s" % version in message
    assert "runs on CPython 3.6 to 3.13" in message and "python=3.11" in message
    assert not prefix.exists()


def test_a_channel_without_pip_is_named_as_the_cause(tmp_path, monkeypatch):
    channel = _channel(tmp_path, [("python", "3.9.2", [], "linux-64")])
    message, _ = _build(tmp_path, monkeypatch, channel, ["python=3.9"])
    assert "None of the channels (%s/) has a pip package" % channel in message
    assert "conda's python needs one" in message


def test_an_unsolvable_spec_keeps_the_solver_message_without_a_pip_hint(tmp_path, monkeypatch):
    channel = _channel(tmp_path, [("kiln-data", "1.0.0", [], "noarch")])
    message, _ = _build(tmp_path, monkeypatch, channel, ["kiln-data>=2"])
    assert "kiln-data" in message and "Cannot solve" in message
    assert "pip package" not in message
