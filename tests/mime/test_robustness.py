"""parse_message never raises, on junk, on deep nesting, and on mutated real mail."""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailstore.mime import message_parts, parse_message, part_text, section_bounds
from mailstore.mime.sections import BE, iter_parts
from tests.corpus import message_files
from tests.mime.imapsyntax import read


def _check(raw: bytes) -> None:
    m = parse_message(raw)
    # the catch-all in parse_message hides bugs: fuzzing must never reach it
    assert not (m.parse_error or "").startswith("message could not be parsed"), m.parse_error
    read(m.envelope)
    read(m.bodystructure)
    read(m.body)
    assert m.sections[BE] == len(raw)
    for number, _node, _parent, _enc in iter_parts(m.sections):
        for which in ("", "MIME", "HEADER", "TEXT"):
            bounds = section_bounds(m.sections, number, which)
            if bounds is not None:
                assert 0 <= bounds[0] <= bounds[1] <= len(raw)
    for info in message_parts(m.sections):
        if info.content_type.startswith("text/"):
            part_text(raw, m.sections, info.part)
    _assert_storable(m)


def _assert_storable(value: object) -> None:
    """Every string the store keeps must encode as UTF-8 (no lone surrogates)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, tuple | list):
        for item in value:
            _assert_storable(item)
    elif hasattr(value, "__slots__"):
        for name in value.__slots__:
            _assert_storable(getattr(value, name))


# MIME_FUZZ_EXAMPLES=20000 for a long fuzzing run; the default keeps the suite quick.
FUZZ = settings(
    max_examples=int(os.environ.get("MIME_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_parse(raw):
    _check(raw)


_PIECES = [
    b"\r\n",
    b"\n",
    b"\n\n",
    b"--b\n",
    b"--b--\n",
    b"--c\r\n",
    b": ",
    b";",
    b"=?utf-8?q?",
    b"?=",
    b'Content-Type: multipart/mixed; boundary="b"\n',
    b"Content-Type: message/rfc822\n",
    b"Content-Type: multipart/alternative; boundary=c\r\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Type: text/plain; charset=x-bogus\n",
    b"From: a@b\n",
    b"To: g:; (c)\n",
    b"\xff\xfe",
    b"Content-Disposition: attachment; filename*0*=utf-8''%e2; filename*1=x\n",
    b"(",
    b"<",
    b'"',
    b"=?utf-8?b?",
    b"=?x?q?\xc3\xa9",
    b"Subject: ",
    b"Date: Mon, 6 May 2019 00:41:07 -0500",
    b"\t",
    b" ",
    b"\xc3\xa9",
    b"Content-Type: text/html; charset=utf-16\n",
    b"<script>",
    b"&#x",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"=\n",
    b"=C3",
]


@FUZZ
@given(st.lists(st.sampled_from(_PIECES) | st.binary(max_size=20), max_size=60))
def test_mime_shaped_junk_parses(pieces):
    _check(b"".join(pieces))


def _samples() -> list[bytes]:
    rng = random.Random(5)
    paths = list(message_files("mime-fixtures")) + rng.sample(list(message_files("real-mail")), 60)
    return [p.read_bytes() for p in paths if p.stat().st_size < 60_000]


SAMPLES = _samples()


@FUZZ
@given(st.data())
def test_mutated_corpus_messages_parse(data):
    raw = bytearray(data.draw(st.sampled_from(SAMPLES)))
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.sampled_from(_PIECES))
        elif op == "delete":
            del raw[pos : pos + data.draw(st.integers(1, 200))]
    _check(bytes(raw))


def test_deeply_nested_multiparts_stop_at_the_depth_limit():
    depth = 500
    raw = (
        b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
            for i in range(depth)
        )
        + b"\ninnermost\n"
    )
    m = parse_message(raw)
    assert m.parse_error is not None and "nesting" in m.parse_error
    read(m.bodystructure)
    _check(raw)


def test_deeply_nested_rfc822_messages_stop_at_the_depth_limit():
    raw = b"Content-Type: message/rfc822\n\n" * 300 + b"Subject: x\n\nend\n"
    m = parse_message(raw)
    assert m.parse_error is not None
    _check(raw)


def test_stack_overflow_fixture_parses():
    path = next(p for p in message_files("mime-fixtures") if p.name == "stack-overflow.txt")
    _check(path.read_bytes())


def test_many_parts_are_bounded():
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n\nx\n" * 20000 + b"--b--\n"
    m = parse_message(raw)
    assert m.parse_error is not None
    _check(raw)


def test_non_bytes_input_is_accepted():
    assert parse_message(bytearray(b"Subject: x\n\ny")).subject == "x"
    assert parse_message(memoryview(b"Subject: x\n\ny")).subject == "x"


def _naive_blank_line(raw: bytes) -> tuple[int, int]:
    for i in range(len(raw)):
        if raw[i] == 10 and i + 1 < len(raw):
            if raw[i + 1] == 10:
                return i + 1, i + 2
            if raw[i + 1 : i + 3] == b"\r\n":
                return i + 1, i + 3
    return len(raw), len(raw)


@FUZZ
@given(st.lists(st.sampled_from([b"\r", b"\n", b"a", b"\r\n"]), max_size=40))
def test_header_ends_at_the_first_empty_line_whatever_the_line_endings(pieces):
    from mailstore.mime.structure import _blank_line

    raw = b"x" + b"".join(pieces)
    assert _blank_line(raw, 0, len(raw)) == _naive_blank_line(raw)


def test_raw_8bit_bytes_in_every_mime_header_still_give_storable_text():
    raw = (
        b'Content-Type: multipart/mixed; b\xe4="\xff"; boundary="\xfe"\n'
        b"Content-Transfer-Encoding: b\xe4se64\nContent-Description: d\xe9sc\n"
        b"Content-ID: <\xff@x>\nContent-Language: \xe9n\nContent-Location: \xe9\n"
        b"Subject: \xe9t\xe9\nFrom: J\xf6rg <j\xf6@x>\nMessage-ID: <\xe9@x>\n\n"
        b'--\xfe\nContent-Type: text/pl\xe4in; ch\xe4rset=\xff; name="\xe9.txt"\n'
        b"Content-Disposition: \xe4ttachment; filename=\xe9.pdf\n\nx\n"
        b"--\xfe\nContent-Type: t\xe4xt/plain\n\ny\n--\xfe--\n"
    )
    m = parse_message(raw)
    assert m.parse_error is None
    assert m.subject == "été"
    _check(raw)


def test_an_internal_error_still_yields_a_storable_opaque_message(monkeypatch):
    import mailstore.mime.parse as parse_module

    def broken(raw: bytes):
        raise RuntimeError("bug")

    monkeypatch.setattr(parse_module, "_parse", broken)
    raw = b"Subject: x\n\nline one\nline two"
    m = parse_message(raw)
    assert m.parse_error == "message could not be parsed: RuntimeError: bug"
    assert m.body == '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 29 4)'
    assert section_bounds(m.sections, "1") == (0, len(raw))
    read(m.bodystructure)
