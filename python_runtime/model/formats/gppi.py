"""ODAHU's trained-model artifacts (GPPI, "General Python Prediction Interface"): a folder with
``odahuflow.project.yaml`` (``model.name``, ``model.version``, ``model.workDir``,
``model.entrypoint``; ``binaries.type: python``, ``binaries.dependencies: conda``,
``binaries.conda_path``) and, in the work dir, the entrypoint module: ``init()`` (the
prediction mode, ``matrix``), ``predict_on_matrix(input_matrix, provided_columns_names)`` ->
``(rows, column_names)``, ``info()`` -> ``(input_schema, output_schema)`` and
``get_output_json_serializer()``. Served unchanged.

The entrypoint is imported as ODAHU's docker-rest image imports it: the work dir is a package
under the project folder (``odahuflow_model.entrypoint``), and the work dir is on ``sys.path``
too, as ODAHU's CLI has it; ``MODEL_LOCATION`` names the work dir (entrypoints made by ODAHU's
MLflow toolchain find their model with it). ``init()`` runs once per worker before it is ready
(``load``). The build creates the conda environment ``binaries.conda_path`` names.

The folder becomes a ``GppiModel``: ODAHU's docker-rest API (``protocols.odahu.GppiRest``:
``/api/model/info``, ``/api/model/invoke``, ``/healthcheck``) calls ``invoke`` and ``info``;
Seldon's and V2's calls reach ``predict_on_matrix`` through ``predict`` (a table: its column
names go to the entrypoint, the answer's column names come back as the output names). The REST
port defaults to ODAHU's 5000 and gRPC then to 9000 (the two swap; either setting wins).
"""

import importlib
import os
import re
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from ...errors import BadDataError, InternalError, LoadError
from ...settings import Settings, SettingsError, read_yaml_mapping

NAME = "gppi"
PROJECT = "odahuflow.project.yaml"
MARKERS = PROJECT
CONDA_SOURCE = PROJECT + ": binaries.conda_path"  # where conda_file() finds the file
DEFAULT_PORT = 5000      # ODAHU's docker-rest packager's
DEFAULT_GRPC_PORT = 9000  # modelkiln's REST default, free once REST is on 5000
MATRIX, OBJECTS = "matrix", "objects"


def recognises(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, PROJECT))


def read_project(folder: str) -> Dict[str, Any]:
    """``odahuflow.project.yaml``, checked for what serving needs; a SettingsError names what
    is missing."""
    path = os.path.join(folder, PROJECT)
    project = read_yaml_mapping(path, "a GPPI project has model: and binaries:")
    model = project.get("model")
    binaries = project.get("binaries")
    missing = ["model.%s" % key for key in ("name", "version", "workDir", "entrypoint")
               if not (isinstance(model, dict) and model.get(key) not in (None, ""))]
    if not isinstance(binaries, dict) or not binaries.get("type"):
        missing.append("binaries.type")
    if missing:
        raise SettingsError("%s has no %s: a GPPI project names model.name, model.version, "
                            "model.workDir, model.entrypoint and binaries.type"
                            % (path, ", ".join(missing)))
    if binaries["type"] != "python":
        raise SettingsError("%s: binaries.type is %r; modelkiln serves GPPI models of type "
                            "python" % (path, binaries["type"]))
    work_dir = os.path.normpath(os.path.join(folder, str(model["workDir"])))
    if not os.path.isdir(work_dir) or not (work_dir + os.sep).startswith(
            os.path.normpath(folder) + os.sep):
        raise SettingsError("%s: model.workDir %s is not a folder inside the project"
                            % (path, model["workDir"]))
    return project


def work_dir(settings: Settings) -> str:
    return os.path.normpath(os.path.join(settings.app_dir,
                                         str(read_project(settings.app_dir)["model"]["workDir"])))


def conda_file(folder: str) -> Optional[str]:
    """The environment file ``binaries.conda_path`` names (relative to the project), when
    the project's dependencies are conda's."""
    binaries = read_project(folder)["binaries"]
    if binaries.get("dependencies", "conda") != "conda" or not binaries.get("conda_path"):
        return None
    return str(binaries["conda_path"])


