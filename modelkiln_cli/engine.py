"""The Docker engine, through the docker SDK: connecting, and following a container's output."""

import collections
import sys
from typing import Any, Dict, List

from .errors import CliError

TAIL_LINES = 30


class EngineError(CliError):
    """No usable Docker engine; the message says how to get one."""


def connect() -> Any:
    """A client for the engine in DOCKER_HOST (or the local socket), API version negotiated."""
    try:
        import docker
    except ImportError as exc:
        raise EngineError("the docker SDK is not installed: pip install 'modelkiln[build]'"
                          ) from exc
    try:
        client = docker.from_env(version="auto", timeout=600)
        client.ping()
    except Exception as exc:  # docker.errors.DockerException and socket errors
        raise EngineError("cannot reach a Docker engine (%s): start dockerd, or set DOCKER_HOST "
                          "to a running engine" % exc) from exc
    return client


def stream_output(container: Any, quiet: bool = False) -> List[str]:
    """Start ``container``, echo its output line by line; returns the last lines."""
    tail = collections.deque(maxlen=TAIL_LINES)  # type: collections.deque
    stream = container.attach(stdout=True, stderr=True, stream=True, logs=True)
    container.start()
    pending = b""
    for chunk in stream:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            tail.append(line)
            if not quiet:
                sys.stdout.write("     %s\n" % line)
        sys.stdout.flush()
    if pending:
        line = pending.decode("utf-8", "replace")
        tail.append(line)
        if not quiet:
            sys.stdout.write("     %s\n" % line)
    return list(tail)


def bind_mount(source: str, target: str) -> Any:
    """A read-only bind mount (HostConfig.Mounts: not declared as a volume of the image)."""
    from docker.types import Mount

    return Mount(target=target, source=source, type="bind", read_only=True)


def commit_app(container: Any, name: str, config: Dict[str, Any], labels: Dict[str, str],
               env: Dict[str, str], scripts: str) -> Any:
    """Commit a build container as the app image ``name``: ``CMD run``, the image it ran on
    (``config``: user, entrypoint, working folder, ports, environment) plus the build
    environment ``env``, and ``labels``."""
    from .staging import split_tag

    repository, tag = split_tag(name)
    return container.commit(repository=repository, tag=tag, conf={
        "Cmd": [scripts + "/run"], "Labels": labels,
        "Env": list(config.get("Env") or []) + ["%s=%s" % item for item in env.items()],
        "User": config.get("User") or "", "Entrypoint": config.get("Entrypoint"),
        "WorkingDir": config.get("WorkingDir") or "",
        "ExposedPorts": config.get("ExposedPorts") or {},
    })

