"""Who a message collected from a multi-drop ISP mailbox is for, from its header (pure).

Implementation notes:
- A multi-drop mailbox holds mail for many people and the SMTP envelope is gone; what is
  left are traces of it that ISPs add: Delivered-To, X-Original-To, X-Envelope-To,
  Envelope-To, and the ``for`` clause of the Received field the ISP added. These are the
  authoritative recipients, in that order of preference (the first field present wins).
- With several Delivered-To fields (several hops), the topmost is the one the collection
  ISP added, the last delivery before the mailbox.
- Only the TOP Received field is read, and a ``for`` clause without "@" is ignored (JUNO's
  ``for <182YSq…>`` is not a local user).
- To/Cc are the fallback: they name who the author wrote to, not who this copy is for
  (BCC and mailing-list mail name nobody local; that mail goes to the default recipient).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

ENVELOPE_FIELDS = ("Delivered-To", "X-Original-To", "X-Envelope-To", "Envelope-To")
_FOR = re.compile(r"\bfor\s+<?([^\s<>;\"]+@[^\s<>;\"]+)>?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Candidates:
    envelope: tuple[str, ...]  # from envelope traces, authoritative
    source: str  # which field gave them ("" if none)
    headers: tuple[str, ...]  # To and Cc, the fallback


def header_of(raw: bytes) -> bytes:
    """The header section (up to the first empty line, either line ending)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(sep)
        if end >= 0:
            return raw[:end + len(sep)]
    return raw


def detect(header: bytes) -> Candidates:
    message = BytesHeaderParser(policy=compat32).parsebytes(header_of(header))
    for name in ENVELOPE_FIELDS:
        values = message.get_all(name) or []
        if values:
            found = _addresses([_text(values[0])])
            if found:
                return Candidates(found, name, _fallback(message))
    received = message.get_all("Received") or []
    if received:
        match = _FOR.search(_text(received[0]))
        if match:
            return Candidates((match.group(1).lower().rstrip("."),), "Received",
                              _fallback(message))
    return Candidates((), "", _fallback(message))


def _fallback(message: object) -> tuple[str, ...]:
    values = [_text(v) for name in ("To", "Cc") for v in (message.get_all(name) or [])]
    return _addresses(values)


def _addresses(values: list[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for _, address in getaddresses(values):
        address = address.strip().strip("<>").lower()
        if "@" in address and " " not in address:
            out[address] = None
    return tuple(out)


def _text(value: object) -> str:
    return " ".join(str(value).split())
