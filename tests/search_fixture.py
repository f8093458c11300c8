"""The search fixture: 225 real ML papers with Russian titles and summaries, stored like ingest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content.models import CatalogEntry, Paper, Source, SummaryStatus
from storage import papers as catalog

SEARCH_PAPERS_PATH = Path(__file__).resolve().parent / "fixtures" / "search_papers.json"

AWAKER = "2411.10669"  # Awaker2.5-VL, a mixture of experts for MLLMs
MPO = "2411.10442"  # Mixed Preference Optimization; its abstract names InternVL2-8B


def load_search_papers() -> list[dict[str, Any]]:
    """The fixture's papers as dicts (id, title, abstract, tags, title_ru, summary_ru, …)."""
    return list(json.loads(SEARCH_PAPERS_PATH.read_text(encoding="utf-8"))["papers"])


def search_paper(item: dict[str, Any]) -> Paper:
    """The Paper of one fixture item, as a source would give it."""
    return Paper(
        id=item["id"],
        title=item["title"],
        abstract=item["abstract"],
        listed_on=dt.date.fromisoformat(item["listed_on"]),
        source=Source.HF,
        url=item["url"],
    )


async def seed_search_papers(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[dict[str, Any]]:
    """Store the fixture the way ingest does: upsert with tags and links, then the summaries."""
    items = load_search_papers()
    entries = [
        CatalogEntry(
            paper=search_paper(item),
            code_url=item["code_url"],
            tags=tuple(item["tags"]),
        )
        for item in items
    ]
    updates = [
        catalog.SummaryUpdate(
            paper_id=item["id"],
            title_ru=item["title_ru"],
            summary_ru=item["summary_ru"],
            status=SummaryStatus.DONE,
        )
        for item in items
    ]
    async with sessionmaker() as session, session.begin():
        await catalog.upsert_papers(session=session, entries=entries)
        await catalog.save_summaries(session=session, updates=updates)
    return items
