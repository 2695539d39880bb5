"""web admin queue, trace and dashboard: a bounce request on queue entries, and the
indexes that keep the trace search and the dashboard's counts fast on 100k messages

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound") as batch:
        batch.add_column(sa.Column("bounce_requested", sa.Text(), nullable=True))
    # Dashboard counts per day: "accepted" (in) and "sent" (out) over a time range,
    # answered from the index alone.
    op.create_index("ix_trace_verdict_at", "trace", ["verdict", "at", "listener"])
    op.create_index("ix_trace_message_id", "trace", ["message_id"])
    op.create_index("ix_trace_client_ip_at", "trace", ["client_ip", "at"])
    if op.get_bind().dialect.name == "sqlite":
        # The trace search by sender or recipient substring (LIKE, no index can seek it)
        # scans this covering index instead of the table (``Traces.find``): a rare sender
        # in 100k records, 790 -> 11 ms. Not on PostgreSQL: a B-tree entry there is
        # limited to ~2.7 kB, which the recipients of a large message exceed.
        op.create_index("ix_trace_search", "trace", ["at", "mail_from", "recipients"])
    else:  # PostgreSQL: pg_trgm (migration 0001) answers ILIKE '%needle%' from an index
        for column in ("mail_from", "recipients"):
            op.execute(f"CREATE INDEX ix_trace_{column}_trgm ON trace "
                       f"USING gin ({column} gin_trgm_ops)")
    # Storage used: the sum of blob sizes read from the index, not from the wide rows.
    op.create_index("ix_contents_size", "contents", ["size"])


def downgrade() -> None:
    op.drop_index("ix_contents_size", "contents")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_trace_search", "trace")
    else:
        for column in ("mail_from", "recipients"):
            op.drop_index(f"ix_trace_{column}_trgm", "trace")
    op.drop_index("ix_trace_client_ip_at", "trace")
    op.drop_index("ix_trace_message_id", "trace")
    op.drop_index("ix_trace_verdict_at", "trace")
    with op.batch_alter_table("outbound") as batch:
        batch.drop_column("bounce_requested")
