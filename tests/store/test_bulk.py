"""Many-row INSERTs: every row arrives, across as many statements as it takes."""

from __future__ import annotations

from sqlalchemy import insert

from mailstore.bulk import MAX_PARAMETERS, insert_rows
from mailstore.store import Store
from mailstore.trace import T, TraceRecord


async def test_rows_beyond_one_statements_parameters_all_arrive(store: Store) -> None:
    rows = [TraceRecord(at=n, listener="smtp", client_ip="192.0.2.1", verdict="accepted",
                        reply=f"reply {n}", recipients=[]).row() for n in range(3000)]
    assert len(rows) * len(rows[0]) > MAX_PARAMETERS  # SQLite needs more than one statement
    await store.db.write_sync(lambda conn: insert_rows(conn, T, rows, insert(T)))
    found = await store.traces.find(limit=5000)
    assert sorted(t.at for t in found) == list(range(3000))
    assert {t.reply for t in found} == {f"reply {n}" for n in range(3000)}
