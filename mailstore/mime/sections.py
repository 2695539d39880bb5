"""The cached section map of a message, and IMAP section lookups on it (RFC 9051 §6.4.5).

Shape of ``sections`` (JSON-serialisable; tuples in memory, lists after a JSON round trip,
both accepted everywhere): one node per MIME entity, the root node being the message::

    (hs, bs, be, content_type, charset, cte, disposition, filename, content_id, children)

    hs, bs, be    int  byte offsets into the raw message: header block [hs, bs) including
                       the blank line that ends it, body [bs, be)
    content_type  str  lowercase "type/subtype" as interpreted (defaults applied; a
                       multipart that cannot be split is "text/plain")
    charset       str  lowercase charset parameter, "" if none
    cte           str  lowercase Content-Transfer-Encoding, "7bit" if none
    disposition   str  lowercase Content-Disposition type, "" if none
    filename      str  decoded filename (disposition filename, else Content-Type name)
    content_id    str  Content-ID without <>, "" if none
    children      tuple  multipart: its parts in order; message/rfc822 or message/global:
                       one node, the encapsulated message (whose hs equals the part's bs);
                       otherwise empty

Part numbers follow IMAP: the parts of a multipart message are 1..n, a non-multipart
message's body is part 1, and the parts of an encapsulated message are numbered below its
part (2.1, 2.2...; 2.1 is its body when it is not multipart).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from .charsets import decode_text
from .structure import MESSAGE_TYPES
from .transfer import decode

HS, BS, BE, CTYPE, CHARSET, CTE, DISPOSITION, FILENAME, CONTENT_ID, CHILDREN = range(10)

Node = Sequence[Any]


def is_multipart(node: Node) -> bool:
    return bool(node[CHILDREN]) and node[CTYPE].startswith("multipart/")


def is_message(node: Node) -> bool:
    return bool(node[CHILDREN]) and node[CTYPE] in MESSAGE_TYPES


NumberedPart = tuple[str, Node, "Node | None", bool]


def iter_parts(sections: Node) -> Iterator[NumberedPart]:
    """Every addressable part as (number, node, parent node, inside an encapsulated
    message), in document order. A multipart root is yielded first with number ""."""
    yield from _numbered(sections, "" if is_multipart(sections) else "1", None, False)


def _numbered(
    node: Node, number: str, parent: Node | None, encapsulated: bool
) -> Iterator[NumberedPart]:
    yield number, node, parent, encapsulated
    if is_multipart(node):
        prefix = number + "." if number else ""
        for i, child in enumerate(node[CHILDREN], 1):
            yield from _numbered(child, f"{prefix}{i}", node, encapsulated)
    elif is_message(node):
        inner = node[CHILDREN][0]
        if is_multipart(inner):
            for i, child in enumerate(inner[CHILDREN], 1):
                yield from _numbered(child, f"{number}.{i}", inner, True)
        else:
            yield from _numbered(inner, f"{number}.1", node, True)


def _pick(container: Node, n: int, message_level: bool) -> Node | None:
    if is_multipart(container):
        children = container[CHILDREN]
        return children[n - 1] if 1 <= n <= len(children) else None
    # RFC 9051 §6.4.5: a message that is not multipart has only part 1, its body.
    if message_level and n == 1:
        return container
    return None


def find_part(sections: Node, part: str) -> Node | None:
    """Node addressed by an IMAP part number ("" is the message), or None."""
    if not part:
        return sections
    numbers = part.split(".")
    if not all(n.isdigit() and n.isascii() for n in numbers):
        return None
    node = _pick(sections, int(numbers[0]), True)
    for n in numbers[1:]:
        if node is None:
            return None
        if is_multipart(node):
            node = _pick(node, int(n), False)
        elif is_message(node):
            # RFC 9051 §6.4.5: parts of an encapsulated message are numbered below it.
            node = _pick(node[CHILDREN][0], int(n), True)
        else:
            return None
    return node


def section_bounds(sections: Node, part: str, which: str = "") -> tuple[int, int] | None:
    """(start, end) offsets into the raw message of BODY[part.which], or None.

    ``which`` is "" (the part's content), "MIME" (the part's MIME header), "HEADER" or
    "TEXT" (header / body of the message: of the whole message for part "", of the
    encapsulated message for a message/rfc822 part; RFC 9051 §6.4.5). HEADER.FIELDS and
    HEADER.FIELDS.NOT give the HEADER range; the caller filters the fields.
    """
    which = which.upper()
    if which.startswith("HEADER.FIELDS"):
        which = "HEADER"
    node = find_part(sections, part)
    if node is None:
        return None
    if not part:
        if which == "":
            return node[HS], node[BE]
        if which == "HEADER":
            return node[HS], node[BS]
        if which == "TEXT":
            return node[BS], node[BE]
        return None  # RFC 9051 §6.4.5: MIME needs a part number
    if which == "":
        return node[BS], node[BE]
    if which == "MIME":
        return node[HS], node[BS]
    if which in ("HEADER", "TEXT") and is_message(node):
        inner = node[CHILDREN][0]
        return (inner[HS], inner[BS]) if which == "HEADER" else (inner[BS], inner[BE])
    return None


def decode_part(raw: bytes, sections: Node, part: str) -> bytes:
    """Content of one part with its transfer encoding (base64, quoted-printable) undone.

    Raises KeyError when the message has no such part.
    """
    node = find_part(sections, part)
    if node is None:
        raise KeyError(f"Message has no part {part!r}; part numbers come from message_parts()")
    return decode(raw[node[BS] : node[BE]], node[CTE])


def part_text(raw: bytes, sections: Node, part: str) -> str:
    """Decoded text of one text/* part (HTML stays HTML); bogus charsets fall back to UTF-8
    then Latin-1. Raises KeyError when the message has no such part."""
    node = find_part(sections, part)
    if node is None:
        raise KeyError(f"Message has no part {part!r}; part numbers come from message_parts()")
    return decode_text(decode(raw[node[BS] : node[BE]], node[CTE]), node[CHARSET])


class PartInfo(NamedTuple):
    part: str  # IMAP part number
    content_type: str  # lowercase type/subtype
    charset: str  # lowercase, "" if none
    filename: str  # decoded, "" if none
    disposition: str  # "inline", "attachment" or ""
    content_id: str  # without <>, "" if none
    encapsulated: bool  # inside a message/rfc822 part (a forwarded message)


def message_parts(sections: Node) -> list[PartInfo]:
    """Every non-multipart part in document order, for the webmail's part list."""
    return [
        PartInfo(
            number,
            node[CTYPE],
            node[CHARSET],
            node[FILENAME],
            node[DISPOSITION],
            node[CONTENT_ID],
            encapsulated,
        )
        for number, node, _parent, encapsulated in iter_parts(sections)
        if not is_multipart(node) and number
    ]


_BODY_TYPES = ("text/plain", "text/html")


def _is_body_leaf(node: Node) -> bool:
    return (
        node[CTYPE] in _BODY_TYPES
        and node[DISPOSITION] != "attachment"
        and not node[FILENAME]
        and not node[CHILDREN]
    )


def display_parts(sections: Node, prefer: str = "text/html") -> list[str]:
    """Part numbers that make up the readable body, in order.

    RFC 2046 §5.1.4: of a multipart/alternative the richest acceptable part wins; here the
    last one of type ``prefer`` ("text/html" or "text/plain"), else the last text part.
    RFC 2387: a multipart/related shows its root (first) part. multipart/signed and
    multipart/encrypted show their first part. Other multiparts (mixed, digest, report...)
    show each inline text part in turn; attachments and forwarded messages are not body.
    """
    found = _display(sections, "" if is_multipart(sections) else "1", prefer)
    return [number for number, _ctype in found]


def _display(node: Node, number: str, prefer: str) -> list[tuple[str, str]]:
    """(number, content type) of the body leaves below ``node``; each node visited once."""
    if not is_multipart(node):
        return [(number, node[CTYPE])] if _is_body_leaf(node) else []
    prefix = number + "." if number else ""
    children = [(f"{prefix}{i}", child) for i, child in enumerate(node[CHILDREN], 1)]
    subtype = node[CTYPE]
    if subtype == "multipart/alternative":
        options = [found for found in (_display(c, n, prefer) for n, c in children) if found]
        for found in reversed(options):
            if found[0][1] == prefer:
                return found
        return options[-1] if options else []
    if subtype in ("multipart/related", "multipart/signed", "multipart/encrypted"):
        return _display(children[0][1], children[0][0], prefer)
    out: list[tuple[str, str]] = []
    for num, child in children:
        out.extend(_display(child, num, prefer))
    return out
