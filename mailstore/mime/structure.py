"""Byte-offset MIME tree of a raw message (RFC 2045, RFC 2046, RFC 5322).

Why offsets: the store keeps every message byte for byte (LF-only or CRLF, as it came) and
IMAP FETCH BODY[...] slices that blob, so the tree records where each header and body
starts and ends, and never copies content.

Invariants a maintainer must keep:
- ``walk`` never raises and always terminates: nesting deeper than MAX_DEPTH or more than
  MAX_PARTS parts stop the descent (the rest stays opaque content), and every defect is
  recorded in ``Walk.errors`` instead.
- Offsets obey hs <= bs <= be within the parent's body; the header range [hs, bs) includes
  the blank line that ends it (RFC 9051 §6.4.5: HEADER includes the blank line).
- A multipart node always has at least one child: a multipart without a boundary parameter
  or without any delimiter line becomes a text/plain leaf, so BODYSTRUCTURE (which requires
  1*body, RFC 9051 §9) and the section numbers agree.
"""

from __future__ import annotations

import re

from .headers import field, field_chunks, header_str, param_value, parse_params

MAX_DEPTH = 50
MAX_PARTS = 5000

# A run of well-formed header lines: RFC 5322 §2.2 field lines and §2.2.3 folded lines.
_HEADER_LINES = re.compile(rb"(?:[!-9;-~]+[ \t]*:[^\n]*(?:\n|\Z)|[ \t][^\n]*(?:\n|\Z))*")
_FIELD_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:", re.M)
_FROM_FIELD = re.compile(rb"From[ \t]*:")  # RFC 5322 §4.5 obsolete "From :", not mbox "From "
_LINE_BREAKS = frozenset({"", "\n", "\r\n"})
_CONTENT_TYPE = re.compile(r"\s*([^\s/;()\"]+)\s*/\s*([^\s/;()\"]+)")

# RFC 9051 §7.5.2: MESSAGE/RFC822 and MESSAGE/GLOBAL (RFC 6532 §3.7) encapsulate a message.
MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})


class Entity:
    """One MIME entity: a message or a body part, with its raw header fields."""

    __slots__ = ("hs", "bs", "be", "fields", "ctype", "params", "cte", "children", "ct_missing")

    def __init__(self, hs: int, bs: int, be: int, fields: dict[str, str]) -> None:
        self.hs = hs  # header start
        self.bs = bs  # body start (= header end, after the blank line)
        self.be = be  # body end
        self.fields = fields  # lowercase name -> raw folded value (first occurrence)
        self.ctype = "text/plain"  # lowercase type/subtype as interpreted
        self.params: list[tuple[str, str]] = []  # Content-Type parameters, raw values
        self.cte = "7bit"  # lowercase Content-Transfer-Encoding
        self.children: list[Entity] = []  # multipart parts, or [encapsulated message]
        self.ct_missing = True  # no usable Content-Type header: RFC 2045 §5.2 defaults

    @property
    def is_multipart(self) -> bool:
        return bool(self.children) and self.ctype.startswith("multipart/")

    @property
    def is_message(self) -> bool:
        return bool(self.children) and self.ctype in MESSAGE_TYPES

    def param(self, name: str) -> str | None:
        """Content-Type parameter, RFC 2231 encoded or continued values decoded."""
        for key, value in self.params:
            if key == name:
                return value
        if any(key.startswith(name + "*") for key, _ in self.params):
            return param_value(self.params, name, words=False)
        return None


class Walk:
    """Mutable state of one parse: defects found and a part budget."""

    __slots__ = ("raw", "errors", "parts")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.errors: list[str] = []
        self.parts = 0


