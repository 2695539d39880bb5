"""Parse a raw RFC 5322 message once, at delivery, into everything the store caches.

A pure package: functions of bytes, no I/O, no database. ``parse_message`` never raises.
The section map it returns lets IMAP FETCH slice the stored blob later
(``section_bounds``) and the webmail decode one part (``decode_part``, ``part_text``,
``message_parts``, ``display_parts``) without parsing the message again.

Modules, one concept each:
    structure     byte-offset MIME tree (header/body split, boundaries, nesting limits)
    headers       header fields, unfolding, parameters, RFC 2047 / RFC 2231 decoding
    addresses     RFC 5322 address lists, tolerant, raw parts kept for ENVELOPE
    envelope      IMAP ENVELOPE text
    bodystructure IMAP BODYSTRUCTURE / BODY text
    imapstring    IMAP quoted strings and literals
    sections      the cached section map and the lookups on it
    charsets      charset labels to codecs, decoding that never fails
    transfer      base64 / quoted-printable
    htmltext      HTML to searchable text
    text          search body and preview
    subject       RFC 5256 base subject
    parse         parse_message: assembly of ParsedMessage
"""

from __future__ import annotations

from .message import Attachment, ParsedMessage
from .parse import parse_message
from .sections import (
    PartInfo,
    decode_part,
    display_parts,
    find_part,
    message_parts,
    part_text,
    section_bounds,
)

__all__ = [
    "Attachment",
    "ParsedMessage",
    "PartInfo",
    "decode_part",
    "display_parts",
    "find_part",
    "message_parts",
    "parse_message",
    "part_text",
    "section_bounds",
]
