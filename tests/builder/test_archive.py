"""A model artifact handed over as one archive (builder/archive.py): what is unpacked where,
what is refused, and the two places that unpack (modelkiln build ARCHIVE, assemble)."""

import io
import os
import tarfile
import zipfile

import pytest

from builder import archive, assemble
from modelkiln_cli.source import SourceError, prepare

FILES = {"odahuflow.project.yaml": b"model: {}\n", "odahuflow_model/entrypoint.py": b"x = 1\n"}


def make_zip(path, files, top=""):
    with zipfile.ZipFile(str(path), "w") as zipped:
        for name, data in files.items():
            zipped.writestr(top + name, data)
    return path


def make_tar(path, files, top="", extra=None):
    with tarfile.open(str(path), "w:gz") as tarred:
        for name, data in files.items():
            info = tarfile.TarInfo(top + name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o600
            tarred.addfile(info, io.BytesIO(data))
        if extra is not None:
            tarred.addfile(extra)
    return path


def tree(folder):
    return {os.path.relpath(os.path.join(base, name), str(folder)).replace(os.sep, "/")
            for base, _, names in os.walk(str(folder)) for name in names}


@pytest.mark.parametrize("maker, name", [(make_zip, "a.zip"), (make_tar, "a.tar.gz")])
@pytest.mark.parametrize("top", ["", "artifact/"])
def test_an_archive_unpacks_with_one_top_folder_dropped(tmp_path, maker, name, top):
    packed = maker(tmp_path / name, dict(FILES, **{"run.sh": b"#!/bin/sh\n"}), top)
    assert archive.unpack(str(packed), str(tmp_path / "out")) == 3
    assert tree(tmp_path / "out") == set(FILES) | {"run.sh"}
    assert (tmp_path / "out" / "odahuflow_model" / "entrypoint.py").read_bytes() == b"x = 1\n"
    if maker is make_tar:  # modes: readable by all (OpenShift's any UID), executables kept
        assert os.stat(str(tmp_path / "out" / "run.sh")).st_mode & 0o777 == 0o755
        assert os.stat(str(tmp_path / "out" / "odahuflow.project.yaml")).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:/evil"])
def test_names_outside_the_target_are_refused(tmp_path, name):
    packed = make_zip(tmp_path / "a.zip", {name: b"x"})
    with pytest.raises(archive.ArchiveError) as info:
        archive.unpack(str(packed), str(tmp_path / "out"))
    assert "would be written outside the build's folder" in str(info.value)
    assert not (tmp_path / "evil.py").exists()


def test_links_and_unreadable_archives_are_refused(tmp_path):
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    packed = make_tar(tmp_path / "a.tgz", FILES, extra=link)
    with pytest.raises(archive.ArchiveError) as info:
        archive.unpack(str(packed), str(tmp_path / "out"))
    assert "'link' is not a file or a folder" in str(info.value)
    broken = tmp_path / "b.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(archive.ArchiveError) as info:
        archive.unpack(str(broken), str(tmp_path / "out2"))
    assert "cannot be read as a zip archive" in str(info.value)


def test_a_single_archive_is_recognised_only_alone(tmp_path):
    make_zip(tmp_path / "artifact.zip", FILES)
    (tmp_path / ".s2i").mkdir()  # dot entries do not count
    assert archive.single_archive(str(tmp_path)) == str(tmp_path / "artifact.zip")
    (tmp_path / "README.md").write_text("x")
    assert archive.single_archive(str(tmp_path)) is None


def test_assemble_unpacks_a_source_that_is_one_archive(tmp_path, capsys):
    source, app = tmp_path / "src", tmp_path / "app"
    source.mkdir()
    make_zip(source / "artifact.zip", FILES, "wine-model/")
    assemble.copy_source(str(source), str(app))
    assert tree(app) == set(FILES)
    assert "unpacked artifact.zip (2 files)" in capsys.readouterr().out
    (source / "other.txt").write_text("beside it: the folder is copied as it is")
    assemble.copy_source(str(source), str(app))
    assert tree(app) == {"artifact.zip", "other.txt"}


def test_modelkiln_build_takes_an_archive_as_its_source(tmp_path):
    packed = make_tar(tmp_path / "artifact.tar.gz", FILES)
    source = prepare(str(packed), str(tmp_path / "work"))
    assert tree(source.root) == set(FILES)
    with pytest.raises(SourceError) as info:
        prepare(str(packed), str(tmp_path / "work2"), ref="main")
    assert "--ref needs a git repository" in str(info.value)
    with pytest.raises(SourceError) as info:
        prepare(str(tmp_path / "missing.txt"), str(tmp_path / "work3"))
    assert "neither a folder, a git URL nor an archive (.zip, .tar.gz, .tgz, .tar)" in \
        str(info.value)
