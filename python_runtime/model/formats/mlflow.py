"""MLflow model folders (``MLmodel`` with a ``python_function`` flavor, as ``mlflow.*.save_model``
and ``log_model`` write them), served unchanged with MLflow's own loader.

Nothing of MLflow's flavors is re-implemented here: ``mlflow.pyfunc.load_model`` (from the
``mlflow-skinny`` package, which the build installs in place of ``mlflow``) loads the folder,
and its ``predict`` enforces the signature as MLflow does. The folder becomes an
``MlflowModel``:

- MLflow's scoring protocol (``protocols.mlflow``: ``POST /invocations``) goes through
  ``invocations`` here, which is ``mlflow.pyfunc.scoring_server.invocations``: MLflow's own
  parsing of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (+
  ``params``) and CSV, its predict call and its JSON answer, so the answers are MLflow's;
- Seldon's calls reach ``predict``: an ndarray with ``names`` is a DataFrame with those
  columns (without names, the signature's columns when the width fits), ``jsonData`` is a
  scoring request body (``{"dataframe_split": ...}``, ``{"inputs": ..., "params": ...}``);
- V2 calls reach ``predict_v2_raw``: one V2 input per column (a DataFrame, as MLServer's
  MLflow runtime decodes them), or the tensors a tensor signature names; the request's
  parameters are MLflow's ``params``; the answer's columns (or arrays) are the outputs;
- the signature is the V2 metadata (``init_metadata``): one input per column with its
  datatype and shape ``[-1]``, or each tensor with its dtype and shape.

May import what ``model`` may import; ``mlflow`` is imported when a folder is loaded, never at
import time (the py36 image has none).
"""

import inspect
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

from ...codecs import jsonio
from ...errors import BadDataError, LoadError
from ...settings import Settings, SettingsError

NAME = "mlflow"
MARKERS = "MLmodel with a python_function flavor"
MLMODEL = "MLmodel"
FLAVOR = "python_function"
DEFAULT_NAME = "mlflow-model"
JSON = "application/json"
INSTALL_HINT = ("the folder's requirements.txt installs it in an image (mlflow becomes "
                "mlflow-skinny); elsewhere: pip install mlflow-skinny pandas")

# MLflow's column types and numpy dtypes as V2 datatypes (strings, binaries and datetimes
# travel as BYTES, as MLServer's MLflow runtime declares them)
V2_OF_COLUMN = {"boolean": "BOOL", "integer": "INT32", "long": "INT64", "float": "FP32",
                "double": "FP64", "string": "BYTES", "binary": "BYTES", "datetime": "BYTES"}
V2_OF_DTYPE = {"bool": "BOOL", "int8": "INT8", "int16": "INT16", "int32": "INT32",
               "int64": "INT64", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32",
               "uint64": "UINT64", "float16": "FP16", "float32": "FP32", "float64": "FP64"}
BOOLEANS = {"True": True, "true": True, "False": False, "false": False}
# V2 request parameters that are the protocol's, not the model's params
V2_OWN_PARAMETERS = frozenset(("content_type", "headers", "binary_data_output",
                               "binary_data_size", "binary_data"))

log = logging.getLogger("modelkiln")


def recognises(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, MLMODEL))


def read_info(folder: str) -> Dict[str, Any]:
    """``MLmodel``, checked for the flavor modelkiln serves (``python_function``)."""
    import yaml

    path = os.path.join(folder, MLMODEL)
    try:
        with open(path) as handle:
            info = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError("%s cannot be read: %s" % (path, exc)) from None
    flavors = info.get("flavors") if isinstance(info, dict) else None
    if not isinstance(flavors, dict):
        raise SettingsError("%s has no flavors: an MLflow MLmodel file names the flavors the "
                            "model was saved with (mlflow.<flavor>.save_model writes it)" % path)
    if not isinstance(flavors.get(FLAVOR), dict):
        raise SettingsError(
            "%s has no %s flavor (it has %s): modelkiln serves MLflow models through MLflow's "
            "pyfunc loader, which needs it; save the model with a flavor that adds it "
            "(mlflow.sklearn, mlflow.pyfunc, ...)" % (path, FLAVOR, ", ".join(sorted(flavors))
                                                      or "none"))
    return info


def model_name(info: Dict[str, Any]) -> str:
    """A name fit for a URL path: MLmodel's ``name`` or ``artifact_path`` (``log_model``
    writes them), else ``mlflow-model``."""
    import re

    for key in ("name", "artifact_path"):
        value = re.sub(r"[^A-Za-z0-9\-_]", "", str(info.get(key) or "").strip().replace(" ", "-"))
        if value:
            return value
    return DEFAULT_NAME


