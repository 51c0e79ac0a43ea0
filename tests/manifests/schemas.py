"""The real schemas the generated manifests are checked against (installed by ``make
test-manifests`` into ``.venv-manifests``; docs/deploying.md says what checks what):

- Kubernetes' own OpenAPI schemas for one pinned version, as ``kubernetes-validate`` ships
  them (its strict variant: an unknown field is an error). Every core object, and every pod
  spec, container and metadata nested in the custom resources below.
- KServe's Python SDK (``kserve``): the generated models of the ``serving.kserve.io`` types.
- ``seldon-deploy-sdk``: Seldon's generated models of the ``machinelearning.seldon.io/v1``
  types.
- OpenShift's OpenAPI document (build, image and template APIs, with Kubernetes beside them)
  as the npm package ``openshift-rest-client`` ships it.

The SDK models are walked field by field: a key the model does not declare, a value of the
wrong type, or a missing required field fails, with the path of the field.
"""

import copy
import gzip
import importlib
import json
import os
import re
import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import jsonschema
import kubernetes_validate
import referencing
from kubernetes_validate.utils import ValidationError as K8sValidationError

K8S_VERSION = "1.30.0"
# Unpacked by the Makefile into the virtualenv the tests run in.
OPENSHIFT_SPEC = Path(sys.prefix) / "openshift" / "package" / "lib" / "specs" / \
    "openshift-openapi-spec.json.gz"
# Enumerations Seldon's Go types declare and its generated Python models do not keep.
SELDON_ENUMS = {
    "PredictiveUnitType": ("UNKNOWN_TYPE", "ROUTER", "COMBINER", "MODEL", "TRANSFORMER",
                           "OUTPUT_TRANSFORMER"),
    "EndpointType": ("REST", "GRPC"),
    "ParmeterType": ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL"),
    "Protocol": ("seldon", "tensorflow", "v2", "kfserving"),
}
# Kubernetes types Seldon's models name without their group: checked by Kubernetes' schema.
SELDON_K8S = {"ObjectMeta": "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
              "PodSpec": "io.k8s.api.core.v1.PodSpec",
              "ResourceRequirements": "io.k8s.api.core.v1.ResourceRequirements",
              "MetricSpec": "io.k8s.api.autoscaling.v2.MetricSpec",
              "IntOrString": "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}


class SchemaError(AssertionError):
    pass


# ---------------------------------------------------------------- Kubernetes


def _k8s_dir() -> Path:
    return (Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" /
            ("v%s-local-strict" % K8S_VERSION))


_DEFS = {}  # type: Dict[str, Any]


def _k8s_definitions() -> Dict[str, Any]:
    if not _DEFS:
        document = json.loads((_k8s_dir() / "_definitions.json").read_text())
        resource = referencing.Resource.from_contents(document)
        _DEFS.update(document=document,
                     registry=resource @ referencing.Registry(),
                     uri=document["$id"])
    return _DEFS


def core(document: Dict[str, Any]) -> None:
    """A whole object of a built-in kind, by kubernetes-validate (strict)."""
    try:
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)
    except K8sValidationError as exc:
        raise SchemaError("%s %s: %s: %s" % (document.get("kind"), K8S_VERSION,
                                             ".".join(str(p) for p in exc.path),
                                             exc.message)) from None


