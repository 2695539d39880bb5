"""The flags-only FETCH path (UID, FLAGS, MODSEQ): the same answer as the general renderer,
from the store's plain rows, with real clients on both backends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient import IMAPClient

from mailstore.store import Store
from mailstore.values import FetchRow
from protocols.imap import commands as C
from protocols.imap import fetch as FETCH
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox, simple_message

_ROWS = st.lists(st.tuples(st.integers(0, 31), st.sampled_from(["", "$Label1", "a b"]),
                           st.integers(1, 50)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_ROWS, st.data())
def test_flags_renderer_answers_like_the_general_renderer(rows, data) -> None:
    stored = [(uid, modseq, mask, words) for uid, (mask, words, modseq)
              in enumerate(rows, start=1)]
    view = sorted(data.draw(st.sets(st.sampled_from(range(1, len(rows) + 2)))))
    recent = data.draw(st.sets(st.sampled_from(range(1, len(rows) + 2))))
    names = data.draw(st.lists(st.sampled_from(["UID", "FLAGS", "MODSEQ"]), min_size=1,
                               max_size=3, unique=True))
    modseq = data.draw(st.booleans())
    since = data.draw(st.none() | st.integers(0, 50))
    items = [C.FetchItem(n) for n in names]
    assert FETCH.flags_only(items)
    expected = b"".join(
        FETCH.render(view.index(uid) + 1, FetchRow(uid, ms, mask, words, 0, 0, "", "", "", "",
                                                   ""), items, bytes, modseq, recent)
        for uid, ms, mask, words in stored
        if uid in view and (since is None or ms > since))
    template = FETCH.flags_template(items, modseq)
    assert FETCH.render_flags(stored, view, template, recent, since) == expected


def test_only_uid_flags_and_modseq_take_the_flags_path() -> None:
    assert FETCH.flags_only([C.FetchItem("UID"), C.FetchItem("FLAGS")])
    assert not FETCH.flags_only([C.FetchItem("FLAGS"), C.FetchItem("RFC822.SIZE")])
    assert not FETCH.flags_only([C.FetchItem("INTERNALDATE")])


async def test_flag_rows_come_in_batches_by_uid_without_missing_ones(
        store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(9)])
    await store.messages.store_flags(folder, [2, 5], ["\\Seen", "$Work"])
    await store.messages.store_flags(folder, [4, 6], ["\\Deleted"])
    await store.messages.expunge(folder)
    batches = [batch async for batch in store.messages.flag_rows(
        folder, [9, 1, 2, 3, 4, 5, 6, 7, 40], batch=2)]
    # Asked UIDs 1 2 | 3 4 | 5 6 | 7 9 | 40, by two; 4 and 6 are gone, 40 never was.
    assert [[r[0] for r in b] for b in batches] == [[1, 2], [3], [5], [7, 9], []]
    flat = {r[0]: (r[2], r[3]) for b in batches for r in b}
    assert flat[2] == (1, "$Work") and flat[1] == (0, "")
    assert [b async for b in store.messages.flag_rows(folder, [])] == []


async def test_uid_fetch_of_flags_after_expunge_with_keywords_recent_and_changedsince(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(6)])
    await store.messages.store_flags(folder, [2], ["\\Deleted"])
    await store.messages.expunge(folder)
    await store.messages.store_flags(folder, [3, 5], ["\\Flagged", "$Todo"])

    def scenario() -> dict[str, object]:
        imap_ = imap.login()
        imap_.select("INBOX")
        out: dict[str, object] = {"raw": imap_.uid("FETCH", "1:*", "(UID FLAGS)")}
        imap_.logout()
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            modseq = client.select_folder("INBOX")[b"HIGHESTMODSEQ"]
            client.add_flags([6], ["\\Seen"])
            out["since"] = client.fetch([1, 3, 4, 5, 6], ["FLAGS"],
                                        modifiers=[f"CHANGEDSINCE {modseq}"])
            client.use_uid = False
            out["seq"] = client.fetch([2, 3], ["FLAGS", "UID"])
        return out

    out = await client_thread(scenario)
    # The first SELECT takes \Recent (RFC 3501); keywords follow the system flags.
    assert out["raw"] == ("OK", [
        b"1 (UID 1 FLAGS (\\Recent))", b"2 (UID 3 FLAGS (\\Flagged $Todo \\Recent))",
        b"3 (UID 4 FLAGS (\\Recent))", b"4 (UID 5 FLAGS (\\Flagged $Todo \\Recent))",
        b"5 (UID 6 FLAGS (\\Recent))"])
    assert set(out["since"]) == {6}  # only what changed after HIGHESTMODSEQ, with MODSEQ
    assert out["since"][6][b"FLAGS"] == (b"\\Seen",) and b"MODSEQ" in out["since"][6]
    assert {seq: v[b"UID"] for seq, v in out["seq"].items()} == {2: 3, 3: 4}
