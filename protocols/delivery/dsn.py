"""Delivery status notifications (bounces and delay notices): RFC 3464 in RFC 6522 reports.

Pure functions of their arguments: ``build_report`` writes the notification, ``may_bounce``
says whether one may be sent at all.

Implementation notes:
- The report is written byte by byte, not through ``email.message``: the original's header
  block is copied as it came (long lines, 8-bit bytes, malformed fields), and the email
  package may refold or reject such headers. Only line endings become CRLF (SMTP needs it).
- The MIME boundary is chosen so that it occurs nowhere in the original, so nothing in the
  original can end a part early.
- RFC 3464 §2.1.3: the delivery-status fields are US-ASCII. A remote reply with other bytes
  keeps them in the human-readable part (UTF-8, quoted-printable) and shows ``?`` in the
  machine-readable one. An address with non-ASCII characters uses the RFC 6533 ``utf-8``
  address type with ``\\x{HEX}`` escapes.
- Users blame their own server for the remote server's refusals (VPOP3's "SMTP error 553"
  pages): the human-readable text quotes the remote host as the one that said it.
- Never a bounce of a bounce (RFC 3461 §6.2, RFC 5321 §6.1): no report to the null sender, to
  MAILER-DAEMON, or about a message that is itself a delivery report.
"""

from __future__ import annotations

import quopri
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime

__all__ = ["RecipientStatus", "build_report", "decode_xtext", "may_bounce", "orcpt_address"]

ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
_REPLY = re.compile(r"^\s*([245])\d\d[ -]?(?:([245])\.(\d{1,3})\.(\d{1,3})\b)?")
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """What happened to one recipient, as the queue runner saw it."""

    recipient: str  # Final-Recipient address
    action: str  # "failed" | "delayed" | "delivered" | "relayed" | "expanded"
    status: str  # e.g. "5.1.1"; the reply's enhanced code wins when it has one
    diagnostic: str = ""  # the remote server's reply text, e.g. "550 5.1.1 <x@y>: no such user"
    remote_mta: str = ""  # the host that answered ("" when none did, e.g. DNS failure)
    original_recipient: str = ""  # ORCPT (already decoded) when the client gave one
    last_attempt: int | None = None  # unix time
    will_retry_until: int | None = None  # for delayed


# Public helpers ---------------------------------------------------------------------------

