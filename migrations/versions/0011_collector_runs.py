"""web admin: the history of collector runs (results and errors, newest kept)

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collector_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("collector_id", sa.Integer(),
                  sa.ForeignKey("collectors.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_collector_runs_collector", "collector_runs", ["collector_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_collector_runs_collector", table_name="collector_runs")
    op.drop_table("collector_runs")
