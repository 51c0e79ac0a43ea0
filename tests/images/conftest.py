"""Image tests: every template and test app is built with ``modelkiln build`` into an app
image and checked with ``modelkiln test-image``. Needs a Docker engine and the builder image
(``make test-images`` builds it first); without them the tests fail, they do not skip."""

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILDER = os.environ.get("MODELKILN_TEST_BUILDER", "modelkiln/python311")
CA_BUNDLE = os.environ.get("MODELKILN_TEST_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
# Per checkout (a hash of its path), so that two checkouts testing on one engine neither replace
# nor remove each other's app images. The builder images keep their product names.
PREFIX = "modelkiln-test/%s/" % hashlib.sha256(str(REPO).encode()).hexdigest()[:8]


def modelkiln(*args, timeout=1200):
    """Run the modelkiln CLI; returns (exit code, combined output)."""
    result = subprocess.run([sys.executable, "-m", "modelkiln_cli.cli"] + [str(a) for a in args],
                            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=timeout)
    output = result.stdout.decode("utf-8", "replace")
    return result.returncode, output


def app_config(app: Path) -> dict:
    """The app's build.json; its ``builders`` entry for the builder under test (by name
    without tag, e.g. ``modelkiln/python36``) overrides the rest."""
    path = app / "build.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    config.update(config.pop("builders", {}).get(BUILDER.split(":")[0], {}))
    return config


@pytest.fixture(scope="session", autouse=True)
def _remove_test_images():
    """The app images the suite builds (modelkiln-test/<checkout>/...:ci) are removed after it; builder
    images and the py36 test image stay."""
    yield
    try:
        import docker

        client = docker.from_env(version="auto")
        for image in client.images.list():
            if any(tag.startswith(PREFIX) and tag.endswith(":ci") for tag in image.tags):
                client.images.remove(image.id, force=True)
    except Exception as exc:  # the results stand; only the clean-up failed
        sys.stderr.write("could not remove the test images: %s\n" % exc)


@pytest.fixture(scope="session")
def engine():
    try:
        import docker

        client = docker.from_env(version="auto")
        client.ping()
    except Exception as exc:
        pytest.fail("no Docker engine for the image tests (%s): start dockerd (.ci/run does)"
                    % exc, pytrace=False)
    try:
        client.images.get(BUILDER)
    except Exception:
        pytest.fail("builder image %s is missing: run `make image-py311`" % BUILDER,
                    pytrace=False)
    return client


@pytest.fixture(scope="session")
def builder_has_conda(engine):
    """Whether the builder image ships the conda installer (py-rattler): only python311 does."""
    output = engine.containers.run(BUILDER, ["/opt/modelkiln/bin/python", "-c",
                                             "import importlib.util as u; "
                                             "print(u.find_spec('rattler') is not None)"],
                                   remove=True)
    return output.strip() == b"True"


@pytest.fixture(scope="session")
def builder_layers(engine):
    """How many layers the builder image has: app layers are the ones above them."""
    return len(engine.images.get(BUILDER).attrs["RootFS"]["Layers"])


def assert_failed_as_expected(app: Path, config: dict, code: int, output: str) -> None:
    """A must-fail app: the build failed, with its expected message on an ERROR line."""
    assert code != 0, "the build of %s should have failed:\n%s" % (app.name, output)
    assert config["must_fail"] in output, output[-3000:]
    assert "ERROR:" in output


def assert_examples_pass(tag: str, app: Path) -> None:
    """test-image answers every example right and the server exits cleanly on SIGTERM."""
    code, output = modelkiln("test-image", tag, "--app", str(app))
    assert code == 0, output[-5000:]
    assert "PASS SIGTERM" in output


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    """Wheels of test_apps/_packages/*, built here: they exist on no public index."""
    out = tmp_path_factory.mktemp("wheels")
    packages = sorted((REPO / "test_apps" / "_packages").glob("*/"))
    for package in packages:
        copy = tmp_path_factory.mktemp("src") / package.name  # keep build output out of the repo
        shutil.copytree(str(package), str(copy))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--no-build-isolation", "-w", str(out), str(copy)], check=True)
    return out


@pytest.fixture(scope="session")
def private_index(wheelhouse, tmp_path_factory):
    """A PEP 503 index of the test wheels on 127.0.0.1 (reached with --network host)."""
    root = tmp_path_factory.mktemp("index")
    simple = root / "simple"
    for wheel in wheelhouse.glob("*.whl"):
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        folder = simple / project
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(str(wheel), str(folder / wheel.name))
        (folder / "index.html").write_text(
            '<html><body><a href="%s">%s</a></body></html>\n' % (wheel.name, wheel.name))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/simple/" % server.server_address[1]
    server.shutdown()
