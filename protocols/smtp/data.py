"""Reading the DATA of an SMTP transaction (RFC 5321 §4.1.1.4, §4.5.2).

Implementation notes:
- The data ends at the first line that is a lone dot, where lines end with CRLF only: a
  dot after a bare LF or CR does not end it (SMTP smuggling; the caller then rejects the
  bare line end).
- The stream is read in pieces that each end with ``.<CRLF>`` (or at the reader's limit),
  not line by line: a 10 KB message is one read instead of ~130, and a read returns at
  the terminator, so what the client sent after it (a pipelined QUIT, say) stays in the
  reader for the next command.
- Dot-stuffing is undone on the whole message at the end: one leading dot is removed from
  every line.
- An over-size message is read to its end (the client gets a 552 with its real size, not a
  broken pipe) but its bytes are not kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from protocols.smtp.headers import bare_line_end

_TERMINATOR = b".\r\n"


@dataclass(frozen=True, slots=True)
class DataReceived:
    content: bytes
    size: int  # after dot-stuffing is undone
    too_big: bool
    bare: str | None  # "LF" or "CR" if the data has a bare line end


def stuffed_dots(tail: bytes, piece: bytes) -> int:
    """How many lines of ``piece`` begin with a dot, ``tail`` being the (up to) two bytes
    read before it: a line begins after every CRLF."""
    return (tail + piece).count(b"\r\n.")


def unstuff(data: bytes) -> bytes:
    """Removes the one leading dot of every line that has one (data begins a line)."""
    return (b"\r\n" + data).replace(b"\r\n.", b"\r\n")[2:]


def ends_data(tail: bytes, piece: bytes) -> bool:
    """Whether ``piece``, which ends with ``.<CRLF>``, ends the data: the dot is alone on
    its line, so the two bytes before it are CRLF."""
    return (tail + piece[:-3])[-2:] == b"\r\n"


async def read_data(reader: asyncio.StreamReader, limit: int) -> DataReceived:
    """Reads up to the lone dot; keeps at most ``limit`` bytes, counts all of them.

    Raises ``asyncio.IncompleteReadError`` if the client goes away first."""
    pieces: list[bytes] = []
    raw = 0  # bytes read, stuffing included
    dots = 0
    tail = b"\r\n"  # DATA begins at the start of a line
    ended = False
    while not ended:
        try:
            piece = await reader.readuntil(_TERMINATOR)
        except asyncio.LimitOverrunError as exc:
            # No terminator within the reader's limit: take what cannot be part of one.
            piece = await reader.readexactly(exc.consumed)
        else:
            ended = ends_data(tail, piece)
            if ended:
                piece = piece[:-3]
        dots += stuffed_dots(tail, piece)
        raw += len(piece)
        tail = (tail + piece)[-2:]
        if raw - dots <= limit:
            pieces.append(piece)
        elif pieces:
            pieces = []  # too big: count the rest, keep nothing
    size = raw - dots
    if size > limit:
        return DataReceived(b"", size, True, None)
    content = unstuff(b"".join(pieces))
    return DataReceived(content, size, False, bare_line_end(content))
