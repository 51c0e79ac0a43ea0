"""MODELKILN_WEIGHTS: the patterns (builder.weights), the files they name, what assemble keeps
of a previous source, the weights archive and digest modelkiln build makes, the Dockerfile's
own COPY for them, and python_runtime.slim putting an app in place around them."""

import os
import stat
import tarfile

import pytest

from builder import weights
from modelkiln_cli import weights as layers
from modelkiln_cli.build import BuildOptions
from modelkiln_cli.dockerfile import write_dockerfile
from modelkiln_cli.source import Source
from modelkiln_cli.staging import BuildError
from python_runtime import slim


def make(root, files):
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("pattern, relative, expected", [
    ("*.pt", "model.pt", True),
    ("*.pt", "models/model.pt", False),
    ("models/*.pt", "models/model.pt", True),
    ("**/*.pt", "model.pt", True),
    ("**/*.pt", "a/b/model.pt", True),
    ("models/**", "models/a/b.bin", True),
    ("models/**", "modelsx/b.bin", False),
    ("model?.bin", "model1.bin", True),
    ("model?.bin", "model12.bin", False),
    ("weights.bin", "weights.bin", True),
])
def test_patterns(pattern, relative, expected):
    assert weights.matches(relative, weights.compile_patterns(pattern)) is expected


@pytest.mark.parametrize("pattern", ["/abs/*.pt", "../up/*.pt", "models/../../x"])
def test_a_pattern_leaving_the_source_is_refused(pattern):
    with pytest.raises(ValueError, match="must stay inside the app source"):
        weights.compile_patterns(pattern)


def test_weight_files_are_the_matching_files_sorted_without_links_or_git(tmp_path):
    make(tmp_path, {"Model.py": b"x", "models/b.pt": b"b", "models/a.pt": b"a",
                    ".git/objects/c.pt": b"c", "data/big.bin": b"d"})
    os.symlink("models/a.pt", str(tmp_path / "link.pt"))
    found = weights.weight_files(str(tmp_path), weights.compile_patterns("**/*.pt data/*.bin"))
    assert found == ["data/big.bin", "models/a.pt", "models/b.pt"]
    assert weights.weight_files(str(tmp_path), []) == []


def test_assemble_keeps_the_weights_and_removes_the_rest_of_a_previous_source(tmp_path):
    make(tmp_path, {"Model.py": b"old", "models/a.pt": b"w", "models/notes.txt": b"n",
                    "old/gone.py": b"g", "top.bin": b"t"})
    weights.remove_all_but(str(tmp_path), weights.compile_patterns("models/*.pt top.bin"))
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["models", "models/a.pt", "top.bin"]


def test_the_weights_archive_and_digest(tmp_path):
    make(tmp_path, {"models/a.pt": b"w" * 100, "b.bin": b"b"})
    (tmp_path / "b.bin").chmod(0o600)
    files = ["b.bin", "models/a.pt"]
    first = layers.digest("sha256:base", str(tmp_path), files)
    assert first == layers.digest("sha256:base", str(tmp_path), files)
    assert first != layers.digest("sha256:other", str(tmp_path), files)
    archive = tmp_path / "w.tar"
    layers.write_tar(str(tmp_path), files, 1001, str(archive))
    with tarfile.open(str(archive)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["b.bin", "models", "models/a.pt"]
        assert members["models"].isdir() and members["models"].mode == 0o775
        assert (members["b.bin"].uid, members["b.bin"].gid) == (1001, 0)
        assert members["b.bin"].mode == 0o660  # group gets the owner's rights
        assert tar.extractfile("models/a.pt").read() == b"w" * 100
    (tmp_path / "models" / "a.pt").write_bytes(b"changed")
    assert layers.digest("sha256:base", str(tmp_path), files) != first


def test_a_bad_pattern_in_the_build_environment_is_a_build_error(tmp_path):
    with pytest.raises(BuildError, match="must stay inside"):
        layers.find({"MODELKILN_WEIGHTS": "../x"}, str(tmp_path))


@pytest.mark.parametrize("slim_build", [False, True])
def test_the_dockerfile_copies_the_weights_in_a_layer_of_their_own(tmp_path, slim_build):
    app = tmp_path / "app"
    make(app, {"Model.py": b"class Model: pass\n", "models/w.pt": b"w", "models/cfg.json": b"{}"})
    target = tmp_path / "out" / "Dockerfile"
    target.parent.mkdir()
    options = BuildOptions(str(app), "modelkiln/python311", "app:1", as_dockerfile=str(target),
                           slim=slim_build)
    write_dockerfile(options, Source(str(app), str(app), "", {}),
                     {"MODEL_NAME": "Model", "MODELKILN_WEIGHTS": "models/*.pt"}, [],
                     ["models/w.pt"])
    text = target.read_text()
    out = tmp_path / "out" / "upload"
    assert (out / "weights" / "models" / "w.pt").read_bytes() == b"w"
    assert not (out / "src" / "models" / "w.pt").exists()
    assert (out / "src" / "models" / "cfg.json").exists()
    line = "COPY --chown=1001:0 upload/weights/ /opt/app-root/src/"
    assert text.count(line) == 1
    if slim_build:  # only in the runtime stage, before the app
        runtime = text.split("FROM modelkiln/python311-runtime")[1]
        assert runtime.index(line) < runtime.index("COPY --from=build")
    else:
        assert text.index(line) < text.index("COPY --chown=1001:0 upload/src /tmp/src")


def test_placing_an_app_keeps_the_weights_already_there(tmp_path):
    target, staged = tmp_path / "app-root", tmp_path / "staged"
    make(target, {"src/models/w.pt": b"weights", "src/old.py": b"old"})
    make(staged, {"src/models/cfg.json": b"{}", "src/old.py": b"new", "lib/site.py": b"s",
                  "bin/python": b"p"})
    slim.place(str(staged), str(target))
    assert (target / "src" / "models" / "w.pt").read_bytes() == b"weights"
    assert (target / "src" / "models" / "cfg.json").exists()
    assert (target / "src" / "old.py").read_bytes() == b"new"
    assert (target / "lib" / "site.py").exists() and not staged.exists()


def test_own_changes_only_what_differs(tmp_path):
    make(tmp_path, {"a": b"a", "b/c": b"c"})
    (tmp_path / "a").chmod(0o640)   # the group lacks the owner's write
    (tmp_path / "b" / "c").chmod(0o660)
    (tmp_path / "b").chmod(0o775)
    tmp_path.chmod(0o775)
    uid, gid = os.getuid(), os.getgid()
    assert slim.own(str(tmp_path), uid, gid) == 1
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o660
    assert slim.own(str(tmp_path), uid, gid) == 0
