"""The reference pages are generated from the code: a setting, build variable, command option
or route added in code appears in the reference without anyone editing ``docs/``."""

import importlib.util
import textwrap

from .conftest import REPO, build_site

HOOK = REPO / "docs" / "hooks" / "reference.py"


def reference_module():
    """docs/hooks/reference.py, imported without MkDocs (its page writers do not need it)."""
    spec = importlib.util.spec_from_file_location("docs_reference_hook", str(HOOK))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_setting_added_in_code_appears_in_the_settings_reference(monkeypatch):
    from python_runtime import settings

    fake = settings.Setting("docs_probe", "MODELKILN_DOCS_PROBE", "--docs-probe", 42, int,
                            "A setting that exists only in this test.")
    monkeypatch.setattr(settings, "SETTINGS", settings.SETTINGS + (fake,))
    page = reference_module().settings_page()
    assert ("| `MODELKILN_DOCS_PROBE` | `--docs-probe` | `42` | "
            "A setting that exists only in this test. |") in page
    for setting in settings.SETTINGS:
        assert (setting.env or setting.flag) in page


def test_a_build_variable_added_in_code_appears_in_the_build_reference(monkeypatch):
    from builder import settings

    fake = settings.BuildSetting("docs_probe", "DOCS_PROBE_VARIABLE", "yes", str,
                                 "A build variable that exists only in this test.")
    monkeypatch.setattr(settings, "BUILD_SETTINGS", settings.BUILD_SETTINGS + (fake,))
    page = reference_module().build_variables_page()
    assert "| `DOCS_PROBE_VARIABLE` | `yes` | A build variable that exists only" in page


def test_an_option_added_to_a_parser_appears_in_the_commands_reference(monkeypatch):
    from modelkiln_cli import cli

    original = cli.test_parser

    def with_probe():
        parser = original()
        parser.add_argument("--docs-probe", metavar="N", default=7, help="only in this test")
        return parser

    monkeypatch.setattr(cli, "test_parser", with_probe)
    page = reference_module().commands_page()
    assert "| `--docs-probe` | `N` | `7` | only in this test |" in page


def test_a_route_added_to_a_protocol_appears_in_the_routes_reference(monkeypatch):
    from python_runtime.protocols.odahu import OdahuRest
    from python_runtime.protocols.routes import Doc, Route

    hook = reference_module()
    original = OdahuRest.routes

    def with_probe(self):
        return original(self) + [Route("/docs-probe", ("GET",), lambda *a: (200, "", ""),
                                       self, Doc("A route that exists only in this test"))]

    monkeypatch.setattr(OdahuRest, "routes", with_probe)
    page = hook.routes_page()
    assert "| GET | `/docs-probe` | A route that exists only in this test |" in page


def test_the_built_site_shows_a_setting_added_in_code(tmp_path):
    """The whole way: the setting is added in the process that builds the site, and the
    built HTML page lists it."""
    prelude = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from python_runtime import settings
        settings.SETTINGS = settings.SETTINGS + (settings.Setting(
            "docs_probe", "MODELKILN_DOCS_PROBE", "--docs-probe", 42, int,
            "A setting that exists only in this test."),)
    """ % str(REPO))
    done = build_site(tmp_path / "site", prelude)
    assert done.returncode == 0, done.stdout.decode(errors="replace")
    page = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    assert "MODELKILN_DOCS_PROBE" in page and "--docs-probe" in page
    assert "A setting that exists only in this test." in page
    for source in (REPO / "docs").rglob("*.md"):  # it came from the code, not from a page
        assert "MODELKILN_DOCS_PROBE" not in source.read_text(), source
