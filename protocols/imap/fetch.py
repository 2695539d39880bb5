"""FETCH responses (RFC 9051 §6.4.5, §7.5.2) from the store's rows and cached parse.

Implementation notes:
- ENVELOPE, BODYSTRUCTURE and BODY come verbatim from the parse cached at delivery
  (``contents.envelope``/``bodystructure``/``body``); the blob is never parsed again.
- BODY[section] slices the stored blob with the cached section map (byte offsets), so a
  part of a 30 MB message costs one read and one slice. HEADER.FIELDS filters the header
  block of that range line by line; nothing else is decoded. BINARY undoes the part's
  transfer encoding (RFC 3516).
- The blob is read only when an item needs it (``needs_blob``), and once per message.
- Partial fetches ``<origin.length>`` answer with ``BODY[section]<origin>`` (RFC 9051 §7.5.2).
- A FETCH of only UID, FLAGS and MODSEQ (clients resynchronising whole folders) skips the
  row objects: ``render_flags`` turns the store's (uid, modseq, flags, keywords) tuples into
  the same lines as ``render`` (a property test holds them equal), so keep the two in step.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Container, Sequence

from mailstore.mime import find_part, section_bounds
from mailstore.mime.sections import BE, BS, CHILDREN, CTE, is_multipart
from mailstore.mime.transfer import decode
from mailstore.values import FetchRow
from protocols.imap import commands as C
from protocols.imap import responses as R

_CONTENT_ITEMS = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER",
                  "RFC822.TEXT", "BINARY", "BINARY.SIZE"}
_BLOB_ITEMS = {"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE"}
# RFC 9051 §6.4.5: these set \Seen (unless the mailbox is read-only).
_SETS_SEEN = {"RFC822", "RFC822.TEXT"}


class FetchFailed(Exception):
    """A requested part cannot be served (e.g. BINARY of an unknown encoding)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def needs_contents(items: Sequence[C.FetchItem]) -> bool:
    return any(i.name in _CONTENT_ITEMS for i in items)


def needs_blob(items: Sequence[C.FetchItem]) -> bool:
    return any(i.name in _BLOB_ITEMS or (i.name == "BODY" and i.section is not None)
               for i in items)


def sets_seen(items: Sequence[C.FetchItem]) -> bool:
    return any(i.name in _SETS_SEEN or (i.name in ("BODY", "BINARY") and i.section is not None
                                        and not i.peek) for i in items)


_FLAG_ITEMS = {"UID": b"UID %(u)d", "FLAGS": b"FLAGS %(f)s", "MODSEQ": b"MODSEQ (%(m)d)"}


def flags_only(items: Sequence[C.FetchItem]) -> bool:
    """True when every item is UID, FLAGS or MODSEQ: the store's four-column rows suffice."""
    return all(i.name in _FLAG_ITEMS for i in items)


def flags_template(items: Sequence[C.FetchItem], modseq: bool = False) -> bytes:
    """The ``* seq FETCH (...)`` line of a flags-only FETCH as a %-template over the keys
    s (sequence number), u (UID), f (flag list) and m (MODSEQ), items in the asked order."""
    parts = [_FLAG_ITEMS[i.name] for i in items]
    if modseq and not any(i.name == "MODSEQ" for i in items):
        parts.append(_FLAG_ITEMS["MODSEQ"])  # RFC 7162 §3.1.4.1, as in render
    return b"* %(s)d FETCH (" + b" ".join(parts) + b")\r\n"


def render_flags(
    rows: Sequence[tuple[int, int, int, str]], uids: Sequence[int], template: bytes,
    recent: Container[int] = (), changed_since: int | None = None,
) -> bytes:
    """The FETCH lines of ``rows`` (uid, modseq, flags, keywords; ascending UIDs) in one
    bytes; ``uids`` is the session's sequence map, rows not in it are left out.

    Same answer as ``render`` per row, for the hot whole-folder ``UID FETCH 1:* (UID
    FLAGS)`` of clients that resynchronise: one lookup of a per-call flag-list table per
    row, a walk through the sequence map instead of a search from its start, and one join.
    """
    lines: list[bytes] = []
    append = lines.append
    tables: tuple[dict[object, bytes], dict[object, bytes]] = ({}, {})  # by \Recent
    count = len(uids)
    at = 0
    for uid, modseq, mask, keywords in rows:
        if changed_since is not None and modseq <= changed_since:
            continue
        at = bisect_left(uids, uid, at)
        if at == count or uids[at] != uid:
            continue
        is_recent = uid in recent
        table = tables[is_recent]
        key = (mask, keywords) if keywords else mask
        flags = table.get(key)
        if flags is None:
            flags = table[key] = R.flag_list(mask, keywords, is_recent)
        append(template % {b"s": at + 1, b"u": uid, b"m": modseq, b"f": flags})
    return b"".join(lines)


