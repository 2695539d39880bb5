"""section_bounds / decode_part slice exactly what IMAP FETCH BODY[...] must return."""

from __future__ import annotations

import json

import pytest

from mailstore.mime import decode_part, message_parts, parse_message, part_text, section_bounds

NESTED = (
    b"From: a@example.com\r\n"
    b"Subject: nested\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"part one\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"alt plain\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>alt html</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner msg\r\n"
    b'Content-Type: multipart/mixed; boundary="deep"\r\n'
    b"\r\n"
    b"--deep\r\n"
    b"\r\n"
    b"deep one\r\n"
    b"--deep\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVsbG8=\r\n"
    b"--deep--\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)

EXPECTED = {
    ("", "HEADER"): b"From: a@example.com\r\nSubject: nested\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n',
    ("1", ""): b"part one",
    ("1", "MIME"): b"Content-Type: text/plain\r\n\r\n",
    ("2", ""): b"--inner\r\nContent-Type: text/plain\r\n\r\nalt plain\r\n--inner\r\n"
    b"Content-Type: text/html\r\n\r\n<p>alt html</p>\r\n--inner--",
    ("2", "MIME"): b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n',
    ("2.1", ""): b"alt plain",
    ("2.2", ""): b"<p>alt html</p>",
    ("2.2", "MIME"): b"Content-Type: text/html\r\n\r\n",
    ("3", "MIME"): b"Content-Type: message/rfc822\r\n\r\n",
    ("3", "HEADER"): b"Subject: inner msg\r\n"
    b'Content-Type: multipart/mixed; boundary="deep"\r\n\r\n',
    ("3", "TEXT"): b"--deep\r\n\r\ndeep one\r\n--deep\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"aGVsbG8=\r\n--deep--",
    ("3.1", ""): b"deep one",
    ("3.1", "MIME"): b"\r\n",
    ("3.2", ""): b"aGVsbG8=",
}


def _slice(raw: bytes, sections, part: str, which: str = "") -> bytes | None:
    bounds = section_bounds(sections, part, which)
    return None if bounds is None else raw[bounds[0] : bounds[1]]


@pytest.mark.parametrize(("part", "which"), sorted(EXPECTED))
def test_nested_multipart_sections_slice_exact_bytes(part, which):
    m = parse_message(NESTED)
    assert _slice(NESTED, m.sections, part, which) == EXPECTED[(part, which)]


@pytest.mark.parametrize(("part", "which"), sorted(EXPECTED))
def test_lf_only_message_slices_the_same_sections(part, which):
    raw = NESTED.replace(b"\r\n", b"\n")
    m = parse_message(raw)
    assert _slice(raw, m.sections, part, which) == EXPECTED[(part, which)].replace(b"\r\n", b"\n")


def test_whole_message_and_text_sections():
    m = parse_message(NESTED)
    assert _slice(NESTED, m.sections, "") == NESTED
    assert _slice(NESTED, m.sections, "", "TEXT") == NESTED[NESTED.index(b"preamble") :]
    # RFC 9051 §6.4.5: BODY[3] of a message/rfc822 part is the whole encapsulated message
    assert _slice(NESTED, m.sections, "3") == (
        _slice(NESTED, m.sections, "3", "HEADER") + _slice(NESTED, m.sections, "3", "TEXT")
    )


@pytest.mark.parametrize(
    ("part", "which"),
    [
        ("4", ""),
        ("0", ""),
        ("1.1", ""),
        ("1", "HEADER"),
        ("2", "TEXT"),
        ("2.3", ""),
        ("3.3", ""),
        ("", "MIME"),
        ("x", ""),
        ("1.", ""),
        ("3.1.1", ""),
    ],
)
def test_sections_that_do_not_exist_are_none(part, which):
    assert section_bounds(parse_message(NESTED).sections, part, which) is None


def test_header_fields_requests_use_the_header_range():
    m = parse_message(NESTED)
    assert section_bounds(m.sections, "3", "HEADER.FIELDS") == section_bounds(
        m.sections, "3", "HEADER"
    )


def test_decode_part_undoes_base64():
    m = parse_message(NESTED)
    assert decode_part(NESTED, m.sections, "3.2") == b"hello"
    assert part_text(NESTED, m.sections, "2.2") == "<p>alt html</p>"


def test_decode_part_of_a_missing_part_raises_key_error():
    with pytest.raises(KeyError):
        decode_part(NESTED, parse_message(NESTED).sections, "9")


def test_sections_survive_a_json_round_trip():
    m = parse_message(NESTED)
    restored = json.loads(json.dumps(m.sections))
    for (part, which), expected in EXPECTED.items():
        assert _slice(NESTED, restored, part, which) == expected


def test_message_parts_lists_every_leaf_with_its_number():
    parts = message_parts(parse_message(NESTED).sections)
    assert [(p.part, p.content_type, p.encapsulated) for p in parts] == [
        ("1", "text/plain", False),
        ("2.1", "text/plain", False),
        ("2.2", "text/html", False),
        ("3", "message/rfc822", False),
        ("3.1", "text/plain", True),
        ("3.2", "application/octet-stream", True),
    ]


SINGLE = b"Subject: hi\nContent-Type: text/plain; charset=utf-8\n\nhello\nworld\n"


def test_single_part_message_body_is_part_one():
    m = parse_message(SINGLE)
    assert _slice(SINGLE, m.sections, "1") == b"hello\nworld\n"
    assert _slice(SINGLE, m.sections, "", "TEXT") == b"hello\nworld\n"
    # RFC 9051 §6.4.5: the MIME header of the only part is the message header
    assert _slice(SINGLE, m.sections, "1", "MIME") == SINGLE[: SINGLE.index(b"hello")]
    assert section_bounds(m.sections, "2") is None
    assert section_bounds(m.sections, "1.1") is None


def test_single_part_rfc822_message_numbers_the_encapsulated_body_one_point_one():
    raw = (
        b"Subject: outer\nContent-Type: message/rfc822\n\n"
        b"Subject: inner\nContent-Type: text/plain\n\ninner body\n"
    )
    m = parse_message(raw)
    assert _slice(raw, m.sections, "1", "HEADER") == b"Subject: inner\nContent-Type: text/plain\n\n"
    assert _slice(raw, m.sections, "1", "TEXT") == b"inner body\n"
    assert _slice(raw, m.sections, "1.1") == b"inner body\n"


def test_part_without_blank_line_after_headers_gets_its_body():
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\nthis line has no blank line before it\n--b--\n"
    )
    m = parse_message(raw)
    assert _slice(raw, m.sections, "1") == b"this line has no blank line before it"
    assert _slice(raw, m.sections, "1", "MIME") == b"Content-Type: text/plain\n"


def test_missing_close_delimiter_ends_the_last_part_at_the_end_of_the_body():
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n\ntwo\n'
    m = parse_message(raw)
    assert _slice(raw, m.sections, "1") == b"one"
    assert _slice(raw, m.sections, "2") == b"two\n"
    assert m.parse_error is None


def test_multipart_without_boundary_is_shown_as_text_with_a_parse_error():
    raw = b"Content-Type: multipart/mixed\n\nsome text\n"
    m = parse_message(raw)
    assert m.parse_error and "boundary" in m.parse_error
    assert m.body == '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1)'
    assert _slice(raw, m.sections, "1") == b"some text\n"


def test_rfc2231_encoded_boundary_is_understood():
    raw = b"Content-Type: multipart/mixed; boundary*=us-ascii''xyz\n\n--xyz\n\nbody\n--xyz--\n"
    m = parse_message(raw)
    assert m.parse_error is None
    assert _slice(raw, m.sections, "1") == b"body"
