"""IMAP response syntax: strings, flag lists, dates, sequence sets, mailbox names.

Implementation notes:
- Output is bytes; text is UTF-8 (RFC 9051 §4.3). A string that cannot be quoted (CR, LF,
  8-bit for clients that did not enable UTF-8, or long) goes out as a literal.
- Mailbox names are modified UTF-7 on the wire (RFC 3501 §5.1.3) unless the client enabled
  UTF8=ACCEPT (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §5.1: names are UTF-8).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from mailstore import flags as F_
from mailstore import mutf7

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FLAG_CACHE: dict[tuple[int, str, bool], bytes] = {}


def string(value: str | bytes, ascii_only: bool = False) -> bytes:
    """IMAP ``string`` (RFC 9051 §4.3): quoted when safe, else a literal."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if (len(data) < 1024 and b"\r" not in data and b"\n" not in data and b"\0" not in data
            and (data.isascii() or not ascii_only)):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def literal(data: bytes) -> bytes:
    # RFC 3516 §4.2: a literal that holds NUL must be a literal8 (~{n}).
    prefix = b"~{" if b"\0" in data else b"{"
    return prefix + str(len(data)).encode() + b"}\r\n" + data


def flag_list(mask: int, keywords: str, recent: bool = False) -> bytes:
    """``(\\Seen $Label1)`` for a stored mask and keyword string; cached, it is hot in FETCH.

    ``recent`` adds ``\\Recent``, which is not stored: it belongs to one session.
    """
    key = (mask, keywords, recent)
    cached = _FLAG_CACHE.get(key)
    if cached is None:
        names = F_.join_flags(mask, keywords)
        if recent:
            names = [*names, "\\Recent"]
        cached = ("(" + " ".join(names) + ")").encode()
        if len(_FLAG_CACHE) < 4096:
            _FLAG_CACHE[key] = cached
    return cached


def internal_date(timestamp: int) -> bytes:
    """RFC 9051 §9 date-time, in UTC: ``"17-Jul-1996 02:44:25 +0000"``."""
    t = time.gmtime(timestamp)
    return (f'"{t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year:04d} '
            f'{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"').encode()


def sequence_set(numbers: Iterable[int]) -> str:
    """Compact sequence set ``1:3,7,9:10`` of ascending numbers (RFC 9051 §9)."""
    out: list[str] = []
    start = prev = None
    for n in sorted(numbers):
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}" if start == prev else f"{start}:{prev}")
            start = prev = n
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}:{prev}")
    return ",".join(out)


def ranges(numbers: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Ascending numbers as inclusive (low, high) runs."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        elif not out or n > out[-1][1]:
            out.append((n, n))
    return tuple(out)


# Folder names on the wire (RFC 3501 §5.1.3), shared with the Maildir importer.
encode_mutf7 = mutf7.encode
decode_mutf7 = mutf7.decode
