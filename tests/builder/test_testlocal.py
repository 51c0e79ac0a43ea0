"""``modelkiln test APP_DIR``: an app's examples checked in-process, before any build."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOUBLER = "import numpy as np\n\nclass Doubler:\n    def predict(self, X, names):\n" \
          "        return np.asarray(X) * 2\n"


def modelkiln_test(app):
    done = subprocess.run([sys.executable, "-m", "modelkiln_cli.cli", "test", str(app)],
                          cwd=str(REPO), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=180)
    return done.returncode, done.stdout


def app(tmp_path, examples, model=DOUBLER, model_name="Doubler"):
    folder = tmp_path / "app"
    (folder / ".s2i").mkdir(parents=True)
    (folder / ".s2i" / "environment").write_text("MODEL_NAME=%s\n" % model_name)
    (folder / "Doubler.py").write_text(model)
    if examples is not None:
        (folder / "examples.json").write_text(json.dumps({"examples": examples}))
    return folder


def example(value, answer, status=200, name="double"):
    return {"name": name, "path": "/api/v1.0/predictions",
            "body": {"data": {"ndarray": [[value]]}}, "status": status,
            "response": {"data": {"names": ["t:0"], "ndarray": [[answer]]}, "meta": {}}}


def test_passing_examples(tmp_path):
    code, out = modelkiln_test(app(tmp_path, [example(2, 4), example(1.5, 3.0, name="half")]))
    assert code == 0, out
    assert "PASS double" in out and "PASS half" in out
    assert "loading %s in this process" % (tmp_path / "app") in out
    assert "2 example(s), 0 failure(s)" in out


def test_a_wrong_answer_is_reported_with_what_was_expected(tmp_path):
    code, out = modelkiln_test(app(tmp_path, [example(2, 5)]))
    assert code == 1, out
    assert "FAIL double" in out
    assert '"ndarray": [[5]]' in out and '"ndarray": [[4]]' in out  # expected, then got
    assert "1 example(s), 1 failure(s)" in out


LOAD_FAILS = DOUBLER + "\n    def load(self):\n        raise IOError('weights.bin is missing')\n"


@pytest.mark.parametrize("model_name, model, says", [
    ("Missing", DOUBLER, "no module 'Missing'"),
    ("Doubler.Nope", DOUBLER, "has no class 'Nope'"),
    ("Doubler", LOAD_FAILS, "load() failed: OSError: weights.bin is missing"),
], ids=["no-module", "no-class", "load-fails"])
def test_an_app_that_cannot_load_says_why(tmp_path, model_name, model, says):
    code, out = modelkiln_test(app(tmp_path, [example(2, 4)], model=model,
                                   model_name=model_name))
    assert code == 1 and says in out, out
    assert out.count("ERROR: ") == 1


def test_no_examples_file_shows_its_format(tmp_path):
    code, out = modelkiln_test(app(tmp_path, None))
    assert code == 1
    assert "has no examples.json to test with; write one like this" in out
