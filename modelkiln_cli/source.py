"""Prepare the source of a build the way s2i does.

A git URL, or a local folder holding ``.git``, is cloned, so only committed content is built
(``--copy`` takes a local folder as it is on disk); ``--ref`` checks out a branch, tag or
commit; ``--context-dir`` builds a sub-folder. An archive (``.zip``, ``.tar.gz``: ODAHU hands its
trained models over so) is unpacked and built as the folder it holds. The environment comes from the context's
``.s2i/environment``, then ``-e`` values, then ``--env-file`` files (later wins), in the order
s2i applies them; a missing ``--env-file`` is a warning, as in s2i.
"""

import os
import shutil
import subprocess
from typing import Callable, Dict, List, Optional, Sequence

from builder.archive import SUFFIXES, ArchiveError, is_archive, unpack
from python_runtime.settings import read_env_file

from .errors import CliError

GIT_PREFIXES = ("git://", "git@", "ssh://", "http://", "https://", "file://")


class SourceError(CliError):
    """The source cannot be prepared; the message names the fix."""


class Source(object):
    def __init__(self, root: str, location: str, context_dir: str,
                 commit: Dict[str, str]) -> None:
        self.root = root            # the folder whose content goes to /tmp/src
        self.location = location    # what the user gave
        self.context_dir = context_dir
        self.commit = commit        # id, author, date, message, ref (empty for plain folders)


def _git(args: List[str], cwd: Optional[str] = None) -> str:
    result = subprocess.run(["git"] + args, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    if result.returncode != 0:
        raise SourceError("git %s failed: %s" % (" ".join(args), result.stderr.strip()))
    return result.stdout.strip()


def is_git_url(location: str) -> bool:
    return location.startswith(GIT_PREFIXES) or location.endswith(".git")


def _commit_info(repo: str, ref: Optional[str]) -> Dict[str, str]:
    fields = _git(["log", "-1", "--format=%H%x00%an <%ae>%x00%aD%x00%s"], cwd=repo).split("\0")
    info = dict(zip(("id", "author", "date", "message"), fields))
    info["ref"] = ref or _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd=repo)
    return info


def prepare(location: str, workdir: str, ref: Optional[str] = None, context_dir: str = "",
            copy: bool = False) -> Source:
    """Materialise the build source in ``workdir``; returns where its context is."""
    if ref is not None and ref.startswith("-"):
        raise SourceError("--ref %r starts with '-': name a branch, tag or commit" % ref)
    if location.startswith("-"):
        raise SourceError("source %r starts with '-': name a folder, git URL or archive "
                          "(./%s for a folder of that name)" % (location, location))
    local = os.path.isdir(location)
    target = os.path.join(workdir, "source")
    commit = {}  # type: Dict[str, str]
    if is_archive(location):  # a model artifact (ODAHU's GPPI zip): its files are the source
        if ref:
            raise SourceError("--ref needs a git repository; %s is an archive" % location)
        try:
            unpack(location, target)
        except ArchiveError as exc:
            raise SourceError(str(exc)) from exc
    elif local and (copy or not os.path.isdir(os.path.join(location, ".git"))):
        if ref:
            raise SourceError("--ref needs a git repository; %s has no .git" % location)
        shutil.copytree(location, target, symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
    elif local or is_git_url(location):
        url = os.path.abspath(location) if local else location
        if local and not _git(["rev-list", "-n", "1", "--all"], cwd=url):
            raise SourceError("%s is an empty git repository: commit the app first, or pass "
                              "--copy to build the files as they are" % location)
        _git(["clone", "--quiet", "--", url, target])
        if ref:
            _git(["checkout", "--quiet", ref], cwd=target)
        commit = _commit_info(target, ref)
        shutil.rmtree(os.path.join(target, ".git"), ignore_errors=True)
    else:
        raise SourceError("source %r is neither a folder, a git URL nor an archive (%s)"
                          % (location, ", ".join(SUFFIXES)))
    root = os.path.normpath(os.path.join(target, context_dir)) if context_dir else target
    if not root.startswith(target) or not os.path.isdir(root):
        raise SourceError("--context-dir %r is not a folder inside the source" % context_dir)
    return Source(root, location, context_dir, commit)


def build_environment(source_root: str, env_files: Sequence[str], pairs: Sequence[str],
                      warn: Optional[Callable[[str], None]] = None) -> Dict[str, str]:
    env = {}  # type: Dict[str, str]
    s2i_env = os.path.join(source_root, ".s2i", "environment")
    if os.path.isfile(s2i_env):
        env.update(read_env_file(s2i_env))
    for pair in pairs:
        if "=" not in pair:
            raise SourceError("-e %r must be KEY=VALUE" % pair)
        key, _, value = pair.partition("=")
        env[key.strip()] = value
    for path in env_files:
        if not os.path.isfile(path):
            if warn is not None:
                warn("--env-file %s does not exist: ignored (as s2i does)" % path)
            continue
        env.update(read_env_file(path))
    return env
