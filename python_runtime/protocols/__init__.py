"""The protocols. Each HTTP protocol module contributes ``routes.Route`` records bound to the
served model (``model.context.ServingContext``) and says how its errors look:

- ``seldon``: Seldon Core v1 REST (predictions, feedback, transformers, router, combiner,
  health, metadata), answering exactly as Seldon's Python wrapper;
- ``v2``: the Open Inference Protocol (KServe / Triton / MLServer's V2 REST), with Triton's
  binary tensor extension.

Both serve the same component on the same port; the WSGI app (``transport.http``)
dispatches on the union of their routes. (``docs``, ``modzy`` and ``odahu`` add routes too.)

The gRPC services are here as well, as handlers by service and method name that the gRPC
server (``transport.grpc_server``) dispatches to: ``grpc_seldon`` (Seldon's services),
``grpc_v2`` (GRPCInferenceService) and ``grpc_reflection`` (server reflection).

Beside them: ``routes`` (the route record that drives dispatch, OpenAPI and metrics),
``body`` (reading a request body by content type), ``openapi``, ``schemas`` and ``protos``
(the compiled descriptors of every service).

May import ``inference``, ``model``, ``codecs`` and the top-level shared modules; never
``transport``, ``server`` or ``jobs``.
"""
