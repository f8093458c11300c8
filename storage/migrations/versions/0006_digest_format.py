"""A chat's digest format: full, or compact with each summary folded into a quote.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default gives every existing chat today's format.
    op.add_column(
        "chats",
        sa.Column(
            "digest_format", sa.String(length=16), server_default=sa.text("'full'"), nullable=False
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("digest_format")
