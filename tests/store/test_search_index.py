"""The search index is tidied while the server is quiet, and finds the same afterwards."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from mailstore import search as S
from mailstore.delivery import Delivery
from mailstore.store import Store


def message(n: int) -> bytes:
    return (f"From: Zed <zed{n}@example.org>\r\nTo: ann@example.com\r\n"
            f"Subject: report number {n}\r\n\r\nQuarterly figures, part {n}: xylophone{n % 3}\r\n"
            ).encode()


async def segments(store: Store) -> int:
    async with store.db.read() as conn:
        return (await conn.execute(
            text("SELECT count(DISTINCT segid) FROM contents_fts_idx"))).scalar_one()


async def filled(store: Store, account, count: int = 40) -> int:
    """A folder filled one message per transaction, as deliveries fill it."""
    folder = (await store.folders.get(account.id, "INBOX")).id
    for n in range(count):
        await store.messages.append(folder, message(n))
    return folder


async def answers(store: Store, folder: int) -> list[list[int]]:
    return [await store.search.folder(folder, S.Text(field, needle))
            for field, needle in [("body", "xylophone1"), ("subject", "NUMBER 3"),
                                  ("from", "zed1"), ("text", "figures")]]


async def test_tidying_merges_small_segments_and_search_finds_the_same(
        store: Store, account) -> None:
    folder = await filled(store, account)
    before = await answers(store, folder)
    assert before[0] and before[3]
    if not store.db.is_sqlite:  # pg_trgm needs no upkeep
        assert await store.search_index.tidy() == 0
        return
    many = await segments(store)
    assert await store.search_index.tidy() > 0
    assert await segments(store) < many
    assert await store.search_index.tidy() == 0  # nothing left to merge
    assert await answers(store, folder) == before
    await store.db.write_sync(lambda conn: conn.exec_driver_sql(
        "INSERT INTO contents_fts(contents_fts) VALUES ('integrity-check')"))


async def test_the_index_is_tidied_only_while_the_server_is_quiet(
        store: Store, account) -> None:
    if not store.db.is_sqlite:
        return
    await filled(store, account)
    many = await segments(store)
    quiet = False
    upkeep = asyncio.create_task(store.search_index.keep_tidy(lambda: quiet, every=0.01))
    try:
        await asyncio.sleep(0.2)
        assert await segments(store) == many  # mail is arriving: hands off
        quiet = True
        for _ in range(200):
            await asyncio.sleep(0.02)
            if await segments(store) < many:
                break
        assert await segments(store) < many
    finally:
        upkeep.cancel()


async def test_deliveries_tell_whether_the_server_is_quiet(store: Store, account) -> None:
    assert store.delivery.quiet(10.0)
    await filled(store, account, 1)  # an append is not a delivery
    assert store.delivery.quiet(10.0)
    ann = (await store.router.resolve(account.address)).local
    await store.delivery.deliver(Delivery(message(1), "zed@example.org", ann))
    assert not store.delivery.quiet(10.0)
    assert store.delivery.quiet(0.0)


async def test_fts5_merges_levels_before_its_crisis_point(store: Store) -> None:
    # automerge below crisismerge (16): merges spread over commits, never one big one.
    if not store.db.is_sqlite:
        return
    async with store.db.read() as conn:
        automerge = (await conn.execute(text(
            "SELECT v FROM contents_fts_config WHERE k = 'automerge'"))).scalar()
    assert automerge == 12
