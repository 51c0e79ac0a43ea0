"""Payload codecs: JSON bytes <-> Python, SeldonMessage parts <-> numpy arrays.

Depends only on ``errors``. Each data kind (``ndarray``, ``tensor``, ``tftensor``) is a small
codec object that decodes a ``data`` definition to an array and encodes one back.
"""
