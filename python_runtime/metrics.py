"""Prometheus metrics, correct across gunicorn workers.

Every worker writes to prometheus_client's multiprocess files in one shared folder; a scrape
of the metrics port, answered by whichever worker, aggregates them all. Nothing is registered
at import time: ``Metrics`` builds its own registry, and prometheus_client itself is imported
only when a ``Metrics`` is created (it must see ``PROMETHEUS_MULTIPROC_DIR`` first).
"""

import bisect
import json
import logging
import math
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

from .errors import BadMetricError

REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Seldon's TIMER histogram: 0, then 50 log-spaced bounds from 1 ms to 30 s.
TIMER_BUCKETS = (0.0,) + tuple(0.001 * (30000.0 ** (i / 49.0)) for i in range(50))
BATCH_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
IDENTITY_LABELS = ("deployment_name", "model_name", "model_image", "model_version",
                   "predictor_name", "predictor_version", "method")

log = logging.getLogger("modelkiln")
MAX_DROPPED_WARNINGS = 100  # names warned about once each; then silence


def split_image(image: str) -> Tuple[str, str]:
    """``repo/name:tag`` -> (``repo/name``, ``tag``); a port colon is not a tag."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag


def set_multiprocess_dir(environ: Dict[str, str], path: str) -> None:
    """Point prometheus_client (old and new spellings) at ``path`` before it is imported."""
    environ["PROMETHEUS_MULTIPROC_DIR"] = path
    environ["prometheus_multiproc_dir"] = path


class Metrics(object):
    """Request metrics plus the user's custom metrics, for one server."""

    def __init__(self, settings: Any, multiprocess_dir: Optional[str]) -> None:
        import prometheus_client

        self._prom = prometheus_client
        self.multiprocess_dir = multiprocess_dir
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        image, version = split_image(settings.image_or_placeholder)
        try:
            predictor_version = json.loads(settings.predictor_labels).get(
                "version", "NOT_IMPLEMENTED")
        except (ValueError, AttributeError):
            predictor_version = "NOT_IMPLEMENTED"
        self.identity = {
            "deployment_name": settings.deployment_name,
            "model_name": settings.unit_id or "NOT_IMPLEMENTED",
            "model_image": image,
            "model_version": version,
            "predictor_name": settings.predictor_name,
            "predictor_version": str(predictor_version),
        }
        self.requests = prometheus_client.Counter(
            "modelkiln_http_requests", "HTTP requests answered, by route and status.",
            ("route", "status"), registry=self.registry)
        self.latency = prometheus_client.Histogram(
            "modelkiln_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and status.",
            ("route", "status"), buckets=REQUEST_BUCKETS, registry=self.registry)
        self.grpc_requests = prometheus_client.Counter(
            "modelkiln_grpc_requests", "gRPC calls answered, by method and status code.",
            ("method", "code"), registry=self.registry)
        self.grpc_latency = prometheus_client.Histogram(
            "modelkiln_grpc_request_duration_seconds",
            "Time to answer a gRPC call, by method and status code.",
            ("method", "code"), buckets=REQUEST_BUCKETS, registry=self.registry)
        self.batch_rows = prometheus_client.Histogram(
            "modelkiln_batch_rows", "Rows per model call made by adaptive batching.",
            buckets=BATCH_ROW_BUCKETS, registry=self.registry)
        self.batch_queue = prometheus_client.Histogram(
            "modelkiln_batch_queue_seconds",
            "Time a request waited for its batch's model call to start.",
            buckets=REQUEST_BUCKETS, registry=self.registry)
        self.stream_first = prometheus_client.Histogram(
            "modelkiln_stream_first_piece_seconds",
            "Time from a streamed request's answer to its first piece, by route.",
            ("route",), buckets=REQUEST_BUCKETS, registry=self.registry)
        self.stream_pieces = prometheus_client.Counter(
            "modelkiln_stream_pieces", "Pieces written in streamed answers, by route (its "
            "rate is pieces per second).", ("route",), registry=self.registry)
        self.refused = prometheus_client.Counter(
            "modelkiln_requests_refused", "Requests refused at once because the worker's "
            "queue was full (MODELKILN_QUEUE_LIMIT), by protocol.", ("protocol",),
            registry=self.registry)
        labels = IDENTITY_LABELS
        self.feedback = prometheus_client.Counter(
            "seldon_api_model_feedback", "Feedback requests received.", labels,
            registry=self.registry)
        self.feedback_reward = prometheus_client.Counter(
            "seldon_api_model_feedback_reward", "Sum of feedback rewards.", labels,
            registry=self.registry)
        self._request_children = {}  # type: Dict[Tuple[str, int], Tuple[Any, Any]]
        self._custom = {}  # type: Dict[Tuple[str, str], Tuple[Any, Tuple[str, ...]]]
        self._lock = threading.Lock()
        self.max_series = getattr(settings, "max_metric_series", 1000)
        self._series = set()  # type: set
        self._dropped = set()  # type: set
        modes = getattr(prometheus_client.Gauge, "_MULTIPROC_MODES", ())
        self._gauge_mode = "mostrecent" if "mostrecent" in modes else "liveall"

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request, at once: a worker killed a moment later (timeout,
        SIGKILL) still leaves the count of every request it answered."""
        children = self._request_children.get((route, status))
        if children is None:
            label = str(status)
            children = (self.requests.labels(route, label), self.latency.labels(route, label))
            self._request_children[(route, status)] = children
        children[0].inc()
        # The histogram child's own sum and bucket values (prometheus_client's attributes,
        # the same from 0.12 to today): one bisect instead of observe()'s walk over the
        # buckets, which was a tenth of a small request's cost.
        histogram = children[1]
        histogram._sum.inc(seconds)
        histogram._buckets[bisect.bisect_left(REQUEST_BUCKETS, seconds)].inc(1)

    def observe_batch(self, rows: int, waits: List[float]) -> None:
        self.batch_rows.observe(rows)
        queue = self.batch_queue  # (a bisect per request, as in observe_request)
        buckets = queue._buckets
        # one write per bucket and one for the sum, not two per request: with several worker
        # processes each is a write to the worker's shared file
        counts = {}  # type: Dict[int, int]
        for seconds in waits:
            index = bisect.bisect_left(REQUEST_BUCKETS, seconds)
            counts[index] = counts.get(index, 0) + 1
        queue._sum.inc(sum(waits))
        for index, count in counts.items():
            buckets[index].inc(count)

    def observe_stream(self, route: str, first: Any, pieces: int, seconds: float) -> None:
        """A streamed answer ended: ``first`` the seconds to its first piece (None: it had
        none), ``pieces`` how many were written."""
        if first is not None:
            self.stream_first.labels(route).observe(first)
        if pieces:
            self.stream_pieces.labels(route).inc(pieces)

    def observe_refused(self, protocol: str) -> None:
        self.refused.labels(protocol).inc()

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        """``method`` is the full gRPC method (/package.Service/Method), ``code`` its status
        name: both come from fixed sets, so clients cannot grow the label values."""
        self.grpc_requests.labels(method, code).inc()
        self.grpc_latency.labels(method, code).observe(seconds)

    def record_feedback(self, reward: float) -> None:
        labels = dict(self.identity, method="feedback")
        self.feedback.labels(**labels).inc()
        if reward and math.isfinite(reward) and reward > 0:
            self.feedback_reward.labels(**labels).inc(reward)

    def record_custom(self, metrics: List[Dict[str, Any]], method: str) -> None:
        """COUNTER adds, GAUGE sets, TIMER (milliseconds) observes a seconds histogram."""
        for metric in metrics:
            kind, key = metric["type"], metric["key"]
            tags = {str(k): str(v) for k, v in (metric.get("tags") or {}).items()}
            value = float(metric["value"])
            series = (kind, key, method, tuple(sorted(tags.items())))
            if series not in self._series and not self._admit(series):
                continue
            family, names = self._family(kind, key, tuple(sorted(tags)))
            values = dict(self.identity, method=method)
            for name in names[len(IDENTITY_LABELS):]:
                values[name] = tags.get(name, "")
            child = family.labels(**{name: values[name] for name in names})
            if kind == "COUNTER":
                if value < 0:
                    raise BadMetricError("COUNTER %r cannot decrease (value %s)" % (key, value))
                child.inc(value)
            elif kind == "GAUGE":
                child.set(value)
            else:
                child.observe(value / 1000.0)

    def _admit(self, series: Tuple[Any, ...]) -> bool:
        """Whether a new custom series fits under MODELKILN_MAX_METRIC_SERIES; one warning
        per metric name dropped (names and tags may come from clients: each series costs
        memory and scrape time for good)."""
        with self._lock:
            if len(self._series) < self.max_series:
                self._series.add(series)
                return True
            key = series[1]
            if key not in self._dropped and len(self._dropped) < MAX_DROPPED_WARNINGS:
                self._dropped.add(key)
                log.warning("custom metric %r dropped: this worker already has %d custom "
                            "series (MODELKILN_MAX_METRIC_SERIES)%s", key, self.max_series,
                            "; further dropped names are not logged"
                            if len(self._dropped) == MAX_DROPPED_WARNINGS else "")
            return False

    def _family(self, kind: str, key: str, tag_names: Tuple[str, ...]) -> Tuple[Any, Tuple[str, ...]]:
        found = self._custom.get((kind, key))
        if found is not None:
            return found
        with self._lock:
            found = self._custom.get((kind, key))
            if found is not None:
                return found
            labels = IDENTITY_LABELS + tuple(t for t in tag_names if t not in IDENTITY_LABELS)
            doc = "Custom %s metric %s" % (kind.lower(), key)
            try:
                if kind == "COUNTER":
                    family = self._prom.Counter(key, doc, labels, registry=self.registry)
                elif kind == "GAUGE":
                    family = self._prom.Gauge(key, doc, labels, registry=self.registry,
                                              multiprocess_mode=self._gauge_mode)
                else:
                    family = self._prom.Histogram(key, doc, labels, buckets=TIMER_BUCKETS,
                                                  registry=self.registry)
            except ValueError as exc:
                raise BadMetricError(
                    "metric %r (%s) cannot be registered: %s (keys must be Prometheus names "
                    "and keep one type)" % (key, kind, exc)) from exc
            self._custom[(kind, key)] = (family, labels)
            return family, labels

    def exposition(self) -> Tuple[bytes, str]:
        """The Prometheus text of every worker's metrics."""
        prom = self._prom
        if self.multiprocess_dir:
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        else:
            registry = self.registry
        return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST


def mark_worker_dead(multiprocess_dir: str, pid: int) -> None:
    """Drop a dead worker's live gauges (its counters and histograms still count).

    gunicorn < 22 calls this from its SIGCHLD handler, which can re-enter while it runs:
    ``prepare_master`` imports what it needs beforehand, and nothing may escape from here.
    """
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid, multiprocess_dir)
    except Exception:  # a failed clean-up must never take the master down
        logging.getLogger("modelkiln").warning(
            "could not clear metrics of worker %d", pid, exc_info=True)


def prepare_master() -> None:
    """Import the multiprocess helpers in the master before any worker can exit."""
    import prometheus_client.multiprocess  # noqa: F401


def clean_multiprocess_dir(path: str) -> None:
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
