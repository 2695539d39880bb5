"""HTML mail turned into readable plain text for search and previews.

Why regular expressions and not ``html.parser``: this runs on every HTML part at delivery,
and the stdlib parser is an order of magnitude slower. Search needs the words a reader sees,
not a faithful rendering: scripts, styles and comments are dropped, block elements become
line breaks, other tags vanish, entities are unescaped. Never use this output as HTML.
"""

from __future__ import annotations

import re
from html import unescape

MAX_HTML = 4_000_000  # characters looked at; more is not mail a person reads

_INVISIBLE = re.compile(
    r"<!--.*?-->|<(script|style|head|title|xml|template)\b[^>]*>.*?</\1\s*>", re.I | re.S
)
_BREAK = re.compile(
    r"<(?:br|/?p|/?div|/?tr|/?li|/?h[1-6]|/?table|/?blockquote|hr|/?ul|/?ol|/?pre|/?dd|/?dt)\b[^>]*>",
    re.I,
)
_TAG = re.compile(r"</?[a-zA-Z!?][^>]*>")
# Zero-width characters pad marketing mail; NBSP is a space to a reader.
_ODD_SPACES = (("\xa0", " "), ("\u200b", ""), ("\u200c", ""), ("\u200d", ""), ("\ufeff", ""))
# Whitespace is collapsed with str.replace and patterns that match only where something
# changes: a substitution at every single space costs more than all the tag handling.
_SPACE_RUN = re.compile(r"  +")
_LINE_BREAKS = re.compile(r"\n\s+")


def html_to_text(html: str) -> str:
    """Visible text of an HTML document: one line per block, whitespace collapsed."""
    if len(html) > MAX_HTML:
        html = html[:MAX_HTML]
    text = _INVISIBLE.sub("", html)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub(" ", text)  # a space keeps table cells and list items apart
    if "&" in text:
        text = text.replace("&nbsp;", " ")
        if "&" in text:
            text = unescape(text)
    if not text.isascii():
        for odd, replacement in _ODD_SPACES:
            if odd in text:
                text = text.replace(odd, replacement)
    for control in ("\t", "\r", "\f", "\v"):
        if control in text:
            text = text.replace(control, " ")
    text = _SPACE_RUN.sub(" ", text)
    text = text.replace(" \n", "\n")
    text = _LINE_BREAKS.sub("\n", text)
    return text.strip()
