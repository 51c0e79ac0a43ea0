"""The built site in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) opens the start page and the settings reference from a
file server on 127.0.0.1, every other host name failing to resolve, and finds their content
and a working search. Screenshots are kept in $MODELKILN_ARTIFACTS (default: the test's
temporary folder)."""

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="selenium is in requirements/docs.txt: make docs-venv")
if not (shutil.which("chromium") and shutil.which("chromedriver")):
    pytest.fail("chromium and chromium-driver are not installed: run make browser",
                pytrace=False)

from tests.browser.test_docs_page import artifacts, requested_urls  # noqa: E402

from .conftest import REPO  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as until  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def only_local(driver, origin):
    urls = requested_urls(driver)
    assert urls, "no request was logged"
    assert [u for u in urls if not u.startswith((origin, "data:", "blob:"))] == []


def keep(driver, tmp_path, name):
    picture = Path(artifacts(tmp_path)) / name
    driver.save_screenshot(str(picture))
    assert picture.stat().st_size > 10000
    print("screenshot: %s" % picture)


def test_start_page(site_url, browser, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(site_url + "/")
    title = wait.until(until.visibility_of_element_located((By.CSS_SELECTOR, "article h1")))
    assert title.text.strip() == "modelkiln"
    article = browser.find_element(By.CSS_SELECTOR, "article").text
    assert "make demo" in article and "make test" in article
    assert "Open Inference Protocol" in article
    navigation = browser.find_element(By.CSS_SELECTOR, "nav.md-nav--primary")
    assert "Getting started" in navigation.get_attribute("textContent")
    assert "Runtime settings" in navigation.get_attribute("textContent")
    # the theme's own style sheet applied (no font or script from anywhere else)
    header = browser.find_element(By.CSS_SELECTOR, "header.md-header")
    assert header.value_of_css_property("position") in ("sticky", "-webkit-sticky")
    keep(browser, tmp_path, "docs-site-start.png")
    only_local(browser, site_url)


def test_settings_reference_and_search(site_url, browser, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(site_url + "/reference/settings/")
    table = wait.until(until.visibility_of_element_located((By.CSS_SELECTOR, "article table")))
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) > 30
    first_cells = [row.find_element(By.TAG_NAME, "td").text for row in rows]
    assert "PREDICTIVE_UNIT_HTTP_SERVICE_PORT" in first_cells
    assert "MODELKILN_MAX_REQUEST_SIZE" in first_cells
    keep(browser, tmp_path, "docs-site-settings.png")
    # offline search: the index and its worker come from the site itself
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    if not box.is_displayed():  # a narrow window shows a search button instead
        browser.find_element(By.CSS_SELECTOR, "label[for='__search']").click()
    box = wait.until(until.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input")))
    box.click()
    box.send_keys("graceful")
    # The results are drawn again as the query grows: read them in one script call, and wait
    # until they are the full query's (an element found before a redraw would be stale).
    read = ("return [...document.querySelectorAll('.md-search-result__item')].map(item => "
            "[item.querySelector('a') ? item.querySelector('a').href : '', item.innerText])")
    results = wait.until(lambda d: [r for r in d.execute_script(read)
                                    if "graceful" in r[1].lower()] and d.execute_script(read))
    links = [href for href, _ in results]
    assert links and all(link.startswith(site_url + "/") for link in links), links
    keep(browser, tmp_path, "docs-site-search.png")
    only_local(browser, site_url)


def test_performance_page_shows_the_bench_charts(site_url, browser):
    browser.get(site_url + "/performance/")
    WebDriverWait(browser, 30).until(until.presence_of_element_located((By.CSS_SELECTOR,
                                                                       "article img")))
    loaded = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all([...document.querySelectorAll('article img')].map(i => i.decode()"
        ".then(() => i.naturalWidth, () => 0))).then(done);")
    charts = len(list((REPO / "bench" / "charts").glob("*.png")))
    assert len(loaded) == charts and all(width > 100 for width in loaded), loaded
    only_local(browser, site_url)