def k8s_definition(value: Any, key: str, where: str) -> None:
    """One nested value (a pod spec, a container, metadata) against Kubernetes' definition."""
    defs = _k8s_definitions()
    if key not in defs["document"]["$defs"]:
        raise SchemaError("%s: Kubernetes %s has no definition %s" % (where, K8S_VERSION, key))
    schema = {"$ref": "%s#/$defs/%s" % (defs["uri"], key)}
    validator = jsonschema.Draft202012Validator(schema, registry=defs["registry"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        raise SchemaError("%s (%s): %s: %s" % (where, key, ".".join(
            str(p) for p in error.absolute_path), error.message))


def k8s_key(short: str) -> Optional[str]:
    """The Kubernetes definition a model's ``V1Foo`` names (core, then meta, then others)."""
    names = [k for k in _k8s_definitions()["document"]["$defs"] if k.endswith("." + short)]
    for prefix in ("io.k8s.api.core.v1.", "io.k8s.apimachinery.pkg.apis.meta.v1.",
                   "io.k8s.api.apps.v1.", "io.k8s.api.autoscaling.v2."):
        for name in names:
            if name.startswith(prefix):
                return name
    return names[0] if len(names) == 1 else None


# ---------------------------------------------------------------- generated SDK models


def walk(value: Any, type_name: str, path: str, resolve: Callable[[str], Any]) -> None:
    """Check ``value`` against an OpenAPI-generated model type (``list[T]``, ``dict(str, T)``,
    primitives, model classes); ``resolve`` turns a class name into the class, a Kubernetes
    definition key (str), or a tuple of allowed strings (an enumeration)."""
    if value is None:
        return
    match = re.match(r"^list\[(.*)\]$", type_name)
    if match:
        if not isinstance(value, list):
            raise SchemaError("%s: expected a list, got %r" % (path, value))
        for index, item in enumerate(value):
            walk(item, match.group(1), "%s[%d]" % (path, index), resolve)
        return
    match = re.match(r"^dict\(([^,]*), (.*)\)$", type_name)
    if match:
        if not isinstance(value, dict):
            raise SchemaError("%s: expected a mapping, got %r" % (path, value))
        for key, item in value.items():
            walk(item, match.group(2), "%s.%s" % (path, key), resolve)
        return
    primitive = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
                 "object": (object,)}.get(type_name)
    if primitive is not None:
        if not isinstance(value, primitive) or (type_name in ("int", "float") and
                                                isinstance(value, bool)):
            raise SchemaError("%s: expected %s, got %r" % (path, type_name, value))
        return
    target = resolve(type_name)
    if isinstance(target, str):
        k8s_definition(value, target, path)
        return
    if isinstance(target, tuple):
        if value not in target:
            raise SchemaError("%s: %r is not one of %s" % (path, value, ", ".join(target)))
        return
    if target is None:
        raise SchemaError("%s: no schema for type %s" % (path, type_name))
    if not isinstance(value, dict):
        raise SchemaError("%s: expected a %s mapping, got %r" % (path, type_name, value))
    types_ = getattr(target, "openapi_types", None) or getattr(target, "swagger_types", {})
    by_key = {json_key: attr for attr, json_key in target.attribute_map.items()}
    for key, item in value.items():
        if key not in by_key:
            raise SchemaError("%s.%s: %s has no field %s" % (path, key, type_name, key))
        walk(item, types_[by_key[key]], "%s.%s" % (path, key), resolve)
    try:   # the model's own checks: required fields, allowed values
        target(**{by_key[k]: v for k, v in value.items()})
    except (ValueError, TypeError) as exc:
        raise SchemaError("%s: %s: %s" % (path, type_name, exc)) from None


def _kserve_models() -> types.ModuleType:
    """kserve.models without kserve/__init__.py, which starts a model server's imports
    (FastAPI, pandas, ...) that reading the models does not need."""
    if "kserve.models" not in sys.modules:
        spec = importlib.util.find_spec("kserve")
        package = types.ModuleType("kserve")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["kserve"] = package
    return importlib.import_module("kserve.models")


def kserve(document: Dict[str, Any]) -> None:
    """An InferenceService or ServingRuntime, by the KServe SDK's models."""
    models = _kserve_models()
    kind = {"InferenceService": "V1beta1InferenceService",
            "ServingRuntime": "V1alpha1ServingRuntime"}[document["kind"]]
    version = {"InferenceService": "serving.kserve.io/v1beta1",
               "ServingRuntime": "serving.kserve.io/v1alpha1"}[document["kind"]]
    if document.get("apiVersion") != version:
        raise SchemaError("%s: apiVersion must be %s" % (document["kind"], version))

    def resolve(name: str) -> Any:
        if hasattr(models, name):
            return getattr(models, name)
        if name == "ResourceQuantity":
            return "io.k8s.apimachinery.pkg.api.resource.Quantity"
        if re.match(r"^V[12][A-Z]", name) or name.startswith("K8sIoApi"):
            return k8s_key(re.sub(r"^(V[12]|K8sIoApi\w+V1)", "", name))
        return None

    walk(document, kind, document["kind"], resolve)


def seldon(document: Dict[str, Any]) -> None:
    """A SeldonDeployment, by seldon-deploy-sdk's models (Kubernetes parts by Kubernetes')."""
    models = importlib.import_module("seldon_deploy_sdk.models")
    if document.get("apiVersion") != "machinelearning.seldon.io/v1":
        raise SchemaError("SeldonDeployment: apiVersion must be machinelearning.seldon.io/v1")

    def resolve(name: str) -> Any:
        if name in SELDON_K8S:
            return SELDON_K8S[name]
        if name in SELDON_ENUMS:
            return SELDON_ENUMS[name]
        return getattr(models, name, None)

    walk(document, "SeldonDeployment", "SeldonDeployment", resolve)


# ---------------------------------------------------------------- OpenShift


_OPENSHIFT = {}  # type: Dict[str, Any]


def _strict(node: Any) -> Any:
    """Swagger 2.0 definitions as strict JSON Schema: objects with properties allow no others,
    and int-or-string values are strings or integers (as Kubernetes reads them)."""
    if isinstance(node, dict):
        if node.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _openshift() -> Dict[str, Any]:
    if not _OPENSHIFT:
        if not OPENSHIFT_SPEC.exists():
            raise SchemaError("OpenShift's OpenAPI document is missing (%s): run `make "
                              "test-manifests`, which unpacks it from npm's "
                              "openshift-rest-client" % OPENSHIFT_SPEC)
        spec = json.loads(gzip.decompress(OPENSHIFT_SPEC.read_bytes()))
        definitions = _strict(spec["definitions"])
        # Three quirks of the document, not of the API. It lists `status` (written by the
        # server) as required on BuildConfig and others, and a BuildConfig's `nodeSelector`
        # (a Go field without omitempty; left out, the cluster's default build node selector
        # applies, and OpenShift's own templates leave it out); and it gives a Template's
        # `objects` (RawExtension) the Go struct's own field `Raw`: objects are checked one
        # by one after instantiate().
        for key, schema in definitions.items():
            optional = ("status", "nodeSelector") if key.endswith(".BuildConfigSpec") \
                else ("status",)
            if any(name in schema.get("required", []) for name in optional):
                schema["required"] = [r for r in schema["required"] if r not in optional]
        definitions["io.k8s.apimachinery.pkg.runtime.RawExtension"] = {"type": "object"}
        by_kind = {}
        for key, schema in spec["definitions"].items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                api = "%s/%s" % (gvk["group"], gvk["version"]) if gvk["group"] \
                    else gvk["version"]
                by_kind[(api, gvk["kind"])] = key
        _OPENSHIFT.update(definitions=definitions, by_kind=by_kind)
    return _OPENSHIFT


def openshift(document: Dict[str, Any], where: str = "") -> None:
    """An object of an OpenShift (or Kubernetes) kind, by OpenShift's OpenAPI document."""
    spec = _openshift()
    key = spec["by_kind"].get((document.get("apiVersion"), document.get("kind")))
    if key is None:
        raise SchemaError("%s%s %s: not in OpenShift's OpenAPI document" % (
            where, document.get("apiVersion"), document.get("kind")))
    schema = {"$ref": "#/definitions/%s" % key, "definitions": spec["definitions"]}
    validator = jsonschema.Draft4Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise SchemaError("%s%s: %s: %s" % (where, document["kind"], ".".join(
            str(p) for p in error.absolute_path), error.message))


def instantiate(template: Dict[str, Any]) -> list:
    """A Template's objects with its parameters' values put in, as ``oc process`` does
    (``${NAME}`` in strings)."""
    values = {p["name"]: p.get("value", "") for p in template.get("parameters", [])}
    text = json.dumps(template["objects"])
    for name, value in values.items():
        text = text.replace("${%s}" % name, json.dumps(value)[1:-1])
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    if left:
        raise SchemaError("Template: %s has no parameter" % ", ".join(sorted(set(left))))
    return json.loads(text)


def validate(document: Dict[str, Any]) -> str:
    """Check one generated object by the schema for its kind; returns what checked it."""
    kind = document.get("kind")
    if kind in ("SeldonDeployment",):
        seldon(document)
        return "seldon-deploy-sdk"
    if kind in ("InferenceService", "ServingRuntime"):
        kserve(document)
        return "kserve"
    if kind in ("ImageStream", "BuildConfig"):
        openshift(document)
        return "openshift"
    if kind == "Template":
        openshift(document)
        for index, item in enumerate(instantiate(copy.deepcopy(document))):
            openshift(item, "Template.objects[%d]: " % index)
            if item["kind"] == "ConfigMap":
                core(item)
        return "openshift"
    core(document)
    return "kubernetes-validate"


def tool_versions() -> str:
    from importlib import metadata

    return ", ".join("%s %s" % (name, metadata.version(name)) for name in (
        "kubernetes-validate", "kserve", "seldon-deploy-sdk")) + \
        ", openshift-rest-client's OpenAPI document (%s)" % os.path.basename(str(OPENSHIFT_SPEC))
