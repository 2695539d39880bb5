"""Many-row INSERTs on the hot write paths (delivery, import, the message trace).

Why not SQLAlchemy's ``executemany`` on SQLite:
- FTS5 writes its pending index data out as a new segment at the end of every statement
  that changed it (a statement is a savepoint), and an ``executemany`` is one statement
  per row: importing 1,000 messages in one transaction wrote 1,000 tiny segments and then
  merged them. As one multi-row INSERT (the ``contents`` trigger feeds FTS5), the SQLite
  writer imported the real-mail corpus at 1,320 messages/s instead of 821.
- The writer runs on its own thread, and the sqlite3 module lets go of the GIL around every
  row it steps through, then has to take it back from the event loop; under SMTP load each
  of those hand-overs waited for the loop. One INSERT is one step.
Only the statement text is built here (cached by row count); values are bound parameters.
PostgreSQL keeps ``executemany`` (its inserts run on the event loop; asyncpg batches them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from sqlalchemy import Connection, Executable, Table

# SQLite (3.32 and later) binds at most 32,766 parameters per statement.
MAX_PARAMETERS = 32_000


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, object]],
                otherwise: Executable, conflict: str = "") -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table``. SQLite: in as few
    statements as the parameter limit allows, ``conflict`` being their ON CONFLICT clause.
    PostgreSQL: ``otherwise`` (the same INSERT as a statement) with ``executemany``."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(otherwise, list(rows))
        return
    keys = tuple(rows[0])
    per_statement = max(1, MAX_PARAMETERS // len(keys))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        values = [row[key] for row in chunk for key in keys]
        conn.exec_driver_sql(_statement(table.name, keys, len(chunk), conflict),
                             tuple(values))


@lru_cache(maxsize=256)
def _statement(table: str, keys: tuple[str, ...], count: int, conflict: str) -> str:
    columns = ", ".join(f'"{key}"' for key in keys)
    row = "(" + ", ".join("?" * len(keys)) + ")"
    return f'INSERT INTO "{table}" ({columns}) VALUES {", ".join([row] * count)} {conflict}'
