"""Seldon's user-model API for classes written against seldon-core, without installing it.

Seldon's documentation has user classes import ``SeldonComponent``, ``SeldonResponse`` and
``SeldonMicroserviceException`` from ``seldon_core.user_model`` / ``seldon_core.flask_utils``.
modelkiln serves such classes itself, so when the real ``seldon_core`` is not installed a small
stand-in package (``seldon_fallback/seldon_core``) answers those two modules.

It is provided by a finder placed *last* on ``sys.meta_path``: Python asks it only after every
installed location said no, so a real seldon-core in the app's requirements always wins. Any
other ``seldon_core.*`` module (storage, utils, metrics, proto, seldon_client, ...) is not
imitated: importing one fails with a ModuleNotFoundError that says to install seldon-core.
"""

import importlib.machinery
import os
import sys
from typing import Any, Optional

PACKAGE = "seldon_core"
FALLBACK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "seldon_fallback")  # python_runtime/seldon_fallback
PROVIDED = ("seldon_core.user_model", "seldon_core.flask_utils")
MARKER = "__modelkiln_fallback__"


def missing_message(name: str) -> str:
    return ("%s is not part of modelkiln's stand-in for seldon-core, which provides only %s "
            "(enough for model classes): add seldon-core to requirements.txt to use the real "
            "package" % (name, " and ".join(PROVIDED)))


def is_fallback(module: Any) -> bool:
    return bool(getattr(module, MARKER, False))


class SeldonCoreFallback(object):
    """Meta path finder for ``seldon_core`` when nothing installed provides it."""

    def find_spec(self, fullname: str, path: Optional[Any] = None,
                  target: Optional[Any] = None) -> Optional[Any]:
        if fullname == PACKAGE:
            return importlib.machinery.PathFinder.find_spec(fullname, [FALLBACK_DIR])
        if fullname.startswith(PACKAGE + ".") and is_fallback(sys.modules.get(PACKAGE)):
            # the stand-in's own modules were found by the path finder before this one
            raise ModuleNotFoundError(missing_message(fullname), name=fullname)
        return None

    def invalidate_caches(self) -> None:
        pass


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, SeldonCoreFallback) for finder in sys.meta_path):
        sys.meta_path.append(SeldonCoreFallback())
