"""parse_message: one pass over the raw bytes at delivery, yielding everything the store
caches (ENVELOPE, BODYSTRUCTURE, section map, sort/thread keys, search text, preview,
attachment list), so that IMAP, search and webmail never re-parse a blob.

Invariants: parse_message never raises, whatever the bytes; a message that cannot be
understood still yields a ParsedMessage with ``parse_error`` set and best-effort fields.
Cached strings never hold lone surrogates (they must be storable as UTF-8): raw 8-bit
header text that is not UTF-8 is decoded with the message's own charset, else cp1252.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from .addresses import Group, Mailbox, mailboxes, parse_address_list, search_text
from .bodystructure import build, line_count
from .charsets import decode_text, fallback_codec, fix_8bit
from .envelope import build_envelope
from .headers import decode_words, field, param_value, parse_params
from .message import Attachment, ParsedMessage
from .sections import (
    BE,
    BS,
    CHILDREN,
    CONTENT_ID,
    CTE,
    CTYPE,
    DISPOSITION,
    FILENAME,
    NumberedPart,
    display_parts,
    find_part,
    is_multipart,
    iter_parts,
)
from .structure import Entity, walk
from .subject import base_subject
from .text import MAX_SEARCH_TEXT, node_text, preview
from .transfer import decoded_size

_MSG_ID = re.compile(r"<[^<>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_FOLD = re.compile(r"\n(?=[ \t])")
_MAX_REFERENCES = 500
_PLAIN_STUB = 256  # characters: a shorter text/plain alternative may be a mere stub


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a raw RFC 5322 message (LF or CRLF line endings, any junk) into what the
    store caches. Never raises."""
    try:
        if not isinstance(raw, bytes):
            raw = bytes(raw)
        return _parse(raw)
    except Exception as exc:  # a bug must not lose mail: store it as an opaque text body
        return _opaque(raw, f"message could not be parsed: {type(exc).__name__}: {exc}")


def _parse(raw: bytes) -> ParsedMessage:
    root, errors = walk(raw)
    clean: Callable[[str], str]
    if raw.isascii():
        fallback = "ascii"
        clean = str  # nothing to fix: header strings are already clean
    else:
        fallback = fallback_codec(_text_charsets(root))

        def clean(s: str) -> str:
            return fix_8bit(s, fallback)

    sections = _node(root, clean)
    fields = root.fields

    addresses: dict[str, list[Mailbox | Group]] = {}
    for name in ("from", "sender", "reply-to", "to", "cc", "bcc"):
        value = field(fields, name)
        addresses[name] = parse_address_list(clean(value)) if value else []
    envelope = build_envelope(fields, clean, addresses)
    bodystructure, body = build(root, raw, clean)

    subject = _oneline(decode_words(clean(field(fields, "subject") or "")))
    from_boxes = mailboxes(addresses["from"])
    first_from = from_boxes[0] if from_boxes else None
    from_display = ""
    if first_from is not None:
        name = _oneline(decode_words(first_from.name)) if first_from.name else ""
        from_display = name or first_from.address

    parts = list(iter_parts(sections))
    texts: dict[str, str] = {}
    search_body = _search_body(raw, parts, texts)
    return ParsedMessage(
        envelope=envelope,
        bodystructure=bodystructure,
        body=body,
        sections=sections,
        date=_date(field(fields, "date")),
        subject=subject,
        subject_base=base_subject(subject),
        from_display=from_display,
        from_addr=first_from.address.lower() if first_from else "",
        # RFC 5256 §3: SORT FROM/TO/CC use the addr-mailbox of the first address.
        sort_from=_sort_key(addresses["from"]),
        sort_to=_sort_key(addresses["to"]),
        sort_cc=_sort_key(addresses["cc"]),
        message_id=_first_id(clean(field(fields, "message-id") or ""), loose=True),
        in_reply_to=_first_id(clean(field(fields, "in-reply-to") or ""), loose=False),
        references=tuple(
            _MSG_ID.findall(clean(field(fields, "references") or ""))[:_MAX_REFERENCES]
        ),
        search_from=_oneline(search_text(addresses["from"])),
        search_to=_oneline(search_text(addresses["to"])),
        search_cc=_oneline(search_text(addresses["cc"])),
        search_bcc=_oneline(search_text(addresses["bcc"])),
        search_body=search_body,
        header_text=_header_text(raw[root.hs : root.bs], fallback),
        preview=_preview(raw, sections, texts),
        attachments=_attachments(raw, parts),
        parse_error=_storable("; ".join(errors[:3])) if errors else None,
    )


