"""Build every template and test app into an image and check it (see conftest.py)."""

import functools
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import (BUILDER, CA_BUNDLE, PREFIX, REPO, app_config, assert_examples_pass,
                       assert_failed_as_expected, modelkiln)

APPS = sorted(p for p in (REPO / "templates").iterdir() if (p / ".s2i").is_dir() or
              (p / "examples.json").exists()) + sorted(
    p for p in (REPO / "test_apps").iterdir()
    if p.is_dir() and not p.name.startswith(("_", "conda-")))  # conda-*: see test_conda.py
SECRET_TOKEN = "mk-test-credential-7f3a9c"


def tag_for(app: Path) -> str:
    return "%s%s-%s:ci" % (PREFIX, app.parent.name, app.name)


def build(app: Path, tag: str, request, *extra) -> tuple:
    config = app_config(app)
    args = ["build", str(app), BUILDER, tag, "--ca-bundle", CA_BUNDLE] + list(extra)
    for key, value in config.get("env", {}).items():
        args += ["-e", "%s=%s" % (key, value)]
    needs = config.get("needs")
    if needs == "private-index":
        index = request.getfixturevalue("private_index")
        # The index URL carries a (fake) credential, passed only as an injected pip.conf.
        conf = Path(tempfile.mkdtemp()) / "pip.conf"
        conf.write_text("[global]\nindex-url = %s\n" % index.replace(
            "http://", "http://builder:%s@" % SECRET_TOKEN))
        args += ["--network", "host", "--pip-conf", str(conf)]
    elif needs == "wheels":
        wheels = request.getfixturevalue("wheelhouse")
        args += ["--inject", "%s:/whl" % wheels, "--network", "none"]
    started = time.time()
    code, output = modelkiln(*args)
    return code, output, time.time() - started


def layer_tars(engine, tag: str, skip: int):
    """(name, TarFile) of each layer of ``tag`` above its first ``skip`` layers."""
    image = engine.images.get(tag)
    buffer = tempfile.TemporaryFile()
    for chunk in image.save(named=True):
        buffer.write(chunk)
    buffer.seek(0)
    outer = tarfile.open(fileobj=buffer)
    manifest = json.load(outer.extractfile("manifest.json"))[0]
    for name in manifest["Layers"][skip:]:
        yield name, tarfile.open(fileobj=io.BytesIO(outer.extractfile(name).read()))


def assert_clean_layers(engine, tag: str, skip: int) -> None:
    """No pip cache, no injected CA bundle or pip.conf (not even an empty stub, which a later
    build would take for one), no credential in these layers."""
    for name, layer in layer_tars(engine, tag, skip):
        for member in layer.getmembers():
            path = "/" + member.name.lstrip("./")
            assert "/.cache/pip" not in path, "%s: pip cache %s" % (name, path)
            assert not path.startswith("/run/modelkiln/"), "%s: %s is left" % (name, path)
            if path.startswith("/run/secrets/"):
                assert member.size == 0, "%s: %s has content" % (name, path)
            if member.isfile() and member.size < 50 * 1024 * 1024:
                data = layer.extractfile(member).read()
                assert SECRET_TOKEN.encode() not in data, "%s: credential in %s" % (name, path)


@pytest.mark.parametrize("app", APPS, ids=["%s/%s" % (p.parent.name, p.name) for p in APPS])
def test_app_image(app, engine, builder_layers, request):
    config = app_config(app)
    tag = tag_for(app)
    code, output, seconds = build(app, tag, request)
    if config.get("must_fail"):
        assert_failed_as_expected(app, config, code, output)
        return
    assert code == 0, output[-5000:]
    assert "---> built %s" % tag in output
    labels = engine.images.get(tag).labels
    assert labels["io.openshift.s2i.build.image"] == BUILDER
    assert labels["io.openshift.s2i.build.source-location"] == str(app)
    assert_examples_pass(tag, app)
    assert_clean_layers(engine, tag, builder_layers)


def test_builder_image_layers_are_clean(engine):
    assert_clean_layers(engine, BUILDER, 0)
    config = engine.images.get(BUILDER).attrs["Config"]
    assert config["User"] == "1001"
    assert config["Labels"]["io.openshift.s2i.scripts-url"] == "image:///usr/libexec/s2i"
    assert config["Cmd"] == ["/usr/libexec/s2i/usage"]


