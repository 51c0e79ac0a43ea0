"""``modelkiln build --as-dockerfile PATH``: a Dockerfile doing the same build, for
buildah, kaniko or ``docker build`` where no engine socket is available to modelkiln.

Beside PATH it writes ``upload/src`` (the prepared source) and ``upload/inject/N`` (injected
files and folders). Those are bind-mounted into the assemble step (``RUN --mount``), never
copied into a layer; files bound for /run/modelkiln (pip.conf with its credentials, the CA
bundle, conda's auth file) are BuildKit secret mounts instead, readable by the builder's user
only and never written beside the Dockerfile: the ``docker build`` command it prints (and
writes on the Dockerfile's first line) hands them over with ``--secret``. An incremental
build reuses the previous image's artifacts through a ``cached`` stage.
"""

import json
import os
import shlex
import shutil
from typing import Any, Dict, List, Optional, Tuple

from .staging import SECRETS_DIR, build_labels, copy_readable

DEFAULT_SCRIPTS = "/usr/libexec/s2i"
DEFAULT_USER = "1001"
APP_ROOT = "/opt/app-root"
RUNTIME_PYTHON = "/opt/modelkiln/bin/python"


def label_and_env(labels: Dict[str, str], env: Dict[str, str]) -> List[str]:
    lines = ["LABEL " + " \\\n      ".join("%s=%s" % (_quote(k), _quote(v))
                                         for k, v in sorted(labels.items()))]
    if env:
        lines.append("ENV " + " \\\n    ".join("%s=%s" % (k, _quote(v))
                                             for k, v in env.items()))
    return lines


def default_runtime_image(builder: str) -> str:
    """The runtime image of a builder named by convention: modelkiln/python311[:tag] ->
    modelkiln/python311-runtime[:tag] (``modelkiln build --slim`` reads the builder's label
    instead; writing a Dockerfile needs no engine)."""
    name, slash, last = builder.rpartition("/")
    repository, colon, tag = last.partition(":")
    if "@" in repository:
        repository = repository.split("@", 1)[0]
        colon, tag = "", ""
    return "%s%s%s-runtime%s%s" % (name, slash, repository, colon, tag)


def runtime_stage(options: Any, labels: Dict[str, str], env: Dict[str, str],
                  weights_line: Optional[str] = None) -> List[str]:
    """The final stage of a slim build: the app's /opt/app-root (build tools already left
    out in the build stage, so that they are in no layer) on the runtime image, checked
    there against the runtime image's own packages."""
    runtime = options.runtime_image or default_runtime_image(options.builder)
    lines = ["", "FROM %s" % runtime]
    slim_labels = dict(labels)
    slim_labels.update({"io.modelkiln.slim": "true",
                        "io.openshift.s2i.build.runtime-image": runtime})
    lines += label_and_env(slim_labels, env)
    if weights_line:
        lines.append(weights_line)
    lines.append("COPY --from=build --chown=%s:0 %s %s" % (DEFAULT_USER, APP_ROOT, APP_ROOT))
    lines.append('RUN ["%s", "-m", "python_runtime.slim", "--check-only", "%s"]'
                 % (RUNTIME_PYTHON, APP_ROOT))
    return lines


def _quote(value: str) -> str:
    return json.dumps(value)


def write_dockerfile(options: Any, source: Any, env: Dict[str, str],
                     injections: List[Tuple[str, str]],
                     weight_files: Optional[List[str]] = None) -> None:
    path = os.path.abspath(options.as_dockerfile)
    folder = os.path.dirname(path)
    upload = os.path.join(folder, "upload")
    shutil.rmtree(upload, ignore_errors=True)
    weight_files = weight_files or []
    left_out = set(weight_files)

    def weights_of(directory: str, names: List[str]) -> List[str]:
        relative = os.path.relpath(directory, source.root).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        return [n for n in names if prefix + n in left_out]

    shutil.copytree(source.root, os.path.join(upload, "src"), symlinks=True,
                    ignore=weights_of if left_out else None)
    for relative in weight_files:  # their own COPY: a layer BuildKit keeps while they are equal
        target = os.path.join(upload, "weights", relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source.root, relative), target)
    weights_line = ("COPY --chown=%s:0 upload/weights/ %s/src/" % (DEFAULT_USER, APP_ROOT)
                    if weight_files else None)
    lines = []  # type: List[str]
    if options.incremental:
        lines += ["FROM %s AS cached" % options.tag,
                  "RUN mkdir -p /tmp/artifacts && %s/save-artifacts | tar -x -C /tmp/artifacts"
                  % DEFAULT_SCRIPTS, ""]
    lines.append("FROM %s%s" % (options.builder, " AS build" if options.slim else ""))
    labels = build_labels(options, source)
    lines += label_and_env(labels, env)
    lines.append("USER root")
    if weights_line and not options.slim:  # (slim: in the runtime stage only)
        lines.append(weights_line)
    lines.append("COPY --chown=%s:0 upload/src /tmp/src" % DEFAULT_USER)
    if options.incremental:
        lines.append("COPY --from=cached --chown=%s:0 /tmp/artifacts /tmp/artifacts"
                     % DEFAULT_USER)
    lines.append("USER %s" % DEFAULT_USER)
    mounts, secrets = [], []
    for index, (src, dst) in enumerate(injections):
        if os.path.dirname(dst.rstrip("/")) == SECRETS_DIR and os.path.isfile(src):
            # credentials and the CA bundle: BuildKit secret mounts, never in the context
            secret = "inject%d" % index
            secrets.append("--secret id=%s,src=%s" % (secret, shlex.quote(src)))
            mounts.append("--mount=type=secret,id=%s,target=%s,uid=%s,mode=0400"
                          % (secret, dst, DEFAULT_USER))
            continue
        name = "inject/%d" % index
        copy_readable(src, os.path.join(upload, name))
        mounts.append("--mount=type=bind,source=upload/%s,target=%s" % (name, dst))
    lines.append("RUN %s%s/assemble && rm -rf /tmp/src /tmp/artifacts%s"
                 % ("".join(m + " " for m in mounts), DEFAULT_SCRIPTS,
                    " \\\n    && %s -m python_runtime.slim --remove-only %s"
                    % (RUNTIME_PYTHON, APP_ROOT) if options.slim else ""))
    if options.slim:
        lines += runtime_stage(options, labels, env, weights_line)
    lines.append('CMD ["%s/run"]' % DEFAULT_SCRIPTS)
    command = "DOCKER_BUILDKIT=1 docker build %s-f %s -t %s %s" % (
        "".join(s + " " for s in secrets), shlex.quote(path), shlex.quote(options.tag),
        shlex.quote(folder))
    lines.insert(0, "# build: %s" % command)
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("---> wrote %s (context: %s); build it with:\n%s" % (path, folder, command),
          flush=True)
