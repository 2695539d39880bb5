"""store.search_results: a page of matches newest first with the total, from the same
index and criteria as IMAP SEARCH; and store.trusted_senders."""

from __future__ import annotations

import pytest

from mailstore import search as S
from mailstore.search import Search
from mailstore.search_results import SearchResults
from mailstore.store import Store
from mailstore.trusted import InvalidSender, normalise_sender
from tests.web.conftest import deliver, inbox_id, make_message


async def test_a_page_is_newest_first_with_the_total_and_agrees_with_imap_search(
        store: Store, account) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"apple {n}" if n % 2 else f"pear {n}")
                                 for n in range(10)])
    wanted = S.Text("subject", "apple")
    first = await store.search_results.page(account.id, wanted, folder_ids=[inbox], limit=3)
    assert first.total == 5
    assert [f.uid for f in first.items] == [10, 8, 6]
    second = await store.search_results.page(account.id, wanted, folder_ids=[inbox],
                                             offset=3, limit=3)
    assert [f.uid for f in second.items] == [4, 2]
    imap = await store.search.folder(inbox, wanted)
    assert sorted(f.uid for f in first.items + second.items) == imap
    past = await store.search_results.page(account.id, wanted, folder_ids=[inbox],
                                           offset=30, limit=3)
    assert past.total == 5 and past.items == []


async def test_all_folders_are_searched_and_only_the_accounts_own(
        store: Store, account) -> None:
    inbox = await inbox_id(store, account)
    archive = (await store.folders.get(account.id, "Archive")).id
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    await deliver(store, inbox, [make_message("kiwi one")], first_date=1_700_000_000)
    await deliver(store, archive, [make_message("kiwi two")], first_date=1_700_000_100)
    await deliver(store, await inbox_id(store, bob), [make_message("kiwi bob")])
    found = await store.search_results.page(account.id, S.Text("text", "kiwi"))
    assert [(f.folder_id, f.subject) for f in found.items] == [
        (archive, "kiwi two"), (inbox, "kiwi one")]
    assert found.total == 2
    # A folder id of another account is out of scope even when asked for.
    bobs = await inbox_id(store, bob)
    assert (await store.search_results.page(account.id, S.Text("text", "kiwi"),
                                            folder_ids=[bobs])).total == 0


async def test_has_attachments_short_needles_and_the_snippet_source(
        store: Store, account) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("ab plain", "body text here"),
        make_message("ab with file", "see the file", attachments=[
            ("f.txt", "text/plain", b"x")]),
    ])
    found = await store.search_results.page(account.id, S.Text("subject", "ab"),
                                            has_attachments=True)
    assert [f.subject for f in found.items] == ["ab with file"]
    assert found.items[0].has_attachments and "see the file" in found.items[0].body_start
    everything = await store.search_results.page(account.id, S.And(()))
    assert everything.total == 2


def test_sender_addresses_are_normalised_and_checked() -> None:
    assert normalise_sender("  Bob@Example.ORG ") == "bob@example.org"
    for bad in ("", "bob", "@example.org", "bob@", "bob smith@example.org", "<b@x>"):
        with pytest.raises(InvalidSender):
            normalise_sender(bad)


async def test_trusted_senders_add_twice_remove_and_per_account(
        store: Store, account) -> None:
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    await store.trusted_senders.add(account.id, "News@Example.org")
    await store.trusted_senders.add(account.id, "news@example.org")
    assert await store.trusted_senders.list(account.id) == ["news@example.org"]
    assert await store.trusted_senders.contains(account.id, "NEWS@example.org")
    assert not await store.trusted_senders.contains(bob.id, "news@example.org")
    await store.trusted_senders.remove(account.id, "news@example.org")
    await store.trusted_senders.remove(account.id, "news@example.org")
    assert await store.trusted_senders.list(account.id) == []


async def test_a_common_word_pages_and_counts_the_same_as_a_rare_one(
        store: Store, account) -> None:
    """Past S.FEW candidates the page is found by walking the folders newest first; the
    page, its order and the total must be what the candidates would have given."""
    inbox = await inbox_id(store, account)
    archive = (await store.folders.get(account.id, "Archive")).id
    count = 2 * S.FEW
    await deliver(store, inbox, [make_message(f"common {n}", "the common body" if n % 3
                                              else "other text") for n in range(count)],
                  first_date=1_700_000_000)
    await deliver(store, archive, [make_message("common archived", "the common body")],
                  first_date=1_800_000_000)
    wanted = S.Text("body", "common body")
    in_inbox = await store.search.folder(inbox, wanted)
    assert len(in_inbox) > S.FEW  # the common-word plan is the one under test
    total = len(in_inbox) + 1
    first = await store.search_results.page(account.id, wanted, limit=5)
    # A common word is counted only five pages ahead: "more than 25".
    assert (first.total, first.more) in ((total, False), (25, True))
    assert first.items[0].folder_id == archive
    newest = sorted(in_inbox, reverse=True)[:4]
    assert [f.uid for f in first.items[1:]] == newest
    last = await store.search_results.page(account.id, wanted, offset=total - 2, limit=5)
    assert [f.uid for f in last.items] == sorted(in_inbox)[1::-1]
    assert (last.total, last.more) == (total, False)


async def test_a_common_words_page_is_the_same_from_the_newest_window_or_the_index(
        store: Store, account) -> None:
    """PostgreSQL walks only the newest messages for a common word (here the newest 50)
    and falls back to the index when they hold too few matches; the page, its order and
    the total are the same either way, the total capped past five pages."""
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"m {n}", "the common body" if n % 3
                                              else "other text") for n in range(120)])
    common = S.Text("body", "common body")
    matches = sorted(await store.search.folder(inbox, common), reverse=True)
    assert len(matches) == 80
    search, results = Search(store.db, window=10), SearchResults(store.db, window=10)
    assert await search.page(inbox, common, limit=5) == matches[:5]
    assert await search.page(inbox, common, limit=5, offset=75) == matches[75:]
    old = S.And((common, S.Uids(((1, 30),))))  # none among the newest 50
    assert await search.page(inbox, old, limit=5) == [u for u in matches if u <= 30][:5]
    page = await results.page(account.id, common, limit=5)
    assert [f.uid for f in page.items] == matches[:5]
    assert (page.total, page.more) in ((25, True), (80, False))  # capped on PostgreSQL
    page = await results.page(account.id, old, limit=5, offset=5)
    assert [f.uid for f in page.items] == [u for u in matches if u <= 30][5:10]
    assert (page.total, page.more) == (20, False)
