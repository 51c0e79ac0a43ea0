"""The serving and batch kinds of ``modelkiln manifests``: a Deployment with its Service
(``deployment``), a SeldonDeployment (``seldon``), a KServe ServingRuntime and InferenceService
(``kserve``) and an Indexed Job that scores a file in shards (``job``)."""

import json
import math
from typing import Any, Dict, List

from . import deployfile
from .podspec import POD_SECURITY, App, dns_name

JOB_VOLUME = "/data"
# Set by Seldon's operator on every graph container: the manifest must not set them too.
SELDON_OWNED = ("PREDICTIVE_UNIT_PARAMETERS", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
                "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", "PREDICTIVE_UNIT_METRICS_SERVICE_PORT",
                "PREDICTIVE_UNIT_METRICS_ENDPOINT", "PREDICTIVE_UNIT_ID",
                "PREDICTIVE_UNIT_IMAGE", "SELDON_DEPLOYMENT_ID", "PREDICTOR_ID",
                "PREDICTOR_LABELS")
SELDON_PRESTOP = 10
# A Seldon graph node's type for each SERVICE_TYPE: the executor calls /transform-input on
# TRANSFORMER nodes, which is the route an OUTLIER_DETECTOR answers (its scores in the tags).
SELDON_NODE_TYPES = {"MODEL": "MODEL", "ROUTER": "ROUTER", "TRANSFORMER": "TRANSFORMER",
                     "OUTPUT_TRANSFORMER": "OUTPUT_TRANSFORMER", "COMBINER": "COMBINER",
                     "OUTLIER_DETECTOR": "TRANSFORMER"}


# ---------------------------------------------------------------- deployment


def deployment(app: App) -> List[Dict[str, Any]]:
    """Deployment, Service, and a HorizontalPodAutoscaler / PodDisruptionBudget when asked."""
    settings, deploy = app.settings, app.deploy
    annotations = {"prometheus.io/scrape": "true",
                   "prometheus.io/port": str(settings.metrics_port),
                   "prometheus.io/path": settings.metrics_endpoint}
    container = app.container("model", app.container_env(extra={
        "PREDICTIVE_UNIT_IMAGE": app.image}))
    spec = {"selector": {"matchLabels": app.selector()},
            "template": {"metadata": {"labels": app.labels(), "annotations": annotations},
                         "spec": app.pod_spec([container])}}  # type: Dict[str, Any]
    if not deploy.autoscaling:   # with an autoscaler, re-applying must not reset its count
        spec = dict({"replicas": deploy.replicas or 1}, **spec)
    documents = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": app.metadata(),
         "spec": spec},
        {"apiVersion": "v1", "kind": "Service", "metadata": app.metadata(),
         "spec": {"selector": app.selector(),
                  "ports": [{"name": p["name"], "port": p["containerPort"],
                             "targetPort": p["name"], "protocol": "TCP"}
                            for p in app.ports()]}},
    ]
    if deploy.autoscaling:
        documents.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": app.metadata(),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": app.name},
                     "minReplicas": deploy.min_replicas, "maxReplicas": deploy.max_replicas,
                     "metrics": hpa_metrics(deploy)}})
    budget = disruption_budget(deploy)
    if budget:
        documents.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                          "metadata": app.metadata(),
                          "spec": dict(budget, selector={"matchLabels": app.selector()})})
    return documents


RPS_METRIC = "modelkiln_http_requests_per_second"


def hpa_metrics(deploy: deployfile.DeployConfig) -> List[Dict[str, Any]]:
    """autoscaling/v2 metrics: CPU utilization, and/or requests per second per pod (a Pods
    metric a Prometheus adapter derives from modelkiln_http_requests_total)."""
    metrics = []
    if deploy.target_cpu is not None:
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization",
                                      "averageUtilization": deploy.target_cpu}}})
    if deploy.target_rps is not None:
        metrics.append({"type": "Pods", "pods": {
            "metric": {"name": RPS_METRIC},
            "target": {"type": "AverageValue", "averageValue": deploy.target_rps}}})
    return metrics


def disruption_budget(deploy: deployfile.DeployConfig) -> Dict[str, int]:
    """What deploy.yaml says; else one copy at a time may go when two or more run."""
    if deploy.min_available is not None:
        return {"minAvailable": deploy.min_available}
    if deploy.max_unavailable is not None:
        return {"maxUnavailable": deploy.max_unavailable}
    least = deploy.min_replicas if deploy.autoscaling else (deploy.replicas or 1)
    return {"maxUnavailable": 1} if least >= 2 else {}



# ---------------------------------------------------------------- seldon


def seldon(app: App) -> List[Dict[str, Any]]:
    """A SeldonDeployment with one graph node served by the image."""
    settings, deploy = app.settings, app.deploy
    node = dns_name(app.class_name)
    parameters = [{"name": str(p.get("name")), "type": str(p.get("type", "STRING")).upper(),
                   "value": p["value"] if isinstance(p.get("value"), str) else
                   json.dumps(p.get("value"))}
                  for p in app.parameters if isinstance(p, dict)]
    graph = {"name": node, "type": SELDON_NODE_TYPES[settings.service_type],
             "endpoint": {"type": deploy.transport.upper()}}  # type: Dict[str, Any]
    if parameters:
        graph["parameters"] = parameters
    graph["children"] = []
    # Seldon's operator adds the ports named http and grpc and sets their variables; from the
    # port named metrics it sets the metrics variable.
    container = app.container(node, app.container_env(skip=SELDON_OWNED))
    container["ports"] = [p for p in container["ports"] if p["name"] == "metrics"]
    pod = app.pod_spec([container])
    # The operator also gives the container a 10 s preStop sleep before SIGTERM.
    pod["terminationGracePeriodSeconds"] += SELDON_PRESTOP
    component = {"spec": pod}  # type: Dict[str, Any]
    if deploy.autoscaling:
        component["hpaSpec"] = {"minReplicas": deploy.min_replicas,
                                "maxReplicas": deploy.max_replicas,
                                "metricsv2": hpa_metrics(deploy)}
    budget = disruption_budget(deploy)
    if budget:
        component["pdbSpec"] = budget
    predictor = {"name": "default"}  # type: Dict[str, Any]
    if not deploy.autoscaling:
        predictor["replicas"] = deploy.replicas or 1
    predictor.update({"componentSpecs": [component], "graph": graph})
    return [{"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
             "metadata": app.metadata(),
             "spec": {"protocol": "seldon", "predictors": [predictor]}}]



