"""Payload codecs: JSON bytes <-> Python, message parts <-> numpy arrays.

Depends only on ``errors``. ``tensors``: the three Seldon ``data`` kinds (ndarray, tensor,
tftensor); ``payloads``: the four SeldonMessage payload kinds behind one interface;
``message``: whole SeldonMessages; ``v2``: Open Inference Protocol tensors, JSON and binary.
"""
