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
    if p.is_dir() and not p.name.startswith(("_", "conda-", "cuda-")))  # conda-*: test_conda.py,
# cuda-*: test_cuda.py
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
    for text in config.get("build_output", {}).get("contains", []):
        assert text in output, output[-5000:]
    for text in config.get("build_output", {}).get("lacks", []):
        assert text not in output, output[-5000:]
    labels = engine.images.get(tag).labels
    assert labels["io.openshift.s2i.build.image"] == BUILDER
    assert labels["io.openshift.s2i.build.source-location"] == str(app)
    assert_examples_pass(tag, app)
    assert_clean_layers(engine, tag, builder_layers)


def test_modelkiln_build_takes_a_gppi_artifact_as_an_archive(engine, tmp_path):
    """ODAHU hands trained models over as archives: ``modelkiln build artifact.tar.gz``."""
    app = REPO / "test_apps" / "gppi-matrix"
    packed = shutil.make_archive(str(tmp_path / "artifact"), "gztar", str(app))
    tag = PREFIX + "gppi-archive:ci"
    code, output = modelkiln("build", packed, BUILDER, tag, "--ca-bundle", CA_BUNDLE,
                             "-e", "DISABLE_CONDA_PROCESSING=true")
    assert code == 0, output[-5000:]
    assert "---> modelkiln assemble: a gppi model folder (no MODEL_NAME)" in output
    assert engine.images.get(tag).labels["io.openshift.s2i.build.source-location"] == packed
    assert_examples_pass(tag, app)


def test_builder_image_layers_are_clean(engine):
    assert_clean_layers(engine, BUILDER, 0)
    config = engine.images.get(BUILDER).attrs["Config"]
    assert config["User"] == "1001"
    assert config["Labels"]["io.openshift.s2i.scripts-url"] == "image:///usr/libexec/s2i"
    assert config["Cmd"] == ["/usr/libexec/s2i/usage"]
    assert config["Entrypoint"] == ["/opt/modelkiln/bin/dumb-init", "--",
                                    "/usr/libexec/s2i/entrypoint"]


def app_layers(engine, tag: str) -> int:
    return len(engine.images.get(tag).history())


def test_incremental_rebuilds(engine, request, tmp_path):
    """--incremental builds on the previous image when it came from the same builder image
    and build environment (a change of source adds one thin layer, unchanged dependencies are
    not installed again, an added requirement is the only one installed); otherwise, and with
    real s2i, save-artifacts carries the installed packages over."""
    app = tmp_path / "app"
    shutil.copytree(str(REPO / "test_apps" / "requirements-txt"), str(app))
    tag = PREFIX + "incremental:ci"
    try:
        engine.images.remove(tag, force=True)
    except Exception:
        pass
    code, clean_output, clean = build(app, tag, request)
    assert code == 0, clean_output[-3000:]
    assert "Downloading" in clean_output or "Collecting" in clean_output
    layers = app_layers(engine, tag)

    # a change of source only
    model = app / "TableModel.py"
    model.write_text(model.read_text() + "\n# edited\n")
    code, output, source_only = build(app, tag, request, "--incremental")
    assert code == 0, output[-3000:]
    assert "building on the previous %s" % tag in output
    assert "dependencies unchanged since the previous image: nothing to install" in output
    assert "pip install" not in output
    assert app_layers(engine, tag) == layers + 1
    newest = engine.images.get(tag).history()[0]
    assert newest["Size"] < 1024 * 1024, newest  # the source, not the packages again
    assert_examples_pass(tag, app)

    # one added requirement: only it is installed
    with (app / "requirements.txt").open("a") as handle:
        handle.write("six==1.16.0\n")
    code, output, one_more = build(app, tag, request, "--incremental")
    assert code == 0, output[-3000:]
    assert "building on the previous %s" % tag in output
    assert "Requirement already satisfied: tabulate==0.8.10" in output
    assert "six" in output and "Downloading tabulate" not in output
    assert app_layers(engine, tag) == layers + 2
    assert_examples_pass(tag, app)

    # another build environment: not on the previous image's layers; save-artifacts
    code, output, classic = build(app, tag, request, "--incremental", "-e", "EXTRA=1")
    assert code == 0, output[-3000:]
    assert "the build environment changed" in output
    assert "Restoring installed packages from the previous image" in output
    assert "Requirement already satisfied" in output
    assert "Downloading" not in output, output[-3000:]
    assert app_layers(engine, tag) == layers
    assert_examples_pass(tag, app)

    # another builder image (here: the same one plus a label): never its layers
    (tmp_path / "builder").mkdir()
    (tmp_path / "builder" / "Dockerfile").write_text("FROM %s\nLABEL changed=yes\n" % BUILDER)
    other = PREFIX + "other-builder:ci"
    engine.images.build(path=str(tmp_path / "builder"), tag=other, rm=True)
    code, output = modelkiln("build", app, other, tag, "--incremental", "-e", "EXTRA=1")
    assert code == 0, output[-3000:]
    assert "was built from another builder image" in output
    assert "Restoring installed packages from the previous image" in output

    print("clean build %.1f s; incremental: source only %.1f s (%.0f%%), one requirement more "
          "%.1f s (%.0f%%), save-artifacts %.1f s (%.0f%%)"
          % (clean, source_only, 100.0 * source_only / clean, one_more,
             100.0 * one_more / clean, classic, 100.0 * classic / clean))
    (REPO / ".build").mkdir(exist_ok=True)
    (REPO / ".build" / "incremental.json").write_text(json.dumps(
        {"clean_s": round(clean, 1), "incremental_s": round(source_only, 1),
         "one_requirement_s": round(one_more, 1), "save_artifacts_s": round(classic, 1)}))


