"""The protocols. Each HTTP protocol module contributes ``routes.Route`` records bound to the
served model (``context.ServingContext``) and says how its errors look:

- ``seldon``: Seldon Core v1 REST (predictions, feedback, transformers, router, combiner,
  health, metadata), answering exactly as Seldon's Python wrapper;
- ``v2``: the Open Inference Protocol (KServe / Triton / MLServer's V2 REST), with Triton's
  binary tensor extension.

Both serve the same component on the same port; the WSGI app (``http``) dispatches on the
union of their routes. (``docs``, ``modzy`` and ``odahu`` add routes too.)

The gRPC services are here as well, as handlers by service and method name that the gRPC
server (``grpc_server``, over ``http2``) dispatches to: ``grpc_seldon`` (Seldon's services),
``grpc_v2`` (GRPCInferenceService) and ``grpc_reflection`` (server reflection).
"""