def identity(settings: Settings) -> Tuple[str, str]:
    """The name and version ODAHU's image reports (ODAHU_MODEL_NAME / ODAHU_MODEL_VERSION,
    which its packager sets from the project)."""
    model = read_project(settings.app_dir)["model"]
    env = settings.environment
    return (env.get("ODAHU_MODEL_NAME") or str(model["name"]),
            env.get("ODAHU_MODEL_VERSION") or str(model["version"]))


def prepare(settings: Settings) -> Settings:
    """The model's name and version from the project; ODAHU's port."""
    name, version = identity(settings)
    changes = {"model_name": name}  # type: Dict[str, Any]
    if "v2_model_name" in settings.defaulted:
        changes["v2_model_name"] = re.sub(r"[^A-Za-z0-9\-_]", "", name.lower().replace(" ", "-"))
    if "v2_model_version" in settings.defaulted:
        changes["v2_model_version"] = version
    if "http_port" in settings.defaulted:
        changes["http_port"] = DEFAULT_PORT
        if "grpc_port" in settings.defaulted:
            changes["grpc_port"] = DEFAULT_GRPC_PORT
        elif settings.grpc_port == DEFAULT_PORT:
            raise SettingsError("PREDICTIVE_UNIT_GRPC_SERVICE_PORT=%d is ODAHU's REST port, "
                                "which a GPPI model's REST API takes by default: set "
                                "PREDICTIVE_UNIT_HTTP_SERVICE_PORT too, or another gRPC port"
                                % DEFAULT_PORT)
    return settings.replaced(**changes)


def import_entrypoint(folder: str) -> Any:
    """The entrypoint module, imported as ODAHU's images import it."""
    model = read_project(folder)["model"]
    work = os.path.normpath(os.path.join(folder, str(model["workDir"])))
    os.environ.setdefault("MODEL_LOCATION", work)
    relative = os.path.relpath(work, folder)
    dotted = relative.replace(os.sep, ".")
    for path in (folder, work):
        if path not in sys.path:
            sys.path.insert(0, path)
    name = str(model["entrypoint"])
    if all(part.isidentifier() for part in dotted.split(".")):
        name = "%s.%s" % (dotted, name)  # odahuflow_model.entrypoint, as the handler has it
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if getattr(exc, "name", None) in (name, name.split(".")[0]):
            raise LoadError("%s: the entrypoint %s is not in %s (model.entrypoint names a "
                            "module of model.workDir)" % (PROJECT, model["entrypoint"], work)
                            ) from exc
        raise LoadError("importing the entrypoint %s raised ImportError: %s (are the model's "
                        "packages in %s?)" % (name, exc, conda_file(folder) or "its environment")
                        ) from exc
    except Exception as exc:
        raise LoadError("importing the entrypoint %s raised %s: %s"
                        % (name, type(exc).__name__, exc)) from exc


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """Import the entrypoint (so a broken one stops the start) and check its functions."""
    module = import_entrypoint(settings.app_dir)
    missing = [name for name in ("init", "predict_on_matrix", "info")
               if not callable(getattr(module, name, None))]
    if missing:
        raise LoadError("the GPPI entrypoint %s has no %s() (a GPPI entrypoint has init(), "
                        "predict_on_matrix(input_matrix, provided_columns_names) and info())"
                        % (module.__name__, ", ".join(missing)))
    return GppiModel, {"entrypoint": module, "identity": identity(settings)}


