"""POP3 responses as pure functions of bytes (RFC 1939, RFC 2449): no I/O here.

``ResponseReader`` is fed whatever the socket gave and hands back whole responses in the
order the client asked for them, which is what makes RETR pipelining simple: the client
writes many commands and takes their answers one by one.

Implementation notes:
- Tolerant of broken ISPs (VPOP3's lessons): a bare LF ends a line as well as CRLF, and
  "+ok"/"-err" in any case are accepted. Anything else as a status line is a protocol error.
- A multi-line response ends at a line holding only "."; every other line that starts with
  "." loses that first octet (RFC 1939 §3, "byte-stuffing"). The message bytes are otherwise
  returned exactly as sent, so a malformed message is delivered byte for byte.
- Never unbounded: a status line longer than ``MAX_LINE`` is a protocol error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocols.collector.errors import ProtocolError

MAX_LINE = 64 * 1024
_END = re.compile(rb"\n\.\r?\n")
_STUFFED = re.compile(rb"(^|\n)\.")


@dataclass(frozen=True, slots=True)
class Status:
    ok: bool
    text: str


@dataclass(frozen=True, slots=True)
class Response:
    ok: bool
    text: str
    body: bytes | None = None  # a multi-line answer's data, unstuffed


def parse_status(line: bytes) -> Status:
    """``+OK text`` / ``-ERR text`` (line end included or not) → Status."""
    line = line.rstrip(b"\r\n")
    head, _, rest = line.partition(b" ")
    word = head.upper()
    if word not in (b"+OK", b"-ERR"):
        raise ProtocolError(f"not a POP3 reply: {_show(line)}")
    return Status(word == b"+OK", rest.decode("utf-8", "replace").strip())


def find_end(buf: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """Where the multi-line data in ``buf`` ends: (end of the data, start of what follows),
    or None if the terminating "." line has not arrived. ``start`` skips what was already
    searched (the caller keeps the last few bytes in range)."""
    if start == 0:
        if buf[:3] == b".\r\n":
            return 0, 3
        if buf[:2] == b".\n":
            return 0, 2
    match = _END.search(buf, start)
    if match is None:
        return None
    return match.start() + 1, match.end()


def unstuff(data: bytes) -> bytes:
    """Removes the byte-stuffing dot at the start of every line (RFC 1939 §3)."""
    if b"." not in data:
        return data
    return _STUFFED.sub(rb"\1", data)


def stuff(message: bytes) -> bytes:
    """The multi-line form of ``message`` without the final ".": the inverse of ``unstuff``
    (used by tests and test servers)."""
    if not message.endswith(b"\n") and message:
        message += b"\r\n"
    return _STUFFED.sub(rb"\1..", message)


class ResponseReader:
    """Accumulates bytes from the server; ``take`` returns the next response once whole."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._status: Status | None = None
        self._scan = 0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def take(self, multiline: bool) -> Response | None:
        """The next response (a multi-line one when ``multiline`` and the status is +OK),
        or None when more bytes are needed. Raises ProtocolError on garbage."""
        if self._status is None:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    raise ProtocolError("a POP3 reply line is longer than 64 KB")
                return None
            if nl > MAX_LINE:
                raise ProtocolError("a POP3 reply line is longer than 64 KB")
            self._status = parse_status(bytes(self._buf[:nl + 1]))
            del self._buf[:nl + 1]
            self._scan = 0
        status = self._status
        if not (multiline and status.ok):
            self._status = None
            return Response(status.ok, status.text)
        found = find_end(self._buf, self._scan)
        if found is None:
            self._scan = max(0, len(self._buf) - 4)
            return None
        end, after = found
        body = unstuff(bytes(self._buf[:end]))
        del self._buf[:after]
        self._status = None
        self._scan = 0
        return Response(True, status.text, body)


def parse_listing(body: bytes, what: str) -> dict[int, str]:
    """A UIDL or LIST answer: message number → unique id (or size, as text)."""
    out: dict[int, str] = {}
    for line in body.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[0].isdigit():
            raise ProtocolError(f"unreadable {what} line: {_show(line)}")
        out[int(parts[0])] = parts[1].decode("ascii", "replace")
    return out


def parse_sizes(body: bytes) -> dict[int, int]:
    sizes = parse_listing(body, "LIST")
    try:
        return {n: int(size) for n, size in sizes.items()}
    except ValueError as exc:
        raise ProtocolError(f"unreadable LIST answer: {exc}") from exc


def parse_capa(body: bytes) -> set[str]:
    """CAPA (RFC 2449 §5): the capability names, upper-cased (``PIPELINING``, ``STLS``…)."""
    return {line.split()[0].decode("ascii", "replace").upper()
            for line in body.splitlines() if line.strip()}


def _show(line: bytes) -> str:
    text = line[:120].decode("utf-8", "replace")
    return repr(text + ("…" if len(line) > 120 else ""))
