"""Find, import and construct the user's class named by ``MODEL_NAME``.

Each way this can fail has its own error: the module does not exist, the module raised while
importing (with its traceback), the class is not in the module, the constructor parameters are
malformed, or the constructor raised.
"""

import importlib
import json
import os
import sys
import traceback
from typing import Any, Dict, Tuple

from ..errors import (
    BadParameters,
    ClassNotFound,
    ConstructorFailed,
    ModuleImportFailed,
    ModuleNotFound,
)
from . import seldon_compat

PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")


def split_model_name(model_name: str) -> Tuple[str, str]:
    """``Module`` -> (Module, Module); ``pkg.mod.Class`` -> (pkg.mod, Class)."""
    name = model_name.strip()
    if not name or any(not part.isidentifier() for part in name.split(".")):
        raise ModuleNotFound(
            "MODEL_NAME=%r is not a Python name: use Module (file Module.py holding class "
            "Module) or package.module.Class" % model_name
        )
    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        return module_name, class_name
    return name, name


def _is_missing_target(exc: ImportError, module_name: str) -> bool:
    """True when ``exc`` says the target module itself (or its package) is absent, not
    something the user's module imports."""
    missing = getattr(exc, "name", None)
    if not missing:
        return False
    return module_name == missing or module_name.startswith(missing + ".")


def import_user_class(model_name: str, app_dir: str) -> type:
    module_name, class_name = split_model_name(model_name)
    seldon_compat.install()
    app_dir = os.path.abspath(app_dir)
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if _is_missing_target(exc, module_name):
            expected = module_name.replace(".", os.sep)
            raise ModuleNotFound(
                "MODEL_NAME=%s: no module %r in %s (expected %s.py or a package folder %s/); "
                "check the spelling and that the file is in the app folder"
                % (model_name, module_name, app_dir, expected, expected)
            ) from exc
        raise _import_failed(model_name, module_name, exc) from exc
    except BaseException as exc:  # SystemExit too: user code must not stop the server silently
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _import_failed(model_name, module_name, exc) from exc
    try:
        cls = getattr(module, class_name)
    except AttributeError as exc:
        classes = sorted(
            n for n, v in vars(module).items()
            if isinstance(v, type) and getattr(v, "__module__", None) == module.__name__
        )
        raise ClassNotFound(
            "MODEL_NAME=%s: module %s (%s) has no class %r; classes defined there: %s"
            % (model_name, module_name, getattr(module, "__file__", "?"), class_name,
               ", ".join(classes) or "none")
        ) from exc
    if not isinstance(cls, type):
        raise ClassNotFound(
            "MODEL_NAME=%s: %s.%s is a %s, not a class"
            % (model_name, module_name, class_name, type(cls).__name__)
        )
    return cls


def _import_failed(model_name: str, module_name: str, exc: BaseException) -> ModuleImportFailed:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    hint = ""
    missing = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
    # (a seldon_core module the stand-in lacks: its own message names the fix)
    if missing and not missing.startswith(seldon_compat.PACKAGE + "."):
        hint = (" (it imports %r, which is not installed: add it to requirements.txt)"
                % missing)
    return ModuleImportFailed(
        "MODEL_NAME=%s: module %s raised %s while importing: %s%s\n%s"
        % (model_name, module_name, type(exc).__name__, exc, hint, text),
        text,
    )


def _convert(name: str, value: Any, kind: str) -> Any:
    text = value if isinstance(value, str) else json.dumps(value)
    if kind == "INT":
        return int(text)
    if kind in ("FLOAT", "DOUBLE"):
        return float(text)
    if kind == "BOOL":
        lowered = text.strip().lower()
        if lowered in ("1", "true", "t", "yes", "y", "on"):
            return True
        if lowered in ("0", "false", "f", "no", "n", "off"):
            return False
        raise ValueError("not a boolean")
    return value if isinstance(value, str) else text


def parse_parameters(text: str) -> Dict[str, Any]:
    """``PREDICTIVE_UNIT_PARAMETERS`` JSON -> constructor keyword arguments."""
    try:
        items = json.loads(text) if text and text.strip() else []
    except ValueError as exc:
        raise BadParameters("PREDICTIVE_UNIT_PARAMETERS is not valid JSON: %s" % exc) from exc
    if not isinstance(items, list):
        raise BadParameters(
            'PREDICTIVE_UNIT_PARAMETERS must be a JSON list of {"name", "value", "type"}'
        )
    kwargs = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise BadParameters(
                'PREDICTIVE_UNIT_PARAMETERS[%d] must be {"name", "value", "type"}, got %r'
                % (index, item)
            )
        kind = str(item.get("type", "STRING")).upper()
        if kind not in PARAMETER_TYPES:
            raise BadParameters(
                "PREDICTIVE_UNIT_PARAMETERS[%d] (%s): type %r is not one of %s"
                % (index, item["name"], item.get("type"), ", ".join(PARAMETER_TYPES))
            )
        try:
            kwargs[str(item["name"])] = _convert(item["name"], item["value"], kind)
        except ValueError as exc:
            raise BadParameters(
                "PREDICTIVE_UNIT_PARAMETERS[%d] (%s): value %r is not a valid %s"
                % (index, item["name"], item["value"], kind)
            ) from exc
    return kwargs


def construct(cls: type, kwargs: Dict[str, Any]) -> Any:
    """Run the user's ``__init__`` once, with the parameters as keyword arguments."""
    try:
        return cls(**kwargs)
    except Exception as exc:
        text = traceback.format_exc()
        given = ", ".join(sorted(kwargs)) or "none"
        raise ConstructorFailed(
            "%s(%s) raised %s: %s (parameters given: %s)\n%s"
            % (cls.__name__, ", ".join("%s=..." % k for k in sorted(kwargs)),
               type(exc).__name__, exc, given, text),
            text,
        ) from exc
