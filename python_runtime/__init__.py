"""modelkiln's model microservice: the only package an app image needs.

Imports run one way, each layer using only those before it:

1. top-level modules every layer shares: ``settings``, ``errors``, ``logs``, ``metrics``,
   ``tracing``, ``budget`` (the worker's memory budget), ``tls``, ``gpu`` (each worker's
   devices, the GPU doctor), ``streams`` (answers written piece by piece);
2. ``codecs``: payloads <-> numpy;
3. ``model``: the user's class, loaded and described (``model.formats``: other systems'
   models);
4. ``inference``: what each protocol's calls do with the model;
5. ``protocols``: REST routes and gRPC services;
6. ``transport``: HTTP/1.1 worker, WSGI app, HTTP/2 and the gRPC server;
7. ``server`` (starts gunicorn and the workers), then ``jobs`` (file jobs), then ``cli`` and
   ``slim`` (a slim image's last build step, ``python -m python_runtime.slim``).

``response`` and ``batch`` at the top are public paths kept for user code and scripts
(``python_runtime.response.Response``, ``python -m python_runtime.batch``). Nothing here
imports ``builder``, and importing a module has no side effects.
"""

__version__ = "0.1.0"
