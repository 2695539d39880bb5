"""initial schema: accounts, folders, messages, parsed contents and the search index

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:32:13.199858
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


SEARCH_COLUMNS = ("search_from", "search_to", "search_cc", "search_bcc", "subject", "search_body")


def create_search_index() -> None:
    """SQLite: FTS5 trigram over contents, kept current by triggers in the same transaction.
    PostgreSQL: pg_trgm GIN indexes for ILIKE '%needle%' (see shared/search-bench.md)."""
    cols = ", ".join(SEARCH_COLUMNS)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE contents_fts USING fts5({cols}, content='contents', "
            "content_rowid='id', tokenize='trigram')"
        )
        new = ", ".join(f"new.{c}" for c in SEARCH_COLUMNS)
        old = ", ".join(f"old.{c}" for c in SEARCH_COLUMNS)
        op.execute(
            "CREATE TRIGGER contents_fts_insert AFTER INSERT ON contents BEGIN "
            f"INSERT INTO contents_fts(rowid, {cols}) VALUES (new.id, {new}); END"
        )
        op.execute(
            "CREATE TRIGGER contents_fts_delete AFTER DELETE ON contents BEGIN "
            f"INSERT INTO contents_fts(contents_fts, rowid, {cols}) "
            f"VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER contents_fts_update AFTER UPDATE OF {cols} ON contents BEGIN "
            f"INSERT INTO contents_fts(contents_fts, rowid, {cols}) "
            f"VALUES ('delete', old.id, {old}); "
            f"INSERT INTO contents_fts(rowid, {cols}) VALUES (new.id, {new}); END"
        )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for col in SEARCH_COLUMNS:
            op.execute(
                f"CREATE INDEX ix_contents_{col}_trgm ON contents USING gin ({col} gin_trgm_ops)"
            )


def drop_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS contents_fts_{name}")
        op.execute("DROP TABLE IF EXISTS contents_fts")
    else:
        for col in SEARCH_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_contents_{col}_trgm")


def upgrade() -> None:
    op.create_table(
        "contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("refcount", sa.Integer(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("bodystructure", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sections", sa.Text(), nullable=False),
        sa.Column("sent_date", sa.BigInteger(), nullable=True),
        sa.Column("subject_base", sa.Text(), nullable=False),
        sa.Column("from_display", sa.Text(), nullable=False),
        sa.Column("from_addr", sa.Text(), nullable=False),
        sa.Column("sort_from", sa.Text(), nullable=False),
        sa.Column("sort_to", sa.Text(), nullable=False),
        sa.Column("sort_cc", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=False),
        sa.Column("references", sa.Text(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("has_attachments", sa.Boolean(), nullable=False),
        sa.Column("parse_error", sa.Text(), nullable=True),
        sa.Column("header_text", sa.Text(), nullable=False),
        sa.Column("search_from", sa.Text(), nullable=False),
        sa.Column("search_to", sa.Text(), nullable=False),
        sa.Column("search_cc", sa.Text(), nullable=False),
        sa.Column("search_bcc", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("search_body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contents")),
        sa.UniqueConstraint("sha256", name=op.f("uq_contents_sha256")),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_domains_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_accounts_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("address", name=op.f("uq_accounts_address")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_domain_id"), ["domain_id"], unique=False)

    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_aliases_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliases")),
        sa.UniqueConstraint("address", "target", name=op.f("uq_aliases_address")),
    )
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aliases_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_aliases_domain_id"), ["domain_id"], unique=False)

    op.create_table(
        "folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uidnext", sa.BigInteger(), nullable=False),
        sa.Column("highestmodseq", sa.BigInteger(), nullable=False),
        sa.Column("special_use", sa.String(length=20), nullable=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("unseen_count", sa.Integer(), nullable=False),
        sa.Column("total_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_folders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_folders_account_id")),
    )
    op.create_table(
        "expunged",
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["folder_id"],
            ["folders.id"],
            name=op.f("fk_expunged_folder_id_folders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("folder_id", "uid", name=op.f("pk_expunged")),
    )
    with op.batch_alter_table("expunged", schema=None) as batch_op:
        batch_op.create_index("ix_expunged_folder_modseq", ["folder_id", "modseq"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("internal_date", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"], ["contents.id"], name=op.f("fk_messages_content_id_contents")
        ),
        sa.ForeignKeyConstraint(
            ["folder_id"],
            ["folders.id"],
            name=op.f("fk_messages_folder_id_folders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("folder_id", "uid", name=op.f("uq_messages_folder_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_content_id"), ["content_id"], unique=False)
        batch_op.create_index(
            "ix_messages_folder_date", ["folder_id", "internal_date", "uid"], unique=False
        )
        batch_op.create_index("ix_messages_folder_modseq", ["folder_id", "modseq"], unique=False)

    create_search_index()


def downgrade() -> None:
    drop_search_index()
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_folder_modseq")
        batch_op.drop_index("ix_messages_folder_date")
        batch_op.drop_index(batch_op.f("ix_messages_content_id"))

    op.drop_table("messages")
    with op.batch_alter_table("expunged", schema=None) as batch_op:
        batch_op.drop_index("ix_expunged_folder_modseq")

    op.drop_table("expunged")
    op.drop_table("folders")
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aliases_domain_id"))
        batch_op.drop_index(batch_op.f("ix_aliases_address"))

    op.drop_table("aliases")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_domain_id"))

    op.drop_table("accounts")
    op.drop_table("domains")
    op.drop_table("contents")
