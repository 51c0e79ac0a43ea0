"""Source preparation and build environment, with s2i's rules."""

import subprocess

import pytest

from modelkiln_cli.source import SourceError, build_environment, prepare, read_env_file


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com"] + list(args),
                   cwd=str(repo), check=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "app"
    (root / "sub").mkdir(parents=True)
    (root / "Model.py").write_text("committed\n")
    (root / "sub" / "inner.txt").write_text("inner\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first commit")
    (root / "Model.py").write_text("changed on disk\n")
    (root / "untracked.txt").write_text("new\n")
    return root


def test_git_folder_builds_committed_content(repo, tmp_path):
    source = prepare(str(repo), str(tmp_path / "work"))
    assert (source.root + "/Model.py") and open(source.root + "/Model.py").read() == "committed\n"
    assert not (tmp_path / "work" / "source" / "untracked.txt").exists()
    assert not (tmp_path / "work" / "source" / ".git").exists()
    assert source.commit["message"] == "first commit"
    assert len(source.commit["id"]) == 40
    assert source.commit["author"] == "t <t@example.com>"


def test_copy_builds_what_is_on_disk(repo, tmp_path):
    source = prepare(str(repo), str(tmp_path / "work"), copy=True)
    assert open(source.root + "/Model.py").read() == "changed on disk\n"
    assert source.commit == {}


def test_ref_and_context_dir(repo, tmp_path):
    git(repo, "tag", "v1")
    source = prepare(str(repo), str(tmp_path / "work"), ref="v1", context_dir="sub")
    assert open(source.root + "/inner.txt").read() == "inner\n"
    assert source.commit["ref"] == "v1"


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(context_dir="nope"), "is not a folder inside the source"),
    (dict(context_dir="../.."), "is not a folder inside the source"),
])
def test_bad_context_dir(repo, tmp_path, kwargs, fragment):
    with pytest.raises(SourceError) as info:
        prepare(str(repo), str(tmp_path / "work"), **kwargs)
    assert fragment in str(info.value)


def test_empty_repository_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(SourceError) as info:
        prepare(str(empty), str(tmp_path / "work"))
    assert "empty git repository" in str(info.value) and "--copy" in str(info.value)


def test_ref_needs_git(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError):
        prepare(str(plain), str(tmp_path / "work"), ref="main")


def test_environment_precedence(tmp_path):
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i" / "environment").write_text(
        "# comment\nMODEL_NAME=FromFile\nA = 1\nB=1\ngarbage line\n")
    extra = tmp_path / "extra.env"
    extra.write_text("B=2\nC=2\n")
    env = build_environment(str(tmp_path), [str(extra)], ["A=3", "C=3", "D=x=y"])
    # as s2i: .s2i/environment, then -e, then -E files (the file wins over -e)
    assert env == {"MODEL_NAME": "FromFile", "A": "3", "B": "2", "C": "2", "D": "x=y"}


def test_env_errors(tmp_path):
    warnings = []
    env = build_environment(str(tmp_path), [str(tmp_path / "missing")], ["K=v"],
                            warn=warnings.append)
    assert env == {"K": "v"}
    assert warnings == ["--env-file %s does not exist: ignored (as s2i does)"
                        % (tmp_path / "missing")]
    with pytest.raises(SourceError):
        build_environment(str(tmp_path), [], ["NOEQUALS"])


def test_read_env_file(tmp_path):
    path = tmp_path / "e"
    path.write_text("  K =  v  \n#X=1\n\n")
    assert read_env_file(str(path)) == {"K": "v"}
