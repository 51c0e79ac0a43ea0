"""HPACK (RFC 7541), the header compression of HTTP/2, for the gRPC port.

Decoding: gRPC clients index every header that repeats, so after a connection's first call a
request head is a dozen one-byte references to the dynamic table; ``Decoder`` resolves those
with a lookup each and keeps the table's entries as ``str``. Huffman-coded strings are left to
the ``hpack`` package, whose static table this module also reads.

Encoding: answers use literal fields that never enter the dynamic table, so the encoder keeps
no state and the usual answer heads are constant bytes.
"""

from collections import deque
from typing import Iterable, List, Tuple

from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

Header = Tuple[str, str]
STATIC = [("", "")] + [(name.decode("latin-1"), value.decode("latin-1"))
                       for name, value in HeaderTable.STATIC_TABLE]
ENTRY_OVERHEAD = 32  # bytes the RFC counts per table entry besides its name and value


class HeaderError(Exception):
    """A header block that cannot be decoded (COMPRESSION_ERROR) or is too large."""


class Decoder(object):
    """One connection's HPACK decoder (its dynamic table lives as long as the connection)."""

    def __init__(self, max_table_size: int = 4096, max_list_size: int = 64 * 1024) -> None:
        self.table = deque()  # (name, value) pairs, the newest first (index 62)
        self.table_size = 0
        self.max_table_size = max_table_size   # what the peer last chose (size update)
        self.allowed_table_size = max_table_size  # what this side's SETTINGS allow
        self.max_list_size = max_list_size

    def decode(self, block: bytes) -> List[Header]:
        out = []  # type: List[Header]
        end = len(block)
        pos = 0
        list_size = 0
        while pos < end:
            first = block[pos]
            if first & 0x80:  # indexed field
                index = first & 0x7F
                pos += 1
                if index == 0x7F:
                    index, pos = self._integer_rest(block, pos, 0x7F)
                field = self._entry(index)
            elif first & 0x40:  # literal, added to the table
                field, pos = self._literal(block, pos, 6)
                self._add(field)
            elif first & 0x20:  # table size update
                if out:  # only at the start of a block (RFC 7541 4.2)
                    raise HeaderError("a table size update after a header field")
                size, pos = self._integer(block, pos, 5)
                if size > self.allowed_table_size:
                    raise HeaderError("table size update to %d, over %d"
                                      % (size, self.allowed_table_size))
                self.max_table_size = size
                self._evict()
                continue
            else:  # literal, not indexed (0000) or never indexed (0001)
                field, pos = self._literal(block, pos, 4)
            list_size += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if list_size > self.max_list_size:
                raise HeaderError("header list over %d bytes" % self.max_list_size)
            out.append(field)
        return out

    def _entry(self, index: int) -> Header:
        if 0 < index < 62:
            return STATIC[index]
        try:
            if index < 62:
                raise IndexError
            return self.table[index - 62]
        except IndexError:
            raise HeaderError("header index %d is not in the table" % index) from None

    @staticmethod
    def _integer(block: bytes, pos: int, prefix_bits: int) -> Tuple[int, int]:
        limit = (1 << prefix_bits) - 1
        value = block[pos] & limit
        if value < limit:
            return value, pos + 1
        return Decoder._integer_rest(block, pos + 1, limit)

    @staticmethod
    def _integer_rest(block: bytes, pos: int, value: int) -> Tuple[int, int]:
        shift = 0
        while True:
            if pos >= len(block):
                raise HeaderError("truncated integer")
            byte = block[pos]
            pos += 1
            value += (byte & 0x7F) << shift
            if not byte & 0x80:
                return value, pos
            shift += 7
            if shift > 28:
                raise HeaderError("integer too large")

    def _literal(self, block: bytes, pos: int, prefix_bits: int) -> Tuple[Header, int]:
        index, pos = self._integer(block, pos, prefix_bits)
        if index:
            name = self._entry(index)[0]
        else:
            name, pos = self._string(block, pos)
        value, pos = self._string(block, pos)
        return (name, value), pos

    def _string(self, block: bytes, pos: int) -> Tuple[str, int]:
        if pos >= len(block):
            raise HeaderError("truncated string")
        huffman = block[pos] & 0x80
        length, pos = self._integer(block, pos, 7)
        if pos + length > len(block):
            raise HeaderError("string longer than the block")
        if length > self.max_list_size:  # checked before any Huffman decoding
            raise HeaderError("a string of %d bytes, over %d" % (length, self.max_list_size))
        raw = bytes(block[pos:pos + length])
        if huffman:
            try:
                raw = decode_huffman(raw)
            except Exception as exc:  # hpack's HPACKDecodingError
                raise HeaderError("bad Huffman code: %s" % exc) from None
        return raw.decode("latin-1"), pos + length

    def _add(self, field: Header) -> None:
        size = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
        if size > self.max_table_size:  # larger than the table: it empties it (RFC 4.4)
            self.table.clear()
            self.table_size = 0
            return
        self.table.appendleft(field)
        self.table_size += size
        self._evict()

    def _evict(self) -> None:
        while self.table_size > self.max_table_size and self.table:
            name, value = self.table.pop()
            self.table_size -= len(name) + len(value) + ENTRY_OVERHEAD


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer with ``prefix_bits`` in the first byte (RFC 7541, 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(text: bytes) -> bytes:
    return _integer(len(text), 7, 0) + text  # not Huffman-coded


def header_block(fields: Iterable[Header]) -> bytes:
    """Literal header fields without indexing (a ``:status`` of 200 is static entry 8)."""
    out = bytearray()
    for name, value in fields:
        if name == ":status" and value == "200":
            out.append(0x88)
            continue
        out.append(0x00)
        out += _string(name.encode("latin-1"))
        out += _string(value.encode("utf-8"))
    return bytes(out)
