"""V2 (Open Inference Protocol) tests: run with ``.venv-v2`` (``make test-v2``).

The modelkiln server under test always runs as a subprocess from its own virtualenv
(``.venv``); this virtualenv holds the clients (tritonclient, schemathesis, the
open-inference-openapi types) and the peer server (MLServer 1.7.1).
"""
