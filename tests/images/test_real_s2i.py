"""The real ``s2i build`` (source-to-image v1.3.8, built from ../shared/vendor by
tests/s2i/build.sh) builds app folders with modelkiln's builder image, unchanged: a Seldon
template, a catwalk folder and a Modzy template folder (no MODEL_NAME), and a GPPI artifact
uploaded as its zip file alone (what ``oc start-build --from-file=artifact.zip`` delivers); each
image then passes its examples."""

import os
import shutil
import subprocess

import pytest

from .conftest import BUILDER, CA_BUNDLE, PREFIX, REPO, assert_examples_pass

BUILD = REPO / "tests" / "s2i" / "build.sh"
APPS = [REPO / "templates" / "model-template-app", REPO / "test_apps" / "catwalk-iris",
        REPO / "test_apps" / "modzy-template"]
GPPI = REPO / "test_apps" / "gppi-matrix"


@pytest.fixture(scope="module")
def s2i():
    if shutil.which("go") is None:
        pytest.fail("no Go toolchain: run `make reliability-tools` (Debian's golang-go)",
                    pytrace=False)
    built = subprocess.run(["sh", str(BUILD)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=900)
    assert built.returncode == 0, built.stderr.decode(errors="replace")
    path = built.stdout.decode().strip().splitlines()[-1]
    version = subprocess.run([path, "version"], stdout=subprocess.PIPE, timeout=30)
    assert version.stdout.decode().startswith("s2i v1.3.8"), version.stdout
    return path


@pytest.mark.parametrize("app", APPS, ids=[p.name for p in APPS])
def test_real_s2i_builds_the_app_unchanged(app, s2i, engine):
    tag = "%ss2i-%s:ci" % (PREFIX, app.name)
    # the CA bundle as a bind mount (docs/images/index.md): pip behind a TLS-inspecting proxy
    done = subprocess.run(
        [s2i, "build", "-v", "%s:/run/modelkiln/ca-bundle.crt:ro" % CA_BUNDLE, str(app),
         BUILDER, tag], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1200,
        env=dict(os.environ, DOCKER_API_VERSION="1.41"))
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-5000:]
    kind = {"catwalk-iris": "catwalk", "modzy-template": "modzy"}.get(app.name)
    if kind is not None:
        assert "---> modelkiln assemble: a %s model folder (no MODEL_NAME)" % kind in output
        assert "is a %s model" % kind in output  # the import check ran
    assert_examples_pass(tag, app)
    engine.images.remove(tag, force=True)


def test_real_s2i_builds_a_gppi_artifact_uploaded_as_its_zip(s2i, engine, tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    shutil.make_archive(str(upload / "artifact"), "zip", str(GPPI))
    tag = "%ss2i-gppi-zip:ci" % PREFIX
    done = subprocess.run(
        [s2i, "build", "-v", "%s:/run/modelkiln/ca-bundle.crt:ro" % CA_BUNDLE,
         "-e", "DISABLE_CONDA_PROCESSING=true", str(upload), BUILDER, tag],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1200,
        env=dict(os.environ, DOCKER_API_VERSION="1.41"))
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-5000:]
    assert "unpacked artifact.zip" in output and "the source held this archive" in output
    assert "---> modelkiln assemble: a gppi model folder (no MODEL_NAME)" in output
    assert_examples_pass(tag, GPPI)
    engine.images.remove(tag, force=True)


def test_real_s2i_builds_a_slim_image_on_the_runtime_image(s2i, engine):
    """``s2i build ... --runtime-image``: s2i reads the artifacts (/opt/app-root) and the
    assemble-runtime user from the runtime image's labels, copies the artifacts into its
    working folder and runs its assemble-runtime; the image passes its examples without
    pip."""
    from .test_slim import build_tools_in, runtime_image

    runtime = runtime_image(engine)
    app = REPO / "templates" / "model-template-app"
    tag = "%ss2i-slim-%s:ci" % (PREFIX, app.name)
    done = subprocess.run(
        [s2i, "build", "-v", "%s:/run/modelkiln/ca-bundle.crt:ro" % CA_BUNDLE, str(app),
         BUILDER, tag, "--runtime-image", runtime], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=1200, env=dict(os.environ, DOCKER_API_VERSION="1.41"))
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-5000:]
    assert "---> putting the app in place (/opt/app-root)" in output
    assert "left out of the app virtualenv (the app did not ask for them): pip" in output
    assert_examples_pass(tag, app)
    assert build_tools_in(engine, tag) == {}
    assert engine.images.get(tag).attrs["Config"]["User"] == "1001"
    engine.images.remove(tag, force=True)
