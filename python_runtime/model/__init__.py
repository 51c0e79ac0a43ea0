"""The user's model as the runtime sees it, independent of protocol and transport.

- ``loader``: imports the user's module and class (telling "not found" from "raised while
  importing"), parses PREDICTIVE_UNIT_PARAMETERS; ``seldon_compat`` makes ``import
  seldon_core`` work without seldon-core installed.
- ``component``: the loaded object and which of Seldon's methods it has; ``signature``: what
  its ``predict`` takes; ``metadata``: its ``init_metadata()`` and model metadata;
  ``response``: ``Response`` (data with tags and metrics) that user code may return; public
  as ``python_runtime.response``.
- ``context``: ``ServingContext``, the loaded model as every protocol serves it, and
  ``LoadState`` (ready or not).
- ``formats``: models written for other systems, turned into a component.

May import ``codecs`` and the top-level modules (``settings``, ``errors``, ``logs``,
``metrics``, ``tracing``, ``budget``); never ``inference``, ``protocols``, ``transport`` or
``jobs``.
"""
