"""A reader chooses how the digest reads: in full, or compact with each summary folded.

Everything goes through the fake Bot API (which parses every message's HTML as Telegram does,
expandable quotes included), the fake HF Daily Papers API and the fake LLM, on the real day
of 2024-12-19.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import texts
from bot.app import DigestApp
from content.models import Source
from storage.chats import get_chat
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, MessageState, RateLimit, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick
from tests.test_delivery_e2e import hostile_day

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
MLLM_PAPERS = 6  # the day's papers tagged #mllm
USER, OTHER = 3001, 3002
GROUP = -100888
ADMIN, MEMBER = 91, 92
# 09:00 in Moscow, the default digest time, and a few seconds past it.
MORNING = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)


@dataclass
class World:
    telegram: FakeTelegram
    clock: Clock
    app: DigestApp

    async def say(self, text: str, chat_id: int = USER, **kwargs: object) -> SentMessage:
        """Write in the chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text, **kwargs)

    async def digest(self, chat_id: int = USER) -> list[SentMessage]:
        """Ask for /digest; the messages of the digest."""
        before = len(self.telegram.messages_to(chat_id))
        self.telegram.send_text(chat_id, "/digest")
        await self.telegram.wait_for_messages(chat_id, before + 1)
        return await self.settled(chat_id, before)

    async def morning(self, *chat_ids: int) -> dict[int, list[SentMessage]]:
        """The scheduled delivery at 09:00; what each chat received."""
        before = {chat: len(self.telegram.messages_to(chat)) for chat in chat_ids}
        self.clock.now = MORNING
        await tick(self.app)
        return {chat: self.telegram.messages_to(chat)[before[chat] :] for chat in chat_ids}

    async def settled(self, chat_id: int, before: int) -> list[SentMessage]:
        # A long digest takes more than one message: wait until no more come.
        count = 0
        while count != len(self.telegram.messages_to(chat_id)):
            count = len(self.telegram.messages_to(chat_id))
            await asyncio.sleep(0.3)
        return self.telegram.messages_to(chat_id)[before:]

    async def press(self, chat_id: int, message: SentMessage, data: str, user_id: int) -> str:
        """Press a button; the text of the bot's answer to the press."""
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=user_id
        )
        return answer.text or ""

    async def stored_format(self, chat_id: int) -> str:
        async with self.app.bot_data.services.sessionmaker() as session:
            chat = await get_chat(session=session, chat_id=chat_id)
        assert chat is not None
        return chat.digest_format


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        telegram.set_chat_member_status(GROUP, ADMIN, "administrator")
        telegram.set_chat_member_status(GROUP, MEMBER, "member")
        async with running_bot(settings, clock=clock) as app:
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            yield World(telegram, clock, app)


def quotes(messages: list[SentMessage]) -> list[str]:
    """The kinds of quote entities in the messages, as Telegram parsed them."""
    return [
        entity["type"]
        for message in messages
        for entity in message.entities
        if "blockquote" in entity["type"]
    ]


def buttons(message: SentMessage | MessageState) -> list[tuple[str, str]]:
    return [
        (button["text"], button.get("callback_data", ""))
        for row in (message.reply_markup or {}).get("inline_keyboard", [])
        for button in row
    ]


def refused(telegram: FakeTelegram) -> list[str]:
    """Descriptions of messages Telegram refused (a flood wait aside)."""
    return [
        f"{call.status}: {call.description}"
        for call in telegram.calls("sendMessage")
        if call.response and not call.ok and call.status != 429
    ]


# --- the format of one's own chat -----------------------------------------------------------


async def test_a_reader_turns_compact_and_the_digest_folds_every_summary(world: World) -> None:
    await world.say("/subscribe mllm")

    reply = await world.say("/format компактный")
    assert "✅ 📰 Формат дайджеста: компактный" in reply.plain
    assert await world.stored_format(USER) == "compact"

    digest = await world.digest()
    assert refused(world.telegram) == []
    assert digest[0].plain.startswith("☀️ Дайджест на 19 декабря · #mllm · 6 статей")
    # One folded summary under each title, and every message within Telegram's limit.
    assert quotes(digest) == ["expandable_blockquote"] * MLLM_PAPERS
    assert all("<blockquote expandable>" in m.text for m in digest)
    assert all(len(m.plain) <= 4096 for m in digest)
    # Links, hashtags and the 📌 line stay outside the fold.
    assert "💻 thunlp/LLaVA-UHD" in digest[0].plain and "📌 #mllm" in digest[0].plain

    mytags = await world.say("/mytags")
    assert "📰 Формат дайджеста: компактный." in mytags.plain


async def test_format_full_restores_todays_digest(world: World) -> None:
    await world.say("/subscribe mllm")
    await world.say("/format кратко")
    reply = await world.say("/format полный")
    assert "✅ 📰 Формат дайджеста: полный" in reply.plain
    assert "и так" in (await world.say("/format full")).plain

    digest = await world.digest()
    assert quotes(digest) == []
    assert "blockquote" not in "".join(m.text for m in digest)
    assert digest[0].plain.count("Обзор: ") == MLLM_PAPERS
    assert "Формат дайджеста: полный." in (await world.say("/mytags")).plain


