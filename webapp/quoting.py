"""Replies and forwards: who gets them, their subject, threading headers and quoted text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html import escape

from webapp.outgoing import clean_html, text_to_quoted_html

# "Re:", "RE :", "Re[2]:", "AW:", "SV:" … as mail clients write them.
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw)(\[\d+\])?\s*:\s*)+", re.I)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|wg)\s*:\s*", re.I)


def reply_subject(subject: str) -> str:
    """"Re: " once, however many the original had."""
    return "Re: " + _REPLY_PREFIX.sub("", subject).strip()


def forward_subject(subject: str) -> str:
    base = subject.strip()
    if _FORWARD_PREFIX.match(base):
        return "Fwd: " + _FORWARD_PREFIX.sub("", base, count=1).strip()
    return "Fwd: " + base


def _ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value)


def references(original: EmailMessage) -> tuple[str, str]:
    """(In-Reply-To, References) of a reply (RFC 5322 §3.6.4): the parent's Message-ID, and
    the parent's References (or its single In-Reply-To) followed by that Message-ID."""
    parent = _ids(str(original.get("Message-ID", "")))
    if not parent:
        return "", ""
    chain = _ids(str(original.get("References", "")))
    if not chain:
        in_reply_to = _ids(str(original.get("In-Reply-To", "")))
        chain = in_reply_to if len(in_reply_to) == 1 else []
    return parent[0], " ".join([*chain, parent[0]])


def _pairs(message: EmailMessage, *headers: str) -> list[tuple[str, str]]:
    values = [str(v) for h in headers for v in message.get_all(h, [])]
    return [(n, a) for n, a in getaddresses(values) if "@" in a]


def _format(pairs: Iterable[tuple[str, str]]) -> str:
    out = []
    for name, addr in pairs:
        local, _, domain = addr.rpartition("@")
        try:
            out.append(str(Address(display_name=name, username=local, domain=domain)))
        except (ValueError, IndexError):
            out.append(addr)
    return ", ".join(out)


def reply_recipients(original: EmailMessage, own: set[str],
                     everyone: bool) -> tuple[str, str]:
    """(To, Cc) of a reply. Reply goes to Reply-To (or From); reply all adds the other
    To and Cc recipients. The user's own addresses are left out, unless the user is
    answering their own message (then it goes back to its recipients)."""
    author = _pairs(original, "Reply-To") or _pairs(original, "From")
    to: dict[str, str] = {}
    cc: dict[str, str] = {}
    if all(a.lower() in own for _n, a in author):
        # A reply to one's own message (from Sent) goes to its recipients.
        for name, addr in _pairs(original, "To"):
            to.setdefault(addr.lower(), name)
    else:
        for name, addr in author:
            to.setdefault(addr.lower(), name)
    if everyone:
        for name, addr in _pairs(original, "To"):
            to.setdefault(addr.lower(), name)
        for name, addr in _pairs(original, "Cc"):
            if addr.lower() not in to:
                cc.setdefault(addr.lower(), name)
    to = {a: n for a, n in to.items() if a not in own}
    cc = {a: n for a, n in cc.items() if a not in own}
    return (_format((n, a) for a, n in to.items()), _format((n, a) for a, n in cc.items()))


def author_name(original: EmailMessage) -> str:
    found = _pairs(original, "From")
    if not found:
        return "someone"
    name, addr = found[0]
    return name or addr


def written_on(original: EmailMessage) -> str:
    try:
        when = parsedate_to_datetime(str(original.get("Date", "")))
    except (TypeError, ValueError):
        return ""
    return f"{when:%a}, {when.day} {when:%b %Y} at {when:%H:%M}"


def attribution(original: EmailMessage) -> str:
    """"On DATE, NAME wrote:" (without the date when the original had none)."""
    date = written_on(original)
    return f"On {date}, {author_name(original)} wrote:" if date else \
        f"{author_name(original)} wrote:"


def quote_text(text: str) -> str:
    """Every line prefixed with "> " (">" alone before an already quoted line)."""
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    return "\n".join(">" + ("" if line.startswith(">") or not line else " ") + line
                     for line in lines)


def quote_html(body_html: str | None, text: str) -> str:
    inner = clean_html(_body_inner(body_html)) if body_html else text_to_quoted_html(text)
    return f'<blockquote type="cite">{inner}</blockquote>'


def _body_inner(html: str) -> str:
    match = re.search(r"<body[^>]*>(.*)</body>", html, re.S | re.I)
    return match.group(1) if match else html


def forward_header_lines(original: EmailMessage) -> list[tuple[str, str]]:
    lines = [("From", str(original.get("From", ""))), ("Date", str(original.get("Date", ""))),
             ("Subject", str(original.get("Subject", ""))), ("To", str(original.get("To", "")))]
    if original.get("Cc"):
        lines.append(("Cc", str(original.get("Cc"))))
    return [(k, v) for k, v in lines if v]


FORWARD_MARK = "---------- Forwarded message ----------"


def forward_text(original: EmailMessage, text: str) -> str:
    head = "\n".join(f"{k}: {v}" for k, v in forward_header_lines(original))
    return f"{FORWARD_MARK}\n{head}\n\n{text.rstrip()}\n"


def forward_html(original: EmailMessage, body_html: str | None, text: str) -> str:
    head = "<br>".join(f"{escape(k)}: {escape(v)}" for k, v in forward_header_lines(original))
    inner = clean_html(_body_inner(body_html)) if body_html else text_to_quoted_html(text)
    return f"<div>{escape(FORWARD_MARK)}<br>{head}<br><br>{inner}</div>"
