"""Image tests of environment.yml support: every ``test_apps/conda-*`` app is built against a
local conda channel that this module builds itself (see conda_channel.py) and injects at
``/kiln-channel``, so no outside conda channel is needed. Needs a Docker engine and the
builder image, like test_images.py (which leaves the conda-* apps to this module)."""

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from .conda_channel import CHANNEL_MOUNT, build_channel
from .conda_python import PIPS
from .conftest import (BUILDER, CA_BUNDLE, PREFIX, REPO, app_config, assert_examples_pass,
                       assert_failed_as_expected, modelkiln)
from .test_images import assert_clean_layers, layer_tars

# In `make test-full` (and CI when the image inputs change), not `make test`: the test
# channel's Python is compiled on a fresh machine, and each app solves and installs an environment.
pytestmark = pytest.mark.full

APPS = sorted(p for p in (REPO / "test_apps").glob("conda-*") if p.is_dir())
ENV_PREFIX = "/opt/app-root/conda-envs/microservice"

# What the solver must pick from the test channel for each app that builds (name, version).
# kiln-tool pulls in the newest kiln-data (2.0.0) unless the app pins it.
EXPECTED_PACKAGES = {
    "conda-no-python": [("kiln-data", "2.0.0"), ("kiln-tool", "1.0.0"), ("libkiln", "1.0.0")],
    "conda-pip-section": [("kiln-data", "1.0.0")],
    "conda-with-requirements-and-setup": [("kiln-data", "2.0.0"), ("kiln-tool", "1.0.0")],
    "conda-incremental": [("kiln-data", "2.0.0"), ("kiln-tool", "1.0.0"), ("libkiln", "1.0.0")],
    # The solver adds pip to python; the newest pip in the channel fits both.
    "conda-python39": [("kiln-data", "1.0.0"), ("pip", "25.1.1"), ("python", "3.9.2")],
    "conda-python311": [("kiln-data", "1.0.0"), ("pip", "25.1.1"), ("python", "3.11.2")],
    # a GPPI artifact: the environment file its project names (binaries.conda_path)
    "conda-gppi": [("kiln-data", "1.0.0"), ("pip", "25.1.1"), ("python", "3.11.2")],
    # a Triton folder in ODAHU's packager layout: its conda.yaml
    "conda-triton": [("kiln-data", "1.0.0"), ("pip", "25.1.1"), ("python", "3.11.2")],
}
# Where an environment's own Python would hold a second copy of the runtime's libraries:
# a Python of the builder image's own minor version must reuse the image's instead.
NO_SECOND_RUNTIME = {"conda-python311": ENV_PREFIX + "/lib/python3.11/site-packages/numpy/"}


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory):
    """The local test channel (kiln-data, kiln-tool, libkiln), built once per session."""
    return build_channel(tmp_path_factory.mktemp("conda"))


def tag_for(app: Path) -> str:
    return "%s%s-%s:ci" % (PREFIX, app.parent.name, app.name)


def build(app: Path, tag: str, channel: str, *extra) -> tuple:
    config = app_config(app)
    assert config.get("needs") == "conda-channel", "%s/build.json: needs" % app.name
    args = ["build", str(app), BUILDER, tag, "--ca-bundle", CA_BUNDLE,
            "--inject", "%s:%s" % (channel, CHANNEL_MOUNT)] + list(extra)
    for key, value in config.get("env", {}).items():
        args += ["-e", "%s=%s" % (key, value)]
    started = time.time()
    code, output = modelkiln(*args)
    return code, output, time.time() - started


def clean_build_line(app: Path) -> str:
    return "---> conda: %d package(s) to install, 0 already present" % len(
        EXPECTED_PACKAGES[app.name])


