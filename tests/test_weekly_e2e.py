"""A reader who wants one digest a week: the week's best papers on the weekday they chose.

Everything goes through the fake Bot API, the fake HF Daily Papers API and the fake LLM, with
a clock the test moves day by day. 2024-12-19, the fixture's day, is a Thursday.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import texts
from bot.app import DigestApp
from content.models import Source
from storage.chats import get_chat
from tests.broadcast import papers_in
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources, hf_day
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
THURSDAY = dt.date(2024, 12, 19)
ABSTRACT = "We present a multimodal large language model that reads charts and answers questions."
READER, DAILY_READER = 4001, 4002
GROUP = -100777
ADMIN, MEMBER = 93, 94


def moscow(day: dt.date, hour: int, minute: int) -> dt.datetime:
    """A few seconds past that minute in Moscow (UTC+3), as a tick would see it."""
    return dt.datetime(day.year, day.month, day.day, hour - 3, minute, 5, tzinfo=dt.UTC)


def mllm_papers(day: dt.date, count: int, *, upvotes: int) -> list[dict[str, object]]:
    """``count`` #mllm papers listed that day, ids of their own, upvotes from ``upvotes`` up."""
    items = hf_day(
        [f"Multimodal Large Language Model {day:%b %d} no. {n}" for n in range(count)],
        first_id=f"2412.{30000 + day.toordinal() % 1000 * 10}",
        abstract=ABSTRACT,
    )
    for n, item in enumerate(items):
        item["paper"]["upvotes"] = upvotes + n
    return items


def paper_ids(items: list[dict[str, object]]) -> list[str]:
    return [str(item["paper"]["id"]) for item in items]  # type: ignore[index]


@dataclass
class World:
    telegram: FakeTelegram
    sources: FakeSources
    clock: Clock
    app: DigestApp
    # The papers of 13-18 December, all with more upvotes than the fixture's, best first.
    week: list[str]
    # A paper of 12 December with more upvotes than any: outside the week.
    too_old: str

    async def say(self, text: str, chat_id: int = READER, **kwargs: object) -> SentMessage:
        """Write in the chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text, **kwargs)

    async def at(self, when: dt.datetime, *chat_ids: int) -> dict[int, list[SentMessage]]:
        """Move the clock and tick; what each chat received."""
        before = {chat: len(self.telegram.messages_to(chat)) for chat in chat_ids}
        self.clock.now = when
        await tick(self.app)
        return {chat: self.telegram.messages_to(chat)[before[chat] :] for chat in chat_ids}

    async def ingest(self, day: dt.date, count: int = 1) -> list[str]:
        """A new day of HF papers, ``count`` of them #mllm, ingested at 07:00 in Moscow."""
        items = mllm_papers(day, count, upvotes=50)
        self.sources.hf_days[day] = items
        self.clock.now = moscow(day, 7, 0)
        await self.app.bot_data.services.ingestor.run([day], [Source.HF])
        return paper_ids(items)

    async def press(self, chat_id: int, message: SentMessage, data: str, user_id: int) -> str:
        """Press a button; the text of the bot's answer to the press."""
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=user_id
        )
        return answer.text or ""

    async def weekday(self, chat_id: int) -> int | None:
        async with self.app.bot_data.services.sessionmaker() as session:
            chat = await get_chat(session=session, chat_id=chat_id)
        assert chat is not None
        return chat.digest_weekday


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(moscow(THURSDAY, 8, 50))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[THURSDAY] = FIXTURE.read_bytes()
        upvotes: dict[str, int] = {}
        for back in range(1, 7):  # Friday 13 to Wednesday 18 December, two papers a day
            day = THURSDAY - dt.timedelta(days=back)
            items = mllm_papers(day, 2, upvotes=100 + 2 * back)
            sources.hf_days[day] = items
            upvotes |= {pid: 100 + 2 * back + n for n, pid in enumerate(paper_ids(items))}
        old_day = THURSDAY - dt.timedelta(days=7)
        old = mllm_papers(old_day, 1, upvotes=999)
        sources.hf_days[old_day] = old
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        telegram.set_chat_member_status(GROUP, ADMIN, "administrator")
        telegram.set_chat_member_status(GROUP, MEMBER, "member")
        async with running_bot(settings, clock=clock) as app:
            days = [THURSDAY - dt.timedelta(days=back) for back in range(8)]
            await app.bot_data.services.ingestor.run(days, [Source.HF])
            clock.now = moscow(THURSDAY, 8, 50)
            best_first = sorted(upvotes, key=lambda pid: -upvotes[pid])
            yield World(telegram, sources, clock, app, best_first, paper_ids(old)[0])


