"""Messages the user writes: built from the compose form, and read back from a draft.

Implementation notes:
- Built with ``EmailMessage`` and ``policy.default`` and serialised with CRLF
  (``policy.SMTP``), like mail that arrives over SMTP.
- Rich text is sanitised with its own small nh3 allow-list (what the editor can make, plus
  what a quoted message needs) and sent as multipart/alternative, text/plain first
  (RFC 2046 §5.1.4: the richest part last); the text part is made from the HTML.
- A draft keeps everything needed to edit it again in its own headers and parts: Bcc,
  In-Reply-To, References, the attachments (a forwarded message as message/rfc822).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from html import escape
from html.parser import HTMLParser

import nh3

from mailstore.outbox import ANSWERS, parse

TAGS = {"a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "hr", "i",
        "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
        "td", "th", "thead", "tr", "u", "ul"}
ATTRIBUTES = {"a": {"href", "title"}, "blockquote": {"type", "cite"},
              "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"},
              "ol": {"start"}, "div": {"class"}}


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class Draft:
    """The fields of the compose form, as the message will carry them."""

    sender: str = ""  # "Name <address>"
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    text: str = ""
    html: str | None = None  # None: plain text only
    in_reply_to: str = ""
    references: str = ""
    answers: str = ""  # "<folder id> <uid>" of the message a reply answers
    attachments: list[Attachment] = field(default_factory=list)


def clean_html(html: str) -> str:
    """The HTML we send: only what the editor makes and a quote needs, links kept safe."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer", strip_comments=True)


