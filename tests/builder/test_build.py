"""Host side of `modelkiln build`: injected files, the CA bundle handed over, --as-dockerfile with
folders; and the examples file of `test-image`."""

import stat

import pytest

from modelkiln_cli.build import BuildOptions, parse_injections, stage_injections
from modelkiln_cli.dockerfile import write_dockerfile
from modelkiln_cli.source import Source


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


def test_this_machines_ca_bundle_is_handed_to_assemble_by_default(tmp_path, monkeypatch):
    corporate = tmp_path / "corporate.pem"
    corporate.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("PIP_CERT", str(corporate))
    assert parse_injections(BuildOptions("src", "b", "t")) == [
        (str(corporate), "/run/modelkiln/ca-bundle.crt")]
    assert parse_injections(BuildOptions("src", "b", "t", host_ca=False)) == []
    given = tmp_path / "given.pem"
    given.write_text("x")
    assert parse_injections(BuildOptions("src", "b", "t", ca_bundle=str(given))) == [
        (str(given), "/run/modelkiln/ca-bundle.crt")]


def test_where_the_ca_bundle_comes_from(tmp_path, monkeypatch):
    from modelkiln_cli import hostconfig

    files = {}
    for name in ("pip-cert", "pip-config", "ssl", "requests", "system", "empty"):
        files[name] = tmp_path / name
        files[name].write_text("" if name == "empty" else name)
    monkeypatch.setattr(hostconfig, "_pip_config", lambda key: str(files["pip-config"]))
    system = [str(tmp_path / "absent"), str(files["empty"]), str(files["system"])]
    environ = {"PIP_CERT": str(files["pip-cert"]), "SSL_CERT_FILE": str(files["ssl"]),
               "REQUESTS_CA_BUNDLE": str(files["requests"])}
    assert hostconfig.ca_bundle(environ, system) == (str(files["pip-cert"]), "PIP_CERT")
    del environ["PIP_CERT"]
    assert hostconfig.ca_bundle(environ, system) == (str(files["pip-config"]),
                                                      "pip's cert setting")
    monkeypatch.setattr(hostconfig, "_pip_config", lambda key: None)
    assert hostconfig.ca_bundle(environ, system) == (str(files["ssl"]), "SSL_CERT_FILE")
    del environ["SSL_CERT_FILE"]
    assert hostconfig.ca_bundle(environ, system)[1] == "REQUESTS_CA_BUNDLE"
    del environ["REQUESTS_CA_BUNDLE"]
    # missing and empty files are skipped
    assert hostconfig.ca_bundle(environ, system) == (str(files["system"]), "the system bundle")
    assert hostconfig.ca_bundle(environ, [str(files["empty"])]) is None


@pytest.mark.parametrize("content, says", [
    (None, "has no examples.json to test with; write one like this"),
    ("[1, 2]", "is not an examples file"),
    ("{oops", "is not an examples file"),
    ('{"examples": []}', "lists no examples; write them like this"),
])
def test_a_missing_or_wrong_examples_file_shows_the_format(tmp_path, content, says):
    from modelkiln_cli.testimage import TestImageError, load_examples

    if content is not None:
        (tmp_path / "examples.json").write_text(content)
    with pytest.raises(TestImageError) as info:
        load_examples(str(tmp_path))
    assert says in str(info.value)
    assert '"path": "/api/v1.0/predictions"' in str(info.value)  # the format, shown
    (tmp_path / "examples.json").write_text('{"examples": [{"path": "/x"}]}')
    assert load_examples(str(tmp_path)) == [{"path": "/x"}]


def test_app_images_are_labelled_with_their_own_name():
    from modelkiln_cli.build import build_labels

    options = BuildOptions("src", "modelkiln/python311", "team/iris:2")
    labels = build_labels(options, Source("/tmp/app", "https://example.com/iris.git", "models",
                                          {"id": "abc123"}))
    assert labels["org.opencontainers.image.title"] == "team/iris:2"
    assert labels["io.k8s.display-name"] == "team/iris:2"
    assert "builder" not in labels["io.openshift.tags"]
    assert labels["io.openshift.s2i.build.image"] == "modelkiln/python311"
    assert labels["io.openshift.s2i.build.source-location"] == "https://example.com/iris.git"
    assert labels["io.openshift.s2i.build.source-context-dir"] == "models"
    assert labels["io.openshift.s2i.build.commit.id"] == "abc123"


def test_a_ca_bundle_injected_by_hand_is_not_doubled_by_this_machines(tmp_path):
    own = tmp_path / "own.pem"
    own.write_text("x")
    options = BuildOptions("src", "b", "t", inject=["%s:/run/modelkiln/ca-bundle.crt" % own])
    assert parse_injections(options) == [(str(own), "/run/modelkiln/ca-bundle.crt")]


class FakeImage(object):
    def __init__(self, id, labels=None):
        self.id, self.short_id, self.labels = id, id[:12], labels or {}


class FakeImages(object):
    def __init__(self, images):
        self.images = images

    def get(self, tag):
        if tag not in self.images:
            raise LookupError(tag)
        return self.images[tag]


