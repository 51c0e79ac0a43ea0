"""Slim app images: built on the builder, run on its runtime image (``modelkiln build --slim``,
the multi-stage ``--as-dockerfile``, and the real ``s2i build --runtime-image``). Each must
pass its examples as the image built today does, and hold no build tool the app did not ask
for. The model template runs in ``make test``; every other template and test app in
``make test-full``."""

import os
import subprocess

import pytest

from .conftest import (BUILDER, CA_BUNDLE, PREFIX, REPO, app_config, assert_examples_pass,
                       assert_failed_as_expected, modelkiln)
from .test_images import APPS, build, tag_for

TEMPLATE = REPO / "templates" / "model-template-app"
# What only building needs. A slim image may hold one only when the app's requirements name it.
SCAN = r"""
import glob, importlib.util, json, os, sys
found = {}
for name in ("pip", "setuptools", "wheel", "rattler", "builder", "ensurepip"):
    spec = importlib.util.find_spec(name)
    if spec is not None:
        found[name] = spec.origin or str(list(spec.submodule_search_locations or []))
for path in ("/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/g++", "/usr/bin/make", "/usr/bin/apt-get",
             "/usr/bin/dpkg-buildpackage", "/opt/modelkiln/src/builder",
             "/opt/modelkiln/builder-requirements.txt"):
    if os.path.lexists(path):
        found[os.path.basename(path)] = path
for path in glob.glob("/opt/app-root/bin/pip*") + glob.glob("/opt/modelkiln/bin/pip*"):
    found[os.path.basename(path)] = path
print(json.dumps(found, sort_keys=True))
"""


def runtime_image(engine) -> str:
    named = (engine.images.get(BUILDER).labels or {}).get("io.modelkiln.runtime-image")
    if not named:
        pytest.skip("%s names no runtime image (io.modelkiln.runtime-image): slim builds are "
                    "for modelkiln/python311" % BUILDER)
    try:
        engine.images.get(named)
    except Exception:
        pytest.fail("runtime image %s is missing: run `make image-py311-runtime`" % named,
                    pytrace=False)
    return named


def build_tools_in(engine, tag: str) -> dict:
    """Build tools found in the image, seen by the app's own interpreter."""
    import json

    output = engine.containers.run(tag, ["/opt/app-root/bin/python", "-c", SCAN],
                                   entrypoint=[], remove=True)
    return json.loads(output.decode().strip().splitlines()[-1])


def asked_for(app) -> set:
    path = app / "requirements.txt"
    names = set()
    if path.exists():
        for line in path.read_text().splitlines():
            word = line.split("#", 1)[0].strip().split("=")[0].split(">")[0].split("<")[0]
            names.add(word.strip().lower())
    return names


def assert_slim(engine, tag: str, app) -> None:
    labels = engine.images.get(tag).labels
    assert labels.get("io.modelkiln.slim") == "true", labels
    found = build_tools_in(engine, tag)
    allowed = asked_for(app)
    extra = {name: where for name, where in found.items()
             if ("pip" if name.startswith("pip") else name) not in allowed}
    assert extra == {}, "build tools in the slim image of %s: %s" % (app.name, extra)


SLIM_APPS = [pytest.param(app, marks=() if app == TEMPLATE else pytest.mark.full,
                          id="%s/%s" % (app.parent.name, app.name)) for app in APPS]


@pytest.mark.parametrize("app", SLIM_APPS)
def test_slim_app_image(app, engine, request):
    runtime = runtime_image(engine)
    config = app_config(app)
    tag = "%sslim-%s-%s:ci" % (PREFIX, app.parent.name, app.name)
    code, output, _ = build(app, tag, request, "--slim")
    if config.get("must_fail"):
        assert_failed_as_expected(app, config, code, output)
        return
    assert code == 0, output[-5000:]
    assert "---> assembling on the runtime image %s" % runtime in output
    assert "---> built %s" % tag in output
    assert_examples_pass(tag, app)
    assert_slim(engine, tag, app)
    if app == TEMPLATE:  # the same app today, for the size (bench/images.py has the numbers)
        full = tag_for(app)  # (test_images builds it; built here when run alone)
        if not engine.images.list(name=full):
            code, output, _ = build(app, full, request)
            assert code == 0, output[-3000:]
        slim_size = engine.images.get(tag).attrs["Size"]
        full_size = engine.images.get(full).attrs["Size"]
        assert slim_size < full_size - 100 * 1024 * 1024, (slim_size, full_size)
    engine.images.remove(tag, force=True)


