"""Case-insensitive matching used inside SQLite queries (registered as SQL functions).

IMAP SEARCH matches substrings case-insensitively (RFC 9051 §6.4.4). FTS5 trigram needs
three characters; shorter needles and HEADER searches use these Python functions instead.
"""

from __future__ import annotations


def contains(haystack: str | None, needle: str | None) -> int:
    """SQLite function ``tidings_contains``: IMAP's case-insensitive substring test."""
    if haystack is None or needle is None:
        return 0
    return 1 if needle.lower() in haystack.lower() else 0


def header_contains(header_text: str | None, name: str | None, needle: str | None) -> int:
    """SQLite function ``tidings_header``: some ``name:`` field contains ``needle``."""
    if not header_text or not name:
        return 0
    wanted = name.lower() + ":"
    target = (needle or "").lower()
    current: list[str] = []
    fields: list[str] = []
    for line in header_text.splitlines():
        if line[:1] in (" ", "\t") and current:
            current.append(line)
        else:
            if current:
                fields.append(" ".join(current))
            current = [line]
    if current:
        fields.append(" ".join(current))
    for field in fields:
        if field.lower().startswith(wanted) and target in field[len(wanted):].lower():
            return 1
    return 0
