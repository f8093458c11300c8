"""The paper catalogue: idempotent upserts by arXiv id, summaries, and queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import CatalogEntry, Source, SummaryStatus
from content.models import Paper as DomainPaper
from storage import search
from storage.db import insert_ignoring_conflicts
from storage.models import Paper, PaperTag, utcnow

# SQLite allows at most 32,766 bound parameters per statement; stay far below it.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert changed."""

    new: list[str]
    updated: list[str]


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


async def upsert_papers(
    *, session: AsyncSession, entries: Sequence[CatalogEntry], now: dt.datetime | None = None
) -> UpsertResult:
    """Insert new papers; for known ones refresh upvotes and add newly found links and tags.

    Titles, abstracts and summaries of known papers are never touched, so a re-run of
    ingest cannot undo work that is done.
    """
    stamp = now or utcnow()
    by_id = {entry.paper.id: entry for entry in entries}
    ids = list(by_id)
    existing: dict[str, Paper] = {}
    for chunk in _chunks(ids):
        rows = await session.scalars(select(Paper).where(Paper.id.in_(chunk)))
        existing.update({row.id: row for row in rows})

    new_rows = [_new_row(by_id[pid], stamp) for pid in ids if pid not in existing]
    if new_rows:
        await session.execute(insert_ignoring_conflicts(session, Paper), new_rows)
    for pid, row in existing.items():
        entry = by_id[pid]
        changes: dict[str, object] = {}
        if entry.paper.upvotes != row.upvotes:
            changes["upvotes"] = entry.paper.upvotes
        if row.code_url is None and entry.code_url:
            changes["code_url"] = entry.code_url
        if row.project_url is None and entry.project_url:
            changes["project_url"] = entry.project_url
        if changes:
            changes["updated_at"] = stamp
            await session.execute(update(Paper).where(Paper.id == pid).values(**changes))

    # add_tags brings the search index of every paper here up to date, new ones included.
    await add_tags(session=session, tags={pid: by_id[pid].tags for pid in ids})
    return UpsertResult(new=[str(r["id"]) for r in new_rows], updated=list(existing))


def _new_row(entry: CatalogEntry, stamp: dt.datetime) -> dict[str, object]:
    paper = entry.paper
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "published_at": paper.published_at,
        "listed_on": paper.listed_on,
        "source": str(paper.source),
        "url": paper.url,
        "code_url": entry.code_url,
        "project_url": entry.project_url,
        "upvotes": paper.upvotes,
        "summary_status": SummaryStatus.PENDING.value,
        "summary_attempts": 0,
        "ingested_at": stamp,
        "updated_at": stamp,
    }


async def add_tags(*, session: AsyncSession, tags: Mapping[str, Sequence[str]]) -> None:
    """Attach tags to papers (tags a paper already has are left alone) and reindex them."""
    rows = [{"paper_id": pid, "tag": tag} for pid, found in tags.items() for tag in found]
    for start in range(0, len(rows), _CHUNK):
        await session.execute(
            insert_ignoring_conflicts(session, PaperTag), rows[start : start + _CHUNK]
        )
    await search.reindex(session=session, paper_ids=list(tags))


async def tags_of(*, session: AsyncSession, paper_ids: Sequence[str]) -> dict[str, list[str]]:
    """Tags of each paper, in no particular order."""
    found: dict[str, list[str]] = {pid: [] for pid in paper_ids}
    for chunk in _chunks(paper_ids):
        rows = await session.execute(
            select(PaperTag.paper_id, PaperTag.tag).where(PaperTag.paper_id.in_(chunk))
        )
        for pid, tag in rows.all():
            found[pid].append(tag)
    return found