def buttons(message: SentMessage) -> list[tuple[str, str]]:
    return [
        (button["text"], button.get("callback_data", ""))
        for row in (message.reply_markup or {}).get("inline_keyboard", [])
        for button in row
    ]


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(message.plain for message in messages)


async def settled(world: World, chat_id: int, before: int) -> list[SentMessage]:
    # A long digest takes more than one message: wait until no more come.
    count = -1
    while count != len(world.telegram.messages_to(chat_id)):
        count = len(world.telegram.messages_to(chat_id))
        await asyncio.sleep(0.3)
    return world.telegram.messages_to(chat_id)[before:]


# --- acceptance -----------------------------------------------------------------------------


async def test_a_weekly_reader_gets_the_weeks_top_ten_on_their_day_and_nothing_on_the_others(
    world: World,
) -> None:
    await world.say("/subscribe mllm")
    await world.say("/subscribe mllm", DAILY_READER)
    reply = await world.say("/weekly четверг")
    assert "раз в неделю, по четвергам" in reply.plain
    reply = await world.say("/time 08:51")
    assert "по четвергам в 08:51" in reply.plain

    got = await world.at(moscow(THURSDAY, 8, 51), READER)
    digest = got[READER]
    assert digest, "the weekly reader got no digest at its minute"
    text = text_of(digest)
    assert text.startswith("☀️ Дайджест недели: 13–19 декабря · #mllm · 10 статей")
    assert text.count("Дайджест недели") == 1
    sent = [paper for message in digest for paper in papers_in(message)]
    assert len(sent) == 10
    # The week's best by upvotes; the 12 December paper, for all its upvotes, is not this week's.
    assert world.too_old not in sent
    assert sent == world.week[:10]
    assert "Ещё 8 статей по вашей теме" in text

    # A second tick in the same minute sends nothing more; the daily reader gets Thursday's.
    assert (await world.at(moscow(THURSDAY, 8, 51), READER))[READER] == []
    assert (await world.at(moscow(THURSDAY, 9, 0), DAILY_READER))[DAILY_READER]

    # Friday to Wednesday: new papers every day, a daily digest for the daily reader, none for
    # the weekly one, at its minute or later.
    new: list[str] = []
    for offset in range(1, 7):
        day = THURSDAY + dt.timedelta(days=offset)
        new += await world.ingest(day)
        got = await world.at(moscow(day, 8, 51), READER, DAILY_READER)
        got_later = await world.at(moscow(day, 9, 0), READER, DAILY_READER)
        assert got[READER] == [] and got_later[READER] == [], f"a digest on {day}"
        assert f"Дайджест на {day.day} декабря" in text_of(got_later[DAILY_READER])

    # The next Thursday: the week 20-26 December, nothing the reader has had already.
    next_thursday = THURSDAY + dt.timedelta(days=7)
    new += await world.ingest(next_thursday)
    digest = (await world.at(moscow(next_thursday, 8, 51), READER))[READER]
    text = text_of(digest)
    assert text.startswith("☀️ Дайджест недели: 20–26 декабря · #mllm · 7 статей")
    assert sorted(paper for message in digest for paper in papers_in(message)) == sorted(new)


async def test_daily_switches_back_and_the_next_days_digest_is_daily_again(world: World) -> None:
    await world.say("/subscribe mllm")
    reply = await world.say("/weekly friday")
    assert "по пятницам" in reply.plain
    assert "Следующий дайджест придёт завтра в 09:00" in reply.plain
    assert (await world.at(moscow(THURSDAY, 9, 0), READER))[READER] == []

    reply = await world.say("/daily")
    assert "✅ 🗓 Дайджест приходит каждый день в 09:00" in reply.plain
    assert await world.weekday(READER) is None
    assert "и так приходит каждый день" in (await world.say("/daily")).plain

    friday = THURSDAY + dt.timedelta(days=1)
    [fresh] = await world.ingest(friday)
    digest = (await world.at(moscow(friday, 9, 0), READER))[READER]
    text = text_of(digest)
    assert text.startswith("☀️ Дайджест на 20 декабря")
    assert "Дайджест недели" not in text
    assert fresh in [paper for message in digest for paper in papers_in(message)]


# --- the weekday, typed or pressed ----------------------------------------------------------


async def test_a_bad_weekday_gets_a_russian_answer_with_the_seven_days(world: World) -> None:
    reply = await world.say("/weekly завтра")
    assert "Не понял день недели «завтра»" in reply.plain
    assert "/weekly пятница" in reply.plain
    shown = buttons(reply)
    assert [label for label, _ in shown] == [
        "Пн",
        "Вт",
        "Ср",
        "Чт",
        "Пт",
        "Сб",
        "Вс",
        "✅ 📅 Каждый день",
    ]
    assert all(len(data.encode()) <= 64 for _, data in shown)
    assert await world.weekday(READER) is None

    assert await world.press(READER, reply, dict(shown)["Пт"], READER) == "Дайджест: по пятницам"
    assert await world.weekday(READER) == 4
    edited = world.telegram.message(READER, reply.message_id)
    assert "раз в неделю, по пятницам" in edited.plain