def test_incremental_rebuild_reuses_packages(engine, request, tmp_path):
    app = REPO / "test_apps" / "requirements-txt"
    tag = PREFIX + "incremental:ci"
    try:
        engine.images.remove(tag, force=True)
    except Exception:
        pass
    code, clean_output, clean = build(app, tag, request)
    assert code == 0, clean_output[-3000:]
    assert "Downloading" in clean_output or "Collecting" in clean_output
    code, output, incremental = build(app, tag, request, "--incremental")
    assert code == 0, output[-3000:]
    assert "Restoring installed packages from the previous image" in output
    assert "Requirement already satisfied" in output
    assert "Downloading" not in output, output[-3000:]
    assert_examples_pass(tag, app)
    print("clean build %.1f s, incremental %.1f s (%.0f%%)"
          % (clean, incremental, 100.0 * incremental / clean))
    (REPO / ".build").mkdir(exist_ok=True)
    (REPO / ".build" / "incremental.json").write_text(json.dumps(
        {"clean_s": round(clean, 1), "incremental_s": round(incremental, 1)}))


def test_as_dockerfile_writes_a_buildable_description(tmp_path):
    app = REPO / "templates" / "model-template-app"
    target = tmp_path / "Dockerfile"
    code, output = modelkiln("build", app, BUILDER, "x:1", "--as-dockerfile", target,
                             "--inject", "%s:/run/modelkiln/ca-bundle.crt" % CA_BUNDLE)
    assert code == 0, output
    text = target.read_text()
    assert text.startswith("FROM %s\n" % BUILDER)
    assert "COPY --chown=1001:0 upload/src /tmp/src" in text
    assert ("--mount=type=bind,source=upload/inject/0,target=/run/modelkiln/ca-bundle.crt"
            in text)
    assert 'CMD ["/usr/libexec/s2i/run"]' in text
    assert (tmp_path / "upload" / "src" / "MyModel.py").exists()


def test_git_source_builds_committed_content_with_commit_labels(engine, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(str(REPO / "templates" / "model-template-app"), str(repo / "app"))
    run = functools.partial(subprocess.run, cwd=str(repo), check=True, stdout=subprocess.DEVNULL)
    run(["git", "init", "-q"])
    run(["git", "add", "-A"])
    run(["git", "-c", "user.name=Kiln Test", "-c", "user.email=kiln@example.com", "commit",
         "-q", "-m", "add the model"])
    (repo / "app" / "MyModel.py").write_text("raise RuntimeError('uncommitted edit')\n")
    tag = PREFIX + "git-source:ci"
    code, output = modelkiln("build", repo, BUILDER, tag, "--context-dir", "app",
                             "--ca-bundle", CA_BUNDLE, "-q")
    assert code == 0, output[-3000:]  # the broken edit is not committed, so it is not built
    labels = engine.images.get(tag).labels
    assert labels["io.openshift.s2i.build.commit.message"] == "add the model"
    assert labels["io.openshift.s2i.build.commit.author"] == "Kiln Test <kiln@example.com>"
    assert len(labels["io.openshift.s2i.build.commit.id"]) == 40
    assert labels["io.openshift.s2i.build.source-context-dir"] == "app"


def test_missing_builder_image_is_a_clear_error(engine):
    code, output = modelkiln("build", REPO / "templates" / "model-template-app",
                             "modelkiln/no-such-builder:0", PREFIX + "never:ci")
    assert code == 1
    assert "ERROR: builder image modelkiln/no-such-builder:0 is not in the local engine" in output


def test_unreachable_engine_is_a_clear_error(tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix://%s/nothing.sock" % tmp_path)
    result = subprocess.run([sys.executable, "-m", "builder.cli", "build",
                             str(REPO / "templates" / "model-template-app"), BUILDER, "x:1"],
                            cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=120)
    output = result.stdout.decode()
    assert result.returncode == 1
    assert "ERROR: cannot reach a Docker engine" in output and "start dockerd" in output
