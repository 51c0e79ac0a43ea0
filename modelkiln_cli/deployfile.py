"""``deploy.yaml``: how an app runs on Kubernetes, beside its ``.s2i/environment``.

Optional, in the app folder. Its ``resources`` and ``timeout`` sections follow Modzy's
``model.yaml`` (cpu, memory and GPU count; how long the model may take to start and to answer);
the rest says how many copies run, how they scale, which transport a Seldon or KServe graph
uses and how a batch Job is split. Every field is checked here, and a wrong one stops
``modelkiln manifests`` with the field's path and the fix.
"""

import decimal
import os
import re
from typing import Any, Dict, List, Optional

import yaml

from .errors import CliError

FILE_NAME = "deploy.yaml"
QUANTITY = re.compile(r"^(\+)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                      r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
SUFFIXES = {"n": "1e-9", "u": "1e-6", "m": "1e-3", "": "1", "k": "1e3", "M": "1e6", "G": "1e9",
            "T": "1e12", "P": "1e15", "E": "1e18", "Ki": str(2 ** 10), "Mi": str(2 ** 20),
            "Gi": str(2 ** 30), "Ti": str(2 ** 40), "Pi": str(2 ** 50), "Ei": str(2 ** 60)}
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?)\s*(ms|s|m|h)?$")
RESOURCE_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
JOB_INPUTS = (".jsonl", ".json", ".csv", ".npy")
DEFAULT_STATUS_TIMEOUT = 300   # seconds load() may take (Modzy's timeout.status)
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"


class DeployFileError(CliError):
    """deploy.yaml holds a field that cannot be used; the message names it and the fix."""


class Job(object):
    def __init__(self, shards: int, parallelism: int, volume_claim: str, input: str,
                 output: str, workers: int) -> None:
        self.shards = shards
        self.parallelism = parallelism
        self.volume_claim = volume_claim
        self.input = input
        self.output = output
        self.workers = workers


class DeployConfig(object):
    """What deploy.yaml says, checked, with defaults filled in."""

    def __init__(self) -> None:
        self.path = FILE_NAME
        self.replicas = None             # type: Optional[int]
        self.requests = {}               # type: Dict[str, str]
        self.limits = {}                 # type: Dict[str, str]
        self.gpus = 0                    # resources.gpu's count of nvidia.com/gpu
        self.status_timeout = DEFAULT_STATUS_TIMEOUT   # type: float
        self.run_timeout = None          # type: Optional[float]
        self.min_replicas = None         # type: Optional[int]
        self.max_replicas = None         # type: Optional[int]
        self.target_cpu = None           # type: Optional[int]
        self.target_rps = None           # type: Optional[str]
        self.max_unavailable = None      # type: Optional[int]
        self.min_available = None        # type: Optional[int]
        self.transport = "rest"
        self.job = None                  # type: Optional[Job]

    @property
    def autoscaling(self) -> bool:
        return self.max_replicas is not None

    @property
    def resources(self) -> Dict[str, Dict[str, str]]:
        """The container's ``resources`` (empty when deploy.yaml sets none)."""
        out = {}
        if self.requests:
            out["requests"] = dict(self.requests)
        if self.limits:
            out["limits"] = dict(self.limits)
        return out


