"""Bytes on sockets: how requests reach the protocols and answers leave.

- ``worker``: the gunicorn worker class, one event loop per process serving REST (and
  starting the gRPC server's thread); ``http1`` reads HTTP/1.1 with llhttp and the framing
  checks llhttp lacks; ``http`` is the WSGI app that dispatches a request to the protocols'
  routes and turns errors into answers.
- ``grpc_server``: the gRPC port, over ``http2`` (frames, flow control, limits) with
  ``header_codec`` (HPACK via hpack) and ``request_fields`` (header field checks both
  transports share).
- ``sockets``: listening, accepting (with back-off at the descriptor limit), non-blocking
  reads and writes, TLS handshakes.

May import ``protocols``, ``inference``, ``model``, ``codecs`` and the top-level modules
(``settings``, ``errors``, ``logs``, ``metrics``, ``tracing``, ``budget``, ``tls``); never
``jobs``, ``server`` or ``cli``.
"""
