"""modelkiln's model microservice: the only package an app image needs.

Imports run one way: settings -> errors -> codecs -> component -> signature/context ->
inference -> routes -> protocols -> openapi -> http -> server.
Nothing here imports ``builder``, and importing a module has no side effects.
"""

__version__ = "0.1.0"