def assert_conda_layers(engine, tag: str, skip: int, app: Path) -> None:
    """The env is in the image with exactly the expected packages, readable by group 0 (any
    UID on OpenShift); no package archive, no package cache, nothing of the injected channel
    and, where the image's runtime serves, no second copy of it."""
    packages = EXPECTED_PACKAGES[app.name]
    records = set()
    for name, layer in layer_tars(engine, tag, skip):
        for member in layer.getmembers():
            path = "/" + member.name.lstrip("./")
            if member.isfile():
                assert not path.endswith((".tar.bz2", ".conda")), "%s: archive %s" % (name, path)
                assert "modelkiln-conda-cache" not in path, "%s: conda cache %s" % (name, path)
                assert not path.startswith(CHANNEL_MOUNT + "/"), "%s: channel %s" % (name, path)
            if path.startswith(ENV_PREFIX + "/") and not member.issym():
                owner = (member.mode & 0o700) >> 3
                assert member.mode & 0o070 == owner, "%s: %s is %o" % (name, path, member.mode)
            if app.name in NO_SECOND_RUNTIME:
                assert not path.startswith(NO_SECOND_RUNTIME[app.name]), path
            if path.startswith(ENV_PREFIX + "/conda-meta/") and path.endswith(".json"):
                records.add(os.path.basename(path))
    for package in packages:
        assert any(r.startswith("%s-%s-" % package) for r in records), \
            "%s-%s missing from conda-meta of %s: %s" % (package + (tag, sorted(records)))
    others = {r for r in records if r.startswith(("kiln-", "libkiln-"))
              and not any(r.startswith("%s-%s-" % p) for p in packages)}
    assert not others, "unexpected packages in %s: %s" % (tag, sorted(others))


def no_installer(app: Path) -> str:
    """The refusal of a builder without conda names the app's environment file (build.json
    "environment_file": ODAHU's folders name theirs conda.yaml)."""
    name = app_config(app).get("environment_file", "environment.yml")
    return "%s found, but this builder image has no conda installer" % name


@pytest.mark.parametrize("app", [a for a in APPS if not app_config(a).get("incremental")],
                         ids=[a.name for a in APPS if not app_config(a).get("incremental")])
def test_conda_app_image(app, engine, builder_layers, builder_has_conda, conda_channel):
    config = app_config(app)
    tag = tag_for(app)
    code, output, _ = build(app, tag, conda_channel)
    if not builder_has_conda and app.name != "conda-fail-malformed":
        # The file is read (and a malformed one refused) before the installer is needed.
        assert_failed_as_expected(app, dict(config, must_fail=no_installer(app)), code, output)
        return
    if config.get("must_fail"):
        assert_failed_as_expected(app, config, code, output)
        return
    assert code == 0, output[-5000:]
    assert "---> built %s" % tag in output
    assert clean_build_line(app) in output, output[-3000:]
    assert_examples_pass(tag, app)
    assert_clean_layers(engine, tag, builder_layers)
    assert_conda_layers(engine, tag, builder_layers, app)


SLIM_APPS = ["conda-no-python", "conda-python39", "conda-gppi"]


@pytest.mark.parametrize("name", SLIM_APPS)
def test_conda_app_image_built_slim(name, engine, conda_channel):
    """The environment (/opt/app-root/conda-envs, with its own Python or with none) comes
    along to the runtime image, which has no conda installer, and serves there."""
    from .test_slim import build_tools_in, runtime_image

    runtime_image(engine)
    app = REPO / "test_apps" / name
    tag = "%sslim-%s:ci" % (PREFIX, name)
    code, output, _ = build(app, tag, conda_channel, "--slim")
    assert code == 0, output[-5000:]
    assert clean_build_line(app) in output, output[-3000:]
    assert "---> putting the app in place (/opt/app-root)" in output
    assert_examples_pass(tag, app)
    assert "rattler" not in build_tools_in(engine, tag)
    engine.images.remove(tag, force=True)


@pytest.mark.parametrize("app", [a for a in APPS if app_config(a).get("incremental")],
                         ids=[a.name for a in APPS if app_config(a).get("incremental")])
