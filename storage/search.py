"""Full-text search over papers: FTS5 on SQLite, ``tsvector`` + GIN on PostgreSQL.

Both dialects index the same pre-stemmed term strings (``content.search.document``), one per
weighted field: title (highest), Russian summary, tags, English abstract (lowest).  SQLite
keeps them in ``search_index`` with an external-content FTS5 table ``search_fts`` that
triggers keep in step; PostgreSQL keeps one weighted ``tsvector`` per paper in its row, and
generated from it the title's lexemes.  Ranking is BM25 on SQLite and ``ts_rank_cd`` on
PostgreSQL, with the same field weights, then recency.

Queries are built from terms of letters and digits only, each quoted for FTS5 and joined
with operators we write ourselves, so user text never reaches MATCH or ``to_tsquery`` raw.
The index follows ``papers`` through :func:`reindex`, which the code writing papers calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    TextClause,
    case,
    column,
    delete,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from content.search import (
    SearchDocument,
    SearchQuery,
    Term,
    document,
    fuse,
    names_something,
    tag_term,
)
from storage.db import dialect_name, insert_ignoring_conflicts
from storage.models import Paper, PaperTag, SavedQuery

INDEX_TABLE: Final[str] = "search_index"
FTS_TABLE: Final[str] = "search_fts"
# Tables the migration creates outside the ORM metadata (their shape depends on the dialect):
# the index, the FTS5 virtual table and the shadow tables SQLite keeps for it.
UNMAPPED_TABLES: Final[frozenset[str]] = frozenset(
    {INDEX_TABLE, FTS_TABLE}
    | {f"{FTS_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config", "content")}
)

# Field weights, title > summary > tags > abstract. FTS5 takes them per column in the order
# title, summary, tags, abstract; ts_rank_cd takes {D, C, B, A} = {tags, abstract, summary,
# title}, scaled alike so both dialects order papers the same way.
_BM25_WEIGHTS: Final[str] = "10.0, 5.0, 3.0, 2.0"
_TS_WEIGHTS: Final[str] = "{0.3, 0.2, 0.5, 1.0}"
# ts_rank_cd normalisation 1: divide by 1 + log(document length), as BM25 damps long texts.
_TS_NORMALIZATION: Final[int] = 1

MAX_CANDIDATES: Final[int] = 500
"""A query matching more papers ranks only the newest this many of them.

FTS5 computes bm25() row by row, so a broad query ("модель") costs in proportion to its
matches; the newest matches are what a reader of a digest bot wants anyway, and 500 matches
of a broad word are weeks of papers. benchmarks/search.py measures the latency.
"""

Semantic = Sequence[str] | Awaitable[Sequence[str] | None] | None
"""Papers nearest in meaning to a query, best first; or a task finding them; or None."""

MAX_TAGS: Final[int] = 5
"""At most this many ``#tag`` filters of one query are applied."""

# asyncpg prepares every statement, and after five runs PostgreSQL may switch a statement to
# a generic plan. A generic plan cannot see how rare the query's words are, so it walks the
# primary key testing every document, many times slower: plan each search for its own words,
# for the rest of its transaction.
_CUSTOM_PLANS: Final[TextClause] = text("SET LOCAL plan_cache_mode = force_custom_plan")

_CHUNK: Final[int] = 500
_QUERY_ID_CHARS: Final[int] = 12


# --- writing the index ----------------------------------------------------------------------

_UPSERT_SQLITE: Final[TextClause] = text(
    "INSERT INTO search_index (paper_id, title, summary, tags, abstract) "
    "VALUES (:paper_id, :title, :summary, :tags, :abstract) "
    "ON CONFLICT (paper_id) DO UPDATE SET title = excluded.title, summary = excluded.summary, "
    "tags = excluded.tags, abstract = excluded.abstract "
    # An unchanged paper (most of a re-run of ingest) leaves the FTS5 index alone.
    "WHERE search_index.title IS NOT excluded.title OR search_index.summary IS NOT "
    "excluded.summary OR search_index.tags IS NOT excluded.tags "
    "OR search_index.abstract IS NOT excluded.abstract"
)
_UPSERT_POSTGRES: Final[TextClause] = text(
    "INSERT INTO search_index (paper_id, document) VALUES (:paper_id, "
    "setweight(to_tsvector('simple', :title), 'A') || "
    "setweight(to_tsvector('simple', :summary), 'B') || "
    "setweight(to_tsvector('simple', :abstract), 'C') || "
    "setweight(to_tsvector('simple', :tags), 'D')) "
    "ON CONFLICT (paper_id) DO UPDATE SET document = excluded.document "
    "WHERE search_index.document IS DISTINCT FROM excluded.document"
)


