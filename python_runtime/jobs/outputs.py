"""What a file job (``jobs``, ``batch``) writes: outputs locked (``OutputLock``: one job per
output file), resumed after their last complete line or CSV record (what a killed job cut is
removed first) and written through ``Output``, which turns a full disk into a ``JobError``
naming the file and ``--resume``.
"""

import csv
import errno
import fcntl
import os
import socket
import time
from typing import Any, Iterator, Optional

from .inputs import CHUNK, JobError


class OutputLock(object):
    """One job per output: an exclusive ``flock`` on ``OUT.lock`` beside it, taken before the
    output is read, cut or written, and released by the kernel if the job dies (a resumed or
    retried job is never locked out by a killed one). The lock file names its holder."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.path = target + ".lock"
        self.fd = -1

    def __enter__(self) -> "OutputLock":
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise JobError("cannot create the lock file %s: %s" % (self.path, exc.strerror)
                               ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    os.close(fd)
                    raise JobError("cannot lock %s: %s" % (self.path, exc.strerror)) from exc
                holder = self._holder(fd)
                os.close(fd)
                raise JobError("output %s is in use by another job (%s, lock %s): wait for it "
                               "to end, or give this job another output"
                               % (self.target, holder, self.path)) from None
            if self._still_named(fd):
                break
            os.close(fd)  # its holder removed it as we opened it: lock the new one
        self.fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, ("pid %d on %s" % (os.getpid(), socket.gethostname())).encode())
        except OSError as exc:
            self.__exit__()
            raise JobError("cannot write the lock file %s: %s" % (self.path, exc.strerror)
                           ) from exc
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        """The holder's name; a holder that has just taken the lock writes it a moment later,
        so an empty file is read again for up to a second."""
        for _ in range(50):
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            if holder:
                return holder
            time.sleep(0.02)
        return "another job"

    def _still_named(self, fd: int) -> bool:
        try:
            named = os.stat(self.path)
        except OSError:
            return False
        held = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def __exit__(self, *exc: Any) -> None:
        try:
            os.unlink(self.path)  # still locked: whoever opened it sees it is gone
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


class Output(object):
    """A text output written as it goes; an OSError (a full disk) is a JobError naming the
    file, and what was written stays for ``--resume``."""

    def __init__(self, path: str, append: bool, newline: Optional[str] = None) -> None:
        self.path = path
        try:
            self.handle = open(path, "a" if append else "w", encoding="utf-8",
                               newline=newline)
        except OSError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> JobError:
        return write_error(self.path, exc, "rerun with --resume to continue")

    def write(self, text: str) -> None:
        try:
            self.handle.write(text)
        except OSError as exc:
            raise self._error(exc) from exc

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as exc:
            raise self._error(exc) from exc

    def __enter__(self) -> "Output":
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        try:
            self.handle.close()
        except OSError as exc:
            if kind is None:
                raise self._error(exc) from exc


def write_error(path: str, exc: OSError, rerun: str) -> JobError:
    """The JobError for an output that could not be written (``rerun`` says how to go on)."""
    fix = "free some space, then " if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return JobError("cannot write %s: %s: %s%s" % (path, exc.strerror or exc, fix, rerun))


def complete_lines(path: str) -> int:
    """How many complete lines ``path`` holds; a cut last line is removed from the file.
    Read in pieces: memory does not grow with the output."""
    if not os.path.exists(path):
        return 0
    count = end = position = 0
    with open(path, "rb+") as handle:
        for piece in iter(lambda: handle.read(CHUNK), b""):
            found = piece.count(b"\n")
            if found:
                count += found
                end = position + piece.rindex(b"\n") + 1
            position += len(piece)
        if end != position:
            handle.truncate(end)
    return count


def complete_records(path: str) -> int:
    """How many complete CSV records ``path`` holds, its header included; what follows the
    last one (a record cut by a killed job, even inside a quoted field) is removed."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb+") as handle:
        state = {"consumed": 0, "ended": False}

        def lines() -> Iterator[str]:
            for line in iter(handle.readline, b""):
                if not line.endswith(b"\n"):
                    break  # cut
                state["consumed"] += len(line)
                yield line.decode("utf-8")
            state["ended"] = True

        count = end = 0
        widest = csv.field_size_limit(2 ** 31 - 1)  # our own fields may be long
        reader = csv.reader(lines(), strict=True)
        try:
            for _ in reader:
                count += 1
                end = state["consumed"]
        except (csv.Error, UnicodeDecodeError) as exc:
            if not state["ended"]:
                raise JobError("cannot resume %s: line %d is not CSV this job wrote (%s): "
                               "remove it to start over" % (path, reader.line_num, exc)
                               ) from exc
        finally:
            csv.field_size_limit(widest)
        handle.truncate(end)
    return count


def failed_lines(path: str) -> int:
    """How many lines of a JSON-lines output are error lines."""
    import json

    failed = 0
    with open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            if '"error"' in line and "error" in json.loads(line):
                failed += 1
    return failed


def writable_folder(target: str) -> None:
    """A JobError naming the fix unless ``target``'s folder exists and this user may write
    there (in a container: a mounted folder owned by another user is the usual cause)."""
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise JobError("cannot write %s: the folder %s does not exist: create it first"
                       % (target, folder))
    if not os.access(folder, os.W_OK):
        raise JobError(
            "cannot write %s: %s is not a writable folder for this user (uid %d, group %d): "
            'run the container with --user "$(id -u):$(id -g)" (the folder owner\'s ids), or '
            "make the folder group-writable for group %d (chgrp %d %s && chmod g+w %s)"
            % (target, folder, os.getuid(), os.getgid(), os.getgid(), os.getgid(), folder,
               folder))