class GppiModel(object):
    """A GPPI entrypoint as a component: ``invoke`` and ``info_document`` answer ODAHU's API,
    ``predict`` Seldon's and V2's calls."""

    def __init__(self, entrypoint: Any, identity: Tuple[str, str]) -> None:
        self.entrypoint = entrypoint
        self.name, self.version = identity
        self.mode = None  # type: Optional[str]
        self._answer = threading.local()

    def load(self) -> None:
        """``init()``, once per worker before it is ready: the prediction mode."""
        self.mode = self.entrypoint.init()

    # -- ODAHU's API ---------------------------------------------------------------------

    def invoke(self, parsed: Any) -> Tuple[Any, Any]:
        """``(prediction, columns)`` for a parsed request body, as ODAHU's handler computes
        them; BadDataError for a request that holds no matrix, InternalError (500, the
        handler's message) for a mode it cannot serve or a model that raises."""
        if self.mode == OBJECTS:
            raise InternalError("Can not handle this types of requests")
        if self.mode != MATRIX:
            raise InternalError("Unknown model's return type: %s" % (self.mode,))
        if not isinstance(parsed, dict):
            raise BadDataError('Matrix is not provided: expected {"columns": [...], "data": '
                               '[[...], ...]}, got %s' % _json_kind(parsed))
        matrix = parsed.get("data")
        if not matrix:
            raise BadDataError("Matrix is not provided")
        try:  # (an answer that is not a pair fails here too, as in the handler)
            prediction, columns = self.entrypoint.predict_on_matrix(
                matrix, provided_columns_names=parsed.get("columns", None))
        except Exception as exc:
            raise InternalError("Exception during prediction: %s" % exc) from exc
        return prediction, columns

    def schemas(self) -> Tuple[Any, Any]:
        return self.entrypoint.info()

    def output_serializer(self) -> Any:
        serializer = getattr(self.entrypoint, "get_output_json_serializer", None)
        return serializer() if callable(serializer) else None

    # -- Seldon and V2 --------------------------------------------------------------------

    def predict(self, X: Any, features_names: Optional[List[str]] = None) -> Any:
        """A table's rows (and column names, when sent) to ``predict_on_matrix``; its answer's
        column names are the output's names (``class_names``)."""
        if self.mode != MATRIX:
            self.invoke({})  # the mode's own error
        rows = X.tolist() if hasattr(X, "tolist") else X
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise BadDataError("a GPPI model predicts on a matrix: send rows of values (a "
                               "2-D ndarray, with names for its columns)")
        prediction, columns = self.invoke({"data": rows,
                                           "columns": list(features_names or []) or None})
        self._answer.columns = list(columns) if columns is not None else None
        return prediction

    def class_names(self) -> Optional[List[str]]:
        return getattr(self._answer, "columns", None)


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


# -- ODAHU's self-check (``modelkiln test`` on a GPPI folder) -------------------------------

def self_check(folder: str) -> List[Tuple[bool, str]]:
    """ODAHU's ``self_check`` verdicts for ``folder``: the entrypoint imports, ``init()`` and
    ``info()`` run, and ``predict_on_matrix`` takes the sample input the toolchain saved
    (``head_input.pkl`` in the work dir) when there is one. Stops at the first failure."""
    import pickle

    results = []  # type: List[Tuple[bool, str]]
    try:
        settings = Settings({}, folder)
        model = read_project(folder)["model"]
        module = import_entrypoint(folder)
    except (SettingsError, LoadError) as exc:
        return [(False, "the GPPI entrypoint imports: %s" % exc)]
    results.append((True, "the GPPI entrypoint %s imports" % module.__name__))
    for name in ("init", "info"):
        try:
            getattr(module, name)()
        except Exception as exc:
            results.append((False, "%s(): %s: %s" % (name, type(exc).__name__, exc)))
            return results
        results.append((True, "%s() runs" % name))
    sample = os.path.join(work_dir(settings), "head_input.pkl")
    if not os.path.isfile(sample):
        results.append((True, "no %s in %s: predict_on_matrix is not tried (as ODAHU's "
                              "self-check warns)" % (os.path.basename(sample), model["workDir"])))
        return results
    try:
        with open(sample, "rb") as handle:
            module.predict_on_matrix(pickle.load(handle))
    except Exception as exc:
        results.append((False, "predict_on_matrix(head_input.pkl): %s: %s"
                        % (type(exc).__name__, exc)))
        return results
    results.append((True, "predict_on_matrix(head_input.pkl) runs"))
    return results
