"""IMAP ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) built from a raw header field map.

Invariants: field values are the RAW header text, unfolded, never decoded (clients decode
encoded-words themselves); an absent field is NIL; address lists are parsed by
addresses.py, which never raises.
"""

from __future__ import annotations

from collections.abc import Callable

from .addresses import Group, Mailbox, parse_address_list
from .headers import field
from .imapstring import nstring

# RFC 9051 §7.5.2: the envelope lists these fields in this order.
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")


def _address(m: Mailbox) -> str:
    # RFC 9051 §7.5.2: address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")".
    # A NIL host marks group syntax, so a mailbox without a domain gets an empty host.
    name, route, local, domain = m
    if route is None and domain is not None and _plain(local) and _plain(domain):
        # the common case, without the general quoting machinery
        if name is None:
            return f'(NIL NIL "{local}" "{domain}")'
        if _plain(name):
            return f'("{name}" NIL "{local}" "{domain}")'
    host = nstring(m.domain if m.domain is not None else "")
    return f"({nstring(m.name)} {nstring(m.route)} {nstring(m.local)} {host})"


def _plain(s: str) -> bool:
    """Quotable as is: printable ASCII without the two characters that need escaping."""
    return s.isascii() and s.isprintable() and '"' not in s and "\\" not in s and len(s) < 1000


def address_list(items: list[Mailbox | Group]) -> str:
    """Envelope address list, or NIL when there are no addresses."""
    if not items:
        return "NIL"
    out: list[str] = []
    for item in items:
        if isinstance(item, Group):
            # RFC 3501 §7.4.2: group start is (NIL NIL "name" NIL), group end (NIL NIL NIL NIL)
            out.append(f"(NIL NIL {nstring(item.name)} NIL)")
            out.extend(_address(m) for m in item.members)
            out.append("(NIL NIL NIL NIL)")
        else:
            out.append(_address(item))
    return "(" + "".join(out) + ")"


def build_envelope(
    fields: dict[str, str],
    clean: Callable[[str], str],
    parsed: dict[str, list[Mailbox | Group]] | None = None,
) -> str:
    """ENVELOPE text of the message whose header fields are ``fields``.

    ``clean`` turns raw 8-bit header text into valid Unicode (see charsets.fix_8bit);
    ``parsed`` holds address lists the caller already parsed, by lowercase field name.
    """

    def value(name: str) -> str | None:
        v = field(fields, name)
        return None if v is None else clean(v)

    lists: dict[str, str] = {}
    for name in _ADDRESS_FIELDS:
        if parsed is not None and name in parsed:
            lists[name] = address_list(parsed[name])
            continue
        raw = value(name)
        lists[name] = address_list(parse_address_list(raw)) if raw else "NIL"
    # RFC 3501 §7.4.2: absent or empty Sender / Reply-To default to From.
    for name in ("sender", "reply-to"):
        if lists[name] == "NIL":
            lists[name] = lists["from"]
    parts = [
        nstring(value("date")),
        nstring(value("subject")),
        *(lists[name] for name in _ADDRESS_FIELDS),
        nstring(value("in-reply-to")),
        nstring(value("message-id")),
    ]
    return "(" + " ".join(parts) + ")"
