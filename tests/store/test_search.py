"""Search finds exactly what a brute-force case-insensitive substring scan finds."""

from __future__ import annotations

import random

import pytest
import pytest_asyncio

from mailstore import search as S
from mailstore.messages import prepare
from mailstore.store import Store
from mailstore.values import NewMessage
from tests.corpus import message_files

SAMPLE = 300
FIELDS = {
    "from": "search_from", "to": "search_to", "cc": "search_cc", "subject": "subject",
    "body": "search_body",
}


def corpus_sample() -> list[bytes]:
    files = list(message_files("real-mail"))
    picked = random.Random(7).sample(files, SAMPLE)
    return [p.read_bytes() for p in picked]


def stored_text(parsed, column: str) -> str:
    from mailstore.messages import _clean

    return _clean(getattr(parsed, column))


def brute_force(texts: dict[int, dict[str, str]], field: str, needle: str) -> list[int]:
    columns = S.TEXT_FIELDS[field]
    low = needle.lower()
    return [uid for uid, cols in texts.items()
            if any(low in cols[c].lower() for c in columns)]


def random_needles(rng: random.Random, texts: dict[int, dict[str, str]], column: str,
                   count: int) -> list[str]:
    needles = []
    candidates = [cols[column] for cols in texts.values() if len(cols[column]) >= 4]
    while len(needles) < count:
        text = rng.choice(candidates)
        length = rng.choice([1, 2, 3, 4, 5, 8, 12, 20])
        start = rng.randrange(0, max(1, len(text) - length))
        needle = text[start:start + length]
        if needle.strip():
            needles.append(rng.choice([needle, needle.upper(), needle.lower()]))
    return needles


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded(module_database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A store with a sample of the real-mail corpus, and the text each message holds."""
    store = Store(module_database_url, tmp_path_factory.mktemp("blobs"))
    await store.accounts.add_domain("example.com")
    account = await store.accounts.create("ann@example.com", "correct horse battery")
    folder = (await store.folders.get(account.id, "INBOX")).id
    prepared = [prepare(NewMessage(raw)) for raw in corpus_sample()]
    appended = await store.messages.append_prepared(folder, prepared)
    columns = set(S.TEXT_FIELDS["text"])
    texts = {a.uid: {c: stored_text(p.parsed, c) for c in columns}
             for a, p in zip(appended, prepared, strict=True)}
    yield store, folder, texts
    await store.close()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("field", sorted(FIELDS))
async def test_search_matches_brute_force_on_random_substrings(loaded, field: str) -> None:
    store, folder, texts = loaded
    rng = random.Random(hash(field) & 0xFFFF)
    for needle in random_needles(rng, texts, FIELDS[field], 25):
        expected = brute_force(texts, field, needle)
        got = await store.search.folder(folder, S.Text(field, needle))
        assert got == expected, f"{field} {needle!r}"


@pytest.mark.parametrize("needle", ["a", "ZZ", "%", "_", '"', "100%", "a_b", "@gmail",
                                    "re:", "Ü", "ß", "\\", "'"])
@pytest.mark.asyncio(loop_scope="module")
async def test_search_handles_short_and_special_needles(loaded, needle: str) -> None:
    store, folder, texts = loaded
    for field in ("text", "subject", "from"):
        assert await store.search.folder(folder, S.Text(field, needle)) == \
            brute_force(texts, field, needle), f"{field} {needle!r}"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("needle", ["the", "nterrup", "@gmail", "device tree", "xylophone",
                                    "v3", "e"])
async def test_webmail_page_and_count_match_brute_force_newest_first(
        loaded, needle: str) -> None:
    # Every message of the fixture has the same internal date, so newest first is by UID.
    store, folder, texts = loaded
    for field in ("body", "from", "text"):
        expected = brute_force(texts, field, needle)[::-1]
        criterion = S.Text(field, needle)
        assert await store.search.count(folder, criterion) == len(expected)
        assert await store.search.page(folder, criterion, limit=1000) == expected
        assert await store.search.page(folder, criterion, limit=20, offset=10) == \
            expected[10:30], f"{field} {needle!r}"
    both = S.And((S.Text("body", needle), S.Text("from", "@"), S.Flag("\\Seen", False)))
    expected = sorted(set(brute_force(texts, "body", needle))
                      & set(brute_force(texts, "from", "@")), reverse=True)
    assert await store.search.page(folder, both, limit=1000) == expected
    assert await store.search.count(folder, both) == len(expected)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("needle", ["the", "device tree", "nterrup"])
async def test_text_with_a_short_needle_and_a_flag_matches_brute_force(
        loaded, needle: str) -> None:
    # The long needle lets FTS5 drive; the short one and the flag are tested on its rows.
    store, folder, texts = loaded
    criterion = S.And((S.Text("body", needle), S.Text("text", "v3"),
                       S.Not(S.Flag("\\Deleted"))))
    expected = sorted(set(brute_force(texts, "body", needle))
                      & set(brute_force(texts, "text", "v3")))
    assert await store.search.folder(folder, criterion) == expected
    assert await store.search.count(folder, criterion) == len(expected)


async def test_copies_of_one_message_in_a_folder_are_each_found(store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, b"Subject: agenda\r\n\r\nquarterly figures\r\n")
    await store.messages.append(folder, b"Subject: other\r\n\r\nnothing here\r\n")
    await store.messages.copy(folder, [1], folder)
    figures = S.Text("body", "Quarterly")
    assert await store.search.folder(folder, figures) == [1, 3]
    assert await store.search.count(folder, figures) == 2


async def test_search_folds_non_ascii_case(store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, "From: Jörg Müller <jm@example.com>\r\n"
                                "Subject: Grüße\r\n\r\nStraße\r\n".encode())
    await store.messages.append(folder, b"From: Muller <m@example.com>\r\n\r\nplain\r\n")
    assert await store.search.folder(folder, S.Text("from", "MÜLLER")) == [1]
    assert await store.search.folder(folder, S.Text("subject", "GRÜSSE")) == []
    assert await store.search.folder(folder, S.Text("subject", "GRÜßE")) == [1]


async def test_text_criteria_combine_with_flags_dates_and_sizes(store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    for n, day in enumerate((1, 2, 3)):
        await store.messages.append(
            folder, f"Subject: invoice {n}\r\n\r\n{'x' * (n * 100)}\r\n".encode(),
            internal_date=1_700_000_000 + day * 86400)
    await store.messages.store_flags(folder, [2], ["\\Seen"])
    from datetime import date
    invoices = S.Text("subject", "invoice")
    assert await store.search.folder(folder, S.And((invoices, S.Flag("\\Seen", False)))) \
        == [1, 3]
    assert await store.search.folder(folder, S.And((invoices, S.Size("larger", 150)))) \
        == [3]
    assert await store.search.folder(folder, S.Or(S.Uids(((1, 1),)), S.Flag("\\Seen"))) \
        == [1, 2]
    assert await store.search.folder(folder, S.Not(S.Text("body", "xxx"))) == [1]
    since = S.Date("internal", "since", date(2023, 11, 16))
    assert await store.search.folder(folder, since) == [2, 3]


async def test_header_search_finds_named_fields(store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, b"X-Mailer: Tidings Test\r\nSubject: a\r\n\r\nb\r\n")
    await store.messages.append(folder, b"Subject: tidings test\r\n\r\nb\r\n")
    assert await store.search.folder(folder, S.Header("x-mailer", "tidings")) == [1]
    assert await store.search.folder(folder, S.Header("X-Mailer", "")) == [1]


async def test_account_search_covers_all_folders_of_that_account_only(store: Store,
                                                                      account) -> None:
    inbox = (await store.folders.get(account.id, "INBOX")).id
    sent = (await store.folders.get(account.id, "Sent")).id
    other = await store.accounts.create("bob@example.com", "password123")
    bob_inbox = (await store.folders.get(other.id, "INBOX")).id
    for folder in (inbox, sent, bob_inbox):
        await store.messages.append(folder, b"Subject: quarterly report\r\n\r\nx\r\n")
    hits = await store.search.account(account.id, S.Text("subject", "Quarterly Rep"))
    assert {h.folder_id for h in hits} == {inbox, sent}


async def test_two_text_criteria_in_one_query_each_keep_their_needle(
        store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, b"From: Carol <carol@example.net>\r\n\r\nhi\r\n")
    await store.messages.append(folder, b"From: Dave <dave@example.net>\r\n\r\nhi\r\n")
    either = S.Or(S.Text("from", "carol"), S.Text("from", "dave"))
    both = S.And((S.Text("from", "carol"), S.Text("from", "dave")))
    assert await store.search.folder(folder, either) == [1, 2]
    assert await store.search.folder(folder, both) == []


async def test_short_needles_fold_case_like_python_also_beyond_ascii(
        store: Store, account) -> None:
    # "\u212a" (KELVIN SIGN) lowercases to an ASCII "k": a 2-character needle "0k" must
    # find it, as a brute-force scan does, though SQLite's LIKE folds ASCII only.
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, "Subject: cooled to 300\u212a\r\n\r\nx\r\n".encode())
    await store.messages.append(folder, b"Subject: RAISED TO 300K\r\n\r\nx\r\n")
    await store.messages.append(folder, b"Subject: 300 k\r\n\r\nx\r\n")
    assert await store.search.folder(folder, S.Text("subject", "0k")) == [1, 2]
    assert await store.search.folder(folder, S.Text("subject", "0K")) == [1, 2]
    assert await store.search.folder(folder, S.Text("subject", "%")) == []


async def test_ascii_needles_find_the_non_ascii_letters_that_lowercase_to_ascii(
        store: Store, account) -> None:
    # U+212A KELVIN SIGN lowercases to "k", U+0130 to "i" + U+0307: a brute-force scan
    # finds the first in any ASCII needle, the second only as a needle's last "i"
    # (PostgreSQL tests ASCII needles as a regex, not with ILIKE).
    folder = (await store.folders.get(account.id, "INBOX")).id
    await store.messages.append(folder, "Subject: 300 \u212aelvin\r\n\r\nx\r\n".encode())
    await store.messages.append(folder, "Subject: \u0130stanbul\r\n\r\nx\r\n".encode())
    await store.messages.append(folder, b"Subject: KELVIN [istanbul] a.b\r\n\r\nx\r\n")
    assert await store.search.folder(folder, S.Text("subject", "kelvin")) == [1, 3]
    assert await store.search.folder(folder, S.Text("subject", "ISTANBUL")) == [3]
    assert await store.search.folder(folder, S.Text("subject", "[istanbul]")) == [3]
    assert await store.search.folder(folder, S.Text("subject", "a.b")) == [3]
    assert await store.search.folder(folder, S.Text("subject", "a\\b")) == []


async def test_several_text_criteria_and_flags_combine_in_one_search(
        store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    for sender, body in (("intel", "kernel panic"), ("intel", "firmware"),
                         ("amd", "kernel oops")):
        await store.messages.append(
            folder, f"From: {sender}@example.com\r\nSubject: x\r\n\r\n{body}\r\n".encode())
    await store.messages.store_flags(folder, [1], ["\\Seen"])
    intel, kernel = S.Text("from", "INTEL"), S.Text("body", "Kernel")
    assert await store.search.folder(folder, S.And((intel, kernel))) == [1]
    assert await store.search.folder(folder, S.And((kernel, S.Text("text", "oop")))) == [3]
    assert await store.search.folder(
        folder, S.And((intel, S.Flag("\\Seen", False), S.Text("body", "ware")))) == [2]
    assert await store.search.folder(
        folder, S.And((intel, S.Not(kernel), S.Text("from", "ex")))) == [2]
