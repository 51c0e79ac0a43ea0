"""Loading the user's class: success paths and each failure as a table."""

import os
import sys

import pytest

from python_runtime.model.component import check_service_type
from python_runtime.errors import (
    BadParameters,
    ClassNotFound,
    ConstructorFailed,
    MethodMissing,
    ModuleImportFailed,
    ModuleNotFound,
)
from python_runtime.model.loader import (construct, import_user_class, parse_parameters,
                                         split_model_name)

APPS = os.path.join(os.path.dirname(__file__), "userapps")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _clean_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.parametrize("name, expected", [
    ("MyModel", ("MyModel", "MyModel")),
    ("pkg.mod.Class", ("pkg.mod", "Class")),
    (" Spaced ", ("Spaced", "Spaced")),
])
def test_split_model_name(name, expected):
    assert split_model_name(name) == expected


def test_imports_plain_module_class():
    cls = import_user_class("Good", APPS)
    assert cls.__name__ == "Good"
    assert construct(cls, {}).predict(3) == 3


def test_imports_package_qualified_class():
    cls = import_user_class("pkg.sub.model.Deep", APPS)
    assert cls.__name__ == "Deep"
    assert cls().predict(1, []) == 2


@pytest.mark.parametrize("model_name, error, fragments", [
    ("Missing", ModuleNotFound, ["no module 'Missing'", "Missing.py"]),
    ("pkg.nothere.Cls", ModuleNotFound, ["no module 'pkg.nothere'"]),
    ("bad-name", ModuleNotFound, ["not a Python name"]),
    ("RaisesOnImport", ModuleImportFailed,
     ["raised RuntimeError while importing", "boom at import time", "Traceback"]),
    ("ImportsMissing", ModuleImportFailed,
     ["surely_not_installed_pkg", "add it to requirements.txt", "Traceback"]),
    ("SysExit", ModuleImportFailed, ["raised SystemExit"]),
    ("SeldonStorage", ModuleImportFailed,
     ["seldon_core.storage is not part of modelkiln's stand-in for seldon-core",
      "add seldon-core to requirements.txt"]),
    ("Other", ClassNotFound, ["has no class 'Other'", "Something"]),
    ("pkg.sub.model.Nope", ClassNotFound, ["has no class 'Nope'", "Deep"]),
])
def test_import_failures_are_distinct(model_name, error, fragments):
    with pytest.raises(error) as info:
        import_user_class(model_name, APPS)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_seldon_core_imports_resolve_to_the_stand_in_when_it_is_not_installed():
    cls = import_user_class("SeldonImports", APPS)
    model = cls()
    from python_runtime.model.component import user_method
    from python_runtime.errors import from_user_exception
    from python_runtime.model.response import unpack
    assert sys.modules["seldon_core"].__modelkiln_fallback__ is True
    # Seldon's placeholders count as absent, the user's method as present
    assert user_method(model, "predict") is not None
    assert [user_method(model, name) for name in ("tags", "load", "route", "metrics")] == \
        [None] * 4
    assert unpack(model.predict("x", [])) == ("x", {"t": 1}, [])
    with pytest.raises(Exception) as info:
        model.predict("refuse", [])
    error = from_user_exception(info.value)
    assert (error.status_code, error.reason, error.message) == (409, "NO", "refused")
    with pytest.raises(Exception) as info:
        model.tags()
    assert info.value.status_code == 400 and info.value.message == "tags is not implemented"


def test_an_installed_seldon_core_wins_over_the_stand_in(tmp_path):
    """A real package anywhere on the path is found first: the stand-in is the last resort."""
    package = tmp_path / "seldon_core"
    package.mkdir()
    (package / "__init__.py").write_text("REAL = True\n")
    (package / "user_model.py").write_text("class SeldonComponent(object):\n    REAL = True\n")
    (package / "storage.py").write_text("Storage = 'real'\n")
    script = ("import sys; from python_runtime.model import seldon_compat; "
              "seldon_compat.install(); "
              "import seldon_core.user_model, seldon_core.storage; "
              "print(seldon_core.REAL, seldon_core.user_model.SeldonComponent.REAL, "
              "seldon_core.storage.Storage, seldon_compat.is_fallback(seldon_core))")
    import subprocess
    out = subprocess.run(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), REPO_ROOT])))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "real", "False"]


def test_import_failure_keeps_traceback_text():
    with pytest.raises(ModuleImportFailed) as info:
        import_user_class("RaisesOnImport", APPS)
    assert "RaisesOnImport.py" in info.value.traceback_text


@pytest.mark.parametrize("service_type, ok", [
    ("MODEL", False), ("TRANSFORMER", True), ("ROUTER", False), ("COMBINER", False),
    ("OUTPUT_TRANSFORMER", False), ("OUTLIER_DETECTOR", False),
])
def test_service_type_needs_its_method(service_type, ok):
    cls = import_user_class("NoPredict", APPS)
    if ok:
        check_service_type(cls, service_type)
    else:
        with pytest.raises(MethodMissing) as info:
            check_service_type(cls, service_type)
        assert "SERVICE_TYPE=%s" % service_type in str(info.value)
        assert "NoPredict" in str(info.value)


def test_parameters_are_typed():
    params = parse_parameters(
        '[{"name":"scale","value":"3","type":"INT"},{"name":"label","value":"abc",'
        '"type":"STRING"},{"name":"flag","value":"true","type":"BOOL"},'
        '{"name":"ratio","value":"0.25","type":"FLOAT"},{"name":"d","value":"1e3","type":"DOUBLE"}]')
    assert params == {"scale": 3, "label": "abc", "flag": True, "ratio": 0.25, "d": 1000.0}
    assert isinstance(params["scale"], int)
    obj = construct(import_user_class("Good", APPS), {k: v for k, v in params.items() if k != "d"})
    assert (obj.scale, obj.label, obj.flag, obj.ratio) == (3, "abc", True, 0.25)


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "not valid JSON"),
    ('{"name": "a"}', "must be a JSON list"),
    ('[{"value": "1"}]', "must be {"),
    ('[{"name":"a","value":"x","type":"INT"}]', "is not a valid INT"),
    ('[{"name":"a","value":"maybe","type":"BOOL"}]', "is not a valid BOOL"),
    ('[{"name":"a","value":"1","type":"COMPLEX"}]', "is not one of INT"),
])
def test_bad_parameters(text, fragment):
    with pytest.raises(BadParameters) as info:
        parse_parameters(text)
    assert fragment in str(info.value)


def test_empty_parameters():
    assert parse_parameters("") == {}
    assert parse_parameters("[]") == {}


def test_constructor_failure_is_reported():
    cls = import_user_class("CtorFails", APPS)
    with pytest.raises(ConstructorFailed) as info:
        construct(cls, {})
    assert "cannot find weights.bin" in str(info.value)
    assert "Traceback" in info.value.traceback_text


def test_unexpected_parameter_names_the_parameters():
    cls = import_user_class("Good", APPS)
    with pytest.raises(ConstructorFailed) as info:
        construct(cls, {"nope": 1})
    assert "nope" in str(info.value)
