"""/stats: the operators' view of the bot, invisible to everyone else."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import DigestApp
from bot.jobs import delivery_job
from content.models import Source
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, make_settings, running_bot

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
ADMIN, READER, SLEEPER, BLOCKER, STRANGER = 900, 901, 902, 903, 904


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def say(telegram: FakeTelegram, chat_id: int, text: str) -> str:
    before = len(telegram.messages_to(chat_id))
    telegram.send_text(chat_id, text)
    return (await telegram.wait_for_messages(chat_id, before + 1, timeout=15))[before].plain


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[tuple[FakeTelegram, Clock, DigestApp]]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            admin_ids=[ADMIN, 1],
        )
        async with running_bot(settings, clock=clock) as app:
            yield telegram, clock, app


async def test_an_admin_sees_chats_subscriptions_papers_and_todays_deliveries(world):
    telegram, clock, app = world
    await say(telegram, READER, "/subscribe mllm moe")
    await say(telegram, SLEEPER, "/subscribe mllm")
    await say(telegram, SLEEPER, "/pause")
    await say(telegram, BLOCKER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    telegram.block_chat(BLOCKER)
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)  # 09:00 in Moscow
    assert app.job_queue is not None
    job = app.job_queue.run_once(delivery_job, when=dt.timedelta(days=1))
    await job.run(app)
    job.schedule_removal()
    delivered = len(telegram.messages_to(READER)) - 1
    assert delivered >= 1

    reply = await say(telegram, ADMIN, "/stats")

    assert "Статистика бота" in reply
    assert "Чаты: активны: 1, на паузе: 1, заблокировали бота: 1" in reply
    assert "Подписки: 4 подписки в 3 чатах" in reply
    assert "Популярные теги: #mllm 3, #moe 1" in reply
    assert "Статьи: в каталоге: 10, готовы к рассылке: 10" in reply
    assert "Каталог обновлён: сегодня в 08:50 (Europe/Moscow, UTC+3)" in reply
    assert "дайджестов отправлено: 1, пустых дней: 0" in reply
    assert "не доставлено: 0 (ошибки), 1 (бот заблокирован)" in reply
    assert "статей доставлено: " in reply and "статей доставлено: 0" not in reply


async def test_to_everyone_else_stats_is_an_unknown_command_and_not_in_the_menu(world):
    telegram, _, _ = world
    assert await say(telegram, STRANGER, "/stats") == await say(telegram, STRANGER, "/nosuch")
    assert "/help" in await say(telegram, STRANGER, "/stats")
    menus = [telegram.commands_for(), telegram.commands_for(language_code="ru")]
    assert all(menu and "stats" not in {c["command"] for c in menu} for menu in menus)


async def test_stats_on_an_empty_bot(world):
    telegram, _, _ = world
    reply = await say(telegram, ADMIN, "/stats")
    assert "Чаты: активны: 0, на паузе: 0, заблокировали бота: 0" in reply
    assert "Популярные теги: —" in reply
    assert "Каталог обновлён: ещё не было" in reply
