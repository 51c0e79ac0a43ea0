"""Modzy Python model template folders: ``model.yaml`` (Modzy's model metadata, specification
0.3) and an ``app.py`` that calls ``flask_psc_model``'s ``create_app(ModelClass)``, the class
(usually in ``model_lib/model.py``) extending ``flask_psc_model.ModelBase``: ``input_filenames``,
``output_filenames``, ``run(*input_paths, *output_paths)``, ``validation_exception_class``,
``io_exception_class``. Served unchanged.

Recognised by ``model.yaml`` beside an ``app.py`` that imports ``create_app`` from
``flask_psc_model`` and calls it: the two files the template's checklist keeps (``model_lib``
is the sample the user replaces, and a Seldon app may ship a ``model.yaml`` for Modzy's API
with no such ``app.py``). The model factory is read from that call with ``ast`` (``app.py`` is
never run); PSC_MODEL_FACTORY names it when the call names none modelkiln can follow.

``flask_psc_model`` is modelkiln's own (``python_runtime/seldon_fallback/flask_psc_model``):
``StandinFirst``, put *first* on ``sys.meta_path`` before the model is imported, answers that
package and its submodules from there, so a folder's own copy of the template's package
(Python 3.6-3.8 only) is never imported. Only Modzy-format folders get it.

The folder becomes a ``ModzyModel``. Modzy's container API (``protocols.modzy``: ``/status``,
``/run``, ``/shutdown``) is on the REST port, which PSC_MODEL_PORT names when it is set (so
``docker run IMAGE`` serves it on 9000, and ``-e PSC_MODEL_PORT=8080`` on 8080, as the
template's container does on its one port); ``/run`` calls ``job`` with the job's paths.
Seldon's and V2's calls reach the same ``run`` through ``predict``: the input file(s) from
strData, binData or jsonData, written to a temporary folder. ``model.yaml``'s ``timeout``
(the longest of its values, as the template's gunicorn.conf.py reads it) is the worker
timeout unless GUNICORN_TIMEOUT is set; a model that fails to construct leaves the server up
answering ``/status`` 500 (MODELKILN_ON_LOAD_FAILURE=unready unless set). ``run_examples``
runs the template's test data (``modelkiln test``).
"""

import ast
import contextlib
import importlib
import importlib.machinery
import math
import os
import re
import sys
import traceback
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ...errors import ClassNotFound, ModuleImportFailed, ModuleNotFound, clipped
from ...settings import Settings, SettingsError
from ..component import check_service_type
from .modzy_examples import run_cases
from .modzy_model import ModzyModel

NAME = "modzy"
MARKERS = "model.yaml and app.py calling flask_psc_model's create_app(...)"
MODEL_YAML, APP_PY = "model.yaml", "app.py"
PACKAGE = "flask_psc_model"
STANDIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "seldon_fallback")  # python_runtime/seldon_fallback
TIMESPAN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$")
SECONDS = {"": 1, "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
           "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "h": 3600,
           "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
           "w": 604800, "week": 604800, "weeks": 604800}


# -- the folder ---------------------------------------------------------------------------

def _parse_app(folder: str) -> Tuple[Optional[ast.AST], str, str]:
    """(app.py's syntax tree or None, its text, why there is no tree)."""
    with open(os.path.join(folder, APP_PY), "r", encoding="utf-8") as handle:
        text = handle.read()
    try:
        return ast.parse(text), text, ""
    except (SyntaxError, ValueError) as exc:
        return None, text, "%s: %s" % (type(exc).__name__, exc)


def _imported_names(tree: ast.AST) -> Dict[str, str]:
    """Each name app.py's imports bind -> the dotted path it stands for."""
    names = {}  # type: Dict[str, str]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = "%s.%s" % (node.module, alias.name)
    return names


def _dotted(node: ast.AST, names: Dict[str, str]) -> Optional[str]:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, names)
        return None if base is None else "%s.%s" % (base, node.attr)
    return None


