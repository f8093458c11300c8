"""The message budget every replica draws on: a token bucket in one row.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    budget = op.create_table(
        "rate_budget",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("stamp", sa.Double(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_budget")),
    )
    # Stamped at the epoch: the first take finds the bucket full.
    op.bulk_insert(budget, [{"id": 1, "tokens": 0.0, "stamp": 0.0, "granted": 0}])


def downgrade() -> None:
    op.drop_table("rate_budget")
