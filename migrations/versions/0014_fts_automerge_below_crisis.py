"""search: SQLite's FTS5 index merges its segments 12 at a time, below its crisis point

FTS5 merges a level of its index in two ways: a little at a time after each commit, once
the level holds ``automerge`` segments, or all at once, inside the commit that brings the
level to ``crisismerge`` (16) segments. Migration 0013 set ``automerge`` to 16, the crisis
point itself, so every merge was a crisis merge: every 256 delivery commits one of them
rewrote megabytes of index and held the writer for ~60 ms, and every delivery waiting for
it waited too (``bench/smtp``, SQLite: end-of-DATA-to-250 p99 ~62 ms). At 12 the merge is
spread over the next commits: p99 ~22 ms, at the same throughput (8 gave the same p99,
a little slower; 4, the default, was slower still). PostgreSQL: nothing to do.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

from mailstore.search_index import set_automerge

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    set_automerge(op.get_bind(), 12)


def downgrade() -> None:
    set_automerge(op.get_bind(), 16)
