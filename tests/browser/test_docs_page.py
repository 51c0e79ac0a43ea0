"""The /docs page in a real browser: headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium) opens the page of a live server, runs "Try it out" on the predict
operation with the app's example and sees the model's answer; nothing is fetched from any
host but 127.0.0.1; with MODELKILN_DOCS=false the page is a 404. A screenshot of the page is
kept in $MODELKILN_ARTIFACTS (default: the test's temporary folder)."""

import http.client
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.python_runtime.live import LiveServer, running

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "model-template-app"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytest.importorskip("selenium", reason="selenium is in the test extra: make venv")
if not (CHROMIUM and DRIVER):  # `make browser` installs them; CI does
    pytest.skip("chromium and chromium-driver are not installed (make browser)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as until  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with running(str(TEMPLATE), env={"MODELKILN_V2_MODEL_VERSION": "0.1.0"}) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,2000", "--no-proxy-server",
                     # every host name but 127.0.0.1 fails to resolve: the page must not need one
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def artifacts(tmp_path):
    folder = Path(os.environ.get("MODELKILN_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def requested_urls(driver):
    urls = []
    for entry in driver.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        if event.get("method") == "Network.requestWillBeSent":
            urls.append(event["params"]["request"]["url"])
    return urls


def test_try_it_out_runs_the_example_and_shows_the_answer(server, browser, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(server.url("/"))  # redirects to /docs
    wait.until(until.url_contains("/docs"))
    header = wait.until(until.presence_of_element_located((By.TAG_NAME, "header"))).text
    assert "MyModel" in header and "MODEL" in header and "0.1.0" in header
    assert browser.find_element(By.ID, "mk-readiness").text == "ready"
    operation = wait.until(until.presence_of_element_located(
        (By.ID, "operations-seldon-api_v1_0_predictions_post")))
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    operation.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    body = operation.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    assert "sepal_length" in body.get_attribute("value")  # examples.json's first request
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(lambda d: operation.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
    assert status[0].text.strip().startswith("200")
    answer = operation.find_element(By.CSS_SELECTOR,
                                    ".live-responses-table .response-col_description pre")
    shown = json.loads(answer.text)
    assert shown["data"]["names"] == ["setosa", "versicolor", "virginica"]
    assert shown["data"]["ndarray"][0][0] > 0.5 and len(shown["data"]["ndarray"]) == 2
    picture = artifacts(tmp_path) / "docs-page.png"
    browser.save_screenshot(str(picture))
    assert picture.stat().st_size > 10000
    print("screenshot: %s" % picture)
    urls = requested_urls(browser)
    origin = server.url("")
    assert any(url.endswith("/docs/swagger-ui-bundle.js") for url in urls), urls
    assert [u for u in urls if not u.startswith((origin, "data:", "blob:"))] == []


class PrefixProxy(object):
    """An ingress stand-in: /models/iris/PATH on its port is /PATH on the server."""

    PREFIX = "/models/iris"

    def __init__(self, port):
        prefix = self.PREFIX

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                if not self.path.startswith(prefix + "/"):
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path[len(prefix):], body or None, headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], prefix)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_behind_an_ingress_prefix_try_it_out_calls_the_prefixed_route(server, browser):
    proxy = PrefixProxy(server.http_port)
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(proxy.url + "/")  # the redirect is relative: PREFIX/docs
        wait.until(until.url_contains(PrefixProxy.PREFIX + "/docs"))
        operation = wait.until(until.presence_of_element_located(
            (By.ID, "operations-seldon-api_v1_0_predictions_post")))
        operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        wait.until(lambda d: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
        operation.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
        operation.find_element(By.CSS_SELECTOR, "button.execute").click()
        status = wait.until(lambda d: operation.find_elements(
            By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
        assert status[0].text.strip().startswith("200")
        url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text
        assert url == proxy.url + "/api/v1.0/predictions"
    finally:
        proxy.close()


def test_the_page_can_be_turned_off(browser):
    live = LiveServer(str(TEMPLATE), env={"MODELKILN_DOCS": "false"})
    live.start()
    try:
        live.wait_ready()
        assert live.get("/docs").status_code == 404
        assert live.get("/").status_code == 404
        browser.get(live.url("/docs"))
        assert "no route /docs" in browser.find_element(By.TAG_NAME, "body").text
        assert requests.get(live.url("/openapi.json"), timeout=10).status_code == 200
    finally:
        live.stop()
