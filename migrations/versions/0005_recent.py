"""recent: folders.recent_uid for IMAP \\Recent (RFC 3501 §2.3.2)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing mail counts as already seen: nothing is \Recent right after the upgrade,
    # as before it (the server reported 0 RECENT).
    with op.batch_alter_table("folders") as batch:
        batch.add_column(sa.Column("recent_uid", sa.BigInteger(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE folders SET recent_uid = uidnext - 1")


def downgrade() -> None:
    with op.batch_alter_table("folders") as batch:
        batch.drop_column("recent_uid")