def render(
    seq: int, row: FetchRow, items: Sequence[C.FetchItem], raw: Callable[[], bytes],
    modseq: bool = False, recent: Container[int] = (),
) -> bytes:
    """One ``* seq FETCH (...)`` line (with literals) for one message; ``recent`` holds the
    UIDs that are \\Recent to this session."""
    out: list[bytes] = []
    sections = None
    for item in items:
        name = item.name
        if name == "UID":
            out.append(b"UID " + str(row.uid).encode())
        elif name == "FLAGS":
            out.append(b"FLAGS " + R.flag_list(row.flags, row.keywords, row.uid in recent))
        elif name == "INTERNALDATE":
            out.append(b"INTERNALDATE " + R.internal_date(row.internal_date))
        elif name == "RFC822.SIZE":
            out.append(b"RFC822.SIZE " + str(row.size).encode())
        elif name == "ENVELOPE":
            out.append(b"ENVELOPE " + row.envelope.encode("utf-8", "surrogateescape"))
        elif name == "BODYSTRUCTURE":
            out.append(b"BODYSTRUCTURE " + row.bodystructure.encode("utf-8", "surrogateescape"))
        elif name == "BODY" and item.section is None:
            out.append(b"BODY " + row.body.encode("utf-8", "surrogateescape"))
        elif name == "MODSEQ":
            out.append(b"MODSEQ (" + str(row.modseq).encode() + b")")
        elif name == "RFC822":
            out.append(b"RFC822 " + R.literal(raw()))
        elif name == "RFC822.HEADER":
            sections = sections or json.loads(row.sections)
            start, end = section_bounds(sections, "", "HEADER") or (0, 0)
            out.append(b"RFC822.HEADER " + R.literal(raw()[start:end]))
        elif name == "RFC822.TEXT":
            sections = sections or json.loads(row.sections)
            start, end = section_bounds(sections, "", "TEXT") or (0, 0)
            out.append(b"RFC822.TEXT " + R.literal(raw()[start:end]))
        elif name == "BODY":
            sections = sections or json.loads(row.sections)
            out.append(_body_section(item, raw(), sections))
        elif name in ("BINARY", "BINARY.SIZE"):
            sections = sections or json.loads(row.sections)
            out.append(_binary(item, raw(), sections))
    if modseq and not any(i.name == "MODSEQ" for i in items):
        # RFC 7162 §3.1.4.1: once CONDSTORE is on, every FETCH carries MODSEQ.
        out.append(b"MODSEQ (" + str(row.modseq).encode() + b")")
    return b"* " + str(seq).encode() + b" FETCH (" + b" ".join(out) + b")\r\n"


def _partial(item: C.FetchItem, data: bytes) -> tuple[bytes, bytes]:
    if item.partial is None:
        return b"", data
    origin, length = item.partial
    return b"<" + str(origin).encode() + b">", data[origin:origin + length]


def _body_section(item: C.FetchItem, raw: bytes, sections: object) -> bytes:
    section = item.section or C.Section()
    part = ".".join(str(n) for n in section.part)
    which = section.text
    bounds = section_bounds(sections, part, which)
    data = b"" if bounds is None else raw[bounds[0]:bounds[1]]
    if which.startswith("HEADER.FIELDS") and bounds is not None:
        data = filter_header(data, section.fields, which.endswith(".NOT"))
    suffix, data = _partial(item, data)
    name = b"BODY[" + section.render().encode() + b"]" + suffix
    return name + b" " + R.literal(data)


def _binary(item: C.FetchItem, raw: bytes, sections: object) -> bytes:
    section = item.section or C.Section()
    part = ".".join(str(n) for n in section.part)
    if not part:
        data = raw  # RFC 3516 §4.2: BINARY[] is the whole message, nothing to decode
    else:
        node = find_part(sections, part)
        if node is None:
            data = b""
        elif is_multipart(node) or node[CHILDREN]:
            data = raw[node[BS]:node[BE]]
        else:
            if node[CTE] not in ("7bit", "8bit", "binary", "base64", "quoted-printable"):
                # RFC 3516 §4.3: a content-transfer-encoding we cannot undo
                raise FetchFailed("UNKNOWN-CTE", f"part {part} has an unknown encoding")
            data = decode(raw[node[BS]:node[BE]], node[CTE])
    label = section.render().encode()
    if item.name == "BINARY.SIZE":
        return b"BINARY.SIZE[" + label + b"] " + str(len(data)).encode()
    suffix, data = _partial(item, data)
    return b"BINARY[" + label + b"]" + suffix + b" " + R.literal(data)


def filter_header(block: bytes, names: Sequence[str], exclude: bool) -> bytes:
    """Fields of a header block named in ``names`` (or not, for .NOT), plus the blank line.

    RFC 9051 §6.4.5: HEADER.FIELDS returns the subset of the header with those fields,
    field names compared case-insensitively; the result ends with the empty line.
    """
    wanted = {n.upper() for n in names}
    out: list[bytes] = []
    keep = False
    for line in block.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        field_name = line.split(b":", 1)[0].strip().upper().decode("ascii", "replace")
        keep = (field_name in wanted) != exclude and b":" in line
        if keep:
            out.append(line)
    out.append(b"\r\n")
    return b"".join(out)
