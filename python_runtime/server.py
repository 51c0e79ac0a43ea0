"""Start the microservice: import and check the user class, then serve it with gunicorn (or
Flask's development server with ``--debug``).

The class is imported in the parent; gunicorn forks the workers, and each constructs it
(``MODELKILN_CONSTRUCT_IN=worker``, the default; ``master`` constructs it once before the
fork, as Seldon does) and runs ``load()`` in a thread. Both ports (REST and metrics) are bound
by the same workers, so there is no extra process for metrics.
"""

import functools
import gc
import logging
import os
import shutil
import signal
import sys
import tempfile
from typing import Any, Callable, Dict, Optional, Tuple

from . import __version__, gpu, logs, tracing
from .errors import LoadError
from .metrics import (Metrics, clean_multiprocess_dir, mark_worker_dead, prepare_master,
                      set_multiprocess_dir)
from .model.component import Component
from .model.context import LoadState
from .model import formats
from .model.loader import construct
from .protocols.docs import missing_assets_warning
from .protocols.modzy import ModelYamlError, job_files
from .settings import Settings, SettingsError
from .transport.http import EXIT_LOAD_FAILED, PortApp, create_app, load_model, run_load
from .transport.sockets import grpc_port_in_use

log = logging.getLogger("modelkiln")

# After the fork, freeze what start-up allocated and collect young objects less often: the
# default thresholds made full collections the main source of p99 latency on large payloads.
GC_THRESHOLDS = (20000, 50, 100)


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """What each worker constructs, and its keyword arguments, as the folder's format says
    (in the master: a wrong name, a missing method or bad parameters stop the server before
    any worker starts). ``settings`` come from ``resolve_format``."""
    return formats.FORMATS[settings.model_format].user_class(settings)


def resolve_format(settings: Settings) -> Settings:
    """The settings with the model folder's format decided (MODEL_NAME, or the folder's
    files) and what that format says filled in (the model's name, catwalk's port...)."""
    return formats.resolve(settings)[0]


def load_component(settings: Settings, user: Optional[Tuple[Any, Dict[str, Any]]] = None
                   ) -> Component:
    """Construct the class. With gRPC on, the REST loop and the gRPC threads of a worker share
    the object, and with a queue limit the worker's threads do (a probe or a metadata request
    has threads of its own there); calls into it are then serialised unless
    GUNICORN_THREADS > 1 says the model takes concurrent calls."""
    cls, kwargs = user if user is not None else user_class(settings)
    obj = construct(cls, kwargs)
    serial = settings.single_threaded or (
        settings.threads == 1 and (bool(settings.grpc_workers) or settings.queue_limit > 0))
    return Component(obj, settings.service_type, serial)


def tune_gc() -> None:
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()  # novermin (guarded: Python >= 3.7)
    gc.set_threshold(*GC_THRESHOLDS)


def gunicorn_options(settings: Settings) -> Dict[str, Any]:
    host = settings.bind_host
    ports = [settings.http_port, settings.metrics_port]
    if settings.modzy_port is not None:
        ports.append(settings.modzy_port)
    options = {
        "bind": ["%s:%d" % (host, port) for port in ports],
        "workers": settings.workers,
        "threads": settings.threads,
        # By name: gunicorn < 21 logs the worker class as a string. One worker class for
        # every thread count: gunicorn's gthread parser is lenient on the oldest pins.
        "worker_class": "python_runtime.transport.worker.LoopWorker",
        "max_requests": settings.max_requests,
        "max_requests_jitter": settings.max_requests_jitter,
        "keepalive": settings.keepalive,
        "timeout": int(round(settings.timeout)),
        "graceful_timeout": int(round(settings.graceful_timeout)),
        "accesslog": "-" if settings.access_log else None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logger_class": "python_runtime.logs.ServerLogger",
        "proc_name": "modelkiln-%s" % settings.model_name,
        "preload_app": True,
        # gunicorn >= 25 opens a control socket under $HOME, which an arbitrary UID cannot
        # write in an image; older versions do not know the setting (skipped below).
        "control_socket_disable": True,
    }
    if settings.pidfile:
        options["pidfile"] = settings.pidfile
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        options["worker_tmp_dir"] = "/dev/shm"  # heartbeat files off overlayfs
    return options


def after_load(settings: Settings, start_grpc: Optional[Callable[[], None]]
               ) -> Callable[[], None]:
    """What a worker does once load() is done, before it is ready: the first worker logs what
    the frameworks the model imported can use (the GPU doctor), then gRPC starts."""
    def then() -> None:
        if settings.gpu_check and gpu.WORKER.get("slot", 0) == 0:
            try:
                gpu.log_after_load(dict(os.environ))
            except Exception:  # a report must never stop the model from serving
                log.exception("gpu doctor failed")
        if start_grpc is not None:
            start_grpc()

    return then


