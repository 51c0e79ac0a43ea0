"""Non-blocking sockets in a selector loop, plain or TLS: what the REST worker's loop
(``worker``) and the gRPC server's loop (``grpc_server``) do alike."""

import selectors
import socket
import ssl
from typing import Any, Dict, Iterator, Optional, Tuple

# A non-blocking socket (plain or TLS) that cannot go on now.
WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
HANDSHAKE_DONE, HANDSHAKE_READ, HANDSHAKE_WRITE = 0, 1, 2


def accepted(listener: socket.socket, tls: Optional[ssl.SSLContext], most: int = 64
             ) -> Iterator[Tuple[Any, Any]]:
    """The connections waiting on ``listener`` (at most ``most``): non-blocking, no Nagle
    delay, wrapped in ``tls`` (handshake not started) when given."""
    for _ in range(most):
        try:
            sock, peer = listener.accept()
        except OSError:  # none left (BlockingIOError), or the listener is closing
            return
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (ssl.SSLError, OSError):
                sock.close()
                continue
        yield sock, peer


def handshake(sock: Any) -> int:
    """Go on with a TLS handshake: HANDSHAKE_DONE, or what it waits for (raises
    ssl.SSLError / OSError when it failed)."""
    try:
        sock.do_handshake()
    except ssl.SSLWantReadError:
        return HANDSHAKE_READ
    except ssl.SSLWantWriteError:
        return HANDSHAKE_WRITE
    return HANDSHAKE_DONE


def receive(sock: Any, size: int, tls: bool) -> bytes:
    """What one readable event brings: ``recv``, plus what TLS has already decrypted (which
    select() cannot see). Raises one of WOULD_BLOCK when there is nothing, OSError when the
    connection broke; b"" when the peer closed."""
    data = sock.recv(size)
    if tls:
        pending = sock.pending()
        while pending:
            data += sock.recv(pending)
            pending = sock.pending()
    return data


def close_registered(selector: selectors.BaseSelector, table: Dict[int, Any], sock: Any) -> None:
    """Forget ``sock`` (in ``table`` by its fd, and in ``selector``) and close it."""
    table.pop(sock.fileno(), None)
    try:
        selector.unregister(sock)
    except (KeyError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass
