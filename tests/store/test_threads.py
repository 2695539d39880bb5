"""THREAD (RFC 5256 §3) and SORT ordering as pure functions over stored sort fields."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore import threads
from mailstore.mime.subject import base_subject
from mailstore.sorting import SortKey, sort_uids
from mailstore.values import SortFields


def row(uid: int, msgid: str = "", refs: tuple[str, ...] = (), subject: str = "",
        date: int | None = None, in_reply_to: str = "", arrival: int | None = None,
        size: int = 100, sender: str = "", to: str = "", cc: str = "",
        display: str = "") -> SortFields:
    return SortFields(
        uid=uid, internal_date=arrival if arrival is not None else 5000 + uid, size=size,
        sent_date=date if date is not None else 1000 + uid, subject=subject,
        subject_base=base_subject(subject), sort_from=sender, sort_to=to, sort_cc=cc,
        from_display=display, message_id=msgid, in_reply_to=in_reply_to, references=refs)


def refs_render(rows: list[SortFields]) -> str:
    return threads.render(threads.references(rows))


# --- REFERENCES -------------------------------------------------------------------------------

def test_references_builds_the_reply_tree_and_orders_siblings_by_sent_date() -> None:
    rows = [
        row(1, "<a>", subject="plan"),
        row(2, "<b>", ("<a>",), "Re: plan", date=1010),
        row(3, "<c>", ("<a>", "<b>"), "Re: plan"),
        row(4, "<d>", ("<a>",), "Re: plan", date=1005),
        row(5, "<e>", subject="other"),
    ]
    assert refs_render(rows) == "(1 (4)(2 3))(5)"


def test_in_reply_to_is_used_when_references_are_missing() -> None:
    rows = [row(1, "<a>", subject="x"), row(2, "<b>", in_reply_to="<a>", subject="y")]
    assert refs_render(rows) == "(1 2)"


def test_missing_parent_becomes_a_dummy_that_holds_its_children_together() -> None:
    # <gone> is not in the mailbox: its two replies stay one thread under a dummy.
    rows = [row(1, "<b>", ("<gone>",), "Re: a"), row(2, "<c>", ("<gone>",), "Re: b")]
    assert refs_render(rows) == "((1)(2))"


def test_a_dummy_with_one_child_is_replaced_by_the_child() -> None:
    rows = [row(1, "<b>", ("<gone1>", "<gone2>"), "x"), row(2, "<c>", ("<b>",), "y")]
    assert refs_render(rows) == "(1 2)"


def test_loops_in_references_never_make_a_cycle() -> None:
    rows = [
        row(1, "<a>", ("<b>",), "one"),
        row(2, "<b>", ("<a>",), "two"),
        row(3, "<c>", ("<c>", "<a>", "<c>"), "three"),  # its own id in its references
    ]
    out = threads.references(rows)
    seen: list[int] = []

    def walk(node: threads.Node) -> None:
        if node.uid is not None:
            seen.append(node.uid)
        for child in node.children:
            walk(child)
    for node in out:
        walk(node)
    assert sorted(seen) == [1, 2, 3]  # every message exactly once, so no cycle


def test_duplicate_message_ids_keep_the_first_and_treat_later_ones_as_distinct() -> None:
    rows = [
        row(1, "<a>", subject="first"),
        row(2, "<a>", subject="second copy"),
        row(3, "<r>", ("<a>",), "Re: first"),
    ]
    assert refs_render(rows) == "(1 3)(2)"


def test_a_truncated_references_header_gives_way_to_the_message_s_own() -> None:
    # Message 2 claims <b> under <x>; message <b> itself says its parent is <a>.
    rows = [row(1, "<a>", subject="s"), row(2, "<c>", ("<x>", "<b>"), "t"),
            row(3, "<b>", ("<a>",), "u")]
    assert refs_render(rows) == "(1 3 2)"


def test_step_5_gathers_threads_with_the_same_base_subject() -> None:
    rows = [
        row(1, "<a>", subject="Lunch"),
        row(2, "<b>", subject="Re: Lunch"),       # a reply without References
        row(3, "<c>", subject="Lunch"),           # same subject, not a reply: both under a dummy
        row(4, "<d>", subject="Fwd: Other"),
        row(5, "<e>", subject="Other"),           # the original: the forward goes under it
    ]
    out = threads.references(rows)
    assert [n.shape() for n in out] == [
        (None, ((1, ((2, ()),)), (3, ()))),
        (5, ((4, ()),)),
    ]
    assert threads.render(out) == "((1 2)(3))(5 4)"


def test_step_5_merges_two_dummies_and_ignores_empty_subjects() -> None:
    rows = [
        row(1, "<b1>", ("<gone1>",), "Re: topic"), row(2, "<b2>", ("<gone1>",), "Re: topic"),
        row(3, "<c1>", ("<gone2>",), "Re: topic"), row(4, "<c2>", ("<gone2>",), "Re: topic"),
        row(5, "<x>", subject=""), row(6, "<y>", subject=""),
    ]
    assert refs_render(rows) == "((1)(2)(3)(4))(5)(6)"


def test_render_shows_sequence_numbers_when_given_a_map() -> None:
    rows = [row(10, "<a>", subject="x"), row(20, "<b>", ("<a>",), "y")]
    assert threads.render(threads.references(rows), {10: 1, 20: 2}) == "(1 2)"


def test_messages_without_message_id_are_threads_of_their_own() -> None:
    rows = [row(1, subject="x"), row(2, subject="y")]
    assert refs_render(rows) == "(1)(2)"


_IDS = st.sampled_from([f"<{c}>" for c in "abcdefg"] + [""])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_IDS, st.lists(_IDS.filter(bool), max_size=5),
                          st.sampled_from(["a", "Re: a", "b", "", "Fwd: b"]),
                          st.integers(0, 5)), max_size=12))
def test_references_places_every_message_exactly_once_whatever_the_headers(
        specs: list[tuple[str, list[str], str, int]]) -> None:
    rows = [row(i + 1, m, tuple(r), s, date=d) for i, (m, r, s, d) in enumerate(specs)]
    out = threads.references(rows)
    seen: list[int] = []

    def walk(node: threads.Node, depth: int) -> None:
        assert depth < 100
        if node.uid is not None:
            seen.append(node.uid)
        else:
            assert node.children  # no empty dummy survives
        for child in node.children:
            walk(child, depth + 1)
    for node in out:
        walk(node, 0)
    assert sorted(seen) == [r.uid for r in rows]
    text = threads.render(out)
    assert text.count("(") == text.count(")")


# --- ORDEREDSUBJECT ---------------------------------------------------------------------------

def test_ordered_subject_groups_by_base_subject_under_the_earliest_message() -> None:
    rows = [
        row(1, subject="Lunch", date=300),
        row(2, subject="Other", date=100),
        row(3, subject="Re: lunch", date=200),   # earliest of its subject: the parent
        row(4, subject="[list] Re: Lunch", date=400),
        row(5, subject="Other", date=100),       # same date as 2: mailbox order
    ]
    assert threads.render(threads.ordered_subject(rows)) == "(2 5)(3 (1)(4))"


def test_ordered_subject_falls_back_to_the_arrival_date_without_a_date_header() -> None:
    rows = [
        SortFields(1, 900, 1, None, "a", "a", "", "", "", "", "", "", ()),
        SortFields(2, 100, 1, 500, "b", "b", "", "", "", "", "", "", ()),
    ]
    assert threads.render(threads.ordered_subject(rows)) == "(2)(1)"


# --- SORT -------------------------------------------------------------------------------------

def test_sort_keys_with_reverse_and_ties_in_mailbox_order() -> None:
    rows = [
        row(1, subject="b", sender="zed", size=300, date=10),
        row(2, subject="Re: a", sender="Amy", size=100, date=30),
        row(3, subject="A", sender="bob", size=300, date=20),
        row(4, subject="c", sender="", size=200, date=None, arrival=15),
    ]
    assert sort_uids(rows, [SortKey("SUBJECT")]) == [2, 3, 1, 4]
    assert sort_uids(rows, [SortKey("FROM")]) == [4, 2, 3, 1]
    assert sort_uids(rows, [SortKey("SIZE")]) == [2, 4, 1, 3]
    # REVERSE turns the key round but ties keep mailbox order (RFC 5256 §3).
    assert sort_uids(rows, [SortKey("SIZE", reverse=True)]) == [1, 3, 4, 2]
    assert sort_uids(rows, [SortKey("SIZE", True), SortKey("DATE", True)]) == [3, 1, 4, 2]
    assert sort_uids(rows, [SortKey("DATE")]) == [1, 3, 2, 4]


def test_sort_date_uses_internaldate_when_the_date_header_is_missing() -> None:
    rows = [SortFields(1, 50, 1, 100, "", "", "", "", "", "", "", "", ()),
            SortFields(2, 70, 1, None, "", "", "", "", "", "", "", "", ())]
    assert sort_uids(rows, [SortKey("DATE")]) == [2, 1]
    assert sort_uids(rows, [SortKey("ARRIVAL")]) == [1, 2]


def test_sort_to_cc_and_displayfrom_fold_case() -> None:
    rows = [row(1, to="b", cc="", display="zoe"), row(2, to="A", cc="x", display="Adam"),
            row(3, to="", cc="c", display="bea")]
    assert sort_uids(rows, [SortKey("TO")]) == [3, 2, 1]
    assert sort_uids(rows, [SortKey("CC")]) == [1, 3, 2]
    assert sort_uids(rows, [SortKey("DISPLAYFROM")]) == [2, 3, 1]


def test_very_deep_threads_need_no_recursion() -> None:
    depth = 5000
    chain = [row(1, "<m1>", subject="deep")] + [
        row(i, f"<m{i}>", (f"<m{i - 1}>",), "Re: deep") for i in range(2, depth + 1)]
    assert refs_render(chain) == "(" + " ".join(str(i) for i in range(1, depth + 1)) + ")"
    # Every message has two replies, one of them a dead end: nesting as deep as the chain.
    forked = [row(1, "<f1>", subject="fork")]
    for i in range(2, 2 * depth, 2):
        forked.append(row(i, f"<f{i}>", (f"<f{i - 1}>",), "Re: fork"))
        forked.append(row(i + 1, f"<f{i + 1}>", (f"<f{i - 1}>",), "Re: fork"))
    text = refs_render(forked)
    assert text.startswith("(1 (2)(3 (4)(5 (6)(7") and text.count("(") == text.count(")")