class _TextMaker(HTMLParser):
    """Readable plain text from the editor's HTML: paragraphs, "- " list items,
    "> " quotes, links as ``text <url>``."""

    BLOCKS = {"p", "div", "h1", "h2", "h3", "table", "tr", "pre", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.depth = 0
        self.lists: list[list[int]] = []  # per open list: [number or -1 for bullets]
        self.href: list[str | None] = []

    def _newline(self) -> None:
        self.lines.append("")

    def _ensure_break(self) -> None:
        if self.lines[-1].strip(" >"):
            self._newline()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline()
        elif tag == "blockquote":
            self._ensure_break()
            self.depth += 1
        elif tag in ("ul", "ol"):
            self._ensure_break()
            self.lists.append([1 if tag == "ol" else -1])
        elif tag == "li":
            self._ensure_break()
            marker = "- "
            if self.lists and self.lists[-1][0] > 0:
                marker = f"{self.lists[-1][0]}. "
                self.lists[-1][0] += 1
            self._text("  " * max(0, len(self.lists) - 1) + marker)
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
        elif tag in self.BLOCKS:
            self._ensure_break()

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._ensure_break()
            self.depth = max(0, self.depth - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._ensure_break()
        elif tag == "a":
            href = self.href.pop() if self.href else None
            if href and href.startswith(("http:", "https:")) and href not in self.lines[-1]:
                self._text(f" <{href}>")
        elif tag in self.BLOCKS or tag == "li":
            self._ensure_break()

    def handle_data(self, data: str) -> None:
        self._text(re.sub(r"\s+", " ", data.replace("\xa0", " ")))

    def _text(self, text: str) -> None:
        if not self.lines[-1]:
            if not text.strip():
                return
            self.lines[-1] = "> " * self.depth
            text = text.lstrip()
        self.lines[-1] += text

    def result(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).strip("\n") + "\n"


def html_to_plain(html: str) -> str:
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    return maker.result()


def text_to_quoted_html(text: str) -> str:
    """Plain text as HTML lines (for quoting a text message in a rich reply)."""
    return "<br>".join(escape(line) for line in text.rstrip("\n").split("\n"))


def addresses(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a To/Cc/Bcc field as the user typed it."""
    return [(n, a) for n, a in getaddresses([value.replace(";", ",")]) if n or a]


def address_problem(value: str) -> str | None:
    """Why a recipient field cannot be used, or None."""
    for name, addr in addresses(value):
        local, at, domain = addr.rpartition("@")
        if not at or not local or "." not in domain or " " in addr:
            return f"{addr or name!r} is not an email address"
        if not local.isascii():
            return (f"{addr!r} has characters outside ASCII before the @; ask for a plain "
                    "address")
        try:
            domain.encode("idna")
        except UnicodeError:
            return f"{addr!r} has a domain name that is not valid"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(value: str) -> str:
    """A header value as one line: a pasted line break or control character becomes a
    space (a header must not be able to start another header)."""
    return _CONTROL.sub(" ", value).strip()


def _header_addresses(value: str) -> list[Address]:
    """The addresses of a field; ones that cannot be written (no "@", say) are left out:
    Send refuses them with a message first (``address_problem``), a draft just drops them."""
    out = []
    for name, addr in addresses(one_line(value)):
        local, at, domain = addr.rpartition("@")
        if not at or not local or not domain or not local.isascii():
            continue
        try:
            domain = domain.encode("idna").decode("ascii")  # RFC 5891: IDNs as A-labels
            out.append(Address(display_name=name, username=local, domain=domain))
        except (ValueError, IndexError):
            continue
    return out


def build(draft: Draft, *, date: str | None = None) -> EmailMessage:
    """The message as it is stored in Drafts or sent (without Message-ID: see Outbox)."""
    message = EmailMessage(policy=policy.default)
    message["Date"] = date or formatdate(localtime=True)
    senders = _header_addresses(draft.sender)
    if senders:
        message["From"] = senders[:1]
    for header, value in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        found = _header_addresses(value)
        if found:
            message[header] = found
    message["Subject"] = one_line(draft.subject)
    # RFC 5322 §3.6.4: a reply names its parent and the chain of messages before it.
    for header, value in (("In-Reply-To", draft.in_reply_to),
                          ("References", draft.references), (ANSWERS, draft.answers)):
        if one_line(value):
            message[header] = one_line(value)
    if draft.html is not None:
        html = clean_html(draft.html)
        message.set_content(html_to_plain(html))
        message.add_alternative(f"<!doctype html><html><body>{html}</body></html>",
                                subtype="html")
    else:
        message.set_content(draft.text.replace("\r\n", "\n"))
    for attachment in draft.attachments:
        _attach(message, attachment)
    return message


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.content_type.partition("/")
    if maintype == "message" and subtype == "rfc822":
        message.add_attachment(parse(attachment.data), filename=attachment.filename)
        return
    if not subtype or maintype in ("multipart", "message"):
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                           filename=attachment.filename or "attachment")


def to_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=policy.SMTP)


def attachments_of(message: EmailMessage) -> list[Attachment]:
    """The parts a user attached (not the body, not inline pictures of an HTML body)."""
    found = []
    for part in message.iter_attachments():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes(policy=policy.SMTP) if isinstance(inner, list) \
                else bytes(part.get_content())
            found.append(Attachment(part.get_filename() or "forwarded.eml", content_type,
                                    data))
            continue
        data = part.get_payload(decode=True) or b""
        found.append(Attachment(part.get_filename() or "attachment", content_type, data))
    return found


def body_of(message: EmailMessage) -> tuple[str, str | None]:
    """(plain text, HTML or None) of a message's body."""
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    html = _content(html_part) if html_part is not None else None
    if text_part is not None:
        text = _content(text_part)
    else:
        text = html_to_plain(clean_html(html)) if html else ""
    return text, html


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""


def read_draft(raw: bytes) -> Draft:
    """A stored draft back as form fields."""
    message = parse(raw)
    text, html = body_of(message)
    if html is not None:
        match = re.search(r"<body[^>]*>(.*)</body>", html, re.S | re.I)
        html = clean_html(match.group(1) if match else html)
    return Draft(
        sender=str(message.get("From", "")), to=str(message.get("To", "")),
        cc=str(message.get("Cc", "")), bcc=str(message.get("Bcc", "")),
        subject=str(message.get("Subject", "")), text=text, html=html,
        in_reply_to=str(message.get("In-Reply-To", "")),
        references=str(message.get("References", "")),
        answers=str(message.get(ANSWERS, "")),
        attachments=attachments_of(message))


def estimated_size(draft: Draft) -> int:
    """About how big the message will be: attachments grow by a third in base64."""
    body = len(draft.text.encode()) + len((draft.html or "").encode()) * 2
    return body + sum(a.size * 4 // 3 + 300 for a in draft.attachments) + 2000
