"""Download rules: what to skip or delete at the ISP, decided before the body is fetched.

Rules see the size (from LIST / RFC822.SIZE) and the header (TOP n 0 / BODY.PEEK[HEADER]),
never the body. The first matching rule wins. Text patterns are case-insensitive substrings,
or globs over the whole value when they contain ``*`` or ``?`` (for From, To and Cc: over
each address).
VPOP3's substring-only matching made ``xx@yy.com`` also match ``aaxx@yy.com``; a glob lets
an admin say exactly what is meant.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from mailstore.collectors import Rule
from protocols.collector.recipients import header_of


def needs_header(rules: Sequence[Rule]) -> bool:
    return any(r.field != "size" for r in rules)


def header_field(header: bytes, name: str) -> str:
    """A header field's value, MIME-decoded and unfolded ("" when absent or broken)."""
    message = BytesHeaderParser(policy=compat32).parsebytes(header_of(header))
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        text = str(value)
    return " ".join(text.split())


def matches(pattern: str, text: str) -> bool:
    pattern, text = pattern.lower(), text.lower()
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(text, pattern)
    return pattern in text


ADDRESS_FIELDS = ("from", "to", "cc")


def rule_texts(header: bytes, name: str) -> list[str]:
    """What a rule on ``name`` looks at: the addresses for From/To/Cc (so a glob such as
    ``*@example.com`` means the address, not the display name), else the value."""
    value = header_field(header, name)
    if name in ADDRESS_FIELDS:
        addresses = [a for _, a in getaddresses([value]) if a]
        if name == "from":
            addresses = addresses[:1]
        return addresses or [value]
    return [value]


def decide(rules: Sequence[Rule], size: int, header: bytes | None) -> Rule | None:
    """The first rule that applies to a message of ``size`` bytes with this header."""
    for rule in rules:
        if rule.field == "size":
            if size > int(rule.value):
                return rule
        elif header is not None and any(
                matches(rule.value, text) for text in rule_texts(header, rule.field)):
            return rule
    return None