def test_a_slim_dockerfile_builds_with_the_command_it_prints(engine, tmp_path):
    runtime = runtime_image(engine)
    target = tmp_path / "Dockerfile"
    tag = PREFIX + "slim-as-dockerfile:ci"
    code, output = modelkiln("build", TEMPLATE, BUILDER, tag, "--slim", "--as-dockerfile",
                             target, "--ca-bundle", CA_BUNDLE)
    assert code == 0, output
    text = target.read_text()
    assert "\nFROM %s AS build\n" % BUILDER in text and "\nFROM %s\n" % runtime in text
    command = text.splitlines()[0][len("# build: "):]
    built = subprocess.run(
        command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900,
        env=dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", "")))
    assert built.returncode == 0, built.stdout.decode(errors="replace")[-3000:]
    assert_examples_pass(tag, TEMPLATE)
    assert_slim(engine, tag, TEMPLATE)
    engine.images.remove(tag, force=True)


def test_the_runtime_image_alone_says_how_to_use_it(engine):
    runtime = runtime_image(engine)
    output = engine.containers.run(runtime, remove=True).decode()
    assert "s2i build ./my-model modelkiln/python311 my-model:1.0" in output
    assert "--runtime-image" in output and "modelkiln build --slim" in output
    image = engine.images.get(runtime)
    config = image.attrs["Config"]
    builder = engine.images.get(BUILDER).attrs["Config"]
    for key in ("User", "Entrypoint", "WorkingDir", "ExposedPorts"):
        assert config[key] == builder[key], key
    assert image.labels["io.openshift.s2i.assemble-input-files"] == "/opt/app-root"


def test_the_openshift_chained_builds_dockerfile_builds_a_slim_image(engine, request, tmp_path):
    """What OpenShift's second build of `modelkiln manifests --kind openshift-build
    --runtime-image` does, here with the engine: /opt/app-root of the source build's image
    into the context (its ``images`` source), the BuildConfig's Dockerfile on the runtime
    image (OpenShift replaces FROM with the strategy's image). The image passes its
    examples."""
    import io

    import yaml

    from modelkiln_cli import manifests

    runtime = runtime_image(engine)
    app = TEMPLATE
    out = io.StringIO()
    assert manifests.main([str(app), "--kind", "openshift-build", "--image", BUILDER,
                           "--runtime-image", runtime, "--git-uri",
                           "https://git.example.com/acme/models.git"], stdout=out) == 0
    builds = {d["metadata"]["name"]: d["spec"] for d in yaml.safe_load_all(out.getvalue())
              if d["kind"] == "BuildConfig"}
    second = builds[app.name]
    path = second["source"]["images"][0]["paths"][0]
    intermediate = tag_for(app)  # what the source build makes (s2i semantics)
    if not engine.images.list(name=intermediate):
        code, output, _ = build(app, intermediate, request)
        assert code == 0, output[-3000:]
    context = tmp_path / "context"
    context.mkdir()
    container = engine.containers.create(intermediate)
    try:
        stream, _ = container.get_archive(path["sourcePath"])
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            tar.extractall(str(context / path["destinationDir"]))
    finally:
        container.remove(force=True)
    dockerfile = second["source"]["dockerfile"].replace("FROM runtime", "FROM " + runtime, 1)
    (context / "Dockerfile").write_text(dockerfile)
    tag = PREFIX + "openshift-chained:ci"
    # --no-cache: the log must show the step run, and a second run on the same machine (the
    # same app, the same builder) would otherwise find it CACHED and print nothing of it
    built = subprocess.run(["docker", "build", "--no-cache", "-t", tag, str(context)],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600,
                           env=dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""),
                                    DOCKER_BUILDKIT="1"))
    log = built.stdout.decode(errors="replace")
    assert built.returncode == 0, log[-3000:]
    assert "putting the app in place (/opt/app-root)" in log
    assert_examples_pass(tag, app)
    assert build_tools_in(engine, tag) == {}
    engine.images.remove(tag, force=True)


def test_a_missing_runtime_image_is_refused_before_anything_is_built(engine):
    code, output = modelkiln("build", TEMPLATE, BUILDER, PREFIX + "never:ci",
                             "--runtime-image", "example.com/none/runtime:0")
    assert code == 1, output
    assert ("ERROR: runtime image example.com/none/runtime:0 is not in the local engine: "
            "build it (make image-py311-runtime) or pull it first") in output
    assert "assembling with" not in output


def weights_base(engine, tag: str):
    """The weights image ``tag`` was built on (modelkiln build's, by repository)."""
    repository = "modelkiln-weights/" + tag.rsplit(":", 1)[0].replace("/", "-")
    layers = engine.images.get(tag).attrs["RootFS"]["Layers"]
    for image in engine.images.list(name=repository):
        own = image.attrs["RootFS"]["Layers"]
        if layers[:len(own)] == own:
            return image
    raise AssertionError("%s was built on no image of %s" % (tag, repository))


