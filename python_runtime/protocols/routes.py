"""One record per HTTP route, and the router that dispatches on them.

A ``Route`` carries everything about a route in one place: its path pattern (``{name}``
segments are parameters), methods, the bound handler, the metric label, and what the OpenAPI
document says of it. Protocol modules contribute lists of routes; the WSGI app, the OpenAPI
document and the request metrics are all driven by those lists.
"""

import re
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

# (status, body, content type) or (status, body, content type, extra headers)
Answer = Tuple[Any, ...]
Handler = Callable[[Dict[str, Any], Dict[str, str]], Answer]

_PARAMETER = re.compile(r"\{([a-z_]+)\}")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


class Doc(object):
    """What the OpenAPI document says of a route."""

    __slots__ = ("summary", "request", "response", "errors", "query", "content_types",
                 "response_types")

    def __init__(self, summary: str, request: Optional[Dict[str, Any]] = None,
                 response: Optional[Dict[str, Any]] = None,
                 errors: Sequence[Tuple[int, str]] = (),
                 query: Sequence[Dict[str, Any]] = (),
                 content_types: Sequence[str] = (JSON,),
                 response_types: Sequence[str] = (JSON,)) -> None:
        self.summary = summary
        self.request = request      # schema of the body (POST), or None
        self.response = response    # schema of the 200 answer, or None for free-form
        self.errors = tuple(errors)  # (status, description) the route can answer
        self.query = tuple(query)   # OpenAPI parameter objects for GET alternatives
        self.content_types = tuple(content_types)  # request bodies it reads
        self.response_types = tuple(response_types)  # media types of its 200 answer


class Route(object):
    """An HTTP route: what it matches, who answers, how it is labelled and documented."""

    __slots__ = ("path", "methods", "documented", "handler", "protocol", "doc", "name",
                 "pattern", "parameters")

    def __init__(self, path: str, methods: Sequence[str], handler: Handler, protocol: Any,
                 doc: Doc, name: Optional[str] = None) -> None:
        self.path = path
        self.documented = tuple(methods)
        self.methods = self.documented + (("HEAD",) if "GET" in self.documented else ())
        self.handler = handler
        self.protocol = protocol  # turns errors on this route into its protocol's error body
        self.doc = doc
        # Unique per route (paths are): the stem of its OpenAPI operation ids.
        self.name = name or _NOT_WORD.sub("_", path).strip("_") or "root"
        self.parameters = tuple(_PARAMETER.findall(path))
        self.pattern = None       # type: Optional[Any]
        if self.parameters:
            parts = _PARAMETER.split(path)  # literal, name, literal, name, ..., literal
            self.pattern = re.compile("^%s$" % "".join(
                "(?P<%s>[^/]+)" % part if odd else re.escape(part)
                for odd, part in ((i % 2 == 1, p) for i, p in enumerate(parts))))

    @property
    def label(self) -> str:
        """The metric label: the pattern, so parameters cannot grow the label set."""
        return self.path


class Router(object):
    """Static paths by dictionary lookup; parameterised paths by pattern, in order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        self.static = {}  # type: Dict[str, Route]
        self.patterned = []
        for route in self.routes:
            if route.pattern is None:
                if route.path in self.static:
                    raise ValueError("route %s is declared twice" % route.path)
                self.static[route.path] = route
            else:
                self.patterned.append(route)

    def match(self, path: str) -> Tuple[Optional[Route], Dict[str, str]]:
        route = self.static.get(path)
        if route is not None:
            return route, {}
        for route in self.patterned:
            found = route.pattern.match(path)
            if found is not None:
                return route, found.groupdict()
        return None, {}
