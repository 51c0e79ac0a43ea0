"""catwalk model folders: ``model.yml`` (name, version, contact, the input and output
``schema``, optional ``io_type``) and ``model.py`` with ``class Model`` (``__init__(path)``,
``predict(X)``, ``load_test_data(path)``), served unchanged.

The folder becomes a ``CatwalkModel``: catwalk's own API (``protocols.catwalk``: ``POST
/predict``, ``/status``, ``/info``) calls ``run``; Seldon's and V2's calls reach the same
``predict`` through ``predict`` here, with a JSON object (Seldon ``jsonData``) or, for
``PANDAS_DATA_FRAME`` models, a table. catwalk's settings: ``SERVER_PORT`` is the REST port
(9090 by default, as in catwalk), ``MODEL_PATH`` the model folder (from the app folder),
``SERVER_CONFIG`` its ``application.yml`` (``server.ssl.enabled/cert/key`` turn on modelkiln's
TLS).
"""

import copy
import importlib.util
import os
import re
import sys
import uuid
from typing import Any, Dict, List, Optional, Tuple

from ...errors import BadDataError, LoadError
from ...settings import Settings, SettingsError, check_tls, read_yaml_mapping

NAME = "catwalk"
MARKERS = "model.yml and model.py"
DEFAULT_PORT = 9090  # catwalk's
PYTHON_DICT, PANDAS_DATA_FRAME = "PYTHON_DICT", "PANDAS_DATA_FRAME"


def recognises(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, name)) for name in ("model.yml", "model.py"))


def prepare(settings: Settings) -> Settings:
    """The model folder, the REST port and TLS as catwalk's variables say."""
    env = settings.environment
    changes = {}  # type: Dict[str, Any]
    folder = settings.app_dir
    if env.get("MODEL_PATH"):
        folder = os.path.abspath(os.path.join(settings.app_dir, env["MODEL_PATH"]))
        if not recognises(folder):
            raise SettingsError("MODEL_PATH=%s: %s holds no catwalk model (model.yml and "
                                "model.py)" % (env["MODEL_PATH"], folder))
        changes["app_dir"] = folder
    if env.get("SERVER_PORT"):
        try:
            port = int(env["SERVER_PORT"])
            if not 0 < port < 65536:
                raise ValueError(port)
        except ValueError:
            raise SettingsError("SERVER_PORT=%r is not a TCP port" % env["SERVER_PORT"]) from None
        if "http_port" not in settings.defaulted and settings.http_port != port:
            raise SettingsError(
                "SERVER_PORT=%d and PREDICTIVE_UNIT_HTTP_SERVICE_PORT=%d both name the REST "
                "port (every REST API of the image is on it): set one of them"
                % (port, settings.http_port))
        changes["http_port"] = port
    elif "http_port" in settings.defaulted:
        changes["http_port"] = DEFAULT_PORT
    config = env.get("SERVER_CONFIG")
    if config:
        changes.update(_tls_from_config(settings, os.path.join(settings.app_dir, config)))
    info = read_info(folder)
    changes["model_name"] = str(info["name"])
    if "v2_model_name" in settings.defaulted:  # a name fit for a URL path, as catwalk tags
        changes["v2_model_name"] = re.sub(r"[^A-Za-z0-9\-_]", "",
                                          str(info["name"]).lower().strip().replace(" ", "-"))
    if "v2_model_version" in settings.defaulted and info.get("version") is not None:
        changes["v2_model_version"] = str(info["version"])
    return settings.replaced(**changes)