def run_gunicorn(settings: Settings, user: Any, multiprocess_dir: str) -> int:
    """gunicorn with our worker. The class is constructed in each worker after the fork
    (MODELKILN_CONSTRUCT_IN=worker), or once in the master before it (=master, Seldon's way)."""
    from gunicorn.app.base import BaseApplication

    in_master = settings.construct_in == "master"
    master = os.getpid()
    built = {}  # type: Dict[str, Any]
    traced = tracing.configure(settings)  # exports from each worker once it has started

    def build() -> Any:
        try:
            component = load_component(settings, user)
        except LoadError as exc:
            if in_master:
                raise  # the command line reports it
            sys.stderr.write("ERROR: %s\n" % exc)  # __init__ raised in a worker
            sys.stderr.flush()
            sys.exit(EXIT_LOAD_FAILED)  # gunicorn's master stops the server on it
        state = LoadState()
        # Modzy's /shutdown: SIGTERM to gunicorn's master, which stops gracefully with 0
        app = create_app(settings, component, Metrics(settings, multiprocess_dir), state,
                         traced, functools.partial(os.kill, master, signal.SIGTERM))
        built.update(component=component, state=state, app=app)
        return app

    if in_master:
        build()
    options = gunicorn_options(settings)
    options["preload_app"] = in_master
    start_grpc = None  # type: Any
    if settings.grpc_workers:
        def start_grpc() -> None:
            from .transport.grpc_server import start_in_worker

            start_in_worker(built["app"].ctx)

    def post_worker_init(worker: Any) -> None:
        # After the worker has installed its signal handlers: a SIGTERM that arrives while
        # load() starts is then handled, not lost.
        from .transport.worker import LoopWorker

        if traced is not None:
            traced.start()
        args = (built["component"], built["state"], after_load(settings, start_grpc),
                settings.load_retries, settings.on_load_failure)
        if isinstance(worker, LoopWorker):
            # load() on the worker's own thread, where the REST calls run (as in Seldon)
            worker.load_model = lambda: load_model(*args)
        else:
            run_load(*args)
        tune_gc()

    def worker_exit(server: Any, worker: Any) -> None:
        if start_grpc is not None:
            from .transport.grpc_server import stop_all

            stop_all()
        if traced is not None:
            traced.shutdown()  # export the spans still queued

    def child_exit(server: Any, worker: Any) -> None:
        mark_worker_dead(multiprocess_dir, worker.pid)

    def pre_fork(server: Any, worker: Any) -> None:
        # in the master: the lowest slot no live worker holds (a replacement takes the
        # devices of the worker it replaces); the forked worker inherits the attribute
        worker.modelkiln_slot = gpu.free_slot(
            getattr(w, "modelkiln_slot", -1) for w in server.WORKERS.values())

    def post_fork(server: Any, worker: Any) -> None:
        # in the worker, before the class is constructed: its CUDA_VISIBLE_DEVICES slice
        devices = gpu.assign(worker.modelkiln_slot, settings.gpus_per_worker)
        if settings.gpus_per_worker:
            log.info("worker %d (slot %d): %s", os.getpid(), worker.modelkiln_slot,
                     "%s=%s" % (gpu.ENV, ",".join(devices)) if devices else "no GPU visible")

    prepare_master()
    # Each worker opens its own gRPC listener once its load() is done (grpc_server).
    options.update(post_worker_init=post_worker_init, child_exit=child_exit,
                   worker_exit=worker_exit)
    options.update(pre_fork=pre_fork, post_fork=post_fork)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return built["app"] if in_master else build()

    Server().run()
    return 0


