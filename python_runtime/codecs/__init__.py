"""Payload codecs: JSON bytes <-> Python, message parts <-> numpy arrays.

``tensors``: the three Seldon ``data`` kinds (ndarray, tensor, tftensor); ``payloads``: the
four SeldonMessage payload kinds behind one interface; ``message``: whole SeldonMessages;
``v2``: Open Inference Protocol tensors, JSON and binary; ``jsonio`` and ``limits``: the
JSON parser and the size and depth limits every decoder applies.

May import only ``errors`` (besides the standard library, numpy and orjson).
"""
