"""What the build does for an MLflow model folder (builder/mlflow_folder.py and assemble)."""

import os

import pytest

from builder import assemble, mlflow_folder
from builder.settings import BuildSettings, BuildSettingsError

SAVED = "mlflow==3.17.2\nnumpy==2.4.6\npandas==3.1.1\nscikit-learn==1.9.1\n"


def folder(tmp_path, python="3.11.7", requirements=SAVED, conda=True):
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {loader_module: m}\n")
    (tmp_path / "requirements.txt").write_text(requirements)
    if python is not None:
        (tmp_path / "python_env.yaml").write_text(
            "python: %s\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n"
            % python)
    if conda:
        (tmp_path / "conda.yaml").write_text(
            "channels: [conda-forge]\ndependencies:\n- python=%s\n- pip:\n  - mlflow==3.17.2\n"
            "name: mlflow-env\n" % python)
    return tmp_path


@pytest.mark.parametrize("lines, expected", [
    (["mlflow==3.17.2", "pandas"], ["mlflow-skinny==3.17.2", "pandas"]),
    (["MLflow[extras] >= 2.9  # saved", "pandas==3"], ["mlflow-skinny >= 2.9", "pandas==3"]),
    (["mlflow"], ["mlflow-skinny", "pandas"]),
    (["scikit-learn==1.9.1"], ["scikit-learn==1.9.1", "mlflow-skinny", "pandas"]),
    (["mlflow-skinny==3.1", "pandas"], ["mlflow-skinny==3.1", "pandas"]),
    (["-r other.txt", "# mlflow"], ["-r other.txt", "# mlflow", "mlflow-skinny", "pandas"]),
])
def test_mlflow_becomes_mlflow_skinny_and_what_serving_needs_is_added(lines, expected):
    kept, notes = mlflow_folder.rewrite(lines, "requirements.txt", assemble.project_name)
    assert kept == expected
    assert bool(notes) == (kept != lines)


def test_the_replacement_is_named_in_the_log():
    _, notes = mlflow_folder.rewrite(["mlflow==3.17.2"], "requirements.txt",
                                     assemble.project_name)
    assert notes[0].startswith("---> requirements.txt: installing 'mlflow-skinny==3.17.2' "
                               "instead of 'mlflow==3.17.2': full mlflow brings its own Flask")
    assert notes[1] == ("---> requirements.txt: adding pandas, which serving an MLflow model "
                        "needs")


def test_pip_gets_a_copy_of_requirements_txt_with_mlflow_skinny(monkeypatch, tmp_path, capsys):
    app = folder(tmp_path)
    seen = []

    def pip(python, args, env, what):
        seen.append(open(args[-1]).read())
    monkeypatch.setattr(assemble, "run_pip", pip)
    monkeypatch.setattr(assemble.paths, "WHEEL_DIR", str(tmp_path / "none"))
    settings = BuildSettings.load({"MODELKILN_MODEL_FORMAT": "mlflow"})
    assemble.install_dependencies(settings, str(app), "/bin/python")
    assert seen == ["mlflow-skinny==3.17.2\nnumpy==2.4.6\npandas==3.1.1\nscikit-learn==1.9.1\n"]
    assert sorted(os.listdir(str(app))) == ["MLmodel", "conda.yaml", "python_env.yaml",
                                            "requirements.txt"]  # the copy is gone
    assert "installing 'mlflow-skinny==3.17.2' instead of 'mlflow==3.17.2'" in (
        capsys.readouterr().out)


@pytest.mark.parametrize("saved, image, warning", [
    ("3.11.7", (3, 11), None),
    ("3.11", (3, 11), None),
    ("3.10.14", (3, 11), "WARNING: python_env.yaml says python 3.10 and the image's Python is "
                         "3.11"),
])
def test_python_env_is_checked_against_the_image(tmp_path, saved, image, warning):
    found = mlflow_folder.check_python(str(folder(tmp_path, saved)), image, "pip")
    assert found == ([] if warning is None else [found[0]])
    if warning:
        assert found[0].startswith(warning)


def test_another_major_python_is_an_error(tmp_path):
    with pytest.raises(mlflow_folder.MlflowFolderError) as info:
        mlflow_folder.check_python(str(folder(tmp_path, "2.7.18")), (3, 11), "pip")
    assert "python_env.yaml says python 2.7 and this builder's Python is 3.11" in str(info.value)


def test_the_py36_builder_refuses_an_mlflow_folder_naming_the_py311_builder(tmp_path,
                                                                           monkeypatch):
    app = folder(tmp_path)
    monkeypatch.setattr(mlflow_folder, "image_python", lambda: (3, 6))
    settings = BuildSettings.load({"MODELKILN_MODEL_FORMAT": "mlflow"})
    with pytest.raises(assemble.AssembleError) as info:
        assemble.use_mlflow_environment(settings, str(app))
    message = str(info.value)
    assert "this builder's Python is 3.6" in message
    assert "build it with the py311 builder (modelkiln/python311" in message


def test_no_python_env_means_nothing_to_check(tmp_path):
    assert mlflow_folder.check_python(str(folder(tmp_path, None)), (3, 11), "pip") == []


def test_conda_yaml_only_when_asked(tmp_path, capsys):
    app = str(folder(tmp_path))
    pip = BuildSettings.load({"MODELKILN_MODEL_FORMAT": "mlflow"})
    assemble.use_mlflow_environment(pip, app)
    assert pip.environment_file is None and not pip.disable_requirements
    conda = BuildSettings.load({"MODELKILN_MODEL_FORMAT": "mlflow",
                                "MODELKILN_MLFLOW_ENV": "Conda"})
    assemble.use_mlflow_environment(conda, app)
    assert conda.environment_file == "conda.yaml" and conda.disable_requirements
    assert "the MLflow folder's conda.yaml instead of its requirements.txt" in (
        capsys.readouterr().out)
    os.remove(os.path.join(app, "conda.yaml"))
    with pytest.raises(assemble.AssembleError) as info:
        assemble.use_mlflow_environment(BuildSettings.load(
            {"MODELKILN_MODEL_FORMAT": "mlflow", "MODELKILN_MLFLOW_ENV": "conda"}), app)
    assert "MODELKILN_MLFLOW_ENV=conda, and the MLflow folder has no conda.yaml" in (
        str(info.value))


def test_the_setting_takes_pip_or_conda():
    assert BuildSettings.load({}).mlflow_env == "pip"
    with pytest.raises(BuildSettingsError) as info:
        BuildSettings.load({"MODELKILN_MLFLOW_ENV": "venv"})
    assert "MODELKILN_MLFLOW_ENV='venv' is invalid: must be one of pip, conda" in str(info.value)


def test_an_mlflow_folder_is_decided_from_its_files(tmp_path):
    settings = BuildSettings.load({})
    settings.decide_format(str(folder(tmp_path)))
    assert settings.model_format == "mlflow"
