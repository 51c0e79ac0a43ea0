"""Loading the user's class: success paths and each failure as a table."""

import os
import sys

import pytest

from python_runtime.component import check_service_type
from python_runtime.errors import (
    BadParameters,
    ClassNotFound,
    ConstructorFailed,
    MethodMissing,
    ModuleImportFailed,
    ModuleNotFound,
)
from python_runtime.loader import construct, import_user_class, parse_parameters, split_model_name

APPS = os.path.join(os.path.dirname(__file__), "userapps")


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
    ("Other", ClassNotFound, ["has no class 'Other'", "Something"]),
    ("pkg.sub.model.Nope", ClassNotFound, ["has no class 'Nope'", "Deep"]),
])
def test_import_failures_are_distinct(model_name, error, fragments):
    with pytest.raises(error) as info:
        import_user_class(model_name, APPS)
    for fragment in fragments:
        assert fragment in str(info.value)


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