def test_conda_incremental_rebuild(app, engine, builder_layers, builder_has_conda,
                                   conda_channel):
    tag = tag_for(app)
    if not builder_has_conda:
        code, output, _ = build(app, tag, conda_channel)
        assert_failed_as_expected(app, {"must_fail": no_installer(app)}, code, output)
        return
    try:
        engine.images.remove(tag, force=True)
    except Exception:
        pass
    count = len(EXPECTED_PACKAGES[app.name])
    code, output, clean = build(app, tag, conda_channel)
    assert code == 0, output[-5000:]
    assert clean_build_line(app) in output, output[-3000:]
    code, output, incremental = build(app, tag, conda_channel, "--incremental")
    assert code == 0, output[-5000:]
    assert ("---> conda: 0 package(s) to install, %d already present" % count
            in output), output[-3000:]
    assert "Downloading" not in output, output[-3000:]
    assert_examples_pass(tag, app)
    assert_clean_layers(engine, tag, builder_layers)
    assert_conda_layers(engine, tag, builder_layers, app)
    print("conda app: clean build %.1f s, incremental %.1f s" % (clean, incremental))


# Checks of the fixtures themselves; they need no Docker engine.

def test_channel_packages_install_and_work(conda_channel, tmp_path):
    """The channel solves and installs with rattler outside any image, and its tool, data
    file and library work from the installed prefix."""
    import rattler

    prefix = tmp_path / "env"

    async def install():
        records = await rattler.solve(["file://" + conda_channel], ["kiln-tool", "libkiln"],
                                      platforms=["linux-64", "noarch"])
        await rattler.install(records, str(prefix), cache_dir=str(tmp_path / "cache"),
                              show_progress=False)
        return sorted((r.name.normalized, str(r.version)) for r in records)

    assert asyncio.run(install()) == EXPECTED_PACKAGES["conda-no-python"]
    values = json.loads((prefix / "share" / "kiln" / "values.json").read_text())
    assert values["version"] == "2.0.0"
    tool = subprocess.run([str(prefix / "bin" / "kiln-tool"), "7"], stdout=subprocess.PIPE,
                          check=True)
    assert tool.stdout == b"kiln-tool: 7 squared is 49\n"
    import ctypes

    lib = ctypes.CDLL(str(prefix / "lib" / "libkiln.so"))
    lib.kiln_scale.restype = ctypes.c_double
    lib.kiln_scale.argtypes = [ctypes.c_double]
    assert lib.kiln_scale(2.0) == 7.0


@pytest.mark.parametrize("version,full", [("3.9", "3.9.2"), ("3.11", "3.11.2")])
def test_channel_python_installs_and_runs(conda_channel, tmp_path, version, full):
    """python=X.Y solves (with pip added, as builder/conda.py solves) and installs into a
    prefix other than the build's; the interpreter, its C extensions and pip work there."""
    import rattler

    prefix = tmp_path / "env"

    async def install():
        records = await rattler.solve(["file://" + conda_channel], ["python=" + version],
                                      platforms=["linux-64", "noarch"],
                                      add_pip_as_python_dependency=True)
        await rattler.install(records, str(prefix), cache_dir=str(tmp_path / "cache"),
                              show_progress=False)

    asyncio.run(install())
    python = str(prefix / "bin" / "python")
    code = "import sys, ssl, ctypes, sqlite3, json; print(sys.version.split()[0], sys.prefix)"
    out = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, check=True)
    assert out.stdout.decode() == "%s %s\n" % (full, prefix)
    out = subprocess.run([python, "-m", "pip", "--version"], stdout=subprocess.PIPE, check=True)
    assert out.stdout.decode() == "pip %s from %s/lib/python%s/site-packages/pip (python %s)\n" % (
        PIPS[-1], prefix, version, version)


def test_channel_has_both_kiln_data_versions(conda_channel):
    repodata = json.loads(Path(conda_channel, "noarch", "repodata.json").read_text())
    versions = sorted(p["version"] for p in repodata["packages"].values()
                      if p["name"] == "kiln-data")
    assert versions == ["1.0.0", "2.0.0"]


def test_malformed_app_fails_on_line_3():
    """conda-fail-malformed's must_fail fragment names line 3: keep the file that way."""
    import yaml

    text = (REPO / "test_apps" / "conda-fail-malformed" / "environment.yml").read_text()
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yaml.safe_load(text)
    assert caught.value.problem_mark.line + 1 == 3
