"""``modelkiln manifests``: golden files for every kind and app, every generated object checked
by a real schema (``schemas.py``), and deploy.yaml's errors.

Run with ``make test-manifests`` (it installs the schema tools into ``.venv-manifests``).
After an intended change to the output, regenerate the golden files and review their diff:

    MODELKILN_UPDATE_GOLDEN=1 .venv-manifests/bin/python -m pytest tests/manifests
    git diff tests/manifests/golden
"""

import copy
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelkiln_cli import manifests
from modelkiln_cli.errors import CliError

from . import schemas

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("MODELKILN_UPDATE_GOLDEN") == "1"
APPS = sorted(p for p in (REPO / "templates").iterdir() if (p / ".s2i").is_dir()) + \
    sorted(p for p in (HERE / "apps").iterdir() if (p / ".s2i").is_dir())
IMAGE = "registry.example.com/acme/%s:1.0"
BUILDER = "quay.io/acme/modelkiln-python311:1.0"
GIT = ["--git-uri", "https://git.example.com/acme/models.git", "--git-ref", "main"]
CASES = [(app, kind) for app in APPS for kind in manifests.KINDS]


def generate(app: Path, kind: str, *extra: str) -> str:
    args = [str(app), "--kind", kind, "--image", BUILDER if kind == "openshift-build"
            else IMAGE % app.name] + list(extra)
    if kind == "openshift-build":
        args += GIT + ["--context-dir", str(app.relative_to(REPO))]
    out = io.StringIO()
    assert manifests.main(args, stdout=out) == 0
    return out.getvalue()


@pytest.mark.parametrize("app,kind", CASES, ids=["%s/%s" % (a.name, k) for a, k in CASES])
def test_golden(app, kind):
    text = generate(app, kind)
    golden = GOLDEN / app.name / ("%s.yaml" % kind)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), "no golden file %s: run with MODELKILN_UPDATE_GOLDEN=1" % golden
    assert text == golden.read_text(), (
        "%s differs from the generated manifests; if the change is intended, regenerate with "
        "MODELKILN_UPDATE_GOLDEN=1 and review the diff" % golden.relative_to(REPO))


@pytest.mark.parametrize("app,kind", CASES, ids=["%s/%s" % (a.name, k) for a, k in CASES])
def test_schema(app, kind):
    checked = [schemas.validate(document)
               for document in yaml.safe_load_all(generate(app, kind))]
    expected = {"deployment": {"kubernetes-validate"}, "job": {"kubernetes-validate"},
                "seldon": {"seldon-deploy-sdk"}, "kserve": {"kserve"},
                "openshift-build": {"openshift", "kubernetes-validate"}}[kind]
    assert set(checked) == expected


def documents(app: Path, kind: str) -> dict:
    return {d["kind"]: d for d in yaml.safe_load_all(generate(app, kind))}


