"""``mkdocs build --strict`` succeeds, every page of the navigation is built, and the site
needs no network: no stylesheet, script or font from another host."""

import re

from .conftest import REPO

PAGES = ("index.html", "getting-started/index.html", "serving/index.html",
         "serving/grpc/index.html", "architecture/index.html", "performance/index.html",
         "reference/settings/index.html", "reference/build-variables/index.html",
         "reference/routes/index.html", "reference/commands/index.html",
         "seldon-differences/index.html", "formats/index.html", "search/search_index.json")
ASSET = re.compile(r"<(?:link|script|img|source|iframe)\b[^>]*?\b(?:href|src)=\"(https?:)?//([^/\"]+)",
                   re.I)
EXAMPLE_HOSTS = re.compile(r"(^|\.)example\.(com|org|net)$|^127\.0\.0\.1$|^localhost$")


def test_strict_build_writes_every_page(site):
    missing = [page for page in PAGES if not (site / page).is_file()]
    assert not missing, missing
    charts = sorted(p.name for p in (site / "charts").glob("*.png"))
    assert charts == sorted(p.name for p in (REPO / "bench" / "charts").glob("*.png"))


def test_the_site_fetches_nothing_from_another_host(site):
    offending = []
    for page in site.rglob("*.html"):
        for _scheme, host in ASSET.findall(page.read_text(errors="replace")):
            if not EXAMPLE_HOSTS.search(host):
                offending.append((str(page.relative_to(site)), host))
    assert not offending, offending
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(errors="replace")
        assert not re.search(r"@import\s+url\(\s*[\"']?https?:", text), sheet
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, sheet


def test_generated_pages_say_so_and_hold_the_code_facts(site):
    settings = (site / "reference/settings/index.html").read_text()
    assert "PREDICTIVE_UNIT_HTTP_SERVICE_PORT" in settings and "--http-port" in settings
    routes = (site / "reference/routes/index.html").read_text()
    assert "/v2/models/{model_name}/infer" in routes and "ModelInfer" in routes
    commands = (site / "reference/commands/index.html").read_text()
    for option in ("--as-dockerfile", "--batch-size", "--shard", "--kind", "--max-request-size"):
        assert option in commands, option
    differences = (site / "seldon-differences/index.html").read_text()
    assert "case" in differences and "INVALID_ARGUMENT" in differences


def test_no_hand_written_file_shadows_a_generated_page():
    from .test_reference import reference_module

    hook = reference_module()
    for path in hook.PAGES:
        assert not (REPO / "docs" / path).exists(), path
