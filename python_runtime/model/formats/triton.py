"""Triton Python-backend models, served without Triton: ``model.py`` with ``class
TritonPythonModel`` (``initialize(args)``, ``execute(requests)`` -> responses, ``finalize()``,
optional ``auto_complete_config``) and its ``config.pbtxt``. Recognised layouts:

- a Triton model folder: ``config.pbtxt`` and ``<version>/model.py`` (the highest version
  served, as Triton's default version policy does);
- a Triton model repository holding exactly one such folder;
- ODAHU's Triton packager input: ``model.py`` and ``config.pbtxt`` side by side, with
  ``odahuflow.model.yaml`` (``name``, ``version``; default ``model`` / ``1``), ``conda.yaml``
  (the build's conda environment) and data files beside them.

The model's name is config.pbtxt's ``name``, else odahuflow.model.yaml's, else the folder's;
its version the version folder's, else odahuflow.model.yaml's (default 1).
``triton_python_backend_utils`` is modelkiln's stand-in (``seldon_fallback``), found last on
the import path so a real one wins. The folder becomes a ``TritonModel``: ``initialize(args)``
once per worker before it is ready (``load``), ``execute`` with a list of
``InferenceRequest``s (``execute_requests``, which the adaptive batcher calls with merged
requests), ``finalize()`` when the worker exits. ``inference.triton`` answers V2 (REST and
gRPC) with Triton's checks and messages; Seldon's calls reach ``predict`` (one input).

May import what ``model`` may import.
"""

import atexit
import collections
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import logging
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...errors import BadDataError, InternalError, LoadError, MicroserviceError
from ...settings import Settings, SettingsError, read_yaml_mapping
from ...streams import client_gone
from ..seldon_compat import FALLBACK_DIR
from .triton_config import (ConfigError, as_json, check_servable, complete, data_type_name,
                            from_dict, read_config, v2_tensors)

NAME = "triton"
CONFIG = "config.pbtxt"
MODEL_FILE = "model.py"
ODAHU_MODEL = "odahuflow.model.yaml"
CONDA_FILES = ("conda.yaml", "conda.yml")
CONDA_SOURCE = "the conda.yaml of ODAHU's Triton packager"  # what conda_file() finds
MARKERS = ("config.pbtxt with <version>/model.py (a Triton model folder, or a repository of "
           "one), or model.py beside config.pbtxt (ODAHU's Triton packager)")
UTILS = "triton_python_backend_utils"
DEFAULT_PORT = 8000       # Triton's HTTP port
DEFAULT_GRPC_PORT = 8001  # Triton's gRPC port
log = logging.getLogger("modelkiln")


# -- the folder ------------------------------------------------------------------------------

class Layout(object):
    """Where the model's files are: ``model_dir`` holds config.pbtxt, ``code_dir`` model.py."""

    def __init__(self, folder: str, model_dir: str, code_dir: str, version: str,
                 kind: str) -> None:
        self.folder = folder
        self.model_dir = model_dir
        self.code_dir = code_dir
        self.version = version
        self.kind = kind  # "model", "repository" or "odahu"
        self.config_path = os.path.join(model_dir, CONFIG)
        self.model_path = os.path.join(code_dir, MODEL_FILE)


def _versions(model_dir: str) -> List[int]:
    try:
        names = os.listdir(model_dir)
    except OSError:
        return []
    return sorted(int(name) for name in names if name.isdigit() and os.path.isfile(
        os.path.join(model_dir, name, MODEL_FILE)))


def _is_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, CONFIG)) and bool(_versions(path))


def find_layout(folder: str) -> Optional[Layout]:
    """The Triton model in ``folder``, or None."""
    if _is_model_dir(folder):
        version = _versions(folder)[-1]
        return Layout(folder, folder, os.path.join(folder, str(version)), str(version), "model")
    if os.path.isfile(os.path.join(folder, CONFIG)) and os.path.isfile(
            os.path.join(folder, MODEL_FILE)):
        return Layout(folder, folder, folder, "", "odahu")
    try:
        children = sorted(os.listdir(folder))
    except OSError:
        return None
    models = [name for name in children if not name.startswith(".")
              and _is_model_dir(os.path.join(folder, name))]
    if len(models) == 1:
        model_dir = os.path.join(folder, models[0])
        version = _versions(model_dir)[-1]
        return Layout(folder, model_dir, os.path.join(model_dir, str(version)), str(version),
                      "repository")
    return None


def recognises(folder: str) -> bool:
    return find_layout(folder) is not None


