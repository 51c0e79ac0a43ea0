"""Which request header fields are well-formed (RFC 9113 8.2-8.3), and the gRPC metadata
among them: what ``http2`` asks of a request head once HPACK has decoded it."""

import re
from typing import List, Optional, Sequence, Set, Tuple

# RFC 9113 8.2.2: fields that are HTTP/1.1 connection-specific
CONNECTION_FIELDS = frozenset(("connection", "keep-alive", "proxy-connection",
                               "transfer-encoding", "upgrade"))
_PSEUDO_BITS = {":method": 1, ":scheme": 2, ":path": 4, ":authority": 8}
_FORBIDDEN = CONNECTION_FIELDS | {"te", "content-length"}  # (content-length: checked)
_NAME_OK = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+\Z").match  # a lowercase token (8.2.1)


def request_error(fields: Sequence[Tuple[str, str]], valid: Set[Tuple[str, str]]
                   ) -> Optional[int]:
    """RFC 9113 8.2-8.3 on a request's header fields: its content-length (-1 if none), or
    None when the request is malformed (the stream is reset with PROTOCOL_ERROR). ``valid``
    remembers fields already found well-formed (clients repeat theirs on every call)."""
    pseudo = 0  # bit 1: :method, 2: :scheme, 4: :path, 8: :authority
    regular = False
    length = -1
    for field in fields:
        if field not in valid:
            name, value = field
            if not _NAME_OK(name, 1 if name[:1] == ":" else 0) or (
                    "\r" in value or "\n" in value or "\x00" in value):
                return None
            if len(valid) < 512:
                valid.add(field)
        name = field[0]
        if name[0] == ":":
            bit = _PSEUDO_BITS.get(name, 0)
            if regular or not bit or pseudo & bit or (bit == 4 and not field[1]):
                return None
            pseudo |= bit
        else:
            regular = True
            if name in _FORBIDDEN:
                if name == "te" and field[1] == "trailers":
                    continue
                if name != "content-length":
                    return None
                value = field[1]
                if not value.isdigit() or (length >= 0 and int(value) != length):
                    return None
                length = int(value)
    return length if pseudo & 7 == 7 else None


def trailers_ok(fields: Sequence[Tuple[str, str]]) -> bool:
    return all(_NAME_OK(name) for name, _ in fields)


def header_pairs(fields: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """The non-pseudo fields, as gRPC metadata (values decoded as UTF-8: gRPC asks for ASCII,
    and the header codec keeps the bytes as latin-1)."""
    return [(name, _utf8(value)) for name, value in fields if not name.startswith(":")]


def _utf8(value: str) -> str:
    try:
        value.encode("ascii")
        return value
    except UnicodeEncodeError:
        return value.encode("latin-1").decode("utf-8", "replace")
