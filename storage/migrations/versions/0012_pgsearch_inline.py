"""PostgreSQL search: keep each weighted document in its row and match on it directly.

Migration 0010 matched on ``terms``, a copy of the document's lexemes kept in the row, and
read the weighted ``document`` from TOAST to rank the newest 500 matches. Each paper then
stored its lexemes twice (about 1.6 kB in the row and 2.3 kB in TOAST), and ranking 500
papers fetched 500 documents through the TOAST index: about half of a common word's time.

A document is about 2.3 kB. With storage MAIN it stays in its row (PostgreSQL moves a MAIN
value out only when the row would not fit in a page), and with pglz, whatever the server's
default_toast_compression, it stays uncompressed unless compressing saves a quarter, which
lexemes and positions rarely allow (none of the benchmark's 100,000 did). Testing a row
while walking the newest papers is then the same binary search as on ``terms``, and ranking
reads nothing more. Search data shrinks from about 500 MB to 330 MB at 100,000 papers
(benchmarks/search.py).

Changing the storage leaves stored values where they are; rewriting the column through an
expression brings them into their rows. SQLite is unchanged.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TITLE = "ADD COLUMN title TSVECTOR GENERATED ALWAYS AS (strip(ts_filter(document, '{a}'))) STORED"

_UPGRADE = (
    "DROP INDEX ix_search_index_terms",
    # One statement, one rewrite of the table, with the new storage settings.
    f"""ALTER TABLE search_index
        DROP COLUMN terms,
        DROP COLUMN title,
        ALTER COLUMN document SET STORAGE MAIN,
        ALTER COLUMN document SET COMPRESSION pglz,
        ALTER COLUMN document TYPE TSVECTOR USING document || ''::tsvector,
        {_TITLE},
        ALTER COLUMN title SET STORAGE MAIN""",
    "CREATE INDEX ix_search_index_document ON search_index USING GIN (document) "
    "WITH (gin_pending_list_limit = 256)",
)

_DOWNGRADE = (
    "DROP INDEX ix_search_index_document",
    f"""ALTER TABLE search_index
        DROP COLUMN title,
        ALTER COLUMN document SET STORAGE EXTENDED,
        ALTER COLUMN document SET COMPRESSION DEFAULT,
        ALTER COLUMN document TYPE TSVECTOR USING document || ''::tsvector,
        ADD COLUMN terms TSVECTOR GENERATED ALWAYS AS (strip(document)) STORED,
        {_TITLE},
        ALTER COLUMN terms SET STORAGE MAIN,
        ALTER COLUMN title SET STORAGE MAIN""",
    "CREATE INDEX ix_search_index_terms ON search_index USING GIN (terms) "
    "WITH (gin_pending_list_limit = 256)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWNGRADE:
            op.execute(statement)
