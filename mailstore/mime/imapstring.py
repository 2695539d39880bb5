"""IMAP string syntax (RFC 9051 §4.3) for the ENVELOPE and BODYSTRUCTURE texts we cache.

A value becomes a quoted string when it is 7-bit without CR, LF or NUL (RFC 9051 §9:
quoted = DQUOTE *QUOTED-CHAR DQUOTE, QUOTED-CHAR escapes only ``"`` and ``\\``), else a
literal ``{n}\\r\\n...`` whose n counts the UTF-8 bytes of the text: the cached strings are
sent UTF-8 encoded. NUL cannot appear even in a literal (RFC 9051 §4.3), so it is dropped.
"""

from __future__ import annotations

_MAX_QUOTED = 4096  # beyond this a literal is friendlier to clients' line buffers


def string(s: str) -> str:
    """IMAP ``string``: quoted when possible, literal otherwise."""
    if s.isascii() and len(s) < _MAX_QUOTED and (s.isprintable() or _quotable(s)):
        if "\\" in s or '"' in s:
            s = s.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'
    return _literal(s)


def nstring(s: str | None) -> str:
    """IMAP ``nstring``: NIL for an absent value."""
    if s is None:
        return "NIL"
    if s.isascii() and len(s) < _MAX_QUOTED and (s.isprintable() or _quotable(s)):
        if "\\" in s or '"' in s:
            s = s.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'
    return _literal(s)


def _quotable(s: str) -> bool:
    # RFC 9051 §9: QUOTED-CHAR is any TEXT-CHAR (CHAR except CR and LF); CHAR excludes NUL.
    return "\r" not in s and "\n" not in s and "\0" not in s


def _literal(s: str) -> str:
    s = s.replace("\0", "")
    return f"{{{len(s.encode('utf-8', 'surrogateescape'))}}}\r\n{s}"
