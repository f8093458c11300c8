"""A thousand chats due in the same minute, against Telegram's flood limits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from content.models import Source
from storage.chats import get_chat
from tests.broadcast import papers_by_tag_set, seed_due_chats, tally
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, RateLimit
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
NINE_MOSCOW = dt.datetime(2024, 12, 19, 6, 0, tzinfo=dt.UTC)
CHATS = range(10_000, 11_000)
BLOCKED = 10_500
# Telegram's limits as the fake enforces them: 30 messages a second overall, and about one a
# second per chat after a burst of three; beyond that it answers 429 with retry_after.
FLOOD_LIMITS = RateLimit(global_per_second=30, per_chat_per_second=1, per_chat_burst=3)


async def test_a_thousand_chats_due_at_once_each_get_their_digest_once_within_flood_limits(
    db_url: str,
) -> None:
    clock = Clock(NINE_MOSCOW - dt.timedelta(hours=3))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        async with running_bot(settings, clock=clock) as app:
            services = app.bot_data.services
            await services.ingestor.run([DAY], [Source.HF])
            await seed_due_chats(services.sessionmaker, CHATS, due_at=NINE_MOSCOW)
            owed = await papers_by_tag_set(services.sessionmaker)
            assert all(owed.values()), owed
            telegram.block_chat(BLOCKED)
            telegram.rate_limit = FLOOD_LIMITS

            # 09:00 in Moscow: all thousand are due. The scheduled tick may run alongside.
            clock.now = NINE_MOSCOW + dt.timedelta(seconds=5)
            await tick(app)

            result = tally(telegram, [chat for chat in CHATS if chat != BLOCKED], owed)
            assert (result.complete, result.lost, result.repeated) == (999, 0, 0), result.line()
            assert result.too_many_requests <= 0.01 * result.messages, result.line()

            # The chat that blocked the bot was tried once and is now inactive.
            attempts = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == BLOCKED]
            assert len(attempts) == 1
            async with services.sessionmaker() as session:
                blocked = await get_chat(session=session, chat_id=BLOCKED)
            assert blocked is not None and blocked.active is False

            # Everyone is done for the day: another tick sends nothing.
            sent = len(telegram.sent)
            await tick(app)
            assert len(telegram.sent) == sent
