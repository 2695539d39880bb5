"""The parser against every message of the three corpus archives."""

from __future__ import annotations

from collections import Counter

from mailstore.mime import decode_part, section_bounds
from mailstore.mime.sections import BE, BS, CHILDREN, CTYPE, HS, iter_parts
from tests.mime.corpus_cache import Parsed, parsed_archive
from tests.mime.imapsyntax import read


def _lines(body: bytes) -> int:
    # The documented definition: LF count, plus one for an unterminated last line.
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def _is_multipart(node) -> bool:
    return bool(node[CHILDREN]) and node[CTYPE].startswith("multipart/")


def _check_structure(bs: list, node, raw: bytes, where: str) -> None:
    """BODYSTRUCTURE and the section map describe the same tree with the same sizes."""
    assert node[HS] <= node[BS] <= node[BE] <= len(raw), where
    if _is_multipart(node):
        children = []
        for item in bs:
            if not isinstance(item, list):
                break
            children.append(item)
        assert len(children) == len(node[CHILDREN]), where
        assert bs[len(children)] == node[CTYPE].split("/", 1)[1].upper(), where
        previous_end = node[BS]
        for i, (child_bs, child) in enumerate(zip(children, node[CHILDREN], strict=True), 1):
            # parts lie inside the multipart body, in order, without overlap
            assert previous_end <= child[HS] and child[BE] <= node[BE], f"{where}.{i}"
            previous_end = child[BE]
            _check_structure(child_bs, child, raw, f"{where}.{i}")
        return
    major, minor = bs[0], bs[1]
    assert f"{major}/{minor}".lower() == node[CTYPE], where
    body = raw[node[BS] : node[BE]]
    assert bs[6] == len(body), f"{where}: size"
    if major == "TEXT":
        assert bs[7] == _lines(body), f"{where}: lines"
        assert len(bs) == 12, where
    elif major == "MESSAGE" and minor in ("RFC822", "GLOBAL"):
        envelope, inner_bs, lines = bs[7], bs[8], bs[9]
        assert len(envelope) == 10, where
        assert lines == _lines(body), f"{where}: lines"
        inner = node[CHILDREN][0]
        assert inner[HS] == node[BS] and inner[BE] == node[BE], where
        _check_structure(inner_bs, inner, raw, where + ".msg")
    else:
        assert len(bs) == 11, where


def test_every_message_parses_into_well_formed_envelope_and_bodystructure(corpus):
    for msg in corpus:
        assert len(read(msg.envelope)) == 10, msg.path
        read(msg.bodystructure)
        read(msg.body)


def test_real_mail_has_fewer_than_five_parse_errors():
    errors = Counter(m.parse_error for m in parsed_archive("real-mail") if m.parse_error)
    assert sum(errors.values()) < 5, errors


def test_bodystructure_sizes_and_line_counts_match_the_raw_bytes(corpus: list[Parsed]):
    for msg in corpus:
        raw = msg.path.read_bytes()
        assert msg.sections[HS] == 0 and msg.sections[BE] == len(raw)
        _check_structure(read(msg.bodystructure), msg.sections, raw, str(msg.path))


def test_section_bounds_stay_inside_the_message(corpus: list[Parsed]):
    for msg in corpus:
        size = msg.sections[BE]
        for number, _node, _parent, _enc in iter_parts(msg.sections):
            for which in ("", "MIME", "HEADER", "TEXT"):
                bounds = section_bounds(msg.sections, number, which)
                if bounds is not None:
                    start, end = bounds
                    assert 0 <= start <= end <= size, (msg.path, number, which)
        assert section_bounds(msg.sections, "", "") == (0, size)


def test_attachment_sizes_are_the_decoded_sizes(corpus: list[Parsed]):
    for msg in corpus:
        if not msg.attachments:
            continue
        raw = msg.path.read_bytes()
        for att in msg.attachments:
            assert att.size == len(decode_part(raw, msg.sections, att.part)), (msg.path, att)


def test_group_with_comment_in_real_mail_is_parsed():
    # linux-man/000024.eml: "To: unlisted-recipients:; (no To-header on input)" makes the
    # stdlib raise AttributeError('Group' object has no attribute 'local_part').
    from mailstore.mime import parse_message
    from tests.corpus import corpus_dir

    m = parse_message((corpus_dir("real-mail") / "linux-man" / "000024.eml").read_bytes())
    assert m.parse_error is None
    assert ' ((NIL NIL "unlisted-recipients" NIL)(NIL NIL NIL NIL)) ' in m.envelope
    assert m.from_addr == "shawn@git.icu"


def test_every_text_part_decodes_to_text(corpus: list[Parsed]):
    from mailstore.mime import message_parts, part_text

    for msg in corpus:
        raw = None
        for info in message_parts(msg.sections):
            if info.content_type.startswith("text/"):
                raw = raw if raw is not None else msg.path.read_bytes()
                assert isinstance(part_text(raw, msg.sections, info.part), str)
