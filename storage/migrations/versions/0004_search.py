"""Full-text search: the index (FTS5 on SQLite, tsvector + GIN on PostgreSQL), saved queries.

Existing papers are indexed here, with the same code that keeps the index up to date later:
the index holds stemmed terms, so it must be built by the tokenizer the application uses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = (
    # An INTEGER PRIMARY KEY is the stable rowid that external-content FTS5 needs (VACUUM
    # may renumber implicit rowids).
    """CREATE TABLE search_index (
        id INTEGER PRIMARY KEY,
        paper_id VARCHAR(32) NOT NULL UNIQUE REFERENCES papers (id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        tags TEXT NOT NULL,
        abstract TEXT NOT NULL
    )""",
    # Terms are pre-stemmed letters and digits; unicode61 only splits them at spaces, and
    # keeps diacritics so that it agrees with PostgreSQL's 'simple' configuration.
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        title, summary, tags, abstract,
        content='search_index', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0'
    )""",
    """CREATE TRIGGER search_index_ai AFTER INSERT ON search_index BEGIN
        INSERT INTO search_fts (rowid, title, summary, tags, abstract)
        VALUES (new.id, new.title, new.summary, new.tags, new.abstract);
    END""",
    """CREATE TRIGGER search_index_ad AFTER DELETE ON search_index BEGIN
        INSERT INTO search_fts (search_fts, rowid, title, summary, tags, abstract)
        VALUES ('delete', old.id, old.title, old.summary, old.tags, old.abstract);
    END""",
    """CREATE TRIGGER search_index_au AFTER UPDATE ON search_index BEGIN
        INSERT INTO search_fts (search_fts, rowid, title, summary, tags, abstract)
        VALUES ('delete', old.id, old.title, old.summary, old.tags, old.abstract);
        INSERT INTO search_fts (rowid, title, summary, tags, abstract)
        VALUES (new.id, new.title, new.summary, new.tags, new.abstract);
    END""",
)

_POSTGRES = (
    """CREATE TABLE search_index (
        paper_id VARCHAR(32) PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
        document TSVECTOR NOT NULL
    )""",
    "CREATE INDEX ix_search_index_document ON search_index USING GIN (document)",
)


def upgrade() -> None:
    op.create_table(
        "search_queries",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_queries")),
    )
    op.create_index(op.f("ix_search_queries_used_at"), "search_queries", ["used_at"], unique=False)
    op.create_index("ix_papers_id_listed_on", "papers", ["id", "listed_on"], unique=False)
    bind = op.get_bind()
    statements = _POSTGRES if bind.dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)
    # Imported here, not at the top: only the backfill needs the application's tokenizer.
    from storage.search import rebuild_sync

    rebuild_sync(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_index_ai", "search_index_ad", "search_index_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.execute("DROP TABLE IF EXISTS search_index")
    op.drop_index("ix_papers_id_listed_on", table_name="papers")
    op.drop_index(op.f("ix_search_queries_used_at"), table_name="search_queries")
    op.drop_table("search_queries")
