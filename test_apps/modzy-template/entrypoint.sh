#!/usr/bin/env sh
# The template's container command; a modelkiln image starts its own server instead.
exec gunicorn --config gunicorn.conf.py app:app
