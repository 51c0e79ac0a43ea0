"""The pod every kind of manifest runs, made from an app folder: its settings (read by the
runtime's own reader from ``.s2i/environment``), its ``deploy.yaml``, and what the image needs
to run locked down (probes, grace period, a read-only root with ``/tmp`` writable)."""

import json
import math
import os
import re
from typing import Any, Dict, List, Optional

from python_runtime.model.loader import BadParameters, parse_parameters
from python_runtime.model.formats import resolve
from python_runtime.settings import (SETTINGS, Settings, SettingsError,
                                     read_s2i_environment)

from . import deployfile
from .errors import CliError

TMP_DIR = "/tmp"   # where the server writes (its metrics folder, gunicorn's files)
MANAGED_BY = "modelkiln"
PROBE_PERIOD = 5
RUNTIME_ENV_NAMES = tuple(name for s in SETTINGS for name in ((s.env,) if s.env else ()) +
                          s.aliases)
TLS_FLAGS = ("--tls-cert", "--tls-key", "--tls-client-ca")
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class ManifestError(CliError):
    """The manifests cannot be written; the message names the fix."""


class App(object):
    """One app folder as the manifests need it: settings, raw variables, deploy.yaml."""

    def __init__(self, app_dir: str, name: str, image: str, namespace: Optional[str]) -> None:
        if not os.path.isdir(app_dir):
            raise ManifestError("%s is not a folder: pass the app folder (the one holding "
                                ".s2i/environment)" % app_dir)
        try:   # TLS files are mounted in the pod, not here: their paths are not checked
            # (resolve: a model folder of another system has its own name and port)
            self.settings = resolve(Settings.load([app_dir] + [arg for flag in TLS_FLAGS
                                                               for arg in (flag, "")],
                                                  environ={}, read_annotations=False))[0]
        except SettingsError as exc:
            raise ManifestError("%s/.s2i/environment: %s" % (app_dir, exc)) from exc
        raw = read_s2i_environment(app_dir)
        self.https = bool(raw.get("MODELKILN_TLS_CERT"))
        self.env = [(key, raw[key]) for key in RUNTIME_ENV_NAMES if key in raw]
        try:
            parse_parameters(self.settings.parameters)
        except BadParameters as exc:
            raise ManifestError("%s/.s2i/environment: %s" % (app_dir, exc)) from exc
        self.parameters = _json_list(self.settings.parameters)
        self.dir = app_dir
        self.name = name
        self.image = image
        self.namespace = namespace
        self.deploy = deployfile.read(app_dir, name)
        if self.deploy.transport == "grpc" and not self.settings.grpc_workers:
            raise ManifestError("%s: transport: grpc, but GRPC_WORKERS=0 in .s2i/environment "
                                "turns gRPC off: remove one of them" % self.deploy.path)
        self.gpu_env = self._gpu_env(raw)

    def _gpu_env(self, raw: Dict[str, str]) -> Dict[str, str]:
        """With resources.gpu (nvidia.com/gpu): each worker gets its GPUs
        (MODELKILN_GPUS_PER_WORKER, 1 unless .s2i/environment says), and the worker count
        follows the GPUs the pod asks for unless .s2i/environment sets GUNICORN_WORKERS.
        Other vendors' resources are requested, not split (the split counts NVIDIA's
        devices)."""
        gpus = self.deploy.gpus
        if not gpus:
            return {}
        if self.settings.construct_in == "master":
            raise ManifestError("%s: resources.gpu asks for %d GPU(s), but "
                                "MODELKILN_CONSTRUCT_IN=master in .s2i/environment constructs "
                                "the class before the fork, where CUDA cannot start: remove it "
                                "(each worker then gets its own GPUs)" % (self.deploy.path, gpus))
        per_worker = self.settings.gpus_per_worker if "MODELKILN_GPUS_PER_WORKER" in raw else 1
        if not per_worker:
            return {}   # 0 in .s2i/environment: every worker sees every GPU
        if per_worker > gpus or gpus % per_worker:
            raise ManifestError("%s: resources.gpu asks for %d GPU(s), which workers of "
                                "MODELKILN_GPUS_PER_WORKER=%d (.s2i/environment) cannot "
                                "divide: ask for a multiple of %d GPUs or change the setting"
                                % (self.deploy.path, gpus, per_worker, per_worker))
        env = {"MODELKILN_GPUS_PER_WORKER": str(per_worker)}
        if "GUNICORN_WORKERS" not in raw:
            env["GUNICORN_WORKERS"] = str(gpus // per_worker)
        return env

    @property
    def class_name(self) -> str:
        return self.settings.model_name.rpartition(".")[2]

    def metadata(self, name: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        meta = {"name": name or self.name}  # type: Dict[str, Any]
        if self.namespace:
            meta["namespace"] = self.namespace
        meta["labels"] = self.labels()
        meta.update(extra)
        return meta

    def labels(self) -> Dict[str, str]:
        return {"app.kubernetes.io/name": self.name,
                "app.kubernetes.io/component": self.settings.service_type.lower().replace(
                    "_", "-"),
                "app.kubernetes.io/managed-by": MANAGED_BY}

    def selector(self) -> Dict[str, str]:
        return {"app.kubernetes.io/name": self.name}

    def container_env(self, skip: tuple = (), extra: Optional[Dict[str, str]] = None
                      ) -> List[Dict[str, str]]:
        values = [(k, v) for k, v in self.env if k not in skip]
        present = set(k for k, _ in values)
        values += [(k, v) for k, v in sorted(self.gpu_env.items())
                   if k not in skip and k not in present]
        if self.deploy.run_timeout is not None:
            values = [(k, v) for k, v in values if k != "GUNICORN_TIMEOUT"]
            values.append(("GUNICORN_TIMEOUT", _number(self.deploy.run_timeout)))
        for key, value in (extra or {}).items():
            if key not in dict(values) and key not in skip:
                values.append((key, value))
        return [{"name": k, "value": v} for k, v in values]

    @property
    def request_timeout(self) -> float:
        return self.deploy.run_timeout or self.settings.timeout

    def ports(self) -> List[Dict[str, Any]]:
        ports = [{"name": "http", "containerPort": self.settings.http_port, "protocol": "TCP"}]
        if self.settings.grpc_workers:
            ports.append({"name": "grpc", "containerPort": self.settings.grpc_port,
                          "protocol": "TCP"})
        ports.append({"name": "metrics", "containerPort": self.settings.metrics_port,
                      "protocol": "TCP"})
        modzy = getattr(self.settings, "modzy_port", None)   # PSC_MODEL_PORT: Modzy's job API
        if modzy is not None:
            ports.append({"name": "modzy", "containerPort": modzy, "protocol": "TCP"})
        return ports

    def probes(self, port: Any = "http") -> Dict[str, Any]:
        """Readiness on /ready, liveness on /live, and a start-up probe that gives load()
        deploy.yaml's timeout.status before the kubelet restarts the container."""
        def get(path: str, **timing: int) -> Dict[str, Any]:
            action = {"path": path, "port": port}  # type: Dict[str, Any]
            if self.https:
                action["scheme"] = "HTTPS"
            return dict({"httpGet": action}, **timing)

        # /live waits behind a request running in the same worker: allow the longest one.
        live_timeout = int(math.ceil(min(self.request_timeout, 60)))
        return {
            "startupProbe": get("/ready", periodSeconds=PROBE_PERIOD, timeoutSeconds=5,
                                failureThreshold=max(
                                    1, int(math.ceil(self.deploy.status_timeout /
                                                     PROBE_PERIOD)))),
            "readinessProbe": get("/ready", periodSeconds=PROBE_PERIOD, timeoutSeconds=5,
                                  failureThreshold=3),
            "livenessProbe": get("/live", periodSeconds=10, timeoutSeconds=live_timeout,
                                 failureThreshold=3),
        }

    @property
    def grace_seconds(self) -> int:
        """Above GUNICORN_GRACEFUL_TIMEOUT, so SIGTERM's drain finishes before SIGKILL."""
        return int(math.ceil(self.settings.graceful_timeout)) + 10

    def container(self, name: str, env: List[Dict[str, str]], probes: bool = True,
                  ports: bool = True, mounts: Optional[List[Dict[str, Any]]] = None
                  ) -> Dict[str, Any]:
        container = {"name": name, "image": self.image}  # type: Dict[str, Any]
        if ports:
            container["ports"] = self.ports()
        if env:
            container["env"] = env
        if self.deploy.resources:
            container["resources"] = self.deploy.resources
        if probes:
            container.update(self.probes())
        container["securityContext"] = CONTAINER_SECURITY
        container["volumeMounts"] = [{"name": "tmp", "mountPath": TMP_DIR}] + (mounts or [])
        return container

    def pod_spec(self, containers: List[Dict[str, Any]], **extra: Any) -> Dict[str, Any]:
        spec = {"securityContext": POD_SECURITY,
                "terminationGracePeriodSeconds": self.grace_seconds}  # type: Dict[str, Any]
        spec.update(extra)
        spec["containers"] = containers
        spec["volumes"] = [{"name": "tmp", "emptyDir": {}}]
        return spec


POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                      "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}


def _json_list(text: str) -> List[Any]:
    value = json.loads(text) if text and text.strip() else []
    return value if isinstance(value, list) else []


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def dns_name(text: str) -> str:
    """A name Kubernetes takes for a Service (DNS-1035 label) made from a folder name."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:63].rstrip("-")
    return name or "model"

