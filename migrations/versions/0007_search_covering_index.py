"""search: messages(content_id, folder_id, uid) replaces the index on content_id alone

A search finds contents (FTS5 rowids, pg_trgm matches) and must map each to its folder and
UID; with folder and UID in the index that needs no read of the messages row. The old index
was a prefix of the new one, so every query that used it can use the new one.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_content_folder_uid", "messages",
                    ["content_id", "folder_id", "uid"])
    op.drop_index("ix_messages_content_id", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_content_id", "messages", ["content_id"])
    op.drop_index("ix_messages_content_folder_uid", table_name="messages")