def layout_of(folder: str) -> Layout:
    found = find_layout(folder)
    if found is None:
        raise SettingsError("%s is not a Triton Python-backend model: it needs %s (a "
                            "repository must hold exactly one model)" % (folder, MARKERS))
    return found


def conda_file(folder: str) -> Optional[str]:
    """The conda environment file of the folder (ODAHU's ``conda.yaml``), relative to it: at
    the top, or beside config.pbtxt."""
    found = find_layout(folder)
    places = [folder] + ([found.model_dir] if found is not None else [])
    for place in places:
        for name in CONDA_FILES:
            if os.path.isfile(os.path.join(place, name)):
                return os.path.relpath(os.path.join(place, name), folder)
    return None


def _odahu_manifest(folder: str) -> Dict[str, Any]:
    path = os.path.join(folder, ODAHU_MODEL)
    if not os.path.isfile(path):
        return {}
    return read_yaml_mapping(path, "ODAHU's odahuflow.model.yaml has name: and version:")


def _read_config(layout: Layout) -> Any:
    try:
        return read_config(layout.config_path)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


def identity(layout: Layout) -> Tuple[str, str]:
    """The model's name and version (see the module docstring)."""
    manifest = _odahu_manifest(layout.folder) if layout.kind == "odahu" else {}
    config = _read_config(layout)
    name = config.name or str(manifest.get("name") or "") or (
        os.path.basename(os.path.normpath(layout.model_dir)) if layout.kind != "odahu" else
        "model")
    version = layout.version or str(manifest.get("version") or "1")
    return name, version


def prepare(settings: Settings) -> Settings:
    """The model's name and version; Triton's ports (8000 REST, 8001 gRPC) by default."""
    name, version = identity(layout_of(settings.app_dir))
    if not re.match(r"^[A-Za-z0-9_.\-]+$", name):
        raise SettingsError("the Triton model's name %r cannot be part of a URL path: name it "
                            "with letters, digits, '-', '_' or '.' in config.pbtxt" % name)
    wanted = (("v2_model_name", name), ("v2_model_version", version),
              ("http_port", DEFAULT_PORT), ("grpc_port", DEFAULT_GRPC_PORT))
    changes = {key: value for key, value in wanted if key in settings.defaulted}
    return settings.replaced(model_name=name, **changes)


# -- the stand-in pb_utils and the model's module ---------------------------------------------

class UtilsFallback(object):
    """Meta path finder for ``triton_python_backend_utils``, placed last: it answers only when
    nothing installed provides the module."""

    def find_spec(self, fullname: str, path: Optional[Any] = None,
                  target: Optional[Any] = None) -> Optional[Any]:
        if fullname == UTILS:
            return importlib.machinery.PathFinder.find_spec(fullname, [FALLBACK_DIR])
        return None

    def invalidate_caches(self) -> None:
        pass


def pb_utils() -> Any:
    """The ``triton_python_backend_utils`` the model imports (a real one, else modelkiln's)."""
    if not any(isinstance(finder, UtilsFallback) for finder in sys.meta_path):
        sys.meta_path.append(UtilsFallback())
    return importlib.import_module(UTILS)


