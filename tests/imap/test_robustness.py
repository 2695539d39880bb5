"""Malformed and hostile input: BAD answers, limits, and a server that keeps serving."""

from __future__ import annotations

import socket

from protocols.imap.session import MAX_COMMAND, MAX_LINE
from tests.imap.conftest import PASSWORD, LiveImap, client_thread


class Raw:
    """A line-oriented raw IMAP connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.reader = self.sock.makefile("rb")
        assert self.reader.readline().startswith(b"* OK")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.reader.readline()

    def until_tagged(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            assert line, "connection closed"
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


async def test_garbage_gets_bad_and_the_session_goes_on(imap: LiveImap) -> None:
    def scenario() -> list[bytes]:
        raw = Raw(imap.port)
        answers = []
        for junk in [b"\r\n", b"no-command\r\n", b"a FETCH\r\n", b"b SEARCH OR ALL\r\n",
                     b"\xff\xfe\x00\x01 \x80\r\n", b"c LOGIN \"unterminated\r\n",
                     b"d UID KILL 1\r\n", b"e SELECT {-1}\r\n"]:
            raw.send(junk)
            answers.append(raw.line())
        raw.send(f"f LOGIN ann@example.com \"{PASSWORD}\"\r\n".encode())
        answers.append(raw.until_tagged(b"f")[-1])
        raw.close()
        return answers

    answers = await client_thread(scenario)
    *bad, ok = answers
    assert all(b" BAD " in a for a in bad), bad
    assert [a.split(b" ")[0] for a in bad] == [b"*", b"*", b"a", b"b", b"*", b"c",
                                               b"d", b"e"]
    assert ok.startswith(b"f OK")
    assert b"Traceback" not in b"".join(answers)


async def test_overlong_line_and_oversized_literal_are_refused_without_reading_them(
        imap: LiveImap) -> None:
    def scenario() -> list[bytes]:
        raw = Raw(imap.port)
        answers = []
        raw.send(b"a NOOP " + b"x" * (MAX_LINE * 3) + b"\r\n")
        answers.append(raw.line())
        raw.send(f"b LOGIN {{{MAX_COMMAND * 4}}}\r\n".encode())  # synchronising: refused
        answers.append(raw.line())
        raw.send(b"c NOOP\r\n")
        answers.append(raw.line())
        raw.send(b"d LOGIN {5+}\r\nann@x {99999999999+}\r\n")  # LITERAL+ too big: BYE
        answers.append(raw.line())
        answers.append(raw.line())
        answers.append(raw.line())
        raw.close()
        return answers

    too_long, refused, noop, toobig, bye, closed = await client_thread(scenario)
    assert too_long.startswith(b"a BAD [TOOBIG]")
    assert refused.startswith(b"b BAD [TOOBIG]")
    assert noop.startswith(b"c OK")
    assert toobig.startswith(b"d BAD [TOOBIG]") and bye.startswith(b"* BYE")
    assert closed == b""


async def test_a_client_that_vanishes_mid_literal_does_not_hurt_others(imap: LiveImap) -> None:
    def scenario() -> bytes:
        dying = Raw(imap.port)
        dying.send(b"a LOGIN {100}\r\n")
        assert dying.line().startswith(b"+")
        dying.send(b"half")
        dying.close()
        other = Raw(imap.port)
        other.send(f"b LOGIN ann@example.com \"{PASSWORD}\"\r\nc LOGOUT\r\n".encode())
        lines = other.until_tagged(b"c")
        other.close()
        return b"".join(lines)

    text = await client_thread(scenario)
    assert b"b OK" in text and b"c OK" in text


async def test_synchronising_literal_gets_a_continuation_and_literal_plus_does_not(
        imap: LiveImap) -> None:
    def scenario() -> list[bytes]:
        raw = Raw(imap.port)
        raw.send(b"a LOGIN {15}\r\n")
        cont = raw.line()
        raw.send(f"ann@example.com {{{len(PASSWORD)}+}}\r\n{PASSWORD}\r\n".encode())
        lines = raw.until_tagged(b"a")
        raw.close()
        return [cont, lines[-1]]

    cont, ok = await client_thread(scenario)
    assert cont.startswith(b"+ ")
    assert ok.startswith(b"a OK")
