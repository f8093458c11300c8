"""Paid broadcasts: digests pay Telegram to go faster while the Star balance covers them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import DigestApp
from content.models import Source
from tests.broadcast import papers_by_tag_set, seed_due_chats, tally
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, RateLimit
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
NINE_MOSCOW = dt.datetime(2024, 12, 19, 6, 0, tzinfo=dt.UTC)
ADMIN = 900
# Telegram's limits as the fake enforces them: 30 messages a second, or 1,000 with
# allow_paid_broadcast; about one a second per chat after a burst of three.
FLOOD_LIMITS = RateLimit(
    global_per_second=30, paid_per_second=1000, per_chat_per_second=1, per_chat_burst=3
)


@asynccontextmanager
async def broadcast_due(
    chats: Sequence[int], db_url: str, **settings: Any
) -> AsyncIterator[tuple[FakeTelegram, DigestApp, dict[tuple[str, ...], set[str]]]]:
    """A bot with paid broadcasts on, the day's papers ingested and ``chats`` due at 09:00."""
    clock = Clock(NINE_MOSCOW - dt.timedelta(hours=3))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        config = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            admin_ids=[ADMIN],
            paid_broadcast=True,
            **settings,
        )
        async with running_bot(config, clock=clock) as app:
            services = app.bot_data.services
            await services.ingestor.run([DAY], [Source.HF])
            await seed_due_chats(services.sessionmaker, chats, due_at=NINE_MOSCOW)
            owed = await papers_by_tag_set(services.sessionmaker)
            telegram.rate_limit = FLOOD_LIMITS
            clock.now = NINE_MOSCOW + dt.timedelta(seconds=5)
            yield telegram, app, owed


async def stats(telegram: FakeTelegram) -> str:
    """What an admin reads in reply to /stats."""
    before = len(telegram.messages_to(ADMIN))
    telegram.send_text(ADMIN, "/stats")
    return (await telegram.wait_for_messages(ADMIN, before + 1, timeout=15))[before].plain


def digest_sends(telegram: FakeTelegram, chats: Sequence[int]) -> list[dict[str, Any]]:
    wanted = set(chats)
    return [c.params for c in telegram.calls("sendMessage") if c.params["chat_id"] in wanted]


async def test_with_stars_enough_every_digest_goes_out_paid_once_and_within_telegrams_limits(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    chats = range(10_000, 10_600)
    async with broadcast_due(chats, db_url, paid_broadcast_rate=300) as (telegram, app, owed):
        telegram.set_star_balance(1000)
        with caplog.at_level(logging.INFO, logger="bot.paid"):
            await tick(app)

        result = tally(telegram, chats, owed)
        assert (result.complete, result.lost, result.repeated) == (600, 0, 0), result.line()
        assert result.too_many_requests <= 0.01 * result.messages, result.line()
        sends = digest_sends(telegram, chats)
        assert all(params.get("allow_paid_broadcast") is True for params in sends)
        assert telegram.paid_messages == result.messages
        # Billed are only the messages above the free 30 a second, 0.1 Star each: never more
        # than the round expected (how many depends on the speed this machine reaches).
        assert telegram.billed_messages <= 540
        spent = 1000 * 10**9 - telegram.star_balance_nanostars
        assert spent == telegram.billed_messages * 10**8
        # 600 digests due at 300 a second: 2 s, 60 of them free, 540 billed, 54 Stars.
        assert "600 messages due at 300/s: 540 above the free 30/s" in caplog.text
        assert "expected cost 54 stars; balance 1000 stars" in caplog.text

        reply = await stats(telegram)
        assert "Платная рассылка: включена, 300 сообщений в секунду" in reply
        assert "600 сообщений, ожидаемая стоимость 54 ⭐, на балансе было 1\u00a0000 ⭐" in reply
        # The reply itself is no broadcast: Telegram is not paid for it.
        assert "allow_paid_broadcast" not in telegram.calls("sendMessage")[-1].params


async def test_with_too_few_stars_the_digests_go_out_free_and_stats_says_why(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    chats = range(20_000, 20_120)
    async with broadcast_due(chats, db_url, paid_broadcast_rate=300) as (telegram, app, owed):
        telegram.set_star_balance(5)
        with caplog.at_level(logging.INFO, logger="bot.paid"):
            await tick(app)

        result = tally(telegram, chats, owed)
        assert (result.complete, result.lost, result.repeated) == (120, 0, 0), result.line()
        assert result.too_many_requests <= 0.01 * result.messages, result.line()
        sends = digest_sends(telegram, chats)
        assert not any(params.get("allow_paid_broadcast") for params in sends)
        assert telegram.paid_messages == 0
        assert telegram.star_balance_nanostars == 5 * 10**9
        # 120 at 300 a second fit in one second: 30 free, 90 billed, 9 Stars.
        assert "sending at the free 29/s: 120 messages due at 300/s" in caplog.text
        assert "expected cost 9 stars, balance only 5 stars" in caplog.text

        reply = await stats(telegram)
        assert "Платная рассылка выключена: на балансе 5 ⭐, нужно 9 ⭐." in reply
        assert "120 сообщений — бесплатно, 29 сообщений в секунду." in reply


async def test_when_the_balance_cannot_be_read_the_digests_go_out_free_and_stats_says_why(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    chats = range(30_000, 30_040)
    async with broadcast_due(chats, db_url) as (telegram, app, owed):
        telegram.set_star_balance(1000)
        telegram.fail_next("getMyStarBalance", error_code=500, description="Internal Server Error")
        with caplog.at_level(logging.INFO, logger="bot.paid"):
            await tick(app)

        result = tally(telegram, chats, owed)
        assert (result.complete, result.lost, result.repeated) == (40, 0, 0), result.line()
        assert telegram.paid_messages == 0
        assert "the Star balance could not be read" in caplog.text

        reply = await stats(telegram)
        assert "Платная рассылка выключена: не удалось узнать баланс звёзд" in reply
        assert "40 сообщений — бесплатно, 29 сообщений в секунду." in reply
        assert telegram.star_balance_nanostars == 1000 * 10**9
