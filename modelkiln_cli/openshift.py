"""``openshift-build``: the builder and app ImageStreams, a ConfigMap OpenShift fills with the
cluster's trusted CAs, a BuildConfig with the source strategy, and a Template holding them
with parameters. With ``--runtime-image``, the chained build of a slim image: the source
build's output (``NAME-build``) is an intermediate, and a second BuildConfig (Docker strategy
on the runtime image) copies its /opt/app-root into the runtime image and runs the runtime
image's ``assemble-runtime``, as ``s2i build --runtime-image`` does."""

import subprocess
from typing import Any, Dict, List, Optional

from .podspec import App, ManifestError, dns_name

CA_DIR = ".modelkiln-ca"


class GitSource(object):
    def __init__(self, uri: str, ref: str, context_dir: str) -> None:
        self.uri = uri
        self.ref = ref
        self.context_dir = context_dir


def git_source(app_dir: str, uri: Optional[str], ref: Optional[str],
               context_dir: Optional[str]) -> GitSource:
    """The app's repository, branch and sub-folder, from its git checkout unless given."""
    def git(*args: str) -> str:
        try:
            result = subprocess.run(["git", "-C", app_dir] + list(args), stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, universal_newlines=True)
        except OSError:
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    uri = uri or git("remote", "get-url", "origin")
    if not uri:
        raise ManifestError("openshift-build needs the app's git repository: pass --git-uri URL "
                            "(%s has no git remote named origin)" % app_dir)
    if ref is None:   # the branch checked out, else the commit (detached), else none
        ref = git("symbolic-ref", "--short", "HEAD") or git("rev-parse", "HEAD")
    if context_dir is None:
        context_dir = git("rev-parse", "--show-prefix").rstrip("/")
    return GitSource(uri, ref, context_dir)


def builder_stream(image: str) -> Dict[str, str]:
    """The builder ImageStream's name and tag for a builder image reference."""
    path, _, tag = image.rpartition(":")
    if not path or "/" in tag:
        path, tag = image, "latest"
    base = dns_name(path.rpartition("/")[2])
    return {"name": base if base.startswith("modelkiln") else "modelkiln-" + base, "tag": tag}


# The second build of the chained form: the app's /opt/app-root, copied from the source
# build's image into the build context (``images`` source), goes where s2i's runtime flow puts
# it, and the runtime image's assemble-runtime puts it in place (one layer: SkipLayers).
RUNTIME_DOCKERFILE = """FROM runtime
COPY app-root /opt/app-root/src/app-root
USER 0
RUN ["/usr/libexec/s2i/assemble-runtime"]
USER 1001
CMD ["/usr/libexec/s2i/run"]
"""