def test_as_dockerfile_writes_a_buildable_description(engine, tmp_path):
    """The Dockerfile builds with the command it prints; the CA bundle and pip.conf are
    BuildKit secrets (never copied beside it), readable by the builder's user alone."""
    app = REPO / "templates" / "model-template-app"
    target = tmp_path / "Dockerfile"
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 60\n")
    conf.chmod(0o600)
    tag = PREFIX + "as-dockerfile:ci"
    code, output = modelkiln("build", app, BUILDER, tag, "--as-dockerfile", target,
                             "--ca-bundle", CA_BUNDLE, "--pip-conf", conf)
    assert code == 0, output
    text = target.read_text()
    assert "\nFROM %s\n" % BUILDER in text
    assert "COPY --chown=1001:0 upload/src /tmp/src" in text
    assert ("--mount=type=secret,id=inject0,target=/run/modelkiln/ca-bundle.crt,uid=1001,"
            "mode=0400" in text)
    assert "--mount=type=secret,id=inject1,target=/run/modelkiln/pip.conf" in text
    assert 'CMD ["/usr/libexec/s2i/run"]' in text
    assert (tmp_path / "upload" / "src" / "MyModel.py").exists()
    assert not (tmp_path / "upload" / "inject").exists()  # no secret beside the Dockerfile
    command = text.splitlines()[0][len("# build: "):]
    assert command.startswith("DOCKER_BUILDKIT=1 docker build --secret id=inject0,src=")
    built = subprocess.run(  # with Debian's docker.io client (BuildKit without buildx)
        command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900,
        env=dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", "")))
    assert built.returncode == 0, built.stdout.decode(errors="replace")[-3000:]
    assert_examples_pass(tag, app)
    engine.images.remove(tag, force=True)


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
    result = subprocess.run([sys.executable, "-m", "modelkiln_cli.cli", "build",
                             str(REPO / "templates" / "model-template-app"), BUILDER, "x:1"],
                            cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=120)
    output = result.stdout.decode()
    assert result.returncode == 1
    assert "ERROR: cannot reach a Docker engine" in output and "start dockerd" in output


def template_image(engine, request) -> str:
    """The model template's app image (built by test_app_image; built here when missing)."""
    app = REPO / "templates" / "model-template-app"
    tag = tag_for(app)
    try:
        engine.images.get(tag)
    except Exception:
        code, output, _ = build(app, tag, request)
        assert code == 0, output[-3000:]
    return tag


@pytest.mark.parametrize("form", ["exec", "shell"])
def test_docker_stop_ends_the_server_within_2_s_with_exit_code_0(engine, request, tmp_path,
                                                                  form):
    """SIGTERM reaches the server whatever form the image's CMD has: exec form, as `modelkiln
    build` and `s2i build` commit it, and shell form, as `s2i build --as-dockerfile` writes it
    (that Dockerfile is generated here the same way: real s2i is not available to CI)."""
    tag = template_image(engine, request)
    if form == "shell":
        (tmp_path / "Dockerfile").write_text("FROM %s\nCMD /usr/libexec/s2i/run\n" % tag)
        tag = PREFIX + "shell-form-cmd:ci"
        engine.images.build(path=str(tmp_path), tag=tag, rm=True)
        assert engine.images.get(tag).attrs["Config"]["Cmd"] == [
            "/bin/sh", "-c", "/usr/libexec/s2i/run"]
    container = engine.containers.run(tag, detach=True, user="43210",
                                      ports={"9000/tcp": ("127.0.0.1", None)})
    try:
        container.reload()
        port = container.ports["9000/tcp"][0]["HostPort"]
        _wait_ok("http://127.0.0.1:%s/ready" % port, container)
        assert container.top()["Processes"][0][-1].startswith("/opt/modelkiln/bin/dumb-init")
        started = time.time()
        container.stop(timeout=10)
        stopped = time.time() - started
        code = container.wait()["StatusCode"]
        assert code == 0, container.logs(tail=30).decode()
        assert stopped < 2.0, stopped
    finally:
        container.remove(force=True)


def test_the_text_generator_template_streams_from_its_image(engine, request):
    """The streaming template's image answers Server-Sent Events piece by piece: Seldon's
    predictions with Accept: text/event-stream, V2's generate_stream and OpenAI's chat
    completions with "stream": true, read with curl -N."""
    app = REPO / "templates" / "text-generator-template-app"
    tag = tag_for(app)
    try:
        engine.images.get(tag)
    except Exception:  # (built by test_app_image when the whole suite runs)
        code, output, _ = build(app, tag, request)
        assert code == 0, output[-3000:]
    container = engine.containers.run(tag, detach=True, user="43210",
                                      ports={"9000/tcp": ("127.0.0.1", None)})
    try:
        container.reload()
        base = "http://127.0.0.1:%s" % container.ports["9000/tcp"][0]["HostPort"]
        _wait_ok(base + "/ready", container)

        def curl(path, body, *headers):
            command = ["curl", "-sN", "-H", "Content-Type: application/json"]
            for header in headers:
                command += ["-H", header]
            return subprocess.run(command + ["--data-binary", json.dumps(body), base + path],
                                  stdout=subprocess.PIPE, timeout=60, check=True
                                  ).stdout.decode()

        words = "streams one word at a time and stops".split()
        seldon = curl("/api/v1.0/predictions", {"strData": "hello"},
                      "Accept: text/event-stream")
        events = [block for block in seldon.strip().split("\n\n")]
        assert [json.loads(e[len("data: "):])["strData"] for e in events[:-1]] == [
            w + " " for w in words]
        assert events[-1] == "event: end\ndata: {}"
        v2 = curl("/v2/models/TextGenerator/generate_stream", {"text_input": "hello"})
        assert [json.loads(line[6:])["text_output"] for line in v2.split("\n")
                if line.startswith("data: ")] == [w + " " for w in words]
        chat = curl("/v1/chat/completions", {"model": "text-generator", "stream": True,
                                             "messages": [{"role": "user", "content": "hello"}]})
        lines = [line[6:] for line in chat.split("\n") if line.startswith("data: ")]
        assert lines[-1] == "[DONE]"
        chunks = [json.loads(line) for line in lines[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == \
            " ".join(words) + " "
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    finally:
        container.remove(force=True)


def test_test_image_under_resource_limits(engine, request):
    tag = template_image(engine, request)
    code, output = modelkiln("test-image", tag, "--app", REPO / "templates" / "model-template-app",
                             "--memory", "300m", "--cpus", "1")
    assert code == 0, output[-3000:]
    assert "memory 300m, cpus 1.0" in output and "PASS SIGTERM" in output


def test_the_app_image_scores_a_file_and_prints_its_info(engine, request, tmp_path):
    """`docker run IMAGE predict IN OUT` and `docker run IMAGE info`: the same class, no
    server, as a random non-root user writing into a mounted folder."""
    tag = template_image(engine, request)
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    rows = [[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]
    (data / "in.jsonl").write_text("".join(json.dumps({"data": {"ndarray": [r]}}) + "\n"
                                           for r in rows) + "{broken\n")
    logs = engine.containers.run(tag, ["predict", "/data/in.jsonl", "/data/out.jsonl"],
                                 user="43210", remove=False, detach=True,
                                 volumes={str(data): {"bind": "/data", "mode": "rw"}})
    try:
        code = logs.wait(timeout=120)["StatusCode"]
        stderr = logs.logs(stdout=False).decode()
    finally:
        logs.remove(force=True)
    assert code == 1, stderr  # the broken line failed; the others are scored
    lines = [json.loads(line) for line in (data / "out.jsonl").read_text().splitlines()]
    assert [line["data"]["names"] for line in lines[:2]] == [
        ["setosa", "versicolor", "virginica"]] * 2
    assert lines[0]["data"]["ndarray"][0][0] > 0.5 and lines[1]["data"]["ndarray"][0][2] > 0.5
    assert lines[2]["line"] == 3 and "not JSON" in lines[2]["error"]["message"]
    info = json.loads(engine.containers.run(tag, ["info"], user="43210", remove=True))
    assert info["model_name"] == "MyModel" and info["service_type"] == "MODEL"


def _wait_ok(url: str, container, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        assert time.time() < deadline, container.logs(tail=30).decode()
        time.sleep(0.3)


def test_the_app_image_serves_modzy_jobs_and_batch_scores_against_it(engine, request, tmp_path):
    """PSC_MODEL_PORT: a Modzy /run job in a mounted folder, `docker run IMAGE batch` against
    the same server from a second container, then /shutdown ends the container with 0; the
    /docs page's files are in the image."""
    import urllib.request

    tag = template_image(engine, request)
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    (data / "input.json").write_text(json.dumps({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}))
    (data / "in.jsonl").write_text("".join(json.dumps({"data": {"ndarray": [[7.7, 3.0, 6.1,
                                                                             2.3]]}}) + "\n"
                                           for _ in range(3)))
    server = engine.containers.run(tag, detach=True, user="43210",
                                   environment={"PSC_MODEL_PORT": "8080"},
                                   volumes={str(data): {"bind": "/data", "mode": "rw"}},
                                   ports={"8080/tcp": ("127.0.0.1", None),
                                          "9000/tcp": ("127.0.0.1", None)})
    try:
        server.reload()
        modzy = "http://127.0.0.1:%s" % server.ports["8080/tcp"][0]["HostPort"]
        rest_port = server.ports["9000/tcp"][0]["HostPort"]
        _wait_ok(modzy + "/status", server)
        job = urllib.request.Request(
            modzy + "/run", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"type": "file", "input": "/data", "output": "/data"}).encode())
        with urllib.request.urlopen(job, timeout=30) as answer:
            assert answer.status == 200 and json.loads(answer.read())["statusCode"] == 200
        # the /docs page's Swagger UI files were copied into the builder image: served offline
        rest = "http://127.0.0.1:%s" % rest_port
        with urllib.request.urlopen(rest + "/docs/swagger-ui-bundle.js", timeout=10) as answer:
            assert answer.status == 200 and len(answer.read()) > 100000
        with urllib.request.urlopen(rest + "/", timeout=10) as answer:  # redirected
            assert answer.status == 200 and "<h1>MyModel</h1>" in answer.read().decode()
        result = json.loads((data / "results.json").read_text())
        assert result["data"]["names"] == ["setosa", "versicolor", "virginica"]
        assert result["data"]["ndarray"][0][0] > 0.5
        client = engine.containers.run(
            tag, ["batch", "--url", "http://127.0.0.1:%s" % rest_port, "/data/in.jsonl",
                  "/data/out.jsonl", "--workers", "2"],
            user="43210", network_mode="host", detach=True,
            volumes={str(data): {"bind": "/data", "mode": "rw"}})
        try:
            code = client.wait(timeout=120)["StatusCode"]
            assert code == 0, client.logs().decode()
        finally:
            client.remove(force=True)
        lines = [json.loads(line) for line in (data / "out.jsonl").read_text().splitlines()]
        assert len(lines) == 3 and all(line["data"]["ndarray"][0][2] > 0.5 for line in lines)
        stop = urllib.request.Request(modzy + "/shutdown", method="POST", data=b"")
        with urllib.request.urlopen(stop, timeout=10) as answer:
            assert answer.status == 202
        assert server.wait(timeout=30)["StatusCode"] == 0, server.logs(tail=30).decode()
    finally:
        server.remove(force=True)


def test_the_builder_assembles_as_an_arbitrary_uid_in_group_0(engine):
    """OpenShift's restricted profile: assemble runs as a UID the image does not know, in group
    0, never root; the app image it makes then runs as yet another such UID."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(str(REPO / "templates" / "model-template-app"), arcname="src")
    container = engine.containers.create(BUILDER, ["/usr/libexec/s2i/assemble"],
                                         user="43210:0", environment={"MODEL_NAME": "MyModel"})
    tag = PREFIX + "arbitrary-uid:ci"
    try:
        assert container.put_archive("/tmp", archive.getvalue())
        container.start()
        code = container.wait(timeout=600)["StatusCode"]
        output = container.logs().decode()
        assert code == 0 and "build finished" in output, output[-3000:]
        container.commit(repository=tag.split(":")[0], tag="ci",
                         changes=['CMD ["/usr/libexec/s2i/run"]'])
        info = json.loads(engine.containers.run(tag, ["info"], user="54321:0", remove=True))
        assert info["model_name"] == "MyModel" and info["service_type"] == "MODEL"
    finally:
        container.remove(force=True)
