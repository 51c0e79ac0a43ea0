"""Models written for other systems, served unchanged: one module per format, each turning a
model folder into the component the protocols already serve.

- ``seldon``: a class named by MODEL_NAME (Seldon Core's Python wrapper's contract);
- ``catwalk``: a catwalk folder (``model.yml`` + ``model.py`` with ``class Model``);
- ``modzy``: a folder made from Modzy's Python model template (``model.yaml`` + ``app.py``
  calling ``flask_psc_model``'s ``create_app``), with ``modzy_model`` (the component it
  becomes) and ``modzy_examples`` (its test data, for ``modelkiln test``);
- ``gppi``: ODAHU's trained-model artifact (``odahuflow.project.yaml`` + its entrypoint);
- ``mlflow``: an MLflow model (``MLmodel`` with a ``python_function`` flavor), loaded by
  MLflow's own pyfunc loader;
- ``triton``: a Triton Python-backend model (``config.pbtxt`` + ``model.py``), with
  ``triton_config`` (its ``config.pbtxt``: Triton's ModelConfig declared as a descriptor).

``resolve(settings)`` picks the format: MODEL_NAME set means ``seldon`` whatever else the
folder holds (a Seldon app may ship a ``model.yaml`` for Modzy's API, or sit beside an
``MLmodel``); without it, the folder's files decide, and MODELKILN_MODEL_FORMAT can force one.
Each format module has ``NAME``, ``MARKERS`` (what it looks for, for messages),
``recognises(folder)``, ``prepare(settings)`` (fills in what the folder says: the model's
name, a default port) and ``user_class(settings)`` (checked in the master: the factory that
builds the object each worker serves, and its keyword arguments).

May import what ``model`` may import, and ``model`` itself.
"""

from typing import Any, List, Tuple

from ...settings import NO_MODEL, Settings, SettingsError
from . import catwalk, gppi, mlflow, modzy, seldon, triton

FORMATS = {module.NAME: module for module in (seldon, catwalk, modzy, gppi, mlflow, triton)}
FOREIGN = [catwalk, modzy, gppi, mlflow, triton]  # recognised from a folder's files (seldon needs MODEL_NAME)


def recognised(folder: str) -> List[Any]:
    """The foreign formats whose files ``folder`` holds."""
    return [module for module in FOREIGN if module.recognises(folder)]


def resolve(settings: Settings) -> Tuple[Settings, Any]:
    """The settings with the folder's format decided (and what it says filled in), and the
    format's module. Raises SettingsError naming MODEL_NAME and MODELKILN_MODEL_FORMAT when
    the folder is none of them, or more than one."""
    name = settings.model_format
    if name == "auto":
        found = recognised(settings.app_dir)
        if not found:
            raise SettingsError(
                "%s; or a model folder of another system: %s (MODELKILN_MODEL_FORMAT picks "
                "one)" % (NO_MODEL, "; ".join("%s: %s" % (m.NAME, m.MARKERS) for m in FOREIGN)))
        if len(found) > 1:
            raise SettingsError(
                "%s holds the files of more than one kind of model (%s): set "
                "MODELKILN_MODEL_FORMAT to one of %s, or MODEL_NAME for a Seldon class"
                % (settings.app_dir, "; ".join("%s: %s" % (m.NAME, m.MARKERS) for m in found),
                   ", ".join(m.NAME for m in found)))
        name = found[0].NAME
    module = FORMATS[name]
    return module.prepare(settings.replaced(model_format=name)), module
