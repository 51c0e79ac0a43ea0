"""The component a Modzy template folder becomes (``formats.modzy`` finds and imports its
model): ``ModzyModel`` runs the model's ``run(*input_paths, *output_paths)`` on a job's files
with the template's status codes, and answers Seldon's and V2's calls through the same
``run``, the payload written to a temporary folder."""

import base64
import json
import os
import shutil
import tempfile
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...errors import BadDataError, InternalError, LoadError, MicroserviceError

ON_RUN = ("this is a Modzy template model, which reads and writes files: send its input as "
          "Seldon strData (text), binData (bytes) or jsonData (a .json file's content), "
          "several input files as one jsonData object keyed by file name, or run a file job "
          'with POST /run {"type": "file", "input": DIR, "output": DIR}')
JSON_TYPES = (dict, list, str, int, float, bool, type(None))


class ModelRefused(MicroserviceError):
    """The model's ``validation_exception_class``: input it cannot process (422)."""

    status_code = 422


def file_names(model: Any, attribute: str) -> List[str]:
    """The model's ``input_filenames`` or ``output_filenames`` (a name, or a list or mapping
    of them), checked to be plain file names: a job's paths are built from them."""
    value = getattr(model, attribute, None)
    names = [value] if isinstance(value, (str, bytes)) else list(value or ())
    for name in names:
        if (not isinstance(name, str) or not name or "/" in name or os.sep in name
                or name in (".", "..")):
            raise LoadError("%s.%s holds %r, which is not a file name"
                            % (type(model).__name__, attribute, name))
    if not names:
        raise LoadError("%s.%s names no file" % (type(model).__name__, attribute))
    return names


def exception_class(model: Any, attribute: str) -> Any:
    """The model's ``validation_exception_class`` or ``io_exception_class`` (a class, or a
    tuple of them, as ``except`` takes)."""
    value = getattr(model, attribute, None)
    classes = value if isinstance(value, tuple) and value else (value,)
    if not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
        raise LoadError("%s.%s must be an exception class, got %r"
                        % (type(model).__name__, attribute, value))
    return value


def same_file(named: Any, path: str) -> bool:
    try:
        return os.path.realpath(os.fsdecode(named)) == os.path.realpath(path)
    except (TypeError, ValueError):
        return False


