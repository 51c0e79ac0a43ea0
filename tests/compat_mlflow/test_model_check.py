"""``modelkiln test`` on an MLflow folder: the serving input example MLflow saved, scored on
``/invocations`` in this process (mlflow-skinny is here)."""

import json
import shutil

import pytest

from python_runtime.model.formats.mlflow import serving_example_check

pytestmark = pytest.mark.compat


def test_the_saved_serving_example_scores(models_dir):
    assert serving_example_check(str(models_dir / "sklearn-iris")) == [
        (True, "serving_input_example.json scores on /invocations")]


def test_a_folder_without_an_example_has_nothing_to_score(models_dir):
    assert serving_example_check(str(models_dir / "no-signature")) == [
        (True, "MLmodel names no serving input example: nothing to score")]


def test_an_example_the_signature_refuses_fails_with_mlflows_answer(models_dir, tmp_path):
    folder = tmp_path / "iris"
    shutil.copytree(str(models_dir / "sklearn-iris"), str(folder))
    (folder / "serving_input_example.json").write_text(json.dumps(
        {"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}))
    [(ok, what)] = serving_example_check(str(folder))
    assert not ok
    assert what.startswith("serving_input_example.json scores on /invocations: 400 "
                           '{"error_code": "INVALID_PARAMETER_VALUE"')
    assert "Model is missing inputs ['sepal_length'" in what
