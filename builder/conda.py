"""Build the app's conda environment (environment.yml) with py-rattler, inside assemble.

Why py-rattler: a maintained conda-ecosystem library (solver + installer, the engine of pixi)
that installs from PyPI as one wheel, needs no base conda installation, reads local
``file://`` channels, and reports unsatisfiable specs with the solver's own explanation.

The environment goes to ``/opt/app-root/conda-envs/<CONDA_ENV_NAME>``. With ``--incremental``,
save-artifacts carries the installed environment; the next build installs only what changed.
The package cache lives in /tmp during the build and is deleted before the image is committed.
"""

import asyncio
import json
import os
import shutil
from typing import Any, Dict, List, Optional, Tuple

from . import pins
from . import settings as paths

ENV_FILES = ("environment.yml", "environment.yaml", "conda.yml")
CONDA_ENVS = paths.APP_ROOT + "/conda-envs"
CACHE_DIR = "/tmp/modelkiln-conda-cache"
AUTH_FILE = paths.SECRETS_DIR + "/conda-auth.json"
ACTIVATE_SCRIPT = paths.APP_ROOT + "/etc/modelkiln-conda.sh"
PLATFORMS = ["linux-64", "noarch"]


class CondaError(Exception):
    """The environment cannot be built; the message carries the reason (and the fix)."""


class EnvironmentSpec(object):
    def __init__(self, path: str, channels: List[str], specs: List[str], pip: List[str]) -> None:
        self.path = path
        self.channels = channels
        self.specs = specs
        self.pip = pip


def find_environment_file(app_dir: str, name: Optional[str]) -> Optional[str]:
    candidates = (name,) if name else ENV_FILES
    for candidate in candidates:
        path = os.path.join(app_dir, candidate)
        if os.path.isfile(path):
            return path
    if name:
        raise CondaError("ENVIRONMENT_FILE=%s, but there is no such file in the app" % name)
    return None


def read_environment(path: str) -> EnvironmentSpec:
    """Parse and check environment.yml; errors name the line or the field."""
    import yaml

    label = os.path.basename(path)
    with open(path) as handle:
        text = handle.read()
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = "line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else "?"
        raise CondaError("%s is not valid YAML (%s): %s" % (label, where, exc.problem)) from exc
    except yaml.YAMLError as exc:
        raise CondaError("%s is not valid YAML: %s" % (label, exc)) from exc
    if not isinstance(data, dict):
        raise CondaError("%s must be a mapping with channels and dependencies" % label)
    channels = data.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise CondaError("%s: channels must be a list of channel names or URLs" % label)
    specs, pip = [], []  # type: Tuple[List[str], List[str]]
    for item in data.get("dependencies") or []:
        if isinstance(item, str):
            specs.append(item)
        elif isinstance(item, dict) and set(item) == {"pip"} and isinstance(item["pip"], list):
            pip.extend(str(p) for p in item["pip"])
        else:
            raise CondaError("%s: each dependency must be a match spec string or a "
                             "{pip: [...]} list, got %r" % (label, item))
    if not specs:
        raise CondaError("%s lists no conda dependencies" % label)
    if not channels:
        raise CondaError("%s lists no channels (add e.g. conda-forge, or a file:// channel)"
                         % label)
    return EnvironmentSpec(path, channels, specs, pip)


def _key(record: Any) -> Tuple[str, str, str]:
    return record.name.normalized, str(record.version), str(record.build)


def _installed_records(prefix: str) -> List[Any]:
    import rattler

    meta = os.path.join(prefix, "conda-meta")
    if not os.path.isdir(meta):
        return []
    return [rattler.PrefixRecord.from_path(os.path.join(meta, name))
            for name in sorted(os.listdir(meta)) if name.endswith(".json")]


def _client(mirrors: Dict[str, List[str]]) -> Any:
    from rattler.networking import AuthenticationMiddleware, Client, MirrorMiddleware

    middlewares = [AuthenticationMiddleware()]  # type: List[Any]
    if mirrors:
        middlewares.insert(0, MirrorMiddleware(mirrors))
    return Client(middlewares)


