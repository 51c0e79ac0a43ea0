"""Modzy's container API for file jobs, on its own port (``PSC_MODEL_PORT``): ``GET /status``,
``POST /run`` with ``{"type": "file", "input": DIR, "output": DIR}`` and ``POST /shutdown``
(202, then the server exits with 0). Every answer is ``{"statusCode", "status", "message"}``.

The file names come from the app's ``model.yaml`` (the keys of ``inputs`` and ``outputs``),
else ``input.json`` and ``results.json``. One input file is sent to the model as it is when
it is a Seldon message or a V2 request, as ``jsonData`` when it is other JSON, as ``strData``
when it is text and as ``binData`` otherwise; several input files go as one ``jsonData``
object keyed by file name. The answer's ``jsonData`` (``strData``, ``binData``) is written to
the output file; an answer without them (``data``, V2 outputs) is written whole. Several
output files take the keys of a ``jsonData`` object answer.

Status codes as the spec has them: 400 for a bad job or missing/unwritable files, 415 for a
body that is not JSON, 422 for input the model refuses (its 4xx) or an input file over the
request size limit, 500 for a model error, and 503 while ``load()`` runs.

A model that reads and writes the job's files itself (a Modzy template folder,
``model.formats.modzy``: ``file_model``) gets the paths instead: its ``job`` runs its
``run(*input_paths, *output_paths)`` on the input files its ``input_filenames`` name, and
answers the template's codes (422 with the message of its validation exception, 400 for its IO
exception on a job file, 500 otherwise or for an output it did not write); an output folder
that does not exist is made, as the template's server does.

The platform names the job's folders, and they are checked before anything is read or
written (``JobFolders``): absolute, symlinks resolved, never inside the app folder or
modelkiln's own install, and inside ``MODELKILN_JOB_ROOTS`` when it is set, else outside the
system folders. Input files are read only up to ``MODELKILN_MAX_REQUEST_SIZE`` in all; each
output file is written beside its name and renamed into place.
"""

import base64
import json
import os
import stat
import sys
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..codecs import jsonio
from ..errors import (BadDataError, InternalError, MicroserviceError, NotReady,
                      UnsupportedMediaType, clipped, from_user_exception, shown)
from ..inference.documents import write_atomically
from . import schemas
from .body import read_body
from .routes import JSON, Answer, Doc, Route

MODEL_YAML = "model.yaml"
DEFAULT_INPUTS = ("input.json",)
DEFAULT_OUTPUTS = ("results.json",)
SELDON_KEYS = ("data", "jsonData", "strData", "binData")
SHUTDOWN_DELAY = 0.3  # seconds between the 202 and the signal: the answer goes out first
INVALID = "invalid job configuration: "  # the spec's words for a 400
# Refused unless MODELKILN_JOB_ROOTS names them: the operating system's own folders (and
# every /lib*: lib32, lib64, libx32). /tmp, /data, /mnt, /srv, /home and /opt stay usable.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/root", "/run", "/sbin",
                  "/sys", "/usr", "/var")
READ_CHUNK = 1 << 20
MAX_PATH = 4096  # Linux's PATH_MAX: resolving a longer "path" would only burn CPU
ANSWER = schemas.ref("ModzyAnswer")
JOB = {"type": "object", "required": ["type", "input", "output"],
       "properties": {"type": {"type": "string", "enum": ["file"]},
                      "input": {"type": "string", "description": "absolute input folder"},
                      "output": {"type": "string", "description": "absolute output folder"}}}


class ModelYamlError(ValueError):
    """The app's model.yaml cannot say the job's file names."""


