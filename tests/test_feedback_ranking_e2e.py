"""Feedback changes tomorrow: what a reader rated on day one reorders the digest of day two.

Two readers follow the word "video". On day one the rating reader gives 👎 to two video-generation
papers and 👍 to a video-understanding model; the other reader never rates. On day two both
ask for their digest. Everything runs through the fake Bot API, the fake HF Daily Papers API,
the fake LLM and the embedded model (real vectors of real abstracts).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import DigestApp
from content.models import Source
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources, hf_day
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot

PAPERS = {
    p["id"]: p
    for p in json.loads(
        (Path(__file__).parent / "fixtures" / "search_papers.json").read_text("utf-8")
    )["papers"]
}
DAY_ONE, DAY_TWO = dt.date(2024, 12, 19), dt.date(2024, 12, 20)
RATER, OTHER = 3101, 3102

STABLE_VIDEO_DIFFUSION = "2311.15127"  # video generation
ANIMATEDIFF = "2307.04725"  # video generation
VIDEO_LLAVA = "2311.10122"  # a multimodal model that understands video
VIDEO_MME = "2405.21075"  # a video benchmark for multimodal models
LUMIERE = "2401.12945"  # video generation, tomorrow's most upvoted
LLAVA_ONEVISION = "2408.03326"  # a multimodal model that understands video
LLAVA = "2310.03744"  # LLaVA-1.5, a multimodal model for images: no "video" in it


def listing(*paper_ids: str) -> list[dict[str, Any]]:
    """A day of HF items for these fixture papers, most upvoted first, with their real text."""
    items = []
    for n, paper_id in enumerate(paper_ids):
        paper = PAPERS[paper_id]
        [item] = hf_day([paper["title"]], first_id="2412.00001", abstract=paper["abstract"])
        item["paper"]["id"] = paper_id
        item["paper"]["upvotes"] = 100 - n
        items.append(item)
    return items


def title(paper_id: str) -> str:
    """How a paper's title reads in the digest (the fake LLM's Russian title)."""
    return f"Обзор: {PAPERS[paper_id]['title']}"


@dataclass
class World:
    telegram: FakeTelegram
    sources: FakeSources
    clock: Clock
    app: DigestApp

    async def say(self, chat_id: int, text: str) -> list[SentMessage]:
        """Write in the chat; every message the bot sends back until it falls silent."""
        return await self.telegram.replies_to(chat_id, text)

    async def ingest(self, day: dt.date, items: list[dict[str, Any]]) -> None:
        self.sources.hf_days[day] = items
        self.clock.now = dt.datetime.combine(day, dt.time(5, 50), dt.UTC)
        await self.app.bot_data.services.ingestor.run([day], [Source.HF])

    async def rate(self, chat_id: int, message: SentMessage, paper_id: str, vote: str) -> str:
        """Open the paper's number, then tap 👍 or 👎: two taps. The toast's text."""
        number = self.button(chat_id, message, lambda data: data.endswith(paper_id))
        await self.tap(chat_id, message, number)
        button = self.button(chat_id, message, lambda data: False, label=vote)
        return await self.tap(chat_id, message, button)

    def button(self, chat_id: int, message: SentMessage, match: Any, *, label: str = "") -> str:
        markup = self.telegram.message(chat_id, message.message_id).reply_markup or {}
        for row in markup["inline_keyboard"]:
            for button in row:
                data = str(button["callback_data"])
                if match(data) or (label and button["text"].startswith(label)):
                    return data
        raise AssertionError(f"no such button under the message: {markup}")

    async def tap(self, chat_id: int, message: SentMessage, data: str) -> str:
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=chat_id
        )
        await asyncio.sleep(0.2)  # the keyboard's edit
        return answer.text or ""


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime.combine(DAY_ONE, dt.time(5, 50), dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        settings = make_settings(
            telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url, embeddings="on"
        )
        async with running_bot(settings, clock=clock) as app:
            yield World(telegram, sources, clock, app)


def order(messages: list[SentMessage], *paper_ids: str) -> list[str]:
    """These papers in the order the digest shows them (absent ones left out)."""
    text = "\n".join(m.plain for m in messages)
    found = [(text.find(title(p)), p) for p in paper_ids if title(p) in text]
    return [paper_id for _, paper_id in sorted(found)]


def section(messages: list[SentMessage], heading: str) -> str:
    """The digest's text from ``heading`` on ("" when it has no such section)."""
    text = "\n".join(m.plain for m in messages)
    return text[text.index(heading) :] if heading in text else ""


