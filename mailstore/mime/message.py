"""The values parse_message returns: what the store caches for every message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    part: str  # IMAP section number, e.g. "2" or "1.3"
    filename: str  # decoded (RFC 2231 / encoded-words); "" if none
    content_type: str  # lowercase "type/subtype"
    size: int  # decoded size in bytes (after base64/QP decoding)
    content_id: str  # without <>; "" if none
    inline: bool  # disposition inline, or no disposition + Content-ID inside multipart/related


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """Everything derived from the raw bytes at delivery; see parse.parse_message.

    - ``envelope``, ``bodystructure``, ``body``: ready-made IMAP texts (RFC 9051 §7.5.2),
      to be sent UTF-8 encoded: literals ``{n}`` count UTF-8 bytes. Header text in them is
      raw (encoded-words kept); raw 8-bit header bytes that are not UTF-8 are transcoded
      from the message's own charset (else cp1252). Line counts count an unterminated last
      line.
    - ``sections``: the section map (shape in sections.py), for section_bounds & co.
    - ``date``: timezone-aware; a Date without zone ("-0000") is UTC; None if unusable.
    - ``subject``/``from_display``/``search_*``: decoded, one line each.
    - ``sort_*``: RFC 5256 addr-mailbox (local part) of the first address, lowercase.
    - ``search_body``: every text/* leaf (forwarded messages included), HTML reduced to
      text, joined by "\n", at most 1,000,000 characters; the HTML alternative is skipped
      when a real (>= 256 characters) text/plain alternative precedes it.
    - ``header_text``: the top-level header block as text for SEARCH HEADER: LF line
      endings, one unfolded field per line, encoded-words decoded.
    - ``preview``: up to 200 characters of the displayed body, quotes and signature skipped.
    - ``parse_error``: None, or why the structure is only a best effort (the message is
      still stored and served).

    All strings are valid Unicode (no lone surrogates), so they can be stored as UTF-8.
    """

    envelope: str
    bodystructure: str
    body: str
    sections: tuple
    date: datetime | None
    subject: str
    subject_base: str
    from_display: str
    from_addr: str
    sort_from: str
    sort_to: str
    sort_cc: str
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    search_from: str
    search_to: str
    search_cc: str
    search_bcc: str
    search_body: str
    header_text: str
    preview: str
    attachments: tuple[Attachment, ...]
    parse_error: str | None
