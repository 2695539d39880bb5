"""Exact ENVELOPE, BODYSTRUCTURE and BODY strings (RFC 9051 §7.5.2)."""

from __future__ import annotations

from mailstore.mime import parse_message

# The message behind the FETCH example of RFC 9051 §7.5.2 (fields as the example shows).
RFC_HEADER = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def test_envelope_matches_the_rfc_9051_example():
    m = parse_message(RFC_HEADER + b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nhi\r\n")
    assert m.envelope == (
        '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '((NIL NIL "imap" "cac.washington.edu")) '
        '((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )


def _rfc_example_message() -> bytes:
    # Part sizes and line counts chosen to reproduce the RFC 9051 §7.5.2 BODY example.
    part1 = b"".join(b"x" * 48 + b"\r\n" for _ in range(22)) + b"y" * 52
    part2 = b"".join(b"A" * 61 + b"\r\n" for _ in range(72)) + b"A" * 18
    assert (len(part1), len(part2)) == (1152, 4554)
    return (
        RFC_HEADER
        + b'Content-Type: MULTIPART/MIXED; BOUNDARY="=="\r\n\r\n'
        + b"--==\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
        + part1
        + b"\r\n--==\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n"
        + b"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
        + b"Content-Description: Compiler diff\r\n"
        + b"Content-Transfer-Encoding: BASE64\r\n\r\n"
        + part2
        + b"\r\n--==--\r\n"
    )


def test_body_matches_the_rfc_9051_example():
    m = parse_message(_rfc_example_message())
    assert m.body == (
        '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")'
    )


def test_bodystructure_adds_the_extension_fields():
    m = parse_message(_rfc_example_message())
    assert m.bodystructure == (
        '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)'
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 '
        'NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "==") NIL NIL NIL)'
    )


def test_missing_headers_are_nil_and_sender_reply_to_default_to_from():
    m = parse_message(b"From: a@b.example\n\nbody\n")
    assert m.envelope == (
        '(NIL NIL ((NIL NIL "a" "b.example")) ((NIL NIL "a" "b.example")) '
        '((NIL NIL "a" "b.example")) NIL NIL NIL NIL NIL)'
    )


def test_empty_message_has_an_all_nil_envelope():
    m = parse_message(b"")
    assert m.envelope == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert m.body == '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)'


def test_groups_are_rendered_with_start_and_end_markers():
    m = parse_message(
        b"From: x@y.example\n"
        b"To: Team: Ann <ann@t.example>, bob@t.example;, carl@c.example\n"
        b"Cc: unlisted-recipients:; (no To-header on input)\n\nhi\n"
    )
    to = (
        '((NIL NIL "Team" NIL)("Ann" NIL "ann" "t.example")(NIL NIL "bob" "t.example")'
        '(NIL NIL NIL NIL)(NIL NIL "carl" "c.example"))'
    )
    cc = '((NIL NIL "unlisted-recipients" NIL)(NIL NIL NIL NIL))'
    assert f" {to} {cc} NIL NIL NIL)" in m.envelope
    assert m.search_cc == "unlisted-recipients:;"
    assert m.sort_to == "ann"


def test_quotes_and_backslashes_are_escaped_in_quoted_strings():
    m = parse_message(b'Subject: say "hi" \\ bye\nFrom: "Doe, \\"JD\\"" <jd@x.example>\n\n')
    assert m.envelope.startswith(
        '(NIL "say \\"hi\\" \\\\ bye" (("Doe, \\"JD\\"" NIL "jd" "x.example"))'
    )
    assert m.from_display == 'Doe, "JD"'


def test_eight_bit_header_text_is_sent_as_a_literal_counting_utf8_bytes():
    m = parse_message("Subject: Grüße\nFrom: Jörg <j@x.example>\n\n".encode())
    assert m.envelope.startswith('(NIL {7}\r\nGrüße (({5}\r\nJörg NIL "j" "x.example"))')


def test_envelope_keeps_encoded_words_raw():
    m = parse_message(
        b"Subject: =?utf-8?q?M=C3=BCller?=\nFrom: =?utf-8?q?M=C3=BCller?= <m@x.example>\n\n"
    )
    assert m.envelope.startswith(
        '(NIL "=?utf-8?q?M=C3=BCller?=" (("=?utf-8?q?M=C3=BCller?=" NIL "m" "x.example"))'
    )


def test_folded_headers_are_unfolded_in_the_envelope():
    m = parse_message(
        b"Subject: a long\r\n subject\r\nDate: Mon, 1 Jan 2024\r\n 10:00:00 +0000\r\n\r\n"
    )
    assert m.envelope.startswith('("Mon, 1 Jan 2024 10:00:00 +0000" "a long subject" NIL')


def test_address_without_domain_gets_an_empty_host_not_nil():
    m = parse_message(b"From: root\n\n")
    assert ' ((NIL NIL "root" "")) ' in m.envelope


def test_source_route_goes_into_the_adl_field():
    m = parse_message(b"From: Joe <@relay.example:joe@x.example>\n\n")
    assert '(("Joe" "@relay.example" "joe" "x.example"))' in m.envelope


def test_comment_becomes_the_name_when_there_is_no_phrase():
    m = parse_message(b"From: joe@x.example (Joe Bloggs)\n\n")
    assert '(("Joe Bloggs" NIL "joe" "x.example"))' in m.envelope
    assert m.from_display == "Joe Bloggs"


def test_message_rfc822_part_carries_envelope_body_and_lines():
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: message/rfc822\nContent-Disposition: attachment;"
        b' filename="fwd.eml"\n\n'
        b"Subject: inner\nFrom: i@x.example\n\nline1\nline2\n"
        b"--b--\n"
    )
    m = parse_message(raw)
    inner = b"Subject: inner\nFrom: i@x.example\n\nline1\nline2"
    assert m.bodystructure == (
        f'(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" {len(inner)} '
        '(NIL "inner" ((NIL NIL "i" "x.example")) ((NIL NIL "i" "x.example")) '
        '((NIL NIL "i" "x.example")) NIL NIL NIL NIL NIL) '
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 2 NIL NIL NIL NIL) 5 '
        'NIL ("ATTACHMENT" ("FILENAME" "fwd.eml")) NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)'
    )