async def test_weekly_without_a_day_offers_the_buttons_and_a_forged_one_changes_nothing(
    world: World,
) -> None:
    shown = await world.say("/weekly")
    assert "каждый день" in shown.plain and len(buttons(shown)) == 8
    query_id = world.telegram.press_button(
        READER, shown.message_id, "rhy:9", user_id=READER, check_button=False
    )
    await world.telegram.wait_until(
        lambda: any(a.callback_query_id == query_id for a in world.telegram.callback_answers)
    )
    assert world.telegram.callback_answers[-1].text == texts.RHYTHM_BUTTON_EXPIRED
    assert await world.weekday(READER) is None


async def test_mytags_help_and_the_menu_show_the_rhythm(world: World) -> None:
    await world.say("/subscribe mllm")
    assert "Дайджест приходит каждый день в 09:00" in (await world.say("/mytags")).plain
    await world.say("/weekly в пятницу")
    mytags = (await world.say("/mytags")).plain
    assert "Дайджест приходит по пятницам в 09:00" in mytags
    assert "/daily — каждый день" in mytags
    assert "Дайджест приходит по пятницам в 09:00" in (await world.say("/start")).plain
    help_text = (await world.say("/help")).plain
    assert "/weekly" in help_text and "/daily" in help_text
    menu = [c["command"] for c in world.telegram.commands_for("default", "ru")]
    assert "weekly" in menu and "daily" in menu


async def test_digest_on_a_weekly_chat_sends_the_weeks_digest_now(world: World) -> None:
    await world.say("/subscribe mllm")
    await world.say("/weekly пт")
    before = len(world.telegram.messages_to(READER))
    world.telegram.send_text(READER, "/digest")
    await world.telegram.wait_for_messages(READER, before + 1)
    digest = await settled(world, READER, before)
    assert text_of(digest).startswith("☀️ Дайджест недели: 13–19 декабря · #mllm · 10 статей")
    # Friday's digest still comes, with the rest of the week.
    friday = THURSDAY + dt.timedelta(days=1)
    later = (await world.at(moscow(friday, 9, 0), READER))[READER]
    assert text_of(later).startswith("☀️ Дайджест недели: 13–19 декабря · #mllm · 8 статей")
    first = {p for m in digest for p in papers_in(m)}
    assert first.isdisjoint(p for m in later for p in papers_in(m))


# --- groups ---------------------------------------------------------------------------------


async def test_a_group_member_who_is_no_admin_cannot_change_the_groups_rhythm(
    world: World,
) -> None:
    def in_group(user_id: int) -> dict[str, object]:
        return {"chat_type": "supergroup", "user_id": user_id}

    shown = await world.say("/weekly", GROUP, **in_group(MEMBER))
    assert "каждый день" in shown.plain
    reply = await world.say("/weekly пятница", GROUP, **in_group(MEMBER))
    assert "только его администраторы" in reply.plain
    assert await world.weekday(GROUP) is None
    friday = dict(buttons(shown))["Пт"]
    assert await world.press(GROUP, shown, friday, MEMBER) == texts.RHYTHM_ADMINS_ONLY_SHORT
    assert world.telegram.callback_answers[-1].show_alert is True
    assert await world.weekday(GROUP) is None

    assert await world.press(GROUP, shown, friday, ADMIN) == "Дайджест: по пятницам"
    assert await world.weekday(GROUP) == 4
    reply = await world.say("/daily", GROUP, **in_group(MEMBER))
    assert "только его администраторы" in reply.plain
    assert await world.weekday(GROUP) == 4
    reply = await world.say("/daily", GROUP, **in_group(ADMIN))
    assert "каждый день" in reply.plain
    assert await world.weekday(GROUP) is None


async def test_time_and_timezone_keep_a_weekly_chat_on_its_weekday(world: World) -> None:
    await world.say("/subscribe mllm")
    reply = await world.say("/weekly воскресенье")
    assert "Следующий дайджест придёт 22 декабря в 09:00" in reply.plain
    reply = await world.say("/time 10:30")
    assert "по воскресеньям в 10:30" in reply.plain
    assert "22 декабря в 10:30" in reply.plain
    reply = await world.say("/timezone Владивосток")
    assert "22 декабря в 10:30 (Asia/Vladivostok, UTC+10)" in reply.plain
    assert "по воскресеньям в 10:30" in (await world.say("/time")).plain
