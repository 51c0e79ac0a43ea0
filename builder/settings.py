"""Build-time settings read by ``assemble`` inside the builder image.

The one reader of ``os.environ`` for ``builder``'s in-image code. Every setting is declared
once (name, environment variable, default, help); the documentation site's build-variables
reference is written from these declarations (docs/hooks/reference.py).
"""

import os
from typing import Any, Callable, Dict, Optional, Tuple

from python_runtime.settings import SERVICE_TYPES, parse_bool
from python_runtime.settings import SETTINGS as RUNTIME_SETTINGS

APP_ROOT = "/opt/app-root"
APP_DIR = "/opt/app-root/src"
SOURCE_DIR = "/tmp/src"
ARTIFACTS_DIR = "/tmp/artifacts"
WHEEL_DIR = "/whl"
SECRETS_DIR = "/run/modelkiln"
CA_BUNDLE = SECRETS_DIR + "/ca-bundle.crt"
PIP_CONF = SECRETS_DIR + "/pip.conf"
RUNTIME_SRC = "/opt/modelkiln/src"


def injected(path: str) -> bool:
    """Whether an injected file is really there. An empty file is not: s2i truncates injected
    files after assemble, and a file bind mount leaves a 0-byte stub in the committed image,
    so a later build on top of such an image must not take the stub for a CA bundle."""
    try:
        return os.path.isfile(path) and os.path.getsize(path) > 0
    except OSError:
        return False


class BuildSettingsError(ValueError):
    """A build setting is missing or wrong; the message says how to fix it."""


class BuildSetting(object):
    def __init__(self, name: str, env: str, default: Any, parse: Callable[[str], Any],
                 help: str) -> None:
        self.name = name
        self.env = env
        self.default = default
        self.parse = parse
        self.help = help


_UNSET = object()