def import_model(layout: Layout) -> Any:
    """``model.py``, imported by its path with its folder on ``sys.path`` (its own modules
    import beside it); LoadError naming what failed."""
    pb_utils()
    if layout.code_dir not in sys.path:
        sys.path.insert(0, layout.code_dir)
    spec = importlib.util.spec_from_file_location("model", layout.model_path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise LoadError("importing %s raised ImportError: %s (are the model's packages in "
                        "its %s?)\n%s" % (layout.model_path, exc, conda_file(layout.folder)
                                          or "requirements", traceback.format_exc())) from exc
    except Exception as exc:
        raise LoadError("importing %s raised %s: %s\n%s" % (
            layout.model_path, type(exc).__name__, exc, traceback.format_exc())) from exc
    cls = getattr(module, "TritonPythonModel", None)
    if not isinstance(cls, type):
        raise LoadError("%s has no class TritonPythonModel (a Triton Python-backend model "
                        "defines it, with execute(self, requests))" % layout.model_path)
    if not callable(getattr(cls, "execute", None)):
        raise LoadError("%s: TritonPythonModel has no execute(self, requests) method"
                        % layout.model_path)
    return module


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """Import model.py (a broken one stops the start) and complete its configuration."""
    layout = layout_of(settings.app_dir)
    module = import_model(layout)
    name, version = identity(layout)
    config = completed_config(layout, module, name)  # a bad config stops the start too
    return TritonModel, {"layout": layout, "module": module, "identity": (name, version),
                         "config": config}


def completed_config(layout: Layout, module: Any, name: str) -> Any:
    """config.pbtxt, completed by the model's ``auto_complete_config`` (when it has one) and
    as Triton completes it; LoadError when it cannot be served."""
    path = layout.config_path
    try:
        config = read_config(path)
        auto = getattr(module.TritonPythonModel, "auto_complete_config", None)
        if callable(auto):
            given = as_json(config)
            given["name"] = given["name"] or name
            try:
                answer = auto(pb_utils().ModelConfig(given))
            except Exception as exc:
                raise LoadError("auto_complete_config raised %s: %s" % (type(exc).__name__, exc)
                                ) from exc
            values = answer.as_dict() if hasattr(answer, "as_dict") else answer
            if not isinstance(values, dict):
                raise LoadError("auto_complete_config must return the ModelConfig it was given, "
                                "got %s" % type(answer).__name__)
            config = from_dict(values, path)
        complete(config, name)
        check_servable(config, path, os.path.basename(
            os.path.normpath(layout.model_dir)) if layout.kind == "repository" else None)
    except ConfigError as exc:
        raise LoadError(str(exc)) from None
    return config


# -- the component ----------------------------------------------------------------------------

class TritonModelError(MicroserviceError):
    """An error Triton answers with 500 (``Content-Type: text/plain`` on REST, INTERNAL on
    gRPC): an error response, or execute raising."""

    status_code = 500
    reason = "MICROSERVICE_INTERNAL_ERROR"
    grpc_code = "INTERNAL"


class TritonModel(object):
    """A ``TritonPythonModel`` as a component."""

    enforces_signature = True  # Triton's own checks and messages (inference.triton)
    # the user's code: under the model's lock
    guarded_methods = ("execute_requests", "execute_decoupled")

    def __init__(self, layout: Layout, module: Any, identity: Tuple[str, str],
                 config: Any) -> None:
        self.layout = layout
        self.name, self.version = identity
        self.config = config
        self.config_json = as_json(config)
        self.config_text = json.dumps(self.config_json, separators=(",", ":"),
                                      ensure_ascii=False)
        self.utils = pb_utils()
        self.instance_name = "%s_0" % config.instance_group[0].name
        self.inputs = {item.name: item for item in config.input}
        self.outputs = {item.name: item for item in config.output}
        self.required = sum(1 for item in config.input if not item.optional)
        self.max_batch_size = int(config.max_batch_size)
        # decoupled: each request is answered through its response sender, in any number of
        # responses (execute_decoupled; served by gRPC ModelStreamInfer and V2 generate)
        self.decoupled = bool(config.model_transaction_policy.decoupled)
        self.model = module.TritonPythonModel()
        self._finalized = False

    @property
    def args(self) -> Dict[str, str]:
        """What Triton gives ``initialize``."""
        return {"model_config": self.config_text, "model_instance_kind": "CPU",
                "model_instance_name": self.instance_name, "model_instance_device_id": "0",
                "model_repository": self.layout.model_dir, "model_version": self.version,
                "model_name": self.name}

    def load(self) -> None:
        """``initialize(args)``, once per worker before it is ready; ``finalize()`` is called
        when the worker exits."""
        initialize = getattr(self.model, "initialize", None)
        if callable(initialize):
            initialize(self.args)
        if callable(getattr(self.model, "finalize", None)):
            atexit.register(self.finalize)

    def finalize(self) -> None:
        if not self._finalized:
            self._finalized = True
            self.model.finalize()

    def batching(self) -> Optional[Tuple[int, float, List[int]]]:
        """How Triton would batch this model (config.pbtxt's ``dynamic_batching`` and
        ``max_batch_size``, which take the place of MODELKILN_MAX_BATCH_SIZE and _TIME):
        (rows per execute, the longest wait in seconds, preferred sizes); None: every
        request is executed alone."""
        config = self.config
        if (self.max_batch_size <= 0 or not config.HasField("dynamic_batching")
                or self.decoupled):  # (a decoupled model's requests are executed alone)
            return None
        dynamic = config.dynamic_batching
        return (self.max_batch_size, dynamic.max_queue_delay_microseconds / 1e6,
                [int(n) for n in dynamic.preferred_batch_size])

    # -- requests and responses (the batcher uses these too) --------------------------------

    def make_request(self, inputs: Sequence[Tuple[str, Any]], request_id: str = "",
                     parameters: Optional[Dict[str, Any]] = None,
                     requested: Sequence[str] = ()) -> Any:
        """An ``InferenceRequest`` of (name, numpy array) inputs."""
        utils = self.utils
        return utils.InferenceRequest(
            inputs=[utils.Tensor(name, array) for name, array in inputs],
            request_id=request_id or "", correlation_id=0,
            requested_output_names=list(requested), model_name=self.name,
            model_version=int(self.version) if self.version.isdigit() else -1,
            parameters=json.dumps(parameters) if parameters else "{}")

    def execute_requests(self, requests: List[Any]) -> List[Any]:
        """``execute(requests)``: one response per request, in order. A model that raises
        fails them all with Triton's message; a wrong answer is a 500 naming it."""
        try:
            responses = self.model.execute(requests)
        except Exception as exc:
            raise TritonModelError(self.failure(exc)) from exc
        if not isinstance(responses, list) or len(responses) != len(requests):
            raise TritonModelError(
                "Failed to process the request(s) for model '%s', message: execute() must "
                "return a list of %d InferenceResponse(s), one per request, got %s"
                % (self.instance_name, len(requests), _described(responses)))
        return responses

    def execute_decoupled(self, request: Any) -> "Responses":
        """``execute([request])`` for a decoupled model: the responses its sender sends,
        during execute or after it, from any thread, up to the final flag. A model that
        raises fails the request with Triton's message."""
        responses = Responses()
        sender = getattr(self.utils, "InferenceResponseSender", None)
        if sender is None:  # a real triton_python_backend_utils won the import
            raise TritonModelError("a decoupled model needs modelkiln's "
                                   "triton_python_backend_utils (its response sender)")
        request._response_sender = sender(responses.deliver, lambda: responses.cancelled)
        try:
            returned = self.model.execute([request])
        except Exception as exc:
            raise TritonModelError(self.failure(exc)) from exc
        if returned is not None:
            log.warning("execute() of decoupled model '%s' returned %s; a decoupled model "
                        "answers through its response sender and returns None (ignored)",
                        self.name, _described(returned))
        return responses

    def failure(self, exc: BaseException) -> str:
        """Triton's message for ``execute`` raising: the exception and the model's frames,
        innermost first."""
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # not this module's call
        where = "".join("  %s(%d): %s\n" % (f.filename, f.lineno, f.name)
                        for f in reversed(frames))
        return ("Failed to process the request(s) for model '%s', message: %s: %s\n\nAt:\n%s"
                % (self.instance_name, type(exc).__name__, exc, where))

    def response_outputs(self, response: Any) -> List[Tuple[str, Any]]:
        """(name, array) of each output tensor of a response; TritonModelError with the
        response's error message when it has one."""
        import numpy as np  # (not at import: the manifests' tools read formats without it)

        if not hasattr(response, "output_tensors"):
            raise TritonModelError("Failed to process the request(s) for model '%s', message: "
                                   "execute() returned %s where an InferenceResponse was due"
                                   % (self.instance_name, _described(response)))
        error = response.error() if callable(getattr(response, "error", None)) else None
        if error is not None:
            message = error.message() if callable(getattr(error, "message", None)) else error
            raise TritonModelError(str(message))
        outputs = []
        for tensor in response.output_tensors():
            array = tensor.as_numpy()
            if not isinstance(array, np.ndarray):
                raise TritonModelError("output %r of model '%s' is not a numpy array"
                                       % (tensor.name(), self.name))
            if array.dtype.kind == "S":  # fixed-width bytes: Triton sends them as BYTES
                array = array.astype(object)
            outputs.append((tensor.name(), array))
        return outputs

    # -- metadata -------------------------------------------------------------------------

    def init_metadata(self) -> Dict[str, Any]:
        tensors = v2_tensors(self.config)
        return {"name": self.name, "versions": [self.version], "platform": "python",
                "inputs": tensors["inputs"], "outputs": tensors["outputs"]}

    # -- Seldon -----------------------------------------------------------------------------

    def predict(self, X: Any, features_names: Optional[List[str]] = None) -> Any:
        """A Seldon array is the model's one required input (cast to its data type); the
        answer is the first output (the only one, for most models)."""
        import numpy as np

        if self.required != 1 and len(self.inputs) != 1:
            raise BadDataError("this Triton model takes %d inputs (%s): send them as V2 "
                               "inputs, a Seldon message carries one array"
                               % (len(self.inputs), ", ".join(self.inputs)))
        spec = next(item for item in self.config.input if not item.optional or
                    len(self.inputs) == 1)
        array = np.asarray(X)
        kind = data_type_name(spec.data_type)
        if kind == "TYPE_STRING":
            array = np.array([v.encode("utf-8") if isinstance(v, str) else v
                              for v in array.ravel()], dtype=object).reshape(array.shape)
        else:
            try:
                array = array.astype(self.utils.triton_string_to_numpy(kind))
            except (TypeError, ValueError) as exc:
                raise BadDataError("input %r is %s: %s" % (spec.name, kind[5:], exc)) from exc
        check_shape(self, spec.name, list(array.shape), "")
        request = self.make_request([(spec.name, array)])
        if self.decoupled:
            responses = list(self.execute_decoupled(request))
            if len(responses) != 1:
                raise BadDataError(
                    "model '%s' is decoupled and sent %d responses, where a Seldon answer "
                    "takes exactly one: stream them with gRPC ModelStreamInfer or POST "
                    "/v2/models/%s/generate_stream" % (self.name, len(responses), self.name))
            outputs = self.response_outputs(responses[0])
        else:
            outputs = self.response_outputs(self.execute_requests([request])[0])
        if not outputs:
            raise InternalError("the Triton model answered no output")
        name, answer = outputs[0]
        if answer.dtype.kind == "O":  # BYTES: text in a Seldon answer
            try:
                texts = [v.decode("utf-8") if isinstance(v, bytes) else v
                         for v in answer.ravel()]
            except UnicodeDecodeError as exc:
                raise InternalError("output %r holds bytes that are not UTF-8 text, which a "
                                    "Seldon answer cannot carry: use V2" % name) from exc
            answer = np.array(texts, dtype=object).reshape(answer.shape)
        return answer


class Responses(object):
    """A decoupled request's responses as its model sends them (from any thread), taken in
    order by the thread answering the request: each waits for the next one, until the final
    flag, or until the client has gone (``streams.client_gone``)."""

    WAIT = 0.25  # seconds between looks at whether the client is still there

    def __init__(self) -> None:
        self.ready_lock = threading.Condition(threading.Lock())
        self.items = collections.deque()  # type: Any
        self.final = False
        self.cancelled = False  # the model's sender.is_cancelled() and request.is_cancelled()

    def deliver(self, response: Any, final: bool) -> None:
        with self.ready_lock:
            if response is not None:
                self.items.append(response)
            self.final = self.final or final
            self.ready_lock.notify()

    def __iter__(self) -> "Responses":
        return self

    def __next__(self) -> Any:
        with self.ready_lock:
            while not self.items and not self.final and not self.cancelled:
                if not self.ready_lock.wait(self.WAIT) and client_gone():
                    self.cancelled = True
            if self.items:
                return self.items.popleft()
            raise StopIteration

    def ready(self) -> bool:
        """Whether the next response (or the end) is there without waiting."""
        with self.ready_lock:
            return bool(self.items) or self.final

    def close(self) -> None:
        """The client went away: the model's ``is_cancelled()`` says so from now on."""
        with self.ready_lock:
            self.cancelled = True
            self.ready_lock.notify()


def check_shape(model: TritonModel, name: str, shape: List[int], prefix: str) -> None:
    """Triton's shape check of one input (the batch dimension included in ``shape``)."""
    spec = model.inputs[name]
    dims = [int(d) for d in spec.dims]
    batched = model.max_batch_size > 0
    given = shape[1:] if batched and shape else shape
    if (batched and not shape) or len(given) != len(dims) or any(
            want != -1 and want != got for want, got in zip(dims, given)):
        note = ("NOTE: Setting a non-zero max_batch_size in the model config requires a batch "
                "dimension to be prepended to each input shape. If you want to specify the "
                "full shape including the batch dim in your input dims config, try setting "
                "max_batch_size to zero. See the model configuration docs for more info on "
                "max_batch_size." if batched else "")
        raise BadDataError("%sunexpected shape for input '%s' for model '%s'. Expected %s, got "
                           "%s. %s" % (prefix, name, model.name,
                                       _dims(([-1] if batched else []) + dims), _dims(shape),
                                       note))


def _dims(values: Sequence[int]) -> str:
    return "[" + ",".join(str(v) for v in values) + "]"


def _described(value: Any) -> str:
    if isinstance(value, list):
        return "a list of %d" % len(value)
    return type(value).__name__