def decode_xtext(text: str) -> str:
    """RFC 3461 §4: ``+HH`` stands for the byte HH (ENVID and ORCPT are sent this way)."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def orcpt_address(param: str) -> str:
    """The address of an ORCPT parameter (``rfc822;ann+2Bnews@example.com`` →
    ``ann+news@example.com``); "" when it has no address type (RFC 3461 §4.2)."""
    kind, sep, address = param.partition(";")
    if not sep or not kind.strip():
        return ""
    return decode_xtext(address.strip())


def may_bounce(mail_from: str, original: bytes) -> bool:
    """Whether a delivery report about ``original`` may be sent to ``mail_from``."""
    sender = mail_from.strip().removeprefix("<").removesuffix(">").strip()
    if not sender:
        return False
    local = sender.rpartition("@")[0] or sender
    if local.lower() == "mailer-daemon":
        return False
    return not _is_delivery_report(original)


def _is_delivery_report(original: bytes) -> bool:
    head = _header_block(original)
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        if headers.get_content_type() != "multipart/report":
            return False
        kind = headers.get_param("report-type", "", header="content-type")
    except Exception:  # a header the parser cannot read is not a report header
        return False
    if isinstance(kind, tuple):  # RFC 2231 encoded parameter
        kind = kind[2]
    return str(kind).strip().lower() in ("delivery-status", "global-delivery-status")


# The report -------------------------------------------------------------------------------

def build_report(*, reporting_mta: str, to: str, original: bytes,
                 recipients: Sequence[RecipientStatus], arrival: int,
                 envelope_id: str = "", return_full: bool = False,
                 now: int | None = None) -> bytes:
    """The complete notification (CRLF line endings) to send to ``to`` from the null sender."""
    now = int(time.time()) if now is None else now
    actions = {r.action for r in recipients}
    if "failed" in actions:
        subject = "Undelivered Mail Returned to Sender"
    elif "delayed" in actions:
        subject = "Delayed Mail (still being retried)"
    else:
        subject = "Successful Mail Delivery Report"

    text = _human_text(reporting_mta, recipients, return_full).encode("utf-8")
    text_part, text_cte = _text_body(text)
    status_part = _status_fields(reporting_mta, recipients, arrival, envelope_id)
    if return_full:
        content = _crlf(original)
        if content and not content.endswith(b"\r\n"):
            content += b"\r\n"
        original_type = "message/rfc822"
    else:
        content = _crlf(_header_block(original))
        original_type = "text/rfc822-headers"
    original_cte = _cte(content)
    outer_cte = original_cte  # the text and status parts are 7bit
    boundary = _boundary((original, text_part, status_part), now)

    head = [
        f"From: Mail Delivery System <MAILER-DAEMON@{_ascii(reporting_mta)}>",
        f"To: <{_printable(to)}>",
        f"Date: {_date(now)}",
        f"Message-ID: <{now}.{secrets.token_hex(8)}@{_ascii(reporting_mta)}>",
        f"Subject: {subject}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
        f"Content-Transfer-Encoding: {outer_cte}",
    ]
    out = "\r\n".join(head).encode("utf-8") + b"\r\n\r\n"
    out += b"This is a MIME-encapsulated message.\r\n\r\n"
    out += _part(boundary, ["Content-Description: Notification",
                            "Content-Type: text/plain; charset=utf-8",
                            f"Content-Transfer-Encoding: {text_cte}"], text_part)
    out += _part(boundary, ["Content-Description: Delivery report",
                            "Content-Type: message/delivery-status"], status_part)
    out += _part(boundary, [f"Content-Description: {_original_description(return_full)}",
                            f"Content-Type: {original_type}",
                            f"Content-Transfer-Encoding: {original_cte}"], content)
    return out + f"--{boundary}--\r\n".encode()


def _original_description(full: bool) -> str:
    return "Undelivered Message" if full else "Undelivered Message Headers"


def _part(boundary: str, headers: list[str], body: bytes) -> bytes:
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    # RFC 2046 §5.1.1: the CRLF before the next boundary belongs to the boundary, so the
    # part's own last line end needs one more.
    return (f"--{boundary}\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode() + body \
        + b"\r\n"


def _boundary(contents: tuple[bytes, ...], now: int) -> str:
    while True:
        # "=_" never occurs in quoted-printable text.
        boundary = f"=_{now}.{secrets.token_hex(12)}"
        if not any(boundary.encode() in content for content in contents):
            return boundary


def _human_text(reporting_mta: str, recipients: Sequence[RecipientStatus],
                full: bool) -> str:
    failed = [r for r in recipients if r.action == "failed"]
    delayed = [r for r in recipients if r.action == "delayed"]
    done = [r for r in recipients if r.action in ("delivered", "relayed", "expanded")]
    lines = [f"This is the mail system at {reporting_mta}.", ""]
    if failed:
        lines += ["Your message could not be delivered to the recipients below. It will not",
                  "be tried again.", ""]
        if any(r.remote_mta for r in failed):
            lines += ["The reason is the answer of the receiving mail server, quoted after",
                      '"said:". That error comes from the other server, not from '
                      f"{reporting_mta}.", ""]
        lines += [_recipient_line(r) for r in failed] + [""]
    if delayed:
        until = [r.will_retry_until for r in delayed if r.will_retry_until]
        lines += ["Your message has not been delivered yet to the recipients below."]
        if until:
            lines += [f"{reporting_mta} keeps trying until {_date(max(until))};",
                      "you do not need to send it again. If it still cannot be delivered by",
                      "then, you will get another message."]
        else:
            lines += [f"{reporting_mta} keeps trying; you do not need to send it again."]
        lines += [""] + [_recipient_line(r) for r in delayed] + [""]
    if done:
        lines += ["Your message was delivered to the recipients below.", ""]
        lines += [_recipient_line(r) for r in done] + [""]
    attached = "the original message" if full else "the original message's headers"
    lines += [f"The delivery report and {attached} are attached."]
    return "\r\n".join(lines) + "\r\n"


def _recipient_line(r: RecipientStatus) -> str:
    reply = "\r\n    ".join(line.strip() for line in _clean(r.diagnostic).splitlines()
                            if line.strip())
    if r.remote_mta and reply:
        return f"<{r.recipient}>: {r.remote_mta} said:\r\n    {reply}"
    if reply:
        return f"<{r.recipient}>: {reply}"
    return f"<{r.recipient}>: status {_status(r)}"


def _text_body(text: bytes) -> tuple[bytes, str]:
    if text.isascii() and all(len(line) <= 998 for line in text.split(b"\r\n")):
        return text, "7bit"
    return _crlf(quopri.encodestring(text.replace(b"\r\n", b"\n"))), "quoted-printable"


def _status_fields(reporting_mta: str, recipients: Sequence[RecipientStatus], arrival: int,
                   envelope_id: str) -> bytes:
    # RFC 3464 §2.2: per-message fields, then one block per recipient (§2.3).
    blocks = [[f"Reporting-MTA: dns; {_ascii(reporting_mta)}"]]
    if envelope_id:
        blocks[0].append(f"Original-Envelope-Id: {_ascii(envelope_id)}")
    blocks[0].append(f"Arrival-Date: {_date(arrival)}")
    for r in recipients:
        block = [f"Final-Recipient: {_address_field(r.recipient)}"]
        if r.original_recipient:
            original = r.original_recipient
            if original.lower().startswith("rfc822;"):
                original = original[len("rfc822;"):].strip()
            block.append(f"Original-Recipient: {_address_field(original)}")
        action = r.action if r.action in ACTIONS else "failed"
        block += [f"Action: {action}", f"Status: {_status(r)}"]
        if r.remote_mta:
            block.append(f"Remote-MTA: dns; {_ascii(r.remote_mta)}")
        if r.diagnostic.strip():
            diagnostic = _ascii(" ".join(r.diagnostic.split()))
            kind = "smtp" if _REPLY.match(diagnostic) else "X-Tidings"
            block.append(_fold(f"Diagnostic-Code: {kind}; {diagnostic}"))
        if r.last_attempt is not None:
            block.append(f"Last-Attempt-Date: {_date(r.last_attempt)}")
        if r.will_retry_until is not None and action == "delayed":
            block.append(f"Will-Retry-Until: {_date(r.will_retry_until)}")
        blocks.append(block)
    return b"".join(("\r\n".join(b) + "\r\n\r\n").encode("ascii") for b in blocks)[:-2]


def _status(r: RecipientStatus) -> str:
    """RFC 3463 status: the reply's enhanced code, unless the one given is of another class
    (a temporary failure the queue gave up on is permanent now); else the one given; else
    from the reply's basic code or the action."""
    given = r.status.strip() if _STATUS.match(r.status.strip()) else ""
    match = _REPLY.match(r.diagnostic)
    if match and match.group(2) == match.group(1) and \
            not (given and given[0] != match.group(2)):
        return f"{match.group(2)}.{match.group(3)}.{match.group(4)}"
    if given:
        return given
    if match:
        return f"{match.group(1)}.0.0"
    return {"failed": "5.0.0", "delayed": "4.0.0"}.get(r.action, "2.0.0")


