"""Sockets: non-blocking ones in a selector loop, plain or TLS (what the REST worker's loop,
``worker``, and the gRPC server's loop, ``grpc_server``, do alike), and binding the gRPC
port (the workers' SO_REUSEPORT listeners, the master's check that the port is free)."""

import errno
import selectors
import socket
import ssl
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

# A non-blocking socket (plain or TLS) that cannot go on now.
WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
HANDSHAKE_DONE, HANDSHAKE_READ, HANDSHAKE_WRITE = 0, 1, 2
# accept() failing for want of resources: the connection stays queued, the listener readable
EXHAUSTED = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


def accepted(listener: socket.socket, tls: Optional[ssl.SSLContext], most: int = 64,
             on_exhausted: Optional[Callable[[OSError], None]] = None
             ) -> Iterator[Tuple[Any, Any]]:
    """The connections waiting on ``listener`` (at most ``most``): non-blocking, no Nagle
    delay, wrapped in ``tls`` (handshake not started) when given. ``on_exhausted`` hears of
    an accept() that failed for want of descriptors or memory (a loop that goes on
    selecting the listener would spin)."""
    for _ in range(most):
        try:
            sock, peer = listener.accept()
        except OSError as exc:  # none left (BlockingIOError), or the listener is closing
            if on_exhausted is not None and exc.errno in EXHAUSTED:
                on_exhausted(exc)
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


def bound(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host or "0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    return sock


def grpc_port_in_use(host: str, port: int) -> Optional[str]:
    """Why the gRPC port cannot be ours, or None. Checked once before the workers start: their
    SO_REUSEPORT listeners would otherwise also share the port with another server of the
    same user that listens there, and each would silently get part of the other's calls."""
    if port == 0:
        return None
    try:
        bound(host, port, reuse_port=False).close()
    except OSError as exc:
        return ("the gRPC port %s:%d is already in use (%s): stop the server that listens "
                "there, or give this one another port with PREDICTIVE_UNIT_GRPC_SERVICE_PORT "
                "(GRPC_WORKERS=0 turns gRPC off)" % (host, port, exc.strerror or exc))
    return None
