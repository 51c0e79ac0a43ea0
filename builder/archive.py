"""Model artifacts handed over as one archive (ODAHU's GPPI zip, or its ``.tar.gz``).

``modelkiln build artifact.zip`` unpacks the archive into the build's source folder; in the
image, ``assemble`` does the same when the uploaded source holds a single archive and nothing
else — what ``oc start-build --from-file=artifact.zip`` delivers to an OpenShift binary build.
An archive whose files all sit in one top folder is unpacked without that folder. Nothing is
written outside the target: absolute names, ``..``, links and device files are refused, and
the unpacked size is bounded.
"""

import os
import shutil
import stat
import tarfile
import zipfile
from typing import Iterator, List, Optional, Tuple

SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_UNPACKED = 64 * 1024 ** 3  # bytes: a model's weights, not a disk-filling bomb


class ArchiveError(ValueError):
    """The archive cannot be unpacked safely; the message names the entry and the fix."""


def is_archive(path: str) -> bool:
    return path.lower().endswith(SUFFIXES) and os.path.isfile(path)


def single_archive(folder: str) -> Optional[str]:
    """The archive that is ``folder``'s only entry (dot files aside), or None."""
    names = [n for n in os.listdir(folder) if not n.startswith(".")]
    if len(names) == 1 and is_archive(os.path.join(folder, names[0])):
        return os.path.join(folder, names[0])
    return None


def _checked_name(archive: str, name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith(("/", "\\")) or ".." in parts or (
            parts and len(parts[0]) == 2 and parts[0][1] == ":"):
        raise ArchiveError("%s: the entry %r would be written outside the build's folder: "
                           "make the archive with relative names" % (archive, name))
    return "/".join(parts)


def _zip_entries(archive: str) -> Iterator[Tuple[str, bool, int, int]]:
    """(name, is a folder, size, mode) of each entry of a zip file."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            mode = (info.external_attr >> 16) & 0o177777
            if stat.S_ISLNK(mode):
                raise ArchiveError("%s: the entry %r is a symbolic link; put the file itself "
                                   "in the archive" % (archive, info.filename))
            yield info.filename, info.is_dir(), info.file_size, mode


def _tar_entries(archive: str) -> Iterator[Tuple[str, bool, int, int]]:
    with tarfile.open(archive) as tarred:
        for member in tarred:
            if not (member.isfile() or member.isdir()):
                raise ArchiveError("%s: the entry %r is not a file or a folder (a link or a "
                                   "device); put the file itself in the archive"
                                   % (archive, member.name))
            yield member.name, member.isdir(), member.size, member.mode


def _entries(archive: str) -> List[Tuple[str, bool, int, int]]:
    try:
        if archive.lower().endswith(".zip"):
            return list(_zip_entries(archive))
        return list(_tar_entries(archive))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError("%s cannot be read as a %s archive: %s"
                           % (archive, "zip" if archive.lower().endswith(".zip") else "tar",
                              exc)) from exc


def unpack(archive: str, target: str) -> int:
    """Unpack ``archive`` into the (empty or new) folder ``target``; the number of files.
    A single top folder holding everything is dropped."""
    entries = _entries(archive)
    names = [(_checked_name(archive, name), folder, size, mode)
             for name, folder, size, mode in entries]
    total = sum(size for _, _, size, _ in names)
    if total > MAX_UNPACKED:
        raise ArchiveError("%s unpacks to %d bytes, more than the %d a build takes"
                           % (archive, total, MAX_UNPACKED))
    tops = {name.split("/")[0] for name, _, _, _ in names if name}
    strip = ""
    if len(tops) == 1:
        top = tops.pop()
        if all(name == top or name.startswith(top + "/") for name, _, _, _ in names) and any(
                name.startswith(top + "/") for name, _, _, _ in names):
            strip = top + "/"
    os.makedirs(target, exist_ok=True)
    opened = zipfile.ZipFile(archive) if archive.lower().endswith(".zip") else tarfile.open(
        archive)
    files = 0
    try:
        for (name, folder, _, mode), original in zip(names, entries):
            relative = name[len(strip):] if strip and name.startswith(strip) else name
            if strip and name + "/" == strip:
                continue
            if not relative:
                continue
            path = os.path.join(target, *relative.split("/"))
            if folder:
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if isinstance(opened, zipfile.ZipFile):
                source = opened.open(original[0])
            else:
                source = opened.extractfile(original[0])
            with source, open(path, "wb") as handle:
                shutil.copyfileobj(source, handle, 1024 * 1024)
            os.chmod(path, 0o755 if mode & 0o111 else 0o644)
            files += 1
    finally:
        opened.close()
    return files
