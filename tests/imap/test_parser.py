"""The IMAP parser alone: bytes in, typed commands (or ParseError) out."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore import search as S
from protocols.imap import commands as C
from protocols.imap.parser import SORT_KEYS, ParseError, literal_at_end, parse_command


def parse(text: bytes) -> C.Command:
    return parse_command(text + b"\r\n")


def test_simple_commands_keep_their_tag_and_upper_case_name() -> None:
    assert parse(b"a1 noop") == C.Simple("a1", "NOOP")
    assert parse(b"x.y CAPABILITY") == C.Simple("x.y", "CAPABILITY")


def test_login_takes_atoms_quoted_strings_and_literals_of_both_kinds() -> None:
    assert parse(b'a LOGIN ann@example.com "pass \\"word\\""') == C.Login(
        "a", "LOGIN", "ann@example.com", 'pass "word"')
    assert parse(b"a LOGIN {3}\r\nann {4+}\r\npass") == C.Login("a", "LOGIN", "ann", "pass")


def test_literal_at_end_finds_synchronising_and_non_synchronising_literals() -> None:
    assert literal_at_end(b"a LOGIN {12}\r\n") == (12, False)
    assert literal_at_end(b"a APPEND INBOX ~{7+}\r\n") == (7, True)
    assert literal_at_end(b'a LOGIN "x{5}"\r\n') is None


def test_sequence_sets_with_star_ranges_and_saved_result() -> None:
    cmd = parse(b"t FETCH 1:3,5,7:*,* (FLAGS)")
    assert isinstance(cmd, C.Fetch)
    assert cmd.messages.ranges == ((1, 3), (5, 5), (7, None), (None, None))
    assert cmd.messages.resolve(9) == [(1, 3), (5, 5), (7, 9), (9, 9)]
    assert parse(b"t UID FETCH $ FLAGS").messages.saved


def test_fetch_items_with_sections_partials_peek_binary_and_macros() -> None:
    cmd = parse(b"t UID FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> "
                b"BODY[] BINARY.PEEK[2]<5.10> RFC822.SIZE)")
    assert cmd.uid
    first, second, third, fourth, uid = cmd.items
    assert first == C.FetchItem("BODY", C.Section((1, 2), "HEADER.FIELDS", ("FROM", "TO")),
                                (0, 100), True)
    assert second == C.FetchItem("BODY", C.Section(), None, False)
    assert third == C.FetchItem("BINARY", C.Section((2,)), (5, 10), True)
    assert fourth == C.FetchItem("RFC822.SIZE") and uid == C.FetchItem("UID")
    assert [i.name for i in parse(b"t FETCH 1 FAST").items] == [
        "FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    assert parse(b"t FETCH 1 (FLAGS) (CHANGEDSINCE 12)").changed_since == 12


def test_store_modes_silent_and_unchangedsince() -> None:
    cmd = parse(b"t UID STORE 1:2 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $Junk)")
    assert cmd == C.Store("t", "STORE", True, C.SequenceSet(((1, 2),)), "add", True,
                          ("\\Seen", "$Junk"), 5)
    assert parse(b"t STORE 1 -FLAGS \\Deleted").mode == "remove"
    assert parse(b"t STORE 1 FLAGS ()").flags == ()


def test_search_keys_nest_with_or_not_and_parentheses() -> None:
    cmd = parse(b'a SEARCH CHARSET UTF-8 OR (FROM "bob" SINCE 1-Feb-2024) NOT SEEN '
                b"UID 3:* 1:5 LARGER 100")
    assert cmd.charset == "UTF-8"
    assert cmd.criteria == S.And((
        S.Or(S.And((S.Text("from", "bob"), S.Date("internal", "since", date(2024, 2, 1)))),
             S.Not(S.Flag("\\Seen", True))),
        C.UidKey(C.SequenceSet(((3, None),))),
        C.SeqKey(C.SequenceSet(((1, 5),))),
        S.Size("larger", 100),
    ))
    esearch = parse(b"a UID SEARCH RETURN (MIN COUNT) HEADER X-Spam yes")
    assert esearch.returns == ("MIN", "COUNT")
    assert esearch.criteria == S.Header("X-Spam", "yes")


def test_append_with_flags_date_and_literal() -> None:
    cmd = parse(b'a APPEND Sent (\\Seen) "17-May-2024 09:30:00 +0200" {5+}\r\nhello')
    assert isinstance(cmd, C.Append) and len(cmd.messages) == 1
    message = cmd.messages[0]
    assert message.flags == ("\\Seen",) and message.message == b"hello"
    assert message.date is not None and message.date.utcoffset().total_seconds() == 7200


def test_list_extended_with_selection_patterns_and_status_return() -> None:
    cmd = parse(b'a LIST (SUBSCRIBED) "" ("INBOX" "Sent*") RETURN (CHILDREN STATUS '
                b"(MESSAGES UNSEEN))")
    assert cmd == C.List("a", "LIST", "", ("INBOX", "Sent*"), ("SUBSCRIBED",),
                         ("CHILDREN", "STATUS"), ("MESSAGES", "UNSEEN"))
    assert parse(b'a LIST "" %').patterns == ("%",)


@pytest.mark.parametrize("line, tag", [
    (b"a FETCH", "a"), (b"a FETCH 0 FLAGS", "a"), (b"a FETCH 1 (FLAGS", "a"),
    (b"a LOGIN {10}\r\nabc", "a"), (b"a BOGUS", "a"), (b"a SEARCH " + b"NOT " * 100 + b"ALL",
                                                          "a"),
    (b"a LOGIN \"x\r\" y", "a"), (b"", None), (b"(", None), (b"a LOGIN a b extra", "a"),
    (b"a SELECT \xff\xfe", "a"), (b"a APPEND INBOX \"99-Foo-2024 00:00:00 +0000\" {1}\r\nx",
                                  "a"),
])
def test_malformed_commands_raise_parse_error_with_the_tag_when_known(
        line: bytes, tag: str | None) -> None:
    with pytest.raises(ParseError) as caught:
        parse(line)
    assert caught.value.tag == tag


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_nothing_but_parse_error(data: bytes) -> None:
    try:
        parse_command(data)
    except ParseError:
        pass


_WORDS = st.sampled_from([
    b"a", b"UID", b"FETCH", b"SEARCH", b"STORE", b"1:*", b"$", b"(", b")", b"[", b"]",
    b"BODY[", b"BODY.PEEK[1.2]", b"<0.10>", b"{3}\r\nabc", b"{2+}\r\n", b'"q\\"', b"OR",
    b"NOT", b"HEADER", b"FLAGS", b"+FLAGS.SILENT", b"\\Seen", b"APPEND", b"LIST", b"*",
    b"RETURN", b"(MIN)", b"1-Jan-2020", b"LOGIN", b"~{1}\r\n\x00", b"\r\n", b" ", b"NIL"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_WORDS, max_size=14))
def test_plausible_token_soup_raises_nothing_but_parse_error(words: list[bytes]) -> None:
    try:
        parse_command(b"t " + b" ".join(words) + b"\r\n")
    except ParseError:
        pass


def test_sort_and_thread_take_criteria_charset_and_search_keys() -> None:
    assert parse(b"a UID SORT (REVERSE DATE subject) UTF-8 SEEN FROM bob") == C.Sort(
        "a", "SORT", True, (("DATE", True), ("SUBJECT", False)), "UTF-8",
        S.And((S.Flag("\\Seen"), S.Text("from", "bob"))))
    assert parse(b"b SORT (ARRIVAL) us-ascii 1:3") == C.Sort(
        "b", "SORT", False, (("ARRIVAL", False),), "US-ASCII",
        C.SeqKey(C.SequenceSet(((1, 3),))))
    assert parse(b"c THREAD REFERENCES UTF-8 ALL") == C.Thread(
        "c", "THREAD", False, "REFERENCES", "UTF-8", C.ALL)
    assert parse(b"d UID THREAD orderedsubject \"UTF-8\" UNDELETED") == C.Thread(
        "d", "THREAD", True, "ORDEREDSUBJECT", "UTF-8", S.Flag("\\Deleted", False))


def test_sort_display_keys_parse_with_and_without_reverse() -> None:
    # RFC 5957 §4: sort-key =/ "DISPLAYFROM" / "DISPLAYTO"
    assert parse(b"a SORT (DISPLAYTO reverse displayfrom) UTF-8 ALL") == C.Sort(
        "a", "SORT", False, (("DISPLAYTO", False), ("DISPLAYFROM", True)), "UTF-8", C.ALL)
    with pytest.raises(ParseError):
        parse(b"a SORT (DISPLAY) UTF-8 ALL")
    with pytest.raises(ParseError):
        parse(b"a SORT (REVERSE DISPLAYTO REVERSE) UTF-8 ALL")


_KEY_NAMES = sorted(SORT_KEYS)


def _cased(word: str, flips: list[bool]) -> bytes:
    return "".join(c.lower() if f else c for c, f in zip(word, flips + [False] * 20,
                                                          strict=False)).encode()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_KEY_NAMES), st.booleans(),
                          st.lists(st.booleans(), max_size=12)), min_size=1, max_size=6),
       st.booleans())
def test_every_sort_criteria_list_round_trips(
        keys: list[tuple[str, bool, list[bool]]], uid: bool) -> None:
    criteria = b" ".join((b"REVERSE " if reverse else b"") + _cased(name, flips)
                         for name, reverse, flips in keys)
    line = (b"t UID SORT (" if uid else b"t SORT (") + criteria + b") UTF-8 ALL"
    assert parse(line) == C.Sort("t", "SORT", uid, tuple((n, r) for n, r, _ in keys),
                                 "UTF-8", C.ALL)


@pytest.mark.parametrize("line", [
    b"a SORT () UTF-8 ALL", b"a SORT (DATE) UTF-8", b"a SORT (SPEED) UTF-8 ALL",
    b"a SORT (REVERSE) UTF-8 ALL", b"a SORT DATE UTF-8 ALL", b"a THREAD X UTF-8 ALL",
    b"a THREAD REFERENCES UTF-8", b"a UID THREAD REFERENCES",
])
def test_malformed_sort_and_thread_are_parse_errors_with_the_tag(line: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(line)
    assert caught.value.tag == "a"


_SORT_WORDS = st.sampled_from([
    b"SORT", b"THREAD", b"UID", b"(", b")", b"REVERSE", b"DATE", b"ARRIVAL", b"SUBJECT",
    b"REFERENCES", b"ORDEREDSUBJECT", b"UTF-8", b"ALL", b"1:*", b"OR", b"{1}\r\nx", b'"',
    b"FROM", b"REVERSE REVERSE", b"(DATE)", b"\r\n", b"DISPLAYTO", b"DISPLAYFROM",
    b"(DISPLAYTO)"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(_SORT_WORDS, max_size=10))
def test_sort_and_thread_token_soup_raises_nothing_but_parse_error(words: list[bytes]) -> None:
    try:
        command = parse_command(b"t " + b" ".join(words) + b"\r\n")
    except ParseError:
        return
    if isinstance(command, C.Sort):
        assert command.keys and all(k in ("ARRIVAL", "DATE", "SUBJECT", "FROM", "DISPLAYTO",
                                          "DISPLAYFROM")
                                    for k, _ in command.keys)


def test_quota_commands_take_a_root_or_a_mailbox_and_resource_limits() -> None:
    assert parse(b'a GETQUOTA ""') == C.Quota("a", "GETQUOTA", "")
    assert parse(b"b GETQUOTAROOT INBOX") == C.Quota("b", "GETQUOTAROOT", "INBOX")
    assert parse(b'c SETQUOTA "" (storage 512 MESSAGE 10)') == C.SetQuota(
        "c", "SETQUOTA", "", (("STORAGE", 512), ("MESSAGE", 10)))
    assert parse(b"d SETQUOTA root ()") == C.SetQuota("d", "SETQUOTA", "root", ())
    for bad in (b"e GETQUOTA", b"e SETQUOTA x (STORAGE)", b"e SETQUOTA x STORAGE 1",
                b"e GETQUOTAROOT"):
        with pytest.raises(ParseError):
            parse(bad)


def test_select_takes_condstore_and_qresync_parameters() -> None:
    assert parse(b"a SELECT INBOX (CONDSTORE)") == C.Select("a", "SELECT", "INBOX", True)
    assert parse(b"a SELECT INBOX (QRESYNC (67890007 90060115194045000))") == C.Select(
        "a", "SELECT", "INBOX", False, (67890007, 90060115194045000, None))
    assert parse(b"a EXAMINE x (QRESYNC (1 2 41,43:211 (1:3 41,43:44)) CONDSTORE)") == \
        C.Select("a", "EXAMINE", "x", True,
                 (1, 2, C.SequenceSet(((41, 41), (43, 211)))))
    for bad in (b"a SELECT INBOX (QRESYNC)", b"a SELECT INBOX (QRESYNC (1))",
                b"a SELECT INBOX (QRESYNC (0 5))", b"a SELECT INBOX (QRESYNC (1 0))",
                b"a SELECT INBOX (QRESYNC (1 2 $))", b"a SELECT INBOX (QRESYNC (1 2 (1:2)))",
                b"a SELECT INBOX (CONDSTORE CONDSTORE X)"):
        with pytest.raises(ParseError):
            parse(bad)


_SELECT_WORDS = st.sampled_from([
    b"(", b")", b"QRESYNC", b"CONDSTORE", b"1", b"0", b"99999999999999999999", b"1:*",
    b"$", b"41,43:211", b"\r\n", b"VANISHED", b"CHANGEDSINCE"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(_SELECT_WORDS, max_size=12), st.sampled_from([b"SELECT INBOX",
                                                               b"UID FETCH 1:* FLAGS"]))
def test_select_and_fetch_modifier_soup_raises_nothing_but_parse_error(
        words: list[bytes], head: bytes) -> None:
    try:
        command = parse_command(b"t " + head + b" " + b" ".join(words) + b"\r\n")
    except ParseError:
        return
    if isinstance(command, C.Select) and command.qresync is not None:
        assert command.qresync[0] >= 1 and command.qresync[1] >= 1


def test_esort_return_options_before_the_sort_criteria() -> None:
    assert parse(b"a UID SORT RETURN (MIN COUNT) (DATE) UTF-8 ALL") == C.Sort(
        "a", "SORT", True, (("DATE", False),), "UTF-8", C.ALL, ("MIN", "COUNT"))
    assert parse(b"a SORT RETURN () (SIZE) UTF-8 ALL").returns == ()
    with pytest.raises(ParseError):
        parse(b"a SORT RETURN (SAVE) (SIZE) UTF-8 ALL")