def job_files(app_dir: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(input file names, output file names) from ``APP_DIR/model.yaml``, else the defaults."""
    path = os.path.join(app_dir, MODEL_YAML)
    if not os.path.isfile(path):
        return DEFAULT_INPUTS, DEFAULT_OUTPUTS
    import yaml

    try:
        with open(path, "r", encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelYamlError("%s cannot be read: %s" % (path, exc)) from exc
    if not isinstance(document, dict):
        raise ModelYamlError("%s must be a mapping with inputs and outputs" % path)

    def names(key: str, default: Tuple[str, ...]) -> Tuple[str, ...]:
        section = document.get(key)
        if section is None:
            return default
        if not isinstance(section, dict) or not section:
            raise ModelYamlError("%s: %s must map file names to their descriptions (e.g. "
                                 "%s: {%s: {...}})" % (path, key, key, default[0]))
        for name in section:
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise ModelYamlError("%s: %s names %r, which is not a file name"
                                     % (path, key, name))
        return tuple(section)

    return names("inputs", DEFAULT_INPUTS), names("outputs", DEFAULT_OUTPUTS)


class Unprocessable(MicroserviceError):
    status_code = 422


def inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def install_folders(settings: Any) -> List[Tuple[str, str]]:
    """(what, folder) of modelkiln's own install: its package and the Python environment."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [("modelkiln's own package", package)]
    for prefix in (sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix),
                   settings.conda_prefix):
        if prefix:
            found.append(("the Python environment the server runs from", prefix))
    return found


class JobFolders(object):
    """Which folders a job may name, decided once from the settings."""

    def __init__(self, settings: Any) -> None:
        self.roots = tuple(os.path.realpath(root) for root in settings.job_roots or ())
        self.never = [("the app folder", os.path.realpath(settings.app_dir))]
        self.never += [(what, os.path.realpath(folder))
                       for what, folder in install_folders(settings)]

    def check(self, what: str, given: str) -> str:
        """The real path of ``given`` (the job's ``what``: "input folder", "output folder",
        "input file"); 400 naming the rule when the job may not use it."""
        if not os.path.isabs(given):
            raise BadDataError(INVALID + "the %s %s is not an absolute path: name it from / "
                               "(a relative path would resolve against the server's working "
                               "folder)" % (what, clipped(given)))
        if len(given) > MAX_PATH:
            raise BadDataError(INVALID + "the %s %s is longer than a path can be (%d "
                               "characters)" % (what, clipped(given), MAX_PATH))
        real = os.path.realpath(given)
        named = clipped(given) if real == os.path.normpath(given) else (
            "%s (a link to %s)" % (clipped(given), clipped(real)))
        for place, folder in self.never:
            if inside(real, folder):
                raise BadDataError(
                    INVALID + "the %s %s is inside %s %s, which jobs may never read or "
                    "write: give the job folders of its own, e.g. a mounted volume "
                    "(MODELKILN_JOB_ROOTS lists the folders jobs may use)"
                    % (what, named, place, folder))
        if self.roots:
            if not any(inside(real, root) for root in self.roots):
                raise BadDataError(
                    INVALID + "the %s %s is outside MODELKILN_JOB_ROOTS (%s): use a folder "
                    "under one of them, or add its volume to MODELKILN_JOB_ROOTS"
                    % (what, named, ":".join(self.roots)))
            return real
        top = "/" + real.split("/")[1]
        if real == "/" or top in SYSTEM_FOLDERS or top.startswith("/lib"):
            raise BadDataError(
                INVALID + "the %s %s is in the system folder %s: use another absolute folder "
                "(/tmp, /data, a mounted volume), or set MODELKILN_JOB_ROOTS to the folders "
                "the platform mounts" % (what, named, top))
        return real


