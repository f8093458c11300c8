"""The code link each chat has seen of a paper: delivered with it, or told later.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("code_url_sent", sa.Text(), nullable=True))
    # Nobody knows whether past deliveries showed the code their papers have now: count it as
    # shown, so an upgrade does not announce every old repository at once.
    op.execute(
        "UPDATE deliveries SET code_url_sent = "
        "(SELECT papers.code_url FROM papers WHERE papers.id = deliveries.paper_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("code_url_sent")