def test_when_an_incremental_build_goes_on_top_of_the_previous_image(tmp_path):
    from modelkiln_cli.build import (BUILDER_ID_LABEL, ENV_DIGEST_LABEL, LAYERED_LABEL, MAX_LAYERED,
                               env_digest, layered_base)

    builder = FakeImage("sha256:builder-1")
    env = {"MODEL_NAME": "M"}
    options = BuildOptions(str(tmp_path), "modelkiln/python311", "app:1", incremental=True)

    def client(**labels):
        image = FakeImage("sha256:previous", dict({
            BUILDER_ID_LABEL: builder.id, ENV_DIGEST_LABEL: env_digest(env),
            LAYERED_LABEL: "0"}, **labels))
        return type("Client", (), {"images": FakeImages({"app:1": image})})()

    previous, why = layered_base(client(), options, builder, env, str(tmp_path))
    assert previous is not None and previous.id == "sha256:previous", why
    empty = type("Client", (), {"images": FakeImages({})})()
    assert layered_base(empty, options, builder, env, str(tmp_path)) == (
        None, "no previous image app:1")
    for labels, says in (({BUILDER_ID_LABEL: "sha256:builder-0"}, "another builder image"),
                         ({ENV_DIGEST_LABEL: env_digest({"MODEL_NAME": "N"})},
                          "the build environment changed"),
                         ({LAYERED_LABEL: str(MAX_LAYERED)}, "stacked")):
        previous, why = layered_base(client(**labels), options, builder, env, str(tmp_path))
        assert previous is None and says in why, why
    (tmp_path / "environment.yml").write_text("dependencies: [python=3.11]\n")
    previous, why = layered_base(client(), options, builder, env, str(tmp_path))
    assert previous is None and "conda" in why


def test_test_image_runs_the_container_under_the_limits_it_is_given(tmp_path):
    from modelkiln_cli import testimage

    (tmp_path / "examples.json").write_text('{"examples": [{"path": "/x"}]}')
    seen = {}

    class Stop(Exception):
        pass

    class Containers(object):
        def run(self, tag, **kwargs):
            seen.update(kwargs, tag=tag)
            raise Stop()

    client = type("Client", (), {"containers": Containers()})()
    with pytest.raises(Stop):
        testimage.run("app:1", str(tmp_path), memory="512m", cpus=1.5, client=client)
    assert (seen["tag"], seen["mem_limit"], seen["memswap_limit"], seen["nano_cpus"]) == (
        "app:1", "512m", "512m", 1500000000)
    seen.clear()
    with pytest.raises(Stop):
        testimage.run("app:1", str(tmp_path), client=client)
    assert not {"mem_limit", "nano_cpus"} & set(seen)
    with pytest.raises(testimage.TestImageError):
        testimage.limits(None, -1)


@pytest.mark.parametrize("user, uid", [("1001", 1001), ("1001:0", 1001), ("0", 0)])
def test_numeric_user(user, uid):
    from modelkiln_cli.build import numeric_user

    assert numeric_user(user) == uid


@pytest.mark.parametrize("user", ["", "default", "app:0"])
def test_a_builder_user_that_is_not_numeric_is_refused(user):
    from modelkiln_cli.build import numeric_user
    from modelkiln_cli.staging import BuildError

    with pytest.raises(BuildError) as info:
        numeric_user(user)
    assert "numeric" in str(info.value)


@pytest.mark.parametrize("expected, got, tolerance, same", [
    ({"a": [1, 2.5]}, {"a": [1, 2.5]}, None, True),
    ({"a": [1, 2.5]}, {"a": [1, 2.5], "b": 0}, None, False),      # an extra key
    ([1.0], [1], None, False),                                     # 1.0 is not 1 without tolerance
    ([0.3333333], [1 / 3], 1e-6, True),
    ([0.3333], [1 / 3], 1e-6, False),
    ("text", "text", None, True),
    ([[1, 2]], [[1, 2, 3]], None, False),
])
def test_examples_matching(expected, got, tolerance, same):
    from modelkiln_cli.testimage import matches

    assert matches(expected, got, tolerance) is same


def test_injected_files_are_readable_by_the_builders_user_only(tmp_path, capsys):
    """Credentials (pip.conf with an index token) and injected folders: owned by the builder's
    UID, 0400 files and 0500 folders, in a build folder of mode 0700, so that no other user of
    the build host can read them while the build runs (this test runs as root, as the build
    does on these machines)."""
    import os

    if os.geteuid() != 0:
        pytest.skip("giving files to another UID needs root")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://builder:token@example.com/simple\n")
    folder = injected_folder(tmp_path)
    options = BuildOptions("src", "b", "t", pip_conf=str(conf), host_ca=False,
                           inject=["%s:/kiln-channel" % folder])
    work = tmp_path / "work"
    work.mkdir()
    staged = dict((dst, src) for src, dst in stage_injections(parse_injections(options),
                                                               str(work), 1001))
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    for mount in staged.values():
        root = type(work)(mount)
        for path in [root] + list(root.rglob("*")):
            assert path.stat().st_uid == 1001, path
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o500 if path.is_dir() else 0o400), (path, oct(mode))
    assert "WARNING" not in capsys.readouterr().out


def test_without_a_way_to_give_files_away_the_build_says_they_are_readable(tmp_path, capsys,
                                                                           monkeypatch):
    """Not root and no setfacl: the files must still reach the builder's user, so they are
    readable by all, and the build says so."""
    from modelkiln_cli import staging

    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\n")
    monkeypatch.setattr(staging.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(staging.shutil, "which", lambda name: None)
    options = BuildOptions("src", "b", "t", pip_conf=str(conf), host_ca=False)
    work = tmp_path / "work"
    work.mkdir()
    staged = stage_injections(parse_injections(options), str(work), 1001)
    assert tree(type(work)(staged[0][0])) == {"pip.conf": 0o644}
    assert "WARNING: the injected files are readable by every user" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, fragment", [
    ({"location": "--upload-pack=touch /tmp/x"}, "starts with '-'"),
    ({"location": "https://example.com/app.git", "ref": "--orphan"}, "--ref '--orphan' starts"),
])
def test_arguments_that_git_would_read_as_options_are_refused(tmp_path, kwargs, fragment):
    from modelkiln_cli.source import SourceError, prepare

    with pytest.raises(SourceError) as info:
        prepare(workdir=str(tmp_path), **kwargs)
    assert fragment in str(info.value)
