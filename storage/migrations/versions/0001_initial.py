"""Initial schema: chats, subscriptions, papers, paper tags, deliveries, digest runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("digest_time", sa.Time(), nullable=False),
        sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
    )
    op.create_index(op.f("ix_chats_next_digest_at"), "chats", ["next_digest_at"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_subscriptions_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "tag", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_tag"), "subscriptions", ["tag"], unique=False)

    op.create_table(
        "papers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("code_url", sa.Text(), nullable=True),
        sa.Column("project_url", sa.Text(), nullable=True),
        sa.Column("upvotes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.Column("summary_ru", sa.Text(), nullable=True),
        sa.Column(
            "summary_status",
            sa.String(length=16),
            server_default=sa.text("'pending'"),
            nullable=False,
        ),
        sa.Column("summary_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_papers")),
    )
    op.create_index(op.f("ix_papers_listed_on"), "papers", ["listed_on"], unique=False)

    op.create_table(
        "paper_tags",
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_tags_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "tag", name=op.f("pk_paper_tags")),
    )
    op.create_index(op.f("ix_paper_tags_tag"), "paper_tags", ["tag"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_deliveries_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_deliveries_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "paper_id", name=op.f("pk_deliveries")),
    )

    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_digest_runs_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint(
            "chat_id", "local_date", name=op.f("uq_digest_runs_chat_id_local_date")
        ),
    )


def downgrade() -> None:
    op.drop_table("digest_runs")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_paper_tags_tag"), table_name="paper_tags")
    op.drop_table("paper_tags")
    op.drop_index(op.f("ix_papers_listed_on"), table_name="papers")
    op.drop_table("papers")
    op.drop_index(op.f("ix_subscriptions_tag"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_chats_next_digest_at"), table_name="chats")
    op.drop_table("chats")
