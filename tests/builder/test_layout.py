"""Where code runs decides where it lives: ``python_runtime`` (in every app image) imports
neither ``builder`` (in the builder images) nor ``modelkiln_cli`` (the host command); ``builder``
never imports ``modelkiln_cli``; no module imports itself back, lazily or not. And the host
command reports any failure once, as one ERROR line."""

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("python_runtime", "builder", "modelkiln_cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> Set[str]:
    """Modules of our packages that ``path`` imports anywhere (function bodies included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + ["%s.%s" % (base, alias.name) for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in PACKAGES)
    return found


def graph() -> Dict[str, Set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")
               if "seldon_fallback" not in p.parts}
    return {name: {t for t in imports_of(path, name) if t in modules and t != name}
            for name, path in modules.items()}


def test_packages_import_only_downwards():
    edges = graph()
    for name, targets in edges.items():
        top = name.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            assert not (top == "python_runtime" and other != "python_runtime"), (name, target)
            assert not (top == "builder" and other == "modelkiln_cli"), (name, target)


# python_runtime's layers, lowest first (the order python_runtime/__init__.py states): a
# module imports only from its own layer and those below. "" is the package's __init__.
RUNTIME_LAYERS = (
    {"", "settings", "errors", "logs", "metrics", "tracing", "budget", "tls", "gpu", "streams"},
    {"codecs"},
    {"model"},
    {"inference"},
    {"protocols"},
    {"transport"},
    {"server"},
    {"jobs"},
    {"cli", "__main__", "response", "batch", "slim"},  # entry points, kept public paths
)


def runtime_layer(name: str) -> int:
    part = (name.split(".") + [""])[1]
    for number, layer in enumerate(RUNTIME_LAYERS):
        if part in layer:
            return number
    raise AssertionError("%s is in no layer of RUNTIME_LAYERS: add its package there (and "
                         "to the list in python_runtime/__init__.py)" % name)


def test_every_runtime_module_has_a_layer_and_every_package_says_its_boundary():
    for name in graph():
        if name.startswith("python_runtime"):
            runtime_layer(name)
    for init in (REPO / "python_runtime").rglob("__init__.py"):
        if "seldon_fallback" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc, "%s needs a docstring saying what it may import" % init


def test_runtime_layers_import_only_downwards():
    wrong = ["%s -> %s" % (name, target) for name, targets in sorted(graph().items())
             if name.startswith("python_runtime.")
             for target in sorted(targets)
             if runtime_layer(target) > runtime_layer(name)]
    assert not wrong, "imports against the layer order (python_runtime/__init__.py): %s" % wrong


def test_the_layer_rule_sees_a_wrong_import(tmp_path, monkeypatch):
    bad = REPO / "python_runtime" / "model" / "_layer_probe.py"
    bad.write_text("from ..transport import http\n")
    try:
        edges = graph()
    finally:
        bad.unlink()
    assert "python_runtime.transport.http" in edges["python_runtime.model._layer_probe"]
    assert runtime_layer("python_runtime.transport.http") > runtime_layer(
        "python_runtime.model._layer_probe")


def test_no_import_cycles():
    edges = graph()
    state: Dict[str, int] = {}

    def visit(name, path):
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            assert state.get(target) != 1, "import cycle: %s" % " -> ".join(path + [target])
            if state.get(target) is None:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def test_a_failure_is_reported_once(tmp_path):
    done = subprocess.run([sys.executable, "-m", "modelkiln_cli.cli", "build",
                           str(tmp_path / "absent"), "modelkiln/python311", "x:1",
                           "--as-dockerfile", str(tmp_path / "Dockerfile")],
                          cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("ERROR: ") == 1, done.stderr
    assert "absent" in done.stderr and "Traceback" not in done.stderr
