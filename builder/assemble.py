"""``assemble``: turn the source in /tmp/src into a runnable app, inside the builder image.

Layout in the image: the runtime (python_runtime and its libraries) lives in its own virtualenv
(/opt/modelkiln); the app's dependencies go into the app virtualenv (/opt/app-root), which sees
the runtime through a .pth file. So the app's installed packages are exactly what
``save-artifacts`` carries to the next incremental build, and no pip cache is ever written.
"""

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from . import archive, conda, mlflow_folder, pins, weights
from . import settings as paths
from .settings import BuildSettings, BuildSettingsError


class AssembleError(Exception):
    """The build cannot go on; the message says why and what to change."""


def step(message: str) -> float:
    print("---> %s" % message, flush=True)
    return time.time()


def done(started: float) -> None:
    print("     done in %.1f s" % (time.time() - started), flush=True)


def copy_tree(source: str, target: str) -> None:
    """Merge ``source`` into ``target`` (copytree's dirs_exist_ok needs Python 3.8)."""
    for base, dirs, files in os.walk(source):
        rel = os.path.relpath(base, source)
        out = os.path.normpath(os.path.join(target, rel))
        os.makedirs(out, exist_ok=True)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            shutil.copy2(os.path.join(base, name), os.path.join(out, name), follow_symlinks=False)


def merge_move(source: str, target: str) -> None:
    """Move ``source``'s entries into ``target``, descending only where both have a folder."""
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if os.path.isdir(dst) and not os.path.islink(dst) and os.path.isdir(src) \
                and not os.path.islink(src):
            merge_move(src, dst)
            continue
        if os.path.lexists(dst):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            else:
                os.remove(dst)
        shutil.move(src, dst)


def restore_artifacts(artifacts: str, target: str) -> bool:
    """Put the previous image's installed packages and conda environment back (incremental
    builds). s2i and ``modelkiln build`` both unpack the save-artifacts stream (paths
    relative to /opt/app-root) into /tmp/artifacts; entries are moved, not copied."""
    if not os.path.isdir(artifacts) or not os.listdir(artifacts):
        return False
    started = step("Restoring installed packages from the previous image")
    merge_move(artifacts, target)
    done(started)
    return True


def ca_bundle(settings: BuildSettings) -> Optional[str]:
    """The CA bundle this build trusts: MODELKILN_CA_BUNDLE (relative to the source), else the
    injected one, else None (the system's)."""
    if settings.ca_bundle:
        path = os.path.join(paths.SOURCE_DIR, settings.ca_bundle)  # an absolute one stays
        if not paths.injected(path):
            raise AssembleError(
                "MODELKILN_CA_BUNDLE=%s: %s is missing or empty (in OpenShift, check that the "
                "BuildConfig's configMaps entry names the trusted-CA ConfigMap and its "
                "destinationDir)" % (settings.ca_bundle, path))
        return path
    return paths.CA_BUNDLE if paths.injected(paths.CA_BUNDLE) else None


def source_only(settings: BuildSettings) -> List[str]:
    """Top-level entries of the source that are build inputs, not app files: never copied."""
    skip = [".git"]
    bundle = settings.ca_bundle
    if bundle and not os.path.isabs(bundle):
        skip.append(os.path.normpath(bundle).split(os.sep)[0])
    return skip