def _choice(choices: Tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError("must be one of %s" % ", ".join(choices))
        return value
    return parse


def shared(name: str, default: Any = _UNSET, help: Optional[str] = None) -> BuildSetting:
    """A setting both the build and the server read, declared once in python_runtime.settings
    (its variable and parser); the build may give it another default or help text."""
    runtime = next(s for s in RUNTIME_SETTINGS if s.name == name)
    return BuildSetting(runtime.name, runtime.env or "", runtime.default if default is _UNSET
                        else default, runtime.parse, help or runtime.help)


BUILD_SETTINGS = (
    shared("model_name", help="The class to serve, `Module` or `pkg.mod.Class`; without it "
           "the folder must be a model folder of another system (MODELKILN_MODEL_FORMAT)."),
    shared("model_format", help="What the app folder holds (`seldon`, `catwalk`, `modzy`, `gppi`, "
           "`mlflow`, `triton`, or "
           "`auto`: `seldon` when MODEL_NAME is set, otherwise found from the folder's files); "
           "the build checks that it imports."),
    shared("service_type", help="What the class implements (%s); checked at build time."
           % ", ".join(SERVICE_TYPES)),
    BuildSetting("requirements_file", "REQUIREMENTS_FILE", "requirements.txt", str,
                 "Name of the pip requirements file in the app folder."),
    BuildSetting("disable_requirements", "DISABLE_REQUIREMENTS_PROCESSING", False, parse_bool,
                 "Skip the requirements file."),
    BuildSetting("disable_setup_py", "DISABLE_SETUP_PY_PROCESSING", False, parse_bool,
                 "Skip `pip install .` for setup.py / setup.cfg (it decides whenever one of "
                 "them is there, pyproject.toml or not)."),
    BuildSetting("disable_pyproject", "DISABLE_PYPROJECT_TOML_PROCESSING", False, parse_bool,
                 "Skip `pip install .` for a pyproject.toml without setup.py / setup.cfg."),
    BuildSetting("environment_file", "ENVIRONMENT_FILE", None, str,
                 "Conda environment file; default: the first of environment.yml, "
                 "environment.yaml, conda.yml."),
    BuildSetting("disable_conda", "DISABLE_CONDA_PROCESSING", False, parse_bool,
                 "Skip the conda environment file."),
    BuildSetting("conda_env_name", "CONDA_ENV_NAME", "microservice", str,
                 "Name of the conda environment (/opt/app-root/conda-envs/NAME)."),
    BuildSetting("conda_channel_alias", "CONDA_CHANNEL_ALIAS", None, str,
                 "Base URL that named channels (conda-forge, ...) resolve against."),
    BuildSetting("conda_channel_mirrors", "CONDA_CHANNEL_MIRRORS", None, str,
                 "JSON {channel URL: [mirror URLs]}: fetch those channels from the mirrors."),
    BuildSetting("mlflow_env", "MODELKILN_MLFLOW_ENV", "pip", _choice(("pip", "conda")),
                 "What an MLflow model folder is installed from: `pip` (its requirements.txt, "
                 "with `mlflow` as `mlflow-skinny`), or `conda` (the environment of its "
                 "conda.yaml, with its own Python, instead). Its python_env.yaml says the "
                 "same as requirements.txt, and is checked against the image's Python."),
    BuildSetting("disable_import_check", "DISABLE_IMPORT_CHECK", False, parse_bool,
                 "Skip importing MODEL_NAME at build time (for imports that need hardware)."),
    BuildSetting("ca_bundle", "MODELKILN_CA_BUNDLE", None, str,
                 "CA certificates pip and conda trust during the build: a file, relative to "
                 "the app source or absolute (an OpenShift BuildConfig hands the cluster's "
                 "trusted CAs in as a ConfigMap folder of the source); its top folder in the "
                 "source is not copied into the image. Default: the injected "
                 "`/run/modelkiln/ca-bundle.crt`."),
    BuildSetting("weights", "MODELKILN_WEIGHTS", None, str,
                 "Large files of the source (glob patterns relative to it, space separated; "
                 "`**` crosses folders), which `modelkiln build` puts in a layer of their own "
                 "before the code, reused while they do not change, so that a code-only "
                 "rebuild re-pushes only the small layer. Default: none (one layer). The real "
                 "s2i builds them into its one layer."),
    BuildSetting("pip_index_url", "PIP_INDEX_URL", None, str, "Main package index."),
    BuildSetting("extra_index_url", "EXTRA_INDEX_URL", None, str,
                 "Extra package index(es), space separated."),
    BuildSetting("pip_trusted_host", "PIP_TRUSTED_HOST", None, str,
                 "Host(s) pip may reach without TLS verification, space separated."),
    BuildSetting("pip_find_links", "PIP_FIND_LINKS", None, str,
                 "Extra folder(s) or URL(s) of wheels; /whl is always searched first."),
    shared("persistence", default=None,  # None: not given (a given one gets a warning)
           help="Accepted for old apps; ignored with a warning."),
    BuildSetting("api_type", "API_TYPE", None, str, "Accepted for old apps; unused."),
)


class BuildSettings(object):
    def __init__(self, values: Dict[str, Any]) -> None:
        self.__dict__.update(values)

    @classmethod
    def load(cls, environ: Optional[Dict[str, str]] = None) -> "BuildSettings":
        environ = dict(os.environ if environ is None else environ)
        values = {}
        for setting in BUILD_SETTINGS:
            raw = environ.get(setting.env)
            if raw is None or raw.strip() == "":
                values[setting.name] = setting.default
                continue
            try:
                values[setting.name] = setting.parse(raw)
            except ValueError as exc:
                raise BuildSettingsError("%s=%r is invalid: %s" % (setting.env, raw, exc)
                                         ) from exc
        if values["model_name"] and values["model_format"] == "auto":
            values["model_format"] = "seldon"
        if not values["model_name"] and values["model_format"] == "seldon":
            raise BuildSettingsError(NO_MODEL_NAME)
        return cls(values)

    def decide_format(self, app_dir: str) -> None:
        """MODEL_NAME, or the folder's files, say what the app is (``model_format``)."""
        if self.model_format != "auto":
            return
        from python_runtime.model.formats import FOREIGN, recognised

        found = recognised(app_dir)
        if len(found) == 1:
            self.model_format = found[0].NAME
            return
        kinds = "; ".join("%s: %s" % (m.NAME, m.MARKERS) for m in (found or FOREIGN))
        if found:
            raise BuildSettingsError(
                "the app holds the files of more than one kind of model (%s): set "
                "MODELKILN_MODEL_FORMAT to one of %s in .s2i/environment (or MODEL_NAME for a "
                "Seldon class)" % (kinds, ", ".join(m.NAME for m in found)))
        raise BuildSettingsError("%s; or the app must be a model folder of another system "
                                 "(%s)" % (NO_MODEL_NAME, kinds))


NO_MODEL_NAME = ("MODEL_NAME is not set: add MODEL_NAME=<Module or pkg.mod.Class> to the app's "
                 ".s2i/environment (or pass -e MODEL_NAME=...)")
