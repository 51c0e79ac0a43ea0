"""TLS from a mounted certificate and key (MODELKILN_TLS_CERT / _KEY), optionally requiring
client certificates signed by MODELKILN_TLS_CLIENT_CA: an ``ssl.SSLContext`` for the REST and
metrics ports, gRPC server credentials for the gRPC port."""

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


def grpc_credentials(grpc: Any, settings: Any) -> Any:
    """grpc.ssl_server_credentials, or None when TLS is off."""
    if not settings.tls_cert:
        return None

    def read(path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    client_ca = read(settings.tls_client_ca) if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(read(settings.tls_key), read(settings.tls_cert))], root_certificates=client_ca,
        require_client_auth=client_ca is not None)