@pytest.mark.parametrize("kind", ["today", "slim"])
def test_weights_stay_in_their_own_layer_across_a_code_only_rebuild(engine, request, tmp_path,
                                                                    kind):
    """MODELKILN_WEIGHTS=models/*.bin: the 24 MB file goes into a layer of its own before
    the code; after a change of code only, the rebuilt image shares that layer and differs
    by a small one; the model still reads its weights in the container."""
    import hashlib
    import shutil

    if kind == "slim":
        runtime_image(engine)
    app = tmp_path / "app"
    shutil.copytree(str(TEMPLATE), str(app))
    (app / "models").mkdir()
    blob = os.urandom(24 * 1024 * 1024)
    (app / "models" / "w.bin").write_bytes(blob)
    with (app / ".s2i" / "environment").open("a") as env:
        env.write("MODELKILN_WEIGHTS=models/*.bin\n")
    tag = "%sweights-%s:ci" % (PREFIX, kind)
    extra = ("--slim",) if kind == "slim" else ()
    code, output, _ = build(app, tag, request, *extra)
    assert code == 0, output[-3000:]
    assert "---> weights: 1 file(s), 24.0 MiB, into a layer of their own" in output
    first = engine.images.get(tag).id
    engine.images.get(first).tag(tag.replace(":ci", ":first"))
    source = app / "MyModel.py"
    source.write_text(source.read_text() + "\n# a change of code only\n")
    code, output, _ = build(app, tag, request, *extra)
    assert code == 0, output[-3000:]
    assert "---> weights: 1 file(s), 24.0 MiB, unchanged: their layer is reused" in output
    base = weights_base(engine, tag)
    layers = base.attrs["RootFS"]["Layers"]
    assert engine.images.get(first).attrs["RootFS"]["Layers"][:len(layers)] == layers
    # what a push of the rebuilt image sends to a registry holding the first: above the
    # weights image, which both share
    changed = engine.images.get(tag).attrs["Size"] - base.attrs["Size"]
    assert changed < 2 * 1024 * 1024, changed  # the code layer, not the 24 MB
    listing = engine.containers.run(tag, ["sh", "-c", "sha256sum /opt/app-root/src/models/w.bin;"
                                          " tail -1 /opt/app-root/src/MyModel.py"],
                                    entrypoint=[], remove=True).decode()
    assert hashlib.sha256(blob).hexdigest() in listing
    assert "# a change of code only" in listing
    assert_examples_pass(tag, app)
    for name in (tag, tag.replace(":ci", ":first")):
        engine.images.remove(name, force=True)
    for image in engine.images.list(name="modelkiln-weights/" + tag.rsplit(":", 1)[0].replace(
            "/", "-")):
        engine.images.remove(image.id, force=True)


def test_a_slim_dockerfile_with_weights_copies_them_once_before_the_app(engine, tmp_path):
    """--slim --as-dockerfile with MODELKILN_WEIGHTS: the weights' own COPY in the runtime
    stage, not in the build stage's /opt/app-root (so not twice in the image)."""
    import hashlib
    import shutil

    runtime = runtime_image(engine)
    app = tmp_path / "app"
    shutil.copytree(str(TEMPLATE), str(app))
    (app / "models").mkdir()
    blob = os.urandom(8 * 1024 * 1024)
    (app / "models" / "w.bin").write_bytes(blob)
    target = tmp_path / "out" / "Dockerfile"
    tag = PREFIX + "slim-dockerfile-weights:ci"
    code, output = modelkiln("build", app, BUILDER, tag, "--slim", "--as-dockerfile", target,
                             "--ca-bundle", CA_BUNDLE, "-e", "MODELKILN_WEIGHTS=models/*.bin")
    assert code == 0, output
    command = target.read_text().splitlines()[0][len("# build: "):]
    built = subprocess.run(
        command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900,
        env=dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", "")))
    assert built.returncode == 0, built.stdout.decode(errors="replace")[-3000:]
    listing = engine.containers.run(tag, ["sha256sum", "/opt/app-root/src/models/w.bin"],
                                    entrypoint=[], remove=True).decode()
    assert hashlib.sha256(blob).hexdigest() in listing
    grown = engine.images.get(tag).attrs["Size"] - engine.images.get(runtime).attrs["Size"]
    assert grown < len(blob) + 4 * 1024 * 1024, grown  # once, plus the small app
    assert_examples_pass(tag, app)
    engine.images.remove(tag, force=True)
