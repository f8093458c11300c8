"""Channels run from a private chat: who administers a chat, which chat a user runs, titles.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chats", sa.Column("title", sa.String(length=255), nullable=True))
    op.create_table(
        "chat_admins",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_admins_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_chat_admins")),
    )
    op.create_index("ix_chat_admins_user_id", "chat_admins", ["user_id"])
    op.create_table(
        "managed_chats",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_managed_chats_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_managed_chats")),
    )
    op.create_index("ix_managed_chats_chat_id", "managed_chats", ["chat_id"])


def downgrade() -> None:
    op.drop_index("ix_managed_chats_chat_id", table_name="managed_chats")
    op.drop_table("managed_chats")
    op.drop_index("ix_chat_admins_user_id", table_name="chat_admins")
    op.drop_table("chat_admins")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("title")
