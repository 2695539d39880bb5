"""delivery: message trace, outbound queue, distribution lists, Message-ID index

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("listener", sa.String(length=20), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("helo", sa.Text(), nullable=False),
        sa.Column("tls", sa.Text(), nullable=False),
        sa.Column("auth_user", sa.String(length=320), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace")),
    )
    op.create_index("ix_trace_at", "trace", ["at"])
    op.create_table(
        "outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("dsn", sa.Text(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound")),
    )
    op.create_index("ix_outbound_due", "outbound", ["status", "next_attempt_at"])
    op.create_index("ix_contents_message_id", "contents", ["message_id"])
    op.create_table(
        "lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("subject_prefix", sa.Text(), nullable=False),
        sa.Column("reply_to_list", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"],
                                name=op.f("fk_lists_domain_id_domains"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("address", name=op.f("uq_lists_address")),
    )
    op.create_index(op.f("ix_lists_domain_id"), "lists", ["domain_id"])
    op.create_table(
        "list_members",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"],
                                name=op.f("fk_list_members_list_id_lists"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("list_id", "address", "role", name=op.f("pk_list_members")),
    )


def downgrade() -> None:
    op.drop_table("list_members")
    op.drop_index(op.f("ix_lists_domain_id"), table_name="lists")
    op.drop_table("lists")
    op.drop_index("ix_contents_message_id", table_name="contents")
    op.drop_index("ix_outbound_due", table_name="outbound")
    op.drop_table("outbound")
    op.drop_index("ix_trace_at", table_name="trace")
    op.drop_table("trace")
