#!/usr/bin/env python3
"""The HTTP API application: the model class configures the app that serves the container
specification's routes."""

from flask_psc_model import create_app
from model_lib.model import ColorNamePredictorModel

app = create_app(ColorNamePredictorModel)

if __name__ == '__main__':
    app.main()
