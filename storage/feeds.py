"""A tag's Atom feed: its latest ready papers, and a cheap version of them for a cache."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.feeds import FEED_PAPERS, FeedPaper
from storage.digests import READY_STATUSES
from storage.models import Paper, PaperTag


class FeedVersion(NamedTuple):
    """How many ready papers carry a tag, and when the latest change to one of them was."""

    papers: int
    updated_at: dt.datetime | None


async def feed_version(*, session: AsyncSession, tag: str) -> FeedVersion:
    """The version of a tag's feed: it changes whenever what the feed shows may have changed.

    A paper that becomes ready or gains the tag raises the count; a new code link or an
    upgraded summary stamps ``updated_at``.
    """
    row = (
        await session.execute(
            select(func.count(), func.max(Paper.updated_at))
            .select_from(PaperTag)
            .join(Paper, Paper.id == PaperTag.paper_id)
            .where(PaperTag.tag == tag, Paper.summary_status.in_(READY_STATUSES))
        )
    ).one()
    return FeedVersion(papers=int(row[0]), updated_at=row[1])


async def feed_papers(
    *, session: AsyncSession, tag: str, limit: int = FEED_PAPERS
) -> list[FeedPaper]:
    """The tag's latest ready papers: the latest listing day first, then by upvotes."""
    rows = await session.execute(
        select(
            Paper.id,
            Paper.title,
            Paper.title_ru,
            Paper.summary_ru,
            Paper.url,
            Paper.code_url,
            Paper.project_url,
            Paper.authors,
            Paper.listed_on,
            Paper.updated_at,
        )
        .join(PaperTag, PaperTag.paper_id == Paper.id)
        .where(PaperTag.tag == tag, Paper.summary_status.in_(READY_STATUSES))
        .order_by(Paper.listed_on.desc(), Paper.upvotes.desc(), Paper.id)
        .limit(limit)
    )
    return [
        FeedPaper(
            id=row.id,
            title=row.title,
            title_ru=row.title_ru,
            summary_ru=row.summary_ru,
            url=row.url,
            code_url=row.code_url,
            project_url=row.project_url,
            authors=tuple(row.authors or ()),
            listed_on=row.listed_on,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
