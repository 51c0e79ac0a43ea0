"""TLS from a mounted certificate and key (MODELKILN_TLS_CERT / _KEY), optionally requiring
client certificates signed by MODELKILN_TLS_CLIENT_CA: an ``ssl.SSLContext`` for the REST and
metrics ports, and one that agrees on HTTP/2 for the gRPC port.

The master builds the context once before any worker starts (``Settings.load`` calls
``build_context``), so a wrong file stops the start with one line naming the variable and
the fix; the workers then build theirs from the same files. This module imports nothing from
the runtime (settings imports it)."""

import re
import ssl
from typing import Any, Optional

CERT, KEY, CLIENT_CA = "MODELKILN_TLS_CERT", "MODELKILN_TLS_KEY", "MODELKILN_TLS_CLIENT_CA"
_PEEK = 1 << 20  # bytes read to recognise a PEM file; certificates and keys are far smaller


class TLSFilesError(ValueError):
    """A TLS file cannot be used; the message names its variable and the fix."""


def _pem_text(name: str, path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(_PEEK).decode("latin-1")
    except OSError as exc:
        raise TLSFilesError("%s=%s cannot be read: %s (mount the secret, or check the path)"
                            % (name, path, exc.strerror or exc)) from exc


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason, without the C source position Python appends."""
    text = str(getattr(exc, "reason", None) or exc.args[-1])
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text)


def build_context(cert: str, key: str, client_ca: Optional[str] = None) -> ssl.SSLContext:
    """The server context for these files; raises ``TLSFilesError`` naming the variable."""
    if "CERTIFICATE-----" not in _pem_text(CERT, cert):
        raise TLSFilesError(
            "%s=%s is not a PEM certificate (no -----BEGIN CERTIFICATE----- line): mount the "
            "certificate in PEM form (a DER file converts with: openssl x509 -inform DER -in "
            "CERT -out cert.pem)" % (CERT, cert))
    key_text = _pem_text(KEY, key)
    if "PRIVATE KEY-----" not in key_text:
        raise TLSFilesError(
            "%s=%s is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line): mount "
            "the key in PEM form (a DER key converts with: openssl pkey -inform DER -in KEY "
            "-out key.pem)" % (KEY, key))
    # PROTOCOL_TLS_SERVER and TLSVersion exist from Python 3.7; 3.6 gets the same by options.
    context = ssl.SSLContext(getattr(ssl, "PROTOCOL_TLS_SERVER", ssl.PROTOCOL_TLS))
    versions = getattr(ssl, "TLSVersion", None)
    if versions is not None:
        context.minimum_version = versions.TLSv1_2  # novermin (guarded: Python >= 3.7)
    else:
        context.options |= ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    asked = []  # OpenSSL asked for the key's password: the key is encrypted

    def password() -> bytes:
        # Without a callback OpenSSL prompts on the terminal, which would hang a server.
        # (Raising here is a SystemError on Python 3.6: answer a password that fails.)
        asked.append(True)
        return b""

    try:
        context.load_cert_chain(cert, key, password=password)
    except ssl.SSLError as exc:
        if asked or "ENCRYPTED" in key_text:
            raise TLSFilesError(
                "%s=%s is encrypted: the server has no password to give; provide an "
                "unencrypted key (openssl pkey -in KEY -out plain.key) and protect it as a "
                "secret instead" % (KEY, key)) from exc
        if "MISMATCH" in _reason(exc).upper():
            raise TLSFilesError(
                "%s=%s is not the private key of %s=%s: mount the key that was made with "
                "this certificate" % (KEY, key, CERT, cert)) from exc
        raise TLSFilesError(
            "%s=%s with %s=%s cannot be loaded (%s): give a PEM certificate (chain) and its "
            "own unencrypted PEM private key" % (CERT, cert, KEY, key, _reason(exc))) from exc
    if client_ca:
        _pem_text(CLIENT_CA, client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as exc:
            raise TLSFilesError(
                "%s=%s holds no usable PEM CA certificate (%s): mount the certificate(s) of "
                "the CA that signs the client certificates, in PEM form"
                % (CLIENT_CA, client_ca, _reason(exc))) from exc
    return context


def server_context(settings: Any) -> Optional[ssl.SSLContext]:
    """The REST/metrics context, or None when TLS is off."""
    if not settings.tls_cert:
        return None
    return build_context(settings.tls_cert, settings.tls_key, settings.tls_client_ca)


def grpc_context(settings: Any) -> Optional[ssl.SSLContext]:
    """The gRPC port's context (HTTP/2 agreed by ALPN, as gRPC clients require), or None."""
    context = server_context(settings)
    if context is not None:
        context.set_alpn_protocols(["h2"])
    return context
