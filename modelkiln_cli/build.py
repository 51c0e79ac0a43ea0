"""``modelkiln build SOURCE BUILDER TAG``: s2i's build, with the local Docker engine.

As s2i does it: create a container from the builder image running its ``assemble`` (as the
image's user), upload ``src/`` (and ``artifacts/`` for incremental builds) under the
destination folder, start it, then commit the container as the app image with ``CMD run``,
the build environment, and ``io.openshift.s2i.build.*`` labels. Injected files are read-only
bind mounts, so they exist during assemble and are in no layer of the result.
"""

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from builder.conda import ENV_FILES

from . import weights
from .dockerfile import write_dockerfile
from .engine import bind_mount, commit_app, connect, stream_output
from .slim import (SLIM_LABEL, assemble_runtime, check_options, find_runtime,
                   runtime_image_name)
from .source import build_environment, prepare
from .staging import (BuildError, BuildOptions, build_labels, parse_injections, say,
                      scripts_path, stage_injections)

DESTINATION_LABEL = "io.openshift.s2i.destination"


def _add_tree(tar: tarfile.TarFile, root: str, arcname: str, uid: int,
              leave_out: Optional[set] = None) -> None:
    def owned(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
        if leave_out and info.name in leave_out:
            return None
        info.uid, info.gid, info.uname, info.gname = uid, 0, "", ""
        info.mode |= 0o060 if info.isfile() else 0o070  # group 0 may write, like the app dir
        return info

    tar.add(root, arcname=arcname, filter=owned)


def upload_archive(source_root: str, uid: int, with_artifacts: bool,
                   leave_out: Optional[List[str]] = None) -> bytes:
    """The tar s2i streams: ``src/``, and an empty ``artifacts/`` for incremental builds
    (the save-artifacts stream is then unpacked into it by the engine, untouched); the
    weight files ``leave_out`` (relative paths) are in their own layer already."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_tree(tar, source_root, "src", uid, weights.excluded(leave_out, "src/"))
        if with_artifacts:
            folder = tarfile.TarInfo("artifacts")
            folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o775, uid, 0
            tar.addfile(folder)
    return buffer.getvalue()


def numeric_user(user: str) -> int:
    name = (user or "").split(":", 1)[0]
    if not name.isdigit():
        raise BuildError("builder image USER %r is not numeric: s2i builders must run as a "
                         "numeric non-root user (e.g. USER 1001)" % (user,))
    return int(name)


ARTIFACTS_FILE = "/tmp/.modelkiln-artifacts.tar"
# Labels of an image built by modelkiln build, for the next incremental build: the builder
# image it was built on (its id), a digest of its build environment, and how many builds are
# stacked on the last clean one.
BUILDER_ID_LABEL = "io.modelkiln.builder-id"
ENV_DIGEST_LABEL = "io.modelkiln.build-env-digest"
LAYERED_LABEL = "io.modelkiln.layered-builds"
MAX_LAYERED = 20  # then a build starts again from the builder (the engine caps layers at 127)


def env_digest(env: Dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(env.items())).encode("utf-8")).hexdigest()


def layered_base(client: Any, options: BuildOptions, builder: Any, env: Dict[str, str],
                 source_root: str) -> Tuple[Optional[Any], str]:
    """(the previous image of TAG to build on, why) or (None, why not). An incremental build
    goes on top of the previous image, so that a change of source adds one thin layer, only
    when that image was built from this very builder image (same id) with the same build
    environment; never across a changed builder."""
    try:
        previous = client.images.get(options.tag)
    except Exception:  # docker.errors.ImageNotFound
        return None, "no previous image %s" % options.tag
    labels = previous.labels or {}
    if labels.get(BUILDER_ID_LABEL) != builder.id:
        return None, "%s was built from another builder image than %s's %s" % (
            options.tag, options.builder, builder.short_id)
    if labels.get(ENV_DIGEST_LABEL) != env_digest(env):
        return None, "the build environment changed since %s" % options.tag
    if any(os.path.exists(os.path.join(source_root, name)) for name in ENV_FILES) or (
            env.get("ENVIRONMENT_FILE")):
        return None, "conda environments are carried by save-artifacts"
    stacked = int(labels.get(LAYERED_LABEL) or 0)
    if stacked >= MAX_LAYERED:
        return None, "%d builds are stacked on %s already" % (stacked, options.tag)
    return previous, "%s was built from the same builder and environment" % options.tag


def save_artifacts(client: Any, tag: str, scripts: str, user: str) -> Optional[bytes]:
    """Run the previous image's save-artifacts and return its tar stream, or None.

    The stream goes to a file in the container and is fetched with the archive API: several
    times faster than reading it through the attach stream's frames."""
    try:
        previous = client.images.get(tag)
    except Exception:  # docker.errors.ImageNotFound: first build, nothing to reuse
        say("no previous image %s: a clean build" % tag)
        return None
    if (previous.labels or {}).get(SLIM_LABEL) == "true":
        say("the previous %s is slim (it keeps no build artifacts): a clean build" % tag)
        return None
    say("saving artifacts from the previous %s" % tag)
    container = client.containers.create(
        tag, entrypoint=["/bin/sh", "-c"], user=user,
        command=['"$0/save-artifacts" > %s' % ARTIFACTS_FILE, scripts])
    try:
        container.start()
        status = container.wait().get("StatusCode", 1)
        if status != 0:
            raise BuildError("save-artifacts in %s exited with %d:\n%s" % (
                tag, status, container.logs(tail=20).decode("utf-8", "replace")))
        chunks, _ = container.get_archive(ARTIFACTS_FILE)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as outer:
            member = outer.getmembers()[0]
            data = outer.extractfile(member).read()
    finally:
        container.remove(force=True)
    say("artifacts: %.1f MiB" % (len(data) / 1048576.0))
    return data


def run_build(options: BuildOptions) -> str:
    """Build the app image; returns its id. Raises BuildError/EngineError/SourceError."""
    started = time.time()
    check_options(options)
    injections = parse_injections(options)
    workdir = tempfile.mkdtemp(prefix="modelkiln-build-")
    try:
        say("preparing source %s" % options.source)
        source = prepare(options.source, workdir, options.ref, options.context_dir, options.copy)
        env = build_environment(source.root, options.env_files, options.env,
                                warn=lambda text: say("WARNING: " + text))
        if options.as_dockerfile:
            write_dockerfile(options, source, env, injections, weights.find(env, source.root))
            return options.as_dockerfile
        client = connect()
        try:
            builder = client.images.get(options.builder)
        except Exception as exc:
            raise BuildError("builder image %s is not in the local engine: build it (make "
                             "image-py311) or pull it first" % options.builder) from exc
        config = builder.attrs.get("Config") or {}
        labels = dict(config.get("Labels") or {})
        scripts = scripts_path(labels)
        destination = labels.get(DESTINATION_LABEL, "/tmp")
        user = config.get("User") or ""
        uid = numeric_user(user)
        runtime_name = runtime_image_name(options, labels) if options.slim else None
        if runtime_name is not None:
            find_runtime(client, runtime_name)  # (missing: say so before building)
        weights_plan = weights.Weights(source.root, weights.find(env, source.root), uid, workdir,
                                       options.tag)
        artifacts = None
        base, stacked = options.builder, 0
        if options.incremental:
            previous, why = layered_base(client, options, builder, env, source.root)
            if previous is not None and weights_plan.files:
                previous, why = None, "MODELKILN_WEIGHTS: the build starts from the weights layer"
            if previous is not None:
                say("building on the previous %s: %s; a change of source adds one layer"
                    % (options.tag, why))
                base = previous.id
                stacked = int(previous.labels.get(LAYERED_LABEL) or 0) + 1
            else:
                say("not building on the previous image (%s): save-artifacts" % why)
                artifacts = save_artifacts(client, options.tag, scripts, user)
        if weights_plan.files:
            base = weights_plan.layer_image(client, builder).id
        say("assembling with %s (user %s)" % (options.builder, user))
        container = client.containers.create(
            base, command=[scripts + "/assemble"], user=user,
            environment=env, network_mode=options.network,
            # Mounts, not volumes: nothing of the injection may reach the image's config.
            mounts=[bind_mount(src, dst)
                    for src, dst in stage_injections(injections, workdir, uid)],
        )
        try:
            container.put_archive(destination, upload_archive(
                source.root, uid, artifacts is not None, weights_plan.files))
            if artifacts is not None:
                container.put_archive(destination.rstrip("/") + "/artifacts", artifacts)
            tail = stream_output(container, quiet=options.quiet)
            status = container.wait().get("StatusCode", 1)
            if status != 0:
                raise BuildError("assemble failed (exit code %d); its last lines:\n%s"
                                 % (status, "\n".join(tail)))
            if runtime_name is not None:
                image = assemble_runtime(client, container, options, runtime_name, env,
                                         build_labels(options, source), weights_plan)
            else:
                final_labels = dict(labels)
                final_labels.update(build_labels(options, source))
                final_labels.update({BUILDER_ID_LABEL: builder.id,
                                     ENV_DIGEST_LABEL: env_digest(env),
                                     LAYERED_LABEL: str(stacked)})
                image = commit_app(container, options.tag, config, final_labels, env, scripts)
        finally:
            container.remove(force=True)
        if weights_plan.files:
            weights_plan.forget_others(client)
        say("built %s (%s) in %.1f s" % (options.tag, image.short_id, time.time() - started))
        return image.id
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(options: BuildOptions) -> int:
    run_build(options)
    return 0
