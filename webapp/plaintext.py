"""Plain-text mail as HTML: escaped, web links made clickable, quoted lines marked.

The result goes into a ``white-space: pre-wrap`` block, so line breaks and indentation
stay as the sender wrote them.
"""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

# Stops at whitespace and at characters that cannot end a URL in running text.
_URL = re.compile(r"\bhttps?://[^\s<>\"'\x00-\x1f]+", re.I)
_QUOTE_PREFIX = re.compile(r"[> ]*")
_TRAILING = ".,;:!?)]}'\""


def _link(url: str) -> tuple[str, str]:
    """(link HTML, text that followed the URL but is punctuation of the sentence)."""
    tail = ""
    while url and url[-1] in _TRAILING:
        # Keep a closing parenthesis that belongs to the URL (Wikipedia-style links).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        tail = url[-1] + tail
        url = url[:-1]
    href = escape(url, quote=True)
    return (f'<a href="{href}" target="_blank" rel="noopener noreferrer">{href}</a>',
            escape(tail, quote=False))


def _line(line: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(line):
        out.append(escape(line[pos:match.start()], quote=False))
        link, tail = _link(match.group(0))
        out.append(link + tail)
        pos = match.end()
    out.append(escape(line[pos:], quote=False))
    html = "".join(out)
    if line.startswith(">"):
        depth = min(_QUOTE_PREFIX.match(line).group(0).count(">"), 3)
        return f'<span class="quote q{depth}">{html}</span>'
    return html


def text_to_html(text: str) -> Markup:
    """The body of a text/plain part, ready for the message page."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    return Markup("\n".join(_line(line) for line in text.split("\n")))
