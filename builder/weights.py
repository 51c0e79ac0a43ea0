"""Weights in a layer of their own (MODELKILN_WEIGHTS): which files of an app's source are
its large data files, by glob patterns relative to the source (``*`` within one folder,
``**`` across folders, ``?`` one character), space separated.

``modelkiln build`` puts the matching files into the app folder in a layer of their own,
before the code, and keeps that layer for the next build while they do not change (a
code-only rebuild then re-pushes only the small layer); ``assemble`` leaves them in place
when it replaces the rest of the source. The real s2i builds them in the one layer it makes.
"""

import os
import re
from typing import List, Pattern, Sequence


def compile_patterns(text: str) -> List[Pattern[str]]:
    """The patterns of MODELKILN_WEIGHTS; a pattern that leaves the source is refused."""
    compiled = []
    for pattern in (text or "").split():
        parts = pattern.strip("/").split("/")
        if pattern.startswith("/") or ".." in parts:
            raise ValueError("MODELKILN_WEIGHTS pattern %r must stay inside the app source "
                             "(a relative path without ..)" % pattern)
        out, index = [], 0
        text_pattern = "/".join(parts)
        while index < len(text_pattern):
            if text_pattern.startswith("**/", index):
                out.append("(?:.*/)?")
                index += 3
            elif text_pattern.startswith("**", index):
                out.append(".*")
                index += 2
            elif text_pattern[index] == "*":
                out.append("[^/]*")
                index += 1
            elif text_pattern[index] == "?":
                out.append("[^/]")
                index += 1
            else:
                out.append(re.escape(text_pattern[index]))
                index += 1
        compiled.append(re.compile("".join(out) + r"\Z"))
    return compiled


def matches(relative: str, patterns: Sequence[Pattern[str]]) -> bool:
    return any(p.match(relative) for p in patterns)


def weight_files(root: str, patterns: Sequence[Pattern[str]]) -> List[str]:
    """Files below ``root`` (relative paths, sorted) that the patterns name; no symlinks,
    nothing under .git."""
    found = []
    if not patterns:
        return found
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in files:
            path = os.path.join(base, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if not os.path.islink(path) and matches(relative, patterns):
                found.append(relative)
    return sorted(found)


def remove_all_but(folder: str, patterns: Sequence[Pattern[str]]) -> None:
    """Empty ``folder`` (a previous build's source) except the files the patterns name, and
    the folders that hold them."""
    for base, dirs, files in os.walk(folder, topdown=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            path = os.path.join(base, name)
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            if os.path.islink(path) or not matches(relative, patterns):
                os.remove(path)
        if base != folder and not os.listdir(base):
            os.rmdir(base)