def quantity_value(text: str) -> decimal.Decimal:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5Gi``, ``1e3``) as a number."""
    match = re.match(r"^([0-9.+eE-]*?)([numkMGTPE]i?|)$", text)
    if match and match.group(2) in SUFFIXES and not re.search(r"[eE]", match.group(1)):
        return decimal.Decimal(match.group(1)) * decimal.Decimal(SUFFIXES[match.group(2)])
    return decimal.Decimal(text)


class _Reader(object):
    """Reads one deploy.yaml; every error names the file and the field."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, field: str, problem: str, fix: str) -> DeployFileError:
        return DeployFileError("%s: %s: %s; %s" % (self.path, field, problem, fix))

    def mapping(self, value: Any, field: str, known: List[str]) -> Dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(field, "must be a mapping, got %r" % (value,),
                            "write it as keys below %s (%s)" % (field, ", ".join(known)))
        for key in value:
            if key not in known:
                raise self.fail("%s.%s" % (field, key) if field else str(key), "unknown field",
                                "use one of %s" % ", ".join(known))
        return value

    def integer(self, value: Any, field: str, minimum: int, maximum: Optional[int] = None
                ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, "must be a whole number, got %r" % (value,),
                            "write e.g. %d" % max(minimum, 1))
        if value < minimum or (maximum is not None and value > maximum):
            limit = ("between %d and %d" % (minimum, maximum) if maximum is not None
                     else "at least %d" % minimum)
            raise self.fail(field, "%d is out of range" % value, "it must be %s" % limit)
        return value

    def quantity(self, value: Any, field: str, example: str) -> str:
        text = str(value).strip() if isinstance(value, (str, int, float)) and \
            not isinstance(value, bool) else ""
        if not QUANTITY.match(text) or quantity_value(text) <= 0:
            raise self.fail(field, "%r is not a positive Kubernetes quantity" % (value,),
                            "write e.g. %s" % example)
        return text

    def duration(self, value: Any, field: str) -> float:
        text = str(value).strip() if isinstance(value, (str, int, float)) and \
            not isinstance(value, bool) else ""
        match = DURATION.match(text)
        if not match or float(match.group(1)) <= 0:
            raise self.fail(field, "%r is not a duration" % (value,),
                            "write seconds (90) or a number with s, m or h (90s, 10m, 1h)")
        factor = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(3)]
        return float(match.group(1)) * factor

    def relative_path(self, value: Any, field: str, example: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a path on the job's volume",
                            "write e.g. %s" % example)
        norm = os.path.normpath(value.strip())
        if os.path.isabs(norm) or norm.startswith(".."):
            raise self.fail(field, "%r leaves the volume" % value,
                            "write a path relative to the volume, e.g. %s" % example)
        return norm


def _read_resources(reader: _Reader, config: DeployConfig, raw: Any) -> None:
    section = reader.mapping(raw, "resources", ["cpu", "memory", "gpu"])
    for name, example in (("cpu", "500m or 2"), ("memory", "512Mi or 2Gi")):
        value = section.get(name)
        if value is None:
            continue
        if isinstance(value, dict):
            part = reader.mapping(value, "resources." + name, ["request", "limit"])
            if "request" in part:
                config.requests[name] = reader.quantity(part["request"],
                                                        "resources.%s.request" % name, example)
            if "limit" in part:
                config.limits[name] = reader.quantity(part["limit"],
                                                      "resources.%s.limit" % name, example)
        else:  # one value: request and limit alike (Modzy's cpu.count / memory.size)
            config.requests[name] = config.limits[name] = reader.quantity(
                value, "resources." + name, example)
        if name in config.requests and name in config.limits and \
                quantity_value(config.limits[name]) < quantity_value(config.requests[name]):
            raise reader.fail("resources.%s.limit" % name, "%s is below the request %s" % (
                config.limits[name], config.requests[name]),
                "raise the limit or lower the request")
    gpu = section.get("gpu")
    if gpu is not None:
        resource = DEFAULT_GPU_RESOURCE
        if isinstance(gpu, dict):
            part = reader.mapping(gpu, "resources.gpu", ["count", "resource"])
            count = reader.integer(part.get("count"), "resources.gpu.count", 1)
            resource = str(part.get("resource", resource))
            if not RESOURCE_NAME.match(resource) or "/" not in resource:
                raise reader.fail("resources.gpu.resource", "%r is not an extended resource "
                                  "name" % resource, "write e.g. nvidia.com/gpu or amd.com/gpu")
        else:
            count = reader.integer(gpu, "resources.gpu", 1)
        config.limits[resource] = str(count)   # GPUs are limits only; the request follows
        config.gpus = count if resource == DEFAULT_GPU_RESOURCE else 0   # split: NVIDIA's


