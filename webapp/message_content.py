"""What the message page shows of one opened message: the readable body (HTML or plain
text), the pictures the HTML embeds, and the attachments.

Only the opened message's blob is read here, and only the parts that are shown: the
section map cached at delivery says where each part sits, so nothing is parsed again.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from mailstore.mime import decode_part, display_parts, message_parts, part_text
from mailstore.values import StoredMessage

# Pictures embedded as data: URLs make the body document bigger; past this they are left out.
MAX_INLINE_IMAGE = 5 * 1024 * 1024
_SAFE_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    part: str
    filename: str
    content_type: str
    size: int
    content_id: str
    inline: bool

    @property
    def label(self) -> str:
        return self.filename or f"part {self.part} ({self.content_type})"


@dataclass(frozen=True, slots=True)
class Body:
    """The readable body: ``html`` when the sender wrote HTML (not yet sanitised),
    ``text`` when there is a plain-text version. Either or both may be None."""

    html: str | None
    text: str | None


def safe_content_type(content_type: str) -> str:
    """The declared type if it is a plain token/token, else application/octet-stream."""
    value = content_type.strip().lower()
    return value if _SAFE_TYPE.match(value) else "application/octet-stream"


def attachments(message: StoredMessage) -> list[AttachmentInfo]:
    """The attachment list cached at delivery."""
    try:
        rows = json.loads(message.attachments or "[]")
    except ValueError:
        return []
    return [AttachmentInfo(
        part=str(r.get("part", "")), filename=str(r.get("filename") or ""),
        content_type=str(r.get("content_type") or "application/octet-stream"),
        size=int(r.get("size") or 0), content_id=str(r.get("content_id") or ""),
        inline=bool(r.get("inline"))) for r in rows if isinstance(r, dict)]


def sections_of(message: StoredMessage) -> list:
    return json.loads(message.sections)


def read_body(raw: bytes, sections: list) -> Body:
    """RFC 2046 §5.1.4: show the richest alternative (HTML) and keep the plain one for
    the "plain text" view; text parts beside an HTML part are shown as preformatted."""
    types = {p.part: p.content_type for p in message_parts(sections)}
    html_view = display_parts(sections, "text/html")
    html: str | None = None
    if any(types.get(n) == "text/html" for n in html_view):
        pieces = []
        for number in html_view:
            text = part_text(raw, sections, number)
            pieces.append(text if types.get(number) == "text/html"
                          else f"<pre>{escape(text, quote=False)}</pre>")
        html = "\n".join(pieces)
    text_view = display_parts(sections, "text/plain")
    text: str | None = None
    if text_view and all(types.get(n) == "text/plain" for n in text_view):
        text = "\n\n".join(part_text(raw, sections, n) for n in text_view)
    return Body(html=html, text=text)


def inline_images(
    raw: bytes, sections: list, found: list[AttachmentInfo]
) -> Callable[[str], str | None]:
    """A function mapping a Content-ID to a data: URL of that picture, or None."""
    by_cid = {a.content_id: a for a in found if a.content_id}

    def lookup(cid: str) -> str | None:
        attachment = by_cid.get(cid) or by_cid.get(cid.strip("<>"))
        if attachment is None or attachment.content_type not in _IMAGE_TYPES \
                or attachment.size > MAX_INLINE_IMAGE:
            return None
        try:
            data = decode_part(raw, sections, attachment.part)
        except KeyError:
            return None
        return f"data:{attachment.content_type};base64,{base64.b64encode(data).decode()}"

    return lookup


def shown_attachments(found: list[AttachmentInfo], html: str | None) -> list[AttachmentInfo]:
    """Attachments to list under the message: all but the pictures the HTML body shows."""
    return [a for a in found
            if not (a.inline and a.content_id and html and f"cid:{a.content_id}" in html)]


def attachment_data(raw: bytes, sections: list, attachment: AttachmentInfo) -> bytes:
    return decode_part(raw, sections, attachment.part)
