"""The message trace keeps [trace] keep_days of records and forgets older ones."""

from __future__ import annotations

import asyncio
import time

from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord

DAY = 86400


def record(at: int, sender: str) -> TraceRecord:
    return TraceRecord(at=at, listener="smtp", client_ip="192.0.2.7", verdict="accepted",
                       mail_from=sender, message_id=f"<{sender}>",
                       recipients=[RecipientVerdict("ann@example.com", "accepted")])


async def senders(store: Store) -> set[str]:
    return {r.mail_from for r in await store.traces.find(limit=10_000)}


async def test_records_older_than_the_cutoff_are_forgotten_in_batches(store: Store) -> None:
    now = int(time.time())
    for n in range(25):
        await store.traces.record(record(now - 100 * DAY + n, f"old{n}@example.org"))
    await store.traces.record(record(now - 10 * DAY, "recent@example.org"))
    await store.traces.record(record(now, "today@example.org"))
    # Batches of 10: the last one is short, and nothing recent goes with them.
    assert await store.traces.forget_before(now - 90 * DAY, batch=10) == 25
    assert await senders(store) == {"recent@example.org", "today@example.org"}
    assert await store.traces.forget_before(now - 90 * DAY) == 0


async def test_the_keeper_asks_for_the_setting_each_round_and_zero_keeps_all(
        store: Store) -> None:
    now = int(time.time())
    await store.traces.record(record(now - 40 * DAY, "month@example.org"))
    await store.traces.record(record(now - 2 * DAY, "days@example.org"))
    keep = [0]
    keeper = asyncio.create_task(store.traces.keep_recent(lambda: keep[0], every=0.05))
    try:
        await asyncio.sleep(0.2)
        assert await senders(store) == {"month@example.org", "days@example.org"}
        keep[0] = 30
        for _ in range(100):
            if await senders(store) == {"days@example.org"}:
                break
            await asyncio.sleep(0.05)
        assert await senders(store) == {"days@example.org"}
    finally:
        keeper.cancel()
