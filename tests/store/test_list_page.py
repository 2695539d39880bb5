"""The webmail list page of the store (``Messages.page``): every sort both ways, and the kept
sender/subject order following every change of the folder."""

from __future__ import annotations

import pytest

from mailstore.store import Store


def raw(sender: str, subject: str, body: str = "x") -> bytes:
    return f"From: {sender}\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


async def _subjects(store: Store, folder: int, **kwargs: object) -> list[str]:
    return [m.subject for m in await store.messages.page(folder, **kwargs)]


async def test_pages_sort_by_every_key_both_ways_with_offsets(store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    for n, (sender, subject, size) in enumerate([
            ("Carol <c@x.org>", "beta", 30), ("alice <a@x.org>", "Re: delta", 10),
            ("Bob <b@x.org>", "Alpha", 20), ("dave@x.org", "gamma", 40)]):
        await store.messages.append(folder, raw(sender, subject, "y" * size),
                                    internal_date=1_700_000_000 + n)
    assert await _subjects(store, folder) == ["gamma", "Alpha", "Re: delta", "beta"]
    assert await _subjects(store, folder, sort="from", descending=False) == [
        "Re: delta", "Alpha", "beta", "gamma"]
    assert await _subjects(store, folder, sort="subject", descending=False) == [
        "Alpha", "beta", "Re: delta", "gamma"]
    assert await _subjects(store, folder, sort="subject", offset=1, limit=2) == [
        "Re: delta", "beta"]
    assert await _subjects(store, folder, sort="size") == [
        "gamma", "beta", "Alpha", "Re: delta"]
    assert await _subjects(store, folder, sort="size", descending=False, offset=3) == [
        "gamma"]
    with pytest.raises(ValueError, match="unknown sort"):
        await store.messages.page(folder, sort="colour")


async def test_the_kept_sender_order_follows_new_moved_and_deleted_messages(
        store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    archive = (await store.folders.get(account.id, "Archive")).id
    await store.messages.append(folder, raw("Bob <b@x.org>", "from bob"))
    await store.messages.append(folder, raw("Dora <d@x.org>", "from dora"))
    by_sender = {"sort": "from", "descending": False}
    assert await _subjects(store, folder, **by_sender) == ["from bob", "from dora"]
    await store.messages.append(folder, raw("Cleo <c@x.org>", "from cleo"))
    assert await _subjects(store, folder, **by_sender) == [
        "from bob", "from cleo", "from dora"]
    await store.messages.move(folder, [1], archive)
    assert await _subjects(store, folder, **by_sender) == ["from cleo", "from dora"]
    assert await _subjects(store, archive, **by_sender) == ["from bob"]
    await store.messages.delete(folder, [2])
    assert await _subjects(store, folder, **by_sender) == ["from cleo"]
    changed = await store.messages.store_flags(folder, [3], ["\\Flagged"], "add")
    assert [m.flagged for m in await store.messages.page(folder, **by_sender)] == [
        bool(changed)]
