"""Injected files: how ``modelkiln build`` stages them, and ``--as-dockerfile`` with folders."""

import stat

from builder.build import BuildOptions, parse_injections, stage_injections
from builder.dockerfile import write_dockerfile
from builder.source import Source


def tree(root):
    """{relative path: mode bits} of everything under root."""
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def injected_folder(tmp_path):
    folder = tmp_path / "channel"
    (folder / "noarch").mkdir(parents=True)
    (folder / "noarch" / "repodata.json").write_text("{}")
    (folder / "noarch" / "repodata.json").chmod(0o600)
    return folder


def test_secrets_share_one_folder_mount_and_other_files_get_their_own(tmp_path):
    ca, conf, auth = tmp_path / "ca.pem", tmp_path / "pip.conf", tmp_path / "auth.json"
    for path in (ca, conf, auth):
        path.write_text(path.name)
        path.chmod(0o600)
    folder = injected_folder(tmp_path)
    options = BuildOptions("src", "b", "t", ca_bundle=str(ca), pip_conf=str(conf),
                           inject=["%s:/run/modelkiln/conda-auth.json" % auth,
                                   "%s:/kiln-channel" % folder])
    work = tmp_path / "work"
    staged = dict((dst, src) for src, dst in stage_injections(parse_injections(options),
                                                               str(work)))
    # No file mount under /run/modelkiln: a file mount leaves a 0-byte stub in the image.
    assert sorted(staged) == ["/kiln-channel", "/run/modelkiln"]
    secrets = tmp_path / "work" / "secrets"
    assert staged["/run/modelkiln"] == str(secrets)
    assert tree(secrets) == {"ca-bundle.crt": 0o644, "pip.conf": 0o644,
                             "conda-auth.json": 0o644}
    assert (secrets / "ca-bundle.crt").read_text() == "ca.pem"
    assert tree(type(secrets)(staged["/kiln-channel"])) == {"noarch": 0o755,
                                                            "noarch/repodata.json": 0o644}


def test_as_dockerfile_takes_an_injected_folder(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "Model.py").write_text("class Model: pass\n")
    folder = injected_folder(tmp_path)
    target = tmp_path / "out" / "Dockerfile"
    target.parent.mkdir()
    options = BuildOptions(str(app), "modelkiln/python311", "app:1", as_dockerfile=str(target),
                           inject=["%s:/kiln-channel" % folder])
    write_dockerfile(options, Source(str(app), str(app), "", {}), {"MODEL_NAME": "Model"},
                     parse_injections(options))
    text = target.read_text()
    assert "--mount=type=bind,source=upload/inject/0,target=/kiln-channel" in text
    copied = tmp_path / "out" / "upload" / "inject" / "0"
    assert (copied / "noarch" / "repodata.json").read_text() == "{}"
    assert tree(copied)["noarch/repodata.json"] == 0o644