def _create_app_call(tree: ast.AST) -> Optional[ast.Call]:
    names = _imported_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = _dotted(node.func, names) or ""
            if target.split(".")[0] == PACKAGE and target.endswith(".create_app"):
                return node
    return None


def recognises(folder: str) -> bool:
    if not (os.path.isfile(os.path.join(folder, MODEL_YAML))
            and os.path.isfile(os.path.join(folder, APP_PY))):
        return False
    try:
        tree, text, _ = _parse_app(folder)
    except (OSError, UnicodeDecodeError):
        return False
    if tree is None:  # user_class reports the syntax error
        return PACKAGE in text and "create_app(" in text
    return _create_app_call(tree) is not None


def _string(node: ast.AST) -> Optional[str]:
    if type(node).__name__ in ("Constant", "Str"):  # ast.Str before Python 3.8
        value = getattr(node, "value", getattr(node, "s", None))
        return value if isinstance(value, str) else None
    return None


def factory_in_app(folder: str) -> Tuple[Optional[str], str]:
    """(the dotted path of the factory app.py's ``create_app(...)`` names, or None with why)."""
    tree, _, problem = _parse_app(folder)
    if tree is None:
        return None, "app.py is not valid Python (%s)" % problem
    call = _create_app_call(tree)
    if call is None:
        return None, "app.py does not call flask_psc_model's create_app"
    given = call.args[0] if call.args else next(
        (k.value for k in call.keywords if k.arg == "model_factory"), None)
    if given is None:
        return None, "app.py calls create_app() without a model factory"
    text = _string(given)
    if text is not None:
        return text.replace(":", "."), ""
    found = _dotted(given, _imported_names(tree))
    if found is not None:
        return found, ""
    if isinstance(given, ast.Name) and not _defines(tree, given.id):
        return None, ("app.py's create_app(%s) names %s, which no import of app.py names "
                      "(a star import?)" % (given.id, given.id))
    shown = given.id if isinstance(given, ast.Name) else ast.dump(given)
    return None, ("app.py's create_app(%s) names something app.py makes itself, which "
                  "modelkiln does not run app.py to find" % clipped(shown))


def _defines(tree: ast.AST, name: str) -> bool:
    """Whether app.py binds ``name`` itself (a def, a class, an assignment)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
    return False


def factory_name(settings: Settings) -> str:
    """What constructs the model: app.py's ``create_app`` argument, else PSC_MODEL_FACTORY."""
    found, why = factory_in_app(settings.app_dir)
    if found:
        return found
    if settings.modzy_factory:
        return settings.modzy_factory
    raise SettingsError("%s: %s; set PSC_MODEL_FACTORY to the model class (or a function "
                        "returning the model) as package.module.Name" % (settings.app_dir, why))


def read_info(folder: str) -> Dict[str, Any]:
    """``model.yaml`` as a mapping."""
    import yaml

    path = os.path.join(folder, MODEL_YAML)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            info = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SettingsError("%s cannot be read: %s" % (path, exc)) from None
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise SettingsError("%s holds no mapping (Modzy's model.yaml has specification, "
                            "name, version, inputs, outputs, timeout ...)" % path)
    return info


def seconds(text: Any) -> float:
    """A duration as model.yaml writes it (``20s``, ``1m``, ``1.5 hours``, ``30``)."""
    match = TIMESPAN.match(str(text).lower())
    if not match or match.group(2) not in SECONDS:
        raise ValueError("not a duration such as 20s, 5m or 1h")
    return float(match.group(1)) * SECONDS[match.group(2)]


def run_timeout(info: Dict[str, Any]) -> Optional[int]:
    """The longest of model.yaml's ``timeout`` values in whole seconds (None: none given)."""
    section = info.get("timeout")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise SettingsError("model.yaml: timeout must map status and run to durations "
                            "(e.g. run: 20s)")
    found = []
    for key, value in section.items():
        if value is None or value == "":
            continue
        try:
            found.append(int(math.ceil(seconds(value))))
        except ValueError as exc:
            raise SettingsError("model.yaml: timeout.%s=%r is %s" % (key, value, exc)) from None
    return max(found) if found and max(found) > 0 else None


