"""Queries over the paper catalogue."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PaperTag


async def count_by_tag(*, session: AsyncSession) -> dict[str, int]:
    """Count the papers carrying each tag (tags without papers are absent)."""
    rows = await session.execute(select(PaperTag.tag, func.count()).group_by(PaperTag.tag))
    return {tag: n for tag, n in rows.all()}
