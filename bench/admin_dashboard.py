"""bench/admin_dashboard: the admin dashboard's and message trace's store queries on a store
of N messages (default 100k) with N trace records over the last 7 days; prints p50/p99.

The messages are the search bench's (corpus copies, built once into .cache on SQLite); the
trace records are written through ``insert_traces`` in batches: 85% accepted arrivals, 10%
outbound attempts (sent, some bounced), 5% refusals (a third by a DNS blocklist).
    .venv/bin/python bench/admin_dashboard.py [--messages 100000] [--postgres] [--runs 20]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date

from common import run
from search import bench_stores, timed

from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord, insert_traces
from webapp.admin.dashboard import day_starts


async def fill_trace(store: Store, total: int) -> None:
    rng = random.Random(7)
    now = int(time.time())
    if await store.traces.find(limit=1):  # filled by an earlier run (the store is cached)
        return
    have = 0
    start = time.perf_counter()
    batch: list[TraceRecord] = []
    for n in range(total - have):
        at = now - rng.randrange(7 * 86400)
        roll = rng.random()
        if roll < 0.85:
            record = TraceRecord(at, "smtp", f"198.51.{n % 200}.{n % 250}", "accepted",
                                 mail_from=f"sender{n % 5000}@faraway{n % 300}.example",
                                 message_id=f"<m{n}@bench>", recipients=[RecipientVerdict(
                                     f"user{n % 50}@example.com", "accepted", "",
                                     f"user{n % 50}@example.com/INBOX")])
        elif roll < 0.95:
            verdict = "bounced" if rng.random() < 0.05 else "sent"
            record = TraceRecord(at, "outbound", "192.0.2.8", verdict,
                                 mail_from=f"user{n % 50}@example.com",
                                 message_id=f"<m{n}@bench>", recipients=[RecipientVerdict(
                                     f"them{n}@faraway.example", "delivered"
                                     if verdict == "sent" else "bounced", "250 2.0.0 OK")])
        else:
            reply = ("554 5.7.1 203.0.113.9 is listed by zen.example" if rng.random() < 0.33
                     else "")
            record = TraceRecord(at, "smtp", "203.0.113.9", "rejected", reply=reply,
                                 mail_from="spam@bulk.example", recipients=[RecipientVerdict(
                                     "nobody@example.com", "rejected", "550 5.1.1 no such "
                                     "user")])
        batch.append(record)
        if len(batch) == 5000:
            async with store.db.write() as conn:
                await conn.run_sync(insert_traces, batch)
            batch = []
    if batch:
        async with store.db.write() as conn:
            await conn.run_sync(insert_traces, batch)
    print(f"wrote {total - have} trace records in {time.perf_counter() - start:.0f} s")


async def measure(store: Store, runs: int) -> None:
    starts = day_starts(date.today())
    now = int(time.time())
    for name, call in (
        ("traffic per day (7 days)", lambda: store.stats.traffic(starts)),
        ("storage (blobs, db, top 5)", lambda: store.stats.storage(5)),
        ("refusals by reason (24 h)", lambda: store.stats.refusals(now - 86400)),
        ("failed deliveries (7 days)", lambda: store.stats.failed_deliveries(
            now - 7 * 86400)),
        ("queue counts", lambda: store.outbound.counts()),
        ("trace: newest 51", lambda: store.traces.find(limit=51)),
        ("trace: recipient substring", lambda: store.traces.find(
            recipient="user7@", limit=51)),
        ("trace: rare sender substring", lambda: store.traces.find(
            sender="sender4999@faraway", limit=51)),
        ("trace: Message-ID", lambda: store.traces.find(message_id="<m777@bench>")),
        ("trace: client IP", lambda: store.traces.find(client_ip="198.51.7.7", limit=51)),
        ("trace: one day", lambda: store.traces.find(since=starts[3], until=starts[4],
                                                     limit=51)),
        ("trace: one story", lambda: store.traces.story(1)),
    ):
        _, figures = await timed(call, runs)
        print(f"{name:30s} {figures}")


async def main(total: int, postgres: bool, runs: int) -> None:
    async for engine, store, _ in bench_stores(total, postgres):
        await fill_trace(store, total)
        print(f"-- {engine}: {total} messages, {total} trace records in 7 days")
        await measure(store, runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    run(main(args.messages, args.postgres, args.runs))
