"""What every protocol serves: the loaded model, its settings, metrics, readiness, metadata."""

import logging
from typing import Any, Callable, Optional

from ..budget import Budget
from ..codecs import limits
from ..errors import NotReady
from .component import Component
from .metadata import build_metadata
from .signature import Signature

log = logging.getLogger("modelkiln")


class LoadState(object):
    """Whether this worker's ``load()`` has finished, is running or failed."""

    def __init__(self) -> None:
        self.ready = False
        self.error = None  # type: Optional[str]

    def check(self) -> None:
        if self.ready:
            return
        if self.error is not None:  # the details are in the server log, not for clients
            raise NotReady("the model failed to load; the server log says why")
        raise NotReady("model is still loading (load() has not finished)")


class ServingContext(object):
    """The model as every protocol sees it, built once per server."""

    def __init__(self, settings: Any, component: Component, metrics: Any = None,
                 load_state: Optional[LoadState] = None, tracing: Any = None) -> None:
        self.settings = settings
        self.component = component
        self.tracing = tracing  # tracing.Tracing, or None: handlers are built without spans
        if tracing is not None:
            component.instrument(tracing.user_method)
        self.metrics = metrics
        self.state = load_state or LoadState()
        self.limit = settings.max_request_size
        # What this worker's connections buffer, REST and gRPC loops together
        self.budget = Budget(settings.memory_budget)
        limits.configure(settings)
        self.metadata, self.metadata_error = build_metadata(
            component.init_metadata, settings.model_metadata, settings.unit_image)
        if self.metadata_error:
            log.error("%s", self.metadata_error)
        self.signature = Signature.from_metadata(self.metadata)
        # a model whose own library checks its inputs (MLflow's schema enforcement, with its
        # own rules and messages) declares them as metadata only
        self.signature.checks_inputs = not getattr(component.obj, "enforces_signature", False)
        self.lock = component.lock
        self.admission = None  # type: Any  (inference.batching.Admission: create_app sets it)
        self.batch_rows = 1  # the batcher's rows per call (create_app sets it; 1: no batching)

    def call(self, method: Callable[..., Any], *args: Any) -> Any:
        """Run user code, one call at a time when FLASK_SINGLE_THREADED asks for it."""
        if self.lock is None:
            return method(*args)
        with self.lock:
            return method(*args)

    def call_model(self, method: Callable[..., Any], *args: Any) -> Any:
        """A protocol's request to the model (Seldon v1, V2, Triton; REST and gRPC): as
        ``call``, except with adaptive batching, where each user method takes the lock for
        its own call (``Component.guard``): the request is decoded and its answer encoded
        while the batching thread runs the model, which never waits for the lock."""
        if self.lock is None or self.component.guarded:
            return method(*args)
        with self.lock:
            return method(*args)
