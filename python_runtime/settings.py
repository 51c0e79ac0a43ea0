"""Every runtime setting, declared once: env var, CLI flag, default, parser and help.

``Settings.load(argv, environ)`` is the only place that reads ``os.environ`` for the runtime.
Precedence: command-line flag > environment variable > the app's ``.s2i/environment`` >
default. The documentation site's settings reference is written from ``SETTINGS``
(``docs/hooks/reference.py``).
"""

import argparse
import os
from typing import Any, Callable, Dict, List, Optional, Sequence

SERVICE_TYPES = (
    "MODEL",
    "ROUTER",
    "TRANSFORMER",
    "OUTPUT_TRANSFORMER",
    "COMBINER",
    "OUTLIER_DETECTOR",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# what a model folder may hold (python_runtime/model/formats/ has one module for each but auto)
MODEL_FORMATS = ("auto", "seldon", "catwalk", "modzy", "gppi", "mlflow", "triton")
ANNOTATIONS_FILE = "/etc/podinfo/annotations"
REST_TIMEOUT_ANNOTATION = "seldon.io/rest-timeout"
GRPC_MAX_MESSAGE_ANNOTATION = "seldon.io/grpc-max-message-size"
UNKNOWN_IMAGE = "NOT_IMPLEMENTED:NOT_IMPLEMENTED"
MIN_MEMORY_BUDGET = 16 << 20  # the default budget's floor: room for request heads


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y", "on"):
        return True
    if value in ("0", "false", "f", "no", "n", "off", ""):
        return False
    raise ValueError("expected true/false or 1/0, got %r" % text)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1, got %d" % value)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more, got %d" % value)
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port 0-65535, got %d" % value)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be greater than 0, got %s" % text)
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be 0 or more, got %s" % text)
    return value


def _choice(choices: Sequence[str], upper: bool = False) -> Callable[[str], str]:
    """One of ``choices``, whatever the case it is written in."""
    def parse(text: str) -> str:
        value = text.strip().upper() if upper else text.strip().lower()
        if value not in choices:
            raise ValueError("must be one of %s, got %r" % (", ".join(choices), text))
        return value

    return parse


def _upper_choice(choices: Sequence[str]) -> Callable[[str], str]:
    return _choice(choices, upper=True)


def _lower_choice(choices: Sequence[str]) -> Callable[[str], str]:
    return _choice(choices)


def _endpoint(text: str) -> str:
    if not text.startswith("/"):
        raise ValueError("must start with '/', got %r" % text)
    return text


def _prefix(text: str) -> str:
    """A path prefix: /name[/name...], no trailing slash."""
    if not text.startswith("/") or text.endswith("/") or "//" in text or len(text) < 2:
        raise ValueError("a path prefix such as /v1: it starts with '/' and does not end "
                         "with one, got %r" % text)
    return text


def _folders(text: str) -> Optional[Sequence[str]]:
    """Absolute folders separated by ':' or ','; none (an empty value) is None."""
    folders = [part.strip() for part in text.replace(",", ":").split(":") if part.strip()]
    for folder in folders:
        if not os.path.isabs(folder):
            raise ValueError("each folder must be an absolute path, got %r" % folder)
    return tuple(os.path.normpath(folder) for folder in folders) or None


