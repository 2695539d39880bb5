"""IMAP's modified UTF-7 for folder names (RFC 3501 §5.1.3), also used by Maildir++ trees
that Dovecot and Courier write."""

from __future__ import annotations

import base64
import re

_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")


def encode(name: str, also: str = "") -> str:
    """Printable ASCII stays, "&" becomes "&-", the rest (and ``also``) "&<base64 UTF-16>-"."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if " " <= ch <= "~" and ch not in also:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def decode(name: str) -> str:
    """Inverse of ``encode``; a name that is not modified UTF-7 is returned unchanged."""
    if "&" not in name or not name.isascii():
        return name

    def decode_run(m: re.Match[str]) -> str:
        data = m.group(1).replace(",", "/")
        if not data:
            return "&"
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-16-be")

    try:
        return _RUN.sub(decode_run, name)
    except (ValueError, UnicodeDecodeError):
        return name