def _address_field(address: str) -> str:
    if address.isascii():
        return f"rfc822; {_ascii(address)}"
    # RFC 6533 §3: utf-8-addr-xtext, non-ASCII (and "\") as \x{HEX}.
    escaped = "".join(
        c if c.isascii() and c.isprintable() and c != "\\" else f"\\x{{{ord(c):X}}}"
        for c in address)
    return f"utf-8; {escaped}"


def _fold(field: str, width: int = 78) -> str:
    """Folds a long field at spaces (RFC 5322 §2.2.3), so no line passes 998 characters."""
    words, lines, line = field.split(" "), [], ""
    for word in words:
        while len(word) > 990:  # a word that cannot fit a line: split it hard
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:990])
            word = word[990:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(x for x in lines if x)


def _date(timestamp: int) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, UTC))


def _clean(text: str) -> str:
    """Printable text (tabs and line breaks kept) for the human-readable part."""
    return "".join(c if c.isprintable() or c in "\t\n" else ("\n" if c == "\r" else "?")
                   for c in text)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _ascii(text: str) -> str:
    """US-ASCII printable characters only, for the fields of the delivery-status part."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _header_block(raw: bytes) -> bytes:
    """Everything before the first empty line (all of it when there is none)."""
    match = _HEADER_END.search(raw)
    if raw.startswith((b"\r\n", b"\n")):
        return b""
    return raw[: match.start()] + b"\n" if match else raw


def _crlf(data: bytes) -> bytes:
    return _LINE_END.sub(b"\r\n", data)


def _cte(data: bytes) -> str:
    if any(len(line) > 998 for line in data.split(b"\r\n")):
        return "binary"
    return "7bit" if data.isascii() else "8bit"