def copy_source(source: str, app_dir: str, skip: Sequence[str] = (".git",)) -> None:
    started = step("Copying the application source to %s" % app_dir)
    if not os.path.isdir(source):
        raise AssembleError("no source in %s: the build tool did not upload the app" % source)
    os.makedirs(app_dir, exist_ok=True)
    try:
        kept = weights.compile_patterns(os.environ.get("MODELKILN_WEIGHTS", ""))
    except ValueError as exc:
        raise AssembleError(str(exc)) from exc
    if kept:  # modelkiln build put them here, in a layer of their own: they stay
        weights.remove_all_but(app_dir, kept)
    for name in os.listdir(app_dir) if not kept else ():
        stale = os.path.join(app_dir, name)  # a build on top of a previous image: it goes
        if os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale)
        else:
            os.remove(stale)
    packed = archive.single_archive(source)
    if packed is not None:  # an OpenShift binary build --from-file: the artifact itself
        try:
            files = archive.unpack(packed, app_dir)
        except archive.ArchiveError as exc:
            raise AssembleError(str(exc)) from exc
        print("---> unpacked %s (%d files): the source held this archive and nothing else"
              % (os.path.basename(packed), files), flush=True)
        done(started)
        return
    for name in os.listdir(source):
        if name in skip:
            continue
        src, dst = os.path.join(source, name), os.path.join(app_dir, name)
        if os.path.isdir(src) and not os.path.islink(src):
            copy_tree(src, dst)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    done(started)