def prepare(settings: Settings) -> Settings:
    """The model's name and version from model.yaml, its timeout, and PSC_MODEL_PORT as the
    REST port."""
    folder = settings.app_dir
    info = read_info(folder)
    changes = {}  # type: Dict[str, Any]
    name = str(info.get("name") or "").strip()
    if not name:
        found, _ = factory_in_app(folder)
        name = (found or settings.modzy_factory or os.path.basename(folder)).split(".")[-1]
    changes["model_name"] = name
    if "v2_model_name" in settings.defaulted:
        changes["v2_model_name"] = re.sub(r"[^A-Za-z0-9\-_]", "", name.lower().replace(" ", "-"))
    if "v2_model_version" in settings.defaulted and info.get("version") is not None:
        changes["v2_model_version"] = str(info["version"])
    if settings.modzy_port is not None:
        if "http_port" not in settings.defaulted and settings.http_port != settings.modzy_port:
            raise SettingsError(
                "PSC_MODEL_PORT=%d and PREDICTIVE_UNIT_HTTP_SERVICE_PORT=%d both name the port "
                "of Modzy's API, which is the REST port for a Modzy template folder: set one of "
                "them" % (settings.modzy_port, settings.http_port))
        changes["http_port"] = settings.modzy_port
        changes["modzy_port"] = None  # no port of its own: the REST port serves it
    if "timeout" in settings.defaulted:
        timeout = run_timeout(info)
        if timeout is not None:
            changes["timeout"] = float(timeout)
    if "on_load_failure" in settings.defaulted:
        changes["on_load_failure"] = "unready"  # /status 500 names the failure, as specified
    return settings.replaced(**changes)


# -- modelkiln's flask_psc_model first ----------------------------------------------------

class StandinFirst(object):
    """Meta path finder that answers ``flask_psc_model`` from modelkiln's stand-in before
    any other finder looks, so an app folder's own copy is never imported."""

    def find_spec(self, fullname: str, path: Optional[Any] = None,
                  target: Optional[Any] = None) -> Optional[Any]:
        if fullname == PACKAGE:
            return importlib.machinery.PathFinder.find_spec(fullname, [STANDIN_DIR])
        if fullname.startswith(PACKAGE + "."):
            spec = importlib.machinery.PathFinder.find_spec(
                fullname, [os.path.join(STANDIN_DIR, PACKAGE)])
            if spec is None:
                raise ModuleNotFoundError(
                    "%s is not part of modelkiln's flask_psc_model, which serves Modzy "
                    "template models with ModelBase, load_metadata and create_app (the "
                    "folder's own flask_psc_model is not used)" % fullname, name=fullname)
            return spec
        return None

    def invalidate_caches(self) -> None:
        pass


