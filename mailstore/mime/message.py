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

    ``envelope`` and ``bodystructure`` / ``body`` are ready-made IMAP texts to be sent
    UTF-8 encoded (literal lengths count UTF-8 bytes). ``sections`` is the section map
    described in sections.py.
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