def run_debug(settings: Settings, user: Any) -> int:
    """Flask's development server, one process; metrics on their own port in a thread."""
    import threading

    from flask import Flask
    from werkzeug.serving import make_server

    if settings.gpus_per_worker:
        gpu.assign(0, settings.gpus_per_worker)  # one process: the first slot's devices
    component = load_component(settings, user)
    metrics = Metrics(settings, None)
    state = LoadState()
    traced = tracing.configure(settings)
    if traced is not None:
        traced.start()
    # Modzy's /shutdown: the development server stops as on Ctrl-C, with exit code 0
    app = create_app(settings, component, metrics, state, traced,
                     functools.partial(os.kill, os.getpid(), signal.SIGINT))
    for port in (settings.metrics_port, settings.modzy_port):
        if port is not None:
            side = make_server(settings.bind_host, port, PortApp(app, port), threaded=True,
                               ssl_context=app.tls_context)
            threading.Thread(target=side.serve_forever, daemon=True).start()
    start_grpc = None  # type: Any
    if settings.grpc_workers:
        from .transport.grpc_server import start_in_worker

        def start_grpc() -> None:
            start_in_worker(app.ctx)
    run_load(component, state, after_load(settings, start_grpc), settings.load_retries,
             settings.on_load_failure)
    flask_app = Flask("modelkiln")
    flask_app.wsgi_app = app  # type: ignore[assignment]
    # debug=False: Werkzeug's interactive debugger runs code sent by whoever reaches the port.
    flask_app.run(host=settings.bind_host, port=settings.http_port, debug=False,
                  use_debugger=False, use_evalex=False, use_reloader=False,
                  threaded=not settings.single_threaded, ssl_context=app.tls_context)
    return 0


def log_gpus(settings: Settings) -> None:
    """At start, in the master: the device split's warning when it is not exact, and the GPU
    doctor's driver and library lines on an image with CUDA or a node with a GPU."""
    environ = dict(os.environ)
    if settings.gpus_per_worker:
        warning = gpu.split_warning(len(gpu.visible_devices(environ)), settings.workers,
                                    settings.gpus_per_worker)
        if warning:
            log.warning("%s", warning)
    if settings.gpu_check:
        gpu.log_at_start(environ)


def serve(settings: Settings) -> int:
    logs.configure(settings.log_level, settings.log_format)
    settings = resolve_format(settings)
    if settings.http_port == settings.metrics_port != 0:
        raise SettingsError("the REST port and the metrics port are both %d; set "
                            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT to another port"
                            % settings.http_port)
    if settings.grpc_workers:
        if settings.grpc_port and settings.grpc_port in (
                settings.http_port, settings.metrics_port, settings.modzy_port):
            raise SettingsError("the gRPC port %d is also the REST, metrics or Modzy port; set "
                                "PREDICTIVE_UNIT_GRPC_SERVICE_PORT to a port of its own"
                                % settings.grpc_port)
        taken = grpc_port_in_use(settings.bind_host, settings.grpc_port)
        if taken:
            raise SettingsError(taken)
    missing = missing_assets_warning(settings)
    if missing:
        log.warning("%s", missing)
    if settings.modzy_port is not None:
        if settings.modzy_port in (settings.http_port, settings.metrics_port):
            raise SettingsError("PSC_MODEL_PORT=%d is already the REST or the metrics port; "
                                "give Modzy's API a port of its own" % settings.modzy_port)
        try:
            job_files(settings.app_dir)  # a broken model.yaml stops the start, not a job
        except ModelYamlError as exc:
            raise SettingsError(str(exc)) from exc
    if settings.persistence:
        log.warning("PERSISTENCE is no longer supported and is ignored")
    log.info("modelkiln %s: %s as %s from %s", __version__, settings.model_name,
             settings.service_type, settings.app_dir)
    if settings.conda_prefix:
        log.info("conda environment %s (%s), Python %s", settings.conda_env or "?",
                 settings.conda_prefix, sys.executable)
    os.chdir(settings.app_dir)
    user = user_class(settings)
    log_gpus(settings)
    if settings.debug:
        return run_debug(settings, user)
    try:
        multiprocess_dir = tempfile.mkdtemp(prefix="modelkiln-metrics-")
    except OSError as exc:  # tempfile found no writable folder
        raise SettingsError("the server needs a writable temporary folder (%s): with a "
                            "read-only root filesystem mount an emptyDir (or a tmpfs) at "
                            "/tmp, or set TMPDIR to a writable folder" % exc) from exc
    set_multiprocess_dir(os.environ, multiprocess_dir)
    clean_multiprocess_dir(multiprocess_dir)
    log.info("serving REST on %s:%d, %s, metrics on :%d%s, %d worker(s) x %d thread(s)",
             settings.bind_host, settings.http_port,
             "gRPC on :%d" % settings.grpc_port if settings.grpc_workers else "gRPC off",
             settings.metrics_port, settings.metrics_endpoint, settings.workers,
             settings.threads)
    if settings.modzy_port is not None:
        log.info("serving Modzy's file-job API on :%d (PSC_MODEL_PORT)", settings.modzy_port)
    master = os.getpid()
    try:
        return run_gunicorn(settings, user, multiprocess_dir)
    finally:
        # Forked workers unwind through this frame too when they exit: only the master cleans.
        if os.getpid() == master:
            shutil.rmtree(multiprocess_dir, ignore_errors=True)