def test_language_location_md5_and_disposition_appear_in_bodystructure():
    m = parse_message(
        b"Content-Type: image/png; name=a.png\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: inline; filename=a.png\nContent-Language: en, de\n"
        b"Content-Location: http://x.example/a.png\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
        b"\naGVsbG8=\n"
    )
    assert m.bodystructure == (
        '("IMAGE" "PNG" ("NAME" "a.png") NIL NIL "BASE64" 9 "Q2hlY2sgSW50ZWdyaXR5IQ==" '
        '("INLINE" ("FILENAME" "a.png")) ("en" "de") "http://x.example/a.png")'
    )


def test_missing_content_type_defaults_to_us_ascii_text():
    m = parse_message(b"Subject: x\n\nabc")
    assert m.bodystructure == (
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 1 NIL NIL NIL NIL)'
    )


def test_digest_parts_default_to_message_rfc822():
    raw = b'Content-Type: multipart/digest; boundary="d"\n\n--d\n\nSubject: one\n\nfirst\n--d--\n'
    m = parse_message(raw)
    assert m.body.startswith('(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 19 (NIL "one" ')


def test_rfc2231_continuations_are_joined_in_bodystructure_parameters():
    m = parse_message(
        b'Content-Type: application/pdf; name*0="long "; name*1="name.pdf"\n'
        b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC;"
        b' filename*1=" rates.pdf"\n\n%PDF'
    )
    assert m.body == '("APPLICATION" "PDF" ("NAME" "long name.pdf") NIL NIL "7BIT" 4)'
    assert ('("ATTACHMENT" ("FILENAME*" "utf-8\'\'%E2%82%AC%20rates.pdf"))') in m.bodystructure
    assert m.attachments[0].filename == "€ rates.pdf"