async def needing_summary(
    *,
    session: AsyncSession,
    retry_since: dt.datetime,
    max_attempts: int,
    upgrade_fallbacks: bool,
) -> list[DomainPaper]:
    """Papers whose Russian summary is still to be written (or retried).

    Pending papers always qualify; failed ones and fallbacks are retried while they are
    recent, so an LLM outage heals itself without re-summarising the whole archive.
    """
    retryable = [SummaryStatus.FAILED.value]
    if upgrade_fallbacks:
        retryable.append(SummaryStatus.FALLBACK.value)
    rows = await session.scalars(
        select(Paper)
        .where(
            or_(
                Paper.summary_status == SummaryStatus.PENDING.value,
                (Paper.summary_status.in_(retryable))
                & (Paper.ingested_at >= retry_since)
                & (Paper.summary_attempts < max_attempts),
            )
        )
        .order_by(Paper.listed_on.desc(), Paper.upvotes.desc(), Paper.id)
    )
    return [to_domain(row) for row in rows]


@dataclass(frozen=True, slots=True)
class SummaryUpdate:
    """One paper's summary outcome to store."""

    paper_id: str
    title_ru: str
    summary_ru: str
    status: SummaryStatus


async def save_summaries(
    *, session: AsyncSession, updates: Sequence[SummaryUpdate], now: dt.datetime | None = None
) -> None:
    """Store summary outcomes in one statement; a done summary is never replaced."""
    if not updates:
        return
    # Core on the table: the ORM refuses WHERE criteria in a bulk (executemany) UPDATE.
    table = cast(Table, Paper.__table__)
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("pid"),
            table.c.summary_status != SummaryStatus.DONE.value,
        )
        .values(
            title_ru=bindparam("new_title"),
            summary_ru=bindparam("new_summary"),
            summary_status=bindparam("new_status"),
            summary_attempts=table.c.summary_attempts + 1,
            updated_at=bindparam("new_stamp"),
        )
    )
    stamp = now or utcnow()
    await session.execute(
        statement,
        [
            {
                "pid": u.paper_id,
                "new_title": u.title_ru,
                "new_summary": u.summary_ru,
                "new_status": u.status.value,
                "new_stamp": stamp,
            }
            for u in updates
        ],
    )
    await search.reindex(session=session, paper_ids=[u.paper_id for u in updates])


async def expire_failed(*, session: AsyncSession, before: dt.datetime) -> int:
    """Let papers whose LLM failures outlasted the deadline go out with their fallback."""
    result = await session.execute(
        update(Paper)
        .where(
            Paper.summary_status == SummaryStatus.FAILED.value,
            Paper.ingested_at <= before,
            Paper.summary_ru.is_not(None),
        )
        .values(summary_status=SummaryStatus.FALLBACK.value)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def by_tag(
    *, session: AsyncSession, tag: str, listed_on: dt.date | None = None, limit: int = 50
) -> list[Paper]:
    """Papers with a tag, best first (upvotes, then date); one listing day if given."""
    query = select(Paper).join(PaperTag, PaperTag.paper_id == Paper.id).where(PaperTag.tag == tag)
    if listed_on is not None:
        query = query.where(Paper.listed_on == listed_on)
    query = query.order_by(Paper.upvotes.desc(), Paper.listed_on.desc(), Paper.id).limit(limit)
    return list(await session.scalars(query))


async def latest_listing_day(*, session: AsyncSession) -> dt.date | None:
    """The most recent day any source listed a paper."""
    return await session.scalar(select(func.max(Paper.listed_on)))


async def count_by_tag(*, session: AsyncSession) -> dict[str, int]:
    """Count the papers carrying each tag (tags without papers are absent)."""
    rows = await session.execute(select(PaperTag.tag, func.count()).group_by(PaperTag.tag))
    return {tag: n for tag, n in rows.all()}


def to_domain(row: Paper) -> DomainPaper:
    """The content-level view of a stored paper."""
    return DomainPaper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        listed_on=row.listed_on,
        source=Source(row.source),
        url=row.url,
        authors=tuple(row.authors or ()),
        published_at=row.published_at,
        upvotes=row.upvotes,
    )