class ModzyModel(object):
    """A Modzy template model as a component: ``job`` runs it on a job's files with the
    template's status codes, ``predict`` answers Seldon's and V2's calls with it."""

    def __init__(self, factory: Any, factory_name: str, info: Dict[str, Any]) -> None:
        self.factory = factory
        self.factory_name = factory_name
        self.info = info  # model.yaml
        self.model = None  # type: Any
        self.inputs = []  # type: List[str]
        self.outputs = []  # type: List[str]
        self.refused = ()  # type: Any  # the model's exception classes (none until load())
        self.io_error = ()  # type: Any
        self.lock = threading.Lock()  # one run at a time, whichever API asks

    def load(self) -> None:
        """Construct the model (the template does it on the first /status); a failure here
        is what /status answers 500 with."""
        model = self.factory()
        if model is None:
            raise LoadError("the model factory %s returned None" % self.factory_name)
        if not callable(getattr(model, "run", None)):
            raise LoadError("the model %s has no run method" % type(model).__name__)
        self.inputs = file_names(model, "input_filenames")
        self.outputs = file_names(model, "output_filenames")
        self.refused = exception_class(model, "validation_exception_class")
        self.io_error = exception_class(model, "io_exception_class")
        self.model = model

    def init_metadata(self) -> Dict[str, Any]:
        """Seldon's metadata from model.yaml (its file names; /run is how jobs run)."""
        custom = {"api": "POST /run (Modzy's file jobs)"}
        meta = {"platform": "modzy", "custom": custom}  # type: Dict[str, Any]
        if self.info.get("name"):
            meta["name"] = str(self.info["name"])
        if self.info.get("version") is not None:
            meta["versions"] = [str(self.info["version"])]
        for key in ("inputs", "outputs"):
            if isinstance(self.info.get(key), dict):
                custom[key] = ", ".join(str(name) for name in self.info[key])
        return meta

    # -- a job ----------------------------------------------------------------------------

    def paths(self, source: str, target: str) -> Tuple[List[str], List[str]]:
        """(input paths, output paths) of a job between these folders; 400 when an input
        file is missing or cannot be read."""
        inputs = [os.path.join(source, name) for name in self.inputs]
        for path in inputs:
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise BadDataError("invalid job configuration: expected input file %s does "
                                   "not exist or cannot be read (the model reads %s)"
                                   % (path, ", ".join(self.inputs)))
        return inputs, [os.path.join(target, name) for name in self.outputs]

    def job(self, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        """``run(*inputs, *outputs)``. The model's validation exception is a 422 with its
        message; its IO exception a 400 when it names a job file (or no file), else a 500;
        anything else a 500, as is an output the model did not write."""
        paths = list(inputs) + list(outputs)
        if self.model is None:
            raise InternalError("the model is not loaded")
        with self.lock:
            try:
                self.model.run(*paths)
            except self.refused as exc:
                raise ModelRefused(str(exc) or type(exc).__name__) from exc
            except self.io_error as exc:
                named = getattr(exc, "filename", None)
                if not named or any(same_file(named, path) for path in paths):
                    raise BadDataError("the model cannot read or write a job file: %s"
                                       % (exc,)) from exc
                raise InternalError("the model raised %s: %s" % (type(exc).__name__, exc)
                                    ) from exc
            except Exception as exc:
                raise InternalError("the model raised %s: %s" % (type(exc).__name__, exc)
                                    ) from exc
        missing = [path for path in outputs if not os.path.isfile(path)]
        if missing:
            raise InternalError("the model did not write %s" % ", ".join(missing))

    def run_folder(self, source: str, target: str) -> List[str]:
        """One job from folder to folder (``target`` made when missing); the output paths."""
        inputs, outputs = self.paths(source, target)
        os.makedirs(target, exist_ok=True)
        self.job(inputs, outputs)
        return outputs

    # -- Seldon and V2 ------------------------------------------------------------------

    def predict(self, X: Any, features_names: Optional[List[str]] = None) -> Any:
        """The input file(s) from a Seldon payload, run in a temporary folder; one output
        file back as jsonData (a JSON object), strData (text) or binData, several as one
        jsonData object keyed by file name."""
        files = self._input_files(X)
        work = tempfile.mkdtemp(prefix="modelkiln-modzy-")
        try:
            source = os.path.join(work, "input")
            os.mkdir(source)
            for name, data in files:
                with open(os.path.join(source, name), "wb") as handle:
                    handle.write(data)
            found = []
            for path in self.run_folder(source, os.path.join(work, "output")):
                with open(path, "rb") as handle:
                    found.append((os.path.basename(path), handle.read()))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if len(found) == 1:
            return answer_value(*found[0])
        return {name: file_value(name, data) for name, data in found}

    def _input_files(self, X: Any) -> List[Tuple[str, bytes]]:
        if len(self.inputs) == 1:
            return [(self.inputs[0], file_bytes(self.inputs[0], X))]
        if not isinstance(X, dict) or sorted(X) != sorted(self.inputs):
            raise BadDataError("%s (this model reads %d files: send jsonData with the keys %s)"
                               % (ON_RUN, len(self.inputs), ", ".join(self.inputs)))
        return [(name, file_bytes(name, X[name])) for name in self.inputs]


def is_json(name: str) -> bool:
    return name.lower().endswith(".json")


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def file_bytes(name: str, value: Any) -> bytes:
    """What an input file holds for a payload value: bytes as they are, text as UTF-8 (for a
    .json file, text that is no JSON is written as a JSON string), other JSON values as JSON
    for a .json file."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str) and not (is_json(name) and not _parses(value)):
        return value.encode("utf-8")
    if is_json(name) and isinstance(value, JSON_TYPES):
        return json.dumps(value).encode("utf-8")
    raise BadDataError("%s (the input file %s cannot hold a %s)"
                       % (ON_RUN, name, type(value).__name__))


def file_value(name: str, data: bytes) -> Any:
    """An output file as a JSON value: parsed JSON for a .json file, else text, else base64."""
    if is_json(name):
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def answer_value(name: str, data: bytes) -> Any:
    """One output file as Seldon's answer: a JSON object (jsonData), else text (strData),
    else bytes (binData)."""
    value = file_value(name, data) if is_json(name) else None
    if isinstance(value, dict):
        return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
