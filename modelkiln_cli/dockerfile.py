"""``modelkiln build --as-dockerfile PATH``: a Dockerfile doing the same build, for
buildah, kaniko or ``docker build`` where no engine socket is available to modelkiln.

Beside PATH it writes ``upload/src`` (the prepared source) and ``upload/inject/N`` (injected
files). Injected files are bind-mounted into the assemble step (``RUN --mount``), never
copied into a layer; an incremental build reuses the previous image's artifacts through a
``cached`` stage.
"""

import json
import os
import shutil
from typing import Any, Dict, List, Tuple

from .staging import build_labels, copy_readable

DEFAULT_SCRIPTS = "/usr/libexec/s2i"
DEFAULT_USER = "1001"


def _quote(value: str) -> str:
    return json.dumps(value)


def write_dockerfile(options: Any, source: Any, env: Dict[str, str],
                     injections: List[Tuple[str, str]]) -> None:
    path = os.path.abspath(options.as_dockerfile)
    folder = os.path.dirname(path)
    upload = os.path.join(folder, "upload")
    shutil.rmtree(upload, ignore_errors=True)
    shutil.copytree(source.root, os.path.join(upload, "src"), symlinks=True)
    lines = []  # type: List[str]
    if options.incremental:
        lines += ["FROM %s AS cached" % options.tag,
                  "RUN mkdir -p /tmp/artifacts && %s/save-artifacts | tar -x -C /tmp/artifacts"
                  % DEFAULT_SCRIPTS, ""]
    lines.append("FROM %s" % options.builder)
    labels = build_labels(options, source)
    lines.append("LABEL " + " \\\n      ".join("%s=%s" % (_quote(k), _quote(v))
                                             for k, v in sorted(labels.items())))
    if env:
        lines.append("ENV " + " \\\n    ".join("%s=%s" % (k, _quote(v))
                                             for k, v in env.items()))
    lines.append("USER root")
    lines.append("COPY --chown=%s:0 upload/src /tmp/src" % DEFAULT_USER)
    if options.incremental:
        lines.append("COPY --from=cached --chown=%s:0 /tmp/artifacts /tmp/artifacts"
                     % DEFAULT_USER)
    lines.append("USER %s" % DEFAULT_USER)
    mounts = []
    for index, (src, dst) in enumerate(injections):
        name = "inject/%d" % index
        copy_readable(src, os.path.join(upload, name))
        mounts.append("--mount=type=bind,source=upload/%s,target=%s" % (name, dst))
    lines.append("RUN %s%s/assemble && rm -rf /tmp/src /tmp/artifacts"
                 % ("".join(m + " " for m in mounts), DEFAULT_SCRIPTS))
    lines.append('CMD ["%s/run"]' % DEFAULT_SCRIPTS)
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("---> wrote %s (context: %s)" % (path, folder), flush=True)
