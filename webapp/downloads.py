"""Attachment downloads: headers that make the browser save the file, never render it.

An attachment is content chosen by whoever sent the mail; shown inline from our origin it
could run script with the user's session. So: ``Content-Disposition: attachment``,
``nosniff`` (set for every response), and a sandboxing policy in case a browser renders
it anyway.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

DOWNLOAD_POLICY = "default-src 'none'; sandbox"

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\"]+')


def safe_filename(filename: str, fallback: str = "attachment") -> str:
    """The name without directories, control characters or quotes."""
    name = _UNSAFE.sub("_", filename).strip(" .")
    return name[:200] or fallback


def content_disposition(filename: str) -> str:
    """RFC 6266 §4.3: an ASCII ``filename`` for old clients, ``filename*`` (RFC 8187)
    with the real name in UTF-8."""
    name = safe_filename(filename)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()+,-]", "_", ascii_name).strip() or "attachment"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
