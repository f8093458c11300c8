"""A user sets delivery time, timezone and pause through the fake Telegram, as in real use."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.app import DigestApp
from storage import chats
from storage.models import Chat
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, make_settings, running_bot
from tests.test_subscriptions_e2e import CYRILLIC, GROUP, USER, say

UTC = dt.UTC
# 15:00 in Moscow, 22:00 in Vladivostok.
START = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def bot(fake: FakeTelegram, db_url: str, clock: Clock) -> AsyncIterator[DigestApp]:
    async with running_bot(make_settings(fake, db_url), clock=clock) as app:
        yield app


async def stored_chat(app: DigestApp, chat_id: int = USER) -> Chat:
    async with app.bot_data.services.sessionmaker() as session:
        chat = await chats.get_chat(session=session, chat_id=chat_id)
    assert chat is not None
    return chat


async def test_a_user_in_vladivostok_sets_timezone_and_time(fake, bot):
    await say(fake, "/subscribe mllm")

    reply = await say(fake, "/timezone Asia/Vladivostok")
    assert "Часовой пояс: Asia/Vladivostok, UTC+10" in reply
    assert "местное время сейчас — 22:00" in reply
    assert "Следующий дайджест придёт завтра в 09:00 (Asia/Vladivostok, UTC+10)" in reply

    reply = await say(fake, "/time 08:00")
    assert "каждый день в 08:00" in reply
    assert "Следующий дайджест придёт завтра в 08:00 (Asia/Vladivostok, UTC+10)" in reply

    chat = await stored_chat(bot)
    assert chat.timezone == "Asia/Vladivostok"
    assert chat.digest_time == dt.time(8, 0)
    # 08:00 on 11 December in Vladivostok is 22:00 UTC on the 10th.
    assert chat.next_digest_at == dt.datetime(2026, 12, 10, 22, 0, tzinfo=UTC)

    reply = await say(fake, "/mytags")
    assert "#mllm" in reply
    assert "каждый день в 08:00 (Asia/Vladivostok, UTC+10)" in reply
    assert "Следующий дайджест придёт завтра в 08:00" in reply
    assert "на паузе" not in reply


async def test_a_later_time_today_is_due_today(fake, bot):
    await say(fake, "/subscribe mllm")
    reply = await say(fake, "/time 18:30")
    assert "Следующий дайджест придёт сегодня в 18:30 (Europe/Moscow, UTC+3)" in reply
    chat = await stored_chat(bot)
    assert chat.next_digest_at == dt.datetime(2026, 12, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("9:00", "09:00"), ("09.00", "09:00"), ("9", "09:00"), ("0730", "07:30"), ("21-05", "21:05")],
)
async def test_time_accepts_the_usual_spellings(fake, db_url, clock, typed, shown):
    async with running_bot(make_settings(fake, db_url), clock=clock) as app:
        reply = await say(fake, f"/time {typed}")
        assert f"каждый день в {shown}" in reply
        assert (await stored_chat(app)).digest_time == dt.time.fromisoformat(shown)


async def test_timezone_accepts_offsets_cities_and_any_case(fake, bot):
    cases = [
        ("europe/moscow", "Europe/Moscow, UTC+3", "Europe/Moscow"),
        ("+3", "UTC+3", "Etc/GMT-3"),
        ("-5", "UTC-5", "Etc/GMT+5"),
        ("UTC+03:00", "UTC+3", "Etc/GMT-3"),
        ("GMT+3", "UTC+3", "Etc/GMT-3"),
        ("UTC+5:30", "UTC+5:30", "UTC+05:30"),
        ("UTC", "UTC", "UTC"),
        ("Владивосток", "Asia/Vladivostok, UTC+10", "Asia/Vladivostok"),
        ("Екатеринбург", "Asia/Yekaterinburg, UTC+5", "Asia/Yekaterinburg"),
        ("Калининград", "Europe/Kaliningrad, UTC+2", "Europe/Kaliningrad"),
    ]
    for typed, label, stored in cases:
        reply = await say(fake, f"/timezone {typed}")
        assert f"Часовой пояс: {label}," in reply, typed
        assert (await stored_chat(bot)).timezone == stored, typed


async def test_a_half_hour_offset_schedules_and_shows_local_time(fake, bot):
    await say(fake, "/subscribe mllm")
    reply = await say(fake, "/timezone UTC+05:30")
    assert "местное время сейчас — 17:30" in reply
    assert "завтра в 09:00 (UTC+5:30)" in reply
    chat = await stored_chat(bot)
    assert chat.next_digest_at == dt.datetime(2026, 12, 11, 3, 30, tzinfo=UTC)
    assert "(UTC+5:30)" in await say(fake, "/mytags")


async def test_without_subscriptions_no_digest_is_scheduled(fake, bot):
    reply = await say(fake, "/time 07:00")
    assert "каждый день в 07:00" in reply
    assert "Подпишитесь на темы" in reply
    assert (await stored_chat(bot)).next_digest_at is None

    reply = await say(fake, "/subscribe mllm")
    assert "Первый дайджест придёт завтра в 07:00 (Europe/Moscow, UTC+3)" in reply


@pytest.mark.parametrize("text", ["/time 25:00", "/time утром", "/time 9:5", "/time <b>9</b>"])
async def test_a_bad_time_gets_an_example(fake, bot, text):
    reply = await say(fake, text)
    assert "Не понял время" in reply
    assert "/time 08:30" in reply
    assert (await stored_chat(bot)).digest_time == dt.time(9, 0)


@pytest.mark.parametrize(
    "text",
    [
        "/timezone Марс",
        "/timezone 3",
        "/timezone +15",
        "/timezone <i>&amp;",
        "/timezone " + "z" * 3000,
    ],
)
async def test_a_bad_timezone_gets_examples(fake, bot, text):
    reply = await say(fake, text)
    assert "Не знаю часового пояса" in reply
    assert "/timezone Europe/Moscow" in reply and "/timezone +3" in reply
    assert len(reply) < 600
    assert (await stored_chat(bot)).timezone == "Europe/Moscow"


async def test_without_a_value_the_current_setting_and_an_example_are_shown(fake, bot):
    reply = await say(fake, "/time")
    assert "каждый день в 09:00 (Europe/Moscow, UTC+3)" in reply
    assert "/time 08:30" in reply
    reply = await say(fake, "/timezone")
    assert "Europe/Moscow, UTC+3, местное время сейчас — 15:00" in reply
    assert "/timezone +3" in reply


async def test_pause_and_resume_keep_subscriptions_and_skip_the_backlog(fake, bot, clock):
    await say(fake, "/subscribe mllm moe")

    reply = await say(fake, "/pause")
    assert "на паузе" in reply and "/resume" in reply
    assert "уже на паузе" in await say(fake, "/pause")
    assert (await stored_chat(bot)).paused is True

    reply = await say(fake, "/mytags")
    assert "#mllm" in reply and "#moe" in reply
    assert "Дайджесты на паузе" in reply

    # Changing the time while paused is fine and says deliveries are paused.
    reply = await say(fake, "/time 10:00")
    assert "каждый день в 10:00" in reply and "на паузе" in reply

    # Three days later the stored moment is long overdue; resuming must not fire it.
    clock.now = START + dt.timedelta(days=3)
    reply = await say(fake, "/resume")
    assert "Дайджесты снова включены" in reply
    assert "Следующий дайджест придёт завтра в 10:00 (Europe/Moscow, UTC+3)" in reply
    chat = await stored_chat(bot)
    assert chat.paused is False
    assert chat.next_digest_at == dt.datetime(2026, 12, 14, 7, 0, tzinfo=UTC)

    assert "Дайджесты уже включены" in await say(fake, "/resume")
    reply = await say(fake, "/mytags")
    assert "на паузе" not in reply and "#mllm" in reply


async def test_in_a_group_only_admins_change_settings(fake, bot):
    fake.set_chat_member_status(GROUP, 7, "member")
    fake.set_chat_member_status(GROUP, 8, "administrator")

    async def as_member(text: str) -> str:
        return await say(fake, text, chat_id=GROUP, user_id=7, chat_type="supergroup")

    async def as_admin(text: str) -> str:
        return await say(fake, text, chat_id=GROUP, user_id=8, chat_type="supergroup")

    await as_member("/mytags")
    for command in ("/time 07:00", "/timezone +5", "/pause", "/resume"):
        reply = await as_member(command)
        assert "только его администраторы" in reply, command
    chat = await stored_chat(bot, GROUP)
    assert (chat.digest_time, chat.timezone, chat.paused) == (dt.time(9), "Europe/Moscow", False)

    assert "каждый день в 07:00" in await as_admin("/time 07:00")
    assert "UTC+5" in await as_admin("/timezone +5")
    assert "на паузе" in await as_admin("/pause")
    # Anyone may look.
    reply = await as_member("/mytags")
    assert "07:00 (UTC+5)" in reply and "на паузе" in reply


async def test_help_and_the_menu_list_the_settings_commands(fake, bot):
    reply = await say(fake, "/help")
    for example in ("/time 08:30", "/timezone Europe/Moscow", "/timezone +3", "/pause", "/resume"):
        assert example in reply
    names = [c["command"] for c in fake.commands_for("default", "ru")]
    assert {"time", "timezone", "pause", "resume"} <= set(names)


async def test_settings_survive_a_restart(fake, db_url, clock):
    settings = make_settings(fake, db_url)
    async with running_bot(settings, clock=clock):
        await say(fake, "/timezone Новосибирск")
        await say(fake, "/time 6:45")
        await say(fake, "/pause")
    async with running_bot(settings, clock=clock):
        reply = await say(fake, "/mytags")
    assert "06:45 (Asia/Novosibirsk, UTC+7)" in reply
    assert "на паузе" in reply
    assert CYRILLIC.search(reply)
