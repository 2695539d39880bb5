"""POP3 grammar as pure functions of bytes: command lines in, wire bytes out.

Implementation notes:
- ``parse_command`` turns one command line into a typed ``Command`` or raises
  ``ParseError`` whose text is fit to follow ``-ERR`` (RFC 1939 §3: keywords are
  case-insensitive, arguments are separated by single spaces). PASS takes the rest of the
  line as its argument, so passwords may hold spaces (RFC 1939 §7, PASS discussion).
- Message bodies go out through ``Stuffer``: line ends become CRLF (a bare LF is sent as
  CRLF; stored mail from SMTP is CRLF already and passes unchanged), a line that starts with
  "." gets one more (RFC 1939 §3 byte-stuffing), and ``finish`` ends the multi-line
  response with ".CRLF". It works on chunks, carrying the line-start state between them,
  so big messages stream without being held twice.
- Nothing here does I/O; everything is tested alone and fuzzed (tests/pop3/test_parser.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ARG = 255  # RFC 2449 §4: a command line is at most 255 octets; arguments fit inside
MAX_NUMBER_DIGITS = 9  # message numbers and line counts: no huge integers from the wire

# Commands and how many arguments each takes: (minimum, maximum).
ARITY: dict[str, tuple[int, int]] = {
    "CAPA": (0, 0), "QUIT": (0, 0), "STLS": (0, 0), "USER": (1, 1), "PASS": (1, 1),
    "AUTH": (0, 2), "STAT": (0, 0), "LIST": (0, 1), "RETR": (1, 1), "DELE": (1, 1),
    "NOOP": (0, 0), "RSET": (0, 0), "TOP": (2, 2), "UIDL": (0, 1),
}
# Arguments that are numbers: message numbers (from 1) or TOP's line count (from 0).
_NUMERIC = {"LIST": 1, "RETR": 1, "DELE": 1, "UIDL": 1, "TOP": 2}


class ParseError(ValueError):
    """A malformed or unknown command; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    @property
    def number(self) -> int | None:
        """The first argument as a message number, for the commands that take one."""
        return int(self.args[0]) if self.args and self.name in _NUMERIC else None


def parse_command(line: bytes) -> Command:
    """One command line (with or without its CRLF) → ``Command``."""
    text = line.rstrip(b"\r\n")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("commands must be UTF-8 text") from None
    if not decoded.strip():
        raise ParseError("empty command")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        raise ParseError("control characters are not allowed in commands")
    keyword, _, rest = decoded.partition(" ")
    name = keyword.upper()
    if name not in ARITY:
        shown = keyword[:20] if keyword.isprintable() else "?"
        raise ParseError(f"unknown command {shown}")
    if name == "PASS":
        if not rest:
            raise ParseError("PASS needs a password")
        return Command(name, (rest,))
    args = tuple(rest.split(" ")) if rest else ()
    low, high = ARITY[name]
    if not low <= len(args) <= high or any(a == "" for a in args):
        raise ParseError(_arity_text(name, low, high))
    if any(len(a) > MAX_ARG for a in args):
        raise ParseError(f"{name} argument too long")
    for index in range(min(_NUMERIC.get(name, 0), len(args))):
        arg = args[index]
        if not arg.isascii() or not arg.isdigit() or len(arg) > MAX_NUMBER_DIGITS:
            what = "a line count" if index == 1 else "a message number"
            raise ParseError(f"{name} needs {what}, not {arg[:20]!r}")
    if name == "AUTH" and args:
        args = (args[0].upper(), *args[1:])
    return Command(name, args)


def _arity_text(name: str, low: int, high: int) -> str:
    usage = {"USER": "USER name", "LIST": "LIST [msg]", "RETR": "RETR msg", "DELE": "DELE msg",
             "TOP": "TOP msg lines", "UIDL": "UIDL [msg]", "AUTH": "AUTH mechanism [response]"}
    if name in usage:
        return f"usage: {usage[name]}"
    return f"{name} takes no arguments"


# --- responses -------------------------------------------------------------------------------
def ok(text: str) -> bytes:
    return b"+OK " + text.encode("utf-8") + b"\r\n"


def err(text: str) -> bytes:
    return b"-ERR " + text.encode("utf-8") + b"\r\n"


def multiline(first: str, lines: list[str]) -> bytes:
    """``+OK first`` followed by text lines (stuffed) and the terminating dot."""
    stuffer = Stuffer()
    body = stuffer.feed("".join(line + "\r\n" for line in lines).encode("utf-8"))
    return ok(first) + body + stuffer.finish()


_BARE_LF = re.compile(rb"(?<!\r)\n")


class Stuffer:
    """Turns message bytes into a POP3 multi-line body, chunk by chunk (see the notes)."""

    __slots__ = ("at_line_start", "after_cr", "empty")

    def __init__(self) -> None:
        self.at_line_start = True
        self.after_cr = False
        self.empty = True

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        head = b""
        data = chunk
        if self.after_cr and data[:1] == b"\n":
            # A CRLF split between two chunks: the LF completes the previous line.
            head, data = b"\n", data[1:]
            self.at_line_start = True
        if data:
            lf = data.count(b"\n")
            if lf and lf != data.count(b"\r\n"):
                data = _BARE_LF.sub(b"\r\n", data)
            if b"\n." in data:
                data = data.replace(b"\n.", b"\n..")
            if self.at_line_start and data[:1] == b".":
                data = b"." + data
        self.at_line_start = chunk.endswith(b"\n")
        self.after_cr = chunk.endswith(b"\r")
        self.empty = False
        return head + data

    def finish(self) -> bytes:
        """The end of the multi-line response: a CRLF first if the data did not end a line."""
        if self.empty or self.at_line_start:
            return b".\r\n"
        return (b"\n" if self.after_cr else b"\r\n") + b".\r\n"


def stuff(data: bytes) -> bytes:
    """A whole multi-line body at once (data, stuffed, with the terminating line)."""
    stuffer = Stuffer()
    return stuffer.feed(data) + stuffer.finish()


def unstuff(wire: bytes) -> bytes:
    """The inverse of ``stuff`` (what a client does): for tests and the collector."""
    if not wire.endswith(b".\r\n") or not (wire == b".\r\n" or wire.endswith(b"\r\n.\r\n")):
        raise ParseError("a multi-line response ends with CRLF . CRLF")
    body = wire[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def top(raw: bytes, lines: int) -> bytes:
    """RFC 1939 §7 TOP: the header, the blank line, then at most ``lines`` body lines."""
    if raw.startswith((b"\r\n", b"\n")):
        body_start = raw.index(b"\n") + 1  # no header at all: the body starts at once
    else:
        match = _HEADER_END.search(raw)
        if match is None:
            return raw  # only a header (or junk): the whole of it
        body_start = match.end()
    end = body_start
    for _ in range(lines):
        nl = raw.find(b"\n", end)
        if nl < 0:
            return raw
        end = nl + 1
    return raw[:end]
