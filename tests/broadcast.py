"""A morning broadcast to many chats: seeding them, and counting what each one received.

Shared by the broadcast, crash and replica tests and by the delivery benchmarks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ingest import Ingestor
from bot.settings import Settings
from content.models import Source
from storage import chats, subscriptions
from storage.db import create_engine, create_sessionmaker, upgrade_async
from storage.models import Delivery, Paper
from storage.papers import tags_of
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, SentMessage

# Tag sets of the seed day (tests/fixtures/hf_daily_2024-12-19.json) that match papers.
TAG_SETS: tuple[tuple[str, ...], ...] = (("mllm",), ("moe",), ("benchmark", "mllm"), ("agents",))
FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
_PAPER_LINK = re.compile(r'href="https://(?:huggingface\.co/papers|arxiv\.org/abs)/([^"/?#]+)"')


def tag_set_of(chat_id: int) -> tuple[str, ...]:
    """The tags a seeded chat follows: the seed tag sets in turn."""
    return TAG_SETS[chat_id % len(TAG_SETS)]


async def seed_due_chats(
    sessionmaker: async_sessionmaker[AsyncSession],
    chat_ids: Iterable[int],
    *,
    due_at: dt.datetime,
    timezone: str = "Europe/Moscow",
    digest_time: dt.time = dt.time(9, 0),
) -> None:
    """Private chats that subscribed earlier and whose digest falls due at ``due_at``."""
    async with sessionmaker() as session, session.begin():
        for chat_id in chat_ids:
            await chats.ensure_chat(
                session=session,
                chat_id=chat_id,
                chat_type="private",
                language="ru",
                timezone=timezone,
                digest_time=digest_time,
            )
            await subscriptions.add_tags(
                session=session, chat_id=chat_id, tags=tag_set_of(chat_id), limit=50
            )
            await chats.set_next_digest_at(session=session, chat_id=chat_id, when=due_at)


async def papers_by_tag_set(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[tuple[str, ...], set[str]]:
    """Which of the stored papers each seed tag set should receive."""
    async with sessionmaker() as session:
        paper_ids = list(await session.scalars(select(Paper.id)))
        tags = await tags_of(session=session, paper_ids=paper_ids)
    return {
        tag_set: {pid for pid, its in tags.items() if set(its) & set(tag_set)}
        for tag_set in TAG_SETS
    }


def papers_in(message: SentMessage) -> list[str]:
    """The papers a digest message carries, read from its links."""
    return _PAPER_LINK.findall(message.text)


def papers_received(fake: FakeTelegram, chat_id: int) -> Counter[str]:
    """How many times each paper reached the chat."""
    return Counter(paper for message in fake.messages_to(chat_id) for paper in papers_in(message))


@dataclass(frozen=True, slots=True)
class Tally:
    """What a broadcast delivered, against what it owed."""

    chats: int
    complete: int  # chats that received every paper owed
    lost: int  # papers owed but never received
    repeated: int  # extra copies of papers received more than once
    messages: int
    too_many_requests: int

    def line(self) -> str:
        """One line for assertion messages."""
        return (
            f"{self.complete}/{self.chats} chats complete, {self.lost} papers lost, "
            f"{self.repeated} repeated, {self.messages} messages, "
            f"{self.too_many_requests} answered 429"
        )


def tally(
    fake: FakeTelegram, chat_ids: Iterable[int], owed: Mapping[tuple[str, ...], set[str]]
) -> Tally:
    """Count, chat by chat, papers lost and repeated in the fake's record of messages."""
    ids = list(chat_ids)
    complete = lost = repeated = 0
    for chat_id in ids:
        got = papers_received(fake, chat_id)
        want = owed[tag_set_of(chat_id)]
        missing = len(want - set(got))
        lost += missing
        repeated += sum(count - 1 for count in got.values())
        complete += missing == 0
    wanted = set(ids)
    sends = [call for call in fake.calls("sendMessage") if call.params.get("chat_id") in wanted]
    return Tally(
        chats=len(ids),
        complete=complete,
        lost=lost,
        repeated=repeated,
        messages=sum(call.ok for call in sends),
        too_many_requests=sum(call.status == 429 for call in sends),
    )


async def ingest_day(db_url: str) -> dict[tuple[str, ...], set[str]]:
    """Migrate, ingest the fixture day; return the papers each seed tag set is owed."""
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    async with FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = Settings(
            _env_file=None, database_url=db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url
        )
        ingestor = Ingestor(
            settings=settings, sessionmaker=sessionmaker, clock=lambda: dt.datetime.now(dt.UTC)
        )
        try:
            await ingestor.run([DAY], [Source.HF])
            return await papers_by_tag_set(sessionmaker)
        finally:
            await ingestor.aclose()
            await engine.dispose()


async def make_due(db_url: str, chat_ids: Sequence[int]) -> None:
    """Private chats whose digest fell due a minute ago."""
    engine = create_engine(db_url)
    try:
        due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        await seed_due_chats(create_sessionmaker(engine), chat_ids, due_at=due)
    finally:
        await engine.dispose()


def delivered(messages: Iterable[SentMessage]) -> set[tuple[int, str]]:
    """(chat, paper) pairs these messages carried."""
    return {(m.chat_id, paper) for m in messages for paper in papers_in(m)}


async def recorded(sessionmaker: async_sessionmaker[AsyncSession]) -> set[tuple[int, str]]:
    """(chat, paper) pairs the database says were delivered."""
    async with sessionmaker() as session:
        rows = await session.execute(select(Delivery.chat_id, Delivery.paper_id))
        return {(chat_id, paper_id) for chat_id, paper_id in rows.all()}
