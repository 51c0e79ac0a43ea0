"""The ``modelkiln`` command on the user's machine: ``build`` (s2i's build with the local
Docker engine, or a Dockerfile), ``test`` and ``test-image`` (an app's examples, before and
after the build), ``serve``, the engine helper and the host configuration readers.

It runs on the host only; ``builder`` (what runs inside the builder images) never imports it.
"""