def _read_scaling(reader: _Reader, config: DeployConfig, document: Dict[str, Any]) -> None:
    if "replicas" in document:
        config.replicas = reader.integer(document["replicas"], "replicas", 1)
    section = reader.mapping(document.get("autoscaling"), "autoscaling",
                             ["minReplicas", "maxReplicas", "targetCPUUtilization",
                              "targetRequestsPerSecond"])
    if section:
        if config.replicas is not None:
            raise reader.fail("replicas", "set together with autoscaling",
                              "remove replicas: the autoscaler sets the count between "
                              "autoscaling.minReplicas and maxReplicas")
        config.min_replicas = reader.integer(section.get("minReplicas", 1),
                                             "autoscaling.minReplicas", 1)
        if "maxReplicas" not in section:
            raise reader.fail("autoscaling.maxReplicas", "missing",
                              "say how many copies may run at most, e.g. maxReplicas: 4")
        config.max_replicas = reader.integer(section["maxReplicas"], "autoscaling.maxReplicas",
                                             config.min_replicas)
        if "targetCPUUtilization" in section:
            config.target_cpu = reader.integer(section["targetCPUUtilization"],
                                               "autoscaling.targetCPUUtilization", 1, 1000)
            if "cpu" not in config.requests:
                raise reader.fail("autoscaling.targetCPUUtilization", "needs a CPU request "
                                  "(utilization is a percentage of it)",
                                  "add resources: {cpu: {request: 500m}}")
        if "targetRequestsPerSecond" in section:
            config.target_rps = reader.quantity(section["targetRequestsPerSecond"],
                                                "autoscaling.targetRequestsPerSecond", "50")
        if config.target_cpu is None and config.target_rps is None:
            raise reader.fail("autoscaling", "no target",
                              "add targetCPUUtilization (percent) or targetRequestsPerSecond "
                              "(per copy)")
    budget = reader.mapping(document.get("disruptionBudget"), "disruptionBudget",
                            ["maxUnavailable", "minAvailable"])
    if len(budget) > 1:
        raise reader.fail("disruptionBudget", "sets both maxUnavailable and minAvailable",
                          "keep one of them")
    if "maxUnavailable" in budget:
        config.max_unavailable = reader.integer(budget["maxUnavailable"],
                                                "disruptionBudget.maxUnavailable", 1)
    if "minAvailable" in budget:
        config.min_available = reader.integer(budget["minAvailable"],
                                              "disruptionBudget.minAvailable", 1)


def _read_job(reader: _Reader, raw: Any, name: str) -> Job:
    section = reader.mapping(raw, "job", ["shards", "parallelism", "volumeClaim", "input",
                                          "output", "workers"])
    shards = reader.integer(section.get("shards", 1), "job.shards", 1, 100000)
    parallelism = reader.integer(section.get("parallelism", shards), "job.parallelism", 1)
    claim = section.get("volumeClaim", "%s-data" % name)
    if not isinstance(claim, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", claim):
        raise reader.fail("job.volumeClaim", "%r is not a PersistentVolumeClaim name" % (claim,),
                          "write the claim's name in lower case, e.g. scoring-data")
    source = reader.relative_path(section.get("input", "input.jsonl"), "job.input",
                                  "in/requests.jsonl")
    if not source.endswith(JOB_INPUTS):
        raise reader.fail("job.input", "%r has none of the job's input extensions" % source,
                          "name a %s file" % ", ".join(JOB_INPUTS))
    target = reader.relative_path(section.get("output", "output.jsonl"), "job.output",
                                  "out/answers.jsonl")
    workers = reader.integer(section.get("workers", 1), "job.workers", 1, 256)
    return Job(shards, parallelism, claim, source, target, workers)


def read(app_dir: str, name: str) -> DeployConfig:
    """The app's deploy.yaml, checked; defaults when the app has none."""
    path = os.path.join(app_dir, FILE_NAME)
    config = DeployConfig()
    config.path = path
    reader = _Reader(path)
    document = {}  # type: Dict[str, Any]
    if os.path.isfile(path):
        try:
            with open(path, "r", encoding="utf-8") as handle:
                document = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            raise DeployFileError("%s is not valid YAML: %s" % (path, exc)) from exc
        document = reader.mapping(document, "", ["replicas", "resources", "timeout",
                                                 "autoscaling", "disruptionBudget",
                                                 "transport", "job"])
    _read_resources(reader, config, document.get("resources"))
    _read_scaling(reader, config, document)
    timeout = reader.mapping(document.get("timeout"), "timeout", ["status", "run"])
    if "status" in timeout:
        config.status_timeout = reader.duration(timeout["status"], "timeout.status")
    if "run" in timeout:
        config.run_timeout = reader.duration(timeout["run"], "timeout.run")
    transport = str(document.get("transport", "rest")).lower()
    if transport not in ("rest", "grpc"):
        raise reader.fail("transport", "%r is neither rest nor grpc" % document["transport"],
                          "write transport: rest (the default) or transport: grpc")
    config.transport = transport
    config.job = _read_job(reader, document.get("job"), name)
    return config
