"""A minimal reader of IMAP response data (RFC 9051 §9: lists, NIL, numbers, quoted
strings, literals), so tests can check ENVELOPE/BODYSTRUCTURE texts structurally."""

from __future__ import annotations

from typing import Any


class SyntaxErrorIMAP(ValueError):
    pass


def read(text: str) -> Any:
    """Parse one IMAP value; the text is sent UTF-8 encoded, so literals count bytes."""
    data = text.encode("utf-8", "surrogateescape")
    value, pos = _value(data, 0)
    if pos != len(data):
        raise SyntaxErrorIMAP(f"trailing data at {pos}: {data[pos : pos + 20]!r}")
    return value


def _value(data: bytes, pos: int) -> tuple[Any, int]:
    c = data[pos : pos + 1]
    if c == b"(":
        items: list[Any] = []
        pos += 1
        while True:
            if data[pos : pos + 1] == b")":
                return items, pos + 1
            if items:
                if data[pos : pos + 1] == b" ":
                    pos += 1
                elif data[pos - 1 : pos] != b")":
                    raise SyntaxErrorIMAP(f"expected SP at {pos}")
            item, pos = _value(data, pos)
            items.append(item)
    if c == b'"':
        out = bytearray()
        pos += 1
        while True:
            ch = data[pos : pos + 1]
            if not ch or ch in b"\r\n":
                raise SyntaxErrorIMAP(f"bad quoted string at {pos}")
            if ch == b"\\":
                nxt = data[pos + 1 : pos + 2]
                if nxt not in (b"\\", b'"'):
                    raise SyntaxErrorIMAP(f"bad escape at {pos}")
                out += nxt
                pos += 2
            elif ch == b'"':
                return out.decode("utf-8", "surrogateescape"), pos + 1
            else:
                if ch[0] >= 0x80 or ch == b"\0":
                    raise SyntaxErrorIMAP(f"8-bit or NUL in quoted string at {pos}")
                out += ch
                pos += 1
    if c == b"{":
        close = data.index(b"}", pos)
        size = int(data[pos + 1 : close])
        if data[close + 1 : close + 3] != b"\r\n":
            raise SyntaxErrorIMAP(f"literal without CRLF at {close}")
        start = close + 3
        chunk = data[start : start + size]
        if len(chunk) != size or b"\0" in chunk:
            raise SyntaxErrorIMAP(f"bad literal at {pos}")
        return chunk.decode("utf-8", "surrogateescape"), start + size
    if data.startswith(b"NIL", pos):
        return None, pos + 3
    end = pos
    while end < len(data) and data[end : end + 1].isdigit():
        end += 1
    if end == pos:
        raise SyntaxErrorIMAP(f"unexpected {data[pos : pos + 10]!r} at {pos}")
    return int(data[pos:end]), end
