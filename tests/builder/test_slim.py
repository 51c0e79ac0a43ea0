"""Slim app images without an engine: the runtime image's artifact mapping (s2i's syntax), which
runtime image a build uses, the multi-stage Dockerfile, and python_runtime.slim taking build
tools out of an app virtualenv and refusing one that needs what the runtime image lacks."""

import os

import pytest

from modelkiln_cli.build import BuildOptions, run_build
from modelkiln_cli.dockerfile import default_runtime_image, write_dockerfile
from modelkiln_cli.slim import artifact_mappings, runtime_image_name
from modelkiln_cli.source import Source
from modelkiln_cli.staging import BuildError
from python_runtime import slim


@pytest.mark.parametrize("label, mappings", [
    ("/opt/app-root", [("/opt/app-root", ".")]),
    ("/opt/app-root/", [("/opt/app-root", ".")]),
    ("/tmp/app.war:app/dist; /opt/data", [("/tmp/app.war", "app/dist"), ("/opt/data", ".")]),
    ("", []),
])
def test_artifact_mappings_read_s2is_syntax(label, mappings):
    assert artifact_mappings(label) == mappings


@pytest.mark.parametrize("label", ["relative/path", "/a:/absolute", "/a:../up"])
def test_artifact_mappings_refuse_what_s2i_refuses(label):
    with pytest.raises(BuildError, match="absolute path"):
        artifact_mappings(label)


def test_the_runtime_image_comes_from_the_option_or_the_builders_label():
    options = BuildOptions("src", "modelkiln/python311", "app:1", slim=True)
    assert runtime_image_name(options, {"io.modelkiln.runtime-image": "r/rt:1"}) == "r/rt:1"
    with pytest.raises(BuildError, match="--runtime-image IMAGE"):
        runtime_image_name(options, {})
    named = BuildOptions("src", "b", "app:1", runtime_image="other/rt")
    assert named.slim and runtime_image_name(named, {"io.modelkiln.runtime-image": "x"}) == \
        "other/rt"


def test_slim_and_incremental_are_refused_before_anything_is_built(tmp_path):
    options = BuildOptions(str(tmp_path), "modelkiln/python311", "app:1", slim=True,
                           incremental=True)
    with pytest.raises(BuildError, match="--incremental cannot be combined with --slim"):
        run_build(options)


@pytest.mark.parametrize("builder, runtime", [
    ("modelkiln/python311", "modelkiln/python311-runtime"),
    ("example.com:5000/kiln/python311:2.0", "example.com:5000/kiln/python311-runtime:2.0"),
])
def test_the_dockerfile_names_the_runtime_image_by_convention(builder, runtime):
    assert default_runtime_image(builder) == runtime


def test_a_slim_dockerfile_has_two_stages_and_leaves_build_tools_in_the_first(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "Model.py").write_text("class Model: pass\n")
    target = tmp_path / "out" / "Dockerfile"
    target.parent.mkdir()
    options = BuildOptions(str(app), "modelkiln/python311", "app:1", as_dockerfile=str(target),
                           slim=True)
    write_dockerfile(options, Source(str(app), str(app), "", {}), {"MODEL_NAME": "Model"}, [])
    text = target.read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert stages == ["FROM modelkiln/python311 AS build", "FROM modelkiln/python311-runtime"]
    build, runtime = text.split("FROM modelkiln/python311-runtime")
    assert "python_runtime.slim --remove-only /opt/app-root" in build
    assert "COPY --from=build --chown=1001:0 /opt/app-root /opt/app-root" in runtime
    assert '"python_runtime.slim", "--check-only", "/opt/app-root"' in runtime
    assert '"io.modelkiln.slim"="true"' in runtime and 'MODEL_NAME="Model"' in runtime
    assert text.rstrip().endswith('CMD ["/usr/libexec/s2i/run"]')


def dist(site, name, version="1.0", requires=(), files=()):
    info = site / ("%s-%s.dist-info" % (name, version))
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version]
    lines += ["Requires-Dist: %s" % r for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    record = []
    for relative in files:
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        record.append("%s,," % relative)
    record.append("%s/METADATA,," % info.name)
    (info / "RECORD").write_text("\n".join(record) + "\n")


def venv(tmp_path):
    root = tmp_path / "app-root"
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (root / "bin").mkdir()
    for script in ("pip", "pip3", "python"):
        (root / "bin" / script).write_text("#!/bin/sh\n")
    dist(site, "pip", "24.0", files=["pip/__init__.py"])
    dist(site, "setuptools", "69.0", requires=["pip>=19.1; extra == 'test'", "wheel; extra == 'test'"],
         files=["setuptools/__init__.py",
                                           "pkg_resources/__init__.py",
                                           "_distutils_hack/__init__.py"])
    (site / "distutils-precedence.pth").write_text("import _distutils_hack\n")
    (root / "src").mkdir()
    return root, site


def test_build_tools_leave_the_app_virtualenv_unless_the_app_asked_for_them(tmp_path):
    root, site = venv(tmp_path)
    dist(site, "scikit-learn", "1.5", requires=["numpy>=1.19", "joblib; python_version>'3'",
                                                 "pytest; extra == 'tests'"],
         files=["sklearn/__init__.py"])
    dist(site, "numpy", "2.0", files=["numpy/__init__.py"])
    assert slim.main([str(root)]) == 0
    assert sorted(os.listdir(str(site))) == ["numpy", "numpy-2.0.dist-info",
                                            "scikit-learn-1.5.dist-info", "sklearn"]
    assert sorted(os.listdir(str(root / "bin"))) == ["python"]


def test_build_tools_the_app_needs_stay(tmp_path):
    root, site = venv(tmp_path)
    (root / "src" / "requirements.txt").write_text("pip>=23  # the model installs plugins\n")
    dist(site, "some-plugin-host", requires=["setuptools"], files=["host/__init__.py"])
    assert slim.main([str(root)]) == 0
    assert (site / "pip" / "__init__.py").exists() and (root / "bin" / "pip").exists()
    assert (site / "pkg_resources" / "__init__.py").exists()
    assert (site / "distutils-precedence.pth").exists()


def test_a_requirement_the_runtime_image_lacks_fails_the_build_naming_it(tmp_path, capsys,
                                                                         monkeypatch):
    root, site = venv(tmp_path)
    dist(site, "my-model-lib", requires=["rattler", "numpy; extra == 'fast'"],
         files=["mylib/__init__.py"])
    monkeypatch.setattr(slim, "RUNTIME_SITES", str(tmp_path / "no-runtime-here"))
    assert slim.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert "my-model-lib needs rattler" in err and "numpy" not in err
    assert "build without --runtime-image / --slim" in err


def test_remove_only_and_check_only_split_the_two_steps(tmp_path, monkeypatch):
    root, site = venv(tmp_path)
    dist(site, "lib", requires=["absent"], files=["lib/__init__.py"])
    monkeypatch.setattr(slim, "RUNTIME_SITES", str(tmp_path / "none"))
    assert slim.main(["--remove-only", str(root)]) == 0
    assert not (site / "pip").exists()
    assert slim.main(["--check-only", str(root)]) == 1
    assert slim.main([str(tmp_path / "not-a-venv")]) == 1
    assert slim.main([]) == 2
