"""A reader follows a tag in a feed reader: /feeds/<tag>.atom on the public WEB_PORT.

The bot ingests the real HF Daily Papers fixture of 2024-12-19 through the fake sources and the
fake LLM, and serves the feeds over HTTP; the tests read them with httpx and feedparser.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import select

from bot.app import DigestApp
from content.models import Source
from storage.models import Paper, PaperTag
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, Clock, free_port, make_settings, running_bot

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
USER = 3001
ATOM = "http://www.w3.org/2005/Atom"


@dataclass
class World:
    telegram: FakeTelegram
    sources: FakeSources
    clock: Clock
    app: DigestApp
    base: str  # where the public feeds server answers

    async def get(self, path: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(f"{self.base}{path}", headers=headers, timeout=10)

    async def ingest(self) -> None:
        await self.app.bot_data.services.ingestor.run([DAY], [Source.HF])

    async def tagged(self, tag: str) -> list[Paper]:
        """The ready papers with the tag, as stored."""
        async with self.app.bot_data.services.sessionmaker() as session:
            rows = await session.scalars(
                select(Paper)
                .join(PaperTag, PaperTag.paper_id == Paper.id)
                .where(PaperTag.tag == tag, Paper.summary_status.in_(("done", "fallback")))
            )
            return list(rows)


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = json.loads(FIXTURE.read_text("utf-8"))
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            web_port=port,
            web_listen="127.0.0.1",
            public_url=base,
            metrics_port=0,
            metrics_listen="127.0.0.1",
        )
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, sources, clock, app, base)
            await world.ingest()
            yield world


def parse(response: httpx.Response) -> Any:
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


async def test_the_multimodal_feed_is_atom_with_the_tags_papers_under_their_russian_titles(
    world: World,
) -> None:
    response = await world.get("/feeds/multimodal.atom")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = parse(response)
    assert feed.version == "atom10"
    assert feed.namespaces[""] == ATOM
    assert feed.feed.title == "#multimodal · Мультимодальность"
    assert feed.feed.language == "ru"
    # The feed's own address, and the bot's link that subscribes to the tag.
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == f"{world.base}/feeds/multimodal.atom"
    assert links["alternate"] == f"https://t.me/{world.app.bot.username}?start=sub_multimodal"
    stored = {paper.id: paper for paper in await world.tagged("multimodal")}
    assert stored, "the fixture day has multimodal papers"
    assert len(feed.entries) == len(stored)
    for entry in feed.entries:
        paper = stored[entry.id.removeprefix("https://arxiv.org/abs/")]
        assert entry.title == paper.title_ru
        assert entry.title.startswith("Обзор: ")  # the fake LLM's Russian title
        assert entry.summary == paper.summary_ru
        assert entry.link == paper.url
        assert paper.title in entry.content[0].value
        assert entry.content[0].type == "text/html"
        assert [author.name for author in entry.authors] == paper.authors[:10]


async def test_a_paper_with_code_links_its_repository_in_the_feed(world: World) -> None:
    feed = parse(await world.get("/feeds/mllm.atom"))

    [entry] = [e for e in feed.entries if e.id.endswith("/2412.13871")]  # LLaVA-UHD v2
    assert entry.link == "https://huggingface.co/papers/2412.13871"
    assert '💻 <a href="https://github.com/thunlp/LLaVA-UHD">thunlp/LLaVA-UHD</a>' in (
        entry.content[0].value
    )
    stored = {paper.id: paper for paper in await world.tagged("mllm")}
    without_code = [e for e in feed.entries if not stored[e.id.rsplit("/", 1)[1]].code_url]
    assert without_code and all("💻" not in e.content[0].value for e in without_code)


async def test_an_unknown_tag_and_any_other_path_get_404(world: World) -> None:
    for path in (
        "/feeds/no-such-tag.atom",
        "/feeds/nosuchtag.atom",
        "/feeds/MULTIMODAL.atom",
        "/feeds/multimodal.rss",
        "/feeds/",
        "/",
        "/feeds/../metrics",
    ):
        assert (await world.get(path)).status_code == 404, path


async def test_metrics_and_health_are_not_served_on_the_public_port(world: World) -> None:
    for path in ("/metrics", "/healthz", "/healthz/", "/metrics?name=x"):
        response = await world.get(path)
        assert response.status_code == 404, path
        assert "digest_" not in response.text and "database" not in response.text
    # They are still there, on the private METRICS_PORT.
    monitoring = world.app.bot_data.monitoring
    assert monitoring is not None
    async with httpx.AsyncClient() as client:
        private = await client.get(f"http://127.0.0.1:{monitoring.port}/metrics", timeout=10)
    assert private.status_code == 200


async def test_a_reader_asking_again_with_the_etag_gets_304_until_an_ingest_changes_the_feed(
    world: World,
) -> None:
    first = await world.get("/feeds/mllm.atom")
    etag = first.headers["etag"]

    again = await world.get("/feeds/mllm.atom", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (await world.get("/feeds/mllm.atom")).headers["etag"] == etag

    # Code for a paper appears at a later ingest: the feed changes, and so does its ETag.
    paper = next(paper for paper in await world.tagged("mllm") if not paper.code_url)
    day = json.loads(FIXTURE.read_text("utf-8"))
    [item] = [item for item in day if item["paper"].get("id") == paper.id]
    item["paper"]["githubRepo"] = "https://github.com/example/released-later"
    world.sources.hf_days[DAY] = day
    world.clock.now += dt.timedelta(hours=2)
    await world.ingest()

    changed = await world.get("/feeds/mllm.atom", **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    [entry] = [e for e in parse(changed).entries if e.id.endswith(f"/{paper.id}")]
    assert '<a href="https://github.com/example/released-later">' in entry.content[0].value


async def test_help_links_the_feeds_at_the_public_url(world: World) -> None:
    world.telegram.send_text(USER, "/help")
    [reply] = await world.telegram.wait_for_messages(USER, 1)

    assert f"{world.base}/feeds/mllm.atom" in reply.plain
    assert "Atom-ленты" in reply.plain
