"""Reading DATA: where it ends, dot-stuffing, size limits; alone, and fuzzed against the
line-by-line reading RFC 5321 describes."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.smtp.data import DataReceived, read_data, unstuff
from protocols.smtp.headers import bare_line_end


async def feed(pieces: list[bytes], limit: int = 1000, reader_limit: int = 2 ** 16
               ) -> tuple[DataReceived | None, bytes]:
    """What ``read_data`` returns for the stream, and what it left for the next command
    (None if the stream ended first)."""
    reader = asyncio.StreamReader(limit=reader_limit)
    for piece in pieces:
        reader.feed_data(piece)
    reader.feed_eof()
    try:
        received = await read_data(reader, limit)
    except asyncio.IncompleteReadError:
        received = None
    return received, await reader.read()


def by_lines(stream: bytes, limit: int) -> tuple[DataReceived | None, bytes]:
    """The specification: lines end with CRLF; a line that is a lone dot ends the data;
    one leading dot is removed from every other line."""
    lines = stream.split(b"\r\n")
    kept: list[bytes] = []
    for n, line in enumerate(lines[:-1]):
        if line == b".":
            content = b"".join(kept)
            size = len(content)
            if size > limit:
                return DataReceived(b"", size, True, None), b"\r\n".join(lines[n + 1:])
            return (DataReceived(content, size, False, bare_line_end(content)),
                    b"\r\n".join(lines[n + 1:]))
        kept.append((line[1:] if line.startswith(b".") else line) + b"\r\n")
    return None, b""


async def test_the_data_ends_at_a_lone_dot_and_the_next_command_stays_unread() -> None:
    received, rest = await feed([b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"])
    assert received == DataReceived(b"Subject: hi\r\n\r\nbody\r\n", 21, False, None)
    assert rest == b"QUIT\r\n"


async def test_an_empty_message_is_a_lone_dot_at_once() -> None:
    assert await feed([b".\r\nQUIT\r\n"]) == (DataReceived(b"", 0, False, None), b"QUIT\r\n")


async def test_a_dot_ending_a_sentence_does_not_end_the_data() -> None:
    received, rest = await feed([b"The end.\r\nReally.\r\n.\r\n"])
    assert received.content == b"The end.\r\nReally.\r\n"
    assert rest == b""


async def test_dot_stuffing_is_undone_once_per_line() -> None:
    received, _ = await feed([b"..\r\n...x\r\n.y\r\nz.\r\n.\r\n"])
    assert received.content == b".\r\n..x\r\ny\r\nz.\r\n"
    assert received.size == len(received.content)


async def test_a_dot_after_a_bare_line_feed_does_not_end_the_data() -> None:
    received, rest = await feed([b"a\n.\r\nb\r\n.\r\n"])
    assert received.content == b"a\n.\r\nb\r\n"
    assert received.bare == "LF"
    assert rest == b""


async def test_the_terminator_may_arrive_split_across_packets() -> None:
    received, rest = await feed([b"line\r", b"\n", b".", b"\r", b"\nQUIT\r\n"])
    assert received.content == b"line\r\n"
    assert rest == b"QUIT\r\n"


async def test_lines_longer_than_the_reader_limit_are_read_whole() -> None:
    long = b"x" * 300 + b"\r\n.." + b"y" * 300 + b"\r\n"
    received, _ = await feed([long + b".\r\n"], reader_limit=64)
    assert received.content == unstuff(long)


async def test_an_over_size_message_is_counted_to_its_end_but_not_kept() -> None:
    received, rest = await feed([b"x" * 5000 + b"\r\n.\r\nQUIT\r\n"], limit=1000,
                                reader_limit=256)
    assert received == DataReceived(b"", 5002, True, None)
    assert rest == b"QUIT\r\n"


async def test_a_client_that_leaves_mid_data_is_an_incomplete_read() -> None:
    assert await feed([b"Subject: hi\r\n\r\nbody\r\n"]) == (None, b"")


PIECES = st.sampled_from([b"a", b"b", b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.",
                          b".\r\n", b"\r\n.\r\n", b"xxxxxxxxxx"])


@settings(max_examples=400)
@given(st.lists(PIECES, max_size=40).map(b"".join), st.integers(1, 40),
       st.integers(0, 60), st.sampled_from([8, 16, 1024]))
def test_reading_in_pieces_agrees_with_reading_line_by_line(
        stream: bytes, cut_every: int, limit: int, reader_limit: int) -> None:
    pieces = [stream[i:i + cut_every] for i in range(0, len(stream), cut_every)]
    received, rest = asyncio.run(feed(pieces, limit, reader_limit))
    expected, expected_rest = by_lines(stream, limit)
    assert received == expected
    if expected is not None:
        assert rest == expected_rest


@pytest.mark.parametrize("stream", [b"\r\n.\r\n", b"a\r\r\n.\r\n", b".\r\r\n.\r\n"])
async def test_line_ends_next_to_the_terminator(stream: bytes) -> None:
    assert await feed([stream]) == by_lines(stream, 1000)
