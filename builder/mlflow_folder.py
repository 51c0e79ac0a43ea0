"""What the build does differently for an MLflow model folder (``MLmodel``, ``requirements.txt``,
``python_env.yaml``, ``conda.yaml``: the same dependency list three times).

- ``requirements.txt`` is installed with pip (the documented exception to "every dependency
  source": the three files say the same); ``conda.yaml`` instead only when
  MODELKILN_MLFLOW_ENV=conda asks for it (``choose_environment``);
- a ``mlflow`` requirement becomes ``mlflow-skinny`` at the same version: full mlflow brings
  its own Flask, gunicorn and SQLAlchemy servers, which would replace modelkiln's; mlflow-skinny
  (MLflow's loader and scoring functions) and pandas are added when the folder lists neither
  (``rewrite``);
- ``python_env.yaml``'s Python against the image's (``check_python``): another minor version
  is a warning naming both, another major one an error; a Python older than MLFLOW_PYTHON (the
  py36 builder) cannot install an MLflow that modelkiln serves: an error naming the py311
  builder.
"""

import os
import re
import sys
from typing import Callable, List, Optional, Tuple

ENV_PIP, ENV_CONDA = "pip", "conda"
PYTHON_ENV = "python_env.yaml"
CONDA_FILE = "conda.yaml"
SKINNY = "mlflow-skinny"
ADDED = ("mlflow-skinny", "pandas")  # what serving needs: MLflow's pyfunc loader, its tables
MLFLOW_PYTHON = (3, 8)  # MLflow 2 (the scoring protocol modelkiln serves) needs Python 3.8
BUILDER_HINT = ("build it with the py311 builder (modelkiln/python311, Dockerfile.py311), "
                "whose Python runs current MLflow")

_VERSION = re.compile(r"^\s*python\s*:\s*['\"]?(\d+)\.(\d+)", re.MULTILINE)


class MlflowFolderError(Exception):
    """The folder cannot be built on this builder; the message says why and what to do."""


def python_of_env(app_dir: str) -> Optional[Tuple[int, int]]:
    """``python_env.yaml``'s ``python:`` as (major, minor), or None without one."""
    path = os.path.join(app_dir, PYTHON_ENV)
    try:
        with open(path) as handle:
            found = _VERSION.search(handle.read())
    except (IOError, OSError):
        return None
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_python(app_dir: str, image: Tuple[int, int], env: str) -> List[str]:
    """Warnings (build log lines) about the image's Python for this folder; raises
    MlflowFolderError when it cannot serve it."""
    wanted = python_of_env(app_dir)
    if env == ENV_PIP and image < MLFLOW_PYTHON:
        raise MlflowFolderError(
            "this is an MLflow model folder and this builder's Python is %d.%d: MLflow's "
            "scoring protocol needs mlflow 2 or later, on Python %d.%d or later (the folder "
            "was saved with Python %s): %s"
            % (image + MLFLOW_PYTHON + ("%d.%d" % wanted if wanted else "unknown",
                                        BUILDER_HINT)))
    if wanted is None or env != ENV_PIP:
        return []
    if wanted[0] != image[0]:
        raise MlflowFolderError(
            "%s says python %d.%d and this builder's Python is %d.%d: a model saved with "
            "another major version of Python cannot be loaded here; %s, or save the model "
            "again with Python %d" % ((PYTHON_ENV,) + wanted + image + (BUILDER_HINT, image[0])))
    if wanted != image:
        return ["WARNING: %s says python %d.%d and the image's Python is %d.%d: the model may "
                "not load or may predict differently (pickled models are tied to their "
                "Python); build with a builder of Python %d.%d, or MODELKILN_MLFLOW_ENV=conda "
                "to create conda.yaml's environment" % ((PYTHON_ENV,) + wanted + image + wanted)]
    return []


def choose_environment(app_dir: str, env: str, environment_file: Optional[str]
                       ) -> Optional[str]:
    """The conda environment file the build creates (conda.yaml with MODELKILN_MLFLOW_ENV=
    conda), or None: requirements.txt with pip."""
    if env != ENV_CONDA or environment_file:
        return environment_file
    if not os.path.isfile(os.path.join(app_dir, CONDA_FILE)):
        raise MlflowFolderError("MODELKILN_MLFLOW_ENV=conda, and the MLflow folder has no %s "
                                "(set it to pip to install requirements.txt)" % CONDA_FILE)
    return CONDA_FILE


def rewrite(lines: List[str], label: str, project_name: Callable[[str], Optional[str]]
            ) -> Tuple[List[str], List[str]]:
    """(requirement lines to install, build log lines saying what changed): ``mlflow`` as
    ``mlflow-skinny`` (extras dropped, the version kept), mlflow-skinny and pandas added when
    absent. ``project_name`` reads a line's project (None for options and comments)."""
    kept, notes = [], []
    names = set()
    for line in lines:
        name = project_name(line)
        if name == "mlflow":
            text = line.split(" #", 1)[0].strip()
            spec = re.sub(r"^\s*mlflow\s*(\[[^\]]*\])?", "", text, flags=re.IGNORECASE)
            line = SKINNY + spec
            name = SKINNY
            notes.append("---> %s: installing %r instead of %r: full mlflow brings its own "
                         "Flask, gunicorn and SQLAlchemy servers, which would replace "
                         "modelkiln's; mlflow-skinny holds the loader and scoring functions "
                         "that serve the model" % (label, line, text))
        kept.append(line)
        names.add(name)
    for name in ADDED:
        if name not in names:
            kept.append(name)
            notes.append("---> %s: adding %s, which serving an MLflow model needs"
                         % (label, name))
    return kept, notes


def image_python() -> Tuple[int, int]:
    return (sys.version_info[0], sys.version_info[1])