def install_standin() -> None:
    """``StandinFirst`` at the head of ``sys.meta_path`` (once); a copy imported before it
    (not modelkiln's) is forgotten."""
    if not any(isinstance(finder, StandinFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, StandinFirst())
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None and not getattr(loaded, "__modelkiln_standin__", False):
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


# -- the model ----------------------------------------------------------------------------

def import_factory(dotted: str, folder: str) -> Any:
    """The object ``dotted`` names (``package.module.Class``), imported from ``folder``."""
    folder = os.path.abspath(folder)
    parts = dotted.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise ModuleNotFound("the model factory %r is not module.Name" % dotted)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    _forget_other_copies(parts[0], folder)
    install_standin()
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found = importlib.import_module(module_name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or ""
            if missing and (module_name == missing or module_name.startswith(missing + ".")):
                continue  # perhaps an attribute of a shorter module path
            raise _import_failed(dotted, module_name, exc) from exc
        except Exception as exc:  # SyntaxError, or the module raised while importing
            raise _import_failed(dotted, module_name, exc) from exc
        return _attribute(found, parts[cut:], dotted, folder)
    raise ModuleNotFound("the model factory %s: no module %s in %s (app.py's create_app "
                         "names it)" % (dotted, parts[0], folder))


def _attribute(module: Any, names: List[str], dotted: str, folder: str) -> Any:
    """The callable ``module.names...``; when the first name is missing, ``dotted`` was
    meant as a longer module path, which does not exist."""
    found = module
    for number, name in enumerate(names):
        if not hasattr(found, name):
            if number == 0 and len(names) > 1:
                raise ModuleNotFound("the model factory %s: no module %s.%s in %s (app.py's "
                                     "create_app names it)" % (dotted, module.__name__, name,
                                                               folder))
            raise ClassNotFound("the model factory %s: %s has no %r"
                                % (dotted, getattr(found, "__name__", found), name))
        found = getattr(found, name)
    if not callable(found):
        raise ClassNotFound("the model factory %s is a %s, not a class or function"
                            % (dotted, type(found).__name__))
    return found


def _forget_other_copies(top: str, folder: str) -> None:
    """Forget ``top`` (say ``model_lib``) when it was imported from elsewhere although
    ``folder`` has its own: one process may load several template folders (``modelkiln
    test``, the tests), and each names its package alike."""
    loaded = sys.modules.get(top)
    if loaded is None or not (os.path.isdir(os.path.join(folder, top))
                              or os.path.isfile(os.path.join(folder, top + ".py"))):
        return
    places = [getattr(loaded, "__file__", None) or ""] + list(getattr(loaded, "__path__", []))
    if any(os.path.abspath(place).startswith(folder + os.sep) for place in places if place):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _import_failed(dotted: str, module_name: str, exc: BaseException) -> ModuleImportFailed:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    missing = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
    hint = (" (it imports %r, which is not installed: add it to requirements.txt)" % missing
            if missing and missing.split(".")[0] != PACKAGE else "")
    return ModuleImportFailed("the model factory %s: module %s raised %s while importing: %s%s"
                              "\n%s" % (dotted, module_name, type(exc).__name__, exc, hint,
                                         text), text)


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """Import the factory app.py names (with modelkiln's flask_psc_model)."""
    dotted = factory_name(settings)
    factory = import_factory(dotted, settings.app_dir)
    if isinstance(factory, type) and not callable(getattr(factory, "run", None)):
        raise ClassNotFound("the model class %s has no run method (flask_psc_model.ModelBase: "
                            "run(*input_paths, *output_paths))" % dotted)
    check_service_type(ModzyModel, settings.service_type)
    return ModzyModel, {"factory": factory, "factory_name": dotted,
                        "info": read_info(settings.app_dir)}


@contextlib.contextmanager
def _working_folder(folder: str) -> Iterator[None]:
    """In ``folder`` (where the server, and the template's tests, run the model), then back
    where it was."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_examples(folder: str) -> Tuple[int, int, List[str]]:
    """The template's test data run through the folder's model, loaded here as the server
    loads it (``modzy_examples``): ``tests/data/examples/*``, each case's input files and
    expected outputs, and ``tests/data/validation-error/*``, input files and the text the
    422 message must hold. (passed, failed, a PASS or FAIL line per case); a model that
    cannot be loaded is one FAIL line."""
    folder = os.path.abspath(folder)
    with _working_folder(folder):
        try:
            settings = prepare(Settings.load([folder, "--model-format", NAME],
                                             read_annotations=False))
            cls, kwargs = user_class(settings)
            model = cls(**kwargs)
            model.load()
        except Exception as exc:  # the settings, the import or the model's constructor
            return 0, 1, ["FAIL the model cannot be loaded: %s: %s"
                          % (type(exc).__name__, exc)]
        return run_cases(model, folder)
