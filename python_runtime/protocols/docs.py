"""The interactive API page: ``GET /docs`` renders Swagger UI over ``/openapi.json`` (every
route this server answers, with request examples), headed by the model's name, version,
service type and readiness; ``/`` redirects to it. The Swagger UI files are served from this
process (``/docs/swagger-ui-bundle.js``, ``/docs/swagger-ui.css``), never from a CDN: images
run offline. ``MODELKILN_DOCS=false`` turns the page off.

Request examples, per route: the app's ``examples.json`` requests that answer 2xx, else
requests built from the model's declared inputs (its metadata), else a minimal valid message.
"""

import html
import json
import logging
import os
import sys
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import gpu
from ..codecs import jsonio
from ..errors import MicroserviceError, RouteNotFound
from .routes import JSON, Answer, Doc, Route

log = logging.getLogger("modelkiln")

HTML = "text/html; charset=utf-8"
ASSETS = {"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8"}
SHARE_DIR = "/opt/modelkiln/share/swagger-ui"  # where the builder images put the files
EXAMPLES_FILE = "examples.json"
ZERO = {"BOOL": False, "BYTES": ""}  # else 0


def find_assets(configured: Optional[str]) -> Optional[str]:
    """The folder holding Swagger UI's files: MODELKILN_DOCS_ASSETS, the images' copy, else
    the ``swagger-ui-bundle`` package when it is installed (a host install)."""
    candidates = [configured, SHARE_DIR]
    try:
        import swagger_ui_bundle  # type: ignore[import-not-found]

        candidates.append(str(swagger_ui_bundle.swagger_ui_path))
    except Exception:  # not installed (or too old to say where its files are)
        pass
    for folder in candidates:
        if folder and all(os.path.isfile(os.path.join(folder, name)) for name in ASSETS):
            return folder
    return None


def missing_assets_warning(settings: Any) -> Optional[str]:
    """What the server logs at start when the page is on but Swagger UI's files are not
    found (the page then says the same), else None."""
    if not settings.docs or find_assets(settings.docs_assets) is not None:
        return None
    return ("the /docs page has no Swagger UI files: install swagger-ui-bundle, set "
            "MODELKILN_DOCS_ASSETS to a folder holding %s, or MODELKILN_DOCS=false"
            % " and ".join(ASSETS))


