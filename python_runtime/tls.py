"""TLS from a mounted certificate and key (MODELKILN_TLS_CERT / _KEY), optionally requiring
client certificates signed by MODELKILN_TLS_CLIENT_CA: an ``ssl.SSLContext`` for the REST and
metrics ports, and one that agrees on HTTP/2 for the gRPC port."""

import ssl
from typing import Any, Optional


def server_context(settings: Any) -> Optional[ssl.SSLContext]:
    """The REST/metrics context, or None when TLS is off."""
    if not settings.tls_cert:
        return None
    # PROTOCOL_TLS_SERVER and TLSVersion exist from Python 3.7; 3.6 gets the same by options.
    context = ssl.SSLContext(getattr(ssl, "PROTOCOL_TLS_SERVER", ssl.PROTOCOL_TLS))
    versions = getattr(ssl, "TLSVersion", None)
    if versions is not None:
        context.minimum_version = versions.TLSv1_2  # novermin (guarded: Python >= 3.7)
    else:
        context.options |= ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=settings.tls_client_ca)
    return context


def grpc_context(settings: Any) -> Optional[ssl.SSLContext]:
    """The gRPC port's context (HTTP/2 agreed by ALPN, as gRPC clients require), or None."""
    context = server_context(settings)
    if context is not None:
        context.set_alpn_protocols(["h2"])
    return context
