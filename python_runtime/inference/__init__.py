"""What each protocol's calls do with the served model, without transport: ``seldon`` (Seldon
Core v1 operations on SeldonMessages) and ``v2`` (Open Inference Protocol inference). The
REST protocols (``protocols``) and the gRPC services call into these.

May import ``model``, ``codecs`` and the top-level shared modules; never ``protocols``,
``transport`` or ``jobs``."""