def _size(text: str) -> int:
    """Bytes, with an optional k/m/g suffix (binary multiples)."""
    raw = text.strip().lower()
    factor = 1
    for suffix, mult in (("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)):
        if raw.endswith(suffix) or raw.endswith(suffix + "b"):
            raw = raw[: raw.rindex(suffix)]
            factor = mult
            break
    value = int(float(raw) * factor)
    if value < 1:
        raise ValueError("must be a positive size such as 100m, got %r" % text)
    return value


class Setting(object):
    """One setting: where it comes from, its default and how it is parsed."""

    def __init__(
        self,
        name: str,
        env: Optional[str],
        flag: Optional[str],
        default: Any,
        parse: Callable[[str], Any],
        help: str,
        aliases: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.env = env
        self.flag = flag
        self.default = default
        self.parse = parse
        self.help = help
        self.aliases = tuple(aliases)

    @property
    def is_bool(self) -> bool:
        return self.parse is parse_bool

    def from_text(self, text: str, source: str) -> Any:
        try:
            return self.parse(text)
        except ValueError as exc:
            raise SettingsError("%s=%r is invalid: %s" % (source, text, exc)) from exc


SETTINGS = (
    Setting("model_name", "MODEL_NAME", None, None, str,
            "User class: `Module` (file Module.py, class Module) or `pkg.mod.Class`. Set, the "
            "folder is a Seldon-class folder whatever else it holds; unset, the folder's "
            "files say which system's model it is (MODELKILN_MODEL_FORMAT)."),
    Setting("model_format", "MODELKILN_MODEL_FORMAT", "--model-format", "auto",
            _lower_choice(MODEL_FORMATS),
            "What the folder holds: `seldon` (a class named by MODEL_NAME), `catwalk` "
            "(model.yml + model.py), `modzy` (Modzy's Python model template: model.yaml + "
            "app.py calling flask_psc_model's create_app), `gppi` (ODAHU's trained-model "
            "artifact: odahuflow.project.yaml), `mlflow` (an MLflow model: MLmodel with a "
            "python_function flavor), `triton` (a Triton Python-backend model: config.pbtxt + "
            "model.py), or `auto`: `seldon` when "
            "MODEL_NAME is set, otherwise found from the folder's files."),
    Setting("service_type", "SERVICE_TYPE", "--service-type", "MODEL",
            _upper_choice(SERVICE_TYPES), "One of " + ", ".join(SERVICE_TYPES) + "."),
    Setting("parameters", "PREDICTIVE_UNIT_PARAMETERS", "--parameters", "[]", str,
            "Constructor arguments: JSON list of {name, value, type}."),
    Setting("http_port", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "--http-port", 9000, _port,
            "REST port."),
    Setting("metrics_port", "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", "--metrics-port", 6000,
            _port, "Prometheus metrics port."),
    Setting("grpc_port", "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", "--grpc-port", 5000, _port,
            "gRPC port: Seldon's services and V2's GRPCInferenceService."),
    Setting("modzy_port", "PSC_MODEL_PORT", "--modzy-port", None, _port,
            "When set, this port also serves Modzy's file-job API (/status, /run, /shutdown); "
            "file names from the app's model.yaml. For a Modzy template folder "
            "(MODELKILN_MODEL_FORMAT=modzy) it is the REST port instead, which serves that "
            "API whether it is set or not."),
    Setting("modzy_factory", "PSC_MODEL_FACTORY", "--modzy-factory", None, str,
            "Modzy template folders: the model factory (`package.module.Class`, or a function "
            "returning the model) when app.py's `create_app(...)` does not name one modelkiln "
            "can follow without running app.py (as flask_psc_model reads it when "
            "`create_app()` is given none)."),
    Setting("job_roots", "MODELKILN_JOB_ROOTS", "--job-roots", None, _folders,
            "Folders (absolute, separated by ':' or ',') that Modzy's /run jobs are confined "
            "to: their input and output folders, symlinks resolved, must lie inside one of "
            "them, else 400. Unset: any absolute folder but the system folders (/, /bin, "
            "/boot, /dev, /etc, /lib*, /proc, /root, /run, /sbin, /sys, /usr, /var). Either "
            "way the app folder and modelkiln's own install (its package, the Python "
            "environment serving) are refused, relative paths too. `modelkiln manifests` sets "
            "it to the folder where it mounts the job volume."),
    Setting("docs", "MODELKILN_DOCS", None, True, parse_bool,
            "Serve the interactive API page at /docs (and redirect / to it)."),
    Setting("openai_prefix", "MODELKILN_OPENAI_PREFIX", "--openai-prefix", "/v1", _prefix,
            "Path prefix of the OpenAI-compatible routes (chat/completions, completions, "
            "embeddings, models), served when the class defines chat_completions(), "
            "completions() or embeddings(); it must not lie under Seldon's /api or V2's /v2."),
    Setting("stream_threads", "MODELKILN_STREAM_THREADS", "--stream-threads", 8, _positive_int,
            "Threads of a worker that ask the model's generators for the next piece of "
            "streamed answers (Server-Sent Events); the event loop itself never runs them."),
    Setting("docs_assets", "MODELKILN_DOCS_ASSETS", "--docs-assets", None, str,
            "Folder holding Swagger UI's swagger-ui-bundle.js and swagger-ui.css for /docs "
            "(default: the image's copy, else the swagger-ui-bundle package)."),
    Setting("grpc_workers", "GRPC_WORKERS", "--grpc-workers", 1, _non_negative_int,
            "0 turns gRPC off. Otherwise every REST worker also serves gRPC, with the same "
            "model copy (the number itself is not used: there are no separate gRPC workers)."),
    Setting("grpc_threads", "GRPC_THREADS", "--grpc-threads", 4, _positive_int,
            "Threads that run a worker's gRPC calls when GUNICORN_THREADS > 1 (the model "
            "takes concurrent calls) or a queue limit is set (the calls then still enter the "
            "model one at a time); otherwise its calls run one at a time on its gRPC "
            "thread."),
    Setting("grpc_max_message_size", "MODELKILN_GRPC_MAX_MESSAGE_SIZE",
            "--grpc-max-message-size", None, _size,
            "Largest gRPC message in or out (bytes, or 10k/100m/1g); default: the pod "
            "annotation seldon.io/grpc-max-message-size, else MODELKILN_MAX_REQUEST_SIZE."),
    Setting("grpc_idle_timeout", "MODELKILN_GRPC_IDLE_TIMEOUT", "--grpc-idle-timeout", 300.0,
            _positive_float,
            "Seconds a gRPC connection without a call in progress stays open; then it gets "
            "GOAWAY and is closed (clients reconnect when they next call)."),
    Setting("metrics_endpoint", "PREDICTIVE_UNIT_METRICS_ENDPOINT", "--metrics-endpoint",
            "/metrics", _endpoint, "Path of the Prometheus endpoint on the metrics port."),
    Setting("unit_id", "PREDICTIVE_UNIT_ID", "--unit-id", None, str,
            "Graph node name; with it, responses carry meta.requestPath[id] = image."),
    Setting("unit_image", "PREDICTIVE_UNIT_IMAGE", "--unit-image", None, str,
            "Image name:tag reported in requestPath, metadata and metric labels."),
    Setting("deployment_name", "SELDON_DEPLOYMENT_ID", None, "NOT_IMPLEMENTED", str,
            "Deployment name metric label."),
    Setting("predictor_name", "PREDICTOR_ID", None, "NOT_IMPLEMENTED", str,
            "Predictor name metric label."),
    Setting("predictor_labels", "PREDICTOR_LABELS", None, "{}", str,
            "JSON labels of the predictor; `version` becomes a metric label."),
    Setting("workers", "GUNICORN_WORKERS", "--workers", 1, _positive_int,
            "Worker processes."),
    Setting("threads", "GUNICORN_THREADS", "--threads", 1, _positive_int,
            "Threads per worker that run requests: with more than 1, each worker's loop hands "
            "requests to that many threads (the model must take concurrent calls)."),
    Setting("max_batch_size", "MODELKILN_MAX_BATCH_SIZE", "--max-batch-size", 1, _positive_int,
            "Adaptive batching: the most rows one model call gets from concurrent Seldon and "
            "V2 requests (REST and gRPC) merged along the first axis; 1 (the default) turns "
            "batching off. The model must answer one row per input row."),
    Setting("max_batch_time", "MODELKILN_MAX_BATCH_TIME", "--max-batch-time", 0.005,
            _non_negative_float,
            "Adaptive batching: seconds the oldest waiting request waits for others to merge "
            "with, at most; a batch starts sooner once every request the worker has taken "
            "in has joined it (so a lone request does not wait)."),
    Setting("queue_limit", "MODELKILN_QUEUE_LIMIT", "--queue-limit", 0, _non_negative_int,
            "Requests a worker holds for the model at once (waiting or running); beyond it "
            "a request is refused at once: 503 with Retry-After on REST, UNAVAILABLE on "
            "gRPC. 0: no limit."),
    Setting("gpus_per_worker", "MODELKILN_GPUS_PER_WORKER", "--gpus-per-worker", 0,
            _non_negative_int,
            "GPUs each worker gets: its own CUDA_VISIBLE_DEVICES slice of the devices the "
            "container sees, round robin (workers share devices when there are more workers "
            "than devices). 0: every worker sees every device. Needs "
            "MODELKILN_CONSTRUCT_IN=worker (CUDA must start after the fork)."),
    Setting("gpu_check", "MODELKILN_GPU_CHECK", "--gpu-check", True, parse_bool,
            "At start, on an image with CUDA or a node with a GPU, log the GPU doctor's "
            "findings once (driver, CUDA runtime, what the installed frameworks can use; "
            "python -m python_runtime.gpu), from a child process beside the workers."),
    Setting("max_requests", "GUNICORN_MAX_REQUESTS", "--max-requests", 0, _non_negative_int,
            "Restart a worker after this many requests (0: never)."),
    Setting("max_requests_jitter", "GUNICORN_MAX_REQUESTS_JITTER", "--max-requests-jitter", 0,
            _non_negative_int, "Random extra requests added to max-requests per worker."),
    Setting("keepalive", "GUNICORN_KEEPALIVE", "--keepalive", 2, _non_negative_int,
            "Seconds to hold an idle keep-alive connection open (0: close after each answer)."),
    Setting("timeout", "GUNICORN_TIMEOUT", "--timeout", 60.0, _positive_float,
            "Seconds a request may run before its worker is killed and replaced (the "
            "request gets no answer). Only with GUNICORN_THREADS=1 and neither a queue limit "
            "nor adaptive batching: otherwise a stuck request is never ended (the worker's "
            "loop keeps reporting to gunicorn). "
            "The pod annotation seldon.io/rest-timeout (ms) is used when this is unset."),
    Setting("graceful_timeout", "GUNICORN_GRACEFUL_TIMEOUT", "--graceful-timeout", 30.0,
            _positive_float, "Seconds SIGTERM waits for in-flight requests."),
    Setting("access_log", "GUNICORN_ACCESS_LOG", "--access-log", False, parse_bool,
            "Log every request to stdout."),
    Setting("single_threaded", "FLASK_SINGLE_THREADED", "--single-threaded", False, parse_bool,
            "Serialise calls into the user class (one request at a time per worker)."),
    Setting("payload_passthrough", "PAYLOAD_PASSTHROUGH", "--payload-passthrough", False,
            parse_bool, "predict/predict_raw receive the raw body and return it unencoded."),
    Setting("log_level", "SELDON_LOG_LEVEL", "--log-level", "INFO", _upper_choice(LOG_LEVELS),
            "Log level.", aliases=("LOG_LEVEL",)),
    Setting("log_format", "MODELKILN_LOG_FORMAT", "--log-format", "text",
            _lower_choice(LOG_FORMATS),
            "text, or json: one JSON object per line (time, level, logger, message, pid, and "
            "request_id inside a request), access lines too."),
    Setting("header_timeout", "MODELKILN_HEADER_TIMEOUT", "--header-timeout", 10.0,
            _positive_float,
            "Seconds a client may take to send a request's line and headers; then 408 and the "
            "connection is closed (a slow client holds a buffer, never the worker)."),
    Setting("body_timeout", "MODELKILN_BODY_TIMEOUT", "--body-timeout", 60.0, _positive_float,
            "Seconds a client may take to send a request's body once its headers are in; "
            "then 408 and the connection is closed."),
    Setting("max_elements", "MODELKILN_MAX_ELEMENTS", "--max-elements", 1 << 27,
            _positive_int,
            "Most elements one request tensor may have (tftensor, tensor and V2 shapes); "
            "more gets 400 naming the limit."),
    Setting("max_metric_series", "MODELKILN_MAX_METRIC_SERIES", "--max-metric-series", 1000,
            _non_negative_int,
            "Most distinct custom metric series (name, type, method, tags) per worker; "
            "beyond it new ones are dropped, with one warning per name."),
    Setting("max_request_size", "MODELKILN_MAX_REQUEST_SIZE", "--max-request-size", 100 << 20,
            _size, "Largest accepted request body (bytes, or 10k/100m/1g); larger gets 413."),
    Setting("memory_budget", "MODELKILN_MEMORY_BUDGET", "--memory-budget", None, _size,
            "Most bytes one worker buffers for its connections, REST and gRPC together: "
            "requests received and not yet answered, answers not yet sent (bytes, or "
            "100m/1g). A request that would go past it gets 503 (gRPC: RESOURCE_EXHAUSTED) "
            "instead of the worker growing. Default: twice MODELKILN_MAX_REQUEST_SIZE, at least "
            "16m."),
    Setting("write_timeout", "MODELKILN_WRITE_TIMEOUT", "--write-timeout", 30.0,
            _positive_float,
            "Seconds an answer may wait for a client that does not read it (no byte taken "
            "in that time); then the connection is closed and its memory freed."),
    Setting("max_form_parts", "MODELKILN_MAX_FORM_PARTS", "--max-form-parts", 1000,
            _positive_int,
            "Most parts in a multipart/form-data request; more gets 413 before any part is "
            "parsed."),
    Setting("v2_model_name", "MODELKILN_V2_MODEL_NAME", "--v2-model-name", None, str,
            "Model name in V2 paths (/v2/models/NAME); default: PREDICTIVE_UNIT_ID when set "
            "(Seldon's graph node name), else the class name of MODEL_NAME."),
    Setting("v2_model_version", "MODELKILN_V2_MODEL_VERSION", "--v2-model-version", None, str,
            "Model version in V2 paths and answers; default: none (only unversioned paths)."),
    Setting("construct_in", "MODELKILN_CONSTRUCT_IN", "--construct-in", "worker",
            _lower_choice(("worker", "master")),
            "Where the class is constructed. worker: in each worker after the fork, so work "
            "done in __init__ (a framework's thread pool, a GPU context) is never inherited "
            "across a fork, where it can hang; master: once, before the fork, as Seldon "
            "does (__init__ runs once; fork-unsafe work there can hang the workers)."),
    Setting("load_retries", "MODELKILN_LOAD_RETRIES", "--load-retries", 2, _non_negative_int,
            "Times a failing load() is tried again (after 1, 2, 4 ... s, at most 30 s apart) "
            "before MODELKILN_ON_LOAD_FAILURE applies."),
    Setting("on_load_failure", "MODELKILN_ON_LOAD_FAILURE", "--on-load-failure", "exit",
            _lower_choice(("exit", "unready")),
            "When load() keeps failing. exit: the server stops with exit code 3, so Kubernetes "
            "restarts the pod and the log says why; unready: it stays up, /live 200, /ready and "
            "predictions 503."),
    Setting("model_metadata", "MODEL_METADATA", None, None, str,
            "Model metadata as YAML or JSON; overrides init_metadata()."),
    Setting("persistence", "PERSISTENCE", "--persistence", False, parse_bool,
            "Accepted for old apps and ignored (Seldon removed it)."),
    Setting("conda_env", "CONDA_DEFAULT_ENV", None, None, str,
            "Set by the image's run script: the conda environment serving (logged at start)."),
    Setting("conda_prefix", "CONDA_PREFIX", None, None, str,
            "Set by the image's run script: that environment's folder."),
    Setting("debug", "SELDON_DEBUG", "--debug", False, parse_bool,
            "Run Flask's development server (one process, no reloader, never Werkzeug's "
            "interactive debugger) instead of gunicorn; it listens on 127.0.0.1 unless "
            "MODELKILN_BIND_HOST says otherwise."),
    Setting("tls_cert", "MODELKILN_TLS_CERT", "--tls-cert", None, str,
            "PEM certificate (chain) file: with MODELKILN_TLS_KEY, the REST and metrics ports "
            "serve HTTPS and gRPC serves TLS. A relative path (for the three TLS files) is "
            "taken from the app folder; the files are loaded at start, and a missing, "
            "mismatched, encrypted or non-PEM one stops the server with a line naming it."),
    Setting("tls_key", "MODELKILN_TLS_KEY", "--tls-key", None, str,
            "PEM private key file of MODELKILN_TLS_CERT, unencrypted (the server has no "
            "password to give)."),
    Setting("tls_client_ca", "MODELKILN_TLS_CLIENT_CA", "--tls-client-ca", None, str,
            "PEM CA file: clients must present a certificate it signed (mutual TLS)."),
    Setting("pidfile", None, "--pidfile", None, str, "Write the server's pid here."),
    Setting("bind_host", "MODELKILN_BIND_HOST", "--host", "0.0.0.0", str,
            "Address to listen on (127.0.0.1 by default with --debug)."),
)

BY_NAME = {s.name: s for s in SETTINGS}


class Settings(object):
    """Resolved settings; attribute names are the ``Setting.name`` values. ``defaulted``: the
    settings nobody gave (a model format may choose them); ``environment``: the variables
    they were read from (the app's ``.s2i/environment`` under the process environment), for a
    model format's own variables."""

    def __init__(self, values: Dict[str, Any], app_dir: str,
                 defaulted: Sequence[str] = (),
                 environment: Optional[Dict[str, str]] = None) -> None:
        self.__dict__.update(values)
        self.app_dir = app_dir
        self.defaulted = frozenset(defaulted)
        self.environment = dict(environment or {})

    def as_dict(self) -> Dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in SETTINGS}

    @property
    def request_path(self) -> Dict[str, str]:
        return {self.unit_id: self.image_or_placeholder} if self.unit_id else {}

    @property
    def image_or_placeholder(self) -> str:
        return self.unit_image or UNKNOWN_IMAGE

    @classmethod
    def load(
        cls,
        argv: Optional[List[str]] = None,
        environ: Optional[Dict[str, str]] = None,
        read_annotations: bool = True,
    ) -> "Settings":
        environ = dict(os.environ if environ is None else environ)
        args = build_parser().parse_args(argv)
        if args.api_type:
            raise SettingsError(
                "unexpected argument %r: the API type is no longer a CLI argument "
                "(REST is always served); remove it" % args.api_type
            )
        app_dir = os.getcwd()
        target = args.target
        if target and os.path.isdir(target):
            app_dir = os.path.abspath(target)
            target = None
        file_env = read_s2i_environment(app_dir)
        values = {}
        defaulted = set()
        for setting in SETTINGS:
            flag_value = getattr(args, setting.name, None) if setting.flag else None
            if flag_value is not None:
                values[setting.name] = (
                    flag_value if not isinstance(flag_value, str)
                    else setting.from_text(flag_value, setting.flag)
                )
                continue
            found = False
            for env_name in ((setting.env,) if setting.env else ()) + setting.aliases:
                for source, mapping in (("", environ), (".s2i/environment: ", file_env)):
                    if env_name in mapping:
                        values[setting.name] = setting.from_text(
                            mapping[env_name], source + env_name
                        )
                        found = True
                        break
                if found:
                    break
            if not found:
                values[setting.name] = setting.default
                defaulted.add(setting.name)
        if target:
            values["model_name"] = target
        if values["model_name"] and values["model_format"] == "auto":
            values["model_format"] = "seldon"
        if not values["model_name"] and values["model_format"] == "seldon":
            raise SettingsError(NO_MODEL)
        if "timeout" in defaulted and read_annotations:
            annotated = rest_timeout_from_annotations(ANNOTATIONS_FILE)
            if annotated:
                values["timeout"] = annotated
        check_tls(values, app_dir)
        if values["gpus_per_worker"] and values["construct_in"] == "master":
            raise SettingsError(
                "MODELKILN_GPUS_PER_WORKER=%d gives each worker its own GPUs, but "
                "MODELKILN_CONSTRUCT_IN=master constructs the class before the workers exist "
                "(and CUDA started before a fork does not work in the children): set "
                "MODELKILN_CONSTRUCT_IN=worker" % values["gpus_per_worker"])
        if values["debug"] and "bind_host" in defaulted:
            values["bind_host"] = "127.0.0.1"  # a development server: not on every interface
        if values["grpc_max_message_size"] is None:
            annotated = (grpc_max_message_from_annotations(ANNOTATIONS_FILE)
                         if read_annotations else None)
            values["grpc_max_message_size"] = annotated or values["max_request_size"]
        if values["memory_budget"] is None:
            values["memory_budget"] = max(2 * values["max_request_size"], MIN_MEMORY_BUDGET)
        merged = dict(file_env)
        merged.update(environ)
        return cls(values, app_dir, defaulted, merged)

    def replaced(self, **changes: Any) -> "Settings":
        """A copy with ``changes`` (a model format filling in what the folder says)."""
        values = dict(self.__dict__)
        values.update(changes)
        copy = Settings.__new__(Settings)
        copy.__dict__.update(values)
        copy.defaulted = self.defaulted - set(changes)
        return copy


NO_MODEL = ("no model class given: pass MODEL_NAME as the first argument, set MODEL_NAME, or "
            "point at an app folder whose .s2i/environment sets it")


def check_tls(values: Dict[str, Any], app_dir: str) -> None:
    """The TLS files made absolute (a relative path is taken from the app folder, the
    workers' working folder) and loaded once here, in the master: a wrong file stops the
    start with one line naming its variable, not a traceback in every worker."""
    cert, key, client_ca = values["tls_cert"], values["tls_key"], values["tls_client_ca"]
    if bool(cert) != bool(key):
        raise SettingsError("MODELKILN_TLS_CERT and MODELKILN_TLS_KEY go together: set both "
                            "(HTTPS and gRPC TLS) or neither")
    if client_ca and not cert:
        raise SettingsError("MODELKILN_TLS_CLIENT_CA needs MODELKILN_TLS_CERT and "
                            "MODELKILN_TLS_KEY (the server's own certificate) as well")
    for setting in ("tls_cert", "tls_key", "tls_client_ca"):
        path = values[setting]
        if not path:
            continue
        full = os.path.join(app_dir, path)  # an absolute path stays as it is
        if not os.path.isfile(full) or not os.access(full, os.R_OK):
            where = "" if full == path else (
                " (%s; a relative path is taken from the app folder %s)" % (full, app_dir))
            raise SettingsError("%s=%s: no readable file there%s: mount the secret, or give "
                                "the file's absolute path" % (BY_NAME[setting].env, path, where))
        values[setting] = full
    if cert:
        from .tls import TLSFilesError, build_context

        try:
            build_context(values["tls_cert"], values["tls_key"], values["tls_client_ca"])
        except TLSFilesError as exc:
            raise SettingsError(str(exc)) from exc


def from_environment(name: str, environ: Optional[Dict[str, str]] = None) -> Any:
    """One setting from the environment alone, for a process with no app folder (``modelkiln
    batch`` applies the server's request size limit to the lines it sends)."""
    setting = BY_NAME[name]
    environ = os.environ if environ is None else environ
    for env_name in ((setting.env,) if setting.env else ()) + setting.aliases:
        if env_name in environ:
            return setting.from_text(environ[env_name], env_name)
    return setting.default


def read_yaml_mapping(path: str, what: str) -> Dict[str, Any]:
    """A model folder's YAML file that must hold a mapping; a SettingsError names the file
    and, when it holds no mapping, ``what`` it should hold."""
    import yaml

    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError("%s cannot be read: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise SettingsError("%s holds no mapping (%s)" % (path, what))
    return data


def read_env_file(path: str) -> Dict[str, str]:
    """``KEY=VALUE`` lines with s2i's rules: # comments and malformed lines are skipped,
    keys and values trimmed. A missing file reads as empty."""
    result = {}
    try:
        with open(path, "r") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return result
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def read_s2i_environment(app_dir: str) -> Dict[str, str]:
    """The app's ``.s2i/environment``."""
    return read_env_file(os.path.join(app_dir, ".s2i", "environment"))


def _annotation(path: str, name: str) -> Optional[str]:
    """The value of one pod annotation from the downward-API file, if present."""
    try:
        with open(path, "r") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip().strip('"')
    return None


def rest_timeout_from_annotations(path: str) -> Optional[float]:
    """Seconds from the pod annotation ``seldon.io/rest-timeout`` (milliseconds), if present."""
    value = _annotation(path, REST_TIMEOUT_ANNOTATION)
    try:
        return max(float(value) / 1000.0, 1.0) if value is not None else None
    except ValueError:
        return None


def grpc_max_message_from_annotations(path: str) -> Optional[int]:
    """Bytes from the pod annotation ``seldon.io/grpc-max-message-size``, if present."""
    value = _annotation(path, GRPC_MAX_MESSAGE_ANNOTATION)
    try:
        return int(value) if value is not None and int(value) > 0 else None
    except ValueError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelkiln serve",
        description="Serve a Python model class as a Seldon-compatible REST microservice.",
    )
    parser.add_argument(
        "target", nargs="?",
        help="MODEL_NAME (Module or pkg.mod.Class), or an app folder with .s2i/environment",
    )
    parser.add_argument("api_type", nargs="?", help=argparse.SUPPRESS)
    for setting in SETTINGS:
        if not setting.flag:
            continue
        env_note = " [env %s]" % setting.env if setting.env else ""
        if setting.is_bool:
            parser.add_argument(
                setting.flag, dest=setting.name, action="store_const", const=True,
                default=None, help=setting.help + env_note,
            )
        else:
            parser.add_argument(
                setting.flag, dest=setting.name, default=None,
                help="%s (default: %s)%s" % (setting.help, setting.default, env_note),
            )
    return parser
