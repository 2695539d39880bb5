"""Small pieces alone: the per-session sequence map, response syntax, header filtering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.imap import responses as R
from protocols.imap.commands import SequenceSet
from protocols.imap.fetch import filter_header
from protocols.imap.mailbox import BadSequence, Selected


def selected(uids: list[int]) -> Selected:
    return Selected(1, "INBOX", False, 1, list(uids), 1)


def test_sequence_map_resolves_numbers_uids_and_star() -> None:
    box = selected([3, 5, 9, 12])
    assert box.resolve(SequenceSet(((2, 3),)), False) == [5, 9]
    assert box.resolve(SequenceSet(((None, None),)), False) == [12]
    assert box.resolve(SequenceSet(((1, None),)), False) == [3, 5, 9, 12]
    assert box.resolve(SequenceSet(((4, 10),)), True) == [5, 9]
    assert box.resolve(SequenceSet(((13, None),)), True) == [12]  # RFC 9051: * is the max
    with pytest.raises(BadSequence):
        box.resolve(SequenceSet(((5, 5),)), False)


def test_expunge_shifts_later_sequence_numbers_and_new_mail_appends() -> None:
    box = selected([3, 5, 9])
    assert box.expunge(5) == 2
    assert box.seq_of(9) == 2 and box.exists == 2
    box.add([10, 11])
    assert box.uids == [3, 9, 10, 11]


@given(st.text(max_size=30))
def test_modified_utf7_round_trips_every_name(name: str) -> None:
    encoded = R.encode_mutf7(name)
    assert encoded.isascii()
    assert R.decode_mutf7(encoded) == name


def test_modified_utf7_matches_rfc_3501_examples() -> None:
    assert R.encode_mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert R.encode_mutf7("Tom & Jerry") == "Tom &- Jerry"


def test_sequence_set_rendering_compacts_runs() -> None:
    assert R.sequence_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    assert R.ranges([1, 2, 3, 7]) == ((1, 3), (7, 7))


def test_strings_are_quoted_or_literal_as_needed() -> None:
    assert R.string('a "b" \\c') == b'"a \\"b\\" \\\\c"'
    assert R.string("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert R.literal(b"a\0b") == b"~{3}\r\na\0b"


def test_header_fields_filter_keeps_folded_lines_and_ends_with_blank_line() -> None:
    block = (b"From: a@example.com\r\nSubject: long\r\n  continued\r\nTo: b@example.com\r\n"
             b"\r\n")
    assert filter_header(block, ["subject"], False) == b"Subject: long\r\n  continued\r\n\r\n"
    assert filter_header(block, ["SUBJECT"], True) == (
        b"From: a@example.com\r\nTo: b@example.com\r\n\r\n")
