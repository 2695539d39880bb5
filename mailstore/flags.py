"""IMAP system flags as a bit mask, keywords as a set of atoms."""

from __future__ import annotations

from collections.abc import Iterable

SEEN = 1
ANSWERED = 2
FLAGGED = 4
DELETED = 8
DRAFT = 16

SYSTEM_FLAGS: dict[str, int] = {
    "\\seen": SEEN,
    "\\answered": ANSWERED,
    "\\flagged": FLAGGED,
    "\\deleted": DELETED,
    "\\draft": DRAFT,
}
CANONICAL = {SEEN: "\\Seen", ANSWERED: "\\Answered", FLAGGED: "\\Flagged",
             DELETED: "\\Deleted", DRAFT: "\\Draft"}


def split_flags(flags: Iterable[str]) -> tuple[int, frozenset[str]]:
    """System flags (case-insensitive, RFC 9051 §2.3.2) to a mask; the rest are keywords."""
    mask = 0
    keywords: set[str] = set()
    for flag in flags:
        bit = SYSTEM_FLAGS.get(flag.lower())
        if bit is not None:
            mask |= bit
        elif flag.startswith("\\"):
            continue  # \Recent and unknown system flags are not stored
        elif flag:
            keywords.add(flag)
    return mask, frozenset(keywords)


def join_flags(mask: int, keywords: str | Iterable[str] = "") -> list[str]:
    """The flag list of a message, system flags first, as IMAP FETCH FLAGS returns it."""
    names = [name for bit, name in CANONICAL.items() if mask & bit]
    words = keywords.split() if isinstance(keywords, str) else sorted(keywords)
    return names + words


def keywords_text(keywords: Iterable[str]) -> str:
    return " ".join(sorted(set(keywords)))
