"""The user's object, with every optional method looked up once, at load time.

A method counts as present when the class defines it; stubs inherited from Seldon's
``SeldonComponent`` (which only raise "not implemented") count as absent.
"""

import inspect
import threading
from typing import Any, Callable, Dict, List, Optional

from ..errors import BadMetricError, MethodMissing

# What each SERVICE_TYPE needs from the class (any one of the names).
REQUIRED_METHODS = {
    "MODEL": ("predict", "predict_raw", "predict_rest", "predict_v2_raw", "predict_stream",
              "generate", "generate_stream", "chat_completions", "completions", "embeddings"),
    "ROUTER": ("route", "route_raw", "route_rest"),
    "TRANSFORMER": ("transform_input", "transform_input_raw", "transform_input_rest"),
    "OUTPUT_TRANSFORMER": ("transform_output", "transform_output_raw", "transform_output_rest"),
    "COMBINER": ("aggregate", "aggregate_raw", "aggregate_rest"),
    "OUTLIER_DETECTOR": ("score",),
}

METRIC_TYPES = ("COUNTER", "GAUGE", "TIMER")
_SELDON_STUB_MODULE = "seldon_core.user_model"


def user_method(obj: Any, name: str) -> Optional[Callable[..., Any]]:
    """The bound method ``name`` if the user's class really implements it."""
    attr = getattr(obj, name, None)
    if attr is None or not callable(attr):
        return None
    func = getattr(attr, "__func__", attr)
    if getattr(func, "__module__", None) == _SELDON_STUB_MODULE:
        return None
    return attr


def is_seldon_placeholder(obj: Any, name: str) -> bool:
    """Whether ``obj.name`` is one of SeldonComponent's placeholders (not implemented)."""
    func = getattr(getattr(obj, name, None), "__func__", None)
    return getattr(func, "__module__", None) == _SELDON_STUB_MODULE


def declined(exc: BaseException) -> bool:
    """Whether ``exc`` is Seldon's SeldonNotImplementedError (from seldon-core or modelkiln's
    stand-in): a user method saying, at call time, that it is not implemented. Seldon then
    answers as if the method were absent, and so does modelkiln."""
    return any(c.__name__ == "SeldonNotImplementedError" and c.__module__ == _SELDON_STUB_MODULE
               for c in type(exc).__mro__)