def _storable(s: str) -> str:
    """Escape lone surrogates (raw 8-bit header bytes quoted in a message)."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _text_charsets(root: Entity) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        ent = stack.pop()
        stack.extend(reversed(ent.children))
        if ent.ctype.startswith("text/"):
            cs = ent.param("charset")
            if cs:
                out.append(cs)
    return out


def _node(ent: Entity, clean: Callable[[str], str]) -> tuple:
    """Section map node of ``ent`` (shape documented in sections.py)."""
    disposition = ""
    filename: str | None = None
    disp_value = field(ent.fields, "content-disposition")
    if disp_value:
        disposition = clean(disp_value.split(";", 1)[0].strip().lower())
        filename = param_value(parse_params(disp_value), "filename")
    if not filename:
        filename = param_value(ent.params, "name")
    content_id = field(ent.fields, "content-id") or ""
    content_id = content_id.strip().removeprefix("<").removesuffix(">").strip()
    return (
        ent.hs,
        ent.bs,
        ent.be,
        clean(ent.ctype),
        clean((ent.param("charset") or "").strip().lower()),
        clean(ent.cte),
        disposition,
        _oneline(clean(filename)) if filename else "",
        clean(content_id),
        tuple(_node(child, clean) for child in ent.children),
    )


def _oneline(s: str) -> str:
    """Control characters (CR, LF, TAB...) become single spaces; ends stripped."""
    if not s.isprintable():
        s = _CONTROL.sub(" ", s)
    return s.strip()


# RFC 5322 §3.3 date-time as nearly every sender writes it: [day ","] d mon yyyy hh:mm[:ss] zone
_DATE = re.compile(
    r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-])(\d\d)(\d\d)\b"
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_ZONES: dict[tuple[str, str, str], timezone] = {}


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    m = _DATE.match(value)
    if m is not None:
        day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
        month = _MONTHS.get(mon.lower())
        key = (sign, zh, zm)
        zone = _ZONES.get(key)
        if zone is None and int(zh) < 24 and int(zm) < 60:
            offset = timedelta(hours=int(zh), minutes=int(zm))
            zone = timezone(-offset if sign == "-" else offset)
            if len(_ZONES) < 500:
                _ZONES[key] = zone
        if month is not None and zone is not None:
            try:
                return datetime(int(year), month, int(day), int(hh), int(mm), int(ss or 0), 0, zone)
            except ValueError:
                pass  # e.g. 31 Feb or 24:00: let the stdlib apply its tolerances
    try:
        date = parsedate_to_datetime(value)
    except Exception:  # ValueError, TypeError, OverflowError on junk dates
        return None
    if date is None:
        return None
    if date.tzinfo is None:  # "-0000" (RFC 5322 §3.3: no zone information) is read as UTC
        date = date.replace(tzinfo=UTC)
    return date


def _sort_key(items: list[Mailbox | Group]) -> str:
    boxes = mailboxes(items)
    return boxes[0].local.lower() if boxes else ""


def _first_id(value: str, loose: bool) -> str:
    """First <msg-id> of a field (RFC 5322 §3.6.4); a bare id is wrapped when ``loose``."""
    m = _MSG_ID.search(value)
    if m:
        return m.group(0)
    value = value.strip()
    if value and (loose or "@" in value) and not any(c.isspace() for c in value):
        return f"<{value}>"
    return ""


def _header_text(block: bytes, fallback: str) -> str:
    """Header block for SEARCH HEADER: one unfolded field per line, encoded-words decoded."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = decode_text(block, fallback)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    # RFC 5322 §2.2.3: unfolding removes the line break before folding whitespace.
    text = _FOLD.sub("", text)
    return decode_words(text).replace("\0", "")


