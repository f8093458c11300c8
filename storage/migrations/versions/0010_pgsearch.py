"""PostgreSQL search: match on a lean copy of each document, rank the weighted one.

Matching used ``document``, the weighted tsvector with positions (about 2.3 kB a paper), which
PostgreSQL keeps compressed in TOAST. A search wants the newest 500 matches, and for a common
word the planner walks the primary key backwards testing each document; it does not count the
cost of fetching and decompressing a document, so it walked that way for rarer words too,
tens of thousands of documents for one query (benchmarks/search.py; README, Performance).

``terms`` is the same lexemes without positions or weights, kept uncompressed in the row
(storage MAIN), so testing a row is a binary search; the GIN index moves to it. ``title``
holds the title's lexemes, for the direct-hit test. Both are generated from ``document``, so
the code that writes the index is unchanged. ``document`` is read only to rank the 500.

The GIN index keeps a short pending list: every search scans the whole list, and with the
default 4 MB a search read up to 512 pages of it until a vacuum merged them into the index.

SQLite is unchanged.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPGRADE = (
    "DROP INDEX ix_search_index_document",
    # One statement, one rewrite of the table: the storage setting applies to it.
    """ALTER TABLE search_index
        ADD COLUMN terms TSVECTOR GENERATED ALWAYS AS (strip(document)) STORED,
        ADD COLUMN title TSVECTOR GENERATED ALWAYS AS (strip(ts_filter(document, '{a}'))) STORED,
        ALTER COLUMN terms SET STORAGE MAIN,
        ALTER COLUMN title SET STORAGE MAIN""",
    "CREATE INDEX ix_search_index_terms ON search_index USING GIN (terms) "
    "WITH (gin_pending_list_limit = 256)",
)

_DOWNGRADE = (
    "DROP INDEX ix_search_index_terms",
    "ALTER TABLE search_index DROP COLUMN title, DROP COLUMN terms",
    "CREATE INDEX ix_search_index_document ON search_index USING GIN (document)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWNGRADE:
            op.execute(statement)
