"""Pure functions over the raw bytes of a message as it arrives by SMTP."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


def bare_line_end(data: bytes) -> str | None:
    """``"LF"`` or ``"CR"`` if the data has a line end that is not CRLF, else None.

    RFC 5321 §2.3.8: only CRLF ends a line. Accepting a bare LF or CR is what makes SMTP
    smuggling possible (a receiver and a relay disagreeing on where DATA ends).
    """
    # Three counts in C are several times faster than a regex over the whole message.
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf:
        return "LF"
    if data.count(b"\r") != crlf:
        return "CR"
    return None


def header_block(raw: bytes) -> bytes:
    """The header section: everything before the first empty line."""
    if raw.startswith(b"\r\n"):
        return b""
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[: end + 2]


def field_values(raw: bytes, name: str) -> list[str]:
    """Unfolded values of every header field called ``name`` (case-insensitive)."""
    wanted = name.lower().encode()
    block = header_block(raw)
    values: list[str] = []
    lines = block.split(b"\r\n")
    current: list[bytes] | None = None
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            values.append(_unfold(current))
            current = None
        match = _FIELD.match(line)
        if match and match.group(1).lower() == wanted:
            current = [line[match.end():]]
    if current is not None:
        values.append(_unfold(current))
    return values


def count_fields(raw: bytes, name: str) -> int:
    wanted = name.lower().encode()
    return sum(1 for m in _FIELD.finditer(header_block(raw))
               if m.group(1).lower() == wanted)


def _unfold(parts: list[bytes]) -> str:
    return b" ".join(p.strip() for p in parts).decode("utf-8", "replace").strip()


def received_header(*, helo: str, ip: str, hostname: str, protocol: str, queue_id: str,
                    tls: str | None, user: str | None, recipient: str | None,
                    when: datetime) -> bytes:
    """A RFC 5321 §4.4 trace field, with the TLS in use and the authenticated user.

    ``recipient`` is given only for a single-recipient message: naming one of several
    recipients would disclose the others' Bcc to each.
    """
    lines = [f"Received: from {_clean(helo) or 'unknown'} ([{ip}])",
             f"\tby {hostname} (Tidings) with {protocol} id {queue_id}"]
    if tls:
        lines.append(f"\t({tls})")
    if user:
        lines.append(f"\t(authenticated as {_clean(user)})")
    tail = f"\tfor <{_clean(recipient)}>; " if recipient else "\t"
    lines.append(tail + format_datetime(when))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")


def _clean(text: str) -> str:
    """Keep a client-chosen string from breaking the header (no CR, LF, or parentheses)."""
    return re.sub(r"[\x00-\x1f\x7f()]", "", text)[:200]