def upsert_statement(dialect: str) -> TextClause:
    """The statement that writes one paper's index row (parameters from :func:`index_row`)."""
    if dialect == "postgresql":
        return _UPSERT_POSTGRES
    if dialect == "sqlite":
        return _UPSERT_SQLITE
    raise NotImplementedError(f"unsupported database dialect: {dialect}")


def index_row(paper_id: str, doc: SearchDocument) -> dict[str, str]:
    """Bound parameters of :func:`upsert_statement` for one paper."""
    return {
        "paper_id": paper_id,
        "title": doc.title,
        "summary": doc.summary,
        "tags": doc.tags,
        "abstract": doc.abstract,
    }


def _documents(papers: Iterable[Any], tags: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    return [
        index_row(
            p.id,
            document(
                title=p.title,
                title_ru=p.title_ru,
                summary_ru=p.summary_ru,
                abstract=p.abstract,
                tags=tags.get(p.id, ()),
            ),
        )
        for p in papers
    ]


_PAPER_FIELDS: Final = (Paper.id, Paper.title, Paper.title_ru, Paper.summary_ru, Paper.abstract)


async def reindex(*, session: AsyncSession, paper_ids: Sequence[str]) -> None:
    """Bring the index rows of these papers up to date with their text and tags."""
    statement = upsert_statement(dialect_name(session))
    unique = list(dict.fromkeys(paper_ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows = (await session.execute(select(*_PAPER_FIELDS).where(Paper.id.in_(chunk)))).all()
        tag_rows = await session.execute(
            select(PaperTag.paper_id, PaperTag.tag).where(PaperTag.paper_id.in_(chunk))
        )
        tags: dict[str, list[str]] = {}
        for pid, tag in tag_rows.all():
            tags.setdefault(pid, []).append(tag)
        params = _documents(rows, tags)
        if params:
            await session.execute(statement, params)


def rebuild_sync(connection: Connection) -> int:
    """Index every paper on a synchronous connection (the migration's backfill); the count."""
    statement = upsert_statement(connection.dialect.name)
    tags: dict[str, list[str]] = {}
    for pid, tag in connection.execute(select(PaperTag.paper_id, PaperTag.tag)):
        tags.setdefault(pid, []).append(tag)
    done = 0
    batch: list[Any] = []
    for row in connection.execute(select(*_PAPER_FIELDS).order_by(Paper.id)):
        batch.append(row)
        if len(batch) >= _CHUNK:
            connection.execute(statement, _documents(batch, tags))
            done += len(batch)
            batch = []
    if batch:
        connection.execute(statement, _documents(batch, tags))
        done += len(batch)
    return done


async def rebuild(*, session: AsyncSession) -> int:
    """Index every paper again (after a change of the tokenizer); returns how many."""
    return await session.run_sync(lambda sync: rebuild_sync(sync.connection()))


# --- querying -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    """What a search result shows of one paper."""

    id: str
    title: str
    title_ru: str | None
    summary_ru: str | None
    abstract: str
    url: str
    code_url: str | None
    project_url: str | None
    upvotes: int
    listed_on: dt.date
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results, best first."""

    hits: tuple[SearchHit, ...]
    has_more: bool
    # No paper had every word, so these are papers with some of them.
    relaxed: bool = False


def fts5_expression(
    terms: Sequence[Term], *, any_term: bool = False, tags: Sequence[str] = ()
) -> str:
    """An FTS5 MATCH expression of quoted terms: all of them, or any with ``any_term``.

    Every tag in ``tags`` is required.
    """
    words = []
    for term in terms:
        alternatives = [
            "(" + " AND ".join(_fts5_string(t) for t in alternative) + ")"
            for alternative in term.alternatives
        ]
        words.append("(" + " OR ".join(alternatives) + ")")
    expression = "(" + (" OR " if any_term else " AND ").join(words) + ")"
    return " AND ".join([expression, *(_fts5_string(tag_term(t)) for t in tags[:MAX_TAGS])])


def _fts5_string(term: str) -> str:
    # Terms are letters and digits already; doubling quotes keeps that true whatever comes.
    return '"' + term.replace('"', '""') + '"'


def tsquery_expression(
    terms: Sequence[Term], *, any_term: bool = False, tags: Sequence[str] = ()
) -> str:
    """A ``to_tsquery('simple', …)`` expression of the same shape as :func:`fts5_expression`."""
    words = []
    for term in terms:
        alternatives = [
            "(" + " & ".join(_ts_lexeme(t) for t in alternative) + ")"
            for alternative in term.alternatives
        ]
        words.append("(" + " | ".join(alternatives) + ")")
    expression = "(" + (" | " if any_term else " & ").join(words) + ")"
    return " & ".join([expression, *(_ts_lexeme(tag_term(t)) for t in tags[:MAX_TAGS])])


def _ts_lexeme(term: str) -> str:
    # Quoted and escaped as tsquery syntax wants, on top of the letters-and-digits guarantee.
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _tag_filters(tags: Sequence[str]) -> list[ColumnElement[bool]]:
    return [
        exists().where(PaperTag.paper_id == Paper.id, PaperTag.tag == tag)
        for tag in tags[:MAX_TAGS]
    ]


def _ranked_ids(
    dialect: str, query: SearchQuery, *, any_term: bool, with_direct: bool = False
) -> Select[Any]:
    """Paper ids matching the query, best first; "#tag" filters are terms of the index.

    A paper whose title has every word of the query is a direct hit: direct hits come first,
    newest first, since for a reader of a daily digest the latest "Mixture of Experts"
    paper beats an older one with a shorter title. The rest follow by relevance (BM25 or
    ts_rank_cd), then recency. Direct hits are a yes/no matter, so on both dialects the top
    of a list agrees even though their relevance scores differ. With ``with_direct`` each
    row also says whether it is a direct hit.
    """
    filters = _tag_filters(query.tags)
    if not query.terms:
        return (
            select(Paper.id)
            .where(*filters)
            .order_by(Paper.listed_on.desc(), Paper.upvotes.desc(), Paper.id.desc())
        )
    index = table(
        INDEX_TABLE,
        column("id"),
        column("paper_id"),
        column("document"),
        column("title"),
    )
    if dialect == "sqlite":
        fts = table(FTS_TABLE, column("rowid"))
        tag_terms = [_fts5_string(tag_term(tag)) for tag in query.tags[:MAX_TAGS]]
        title = " AND ".join([f"title : {fts5_expression(query.terms)}", *tag_terms])
        # bm25() is negative, lower is better: negated so that both dialects sort alike.
        score: ColumnElement[Any] = -func.bm25(
            literal_column(FTS_TABLE), literal_column(_BM25_WEIGHTS)
        )
        direct = fts.c.rowid.in_(
            select(fts.c.rowid)
            .where(text(f"{FTS_TABLE} MATCH :title").bindparams(title=title))
            .order_by(fts.c.rowid.desc())
            .limit(MAX_CANDIDATES)
        )
        expression = fts5_expression(query.terms, any_term=any_term, tags=query.tags)
        # FTS5 walks its doclists newest row first and stops at the cap, so bm25() runs for
        # the candidates only, before any other table is touched.
        candidates = (
            select(fts.c.rowid.label("rowid"), score.label("score"), direct.label("direct"))
            .where(text(f"{FTS_TABLE} MATCH :expression").bindparams(expression=expression))
            .order_by(fts.c.rowid.desc())
            .limit(MAX_CANDIDATES)
            .subquery("candidates")
        )
        ranked = (
            select(Paper.id, Paper.listed_on, candidates.c.score, candidates.c.direct)
            .select_from(candidates)
            .join(index, index.c.id == candidates.c.rowid)
            .join(Paper, Paper.id == index.c.paper_id)
            .subquery("ranked")
        )
    elif dialect == "postgresql":
        regconfig: ColumnElement[Any] = literal_column("'simple'::regconfig")
        tsquery = func.to_tsquery(
            regconfig, tsquery_expression(query.terms, any_term=any_term, tags=query.tags)
        )
        # The candidates have the tags already: a direct hit needs the words in the title.
        title_query = func.to_tsquery(regconfig, tsquery_expression(query.terms))
        # The document is kept in its row (migration 0012), so testing a paper costs no
        # fetch from TOAST, whichever way the planner walks, and neither does ranking it.
        candidates = (
            select(index.c.paper_id, index.c.document, index.c.title)
            .where(index.c.document.op("@@")(tsquery))
            .order_by(index.c.paper_id.desc())
            .limit(MAX_CANDIDATES)
            .subquery("candidates")
        )
        score = func.ts_rank_cd(
            literal_column(f"'{_TS_WEIGHTS}'::float4[]"),
            candidates.c.document,
            tsquery,
            _TS_NORMALIZATION,
        )
        ranked = (
            select(
                Paper.id,
                Paper.listed_on,
                score.label("score"),
                candidates.c.title.op("@@")(title_query).label("direct"),
            )
            .select_from(candidates)
            .join(Paper, Paper.id == candidates.c.paper_id)
            .subquery("ranked")
        )
    else:
        raise NotImplementedError(f"unsupported database dialect: {dialect}")
    by_relevance = (ranked.c.score.desc(), ranked.c.listed_on.desc(), ranked.c.id.desc())
    selected = (ranked.c.id, ranked.c.direct) if with_direct else (ranked.c.id,)
    if any_term:
        return select(*selected).order_by(*by_relevance)
    return select(*selected).order_by(
        ranked.c.direct.desc(),
        # Only direct hits go by date first: for the others relevance comes first.
        case((ranked.c.direct == true(), ranked.c.listed_on), else_=None).desc().nulls_last(),
        *by_relevance,
    )


async def search(
    *,
    session: AsyncSession,
    query: SearchQuery,
    offset: int = 0,
    limit: int = 5,
    semantic: Semantic = None,
) -> SearchPage:
    """A page of papers matching every word of the query (or, failing that, any word).

    With ``semantic`` (paper ids nearest in meaning to the query, best first, or a task that
    finds them while the database answers) the search is hybrid: see
    :func:`content.search.fuse`.
    """
    if query.is_empty:
        await _settle(semantic)
        return SearchPage(hits=(), has_more=False)
    dialect = dialect_name(session)
    if dialect == "postgresql":
        await session.execute(_CUSTOM_PLANS)
    if semantic is not None and query.terms:
        return await _hybrid(session, dialect, query, semantic, offset=offset, limit=limit)
    await _settle(semantic)
    ids = await _page_ids(session, _ranked_ids(dialect, query, any_term=False), offset, limit)
    relaxed = False
    if not ids and len(query.terms) > 1:
        # "мультимодальная модель для роботов на кухне" has no paper with every word; the
        # papers with most of them (BM25 rewards each word found) are the useful answer.
        ids = await _page_ids(session, _ranked_ids(dialect, query, any_term=True), offset, limit)
        relaxed = bool(ids)
    hits = await _hits(session, ids[:limit])
    return SearchPage(hits=tuple(hits), has_more=len(ids) > limit, relaxed=relaxed)


async def _hybrid(
    session: AsyncSession,
    dialect: str,
    query: SearchQuery,
    semantic: Sequence[str] | Awaitable[Sequence[str] | None],
    *,
    offset: int,
    limit: int,
) -> SearchPage:
    """Full-text and semantic rankings fused, then one page of them."""
    lexical = await _lexical(session, _ranked_ids(dialect, query, any_term=False, with_direct=True))
    relaxed = False
    if not lexical and len(query.terms) > 1:
        lexical = await _lexical(
            session, _ranked_ids(dialect, query, any_term=True, with_direct=True)
        )
        relaxed = bool(lexical)
    # Awaited only now, so the query's embedding was made while the database answered.
    semantic = (await semantic if isinstance(semantic, Awaitable) else semantic) or []
    if query.tags and semantic:
        semantic = await _having_tags(session, semantic, query.tags)
    ids = fuse(
        lexical, semantic, lexical_first=names_something(query) and not relaxed, relaxed=relaxed
    )
    start = max(offset, 0)
    hits = await _hits(session, ids[start : start + limit])
    return SearchPage(
        hits=tuple(hits),
        has_more=len(ids) > start + limit,
        # Papers close in meaning are an answer of their own, not a partial one.
        relaxed=relaxed and not semantic,
    )


async def _settle(semantic: Semantic) -> None:
    # A task nobody awaits would be cancelled at best and warn about its error at worst.
    if isinstance(semantic, Awaitable):
        await semantic


async def _lexical(session: AsyncSession, statement: Select[Any]) -> list[tuple[str, bool]]:
    rows = await session.execute(statement.limit(MAX_CANDIDATES))
    return [(str(pid), bool(direct)) for pid, direct in rows.all()]


async def _having_tags(session: AsyncSession, ids: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Those of ``ids`` (in their order) whose paper has every one of ``tags``."""
    unique = list(dict.fromkeys(ids))
    kept: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        rows = await session.scalars(
            select(Paper.id).where(
                Paper.id.in_(unique[start : start + _CHUNK]), *_tag_filters(tags)
            )
        )
        kept.update(rows)
    return [pid for pid in unique if pid in kept]


async def latest(*, session: AsyncSession, offset: int = 0, limit: int = 20) -> SearchPage:
    """The newest papers, for an empty inline query."""
    statement = select(Paper.id).order_by(
        Paper.listed_on.desc(), Paper.upvotes.desc(), Paper.id.desc()
    )
    ids = await _page_ids(session, statement, offset, limit)
    hits = await _hits(session, ids[:limit])
    return SearchPage(hits=tuple(hits), has_more=len(ids) > limit)


async def _page_ids(
    session: AsyncSession, statement: Select[Any], offset: int, limit: int
) -> list[str]:
    # One row past the page tells whether there is a next one, without counting all matches.
    rows = await session.scalars(statement.offset(max(offset, 0)).limit(limit + 1))
    return [str(pid) for pid in rows]


# Tag ids never contain spaces (content.taxonomy), so one string carries a paper's tags.
_PAPER_TAGS: Final = (
    select(func.aggregate_strings(PaperTag.tag, " "))
    .where(PaperTag.paper_id == Paper.id)
    .scalar_subquery()
)


async def papers_by_ids(*, session: AsyncSession, paper_ids: Sequence[str]) -> list[SearchHit]:
    """These papers as search results, in this order; unknown ids are left out."""
    return await _hits(session, list(dict.fromkeys(paper_ids)))


async def _hits(session: AsyncSession, ids: Sequence[str]) -> list[SearchHit]:
    """The papers with these ids, in this order, tags included: one statement."""
    if not ids:
        return []
    rows = await session.execute(
        select(
            Paper.id,
            Paper.title,
            Paper.title_ru,
            Paper.summary_ru,
            Paper.abstract,
            Paper.url,
            Paper.code_url,
            Paper.project_url,
            Paper.upvotes,
            Paper.listed_on,
            _PAPER_TAGS.label("tags"),
        ).where(Paper.id.in_(ids))
    )
    found = {
        row.id: SearchHit(
            id=row.id,
            title=row.title,
            title_ru=row.title_ru,
            summary_ru=row.summary_ru,
            abstract=row.abstract,
            url=row.url,
            code_url=row.code_url,
            project_url=row.project_url,
            upvotes=row.upvotes,
            listed_on=row.listed_on,
            tags=tuple(sorted(row.tags.split())) if row.tags else (),
        )
        for row in rows.all()
    }
    return [found[pid] for pid in ids if pid in found]


# --- queries behind "more" buttons ----------------------------------------------------------

QUERY_TTL: Final[dt.timedelta] = dt.timedelta(days=30)
"""A query's buttons work this long after its last use."""


def query_id(text_: str) -> str:
    """A short, stable id of a query: every replica derives the same one."""
    digest = hashlib.blake2b(text_.encode("utf-8", "surrogatepass"), digest_size=9).hexdigest()
    return digest[:_QUERY_ID_CHARS]


async def remember_query(*, session: AsyncSession, text_: str, now: dt.datetime) -> str:
    """Store a query for its paging buttons; returns its id. Old queries are forgotten."""
    qid = query_id(text_)
    await session.execute(
        insert_ignoring_conflicts(session, SavedQuery),
        [{"id": qid, "query": text_, "used_at": now}],
    )
    await session.execute(update(SavedQuery).where(SavedQuery.id == qid).values(used_at=now))
    await session.execute(delete(SavedQuery).where(SavedQuery.used_at < now - QUERY_TTL))
    return qid


async def recall_query(*, session: AsyncSession, query_id_: str) -> str | None:
    """The text of a remembered query, or None when it is unknown or forgotten."""
    return await session.scalar(select(SavedQuery.query).where(SavedQuery.id == query_id_))