def _tls_from_config(settings: Settings, path: str) -> Dict[str, Any]:
    """modelkiln's TLS settings from catwalk's ``server.ssl`` in SERVER_CONFIG."""
    import yaml

    if not os.path.isfile(path):
        raise SettingsError("SERVER_CONFIG=%s: no such file" % path)
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError("SERVER_CONFIG=%s cannot be read: %s" % (path, exc)) from None
    ssl = ((config.get("server") or {}) if isinstance(config, dict) else {}).get("ssl") or {}
    if not isinstance(ssl, dict) or not ssl.get("enabled"):
        return {}
    if settings.tls_cert or settings.tls_key:
        raise SettingsError("SERVER_CONFIG=%s turns on TLS and MODELKILN_TLS_CERT / "
                            "MODELKILN_TLS_KEY are set too: keep one of them" % path)
    values = {"tls_cert": str(ssl.get("cert") or "/certs/cert.pem"),  # catwalk's defaults
              "tls_key": str(ssl.get("key") or "/certs/key.pem"),
              "tls_client_ca": settings.tls_client_ca}
    check_tls(values, settings.app_dir)
    return values


def read_info(folder: str) -> Dict[str, Any]:
    """``model.yml``, checked for what serving needs (name, version, an input schema)."""
    path = os.path.join(folder, "model.yml")
    info = read_yaml_mapping(path, "catwalk's model.yml has name, version, contact and schema")
    missing = [key for key in ("name", "version", "schema") if not info.get(key)]
    schema = info.get("schema")
    if not missing and not (isinstance(schema, dict) and isinstance(schema.get("input"), dict)):
        missing = ["schema.input"]
    if missing:
        raise SettingsError("%s has no %s: catwalk's model.yml needs name, version and "
                            "schema.input (and schema.output)" % (path, ", ".join(missing)))
    return info


