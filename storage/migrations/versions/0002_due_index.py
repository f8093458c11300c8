"""Index due chats by (next_digest_at, id), the order a broadcast reads them in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_chats_due", "chats", ["next_digest_at", "id"], unique=False)
    op.drop_index(op.f("ix_chats_next_digest_at"), table_name="chats")


def downgrade() -> None:
    op.create_index(op.f("ix_chats_next_digest_at"), "chats", ["next_digest_at"], unique=False)
    op.drop_index("ix_chats_due", table_name="chats")
