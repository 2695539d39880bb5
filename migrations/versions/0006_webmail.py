"""webmail: preferences, identities, contacts and senders trusted with remote images

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _account() -> sa.ForeignKey:
    return sa.ForeignKey("accounts.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "preferences",
        sa.Column("account_id", sa.Integer(), _account(), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), _account(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signature_is_html", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_identities_account_id", "identities", ["account_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), _account(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("saved", sa.Boolean(), nullable=False),
        sa.Column("times_used", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("account_id", "address", name="uq_contacts_account_id"),
    )
    op.create_table(
        "trusted_senders",
        sa.Column("account_id", sa.Integer(), _account(), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
    )


def downgrade() -> None:
    for table in ("trusted_senders", "contacts", "identities", "preferences"):
        op.drop_table(table)
