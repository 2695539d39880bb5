"""RFC 5322 §3.4 address lists, parsed tolerantly into raw parts.

Why not ``email.headerregistry``: IMAP ENVELOPE needs the RAW phrase, route, local part
and domain of each address (RFC 9051 §7.5.2), not decoded text; and the stdlib raises on
real mail: a group followed by a comment (``To: unlisted-recipients:; (no To-header on
input)``) gives ``AttributeError: 'Group' object has no attribute 'local_part'``. This parser
accepts anything: unknown shapes degrade into a mailbox with whatever text is there.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .headers import decode_words


class Mailbox(NamedTuple):
    name: str | None  # raw display name: quotes removed, encoded-words still encoded
    route: str | None  # obsolete source route (RFC 5322 §4.4), e.g. "@a,@b"
    local: str  # local part, quotes removed
    domain: str | None  # None when the address has no "@"

    @property
    def address(self) -> str:
        return self.local if self.domain is None else f"{self.local}@{self.domain}"


class Group(NamedTuple):
    name: str  # raw group display name
    members: tuple[Mailbox, ...]


_TOKEN = re.compile(
    r"""
    "(?:[^"\\]|\\.)*"?                                   # quoted-string (maybe unterminated)
    |\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\)?)*\)?         # comment, one level of nesting
    |\[(?:[^\[\]\\]|\\.)*\]?                             # domain-literal
    |[<>,:;@]                                            # specials that shape the list
    |[^\s"(<>,:;@\[]+                                    # atom, dot-atom, or junk run
    """,
    re.X | re.S,
)
_BACKSLASH = re.compile(r"\\(.)", re.S)


def _unquote(token: str) -> str:
    if token[:1] != '"':
        return token
    inner = token[1:-1] if len(token) > 1 and token.endswith('"') else token[1:]
    return _BACKSLASH.sub(r"\1", inner) if "\\" in inner else inner


def _phrase(tokens: list[str]) -> str | None:
    if not tokens:
        return None
    out: list[str] = []
    for k, t in enumerate(tokens):
        if k and t != "@" and tokens[k - 1] != "@":
            out.append(" ")
        out.append(_unquote(t))
    return "".join(out).strip() or None


def _comment(comments: list[str]) -> str | None:
    texts = [c[1:-1] if c.endswith(")") else c[1:] for c in comments]
    text = " ".join(t.strip() for t in texts if t.strip())
    return text or None


def _addr_spec(tokens: list[str]) -> tuple[str, str | None]:
    """Split addr-spec tokens at the last "@" into (local part, domain or None)."""
    at = -1
    for k in range(len(tokens) - 1, -1, -1):
        if tokens[k] == "@":
            at = k
            break
    if at < 0:
        return " ".join(_unquote(t) for t in tokens), None
    local = "".join(_unquote(t) for t in tokens[:at])
    domain = "".join(tokens[at + 1 :])
    return local, domain


def _angle(inner: list[str]) -> tuple[str | None, str, str | None]:
    """RFC 5322 §3.4 angle-addr content, with the obsolete route (§4.4) split off."""
    inner = [t for t in inner if t[:1] != "("]
    route = None
    if inner and inner[0] == "@" and ":" in inner:
        colon = inner.index(":")
        route = "".join(inner[:colon])
        inner = inner[colon + 1 :]
    local, domain = _addr_spec(inner)
    return route, local, domain


# The shapes nearly all real headers use: [phrase or "quoted"] <local@domain> or a bare
# local@domain, comma separated, no groups, comments, routes or quoted local parts.
_SIMPLE = re.compile(
    r"""\s*(?:
      (?:("(?:[^"\\]|\\.)*")|([^",<>:;@()\[\]\\]*?))\s*<([^<>@\s",;:()\[\]\\]+)@([^<>@\s",;:()\[\]\\]+)>
      |([^<>@\s",;:()\[\]\\]+)@([^<>@\s",;:()\[\]\\]+)
    )\s*(?:,|\Z)""",
    re.X,
)


def _parse_simple(value: str) -> list[Mailbox | Group] | None:
    """Fast path for the common shapes; None when the value needs the full parser."""
    items: list[Mailbox | Group] = []
    pos, end = 0, len(value)
    match = _SIMPLE.match
    while pos < end:
        m = match(value, pos)
        if m is None or m.end() == pos:
            return None
        pos = m.end()
        quoted, phrase, local, domain, bare_local, bare_domain = m.groups()
        if bare_local is not None:
            items.append(Mailbox(None, None, bare_local, bare_domain))
            continue
        if quoted is not None:
            name = _unquote(quoted).strip() or None
        else:
            name = " ".join(phrase.split()) or None
        items.append(Mailbox(name, None, local, domain))
    return items if pos == len(value) and items else None


def parse_address_list(value: str | None) -> list[Mailbox | Group]:
    """Parse an address-list header value into mailboxes and groups, never raising."""
    if not value:
        return []
    simple = _parse_simple(value)
    if simple is not None:
        return simple
    return _parse_tokens(value)


def _parse_tokens(value: str) -> list[Mailbox | Group]:
    """General, tolerant parser over RFC 5322 tokens."""
    toks = _TOKEN.findall(value)
    items: list[Mailbox | Group] = []
    group_name: str | None = None
    members: list[Mailbox] = []
    phrase: list[str] = []
    comments: list[str] = []
    angle: tuple[str | None, list[str]] | None = None

    def finish() -> None:
        nonlocal phrase, comments, angle
        mailbox: Mailbox | None = None
        if angle is not None:
            name = angle[0] if angle[0] is not None else _comment(comments)
            route, local, domain = _angle(angle[1])
            mailbox = Mailbox(name, route, local, domain)
        elif phrase:
            local, domain = _addr_spec(phrase)
            mailbox = Mailbox(_comment(comments), None, local, domain)
        if mailbox is not None:
            (members if group_name is not None else items).append(mailbox)
        phrase, comments, angle = [], [], None

    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t == ",":
            finish()
        elif t == ";":
            finish()
            if group_name is not None:
                items.append(Group(group_name, tuple(members)))
                group_name, members = None, []
        elif t == ":" and group_name is None and angle is None and "@" not in phrase:
            # RFC 5322 §3.4: group = display-name ":" [group-list] ";"
            group_name = _phrase(phrase) or ""
            phrase, comments = [], []
        elif t == "<" and angle is None:
            j = i + 1
            while j < n and toks[j] != ">":
                j += 1
            if j == n:  # unclosed "<": stop at the next list separator instead
                j = i + 1
                while j < n and toks[j] not in (",", ";"):
                    j += 1
                angle = (_phrase(phrase), toks[i + 1 : j])
                i = j - 1
            else:
                angle = (_phrase(phrase), toks[i + 1 : j])
                i = j
            phrase = []
        elif t[0] == "(":
            comments.append(t)
        elif t != ">" and angle is None:
            phrase.append(t)
        i += 1
    finish()
    if group_name is not None:
        items.append(Group(group_name, tuple(members)))
    return items


def mailboxes(items: list[Mailbox | Group]) -> list[Mailbox]:
    """Every mailbox, group members flattened in order."""
    out: list[Mailbox] = []
    for item in items:
        if isinstance(item, Group):
            out.extend(item.members)
        else:
            out.append(item)
    return out


def display(mailbox: Mailbox) -> str:
    """'Decoded Name <local@domain>' or the bare address, as a mail client shows it."""
    if mailbox.name:
        name = decode_words(mailbox.name)
        return f"{name} <{mailbox.address}>" if mailbox.address else name
    return mailbox.address


def search_text(items: list[Mailbox | Group]) -> str:
    """Decoded list for IMAP SEARCH FROM/TO/CC/BCC: 'A <a@x>, group: B <b@y>;'."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Group):
            inner = ", ".join(display(m) for m in item.members)
            name = decode_words(item.name)
            parts.append(f"{name}: {inner};" if inner else f"{name}:;")
        else:
            parts.append(display(item))
    return ", ".join(parts)