class ModzyRest(object):
    """Modzy's three routes for one served model."""

    name = "modzy"
    docs_path = "/status"
    error_schema = "ModzyAnswer"

    def __init__(self, ctx: Any, documents: Any, stop: Optional[Callable[[], Any]] = None,
                 file_model: Any = None) -> None:
        self.ctx = ctx
        self.documents = documents  # inference.documents.DocumentCalls
        self.stop = stop            # ends the server (exit code 0); None: it cannot be
        self.file_model = file_model  # runs on the job's files itself; None: Seldon messages
        if file_model is None:
            self.inputs, self.outputs = job_files(ctx.settings.app_dir)
        else:  # on the REST port, beside the other APIs: 404s point at all of them
            self.docs_path = "/openapi.json"
        self.folders = JobFolders(ctx.settings)
        self.lock = threading.Lock()  # one job at a time, as the spec's platform runs them

    def error_answer(self, error: MicroserviceError) -> Answer:
        return answer(error.status_code, error.message)

    def routes(self) -> List[Route]:
        return [
            Route("/status", ("GET",), self._status, self,
                  Doc("Modzy: the model's status", response=ANSWER,
                      errors=((500, "The model failed to load"),
                              (503, "The model is still loading")))),
            Route("/run", ("POST",), self._run, self,
                  Doc("Modzy: run a file job", request=JOB, response=ANSWER,
                      errors=((400, "Not a job object, or its folders or files cannot be "
                                    "used"),
                              (415, "The body is not application/json"),
                              (422, "The model cannot process the input files"),
                              (500, "Model error")))),
            Route("/shutdown", ("POST",), self._shutdown, self,
                  Doc("Modzy: stop the server (exit code 0)", response=ANSWER,
                      errors=((500, "This server cannot be stopped through /shutdown"),))),
        ]

    # -- routes -------------------------------------------------------------------------

    def _status(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        state = self.ctx.state
        if state.ready:
            return answer(200, "%s is ready" % self.ctx.settings.model_name)
        if state.error is not None:
            return answer(500, "the model failed to load: %s" % state.error)
        raise NotReady("the model is still loading (load() has not finished)")

    def _run(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        media = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if media != JSON:
            raise UnsupportedMediaType(
                'POST the job as application/json: {"type": "file", "input": DIR, '
                '"output": DIR} (got Content-Type %s)' % shown(media))
        source, target = self._job(jsonio.loads(read_body(environ, self.ctx.limit)))
        if self.file_model is not None:
            return self._run_files(source, target)
        with self.lock:  # one job's input in memory at a time
            started = time.time()
            document = self._read_inputs(source)
            try:
                result = self.documents.message(document)
            except NotReady:
                raise
            except MicroserviceError as exc:
                if exc.status_code < 500:
                    raise Unprocessable("the model cannot process the input: %s"
                                        % exc.message) from exc
                raise
            except Exception as exc:  # the user's code
                error = from_user_exception(exc)
                if error.status_code < 500:
                    raise Unprocessable("the model cannot process the input: %s"
                                        % error.message) from exc
                raise error from exc
            written = self._write_outputs(target, result)
        return answer(200, "wrote %s in %.3f s" % (", ".join(written), time.time() - started))

    def _run_files(self, source: str, target: str) -> Answer:
        """The job's paths to a model that reads and writes them itself."""
        model = self.file_model
        with self.lock:
            started = time.time()
            for name in model.inputs:  # a link may point anywhere
                self.folders.check("input file", os.path.join(source, name))
            inputs, outputs = model.paths(source, target)
            self.ctx.call(model.job, inputs, outputs)
        return answer(200, "wrote %s in %.3f s" % (", ".join(model.outputs),
                                                   time.time() - started))

    def _shutdown(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        stop = self.stop
        if stop is None:
            raise InternalError("this server cannot be stopped through /shutdown")

        def later() -> None:
            time.sleep(SHUTDOWN_DELAY)
            stop()

        threading.Thread(target=later, name="modelkiln-shutdown", daemon=True).start()
        return answer(202, "the server stops and exits with code 0")

    # -- the job ------------------------------------------------------------------------

    def _job(self, job: Any) -> Tuple[str, str]:
        """The job's (input folder, output folder), real paths, checked."""
        if not isinstance(job, dict):
            raise BadDataError(INVALID + 'the job must be a JSON object: {"type": "file", '
                               '"input": DIR, "output": DIR}')
        if job.get("type") != "file":
            raise BadDataError(INVALID + '"type" must be "file" (got %s)'
                               % shown(job.get("type")))
        folders = []
        for key in ("input", "output"):
            value = job.get(key)
            if not isinstance(value, str) or not value:
                raise BadDataError(INVALID + '"%s" must name a folder' % key)
            real = self.folders.check(key + " folder", value)
            if not os.path.isdir(real) and key == "output" and self.file_model is not None:
                try:
                    os.makedirs(real, exist_ok=True)
                except OSError as exc:
                    raise BadDataError(INVALID + "output folder %s cannot be made: %s"
                                       % (clipped(value), exc.strerror or exc)) from exc
            if not os.path.isdir(real):
                raise BadDataError(INVALID + "%s folder %s does not exist"
                                   % (key, clipped(value)))
            folders.append(real)
        if not os.access(folders[1], os.W_OK):
            raise BadDataError(INVALID + "output folder %s is not writable" % folders[1])
        return folders[0], folders[1]

    def _read_inputs(self, folder: str) -> Dict[str, Any]:
        contents = []
        left = self.ctx.limit  # for all the input files together, as for one request body
        for name in self.inputs:
            data = self._read_input(os.path.join(folder, name), left)
            left -= len(data)
            contents.append((name, data))
        if len(contents) == 1:
            return as_message(*contents[0])
        return {"jsonData": {name: as_value(name, data) for name, data in contents}}

    def _read_input(self, path: str, left: int) -> bytes:
        """One input file, refused past ``left`` bytes before and while it is read."""
        try:
            real = self.folders.check("input file", path)  # a link may point anywhere
            # O_NONBLOCK: a FIFO put there must not hang the worker in open()
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise BadDataError(INVALID + "input file %s cannot be read: %s (model.yaml names "
                               "the input files)" % (path, exc.strerror or exc)) from exc
        with os.fdopen(fd, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise BadDataError(INVALID + "input file %s is not a regular file" % path)
            if status.st_size > left:
                raise self._too_large(path, "%d bytes" % status.st_size, left)
            chunks, size = [], 0
            while True:  # a file still growing stops at the limit too
                chunk = handle.read(min(READ_CHUNK, left - size + 1))
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > left:
                    raise self._too_large(path, "more than %d bytes (it grew while read)"
                                          % left, left)
                chunks.append(chunk)

    def _too_large(self, path: str, size: str, left: int) -> Unprocessable:
        limit = self.ctx.limit
        room = "the limit of %d bytes" % limit
        if left != limit:
            room = "the %d bytes left of the limit of %d bytes for all input files" % (left, limit)
        return Unprocessable("input file too large: %s is %s, over %s (MODELKILN_MAX_REQUEST_SIZE;"
                             " raise it to process larger files)" % (path, size, room))

    def _write_outputs(self, folder: str, result: Any) -> List[str]:
        if len(self.outputs) == 1:
            files = [(self.outputs[0], output_bytes(self.outputs[0], result))]
        else:
            values = result.get("jsonData") if isinstance(result, dict) else None
            missing = [n for n in self.outputs if not isinstance(values, dict) or n not in values]
            if missing:
                raise InternalError(
                    "model.yaml names %d output files; the model must answer jsonData with a "
                    "key per file (missing: %s)" % (len(self.outputs), ", ".join(missing)))
            files = [(name, value_bytes(name, values[name])) for name in self.outputs]
        for name, data in files:
            path = os.path.join(folder, name)
            try:
                write_atomically(path, data)
            except OSError as exc:
                raise BadDataError(INVALID + "output file %s cannot be written: %s"
                                   % (path, exc.strerror or exc)) from exc
        return [name for name, _ in files]


def answer(status: int, message: str) -> Answer:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    body = {"statusCode": status, "status": phrase, "message": message}
    return status, jsonio.dumps(body), JSON


def as_value(name: str, data: bytes) -> Any:
    """A file's content as a JSON value: parsed JSON, else text, else base64."""
    if name.lower().endswith(".json"):
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise Unprocessable("input file %s is not JSON: %s" % (name, exc)) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def as_message(name: str, data: bytes) -> Dict[str, Any]:
    """One input file as the message the model gets."""
    if name.lower().endswith(".json"):
        value = as_value(name, data)
        if isinstance(value, dict) and ("inputs" in value or
                                        any(key in value for key in SELDON_KEYS)):
            return value
        return {"jsonData": value}
    try:
        return {"strData": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"binData": base64.b64encode(data).decode("ascii")}


def output_bytes(name: str, result: Any) -> bytes:
    """What one output file holds: the answer's payload, else the whole answer."""
    if isinstance(result, dict):
        for key in ("jsonData", "strData", "binData"):
            if key in result:
                if key == "binData":
                    return base64.b64decode(result[key])
                return value_bytes(name, result[key])
    return json.dumps(result).encode("utf-8")


def value_bytes(name: str, value: Any) -> bytes:
    if isinstance(value, str) and not name.lower().endswith(".json"):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8")

