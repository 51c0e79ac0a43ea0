"""Models written for other systems, served unchanged: one module per foreign format, each
turning a model folder into the component the protocols already serve.

Empty until the formats land (catwalk, the Modzy template, ODAHU GPPI, Triton's Python
backend, MLflow). May import what ``model`` may import, and ``model`` itself.
"""