def prepare(settings: Settings) -> Settings:
    """The model's name (for V2 paths and metadata) from MLmodel."""
    info = read_info(settings.app_dir)
    changes = {"model_name": model_name(info)}  # type: Dict[str, Any]
    if "v2_model_name" in settings.defaulted:
        changes["v2_model_name"] = changes["model_name"]
    return settings.replaced(**changes)


def scoring_server() -> Any:
    """MLflow's scoring module (its request parsing, predict call and answers); LoadError
    when mlflow is missing or older than the 2.x scoring protocol modelkiln serves."""
    try:
        from mlflow.pyfunc import scoring_server as found
    except ImportError as exc:
        raise LoadError("this is an MLflow model and mlflow cannot be imported (%s): %s"
                        % (exc, INSTALL_HINT)) from exc
    if not callable(getattr(found, "invocations", None)):
        from mlflow.version import VERSION

        raise LoadError("mlflow %s is too old to serve this model: modelkiln serves MLflow "
                        "2's scoring protocol through mlflow.pyfunc.scoring_server.invocations; "
                        "require mlflow>=2.0 in requirements.txt" % VERSION)
    return found


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """MLflow importable, MLmodel readable by MLflow (its signature too) and the flavor's
    loader module importable; the model itself is loaded in each worker (MlflowModel)."""
    import importlib

    folder = settings.app_dir
    info = read_info(folder)
    scoring_server()
    from mlflow.models import Model

    try:
        Model.load(os.path.join(folder, MLMODEL))
    except Exception as exc:
        raise LoadError("%s cannot be read by mlflow: %s: %s"
                        % (os.path.join(folder, MLMODEL), type(exc).__name__, exc)) from exc
    loader = info["flavors"][FLAVOR].get("loader_module")
    if loader:
        try:
            importlib.import_module(str(loader))
        except Exception as exc:
            raise LoadError("the model's loader module %s (MLmodel's python_function flavor) "
                            "raised while importing: %s: %s" % (loader, type(exc).__name__, exc)
                            ) from exc
    return MlflowModel, {"folder": folder, "info": info}


