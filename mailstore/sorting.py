"""IMAP SORT (RFC 5256 §3, RFC 5957 SORT=DISPLAY) over the stored sort fields: pure, no I/O.

Implementation notes:
- Strings of the RFC 5256 keys compare with a case fold standing in for the collation
  (RFC 5256 §2.1); a missing field sorts as the empty string.
- DISPLAYFROM and DISPLAYTO (RFC 5957) compare with i;unicode-casemap (RFC 5051 §2: simple
  titlecase mapping, then NFKD, then code point order, which is UTF-8 octet order). It
  differs from a case fold in order, not only in equality: ``alice`` maps to ``ALICE``,
  which sorts before ``_bob``.
- DISPLAYFROM reads ``contents.from_display`` (decoded at delivery). DISPLAYTO comes from the
  To list of the ENVELOPE cached at delivery (``to_display``), so neither re-parses a blob
  and the schema needs no column for it; the caller passes it as a UID map.
- ``REVERSE`` turns one key round; messages equal under every key keep mailbox order, also
  under REVERSE (RFC 5256 §3: "sorted according to the order in which they appear in the
  mailbox"). UIDs ascend with sequence numbers, so mailbox order is UID order. The sort is
  a chain of stable sorts, from the last key to the first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mailstore.mime.headers import decode_words
from mailstore.values import SortFields


def casemap(s: str) -> str:
    """The i;unicode-casemap comparison form of ``s`` (RFC 5051 §2)."""
    if s.isascii():
        return s.upper()  # the titlecase of an ASCII letter is its capital; NFKD changes nothing
    return unicodedata.normalize("NFKD", "".join(_simple_title(c) for c in s))


def _simple_title(c: str) -> str:
    # Python's title() is the full mapping ("ß" -> "Ss"); where that differs in length the
    # simple mapping RFC 5051 asks for leaves the character as it is.
    t = c.title()
    return t if len(t) == 1 else c


def sent_date(row: SortFields) -> int:
    """RFC 5256 §3 DATE: the Date header, or INTERNALDATE when it is missing or unparsable."""
    return row.internal_date if row.sent_date is None else row.sent_date


KEYS: dict[str, Callable[[SortFields], object]] = {
    "ARRIVAL": lambda r: r.internal_date,  # RFC 5256 §3: INTERNALDATE
    "CC": lambda r: r.sort_cc.casefold(),  # addr-mailbox of the first Cc address
    "DATE": sent_date,
    "FROM": lambda r: r.sort_from.casefold(),
    "SIZE": lambda r: r.size,  # RFC822.SIZE
    "SUBJECT": lambda r: r.subject_base.casefold(),  # base subject, RFC 5256 §2.1
    "TO": lambda r: r.sort_to.casefold(),
    # RFC 5957 §3: the display name of the first From address, else its address.
    "DISPLAYFROM": lambda r: casemap(r.from_display),
}
# RFC 5957 §3: the display name of the first To address, else its address; not a stored
# sort field, so sort_uids takes it as a map (see to_display).
DISPLAYTO = "DISPLAYTO"


@dataclass(frozen=True, slots=True)
class SortKey:
    """One RFC 5256 sort-criterion: a key of ``KEYS`` or DISPLAYTO, maybe REVERSE'd."""

    name: str
    reverse: bool = False


def sort_uids(rows: Sequence[SortFields], keys: Sequence[SortKey],
              to_displays: Mapping[int, str] | None = None) -> list[int]:
    """The rows' UIDs in SORT order (ties in mailbox order); ``to_displays`` maps UIDs to
    their DISPLAYTO value, needed only when a key is DISPLAYTO."""
    ordered = sorted(rows, key=lambda r: r.uid)
    names = to_displays or {}

    def display_to(row: SortFields) -> str:
        return casemap(names.get(row.uid, ""))

    for key in reversed(keys):
        function = display_to if key.name == DISPLAYTO else KEYS[key.name]
        # Python's sort is stable also with reverse=True: equal rows keep their order.
        ordered.sort(key=function, reverse=key.reverse)
    return [r.uid for r in ordered]


# --- DISPLAYTO from the cached ENVELOPE (RFC 9051 §7.5.2) -----------------------------------
# The cached text is our own rendering (mailstore/mime/envelope.py): NIL, quoted strings with
# \" and \\ escapes, literals {n} counting UTF-8 octets, and parenthesised lists.
_TOKEN = re.compile(rb' *(?:(\()|(\))|(NIL)|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n)')
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TO = 5  # date, subject, from, sender, reply-to, to, ...


def to_display(envelope: str) -> str:
    """RFC 5957 §3 DISPLAYTO of a message: the decoded display name of the first To address
    (group members count, group markers do not), else that address; "" without one."""
    to_list = _envelope_item(envelope.encode("utf-8", "surrogateescape"), _TO)
    for address in to_list if isinstance(to_list, list) else ():
        if not isinstance(address, list) or len(address) != 4:
            continue
        name, _route, mailbox, host = address
        if host is None:
            continue  # RFC 9051 §7.5.2: NIL host marks the start or end of a group
        if isinstance(name, str) and name:
            decoded = _CONTROL.sub(" ", decode_words(name)).strip()
            if decoded:
                return decoded
        local = mailbox if isinstance(mailbox, str) else ""
        return f"{local}@{host}" if host else local
    return ""


def _envelope_item(data: bytes, index: int) -> object:
    """Item ``index`` of the top-level list in ``data`` (None if absent or malformed): str,
    None for NIL, or a nested list."""
    stack: list[list[object]] = []
    pos = 0
    while pos < len(data):
        m = _TOKEN.match(data, pos)
        if m is None:
            return None
        pos = m.end()
        if m.group(1):
            stack.append([])
            continue
        if m.group(2):
            if not stack:
                return None
            done = stack.pop()
            if not stack:
                return None  # the top-level list ended before the item
            stack[-1].append(done)
        elif m.group(3):
            if not stack:
                return None
            stack[-1].append(None)
        else:
            if m.group(4) is not None:
                raw = _ESCAPE.sub(rb"\1", m.group(4))
            else:
                size = int(m.group(5))
                raw, pos = data[pos:pos + size], pos + size
            if not stack:
                return None
            stack[-1].append(raw.decode("utf-8", "surrogateescape"))
        if len(stack) == 1 and len(stack[0]) > index:
            return stack[0][index]
    return None