def pod_of(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def test_deployment_runs_locked_down():
    """What the issue asks of the Deployment, read back from the model template's."""
    objects = documents(REPO / "templates" / "model-template-app", "deployment")
    assert set(objects) == {"Deployment", "Service"}   # one copy: no HPA, no PDB
    pod = pod_of(objects["Deployment"])
    container = pod["containers"][0]
    assert pod["securityContext"] == {"runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["terminationGracePeriodSeconds"] > 30   # GUNICORN_GRACEFUL_TIMEOUT's default
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["startupProbe"]["failureThreshold"] * \
        container["startupProbe"]["periodSeconds"] == 300
    assert [p["port"] for p in objects["Service"]["spec"]["ports"]] == [9000, 5000, 6000]
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "6000"


def test_deploy_yaml_reaches_every_kind():
    app = HERE / "apps" / "scaled-grpc"
    deployment = documents(app, "deployment")
    assert "replicas" not in deployment["Deployment"]["spec"]   # the HPA owns the count
    container = pod_of(deployment["Deployment"])["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["startupProbe"]["failureThreshold"] == 180    # 15m / 5 s
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GUNICORN_TIMEOUT"] == "120" and "REQUIREMENTS_FILE" not in env
    assert pod_of(deployment["Deployment"])["terminationGracePeriodSeconds"] == 55
    assert [p["containerPort"] for p in container["ports"]] == [8080, 5000, 6000]
    hpa = deployment["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert [m["type"] for m in hpa["metrics"]] == ["Resource", "Pods"]
    assert deployment["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    graph = documents(app, "seldon")["SeldonDeployment"]["spec"]["predictors"][0]["graph"]
    assert graph["endpoint"] == {"type": "GRPC"} and graph["name"] == "scorer"
    assert graph["parameters"][0] == {"name": "threshold", "type": "FLOAT", "value": "0.7"}
    kserve = documents(app, "kserve")
    predictor = kserve["InferenceService"]["spec"]["predictor"]
    assert predictor["model"]["protocolVersion"] == "grpc-v2"
    assert kserve["ServingRuntime"]["spec"]["containers"][0]["ports"][0]["name"] == "h2c"
    job = documents(app, "job")["Job"]
    assert job["spec"]["completionMode"] == "Indexed"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (4, 2)
    container = pod_of(job)["containers"][0]
    assert container["args"] == ["predict", "/data/in/requests.jsonl", "/data/out/answers.jsonl",
                                 "--shard", "auto", "--resume", "--workers", "2"]
    assert {"name": "MODELKILN_SHARDS", "value": "4"} in container["env"]
    # the job's files belong on the mounted volume, and nowhere else
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "data"]
    assert {"name": "MODELKILN_JOB_ROOTS", "value": mount["mountPath"]} in container["env"]


def test_outlier_detector_is_a_transformer_node_and_grpc_off():
    app = HERE / "apps" / "outlier-rest-only"
    graph = documents(app, "seldon")["SeldonDeployment"]["spec"]["predictors"][0]["graph"]
    assert graph["type"] == "TRANSFORMER" and graph["endpoint"] == {"type": "REST"}
    deployment = documents(app, "deployment")
    assert [p["name"] for p in deployment["Service"]["spec"]["ports"]] == ["http", "metrics"]
    assert deployment["Deployment"]["spec"]["replicas"] == 3
    assert deployment["PodDisruptionBudget"]["spec"] == {
        "minAvailable": 2, "selector": {"matchLabels": {
            "app.kubernetes.io/name": "outlier-rest-only"}}}
    assert documents(app, "kserve")["ServingRuntime"]["spec"]["protocolVersions"] == ["v2"]


def test_replicas_flag_and_namespace():
    app = REPO / "templates" / "router-template-app"
    objects = {d["kind"]: d for d in yaml.safe_load_all(generate(
        app, "deployment", "--replicas", "3", "--namespace", "models", "--name", "router"))}
    assert objects["Deployment"]["spec"]["replicas"] == 3
    assert objects["Deployment"]["metadata"]["namespace"] == "models"
    assert objects["Service"]["metadata"]["name"] == "router"
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    job = yaml.safe_load(generate(app, "job", "--replicas", "5"))
    assert job["spec"]["completions"] == 5


def test_output_file(tmp_path):
    target = tmp_path / "out.yaml"
    manifests.main([str(REPO / "templates" / "model-template-app"), "--kind", "seldon",
                    "--image", "x:1", "-o", str(target)])
    assert yaml.safe_load_all(target.read_text())


# A generated object with one mistake in it must fail its schema: the checks are real.
BROKEN = [
    ("deployment", "Deployment", lambda d: pod_of(d)["containers"][0].update(readOnlyRootFS=1),
     "readOnlyRootFS"),
    ("deployment", "Service", lambda d: d["spec"]["ports"][0].update(port="http"), "port"),
    ("job", "Job", lambda d: d["spec"].update(completions="four"), "completions"),
    ("seldon", "SeldonDeployment",
     lambda d: d["spec"]["predictors"][0]["graph"].update(type="OUTLIER_DETECTOR"),
     "OUTLIER_DETECTOR"),
    ("seldon", "SeldonDeployment",
     lambda d: d["spec"]["predictors"][0].update(graphs=[]), "graphs"),
    ("seldon", "SeldonDeployment",
     lambda d: d["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0].update(
         image=7), "image"),
    ("kserve", "InferenceService",
     lambda d: d["spec"]["predictor"]["model"].update(protocol="v2"), "protocol"),
    ("kserve", "InferenceService", lambda d: d["spec"]["predictor"]["model"].pop("modelFormat"),
     "model_format"),
    ("kserve", "ServingRuntime",
     lambda d: d["spec"]["containers"][0]["readinessProbe"].update(httpGett={}), "httpGett"),
    ("openshift-build", "BuildConfig",
     lambda d: d["spec"]["strategy"]["sourceStrategy"].update(incremental="yes"), "incremental"),
    ("openshift-build", "BuildConfig",
     lambda d: d["spec"]["source"].update(contextDirectory="x"), "contextDirectory"),
    ("openshift-build", "Template",
     lambda d: d["objects"][3]["spec"]["source"]["git"].update(branch="${GIT_REF}"), "branch"),
]


@pytest.mark.parametrize("kind,target,change,word", BROKEN,
                         ids=["%s-%s" % (b[1], b[3]) for b in BROKEN])
def test_schemas_catch_mistakes(kind, target, change, word):
    app = REPO / "templates" / "model-template-app"
    document = copy.deepcopy(documents(app, kind)[target])
    schemas.validate(copy.deepcopy(document))
    change(document)
    with pytest.raises(schemas.SchemaError) as caught:
        schemas.validate(document)
    assert word in str(caught.value)


BAD_DEPLOY = [
    ("replicas: 0\n", "replicas: 0 is out of range"),
    ("replica: 2\n", "replica: unknown field; use one of replicas"),
    ("resources: {cpu: 2 cores}\n", "resources.cpu: '2 cores' is not a positive Kubernetes "
                                    "quantity; write e.g. 500m or 2"),
    ("resources: {memory: {request: 2Gi, limit: 1Gi}}\n",
     "resources.memory.limit: 1Gi is below the request 2Gi; raise the limit"),
    ("resources: {gpu: {count: 1, resource: gpu}}\n",
     "resources.gpu.resource: 'gpu' is not an extended resource name"),
    ("timeout: {status: soon}\n", "timeout.status: 'soon' is not a duration"),
    ("autoscaling: {maxReplicas: 4, targetCPUUtilization: 70}\n",
     "autoscaling.targetCPUUtilization: needs a CPU request"),
    ("autoscaling: {minReplicas: 3, maxReplicas: 2, targetRequestsPerSecond: 9}\n",
     "autoscaling.maxReplicas: 2 is out of range; it must be at least 3"),
    ("autoscaling: {maxReplicas: 4}\n", "autoscaling: no target"),
    ("replicas: 2\nautoscaling: {maxReplicas: 4, targetRequestsPerSecond: 9}\n",
     "replicas: set together with autoscaling"),
    ("disruptionBudget: {maxUnavailable: 1, minAvailable: 1}\n", "keep one of them"),
    ("transport: http\n", "transport: 'http' is neither rest nor grpc"),
    ("job: {input: ../secrets.jsonl}\n", "job.input: '../secrets.jsonl' leaves the volume"),
    ("job: {input: data.parquet}\n", "job.input: 'data.parquet' has none of the job's input"),
    ("job: {volumeClaim: My_Claim}\n", "job.volumeClaim: 'My_Claim' is not a "
                                       "PersistentVolumeClaim name"),
    ("- replicas\n", "must be a mapping"),
    ("replicas: [\n", "is not valid YAML"),
]


@pytest.mark.parametrize("text,message", BAD_DEPLOY, ids=[b[0].split(":")[0] for b in BAD_DEPLOY])
def test_deploy_yaml_errors(tmp_path, text, message):
    app = tmp_path / "app"
    shutil.copytree(str(REPO / "templates" / "model-template-app"), str(app))
    (app / "deploy.yaml").write_text(text)
    with pytest.raises(CliError) as caught:
        generate(app, "deployment")
    assert message in str(caught.value)
    assert str(app / "deploy.yaml") in str(caught.value)


GPU_SPLITS = [
    ("gpu: 4", "", {"GUNICORN_WORKERS": "4", "MODELKILN_GPUS_PER_WORKER": "1"}),
    ("gpu: 4", "MODELKILN_GPUS_PER_WORKER=2\n",
     {"GUNICORN_WORKERS": "2", "MODELKILN_GPUS_PER_WORKER": "2"}),
    ("gpu: 2", "GUNICORN_WORKERS=4\n",        # set by the app: workers share the GPUs
     {"GUNICORN_WORKERS": "4", "MODELKILN_GPUS_PER_WORKER": "1"}),
    ("gpu: 2", "MODELKILN_GPUS_PER_WORKER=0\n", {"MODELKILN_GPUS_PER_WORKER": "0"}),
    ("gpu: {count: 2, resource: amd.com/gpu}", "", {}),   # requested, not split
]


@pytest.mark.parametrize("gpu,environment,expected", GPU_SPLITS,
                         ids=["default", "two-each", "workers-set", "off", "amd"])
def test_requested_gpus_set_the_workers_and_their_devices(tmp_path, gpu, environment,
                                                          expected):
    app = tmp_path / "app"
    shutil.copytree(str(REPO / "templates" / "model-template-app"), str(app))
    (app / "deploy.yaml").write_text("resources: {%s}\n" % gpu)
    with (app / ".s2i" / "environment").open("a") as handle:
        handle.write(environment)
    for kind in ("deployment", "seldon", "kserve"):
        objects = documents(app, kind)
        found = [c for document in objects.values() for c in containers_in(document)
                 if c.get("image")]
        env = {e["name"]: e["value"] for e in found[0].get("env", [])}
        got = {k: env[k] for k in ("GUNICORN_WORKERS", "MODELKILN_GPUS_PER_WORKER")
               if k in env}
        assert got == expected, (kind, env)


def containers_in(document):
    """Every container mapping anywhere in a document."""
    if isinstance(document, dict):
        if "containers" in document and isinstance(document["containers"], list):
            return list(document["containers"]) + [
                c for v in document.values() for c in containers_in(v)]
        return [c for v in document.values() for c in containers_in(v)]
    if isinstance(document, list):
        return [c for v in document for c in containers_in(v)]
    return []


@pytest.mark.parametrize("gpu,environment,message", [
    ("gpu: 3", "MODELKILN_GPUS_PER_WORKER=2\n", "ask for a multiple of 2 GPUs"),
    ("gpu: 1", "MODELKILN_GPUS_PER_WORKER=2\n", "cannot divide"),
    ("gpu: 1", "MODELKILN_CONSTRUCT_IN=master\n", "remove it"),
], ids=["indivisible", "too-few", "master"])
def test_a_gpu_split_that_cannot_work_is_refused(tmp_path, gpu, environment, message):
    app = tmp_path / "app"
    shutil.copytree(str(REPO / "templates" / "model-template-app"), str(app))
    (app / "deploy.yaml").write_text("resources: {%s}\n" % gpu)
    with (app / ".s2i" / "environment").open("a") as handle:
        handle.write(environment)
    with pytest.raises(CliError) as caught:
        generate(app, "deployment")
    assert message in str(caught.value)


def test_app_errors(tmp_path):
    app = tmp_path / "app"
    (app / ".s2i").mkdir(parents=True)
    (app / ".s2i" / "environment").write_text("SERVICE_TYPE=MODEL\n")
    with pytest.raises(CliError, match="no model class given"):
        generate(app, "deployment")
    (app / ".s2i" / "environment").write_text("MODEL_NAME=M\nSERVICE_TYPE=SCORER\n")
    with pytest.raises(CliError, match="SERVICE_TYPE='SCORER' is invalid"):
        generate(app, "deployment")
    (app / ".s2i" / "environment").write_text("MODEL_NAME=M\nPREDICTIVE_UNIT_PARAMETERS=[{\n")
    with pytest.raises(CliError, match="PREDICTIVE_UNIT_PARAMETERS is not valid JSON"):
        generate(app, "seldon")
    (app / ".s2i" / "environment").write_text("MODEL_NAME=M\nGRPC_WORKERS=0\n")
    (app / "deploy.yaml").write_text("transport: grpc\n")
    with pytest.raises(CliError, match="GRPC_WORKERS=0"):
        generate(app, "kserve")
    with pytest.raises(CliError, match="is not a folder"):
        generate(tmp_path / "missing", "deployment")
    (app / "deploy.yaml").unlink()
    with pytest.raises(CliError, match="--git-uri"):
        manifests.main([str(app), "--kind", "openshift-build", "--image", BUILDER])


def test_command_prints_one_error_line(tmp_path):
    """Through the modelkiln command: one ERROR line, exit 1, nothing on stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "modelkiln_cli.cli", "manifests",
         str(REPO / "templates" / "model-template-app"), "--image", "x:1", "--kind",
         "deployment", "--name", "Not_A_Name"],
        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("ERROR: --name 'Not_A_Name' cannot name Kubernetes")
    assert result.stderr.count("ERROR") == 1


def test_git_checkout_gives_the_build_source(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(str(REPO / "templates" / "model-template-app"), str(repo / "models" / "iris"))
    for command in (["init", "-q", "-b", "release"], ["remote", "add", "origin",
                                                      "https://git.example.com/x/models.git"]):
        subprocess.run(["git"] + command, cwd=str(repo), check=True)
    out = io.StringIO()
    manifests.main([str(repo / "models" / "iris"), "--kind", "openshift-build", "--image",
                    BUILDER], stdout=out)
    build = {d["kind"]: d for d in yaml.safe_load_all(out.getvalue())}["BuildConfig"]
    assert build["spec"]["source"]["git"] == {"uri": "https://git.example.com/x/models.git",
                                              "ref": "release"}
    assert build["spec"]["source"]["contextDir"] == "models/iris"


def test_tls_app_is_probed_over_https(tmp_path):
    """TLS files are a secret mounted in the pod: their paths are not looked for here."""
    app = tmp_path / "tls"
    (app / ".s2i").mkdir(parents=True)
    (app / ".s2i" / "environment").write_text(
        "MODEL_NAME=M\nMODELKILN_TLS_CERT=/etc/tls/tls.crt\nMODELKILN_TLS_KEY=/etc/tls/tls.key\n")
    for kind in ("deployment", "seldon"):
        text = generate(app, kind)
        probes = [d for d in yaml.safe_load_all(text) if d["kind"] != "Service"][0]
        assert text.count("scheme: HTTPS") == 3, probes


RUNTIME = "quay.io/acme/modelkiln-python311-runtime:1.0"


def test_the_chained_build_of_a_slim_image():
    """--runtime-image: the source build writes an intermediate image; a Docker build on the
    runtime image copies its /opt/app-root in and runs assemble-runtime, in one layer, and
    runs again when either image changes. Golden file and real schemas, as the other kinds."""
    app = REPO / "templates" / "model-template-app"
    text = generate(app, "openshift-build", "--runtime-image", RUNTIME)
    golden = GOLDEN / app.name / "openshift-build-slim.yaml"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with MODELKILN_UPDATE_GOLDEN=1 and review"
    docs = list(yaml.safe_load_all(text))
    assert {schemas.validate(d) for d in docs} == {"openshift", "kubernetes-validate"}
    streams = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ImageStream"}
    assert streams["modelkiln-python311-runtime"]["spec"]["tags"][0]["from"]["name"] == RUNTIME
    assert set(streams) == {"modelkiln-python311", "modelkiln-python311-runtime",
                            "model-template-app", "model-template-app-build"}
    builds = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "BuildConfig"}
    source = builds["model-template-app-build"]
    assert source["strategy"]["type"] == "Source"
    assert source["output"]["to"]["name"] == "model-template-app-build:latest"
    slim = builds["model-template-app"]
    assert slim["strategy"]["dockerStrategy"]["from"]["name"] == \
        "modelkiln-python311-runtime:1.0"
    assert slim["strategy"]["dockerStrategy"]["imageOptimizationPolicy"] == "SkipLayers"
    assert slim["source"]["images"] == [{
        "from": {"kind": "ImageStreamTag", "name": "model-template-app-build:latest"},
        "paths": [{"sourcePath": "/opt/app-root", "destinationDir": "."}]}]
    assert 'RUN ["/usr/libexec/s2i/assemble-runtime"]' in slim["source"]["dockerfile"]
    assert slim["output"]["to"]["name"] == "model-template-app:latest"
    assert {"type": "ImageChange", "imageChange": {"from": {
        "kind": "ImageStreamTag", "name": "model-template-app-build:latest"}}} in slim["triggers"]
    template = [d for d in docs if d["kind"] == "Template"][0]
    assert {p["name"]: p.get("required") for p in template["parameters"]}["RUNTIME_IMAGE"]
    with pytest.raises(CliError, match="--runtime-image is for --kind openshift-build"):
        generate(app, "deployment", "--runtime-image", RUNTIME)