async def test_the_scheduled_digest_comes_in_each_chats_own_format(world: World) -> None:
    await world.say("/subscribe mllm", USER)
    await world.say("/subscribe mllm", OTHER)
    await world.say("/format compact", USER)

    received = await world.morning(USER, OTHER)

    assert refused(world.telegram) == []
    assert quotes(received[USER]) == ["expandable_blockquote"] * MLLM_PAPERS
    assert received[OTHER] and quotes(received[OTHER]) == []
    # The same papers either way: only the layout differs.
    assert received[USER][0].plain == received[OTHER][0].plain


async def test_format_alone_shows_the_format_with_two_buttons_that_switch_it(
    world: World,
) -> None:
    shown = await world.say("/format")
    assert "📰 Формат дайджеста: полный" in shown.plain
    labels = dict(buttons(shown))
    assert set(labels) == {"✅ 📄 Полный", "🗂 Компактный"}
    assert all(len(data.encode()) <= 64 for data in labels.values())

    answer = await world.press(USER, shown, labels["🗂 Компактный"], USER)
    assert answer == "Формат дайджеста: компактный"
    assert await world.stored_format(USER) == "compact"
    await world.telegram.wait_until(
        lambda: "✅ 🗂 Компактный" in dict(buttons(world.telegram.message(USER, shown.message_id)))
    )
    assert "Формат дайджеста: компактный" in world.telegram.message(USER, shown.message_id).plain

    answer = await world.press(USER, shown, labels["✅ 📄 Полный"], USER)
    assert answer == "Формат дайджеста: полный"
    assert await world.stored_format(USER) == "full"


async def test_an_unknown_format_gets_the_choices_and_changes_nothing(world: World) -> None:
    reply = await world.say("/format средний")
    assert "Не знаю формата «средний»" in reply.plain
    assert "/format компактный" in reply.plain
    assert len(buttons(reply)) == 2
    assert await world.stored_format(USER) == "full"


async def test_a_forged_format_button_changes_nothing(world: World) -> None:
    shown = await world.say("/format")
    query_id = world.telegram.press_button(
        USER, shown.message_id, "fmt:huge", user_id=USER, check_button=False
    )
    await world.telegram.wait_until(
        lambda: any(a.callback_query_id == query_id for a in world.telegram.callback_answers)
    )
    assert world.telegram.callback_answers[-1].text == texts.FORMAT_BUTTON_EXPIRED
    assert await world.stored_format(USER) == "full"


# --- groups ---------------------------------------------------------------------------------


async def test_a_group_member_who_is_no_admin_cannot_change_the_groups_format(
    world: World,
) -> None:
    def in_group(user_id: int) -> dict[str, object]:
        return {"chat_type": "supergroup", "user_id": user_id}

    # Anyone may look, but only an admin's word or press counts.
    shown = await world.say("/format", GROUP, **in_group(MEMBER))
    assert "📰 Формат дайджеста: полный" in shown.plain
    reply = await world.say("/format компактный", GROUP, **in_group(MEMBER))
    assert "только его администраторы" in reply.plain
    assert await world.stored_format(GROUP) == "full"
    compact = dict(buttons(shown))["🗂 Компактный"]
    answer = await world.press(GROUP, shown, compact, MEMBER)
    assert answer == texts.FORMAT_ADMINS_ONLY_SHORT
    assert world.telegram.callback_answers[-1].show_alert is True
    assert await world.stored_format(GROUP) == "full"

    assert await world.press(GROUP, shown, compact, ADMIN) == "Формат дайджеста: компактный"
    assert await world.stored_format(GROUP) == "compact"
    reply = await world.say("/format полный", GROUP, **in_group(ADMIN))
    assert "✅ 📰 Формат дайджеста: полный" in reply.plain
    assert await world.stored_format(GROUP) == "full"


async def test_help_and_the_menu_name_format(world: World) -> None:
    assert "/format" in (await world.say("/help")).plain
    assert "format" in [c["command"] for c in world.telegram.commands_for("default", "ru")]


# --- forty hostile papers -------------------------------------------------------------------


async def test_forty_hostile_papers_in_compact_form_arrive_valid_and_within_the_limit(
    db_url: str,
) -> None:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = hostile_day(40)
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            digest_max_papers=50,
        )
        # Some summaries come back from the LLM trying to close the fold early.
        answer = {
            "title_ru": 'Модель <script>x</script> & "кавычки" <',
            "summary_ru": "Авторы сравнивают a < b & c > d в </blockquote><b>мультимодальных</b> "
            "моделях. " * 4,
            "tags": ["mllm"],
        }
        llm.respond_next(json.dumps(answer, ensure_ascii=False), times=10)
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, clock, app)
            await world.say("/subscribe mllm")
            await world.say("/format компактный")
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            telegram.rate_limit = RateLimit()
            digest = (await world.morning(USER))[USER]

    assert refused(telegram) == []
    assert len(digest) > 1
    assert all(len(m.plain) <= 4096 and m.parse_mode == "HTML" for m in digest)
    assert quotes(digest) == ["expandable_blockquote"] * 40
    text = "\n".join(m.plain for m in digest)
    assert text.startswith("☀️ Дайджест на 19 декабря · #mllm · 40 статей")
    # Markup the LLM wrote is dropped; every other character arrives as it was.
    assert text.count('Модель & "кавычки" <') == 10
    assert text.count("a < b & c > d в мультимодальных моделях") >= 10
    assert "<blockquote" not in text and "</blockquote>" not in text