def _search_body(raw: bytes, parts: list[NumberedPart], texts: dict[str, str]) -> str:
    """Text of every text/* leaf, forwarded messages included, capped at MAX_SEARCH_TEXT.

    One exception, for speed and index size: the text/html alternative of a
    multipart/alternative whose text/plain alternative (RFC 2046 §5.1.4: the same content)
    came first and holds real text is skipped. A short plain stub ("view this mail in a
    browser") does not count, so the HTML is indexed then.
    """
    pieces: list[str] = []
    budget = MAX_SEARCH_TEXT
    plain_alternatives: set[int] = set()  # id() of alternatives that had a real plain part
    for number, node, parent, _enc in parts:
        if budget <= 0:
            break
        if node[CHILDREN] or not node[CTYPE].startswith("text/"):
            continue
        alternative = parent is not None and parent[CTYPE] == "multipart/alternative"
        if alternative and node[CTYPE] == "text/html" and id(parent) in plain_alternatives:
            continue
        text = node_text(raw, node, limit=budget)
        texts[number] = text
        if alternative and node[CTYPE] == "text/plain" and len(text) >= _PLAIN_STUB:
            plain_alternatives.add(id(parent))
        if len(text) > budget:
            text = text[:budget]
        pieces.append(text)
        budget -= len(text) + 1
    return "\n".join(pieces).replace("\0", "")


def _preview(raw: bytes, sections: tuple, texts: dict[str, str]) -> str:
    parts = display_parts(sections, prefer="text/plain")
    number = parts[0] if parts else next(iter(texts), None)
    if number is None:
        return ""
    text = texts.get(number)
    if text is None:
        node = find_part(sections, number)
        text = node_text(raw, node, limit=8000) if node is not None else ""
    return preview(text).replace("\0", "")


def _attachments(raw: bytes, parts: list[NumberedPart]) -> tuple[Attachment, ...]:
    """Parts a mail client lists as attachments: named parts, disposition attachment, and
    any non-text leaf (images, signatures, forwarded messages); not inside forwarded mail."""
    out: list[Attachment] = []
    for number, node, parent, encapsulated in parts:
        if encapsulated or is_multipart(node):
            continue
        ctype = node[CTYPE]
        disposition = node[DISPOSITION]
        if not (node[FILENAME] or disposition == "attachment" or not ctype.startswith("text/")):
            continue
        inline = disposition == "inline" or (
            not disposition
            and bool(node[CONTENT_ID])
            and parent is not None
            and parent[CTYPE] == "multipart/related"
        )
        size = decoded_size(raw[node[BS] : node[BE]], node[CTE])
        out.append(Attachment(number, node[FILENAME], ctype, size, node[CONTENT_ID], inline))
    return tuple(out)


def _opaque(raw: bytes, reason: str) -> ParsedMessage:
    """Last resort when parsing failed: the whole message as one text/plain body."""
    try:
        size = len(raw)
        lines = line_count(raw, 0, size)
    except Exception:
        raw, size, lines = b"", 0, 0
    return ParsedMessage(
        envelope="(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
        bodystructure=f'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" {size} {lines}'
        " NIL NIL NIL NIL)",
        body=f'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" {size} {lines})',
        sections=(0, 0, size, "text/plain", "", "7bit", "", "", "", ()),
        date=None,
        subject="",
        subject_base="",
        from_display="",
        from_addr="",
        sort_from="",
        sort_to="",
        sort_cc="",
        message_id="",
        in_reply_to="",
        references=(),
        search_from="",
        search_to="",
        search_cc="",
        search_bcc="",
        search_body="",
        header_text="",
        preview="",
        attachments=(),
        parse_error=reason[:200],
    )
