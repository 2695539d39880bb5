"""Attachment lists and the parts the webmail shows as the body."""

from __future__ import annotations

from mailstore.mime import Attachment, decode_part, display_parts, parse_message

RELATED = (
    b'Content-Type: multipart/mixed; boundary="m"\n\n'
    b'--m\nContent-Type: multipart/related; boundary="r"\n\n'
    b'--r\nContent-Type: multipart/alternative; boundary="a"\n\n'
    b"--a\nContent-Type: text/plain; charset=utf-8\n\nplain\n"
    b'--a\nContent-Type: text/html; charset=utf-8\n\n<img src="cid:logo@x">\n'
    b"--a--\n"
    b"--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
    b"iVBORw0KGgo=\n"
    b"--r--\n"
    b"--m\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
    b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf\n\n"
    b"JVBERi0xLjQK\n"
    b'--m\nContent-Type: text/plain; name="=?utf-8?q?notes_=C3=A4.txt?="\n'
    b"Content-Disposition: attachment\n\nnote\n"
    b"--m\nContent-Type: application/octet-stream\n"
    b"Content-Disposition: attachment; filename*0*=utf-8''long%20;"
    b" filename*1=name.bin\n\nxyz\n"
    b"--m--\n"
)


def test_attachments_are_listed_with_decoded_names_sizes_and_inline_flag():
    m = parse_message(RELATED)
    assert m.attachments == (
        Attachment("1.2", "", "image/png", 8, "logo@x", True),
        Attachment("2", "€ rates.pdf", "application/pdf", 9, "", False),
        Attachment("3", "notes ä.txt", "text/plain", 4, "", False),
        Attachment("4", "long name.bin", "application/octet-stream", 3, "", False),
    )
    assert decode_part(RELATED, m.sections, "2") == b"%PDF-1.4\n"


def test_display_parts_prefer_the_requested_alternative_and_skip_attachments():
    sections = parse_message(RELATED).sections
    assert display_parts(sections) == ["1.1.2"]
    assert display_parts(sections, prefer="text/plain") == ["1.1.1"]


def test_body_text_part_without_name_is_not_an_attachment():
    m = parse_message(b"Content-Type: text/plain\n\nhello")
    assert m.attachments == ()
    assert display_parts(m.sections) == ["1"]


def test_single_part_non_text_message_is_an_attachment():
    m = parse_message(b"Content-Type: application/pdf; name=x.pdf\n\n%PDF")
    assert m.attachments == (Attachment("1", "x.pdf", "application/pdf", 4, "", False),)
    assert display_parts(m.sections) == []


def test_signed_mail_shows_the_signed_part_and_lists_the_signature():
    raw = (
        b'Content-Type: multipart/signed; boundary="s"; protocol="application/pgp-signature"\n\n'
        b"--s\nContent-Type: text/plain\n\nsigned text\n"
        b"--s\nContent-Type: application/pgp-signature; name=signature.asc\n\n-----BEGIN\n"
        b"--s--\n"
    )
    m = parse_message(raw)
    assert display_parts(m.sections) == ["1"]
    assert [a.filename for a in m.attachments] == ["signature.asc"]


def test_forwarded_message_is_one_attachment_not_its_parts():
    raw = (
        b'Content-Type: multipart/mixed; boundary="m"\n\n--m\n\nhi\n'
        b'--m\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary="i"\n\n'
        b"--i\nContent-Type: image/gif; name=x.gif\n\nGIF\n--i--\n--m--\n"
    )
    m = parse_message(raw)
    assert [(a.part, a.content_type) for a in m.attachments] == [("2", "message/rfc822")]
