"""``modelkiln test`` on a catwalk folder runs catwalk's model test
(``python_runtime.model.formats.catwalk.model_test``): the same verdict as ``catwalk
test-model`` on the same folder, and, when it fails, catwalk's own message."""

import os
import re
import shutil
import subprocess

import pytest

from python_runtime.model.formats.catwalk import model_test

from .servers import OWN_MODELS, REPO_ROOT, catwalk_executable, catwalk_source

pytestmark = pytest.mark.compat


def folders(tmp_root):
    """(id, folder): catwalk's examples, this suite's own, the test app, and broken copies."""
    found = [("example-" + name, catwalk_source() / "example_models" / name)
             for name in ("rng", "dataframe", "neuron", "batch")]
    found += [("own-" + p.name, p) for p in sorted(OWN_MODELS.iterdir())
              if (p / "model.yml").is_file()]
    found.append(("test-app-catwalk-iris", REPO_ROOT / "test_apps" / "catwalk-iris"))
    broken = [
        ("wrong-target", "catwalk-iris", "model.py", lambda t: t.replace('"label": "setosa"}]',
                                                                         '"label": "virginica"}]')),
        ("no-contact", "catwalk-iris", "model.yml",
         lambda t: re.sub(r"contact:\n(  .*\n)+", "", t)),
        ("input-type", "catwalk-iris", "model.py",
         lambda t: t.replace('"sepal_length": 5.0,', '"sepal_length": "5",')),
        ("no-model-class", "catwalk-iris", "model.py", lambda t: t.replace("class Model(", "class Other(")),
    ]
    for name, source, filename, change in broken:
        folder = tmp_root / name
        shutil.copytree(str(REPO_ROOT / "test_apps" / source), str(folder))
        path = folder / filename
        path.write_text(change(path.read_text()))
        found.append(("broken-" + name, folder))
    return found


def catwalk_verdict(folder):
    """(passed, message) from ``catwalk test-model`` (it exits 0 either way: its unittest
    report says OK or FAILED)."""
    done = subprocess.run([str(catwalk_executable()), "test-model", "--model-path", str(folder)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120,
                          env=dict(os.environ, PIP_NO_INDEX="1"))
    text = done.stdout
    if re.search(r"^OK$", text, re.M):
        return True, ""
    assert "FAILED" in text or "Error" in text, text[-2000:]
    message = text.split("AssertionError: ", 1)[1] if "AssertionError: " in text else text
    return False, message.split("\n\n----", 1)[0].strip()


def test_same_verdict_as_catwalk_test_model(tmp_path):
    checked = []
    for name, folder in folders(tmp_path):
        passed, message = catwalk_verdict(folder)
        ours = model_test(str(folder))
        ours_passed = all(ok for ok, _ in ours)
        assert ours_passed == passed, (name, message, ours)
        if not passed and " != " in message.split("\n", 1)[0]:  # assertEqual's diff
            assert "predict answers the targets" in ours[-1][1], (name, message, ours[-1])
        elif not passed:  # the same problem named: catwalk's text after unittest's prefix
            text = message.split(" : ", 1)[1] if " : " in message else message
            assert text in ours[-1][1], (name, message, ours[-1])
        checked.append((name, passed))
    assert sum(1 for _, passed in checked if not passed) >= 4, checked