async def test_thumbs_down_lowers_tomorrows_similar_papers_and_thumbs_up_brings_suggestions(
    world: World,
) -> None:
    await world.ingest(
        DAY_ONE, listing(STABLE_VIDEO_DIFFUSION, ANIMATEDIFF, VIDEO_LLAVA, VIDEO_MME)
    )
    for reader in (RATER, OTHER):
        await world.say(reader, "/follow video")
    [first] = await world.say(RATER, "/digest")
    await world.say(OTHER, "/digest")
    assert order([first], STABLE_VIDEO_DIFFUSION, ANIMATEDIFF, VIDEO_LLAVA) == [
        STABLE_VIDEO_DIFFUSION,
        ANIMATEDIFF,
        VIDEO_LLAVA,
    ]
    assert "👎" in await world.rate(RATER, first, STABLE_VIDEO_DIFFUSION, "👎")
    assert "👎" in await world.rate(RATER, first, ANIMATEDIFF, "👎")
    assert "👍" in await world.rate(RATER, first, VIDEO_LLAVA, "👍")

    await world.ingest(DAY_TWO, listing(LUMIERE, LLAVA_ONEVISION, LLAVA))
    rater = await world.say(RATER, "/digest")
    other = await world.say(OTHER, "/digest")

    # The reader who never rated: by upvotes, video generation first, nothing suggested.
    assert order(other, LUMIERE, LLAVA_ONEVISION) == [LUMIERE, LLAVA_ONEVISION]
    assert "Может быть интересно" not in "\n".join(m.plain for m in other)
    # The reader who rated: the video-generation paper sinks below the video-understanding
    # one, or is gone; the image model like the one it liked comes as a suggestion.
    assert order(rater, LUMIERE, LLAVA_ONEVISION)[0] == LLAVA_ONEVISION
    suggestions = section(rater, "Может быть интересно")
    assert title(LLAVA) in suggestions
    assert "📌 похоже на то, что вам понравилось" in suggestions
    assert title(LLAVA) not in "\n".join(m.plain for m in other)


async def test_similar_papers_are_the_nearest_in_meaning_best_first(world: World) -> None:
    await world.ingest(
        DAY_ONE, listing(STABLE_VIDEO_DIFFUSION, ANIMATEDIFF, VIDEO_LLAVA, VIDEO_MME)
    )
    await world.say(RATER, "/follow video")
    [digest] = await world.say(RATER, "/digest")
    number = world.button(RATER, digest, lambda data: data.endswith(VIDEO_LLAVA))
    await world.tap(RATER, digest, number)
    before = len(world.telegram.messages_to(RATER))
    await world.tap(RATER, digest, world.button(RATER, digest, lambda d: False, label="Похожие"))
    [reply] = (await world.telegram.wait_for_messages(RATER, before + 1))[before:]

    assert reply.plain.startswith(f"🔎 Похожие на «{title(VIDEO_LLAVA)}»")
    # The other video-understanding paper is nearest; the video-generation ones follow.
    assert order([reply], VIDEO_MME, STABLE_VIDEO_DIFFUSION, ANIMATEDIFF) == [
        VIDEO_MME,
        STABLE_VIDEO_DIFFUSION,
        ANIMATEDIFF,
    ]
    assert title(VIDEO_LLAVA) not in reply.plain.split("\n", 1)[1]