def build_environment(spec: EnvironmentSpec, prefix: str, channel_alias: Optional[str],
                      mirrors: Dict[str, List[str]], ca_bundle: Optional[str] = None
                      ) -> Tuple[int, int, Optional[str]]:
    """Solve and install; returns (installed now, already present, version of the python
    package the solution holds or None). Whether python is there is decided from the solved
    packages, so a python pulled in by another package counts too. A python the runtime
    cannot run on stops the build before anything is installed."""
    try:
        import rattler
    except ImportError as exc:
        raise CondaError(
            "%s found, but this builder image has no conda installer: build with "
            "modelkiln/python311, or remove the file" % os.path.basename(spec.path)) from exc
    if paths.injected(AUTH_FILE):
        os.environ["RATTLER_AUTH_FILE"] = AUTH_FILE  # credentials only from the injected file
    if ca_bundle is not None:  # (assemble.ca_bundle: MODELKILN_CA_BUNDLE or the injected one)
        os.environ["SSL_CERT_FILE"] = ca_bundle
    config = rattler.ChannelConfig(channel_alias=channel_alias) if channel_alias else None
    channels = [rattler.Channel(c, config) if config else rattler.Channel(c)
                for c in spec.channels]
    installed = _installed_records(prefix)
    client = _client(mirrors)
    gateway = rattler.Gateway(cache_dir=CACHE_DIR, client=client)

    async def solve_and_install() -> Tuple[int, int, Optional[str]]:
        try:
            records = await rattler.solve(channels, spec.specs, gateway=gateway,
                                          platforms=PLATFORMS, locked_packages=installed,
                                          virtual_packages=rattler.VirtualPackage.detect(),
                                          add_pip_as_python_dependency=True)
        except Exception as exc:
            raise CondaError("%s: %s%s" % (type(exc).__name__, exc,
                                           await _pip_hint(gateway, channels, exc))) from exc
        python = next((str(r.version) for r in records if r.name.normalized == "python"),
                      None)
        if python is not None:
            try:
                pins.pin_file(pins.parse_version(python))
            except pins.UnsupportedPython as exc:
                raise CondaError("%s resolves to python %s. %s"
                                 % (os.path.basename(spec.path), python, exc)) from exc
        have = {_key(r) for r in installed}
        new = [r for r in records if _key(r) not in have]
        print("---> conda: %d package(s) to install, %d already present"
              % (len(new), len(records) - len(new)), flush=True)
        for record in records:
            print("     %s %s %s" % (record.name.normalized, record.version, record.build),
                  flush=True)
        await rattler.install(records, prefix, cache_dir=CACHE_DIR, installed_packages=installed,
                              show_progress=False, client=client)
        return len(new), len(records) - len(new), python

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(solve_and_install())
    except Exception as exc:
        if isinstance(exc, CondaError):
            raise
        raise CondaError("%s: %s" % (type(exc).__name__, exc)) from exc
    finally:
        loop.close()
        shutil.rmtree(CACHE_DIR, ignore_errors=True)


async def _pip_hint(gateway: Any, channels: List[Any], error: Exception) -> str:
    """When a python could not be solved because no channel has pip, say so: conda's python
    depends on pip, and modelkiln installs the runtime into the environment with it."""
    if "pip" not in str(error):
        return ""
    try:
        found = await gateway.query(channels, PLATFORMS, ["pip"], recursive=False)
    except Exception:  # the hint is a courtesy: never hide the solver's own message
        return ""
    if any(found):  # one list of records per channel
        return ""
    return ("\nNone of the channels (%s) has a pip package, and conda's python needs one: "
            "add a channel that carries pip (conda-forge does), or add pip to your channel"
            % ", ".join(str(c.base_url) for c in channels))


def write_activation(prefix: str, name: str, python: str) -> None:
    """The script ``run`` sources: the environment's bin, libraries and identity."""
    os.makedirs(os.path.dirname(ACTIVATE_SCRIPT), exist_ok=True)
    with open(ACTIVATE_SCRIPT, "w") as handle:
        handle.write(
            "# written by modelkiln assemble: the conda environment serving this app\n"
            "export CONDA_PREFIX=%s\n"
            "export CONDA_DEFAULT_ENV=%s\n"
            "export PATH=%s/bin:$PATH\n"
            "export LD_LIBRARY_PATH=%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n"
            "MODELKILN_PYTHON=%s\n" % (prefix, name, prefix, prefix, python))


def env_prefix(name: str) -> str:
    return os.path.join(CONDA_ENVS, name)


def mirrors_from(text: Optional[str]) -> Dict[str, List[str]]:
    """CONDA_CHANNEL_MIRRORS: JSON {"https://channels.example.com/conda-forge": ["https://..."]}."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CondaError("CONDA_CHANNEL_MIRRORS must be JSON {channel URL: [mirror URLs]}"
                         ) from exc
    if not isinstance(value, dict):
        raise CondaError("CONDA_CHANNEL_MIRRORS must be a JSON object")
    return {str(k): [str(u) for u in (v if isinstance(v, list) else [v])]
            for k, v in value.items()}
