"""A paper goes out without code; its code appears at a later ingest; the chat is told once.

Everything goes through the fake Bot API, the fake HF Daily Papers API and the fake LLM, over
the real fixture day of 2024-12-19 (tests/fixtures/README.md). The code appears the way HF
shows it: the paper's item gains a ``githubRepo`` at a later ingest of the same day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import DigestApp
from content.models import Source
from storage.models import Paper
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources, hf_day
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
READER, STRANGER = 601, 602
# An #mllm paper of the day whose item has no githubRepo and whose abstract names no repository.
LATE = "2411.15296"  # MME-Survey
REPO = "https://github.com/BradyFU/Awesome-Multimodal-Large-Language-Models"
LABEL = "BradyFU/Awesome-Multimodal-Large-Language-Models"
HEADING = "💻 Код появился"


@dataclass
class World:
    telegram: FakeTelegram
    sources: FakeSources
    clock: Clock
    app: DigestApp

    async def say(self, text: str, chat_id: int = READER) -> SentMessage:
        """Write in the chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text)

    async def digest(self, chat_id: int = READER) -> list[SentMessage]:
        """Ask for /digest; every message the bot sends in answer."""
        return await self.telegram.replies_to(chat_id, "/digest")

    async def code_appears(self, paper_id: str, repo: str) -> None:
        """HF lists the day again, now with the paper's repository, and the bot ingests it."""
        day = json.loads(FIXTURE.read_text("utf-8"))
        [item] = [item for item in day if item["paper"].get("id") == paper_id]
        item["paper"]["githubRepo"] = repo
        self.sources.hf_days[DAY] = day
        self.clock.now += dt.timedelta(hours=2)
        await self.app.bot_data.services.ingestor.run([DAY], [Source.HF])

    async def paper(self, paper_id: str) -> Paper:
        async with self.app.bot_data.services.sessionmaker() as session:
            found = await session.get(Paper, paper_id)
        assert found is not None
        return found


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = json.loads(FIXTURE.read_text("utf-8"))
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        async with running_bot(settings, clock=clock) as app:
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            yield World(telegram, sources, clock, app)


def links(message: SentMessage) -> list[str]:
    return [entity["url"] for entity in message.entities or [] if entity.get("url")]


async def test_a_reader_asking_for_digest_is_told_once_that_the_code_appeared(
    world: World,
) -> None:
    await world.say("/subscribe mllm")
    first = await world.digest()
    assert any(f"/papers/{LATE}" in url for m in first for url in links(m))
    assert not any(HEADING in m.plain for m in first)
    assert (await world.paper(LATE)).code_url is None

    await world.code_appears(LATE, REPO)

    [told] = await world.digest()
    title_ru = (await world.paper(LATE)).title_ru
    assert title_ru
    # Nothing new to read: the message is just the section, the paper named, its code linked.
    assert told.plain == f"{HEADING}\n• {title_ru} — 💻 {LABEL}"
    assert links(told) == [f"https://huggingface.co/papers/{LATE}", REPO]
    assert told.parse_mode == "HTML"
    assert told.reply_markup is None

    [again] = await world.digest()
    assert HEADING not in again.plain
    assert "Новых статей по вашим темам пока нет" in again.plain


async def test_a_chat_that_never_received_the_paper_gets_it_with_its_code_and_is_not_told(
    world: World,
) -> None:
    await world.say("/subscribe mllm")
    await world.digest()
    await world.code_appears(LATE, REPO)
    await world.say("/subscribe mllm", STRANGER)

    first = await world.digest(STRANGER)
    # The paper itself, with its code on its links line, and no section about it.
    assert REPO in [url for message in first for url in links(message)]
    assert not any(HEADING in message.plain for message in first)
    [again] = await world.digest(STRANGER)
    assert HEADING not in again.plain
    # The reader who had it without code is told.
    [told] = await world.digest()
    assert HEADING in told.plain


async def test_the_next_scheduled_digest_ends_with_the_code_that_appeared_once(
    world: World,
) -> None:
    await world.say("/subscribe mllm")
    await world.digest()  # today's digest, taken early
    await world.code_appears(LATE, REPO)
    # The next day lists one new #mllm paper.
    next_day = DAY + dt.timedelta(days=1)
    world.sources.hf_days[next_day] = hf_day(
        ["A New Multimodal Large Language Model for Charts"], first_id="2412.20000"
    )
    world.clock.now = dt.datetime(2024, 12, 20, 4, 0, tzinfo=dt.UTC)
    await world.app.bot_data.services.ingestor.run([next_day], [Source.HF])
    before = len(world.telegram.messages_to(READER))

    world.clock.now = dt.datetime(2024, 12, 20, 6, 0, 5, tzinfo=dt.UTC)  # 09:00 in Moscow
    await tick(world.app)

    [digest] = world.telegram.messages_to(READER)[before:]
    assert digest.plain.startswith("☀️ Дайджест на 20 декабря")
    assert "A New Multimodal Large Language Model for Charts" in digest.plain
    # The section ends the digest, after the new paper.
    section = digest.plain.split("\n\n")[-1]
    assert section == f"{HEADING}\n• {(await world.paper(LATE)).title_ru} — 💻 {LABEL}"
    assert links(digest)[-1] == REPO

    await tick(world.app)
    world.clock.now = dt.datetime(2024, 12, 21, 6, 0, 5, tzinfo=dt.UTC)
    await tick(world.app)
    assert len(world.telegram.messages_to(READER)) == before + 1
    [answer] = await world.digest()
    assert HEADING not in answer.plain


async def test_a_scheduled_day_with_only_late_code_sends_just_that_section(world: World) -> None:
    await world.say("/subscribe mllm")
    await world.digest()
    await world.code_appears(LATE, REPO)
    before = len(world.telegram.messages_to(READER))

    world.clock.now = dt.datetime(2024, 12, 20, 6, 0, 5, tzinfo=dt.UTC)
    await tick(world.app)

    [told] = world.telegram.messages_to(READER)[before:]
    assert told.plain.startswith(HEADING)
    assert REPO in links(told)
    world.clock.now = dt.datetime(2024, 12, 21, 6, 0, 5, tzinfo=dt.UTC)
    await tick(world.app)
    assert len(world.telegram.messages_to(READER)) == before + 1
