"""Decoded header fields, search text and previews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailstore.mime import parse_message


def test_encoded_word_subject_and_names_are_decoded():
    m = parse_message(
        b"Subject: =?utf-8?q?M=C3=BCller?= und =?ISO-8859-1?B?U2No9m5l?=\n"
        b"From: =?utf-8?q?M=C3=BCller?= <Mueller@Example.COM>\n"
        b"To: =?utf-8?b?5byg5LiJ?= <zhang@x.example>, plain@x.example\n\n"
    )
    assert m.subject == "Müller und Schöne"
    assert m.from_display == "Müller"
    assert m.from_addr == "mueller@example.com"
    assert m.sort_from == "mueller"
    assert m.search_from == "Müller <Mueller@Example.COM>"
    assert m.search_to == "张三 <zhang@x.example>, plain@x.example"


def test_adjacent_encoded_words_join_and_multibyte_characters_split_across_them():
    # "日本" split in the middle of a UTF-8 sequence across two words
    m = parse_message(b"Subject: =?utf-8?b?5pel5pw=?= =?utf-8?b?rA==?=\n\n")
    assert m.subject == "日本"


def test_group_with_comment_does_not_break_address_parsing():
    m = parse_message(b"From: a@x.example\nTo: unlisted-recipients:; (no To-header on input)\n\n")
    assert m.search_to == "unlisted-recipients:;"
    assert m.sort_to == ""


def test_html_to_text_drops_scripts_styles_and_tags_and_unescapes_entities():
    m = parse_message(
        b"Content-Type: text/html\n\n"
        b"<html><head><title>T</title><style>p{color:red}</style></head><body>"
        b"<script>alert('x')</script><p>Fish &amp; chips&nbsp;&euro;5</p><!-- hidden -->"
        b"<div>second</div></body></html>"
    )
    assert "alert" not in m.search_body and "color" not in m.search_body
    assert "hidden" not in m.search_body
    assert m.search_body == "Fish & chips €5\nsecond"


@pytest.mark.parametrize(
    "charset", ["x-UTF_8J", "8bit", "y", "unicode-2-0-utf-8", "DEFAULT_CHARSET"]
)
def test_unknown_charsets_fall_back_to_utf8(charset):
    raw = f"Content-Type: text/plain; charset={charset}\n\nGrüße".encode()
    assert parse_message(raw).search_body == "Grüße"


def test_unknown_charset_with_invalid_utf8_falls_back_to_latin1():
    raw = b"Content-Type: text/plain; charset=bogus\n\nGr\xfc\xdfe"
    assert parse_message(raw).search_body == "Grüße"


def test_known_charsets_decode():
    raw = b"Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4"
    assert parse_message(raw).search_body == "Привет"
    raw = b"Content-Type: text/plain; charset=gb2312\n\n\xc4\xe3\xba\xc3"
    assert parse_message(raw).search_body == "你好"


def test_mislabelled_ascii_that_is_utf8_decodes_as_utf8():
    raw = "Content-Type: text/plain; charset=us-ascii\n\nnaïve".encode()
    assert parse_message(raw).search_body == "naïve"


def test_bytes_to_bytes_codecs_are_never_used_as_charsets():
    raw = b"Content-Type: text/plain; charset=zlib\n\nplain text"
    assert parse_message(raw).search_body == "plain text"


def test_quoted_printable_and_base64_bodies_decode():
    qp = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    assert parse_message(qp + b"M=C3=BCller=\n soft").search_body == "Müller soft"
    b64 = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    assert parse_message(b64 + b"TcO8bGxlcg==\n").search_body == "Müller"


def test_base64_with_garbage_still_decodes_what_it_can():
    b64 = b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
    text = parse_message(b64 + b"aGVs!!bG8g\n*d29y\nbGQ=garbage").search_body
    assert text.startswith("hello world")


def test_raw_8bit_headers_in_a_legacy_charset_use_the_body_charset():
    raw = b"Subject: \xc4\xe3\xba\xc3\nContent-Type: text/plain; charset=gb2312\n\nx"
    m = parse_message(raw)
    assert m.subject == "你好"
    assert "Subject: 你好" in m.header_text


def test_header_text_is_unfolded_and_decoded():
    m = parse_message(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n  aus Berlin\r\nX-A: b\r\n\r\n")
    assert m.header_text == "Subject: Grüße  aus Berlin\nX-A: b\n\n"


def test_alternative_with_real_plain_text_indexes_the_plain_part_only():
    plain = b"This is the plain alternative with enough words. " * 8
    raw = (
        b'Content-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\n" + plain + b"\n"
        b"--a\nContent-Type: text/html\n\n<p>This is the html alternative</p>\n--a--\n"
    )
    m = parse_message(raw)
    assert "plain alternative" in m.search_body
    assert "html alternative" not in m.search_body


def test_alternative_with_a_stub_plain_part_also_indexes_the_html():
    raw = (
        b'Content-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\nView in a browser\n"
        b"--a\nContent-Type: text/html\n\n<p>The real offer</p>\n--a--\n"
    )
    m = parse_message(raw)
    assert m.search_body == "View in a browser\nThe real offer"


def test_text_attachments_and_forwarded_messages_are_searchable():
    raw = (
        b'Content-Type: multipart/mixed; boundary="m"\n\n'
        b"--m\n\nbody text\n"
        b"--m\nContent-Type: text/x-diff; name=fix.patch\n\n+added line\n"
        b"--m\nContent-Type: message/rfc822\n\nSubject: fwd\n\nforwarded words\n--m--\n"
    )
    m = parse_message(raw)
    assert m.search_body == "body text\n+added line\nforwarded words"


def test_search_body_is_capped():
    raw = b"Content-Type: text/plain\n\n" + b"0123456789" * 150_000
    assert len(parse_message(raw).search_body) == 1_000_000


def test_preview_skips_quotes_attribution_and_signature():
    raw = (
        b"Content-Type: text/plain\n\n"
        b"On Mon, Jan 1, 2024 at 10:00 Ann wrote:\n> quoted stuff\n> more\n\n"
        b"My   answer\nis here.\n\n-- \nSig line\n"
    )
    assert parse_message(raw).preview == "My answer is here."


def test_preview_prefers_plain_alternative_and_is_short():
    raw = (
        b'Content-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\n" + b"word " * 100 + b"\n"
        b"--a\nContent-Type: text/html\n\n<p>html</p>\n--a--\n"
    )
    preview = parse_message(raw).preview
    assert preview.startswith("word word") and len(preview) <= 200


def test_preview_of_html_only_mail_uses_its_text():
    raw = b"Content-Type: text/html\n\n<style>x{}</style><p>Hello <b>there</b></p>"
    assert parse_message(raw).preview == "Hello there"


def test_date_is_timezone_aware():
    m = parse_message(b"Date: Mon,  6 May 2019 00:41:07 -0500\n\n")
    assert m.date == datetime(2019, 5, 6, 0, 41, 7, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_message(b"Date: 6 May 2019 00:41:07 -0000\n\n").date.tzinfo is not None
    assert parse_message(b"Date: Thu, 01 Aug 2002 12:00:00 GMT\n\n").date == datetime(
        2002, 8, 1, 12, tzinfo=UTC
    )


@pytest.mark.parametrize("value", [b"garbage", b"Mon, 31 Feb 2020 10:00:00 +0100", b""])
def test_unparseable_dates_are_none(value):
    assert parse_message(b"Date: " + value + b"\n\n").date is None


def test_message_ids_and_references():
    m = parse_message(
        b"Message-ID: <a@x>\nIn-Reply-To: <b@x> (comment) <c@x>\n"
        b"References: <r1@x>\n <r2@x> <b@x>\n\n"
    )
    assert (m.message_id, m.in_reply_to) == ("<a@x>", "<b@x>")
    assert m.references == ("<r1@x>", "<r2@x>", "<b@x>")
    assert parse_message(b"Message-ID: bare@x\n\n").message_id == "<bare@x>"
    assert parse_message(b"\n").message_id == ""


def test_preview_looks_past_a_long_quote():
    quote = b"> quoted line of an earlier message\n" * 80
    raw = b"Content-Type: text/plain\n\nOn Monday Ann wrote:\n" + quote + b"\nThe answer.\n"
    assert parse_message(raw).preview == "The answer."


def test_preview_of_an_all_quoted_body_shows_the_quote():
    assert parse_message(b"\n> only a quote\n").preview == "> only a quote"


def test_mbox_from_line_is_kept_in_the_header_but_not_read_as_a_field():
    raw = b"From a@b.example  Thu Sep 26 11:11:54 2002\nFrom: x@y.example\nSubject: s\n\nhi"
    m = parse_message(raw)
    assert (m.from_addr, m.subject, m.parse_error) == ("x@y.example", "s", None)
    assert m.header_text.startswith("From a@b.example")


def test_obsolete_space_before_colon_is_a_field():
    # RFC 5322 §4.5.3 obs-optional allows whitespace between field name and colon
    assert parse_message(b"From : a@b.example\nSubject : s\n\nhi").from_addr == "a@b.example"


def test_utf8_byte_order_mark_before_the_header_is_ignored():
    m = parse_message(b"\xef\xbb\xbfFrom: a@b.example\nSubject: s\n\nhi")
    assert (m.from_addr, m.parse_error) == ("a@b.example", None)


def test_raw_8bit_inside_an_encoded_word_is_decoded():
    assert parse_message("Subject: =?utf-8?q?café?=\n\n".encode()).subject == "café"
    assert parse_message(b"Subject: =?utf-8?q?caf\xe9?=\n\n").parse_error is None
