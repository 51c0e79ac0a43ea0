"""modelkiln's ``flask_psc_model``: the interface of Modzy's Python model template
(``ModelBase``, ``load_metadata``, ``create_app``), so a template folder's ``app.py`` and
``model_lib`` import unchanged while modelkiln serves the model.

The template ships a ``flask_psc_model/`` folder of its own: the Flask server modelkiln
replaces, written for Python 3.6-3.8 (on Python >= 3.10 it fails to import:
``collections.Mapping``, and it needs ``python-box``). So this package is the one imported
for a Modzy-format folder, even when the folder holds its own copy: the format
(``python_runtime.model.formats.modzy``) puts a finder *first* on ``sys.meta_path`` before it
imports the model, and that finder answers ``flask_psc_model`` and its submodules from here.
(The ``seldon_core`` stand-in beside it is the opposite: found last, so a real seldon-core
wins.) Only Modzy-format folders get the finder; the folder's own copy is never executed.

``flask_psc_model.testing`` and ``flask_psc_model.cli`` are not provided: ``modelkiln test
APP_DIR`` runs the template's test data (``tests/data/examples``, ``validation-error``), and a
job is a ``POST /run`` to the served model.
"""

from .base import ModelBase
from .metadata import load_metadata
from .app import create_app

__all__ = ["ModelBase", "create_app", "load_metadata"]
__modelkiln_standin__ = True
