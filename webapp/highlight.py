"""Matched words shown in <mark>, safely: the text is escaped piece by piece, and only the
<mark> tags we add are markup. Also the body snippet around the first match.

Matching is case-insensitive like the search itself (IMAP SEARCH semantics), done with a
regular expression so that positions stay those of the original text (``str.lower`` may
change a string's length, e.g. for "İ").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

SNIPPET_BEFORE = 60
SNIPPET_LENGTH = 220
_SPACE = re.compile(r"\s+")


def _pattern(needles: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so "invoice" wins over "voice" where both start at one place.
    words = sorted({n for n in needles if n.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def highlight(text: str, needles: Iterable[str]) -> Markup:
    """``text`` escaped, with each case-insensitive occurrence of a needle in <mark>."""
    pattern = _pattern(needles)
    if pattern is None:
        return escape(text)
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(escape(text[position:match.start()]))
        out.append(Markup("<mark>%s</mark>") % match.group())
        position = match.end()
    out.append(escape(text[position:]))
    return Markup("").join(out)


def snippet(text: str, needles: Iterable[str], fallback: str = "") -> Markup:
    """A line of the body around the first match, highlighted; else ``fallback``."""
    needles = list(needles)
    flat = _SPACE.sub(" ", text).strip()
    pattern = _pattern(needles)
    match = pattern.search(flat) if pattern else None
    if match is None:
        return escape(fallback or flat[:SNIPPET_LENGTH])
    start = max(0, match.start() - SNIPPET_BEFORE)
    if start:
        space = flat.find(" ", start, match.start())
        start = space + 1 if space != -1 else start
    end = min(len(flat), start + SNIPPET_LENGTH)
    if end < len(flat):
        space = flat.rfind(" ", match.end(), end)
        end = space if space != -1 else end
    piece = highlight(flat[start:end], needles)
    return Markup("").join([Markup("…") if start else Markup(""), piece,
                            Markup("…") if end < len(flat) else Markup("")])
