"""Several servers on one database: every queue entry is delivered by exactly one of them."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

from mailstore.store import Store
from tests.outbound.conftest import Clock, Internet
from tests.outbound.test_queue import message, queue, until_empty


async def test_two_runners_on_one_database_never_send_an_entry_twice(
        office: Store, internet: Internet, make_runner, database_url: str,
        tmp_path: Path, clock: Clock) -> None:
    remote = await internet.mail_server("remote.test")
    remote.delay = 0.005
    total = 200
    for n in range(total):
        await queue(office, raw=message(f"n{n}", f"<n{n}@example.com>"))
    other = Store(database_url, tmp_path / "other-blobs")  # a second node's own connections
    try:
        # Each holds at most 20 entries at a time, so both keep coming back for more.
        a = make_runner(node="node-a", in_flight=20)
        b = make_runner(other, node="node-b", in_flight=20)
        await asyncio.gather(a.start(), b.start())
        await until_empty(office, 60)
    finally:
        await other.close()
    counts = collections.Counter(r.message["Subject"] for r in remote.received)
    assert len(counts) == total and set(counts.values()) == {1}
    assert a.claimed > 0 and b.claimed > 0  # both took part