def io_type(info: Dict[str, Any]) -> str:
    value = info.get("io_type")
    return PANDAS_DATA_FRAME if value == PANDAS_DATA_FRAME else PYTHON_DICT


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """Import ``model.py`` (as the module ``model``, as catwalk does) and find ``Model``; the
    request schema is built here too, so a schema catwalk could not use stops the start."""
    folder = settings.app_dir
    info = read_info(folder)
    path = os.path.join(folder, "model.py")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("model", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore
    except Exception as exc:
        raise LoadError("%s raised while importing: %s: %s" % (path, type(exc).__name__, exc)
                        ) from exc
    sys.modules["model"] = module
    model_class = getattr(module, "Model", None)
    if not isinstance(model_class, type):
        raise LoadError("%s has no class Model (catwalk serves model.py's Model)" % path)
    request_schema(info)
    return CatwalkModel, {"model_class": model_class, "folder": folder, "info": info}


# -- the schema, as catwalk checks requests ------------------------------------------------

def _property_schema(node: Any) -> Any:
    """One OpenAPI-style property of model.yml as a ``schema`` library schema."""
    from schema import Or, Schema

    kind = node.get("type") if isinstance(node, dict) else None
    if kind == "string":
        found = str  # type: Any
    elif kind == "boolean":
        found = bool
    elif kind == "integer":
        found = int
    elif kind == "number":
        found = Or(float, int)
    elif kind == "array":
        found = [_property_schema(node.get("items"))]
    elif kind == "object":
        found = {key: _property_schema(value)
                 for key, value in (node.get("properties") or {}).items()}
    else:
        raise LoadError("model.yml: a schema property has type %r; catwalk knows string, "
                        "boolean, integer, number, array and object" % (kind,))
    if node.get("nullable"):
        found = Or(None, found)
    return Schema(found)


def request_schema(info: Dict[str, Any]) -> Any:
    """The whole request body's schema: optional correlation_id, model and extra_data, and
    the input (for a DataFrame model whose input is an object: one record or a list)."""
    from schema import And, Optional as Maybe, Or, Schema

    schema_input = info["schema"]["input"]
    check = _property_schema(schema_input)
    if io_type(info) == PANDAS_DATA_FRAME and schema_input.get("type") == "object":
        check = Or([check], check)
    return Schema({
        Maybe("extra_data"): dict,
        "input": check,
        Maybe("correlation_id"): And(str, len),
        Maybe("model"): {"name": And(str, len), "version": And(str, len)},
    })


class CatwalkModel(object):
    """A catwalk model as a component: ``run`` answers catwalk's /predict, ``predict``
    Seldon's and V2's calls."""

    def __init__(self, model_class: Any, folder: str, info: Dict[str, Any]) -> None:
        self.info = info
        self.folder = folder
        self.io_type = io_type(info)
        self.schema = request_schema(info)
        self.pandas = None  # type: Any
        if self.io_type == PANDAS_DATA_FRAME:
            try:
                import pandas
            except ImportError:
                raise LoadError("%s is a PANDAS_DATA_FRAME model and pandas is not installed: "
                                "add pandas to the folder's requirements.txt" % folder) from None
            self.pandas = pandas
        self.model = model_class(folder)

    @property
    def identity(self) -> Dict[str, str]:
        return {"name": self.info["name"], "version": self.info["version"]}

    def check(self, data: Any) -> Optional[str]:
        """catwalk's verdict on a request body: None, or the schema's message."""
        from schema import SchemaError

        try:
            self.schema.validate(data)
        except SchemaError as exc:
            return exc.code
        return None

    def complete(self, data: Dict[str, Any]) -> bool:
        """A correlation id and the model added when absent; whether the model named is this
        one (name and version)."""
        if "correlation_id" not in data:
            data["correlation_id"] = str(uuid.uuid4())
        if "model" not in data:
            data["model"] = dict(self.identity)
        named = data["model"]
        return named["name"] == self.info["name"] and named["version"] == self.info["version"]

    def run(self, data: Dict[str, Any]) -> Any:
        """The model's output for a checked request's ``input``, as catwalk computes it."""
        value = data["input"]
        if self.io_type != PANDAS_DATA_FRAME:
            return self.model.predict(value)
        single = isinstance(value, dict) or value is None
        frame = self.pandas.DataFrame.from_dict([value] if single else value)
        records = self.model.predict(frame).to_dict(orient="records")
        return records[-1] if single else records

    # -- Seldon and V2 ------------------------------------------------------------------

    def predict(self, X: Any, features_names: Optional[List[str]] = None) -> Any:
        """Seldon ``jsonData`` (catwalk's ``input``, checked against model.yml's schema) or, for
        a DataFrame model, a table (ndarray with names: one record per row)."""
        if isinstance(X, (dict, list)) and not (X and isinstance(X, list)
                                                 and isinstance(X[0], list)):
            value = copy.deepcopy(X)
        elif self.io_type == PANDAS_DATA_FRAME and features_names:
            rows = X.tolist() if hasattr(X, "tolist") else list(X)
            value = [dict(zip(features_names, row)) for row in rows]
        else:
            raise BadDataError(
                "this is a catwalk model: it takes the object model.yml's schema.input "
                "describes, as Seldon jsonData%s or on catwalk's POST /predict"
                % (" (or, as it takes a DataFrame, an ndarray with names)"
                   if self.io_type == PANDAS_DATA_FRAME else ""))
        problem = self.check({"input": value})
        if problem is not None:
            raise BadDataError("the input does not fit model.yml's schema: %s" % problem)
        return self.run({"input": value})

    def load_test_data(self) -> Any:
        return self.model.load_test_data(self.folder)


# -- catwalk's model test (``modelkiln test`` on a catwalk folder) ----------------------------

def _meta_schema() -> Any:
    """What catwalk requires of model.yml (its metadata check), as a ``schema`` schema."""
    from schema import And, Optional as Maybe, Or, Schema

    prop = Or({"type": Or("string", "boolean"), Maybe("nullable"): bool},
              {"type": "integer", Maybe("format"): Or("int32", "int64"), Maybe("nullable"): bool},
              {"type": "number", Maybe("format"): Or("float32", "float64"),
               Maybe("nullable"): bool},
              {"type": "array", "items": dict, Maybe("nullable"): bool},
              {"type": "object", "properties": dict, Maybe("nullable"): bool})
    obj = {"type": "object", "properties": {str: prop}}
    io = Or(obj, {"type": "array", "items": obj})
    return Schema({"name": And(str, len), "version": And(str, len),
                   "contact": {"name": And(str, len), "email": And(str, len)},
                   Maybe("io_type"): Or(PYTHON_DICT, PANDAS_DATA_FRAME),
                   "schema": {"input": io, "output": io}})


def model_test(folder: str) -> List[Tuple[bool, str]]:
    """catwalk's ``test-model`` verdicts for ``folder``: (passed, what) per check, stopping at
    the first failure as catwalk does. The model's requirements are not installed (the folder
    is tested with this interpreter's packages)."""
    from schema import SchemaError

    results = []  # type: List[Tuple[bool, str]]

    def check(ok: bool, what: str) -> bool:
        results.append((bool(ok), what))
        return bool(ok)

    for name in ("model.py", "model.yml"):
        if not check(os.path.isfile(os.path.join(folder, name)), "%s exists" % name):
            return results
    import yaml

    with open(os.path.join(folder, "model.yml")) as handle:
        meta = yaml.safe_load(handle)
    try:
        _meta_schema().validate(meta)
        check(True, "model.yml fits catwalk's metadata schema")
    except SchemaError as exc:
        check(False, "model.yml fits catwalk's metadata schema: %s" % exc.code)
        return results
    kind = io_type(meta)
    requirements = os.path.join(folder, "requirements.txt")
    # (the messages are catwalk's, so that its users recognise them)
    if kind == PANDAS_DATA_FRAME and not check(
            os.path.isfile(requirements), "A requirements.txt file is necessary for this io_type"):
        return results
    if os.path.isfile(requirements):
        with open(requirements) as handle:
            text = handle.read()
        if not check(text != "", "The requirements.txt file should not be empty"):
            return results
        if kind == PANDAS_DATA_FRAME and not check(
                "pandas" in text, "io_type: PANDAS_DATA_FRAME requires pandas to be present in "
                "your requirements.txt file."):
            return results
    try:
        settings = Settings({"model_name": str(meta["name"])}, folder)
        factory, kwargs = user_class(settings)
        model = factory(**kwargs)
    except Exception as exc:
        check(False, "%s: %s: %s" % ("Model class not found" if "has no class Model" in str(exc)
                                     else "Model imports and constructs",
                                     type(exc).__name__, exc))
        return results
    check(True, "Model imports and constructs")
    try:
        features, targets = model.load_test_data()
    except Exception as exc:
        check(False, "load_test_data(path): %s: %s" % (type(exc).__name__, exc))
        return results
    expected = model.pandas.DataFrame if kind == PANDAS_DATA_FRAME else list
    if not check(isinstance(features, expected) and isinstance(targets, expected)
                 and len(features) == len(targets),
                 "load_test_data gives two %ss of the same length"
                 % ("DataFrame" if kind == PANDAS_DATA_FRAME else "list")):
        return results
    schemas = meta["schema"]
    in_node, out_node = schemas["input"], schemas["output"]
    if kind == PANDAS_DATA_FRAME:
        in_node = {"type": "array", "items": in_node} if in_node["type"] == "object" else in_node
        out_node = ({"type": "array", "items": out_node} if out_node["type"] == "object"
                    else out_node)
        pairs = [(features, targets)]
    elif schemas["input"]["type"] == "array":
        pairs = [(features, targets)]
    else:
        pairs = list(zip(features, targets))
    in_schema, out_schema = _property_schema(in_node), _property_schema(out_node)
    for number, (X, y) in enumerate(pairs):
        what = "test case %d" % (number + 1) if len(pairs) > 1 else "the test data"
        as_records = kind == PANDAS_DATA_FRAME
        X_doc = X.to_dict(orient="records") if as_records else X
        y_doc = y.to_dict(orient="records") if as_records else y
        try:
            in_schema.validate(X_doc)
            out_schema.validate(y_doc)
            got = model.model.predict(X)
            got_doc = got.to_dict(orient="records") if as_records else got
            out_schema.validate(got_doc)
        except SchemaError as exc:
            check(False, "%s fits the schemas: %s" % (what, exc.code))
            return results
        except Exception as exc:
            check(False, "%s: predict raised %s: %s" % (what, type(exc).__name__, exc))
            return results
        if not check(got_doc == y_doc, "%s: predict answers the targets%s"
                     % (what, "" if got_doc == y_doc else " (got %r, expected %r)"
                        % (got_doc, y_doc))):
            return results
    return results