def or_default(default: Any, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``, or ``default`` when it raises SeldonNotImplementedError."""
    try:
        return method(*args, **kwargs)
    except Exception as exc:
        if declined(exc):
            return default
        raise


def accepts_keyword(func: Callable[..., Any], keyword: str) -> Optional[bool]:
    """Whether ``func`` takes ``keyword``; None when the signature cannot be read."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    for param in params:
        if param.kind == param.VAR_KEYWORD:
            return True
        if param.name == keyword and param.kind in (param.POSITIONAL_OR_KEYWORD,
                                                     param.KEYWORD_ONLY):
            return True
    return False


_DEFAULT_NAMES = {}  # type: Dict[int, List[str]]  # width -> t:0, t:1, ... (copied out)

class Endpoint(object):
    """The user methods behind one operation: ``raw`` wins over ``high``. A raw method is
    ``<name>_raw``, or Seldon's deprecated REST-only ``<name>_rest``, which wins over it."""

    __slots__ = ("name", "high", "raw", "takes_meta")

    def __init__(self, name: str, obj: Any) -> None:
        self.name = name
        self.raw = user_method(obj, name + "_rest") or user_method(obj, name + "_raw")
        self.high = user_method(obj, name)
        self.takes_meta = accepts_keyword(self.high, "meta") if self.high else False

    def wrap(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        if self.raw is not None:
            self.raw = wrap(self.raw)
        if self.high is not None:
            self.high = wrap(self.high)

    @property
    def present(self) -> bool:
        return self.raw is not None or self.high is not None

    def call_high(self, *args: Any, **kwargs: Any) -> Any:
        """Call the high-level method, passing ``meta`` only where it is accepted."""
        meta = kwargs.pop("meta", None)
        if self.takes_meta:
            return self.high(*args, meta=meta, **kwargs)
        if self.takes_meta is None:  # unknown signature: try with meta, as Seldon does
            try:
                return self.high(*args, meta=meta, **kwargs)
            except TypeError:
                pass
        return self.high(*args, **kwargs)


def check_service_type(target: Any, service_type: str) -> None:
    """Fail fast when the class (or object) lacks what its SERVICE_TYPE needs."""
    needed = REQUIRED_METHODS[service_type]
    if any(user_method(target, name) for name in needed):
        return
    cls = target if isinstance(target, type) else type(target)
    raise MethodMissing(
        "class %s has no %s method, which SERVICE_TYPE=%s needs: define %s(self, X, "
        "features_names), or set SERVICE_TYPE to the type this class implements"
        % (cls.__name__, " or ".join(needed[:2]), service_type, needed[0]))


class ModelLock(object):
    """The lock that keeps the model to one call at a time, knowing which thread holds it:
    a request thread waiting for its share of a batch (``inference.batching``) lets go of it
    for the batch's call."""

    __slots__ = ("_lock", "_owner", "elsewhere")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = None  # type: Optional[int]
        # Batcher.run_parked, with adaptive batching: a call from a request parked on the
        # worker's loop that finds this lock held runs on the batching thread, so the loop
        # never waits for it
        self.elsewhere = None  # type: Optional[Callable[[Callable[[], Any]], Any]]

    def acquire(self) -> None:
        self._lock.acquire()
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        self._lock.release()

    def mine(self) -> bool:
        """Whether this thread holds it."""
        return self._owner == threading.get_ident()

    def release_if_mine(self) -> bool:
        """Release it when this thread holds it; whether it did."""
        if self._owner != threading.get_ident():
            return False
        self.release()
        return True

    def guarded(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """``method`` called under this lock; a thread that holds it already (the batching
        thread, a request thread inside ``ServingContext.call``) calls it at once."""
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._owner == threading.get_ident():
                return method(*args, **kwargs)
            if self.elsewhere is None:
                self.acquire()
            elif self._lock.acquire(False):  # free: called here, at once
                self._owner = threading.get_ident()
            else:  # held (a batch runs): from a parked request, on the batching thread
                ran, result = self.elsewhere(lambda: call(*args, **kwargs))
                if ran:
                    return result
                self.acquire()
            try:
                return method(*args, **kwargs)
            finally:
                self.release()
        return call

    def __enter__(self) -> "ModelLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()


class Component(object):
    """A constructed user object plus what it implements."""

    def __init__(self, obj: Any, service_type: str, single_threaded: bool = False) -> None:
        self.obj = obj
        self.service_type = service_type
        self._endpoints = {}  # type: Dict[str, Endpoint]
        self._wraps = []  # type: List[Callable[[Callable[..., Any]], Callable[..., Any]]]
        self.score = user_method(obj, "score")
        self.load = user_method(obj, "load")
        self.tags = user_method(obj, "tags")
        self.metrics = user_method(obj, "metrics")
        self.health_status = user_method(obj, "health_status")
        self.health_status_raw = user_method(obj, "health_status_raw")
        self.health_placeholder = is_seldon_placeholder(obj, "health_status")
        self.init_metadata = user_method(obj, "init_metadata")
        self.feature_names = user_method(obj, "feature_names")
        self.v2_raw = user_method(obj, "predict_v2_raw")  # opts in to whole V2 requests
        # OpenAI-compatible endpoints (protocols.openai), each when the class defines it
        self.chat_completions = user_method(obj, "chat_completions")
        self.completions = user_method(obj, "completions")
        self.embeddings = user_method(obj, "embeddings")
        self.models = user_method(obj, "models")
        # streamed answers (streams): Seldon's predictions and V2's generate_stream
        self.predict_stream = user_method(obj, "predict_stream")
        self.generate = user_method(obj, "generate")
        self.generate_stream = user_method(obj, "generate_stream")
        names = getattr(obj, "class_names", None)
        if callable(names):
            self.class_names = user_method(obj, "class_names")  # type: Any
        else:
            self.class_names = list(names) if isinstance(names, (list, tuple)) else None
        # FLASK_SINGLE_THREADED: one call at a time into user code per worker.
        self.lock = ModelLock() if single_threaded else None  # type: Optional[ModelLock]
        self.batcher = None  # type: Any  (inference.batching.Batcher, when batching is on)
        self.guarded = False  # each user method takes self.lock itself (guard())

    def endpoint(self, name: str) -> Endpoint:
        """The user's ``name`` / ``name_raw`` / ``name_rest`` methods, looked up once."""
        found = self._endpoints.get(name)
        if found is None:
            found = self._endpoints[name] = Endpoint(name, self.obj)
            for wrap in self._wraps:
                found.wrap(wrap)
        return found

    def instrument(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        """Call the user's request methods through ``wrap(method)`` from now on (the
        tracing spans of user calls)."""
        self._wraps.append(wrap)
        for endpoint in self._endpoints.values():
            endpoint.wrap(wrap)
        for name in ("score", "v2_raw", "chat_completions", "completions", "embeddings",
                     "models", "predict_stream", "generate", "generate_stream"):
            method = getattr(self, name)
            if method is not None:
                setattr(self, name, wrap(method))

    def guard(self, lock: ModelLock) -> None:
        """Every user method takes ``lock`` for its own call (adaptive batching: request
        threads decode and encode without the lock, while the batching thread runs the
        model; the user's code is still entered by one call at a time)."""
        if self.guarded:
            return
        self.lock, self.guarded = lock, True
        self.instrument(lock.guarded)
        for name in ("tags", "metrics", "feature_names", "health_status",
                     "health_status_raw"):
            method = getattr(self, name)
            if method is not None:
                setattr(self, name, lock.guarded(method))
        if callable(self.class_names):
            self.class_names = lock.guarded(self.class_names)
        for name in getattr(self.obj, "guarded_methods", ()):  # a format's own entry points
            setattr(self.obj, name, lock.guarded(getattr(self.obj, name)))

    @property
    def streams(self) -> bool:
        """Whether the class has a method that may answer in pieces (a generator)."""
        return any(method is not None for method in (
            self.chat_completions, self.completions, self.predict_stream, self.generate,
            self.generate_stream))

    def output_names(self, array: Any) -> List[str]:
        """Names of the output columns: class_names() or t:0, t:1, ... for 2-D answers."""
        if len(array.shape) < 2:
            return []
        names = None
        if self.class_names is not None:
            names = or_default(None, self.class_names) if callable(self.class_names) else (
                self.class_names)
        if names is not None:
            return list(names)
        width = array.shape[1]
        default = _DEFAULT_NAMES.get(width)
        if default is None:
            default = ["t:%d" % i for i in range(width)]
            if width <= 1024:
                _DEFAULT_NAMES[width] = default
        return list(default)

    def input_names(self, array: Any) -> List[str]:
        if self.feature_names is not None and len(array.shape) >= 2:
            names = or_default(None, self.feature_names)
            if names is not None:
                return list(names)
        return self.output_names(array)

    def user_tags(self) -> Optional[Dict[str, Any]]:
        return or_default(None, self.tags) if self.tags is not None else None

    def user_metrics(self) -> List[Dict[str, Any]]:
        if self.metrics is None:
            return []
        return validate_metrics(or_default([], self.metrics))


def validate_metrics(metrics: Any) -> List[Dict[str, Any]]:
    """Check user metrics: a list of {type, key, value[, tags]}; else a 500 BAD_METRIC."""
    if not isinstance(metrics, list):
        raise BadMetricError("metrics() must return a list of dicts, got %s"
                             % type(metrics).__name__)
    for metric in metrics:
        if not isinstance(metric, dict):
            raise BadMetricError("each metric must be a dict, got %r" % (metric,))
        kind = metric.get("type")
        key = metric.get("key")
        value = metric.get("value")
        if kind not in METRIC_TYPES:
            raise BadMetricError("metric %r: type must be one of %s, got %r"
                                 % (key, ", ".join(METRIC_TYPES), kind))
        if not isinstance(key, str) or not key:
            raise BadMetricError("metric key must be a non-empty string, got %r" % (key,))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadMetricError("metric %r: value must be a number, got %r" % (key, value))
        tags = metric.get("tags")
        if tags is not None and not isinstance(tags, dict):
            raise BadMetricError("metric %r: tags must be a dict" % key)
    return metrics