class MlflowModel(object):
    """An MLflow model as a component: ``invocations`` answers MLflow's /invocations,
    ``predict`` Seldon's calls, ``predict_v2_raw`` V2's."""

    enforces_signature = True  # pyfunc's predict checks inputs as MLflow does, not modelkiln

    def __init__(self, folder: str, info: Dict[str, Any]) -> None:
        self.folder = folder
        self.info = info
        self.scoring = scoring_server()
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc import load_model
        from mlflow.version import VERSION

        self.MlflowException = MlflowException
        self.version = VERSION
        # as `mlflow models serve` runs it (some flavors behave differently when serving)
        os.environ.setdefault("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "true")
        # MLflow's server loads through this, which passes SERVING_MODEL_CONFIG (JSON) on as
        # the model's model_config; older mlflow has only load_model
        load = getattr(self.scoring, "load_model_with_mlflow_config", load_model)
        try:
            self.model = load(folder)
        except Exception as exc:
            raise LoadError("mlflow could not load the model in %s: %s: %s"
                            % (folder, type(exc).__name__, exc)) from exc
        metadata = self.model.metadata
        self.input_schema = metadata.get_input_schema()
        self.output_schema = metadata.get_output_schema()
        self.params_schema = metadata.get_params_schema()
        self.takes_params = "params" in inspect.signature(self.model.predict).parameters
        self.columns = self._names(self.input_schema, tensors=False)
        self.tensors = (self.input_schema is not None and self.input_schema.is_tensor_spec())
        self.output_columns = self._names(self.output_schema, tensors=False)

    @staticmethod
    def _names(schema: Any, tensors: bool) -> Optional[List[str]]:
        if schema is None or schema.is_tensor_spec() != tensors or not schema.has_input_names():
            return None
        return list(schema.input_names())

    # -- MLflow's scoring protocol ------------------------------------------------------

    def invocations(self, body: bytes, content_type: str) -> Tuple[int, bytes, str]:
        """(status, body, media type) as ``mlflow models serve`` answers POST /invocations;
        MlflowExceptions become MLflow's JSON error bodies with their HTTP status."""
        data = body  # type: Any
        if content_type.split(";", 1)[0].strip().lower() == JSON:
            # MLflow parses a JSON body twice with the standard library; a body orjson reads
            # as an object is handed over parsed (MLflow takes a dict as it is). Anything
            # else (not JSON, NaN, a list) goes as bytes, for MLflow's own answer.
            try:
                parsed = jsonio.loads(body)
            except BadDataError:
                parsed = None
            if isinstance(parsed, dict):
                data = parsed
        try:
            answer = self.scoring.invocations(data, content_type, self.model, self.input_schema)
        except self.MlflowException as exc:
            return (exc.get_http_status_code(), exc.serialize_as_json().encode("utf-8"), JSON)
        text = answer.response
        return (answer.status, text.encode("utf-8") if isinstance(text, str) else text,
                answer.mimetype)

    # -- Seldon and V2 ------------------------------------------------------------------

    def _predict(self, data: Any, params: Optional[Dict[str, Any]]) -> Any:
        """pyfunc's predict (which enforces the signature); MLflow's refusals are bad data."""
        try:
            if self.takes_params:
                return self.model.predict(data, params=params)
            return self.model.predict(data)
        except self.MlflowException as exc:
            raise BadDataError(exc.message) from exc

    def _frame(self, rows: Any, names: Optional[List[str]]) -> Any:
        import pandas

        return pandas.DataFrame(rows, columns=names)

    def predict(self, X: Any, features_names: Optional[List[str]] = None) -> Any:
        """Seldon: ``jsonData`` is a scoring request body; an ndarray (with ``names``) a table."""
        if isinstance(X, dict):
            params = X.get("params")
            try:
                data = self.scoring.infer_and_parse_data(
                    {k: v for k, v in X.items() if k != "params"}, self.input_schema)
            except self.MlflowException as exc:
                raise BadDataError(exc.message) from exc
            return self._seldon_answer(self._predict(data, params))
        if isinstance(X, (str, bytes)):
            raise BadDataError("this is an MLflow model: send a table (Seldon ndarray with "
                               "names), a scoring request as jsonData, or POST /invocations")
        import numpy as np

        array = np.asarray(X)
        if self.tensors:
            return self._seldon_answer(self._predict(array, None))
        names = list(features_names or [])
        if not names and self.columns and array.ndim == 2 and array.shape[1] == len(self.columns):
            names = self.columns
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2:
            raise BadDataError("this MLflow model takes a table: send a 2-D ndarray (rows of "
                               "%s), got shape %s" % (", ".join(self.columns or ["values"]),
                                                     list(array.shape)))
        if names and len(names) != array.shape[1]:
            raise BadDataError("%d names for %d columns" % (len(names), array.shape[1]))
        frame = self._frame(array.tolist(), names or None)
        if array.dtype.kind == "U" and self.columns:
            frame = self._typed(frame)
        return self._seldon_answer(self._predict(frame, None))

    def _typed(self, frame: Any) -> Any:
        """A Seldon ndarray mixing numbers and strings reaches here as strings (numpy): each
        column the signature says is numeric or boolean gets that type back (a value that
        does not convert is left for MLflow to refuse)."""
        import pandas

        kinds = {spec.name: getattr(spec.type, "name", "") for spec in self.input_schema.inputs}
        for column in frame.columns:
            kind = kinds.get(column)
            try:
                if kind in ("double", "float", "long", "integer"):
                    frame[column] = pandas.to_numeric(frame[column])
                elif kind == "boolean" and frame[column].isin(list(BOOLEANS)).all():
                    frame[column] = frame[column].map(BOOLEANS)
            except (ValueError, TypeError):
                pass
        return frame

    def class_names(self) -> Optional[List[str]]:
        """The output columns the signature names (Seldon's answer ``names``)."""
        return self.output_columns

    def _seldon_answer(self, predictions: Any) -> Any:
        import numpy as np

        if hasattr(predictions, "to_numpy"):  # a DataFrame or Series
            return predictions.to_numpy()
        if isinstance(predictions, (dict, str, bytes, np.ndarray)):
            return predictions
        return np.asarray(predictions)

    def predict_v2_raw(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """V2: one input per column (or the signature's tensors), the request's parameters as
        MLflow's params; one output per answer column, or the answer array."""
        inputs = request["inputs"]
        params = {k: v for k, v in (request.get("parameters") or {}).items()
                  if k not in V2_OWN_PARAMETERS} or None
        if self.tensors:
            named = self.input_schema.has_input_names()
            if not named and len(inputs) == 1:
                data = inputs[0]["data"]  # type: Any
            else:
                data = {item["name"]: item["data"] for item in inputs}
        else:
            data = self._v2_frame(inputs)
        return {"outputs": self._v2_outputs(self._predict(data, params))}

    def _v2_frame(self, inputs: List[Dict[str, Any]]) -> Any:
        import pandas

        columns = {}  # type: Dict[str, Any]
        length = None
        for item in inputs:
            array = item["data"]
            if array.ndim == 2 and array.shape[1] == 1 or array.ndim == 0:
                array = array.reshape(-1)
            if array.ndim != 1:
                raise BadDataError(
                    "input %r has shape %s: an MLflow model with a column signature (or "
                    "none) takes one V2 input per column, each of shape [N] or [N, 1]"
                    % (item["name"], list(item["shape"])))
            if length is not None and len(array) != length:
                raise BadDataError("every column input must have the same length: %r has %d "
                                   "rows, the one before %d" % (item["name"], len(array), length))
            length = len(array)
            if array.dtype.kind in "OS":
                array = [v.decode("utf-8") if isinstance(v, bytes) else v for v in array]
            columns[item["name"]] = array
        return pandas.DataFrame(columns)

    def _v2_outputs(self, predictions: Any) -> List[Dict[str, Any]]:
        import numpy as np

        if hasattr(predictions, "columns"):  # a DataFrame: one output per column
            return [{"name": str(name), "data": self._column(predictions[name].to_numpy())}
                    for name in predictions.columns]
        if isinstance(predictions, dict):
            return [{"name": str(name), "data": self._column(np.asarray(value))}
                    for name, value in predictions.items()]
        if hasattr(predictions, "to_numpy"):
            predictions = predictions.to_numpy()
        name = (self.output_schema.input_names()[0] if self.output_schema is not None
                and self.output_schema.has_input_names() else "output-0")
        return [{"name": str(name), "data": self._column(np.asarray(predictions))}]

    @staticmethod
    def _column(array: Any) -> Any:
        if array.dtype.kind == "O" and all(isinstance(v, str) for v in array.ravel()):
            return array
        if array.dtype.kind == "U":
            return array.astype(object)
        return array

    def init_metadata(self) -> Dict[str, Any]:
        """The signature as V2 metadata (inputs, outputs), MLflow's versions in ``custom``."""
        custom = {"mlflow_version": str(self.info.get("mlflow_version") or ""),
                  "served_by_mlflow": self.version}
        if self.info.get("model_uuid"):
            custom["model_uuid"] = str(self.info["model_uuid"])
        return {"platform": "mlflow", "inputs": v2_tensors(self.input_schema, "input"),
                "outputs": v2_tensors(self.output_schema, "output"), "custom": custom}


def v2_tensors(schema: Any, unnamed: str) -> List[Dict[str, Any]]:
    """An MLflow schema as V2 metadata tensors: a column is ``[-1]`` of its type, a tensor
    its shape and dtype; unnamed ones are ``<unnamed>-0``, ``<unnamed>-1``... (``[]`` without
    a schema)."""
    if schema is None:
        return []
    found = []
    for index, spec in enumerate(schema.inputs):
        name = getattr(spec, "name", None) or "%s-%d" % (unnamed, index)
        if schema.is_tensor_spec():
            datatype = V2_OF_DTYPE.get(str(spec.type), "BYTES")
            shape = [int(d) for d in spec.shape] if spec.shape is not None else [-1]
        else:
            kind = getattr(spec.type, "name", None) or str(spec.type)
            datatype = V2_OF_COLUMN.get(kind, "BYTES")
            shape = [-1]
        found.append({"name": str(name), "datatype": datatype, "shape": shape})
    return found


def serving_example_check(folder: str) -> List[Tuple[bool, str]]:
    """``modelkiln test`` on an MLflow folder: the serving input example MLflow saved with
    the model (``serving_input_example.json``), sent through the model's ``/invocations``
    (MLflow's loader and scoring functions) as the server would answer it."""
    info = read_info(folder)
    saved = info.get("saved_input_example_info") or {}
    name = saved.get("serving_input_path") if isinstance(saved, dict) else None
    if not name or not os.path.isfile(os.path.join(folder, str(name))):
        return [(True, "MLmodel names no serving input example: nothing to score")]
    what = "%s scores on /invocations" % name
    try:
        with open(os.path.join(folder, str(name)), "rb") as handle:
            status, body, _ = MlflowModel(folder, info).invocations(handle.read(), JSON)
    except Exception as exc:
        return [(False, "%s: %s: %s" % (what, type(exc).__name__, exc))]
    if status != 200:
        return [(False, "%s: %d %s" % (what, status, body.decode("utf-8", "replace")[:2000]))]
    return [(True, what)]