def pip_environment(settings: BuildSettings) -> Dict[str, str]:
    """pip's environment for this build only: nothing here is written to disk."""
    env = dict(os.environ)
    env["PIP_NO_CACHE_DIR"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    bundle = ca_bundle(settings)
    if bundle is not None:
        env["PIP_CERT"] = bundle
        env["SSL_CERT_FILE"] = bundle
        env["REQUESTS_CA_BUNDLE"] = bundle
    if paths.injected(paths.PIP_CONF):
        env["PIP_CONFIG_FILE"] = paths.PIP_CONF  # credentials come only from here
    return env


def pip_options(settings: BuildSettings) -> List[str]:
    options = []  # type: List[str]
    if os.path.isdir(paths.WHEEL_DIR):
        try:
            wheels = os.listdir(paths.WHEEL_DIR)
        except OSError as exc:
            raise AssembleError("cannot read the injected %s (%s): make it readable by the "
                                "builder's user" % (paths.WHEEL_DIR, exc)) from exc
        if wheels:
            options += ["--find-links", paths.WHEEL_DIR]
    for link in (settings.pip_find_links or "").split():
        options += ["--find-links", link]
    if settings.pip_index_url:
        options += ["--index-url", settings.pip_index_url]
    for url in (settings.extra_index_url or "").split():
        options += ["--extra-index-url", url]
    for host in (settings.pip_trusted_host or "").split():
        options += ["--trusted-host", host]
    return options


TLS_FAILURES = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
TLS_HINT = (
    "pip could not verify the package index's TLS certificate: behind a TLS-inspecting proxy, "
    "give the build the proxy's CA bundle (modelkiln build hands over this machine's bundle "
    "unless --no-host-ca; or --ca-bundle FILE; with s2i: -v /etc/ssl/certs/ca-certificates.crt"
    ":%s:ro; or MODELKILN_CA_BUNDLE=FILE in the source)" % paths.CA_BUNDLE)


def _pip(command: List[str], env: Dict[str, str], echo: bool = True) -> Tuple[int, str]:
    """Run pip, echoing its output as it comes (unless ``echo`` is False); (exit code,
    output)."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
    return proc.wait(), "".join(lines)


def run_pip(python: str, args: List[str], env: Dict[str, str], what: str) -> None:
    """``pip install args``. With wheels injected at /whl it first tries those alone
    (``--no-index``): an offline build then never waits on the index; only when they lack
    something does pip ask the index, retrying once instead of five times."""
    command = [python, "-m", "pip", "install"] + args
    offline = "--find-links" in args and paths.WHEEL_DIR in args and "--no-index" not in args
    if offline:
        print("     $ pip install --no-index %s" % " ".join(args), flush=True)
        code, output = _pip(command + ["--no-index"], env, echo=False)
        if code == 0:
            sys.stdout.write(output)
            return
        print("     %s does not hold everything %s needs; asking the package index for the "
              "rest" % (paths.WHEEL_DIR, what), flush=True)
        command += ["--retries", "1"]
    print("     $ pip install %s" % " ".join(command[4:]), flush=True)
    code, output = _pip(command, env)
    if code != 0:
        if any(marker in output for marker in TLS_FAILURES):
            raise AssembleError("installing %s failed: %s" % (what, TLS_HINT))
        raise AssembleError(
            "installing %s failed (pip exited with %d); the pip output above names the "
            "package it could not get or build%s" % (
                what, code, " (the build has wheels in %s; if it has no network, put every "
                "package it needs there)" % paths.WHEEL_DIR if offline else ""))


def install_conda(settings: BuildSettings, app_dir: str, python: str) -> str:
    """Build the conda environment when the app has one; returns the Python that serves."""
    path = conda.find_environment_file(app_dir, settings.environment_file)
    if path is None:
        return python
    label = os.path.basename(path)
    if settings.disable_conda:
        print("---> %s: skipped (DISABLE_CONDA_PROCESSING)" % label, flush=True)
        return python
    started = step("Building conda environment %s from %s" % (settings.conda_env_name, label))
    try:
        spec = conda.read_environment(path)
        prefix = conda.env_prefix(settings.conda_env_name)
        _, _, env_python = conda.build_environment(
            spec, prefix, settings.conda_channel_alias,
            conda.mirrors_from(settings.conda_channel_mirrors), ca_bundle(settings))
    except conda.CondaError as exc:
        raise AssembleError(str(exc)) from exc
    done(started)
    env = pip_environment(settings)
    if env_python is not None:
        python = os.path.join(prefix, "bin", "python")
        install_runtime(python, pins.parse_version(env_python), settings, env)
    if spec.pip:
        started = step("Installing the pip: section of %s" % label)
        lines = spec.pip
        if settings.model_format == "mlflow":  # its mlflow as mlflow-skinny, as with pip
            lines, notes = mlflow_folder.rewrite(lines, label, project_name)
            for note in notes:
                print(note, flush=True)
        run_pip(python, pip_options(settings) + lines, env, "the pip: section of " + label)
        done(started)
    conda.write_activation(prefix, settings.conda_env_name, python)
    return python


def install_runtime(python: str, version: pins.Version, settings: BuildSettings,
                    env: Dict[str, str]) -> None:
    """Make the runtime importable by an environment's own interpreter. A Python of the
    builder image's own minor version reuses the image's runtime libraries (a .pth file, as
    the app virtualenv does), so nothing is installed twice; any other gets the pinned stack
    that installs on it (builder/pins.py)."""
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    paths_in_pth = [paths.RUNTIME_SRC]  # type: List[str]
    if version == tuple(sys.version_info[:2]):
        print("---> the environment's Python %d.%d is the image's own: it uses the runtime "
              "libraries already in the image" % version, flush=True)
        paths_in_pth.append(sysconfig.get_paths()["purelib"])
    else:
        name = pins.pin_file(version)
        started = step("Installing the modelkiln runtime for Python %d.%d (%s)"
                       % (version + (name,)))
        run_pip(python, pip_options(settings) + ["-r", os.path.join(pins.PINS_DIR, name)],
                env, "the runtime's libraries")
        done(started)
    with open(os.path.join(site, "modelkiln-runtime.pth"), "w") as handle:
        handle.write("".join(p + "\n" for p in paths_in_pth))


# The Modzy template's requirements.txt pins its own Flask server (Flask 1.1, gunicorn 19.9,
# Werkzeug 1.0, PyYAML 5.1 and what Flask pulls in). The app's requirements come before the
# runtime's libraries, so these would replace the server modelkiln runs; for a Modzy folder
# they are left out (the template's python-box and humanfriendly do no harm and stay).
MODZY_TEMPLATE_SERVER = frozenset((
    "flask", "werkzeug", "gunicorn", "jinja2", "itsdangerous", "click", "markupsafe", "pyyaml"))

_PROJECT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def project_name(line: str) -> Optional[str]:
    """The canonical project name a requirement line installs (``Flask[async]==1.1`` ->
    ``flask``); None for options (``-r``, ``--index-url``), URLs, paths and comments."""
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith(("#", "-", ".", "/")) or "://" in text.split(";")[0]:
        return None
    match = _PROJECT.match(text)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


@contextlib.contextmanager
def requirements_to_install(settings: BuildSettings, path: str) -> Iterator[str]:
    """The requirements file pip is given: the app's own, or a copy beside it (so ``-r
    other.txt`` lines still resolve) for a Modzy folder, without the template server's pins,
    and for an MLflow folder, with ``mlflow`` as ``mlflow-skinny`` (mlflow_folder.rewrite);
    each change named in the build log."""
    if settings.model_format not in ("modzy", "mlflow"):
        yield path
        return
    with open(path) as handle:
        logical = re.sub(r"\s*\\\n\s*", " ", handle.read()).splitlines()
    label = os.path.basename(path)
    if settings.model_format == "mlflow":
        kept, notes = mlflow_folder.rewrite(logical, label, project_name)
    else:
        kept, notes = [], []
        for line in logical:
            if project_name(line) in MODZY_TEMPLATE_SERVER:
                notes.append("---> %s: leaving out %r: the Modzy template's own server, which "
                             "modelkiln replaces (it serves the model with its own Flask)"
                             % (label, line.strip()))
            else:
                kept.append(line)
    if not notes:
        yield path
        return
    for note in notes:
        print(note, flush=True)
    copy = os.path.join(os.path.dirname(path), ".modelkiln-requirements.txt")
    with open(copy, "w") as handle:
        handle.write("".join(line + "\n" for line in kept))
    try:
        yield copy
    finally:
        os.remove(copy)


def install_dependencies(settings: BuildSettings, app_dir: str, python: str) -> List[str]:
    """Install every dependency source present; returns what was installed."""
    env = pip_environment(settings)
    options = pip_options(settings)
    installed = []
    requirements = os.path.join(app_dir, settings.requirements_file)
    if settings.disable_requirements:
        print("---> %s: skipped (DISABLE_REQUIREMENTS_PROCESSING)" % settings.requirements_file)
    elif os.path.isfile(requirements):
        started = step("Installing %s" % settings.requirements_file)
        with requirements_to_install(settings, requirements) as path:
            run_pip(python, options + ["-r", path], env, settings.requirements_file)
        installed.append(settings.requirements_file)
        done(started)
    elif settings.requirements_file != "requirements.txt":
        raise AssembleError("REQUIREMENTS_FILE=%s, but there is no such file in the app"
                            % settings.requirements_file)
    has_setup = any(os.path.isfile(os.path.join(app_dir, n)) for n in ("setup.py", "setup.cfg"))
    has_pyproject = os.path.isfile(os.path.join(app_dir, "pyproject.toml"))
    # With setup.py (or setup.cfg) the package is a setuptools one, whatever pyproject.toml
    # also says: DISABLE_SETUP_PY_PROCESSING decides; DISABLE_PYPROJECT_TOML_PROCESSING otherwise.
    if has_setup:
        wanted = not settings.disable_setup_py
    else:
        wanted = has_pyproject and not settings.disable_pyproject
    if wanted:
        label = "setup.py" if has_setup else "pyproject.toml"
        started = step("Installing the app's own package (%s)" % label)
        run_pip(python, options + [app_dir], env, "the app package from %s" % label)
        installed.append(label)
        done(started)
    elif has_setup or has_pyproject:
        print("---> package metadata present but skipped (DISABLE_*_PROCESSING)")
    return installed


DEPENDENCY_STAMP = os.path.join(paths.APP_ROOT, ".modelkiln-dependencies")


def dependency_fingerprint(settings: BuildSettings, app_dir: str) -> str:
    """A digest of everything that decides what gets installed: the build settings, the
    requirements file, the app's own package (all its source, when it is installed), the
    conda environment file, the injected wheels and this Python."""
    digest = hashlib.sha256()
    digest.update(repr(sorted((k, repr(v)) for k, v in vars(settings).items())).encode())
    digest.update(sys.version.encode())
    if os.path.isdir(paths.WHEEL_DIR):
        for name in sorted(os.listdir(paths.WHEEL_DIR)):
            digest.update(name.encode())
    package = any(os.path.isfile(os.path.join(app_dir, n))
                  for n in ("setup.py", "setup.cfg", "pyproject.toml"))
    for base, dirs, files in os.walk(app_dir):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        for name in sorted(files):
            path = os.path.join(base, name)
            relative = os.path.relpath(path, app_dir)
            if package or relative in (settings.requirements_file,) + conda.ENV_FILES or (
                    relative == settings.environment_file):
                digest.update(relative.encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def dependencies_unchanged(fingerprint: str) -> bool:
    """Whether this build runs on a previous image whose dependencies came from the same
    inputs (an incremental build on top of it): then nothing needs installing."""
    try:
        with open(DEPENDENCY_STAMP) as handle:
            return handle.read().strip() == fingerprint
    except (IOError, OSError):
        return False


def use_project_environment(settings: BuildSettings, app_dir: str) -> None:
    """A format whose folder names its own conda environment file (its module's
    ``conda_file(folder)``: a GPPI project's ``binaries.conda_path``, a Triton folder's
    ``conda.yaml``): that file is the environment the build creates, unless ENVIRONMENT_FILE
    names another."""
    if settings.environment_file:
        return
    from python_runtime.model.formats import FORMATS
    from python_runtime.settings import SettingsError

    module = FORMATS.get(settings.model_format)
    conda_file = getattr(module, "conda_file", None)
    if conda_file is None:
        return
    source = getattr(module, "CONDA_SOURCE", "the folder")
    try:
        named = conda_file(app_dir)
    except SettingsError as exc:
        raise AssembleError(str(exc)) from exc
    if named is None:
        return
    if not os.path.isfile(os.path.join(app_dir, named)):
        raise AssembleError("%s is %s, and the artifact has no such file (set ENVIRONMENT_FILE "
                            "to the conda environment file it has)" % (source, named))
    print("---> the conda environment of the %s model folder: %s (%s)"
          % (settings.model_format, named, source), flush=True)
    settings.environment_file = named


def use_mlflow_environment(settings: BuildSettings, app_dir: str) -> None:
    """An MLflow folder: requirements.txt with pip, or conda.yaml's environment instead
    (MODELKILN_MLFLOW_ENV=conda); python_env.yaml's Python checked against the image's."""
    if settings.model_format != "mlflow":
        return
    try:
        for warning in mlflow_folder.check_python(app_dir, mlflow_folder.image_python(),
                                                  settings.mlflow_env):
            print(warning, flush=True)
        named = mlflow_folder.choose_environment(app_dir, settings.mlflow_env,
                                                 settings.environment_file)
    except mlflow_folder.MlflowFolderError as exc:
        raise AssembleError(str(exc)) from exc
    if named is not None and settings.mlflow_env == mlflow_folder.ENV_CONDA:
        print("---> the MLflow folder's %s instead of its %s (MODELKILN_MLFLOW_ENV=conda)"
              % (named, settings.requirements_file), flush=True)
        settings.environment_file = named
        settings.disable_requirements = True


def check_model(python: str, settings: BuildSettings, app_dir: str) -> None:
    if settings.model_format == "seldon":
        what = "MODEL_NAME=%s" % settings.model_name
        started = step("Checking that %s imports and implements SERVICE_TYPE %s"
                       % (settings.model_name, settings.service_type))
        argv = [settings.model_name, settings.service_type, app_dir]
    else:
        what = "the %s model in %s" % (settings.model_format, app_dir)
        started = step("Checking that %s imports" % what)
        argv = ["--format", settings.model_format, app_dir]
    result = subprocess.run([python, "-m", "builder.importcheck"] + argv)
    if result.returncode == 2:  # importcheck.APP_WRONG: a syntax error, a missing class...
        raise AssembleError("%s cannot be served (see the reason above): fix the app and "
                            "build again" % what)
    if result.returncode != 0:
        raise AssembleError("%s cannot be served (see the reason above); set "
                            "DISABLE_IMPORT_CHECK=true only if importing it needs hardware "
                            "that the build lacks" % what)
    done(started)


def fix_permissions(roots: List[str]) -> None:
    """Group 0 gets the owner's rights on the app folder and the conda environments, so any
    UID in group 0 (OpenShift) can use them as the owner could (the conda installer writes
    some files, conda-meta among them, as 0600). The app virtualenv is written by pip with
    readable modes already, so it is not walked (it can hold many thousand files)."""
    started = step("Fixing permissions for arbitrary user ids")
    for base, dirs, files in (entry for root in roots for entry in os.walk(root)):
        for name in dirs + files:
            path = os.path.join(base, name)
            if os.path.islink(path):
                continue
            try:
                mode = os.stat(path).st_mode
                wanted = mode | ((mode & 0o700) >> 3)
                if wanted != mode:  # no needless chmod: it would copy the file up a layer
                    os.chmod(path, wanted)
            except OSError:
                pass
    done(started)


def main(argv: Optional[List[str]] = None) -> int:
    total = time.time()
    try:
        settings = BuildSettings.load()
    except BuildSettingsError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
    if settings.persistence is not None:
        print("WARNING: PERSISTENCE is no longer supported and is ignored", flush=True)
    python = os.path.join(paths.APP_ROOT, "bin", "python")
    try:
        restore_artifacts(paths.ARTIFACTS_DIR, paths.APP_ROOT)
        copy_source(paths.SOURCE_DIR, paths.APP_DIR, source_only(settings))
        try:
            settings.decide_format(paths.APP_DIR)
        except BuildSettingsError as exc:
            raise AssembleError(str(exc)) from exc
        if settings.model_format == "seldon":
            print("---> modelkiln assemble: MODEL_NAME=%s SERVICE_TYPE=%s"
                  % (settings.model_name, settings.service_type), flush=True)
        else:
            print("---> modelkiln assemble: a %s model folder (no MODEL_NAME)"
                  % settings.model_format, flush=True)
        use_project_environment(settings, paths.APP_DIR)
        use_mlflow_environment(settings, paths.APP_DIR)
        fingerprint = dependency_fingerprint(settings, paths.APP_DIR)
        conda_app = bool(settings.environment_file) or any(
            os.path.isfile(os.path.join(paths.APP_DIR, n)) for n in conda.ENV_FILES)
        if dependencies_unchanged(fingerprint) and not conda_app:
            print("---> dependencies unchanged since the previous image: nothing to install",
                  flush=True)
        else:
            python = install_conda(settings, paths.APP_DIR, python)
            install_dependencies(settings, paths.APP_DIR, python)
            with open(DEPENDENCY_STAMP, "w") as handle:
                handle.write(fingerprint + "\n")
        if settings.disable_import_check:
            print("---> import check skipped (DISABLE_IMPORT_CHECK)", flush=True)
        else:
            check_model(python, settings, paths.APP_DIR)
        fix_permissions([paths.APP_DIR] + [d for d in [conda.CONDA_ENVS] if os.path.isdir(d)])
        for leftover in (paths.SOURCE_DIR, paths.ARTIFACTS_DIR):
            shutil.rmtree(leftover, ignore_errors=True)  # not needed in the image
    except AssembleError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
    print("---> build finished in %.1f s" % (time.time() - total), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