# ---------------------------------------------------------------- kserve


KSERVE_FORMAT = "modelkiln"


def kserve(app: App) -> List[Dict[str, Any]]:
    """A ServingRuntime whose container is the image, and an InferenceService whose predictor
    runs it with protocolVersion v2 (grpc-v2 with transport: grpc)."""
    settings, deploy = app.settings, app.deploy
    grpc = deploy.transport == "grpc"
    runtime_name = "%s-runtime" % app.name
    # KServe routes to one port: http1 (REST) or h2c (gRPC).
    port = ({"name": "h2c", "containerPort": settings.grpc_port, "protocol": "TCP"} if grpc
            else {"name": "http1", "containerPort": settings.http_port, "protocol": "TCP"})
    container = app.container("kserve-container", app.container_env(extra={
        "MODELKILN_V2_MODEL_NAME": app.name, "PREDICTIVE_UNIT_IMAGE": app.image}),
        probes=False)
    container["ports"] = [port]
    container.update(app.probes(port=settings.http_port))
    container.pop("resources", None)   # set on the InferenceService's model
    versions = ["v2", "grpc-v2"] if settings.grpc_workers else ["v2"]
    runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
               "metadata": app.metadata(runtime_name),
               "spec": {"supportedModelFormats": [{"name": KSERVE_FORMAT, "version": "1",
                                                   "autoSelect": False}],
                        "protocolVersions": versions,
                        "containers": [container],
                        "volumes": [{"name": "tmp", "emptyDir": {}}]}}
    model = {"modelFormat": {"name": KSERVE_FORMAT, "version": "1"}, "runtime": runtime_name,
             "protocolVersion": "grpc-v2" if grpc else "v2"}  # type: Dict[str, Any]
    if deploy.resources:
        model["resources"] = deploy.resources
    predictor = {"model": model}  # type: Dict[str, Any]
    if deploy.autoscaling:
        predictor.update(minReplicas=deploy.min_replicas, maxReplicas=deploy.max_replicas)
        if deploy.target_rps is not None:
            predictor.update(scaleMetric="rps",
                             scaleTarget=int(math.ceil(float(deploy.target_rps))))
        else:
            predictor.update(scaleMetric="cpu", scaleTarget=deploy.target_cpu)
    else:
        replicas = deploy.replicas or 1
        predictor.update(minReplicas=replicas, maxReplicas=replicas)
    predictor.update(securityContext=POD_SECURITY,
                     terminationGracePeriodSeconds=app.grace_seconds)
    annotations = {"serving.kserve.io/enable-prometheus-scraping": "true",
                   "prometheus.kserve.io/port": str(settings.metrics_port),
                   "prometheus.kserve.io/path": settings.metrics_endpoint}
    if grpc:   # Knative serves one port and probes only it: run as a plain Deployment
        annotations["serving.kserve.io/deploymentMode"] = "RawDeployment"
    service = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": app.metadata(annotations=annotations),
               "spec": {"predictor": predictor}}
    return [runtime, service]



# ---------------------------------------------------------------- job


def job(app: App) -> List[Dict[str, Any]]:
    """An Indexed Job: each of job.shards pods scores every N-th item of the input with the
    image's ``predict --shard auto`` into its own OUT.shard-I-of-N file on the volume."""
    spec = app.deploy.job
    args = ["predict", "%s/%s" % (JOB_VOLUME, spec.input), "%s/%s" % (JOB_VOLUME, spec.output),
            "--shard", "auto", "--resume"]
    if spec.workers > 1:
        args += ["--workers", str(spec.workers)]
    # MODELKILN_JOB_ROOTS: the mounted volume is the only place the job's files belong
    container = app.container("predict", app.container_env(extra={
        "MODELKILN_SHARDS": str(spec.shards), "PREDICTIVE_UNIT_IMAGE": app.image,
        "MODELKILN_JOB_ROOTS": JOB_VOLUME}),
        probes=False, ports=False, mounts=[{"name": "data", "mountPath": JOB_VOLUME}])
    container = dict(container, args=args)
    pod = app.pod_spec([container], restartPolicy="Never")
    pod["volumes"].append({"name": "data",
                           "persistentVolumeClaim": {"claimName": spec.volume_claim}})
    return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": app.metadata(),
             "spec": {"completionMode": "Indexed", "completions": spec.shards,
                      "parallelism": min(spec.parallelism, spec.shards),
                      "backoffLimitPerIndex": 2,
                      # exit 1: some items failed and are written as error lines (a retry
                      # gives the same); exit 2: the job cannot run (bad input) anywhere.
                      "podFailurePolicy": {"rules": [
                          {"action": "FailIndex",
                           "onExitCodes": {"operator": "In", "values": [1]}},
                          {"action": "FailJob",
                           "onExitCodes": {"operator": "In", "values": [2]}},
                          {"action": "Ignore",
                           "onPodConditions": [{"type": "DisruptionTarget",
                                                "status": "True"}]}]},
                      "template": {"metadata": {"labels": app.labels()}, "spec": pod}}}]