def _blank_line(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """(header end, body start) by the first empty line alone; (end, end) when none.

    The line-ending style of the first line decides which empty line is searched first; the
    other kind is then only looked for before it (mixed endings exist in the wild).
    """
    nl = raw.find(b"\n", start, end)
    if nl < 0:
        return end, end
    if nl > start and raw[nl - 1] == 13:
        crlf = raw.find(b"\n\r\n", nl - 1, end)
        lf = raw.find(b"\n\n", nl, crlf + 2 if crlf >= 0 else end)
    else:
        lf = raw.find(b"\n\n", nl, end)
        limit = lf + 2 if lf >= 0 else end
        crlf = raw.find(b"\n\r\n", nl, limit) if raw.find(b"\r", nl, limit) >= 0 else -1
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf + 1, lf + 2
    if crlf >= 0:
        return crlf + 1, crlf + 3
    return end, end


def _first_field_line(raw: bytes, start: int, end: int, top: bool) -> int:
    """Offset of the first line that may be a field: an mbox "From " line and a UTF-8
    byte order mark (some Windows tools write one) are skipped."""
    if top and raw.startswith(b"\xef\xbb\xbf", start, end):
        start += 3
    if top and raw.startswith(b"From ", start, end) and not _FROM_FIELD.match(raw, start, end):
        nl = raw.find(b"\n", start, end)
        return end if nl < 0 else nl + 1
    return start


def split_header(raw: bytes, start: int, end: int, top: bool) -> tuple[int, int]:
    """Return (header end, body start) of the entity in raw[start:end].

    RFC 5322 §2.1: the header ends at the first empty line. Tolerated defects: no empty line
    at all (everything is header if it looks like header lines), a first line that is not a
    header field (no header; RFC 2045 §5.2 defaults apply), and a body that starts right
    after the fields without the empty line (header ends at the first non-field line, unless
    field lines follow it, in which case that line is kept as a broken field).
    """
    if start >= end:
        return start, start
    # An empty first line: the entity has no header fields.
    if raw[start] == 10:
        return start, start + 1
    if raw[start] == 13 and raw.startswith(b"\r\n", start, end):
        return start, start + 2
    hdr_end, body_start = _blank_line(raw, start, end)
    first = _first_field_line(raw, start, hdr_end, top)
    return _validated(raw, start, first, hdr_end, body_start)


def _validated(
    raw: bytes, start: int, first: int, hdr_end: int, body_start: int
) -> tuple[int, int]:
    """Where the header really ends when raw[first:hdr_end] holds a line that is no field."""
    good = _HEADER_LINES.match(raw, first, hdr_end).end()
    if good >= hdr_end:
        return hdr_end, body_start
    if good == first and first == start:
        return start, start
    if _FIELD_LINE.search(raw, good, hdr_end) is not None:
        return hdr_end, body_start
    return good, good


def read_header(raw: bytes, start: int, end: int, top: bool) -> tuple[int, int, dict[str, str]]:
    """split_header plus the field map, validating the block with the field scan itself:
    when the fields found account for every line, no separate validation pass is needed."""
    if start >= end or raw[start] == 10 or (raw[start] == 13 and raw.startswith(b"\r\n", start)):
        hdr_end, body_start = split_header(raw, start, end, top)
        return hdr_end, body_start, {}
    hdr_end, body_start = _blank_line(raw, start, end)
    first = _first_field_line(raw, start, hdr_end, top)
    # field_chunks gives [junk, name, value, junk, name, value, ..., junk]: when every junk
    # piece is only the line break between fields, each line was a field or a folded
    # continuation (RFC 5322 §2.2.3) and no separate validation pass is needed.
    chunks = field_chunks(header_str(raw[first:hdr_end]))
    if not set(chunks[0::3]) <= _LINE_BREAKS:
        new_end, body_start = _validated(raw, start, first, hdr_end, body_start)
        if new_end != hdr_end:
            hdr_end = new_end
            chunks = field_chunks(header_str(raw[first:hdr_end])) if hdr_end > first else [""]
    names = chunks[1::3]
    values = chunks[2::3]
    names.reverse()
    values.reverse()
    # The first occurrence of a field wins (RFC 5322 §3.6 allows most fields only once).
    fields = {name.lower(): value for name, value in zip(names, values, strict=True)}
    return hdr_end, body_start, fields


def split_multipart(
    raw: bytes, bs: int, be: int, boundary: bytes
) -> tuple[list[tuple[int, int]], bool]:
    """Body ranges of the parts of a multipart body, and whether the close delimiter was seen.

    RFC 2046 §5.1.1: a delimiter line is CRLF "--" boundary [ "--" ] *LWSP CRLF, and the
    line break before it belongs to the delimiter, not to the preceding part. A missing close
    delimiter ends the last part at the end of the body.
    """
    delim = b"--" + boundary
    dl = len(delim)
    ranges: list[tuple[int, int]] = []
    part_start = -1
    pos = bs
    while True:
        p = raw.find(delim, pos, be)
        if p < 0:
            break
        if p != bs and raw[p - 1] != 10:
            pos = p + 1
            continue
        q = p + dl
        close = raw.startswith(b"--", q, be)
        if close:
            q += 2
        while q < be and raw[q] in (32, 9):
            q += 1
        if q < be and raw[q] not in (10, 13) and not close:
            pos = p + 1  # "--boundaryX": a longer boundary, not ours
            continue
        nl = raw.find(b"\n", q, be)
        q = be if nl < 0 else nl + 1
        if part_start >= 0:
            e = p
            if e > part_start and raw[e - 1] == 10:
                e -= 1
                if e > part_start and raw[e - 1] == 13:
                    e -= 1
            ranges.append((part_start, e))
        if close:
            return ranges, True
        if len(ranges) >= MAX_PARTS - 1:  # the last allowed part takes the rest of the body
            ranges.append((q, be))
            return ranges, False
        part_start = q
        pos = q
    if part_start >= 0:
        ranges.append((part_start, be))
    return ranges, False


def walk(raw: bytes) -> tuple[Entity, list[str]]:
    """Parse the whole message into an Entity tree; returns (root, defects)."""
    state = Walk(raw)
    root = _entity(state, 0, len(raw), 0, "text/plain", top=True)
    return root, state.errors


def _entity(
    state: Walk, start: int, end: int, depth: int, default: str, top: bool = False
) -> Entity:
    raw = state.raw
    state.parts += 1
    hdr_end, bs, fields = read_header(raw, start, end, top)
    ent = Entity(start, bs, end, fields)
    if top and hdr_end == start:
        state.errors.append("message has no header fields")

    ct_value = field(fields, "content-type")
    m = _CONTENT_TYPE.match(ct_value) if ct_value else None
    if m is not None and m.group(0).isascii():  # RFC 2045 §5.1: type and subtype are tokens
        ent.ctype = f"{m.group(1)}/{m.group(2)}".lower()
        ent.params = parse_params(ct_value[m.end() :])
        ent.ct_missing = False
    else:
        # RFC 2045 §5.2: missing or invalid Content-Type means text/plain; charset=us-ascii,
        # RFC 2046 §5.1.5: except inside multipart/digest, where it is message/rfc822.
        ent.ctype = default
    cte = field(fields, "content-transfer-encoding")
    if cte:
        ent.cte = cte.lower()

    if ent.ctype.startswith("multipart/"):
        _multipart(state, ent, depth)
    elif ent.ctype in MESSAGE_TYPES:
        if depth >= MAX_DEPTH or state.parts >= MAX_PARTS:
            _too_deep(state, ent)
        else:
            ent.children = [_entity(state, bs, end, depth + 1, "text/plain")]
    return ent


def _multipart(state: Walk, ent: Entity, depth: int) -> None:
    boundary = ent.param("boundary")
    if not boundary:
        state.errors.append(f"{ent.ctype} without boundary parameter")
        _as_text(ent)
        return
    if depth >= MAX_DEPTH or state.parts >= MAX_PARTS:
        _too_deep(state, ent)
        return
    ranges, _closed = split_multipart(
        state.raw, ent.bs, ent.be, boundary.encode("utf-8", "surrogateescape")
    )
    if not ranges:
        state.errors.append(f"{ent.ctype} boundary {boundary!r} not found")
        _as_text(ent)
        return
    # RFC 2046 §5.1.5: in a digest, parts default to message/rfc822.
    default = "message/rfc822" if ent.ctype == "multipart/digest" else "text/plain"
    if len(ranges) >= MAX_PARTS:
        state.errors.append(f"{ent.ctype} has {MAX_PARTS} parts or more")
    ent.children = [_entity(state, s, e, depth + 1, default) for s, e in ranges]


def _too_deep(state: Walk, ent: Entity) -> None:
    if not any(e.startswith("MIME nesting") for e in state.errors):
        state.errors.append(f"MIME nesting over {MAX_DEPTH} levels or over {MAX_PARTS} parts")
    if ent.ctype.startswith("multipart/"):
        _as_text(ent)
    else:
        ent.ctype = "application/octet-stream"
        ent.params = []
        ent.ct_missing = False


def _as_text(ent: Entity) -> None:
    """Show an unsplittable multipart as plain text, so its content stays readable."""
    ent.ctype = "text/plain"
    ent.params = []
    ent.ct_missing = True
    ent.children = []