def openshift_objects(app: App, name: str, builder: str,
                      uri: str, ref: str, context_dir: str,
                      runtime: Optional[str] = None) -> List[Dict[str, Any]]:
    """Builder and app ImageStreams, the trusted-CA ConfigMap and the BuildConfig; with
    ``runtime``, the runtime image's ImageStream, the intermediate one and the second
    BuildConfig too."""
    stream = builder_stream(app.image)
    labels = dict(app.labels(), **{"app.kubernetes.io/name": name})

    def meta(object_name: str, **extra: Any) -> Dict[str, Any]:
        meta = {"name": object_name}  # type: Dict[str, Any]
        if app.namespace:
            meta["namespace"] = app.namespace
        meta["labels"] = dict(labels)
        meta.update(extra)
        return meta

    source = {"type": "Git", "git": {"uri": uri}}  # type: Dict[str, Any]
    if ref:
        source["git"]["ref"] = ref
    if context_dir:
        source["contextDir"] = context_dir
    # The cluster's trusted CAs (its proxy's included), put into the ConfigMap by OpenShift
    # and handed to assemble in the source; MODELKILN_CA_BUNDLE points pip and conda at them
    # (assemble does not copy that folder into the image).
    source["configMaps"] = [{"configMap": {"name": "%s-trusted-ca" % name},
                             "destinationDir": CA_DIR}]
    ca_meta = meta("%s-trusted-ca" % name)
    ca_meta["labels"]["config.openshift.io/inject-trusted-cabundle"] = "true"

    def imported(image_stream: Dict[str, str], image: str, what: str,
                 tags: str) -> Dict[str, Any]:
        return {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
                "metadata": meta(image_stream["name"], annotations={
                    "openshift.io/display-name": "modelkiln %s (%s)" % (
                        what, image_stream["name"])}),
                "spec": {"lookupPolicy": {"local": False},
                         "tags": [{"name": image_stream["tag"],
                                   "annotations": {"tags": tags,
                                                   "supports": "python,seldon,kserve"},
                                   "from": {"kind": "DockerImage", "name": image},
                                   "importPolicy": {"scheduled": True},
                                   "referencePolicy": {"type": "Local"}}]}}

    built = name if runtime is None else "%s-build" % name  # the source build's output
    objects = [
        imported(stream, builder, "builder", "builder,python,modelkiln"),
        {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": meta(name),
         "spec": {"lookupPolicy": {"local": True}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ca_meta},
        {"apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": meta(built),
         "spec": {"runPolicy": "Serial",
                  "source": source,
                  "strategy": {"type": "Source", "sourceStrategy": {
                      "from": {"kind": "ImageStreamTag",
                               "name": "%s:%s" % (stream["name"], stream["tag"])},
                      "incremental": True,
                      "env": [{"name": "MODELKILN_CA_BUNDLE",
                               "value": "%s/ca-bundle.crt" % CA_DIR}]}},
                  "output": {"to": {"kind": "ImageStreamTag", "name": "%s:latest" % built}},
                  "triggers": [{"type": "ConfigChange"},
                               {"type": "ImageChange", "imageChange": {}}]}},
    ]
    if runtime is None:
        return objects
    runtime_stream = builder_stream(runtime)
    objects[1:1] = [
        imported(runtime_stream, runtime, "runtime", "runtime,python,modelkiln"),
        {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": meta(built),
         "spec": {"lookupPolicy": {"local": False}}},
    ]
    objects.append(
        {"apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": meta(name),
         "spec": {"runPolicy": "Serial",
                  "source": {"type": "Dockerfile", "dockerfile": RUNTIME_DOCKERFILE,
                             "images": [{"from": {"kind": "ImageStreamTag",
                                                  "name": "%s:latest" % built},
                                         "paths": [{"sourcePath": "/opt/app-root",
                                                    "destinationDir": "."}]}]},
                  "strategy": {"type": "Docker", "dockerStrategy": {
                      "from": {"kind": "ImageStreamTag", "name": "%s:%s" % (
                          runtime_stream["name"], runtime_stream["tag"])},
                      "imageOptimizationPolicy": "SkipLayers"}},
                  "output": {"to": {"kind": "ImageStreamTag", "name": "%s:latest" % name}},
                  "triggers": [{"type": "ConfigChange"},
                               {"type": "ImageChange", "imageChange": {}},
                               {"type": "ImageChange", "imageChange": {"from": {
                                   "kind": "ImageStreamTag", "name": "%s:latest" % built}}}]}})
    return objects


TEMPLATE_PARAMETERS = (
    ("NAME", "Name of the app's ImageStream, BuildConfig and ConfigMap"),
    ("GIT_URI", "Git repository holding the app"),
    ("GIT_REF", "Branch, tag or commit to build (empty: the default branch)"),
    ("CONTEXT_DIR", "Folder of the app inside the repository (empty: its root)"),
    ("BUILDER_IMAGE", "modelkiln builder image the builder ImageStream imports"),
)


def openshift_build(app: App, git: GitSource,
                    runtime: Optional[str] = None) -> List[Dict[str, Any]]:
    """The objects with this app's values, then a Template holding them with parameters."""
    plain = openshift_objects(app, app.name, app.image, git.uri, git.ref, git.context_dir,
                              runtime)
    templated = openshift_objects(app, "${NAME}", "${BUILDER_IMAGE}", "${GIT_URI}",
                                  "${GIT_REF}", "${CONTEXT_DIR}",
                                  None if runtime is None else "${RUNTIME_IMAGE}")
    defaults = {"NAME": app.name, "GIT_URI": git.uri, "GIT_REF": git.ref,
                "CONTEXT_DIR": git.context_dir, "BUILDER_IMAGE": app.image,
                "RUNTIME_IMAGE": runtime}
    parameters = []
    wanted = TEMPLATE_PARAMETERS + ((("RUNTIME_IMAGE", "modelkiln runtime image the slim app "
                                      "image runs on"),) if runtime is not None else ())
    for key, text in wanted:
        parameter = {"name": key, "description": text, "value": defaults[key]}
        if key in ("NAME", "GIT_URI", "BUILDER_IMAGE", "RUNTIME_IMAGE"):
            parameter["required"] = True
        parameters.append(parameter)
    template = {"apiVersion": "template.openshift.io/v1", "kind": "Template",
                "metadata": app.metadata("%s-build" % app.name, annotations={
                    "description": "Builds %s from git with the modelkiln s2i builder "
                                   "(oc process -f FILE -p GIT_REF=... | oc apply -f -)"
                                   % app.name,
                    "tags": "modelkiln,python,s2i"}),
                "objects": templated, "parameters": parameters}
    return plain + [template]

