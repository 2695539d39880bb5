"""Readable text of a message: the search body (every text/* part) and the preview.

Charset and transfer decoding live in charsets.py and transfer.py; HTML reduction in
htmltext.py. This module decides which parts are read and how they are joined.
"""

from __future__ import annotations

from .charsets import decode_text
from .htmltext import html_to_text
from .sections import BE, BS, CHARSET, CTE, CTYPE, Node
from .transfer import decode

MAX_SEARCH_TEXT = 1_000_000  # characters of body text kept for search
PREVIEW_LENGTH = 200
_PREVIEW_WINDOW = 8000  # characters of body text looked at for the preview


def node_text(raw: bytes, node: Node, limit: int | None = None) -> str:
    """Decoded text of a text/* leaf; HTML reduced to its visible text."""
    data = raw[node[BS] : node[BE]]
    if limit is not None and len(data) > limit * 4:
        data = data[: limit * 4]  # enough bytes for ``limit`` characters in any charset
    text = decode_text(decode(data, node[CTE]), node[CHARSET])
    if node[CTYPE] == "text/html":
        text = html_to_text(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def preview(text: str) -> str:
    """First ~200 characters of the body, quoted lines and the signature skipped."""
    if len(text) > 2000:  # most previews come from the first lines: try a small window first
        short = _unquoted(text[:2000])
        if len(short) >= PREVIEW_LENGTH - 40:
            return short
    result = _unquoted(text[:_PREVIEW_WINDOW])
    if not result:  # everything was quoted: show it rather than nothing
        result = _shorten(" ".join(text[: PREVIEW_LENGTH * 4].split()))
    return result


def _unquoted(window: str) -> str:
    """The unquoted text at the start of ``window``, shortened; "" if there is none."""
    lines = window.split("\n", 200)
    kept: list[str] = []
    length = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "--" and line.startswith("--"):  # RFC 3676 §4.3 signature "-- "
            break
        if stripped[0] == ">":
            continue
        # "On <date>, <someone> wrote:" introduces a quote; skip it when a quote follows.
        if stripped[-1] == ":" and _next_is_quote(lines, i):
            continue
        kept.append(stripped)
        length += len(stripped) + 1
        if length > PREVIEW_LENGTH * 2:
            break
    return _shorten(" ".join(" ".join(kept).split()))


def _shorten(text: str) -> str:
    """Cut at a word boundary near PREVIEW_LENGTH."""
    if len(text) > PREVIEW_LENGTH:
        cut = text.rfind(" ", PREVIEW_LENGTH - 40, PREVIEW_LENGTH)
        text = text[: cut if cut > 0 else PREVIEW_LENGTH]
    return text


def _next_is_quote(lines: list[str], i: int) -> bool:
    for line in lines[i + 1 : i + 4]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False
