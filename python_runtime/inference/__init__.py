"""What each protocol's calls do with the served model, without transport: ``seldon`` (Seldon
Core v1 operations on SeldonMessages) and ``v2`` (Open Inference Protocol inference). The
REST protocols (``protocols``) and the gRPC services call into these."""