class DocsPage(object):
    """``/docs``, its two assets and the ``/`` redirect."""

    name = "docs"
    docs_path = "/docs"
    error_schema = "V2Error"

    def __init__(self, ctx: Any, v2_model: str, redirect_root: bool = True) -> None:
        self.ctx = ctx
        self.v2_model = v2_model
        self.redirect_root = redirect_root
        self.folder = find_assets(ctx.settings.docs_assets)  # (the server warns when None)
        self.cache = {}  # type: Dict[str, bytes]

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps({"error": error.message}), JSON

    def routes(self) -> List[Route]:
        routes = [
            Route("/docs", ("GET",), self._page, self,
                  Doc("This interactive API page (Swagger UI)", response_types=(HTML,))),
            Route("/docs/{asset}", ("GET",), self._asset, self,
                  Doc("The API page's script and style sheet",
                      errors=((404, "No such file"),),
                      response_types=tuple(sorted(set(ASSETS.values()))))),
        ]
        if self.redirect_root:
            routes.append(Route("/", ("GET",), self._root, self,
                                Doc("Redirects to /docs", response_types=(HTML,))))
        return routes

    # -- routes -------------------------------------------------------------------------

    def _root(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 302, b'<a href="docs">/docs</a>', HTML, [("Location", "docs")]

    def _asset(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        name = params["asset"]
        if name not in ASSETS:
            raise RouteNotFound("no file %s; the page uses %s" % (name, ", ".join(ASSETS)))
        if self.folder is None:
            raise RouteNotFound("this server has no Swagger UI files (install "
                                "swagger-ui-bundle or set MODELKILN_DOCS_ASSETS)")
        data = self.cache.get(name)
        if data is None:
            with open(os.path.join(self.folder, name), "rb") as handle:
                data = self.cache[name] = handle.read()
        return 200, data, ASSETS[name], [("Cache-Control", "public, max-age=86400")]

    def _page(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, self.render().encode("utf-8"), HTML

    # -- the page -----------------------------------------------------------------------

    def header(self) -> List[Tuple[str, str]]:
        """(label, value) pairs shown above the operations."""
        ctx = self.ctx
        settings = ctx.settings
        declared = [v for v in (ctx.metadata or {}).get("versions") or [] if v]
        version = settings.v2_model_version or (declared[0] if declared else "not declared")
        rows = [("model", settings.model_name), ("V2 name", self.v2_model),
                ("version", str(version)), ("service type", settings.service_type)]
        device = gpu.describe()
        if device is not None:  # MODELKILN_GPUS_PER_WORKER: this worker's devices
            rows.append(("device", device))
        return rows

    def readiness(self) -> str:
        state = self.ctx.state
        if state.ready:
            return "ready"
        return "failed to load" if state.error is not None else "loading"

    def render(self) -> str:
        rows = "".join('<span class="item"><b>%s</b> <span id="mk-%s">%s</span></span>'
                       % (html.escape(label), html.escape(label.replace(" ", "-")),
                          html.escape(value))
                       for label, value in self.header())
        ready = self.readiness()
        notice = ""
        if self.folder is None:
            notice = ('<p class="notice">Swagger UI is not installed in this image: install '
                      "swagger-ui-bundle or set MODELKILN_DOCS_ASSETS. The API description is "
                      'at <a href="openapi.json">/openapi.json</a>.</p>')
        return PAGE % {"title": html.escape(self.ctx.settings.model_name), "rows": rows,
                       "ready": ready, "ready_class": ready.replace(" ", "-"),
                       "notice": notice}


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s: modelkiln API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<style>
  body { margin: 0; font-family: sans-serif; }
  header { padding: 12px 20px; background: #263238; color: #eceff1; }
  header h1 { margin: 0 0 6px 0; font-size: 20px; }
  header .item { margin-right: 22px; font-size: 14px; }
  #mk-readiness { padding: 2px 8px; border-radius: 8px; font-weight: bold; }
  #mk-readiness.ready { background: #2e7d32; }
  #mk-readiness.loading { background: #f9a825; color: #000; }
  #mk-readiness.failed-to-load { background: #c62828; }
  .notice { margin: 20px; padding: 10px; border: 1px solid #c62828; }
</style>
</head>
<body>
<header>
  <h1>%(title)s</h1>
  %(rows)s<span class="item"><b>readiness</b>
  <span id="mk-readiness" class="%(ready_class)s">%(ready)s</span></span>
</header>
%(notice)s
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
  (function () {
    var badge = document.getElementById("mk-readiness");
    function poll() {
      fetch("ready", {cache: "no-store"}).then(function (answer) {
        var text = answer.ok ? "ready" : "loading or failed to load";
        badge.textContent = text;
        badge.className = answer.ok ? "ready" : "loading";
      }).catch(function () {
        badge.textContent = "unreachable";
        badge.className = "failed-to-load";
      });
    }
    setInterval(poll, 5000);
    if (window.SwaggerUIBundle) {
      window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui",
                                   deepLinking: true, docExpansion: "list",
                                   defaultModelsExpandDepth: -1,
                                   validatorUrl: null});  // no call to an online validator
    }
  })();
</script>
</body>
</html>
"""


# -- request examples -------------------------------------------------------------------------

def request_examples(ctx: Any, router: Any) -> Dict[str, Dict[str, Any]]:
    """{route path: {example name: request body}} for the POST routes taking JSON."""
    found = {}  # type: Dict[str, Dict[str, Any]]
    for name, path, body in _app_examples(ctx.settings.app_dir):
        route, _ = router.match(path)
        if route is not None and "POST" in route.methods:
            found.setdefault(route.path, {})[name] = body
    seldon, v2 = _declared(ctx.signature) or _minimal()
    app_seldon = {name: body for path, examples in found.items() if not path.startswith("/v2/")
                  for name, body in examples.items()
                  if isinstance(body, dict) and isinstance(body.get("data"), dict)}
    converted = {name: request for name, request in (
        (name, _as_v2(body)) for examples in found.values() for name, body in examples.items())
        if request is not None}
    for route in router.routes:
        if "POST" not in route.methods or route.path in found or route.doc.request is None:
            continue
        if route.path.startswith("/v2/"):
            found[route.path] = converted or {"a V2 request": v2}
        elif route.protocol.name == "seldon" and route.doc.request.get("$ref", "").endswith(
                "/SeldonMessage"):
            found[route.path] = app_seldon or {"a Seldon message": seldon}
        elif route.protocol.name == "odahu":  # its table: the Seldon example's rows
            tables = ((name, _as_table(body)) for name, body in
                      (app_seldon or {"a table": seldon}).items())
            found[route.path] = {name: table for name, table in tables if table is not None}
    return found


def _app_examples(app_dir: Optional[str]) -> List[Tuple[str, str, Any]]:
    """(name, path, body) of the app's examples.json requests that answer 2xx with JSON."""
    if not app_dir:
        return []
    path = os.path.join(app_dir, EXAMPLES_FILE)
    if not os.path.isfile(path):
        return []
    try:
        with open(path, "r", encoding="utf-8") as handle:
            examples = json.load(handle).get("examples") or []
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("%s is not usable for the /docs examples: %s", path, exc)
        return []
    out = []
    for number, example in enumerate(examples, 1):
        if not isinstance(example, dict) or "body" not in example:
            continue
        status = example.get("status", 200)
        if example.get("send", "json") != "json" or not (isinstance(status, int)
                                                         and 200 <= status < 300):
            continue
        if str(example.get("method", "POST")).upper() != "POST":
            continue
        out.append((str(example.get("name") or "example %d" % number),
                    str(example.get("path") or ""), example["body"]))
    return out


def _ndarray_rows(message: Any) -> Optional[List[Any]]:
    """A Seldon message's ``data.ndarray`` when it is a non-empty list of rows, else None."""
    data = message.get("data") if isinstance(message, dict) else None
    rows = data.get("ndarray") if isinstance(data, dict) else None
    if isinstance(rows, list) and rows and all(isinstance(row, list) for row in rows):
        return rows
    return None


def _as_v2(message: Any) -> Optional[Dict[str, Any]]:
    """A Seldon example's numeric ``ndarray`` rows as the same V2 request, else None."""
    rows = _ndarray_rows(message)
    if rows is None:
        return None
    width = len(rows[0])
    values = [v for row in rows for v in row]
    if any(len(row) != width for row in rows) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return {"inputs": [{"name": "input-0", "shape": [len(rows), width], "datatype": "FP64",
                        "data": values}]}


def _as_table(message: Any) -> Optional[Dict[str, Any]]:
    """A Seldon example's ``ndarray`` rows as ODAHU's ``{"columns", "data"}``, else None."""
    rows = _ndarray_rows(message)
    if rows is None:
        return None
    return {"columns": list(message["data"].get("names") or []), "data": rows}


def _shape(shape: Optional[Sequence[int]]) -> List[int]:
    return [1 if (not isinstance(d, int) or d < 0) else d for d in (shape or [1, 1])]


def _declared(signature: Any) -> Optional[Tuple[Any, Any]]:
    """(Seldon message, V2 request) from the declared inputs, or None without them."""
    inputs = list(getattr(signature, "inputs", None) or [])
    if not inputs:
        return None
    requests = []
    for spec in inputs:
        shape = _shape(spec.shape)
        datatype = spec.datatype or "FP64"
        count = 1
        for d in shape:
            count *= d
        requests.append({"name": spec.name, "shape": shape, "datatype": datatype,
                         "data": [ZERO.get(datatype, 0)] * count})
    first = requests[0]
    rows = max(first["shape"][0], 1)
    width = len(first["data"]) // rows if rows else 1
    seldon = {"data": {"ndarray": [[ZERO.get(first["datatype"], 0)] * width] * rows}}
    return seldon, {"inputs": requests}


def _minimal() -> Tuple[Any, Any]:
    return ({"data": {"ndarray": [[1.0]]}},
            {"inputs": [{"name": "input-0", "shape": [1, 1], "datatype": "FP64",
                         "data": [1.0]}]})


# -- vendoring (builder images) ---------------------------------------------------------------

def vendor(wheel: str, target: str) -> List[str]:
    """Copy Swagger UI's two files (and its licence) out of a ``swagger-ui-bundle`` wheel into
    ``target``: the builder images hold these, not the whole package."""
    wanted = dict((name, name) for name in ASSETS)
    wanted["LICENSE"] = "LICENSE.swagger-ui-bundle"
    written = []
    os.makedirs(target, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            base = os.path.basename(member)
            inside = "/vendor/swagger-ui-" in member or member.endswith(".dist-info/LICENSE")
            if base in wanted and inside:
                with open(os.path.join(target, wanted[base]), "wb") as out:
                    out.write(archive.read(member))
                written.append(wanted[base])
    missing = [name for name in ASSETS if name not in written]
    if missing:
        raise SystemExit("%s holds no %s: is it a swagger-ui-bundle wheel?"
                         % (wheel, ", ".join(missing)))
    return written


if __name__ == "__main__":  # python -m python_runtime.protocols.docs --vendor WHEEL FOLDER
    if len(sys.argv) != 4 or sys.argv[1] != "--vendor":
        raise SystemExit("usage: python -m python_runtime.protocols.docs --vendor WHEEL FOLDER")
    print("vendored %s into %s" % (", ".join(vendor(sys.argv[2], sys.argv[3])), sys.argv[3]))
