"""Channels, groups and supergroups as Telegram really runs them, through the fake Bot API.

Who may change what (getChatMember), channel posts without ``from``, the bot's own membership
(``my_chat_member``), and a group that Telegram turns into a supergroup with a new id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import texts
from bot.app import DigestApp
from bot.handlers.membership import GREETING_DELAY
from content.models import Source
from storage import chats, subscriptions
from storage.models import Chat
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources, hf_day
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
NINE_IN_MOSCOW = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)

CHANNEL = -1001234567890
GROUP = -100500
OWNER, ADMIN, READER = 71, 72, 73


@dataclass
class World:
    telegram: FakeTelegram
    clock: Clock
    app: DigestApp
    sources: FakeSources

    async def ingest(self) -> None:
        await self.app.bot_data.services.ingestor.run([DAY], [Source.HF])

    async def tags_of(self, chat_id: int) -> list[str]:
        async with self.app.bot_data.services.sessionmaker() as session:
            return await subscriptions.list_tags(session=session, chat_id=chat_id)

    async def chat(self, chat_id: int) -> Chat | None:
        async with self.app.bot_data.services.sessionmaker() as session:
            return await chats.get_chat(session=session, chat_id=chat_id)

    async def eventually(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Wait until the database shows what ``check`` looks for."""
        deadline = asyncio.get_running_loop().time() + 5
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "not within 5 s"
            await asyncio.sleep(0.02)

    async def inactive(self, chat_id: int) -> bool:
        chat = await self.chat(chat_id)
        return chat is not None and not chat.active

    async def active(self, chat_id: int) -> bool:
        chat = await self.chat(chat_id)
        return chat is not None and chat.active

    async def known(self, chat_id: int) -> bool:
        return await self.chat(chat_id) is not None

    async def say(self, chat_id: int, text: str, **kwargs: object) -> SentMessage:
        """Write in the chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text, **kwargs)

    async def press(self, chat_id: int, message: SentMessage, data: str, user_id: int) -> str:
        """Press a button as the user; the text of the bot's answer to the press."""
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=user_id
        )
        return answer.text or ""


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        for chat_id in (CHANNEL, GROUP):
            telegram.set_chat_member_status(chat_id, OWNER, "creator")
            telegram.set_chat_member_status(chat_id, ADMIN, "administrator")
            telegram.set_chat_member_status(chat_id, READER, "member")
        async with running_bot(settings, clock=clock) as app:
            yield World(telegram, clock, app, sources)


def tag_button(message: SentMessage, tag: str) -> str:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"].endswith(f"#{tag}"):
                return str(button["callback_data"])
    raise AssertionError(f"no #{tag} button in {message.reply_markup}")


# --- channels ------------------------------------------------------------------------------


async def test_a_channel_post_by_its_admins_subscribes_the_channel(world: World) -> None:
    reply = await world.say(CHANNEL, "/subscribe mllm", chat_type="channel")
    assert "Подписка оформлена: #mllm" in reply.plain
    assert await world.tags_of(CHANNEL) == ["mllm"]


async def test_a_channel_reader_presses_a_tag_button_and_nothing_changes(world: World) -> None:
    overview = await world.say(CHANNEL, "/tags", chat_type="channel")
    answer = await world.press(CHANNEL, overview, tag_button(overview, "agents"), READER)
    assert answer == texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(CHANNEL) == []
    assert world.telegram.message(CHANNEL, overview.message_id).text == overview.text

    answer = await world.press(CHANNEL, overview, tag_button(overview, "agents"), OWNER)
    assert "#agents" in answer and answer != texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(CHANNEL) == ["agents"]


async def test_a_channel_reader_cannot_unsubscribe_the_channel_with_its_buttons(
    world: World,
) -> None:
    await world.say(CHANNEL, "/subscribe mllm moe", chat_type="channel")
    picker = await world.say(CHANNEL, "/unsubscribe", chat_type="channel")
    answer = await world.press(CHANNEL, picker, tag_button(picker, "moe"), READER)
    assert answer == texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(CHANNEL) == ["mllm", "moe"]


async def test_a_channel_reader_cannot_turn_the_pages_of_a_search_post(world: World) -> None:
    await world.ingest()
    post = await world.say(CHANNEL, "/search model", chat_type="channel")
    [[(label, data)]] = [
        [(b["text"], b["callback_data"]) for b in row]
        for row in (post.reply_markup or {}).get("inline_keyboard", [])
    ]
    assert label == "Дальше ▶"
    answer = await world.press(CHANNEL, post, data, READER)
    assert answer == texts.SEARCH_ADMINS_ONLY_SHORT
    assert world.telegram.message(CHANNEL, post.message_id).text == post.text

    await world.press(CHANNEL, post, data, ADMIN)
    await world.telegram.wait_until(
        lambda: world.telegram.message(CHANNEL, post.message_id).text != post.text
    )


async def test_an_admins_presses_ask_telegram_about_them_once_a_minute_and_demotion_counts(
    world: World,
) -> None:
    overview = await world.say(GROUP, "/tags", chat_type="supergroup", user_id=ADMIN)
    await world.press(GROUP, overview, tag_button(overview, "agents"), ADMIN)
    assert len(world.telegram.calls("getChatMember")) == 1
    for tag in ("moe", "agents"):
        await world.press(GROUP, overview, tag_button(overview, tag), ADMIN)
    assert await world.tags_of(GROUP) == ["moe"]
    assert len(world.telegram.calls("getChatMember")) == 1

    # Demoted: a minute later the bot asks again, and the former admin changes nothing.
    world.telegram.set_chat_member_status(GROUP, ADMIN, "member")
    world.clock.now += dt.timedelta(seconds=61)
    answer = await world.press(GROUP, overview, tag_button(overview, "agents"), ADMIN)
    assert answer == texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(GROUP) == ["moe"]


# --- groups and supergroups -----------------------------------------------------------------


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_in_groups_only_admins_press_settings_buttons(world: World, chat_type: str) -> None:
    welcome = await world.say(GROUP, "/start", chat_type=chat_type, user_id=READER)
    answer = await world.press(GROUP, welcome, tag_button(welcome, "mllm"), READER)
    assert answer == texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(GROUP) == []

    answer = await world.press(GROUP, welcome, tag_button(welcome, "mllm"), ADMIN)
    assert answer != texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(GROUP) == ["mllm"]

    picker = await world.say(GROUP, "/unsubscribe", chat_type=chat_type, user_id=ADMIN)
    answer = await world.press(GROUP, picker, tag_button(picker, "mllm"), READER)
    assert answer == texts.ADMINS_ONLY_SHORT
    assert await world.tags_of(GROUP) == ["mllm"]


async def test_a_deep_link_from_a_group_member_subscribes_nothing(world: World) -> None:
    reply = await world.say(GROUP, "/start sub_agents", chat_type="supergroup", user_id=READER)
    assert reply.plain == texts.ADMINS_ONLY
    assert await world.tags_of(GROUP) == []

    reply = await world.say(GROUP, "/start sub_agents", chat_type="supergroup", user_id=OWNER)
    assert "#agents" in reply.plain
    assert await world.tags_of(GROUP) == ["agents"]


async def test_an_anonymous_admin_writes_as_the_group_and_may_subscribe(world: World) -> None:
    reply = await world.say(
        GROUP, "/subscribe agents", chat_type="supergroup", sender_chat_id=GROUP
    )
    assert "Подписка оформлена: #agents" in reply.plain
    assert await world.tags_of(GROUP) == ["agents"]


async def test_a_member_writing_as_some_channel_is_no_admin(world: World) -> None:
    reply = await world.say(
        GROUP, "/subscribe moe", chat_type="supergroup", sender_chat_id=-1009999
    )
    assert reply.plain == texts.ADMINS_ONLY
    assert await world.tags_of(GROUP) == []


async def test_a_group_member_cannot_pre_empt_the_morning_digest_with_digest(
    world: World,
) -> None:
    await world.say(GROUP, "/subscribe mllm", chat_type="supergroup", user_id=ADMIN)
    await world.ingest()
    reply = await world.say(GROUP, "/digest", chat_type="supergroup", user_id=READER)
    assert reply.plain == texts.DIGEST_ADMINS_ONLY

    count = len(world.telegram.messages_to(GROUP))
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    [digest, *_] = world.telegram.messages_to(GROUP)[count:]
    assert digest.plain.startswith("☀️ Дайджест на 19 декабря · #mllm")


# --- the bot's own membership ------------------------------------------------------------------


async def test_a_user_who_blocked_the_bot_gets_no_send_attempt_and_start_works_after_unblocking(
    world: World,
) -> None:
    user = 901
    await world.say(user, "/subscribe mllm")
    await world.ingest()
    world.telegram.change_bot_membership(user, "kicked")
    await world.eventually(lambda: world.inactive(user))

    sends = len(world.telegram.calls("sendMessage"))
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    assert len(world.telegram.calls("sendMessage")) == sends, "a send was attempted"

    world.telegram.change_bot_membership(user, "member")
    await world.eventually(lambda: world.active(user))
    reply = await world.say(user, "/start")
    assert "Привет" in reply.plain and "#mllm" in reply.plain
    chat = await world.chat(user)
    assert chat is not None and chat.active


async def test_a_group_that_removed_the_bot_gets_no_digest(world: World) -> None:
    await world.say(GROUP, "/subscribe mllm", chat_type="supergroup", user_id=ADMIN)
    await world.ingest()
    world.telegram.change_bot_membership(GROUP, "left", chat_type="supergroup", user_id=ADMIN)
    await world.eventually(lambda: world.inactive(GROUP))
    sends = len(world.telegram.calls("sendMessage"))
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    assert len(world.telegram.calls("sendMessage")) == sends


async def test_added_to_a_group_the_bot_tells_admins_how_to_subscribe(world: World) -> None:
    group = -100777
    world.telegram.change_bot_membership(group, "member", chat_type="supergroup", user_id=ADMIN)
    [hello] = await world.telegram.wait_for_messages(group, 1)
    assert hello.plain.startswith("👋 Привет!")
    assert "администраторы" in hello.plain and "/subscribe mllm agents" in hello.plain
    assert "<code>" not in hello.plain
    chat = await world.chat(group)
    assert chat is not None and chat.type == "supergroup" and chat.active


async def test_added_to_a_channel_the_bot_writes_to_its_owner_privately_never_in_the_channel(
    world: World,
) -> None:
    mute, posting = -1009000000001, -1009000000002
    world.telegram.change_bot_membership(
        mute, "administrator", chat_type="channel", user_id=OWNER, can_post=False
    )
    world.telegram.change_bot_membership(
        posting, "administrator", chat_type="channel", user_id=OWNER, chat_title="ML Daily"
    )
    [hello] = await world.telegram.wait_for_messages(OWNER, 1)
    assert "Меня добавили в канал «ML Daily»" in hello.plain and "/channels" in hello.plain
    # The note comes after GREETING_DELAY: by then the mute channel's update was handled.
    assert not await world.active(mute)
    assert await world.active(posting)
    for channel in (mute, posting):
        assert world.telegram.messages_to(channel) == []
        sends = world.telegram.calls("sendMessage")
        assert [c for c in sends if c.params["chat_id"] == channel] == []


async def test_a_reply_refused_with_403_marks_the_chat_inactive_and_nothing_more_is_sent(
    world: World,
) -> None:
    user = 902
    await world.say(user, "/subscribe mllm")
    world.telegram.fail_next(
        "sendMessage",
        error_code=403,
        description="Forbidden: bot was blocked by the user",
        chat_id=user,
    )
    tries = len(world.telegram.calls("sendMessage"))
    world.telegram.send_text(user, "/mytags")
    await world.eventually(lambda: world.inactive(user))
    await asyncio.sleep(0.2)
    # Only the refused reply: no "something went wrong" follows it into a closed chat.
    assert len(world.telegram.calls("sendMessage")) == tries + 1


# --- a group becomes a supergroup ------------------------------------------------------------


@pytest.mark.parametrize("service_messages", [True, False], ids=["service-message", "send-error"])
async def test_a_group_that_became_a_supergroup_keeps_everything_and_gets_its_digest(
    world: World, service_messages: bool
) -> None:
    old, new = -4001, -1004001
    world.telegram.set_chat_member_status(old, ADMIN, "administrator")
    await world.say(old, "/subscribe mllm", chat_type="group", user_id=ADMIN)
    await world.say(old, "/timezone Asia/Vladivostok", chat_type="group", user_id=ADMIN)
    await world.say(old, "/time 16:00", chat_type="group", user_id=ADMIN)  # 06:00 UTC
    await world.ingest()

    world.telegram.migrate_to_supergroup(old, new, service_messages=service_messages)
    if service_messages:
        # Two service messages announce the move, one per id, handled concurrently: the new
        # id may be recorded before the move itself commits, so wait for the move.
        async def moved() -> bool:
            return await world.tags_of(new) == ["mllm"] and await world.chat(old) is None

        await world.eventually(moved)

    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    digest = world.telegram.messages_to(new)
    assert digest, "the supergroup got no digest"
    assert digest[0].plain.startswith("☀️ Дайджест на 19 декабря · #mllm")
    chat = await world.chat(new)
    assert chat is not None
    assert (chat.timezone, chat.digest_time) == ("Asia/Vladivostok", dt.time(16, 0))
    assert await world.tags_of(new) == ["mllm"]
    assert await world.chat(old) is None

    reply = await world.say(new, "/digest", chat_type="supergroup", user_id=ADMIN)
    assert "Новых статей по вашим темам пока нет" in reply.plain
    await asyncio.sleep(GREETING_DELAY.total_seconds() + 0.5)
    assert not any("Привет" in m.plain for m in world.telegram.messages_to(new))


async def test_a_group_that_had_todays_digest_keeps_its_history_as_a_supergroup(
    world: World,
) -> None:
    old, new = -4002, -1004002
    world.telegram.set_chat_member_status(old, ADMIN, "administrator")
    await world.say(old, "/subscribe mllm", chat_type="group", user_id=ADMIN)
    await world.ingest()
    count = len(world.telegram.messages_to(old))
    world.telegram.send_text(old, "/digest", chat_type="group", user_id=ADMIN)
    await world.telegram.wait_for_messages(old, count + 1)

    world.telegram.migrate_to_supergroup(old, new)
    await world.eventually(lambda: world.known(new))
    reply = await world.say(new, "/digest", chat_type="supergroup", user_id=ADMIN)
    assert "Новых статей по вашим темам пока нет" in reply.plain
    assert "завтра в 09:00" in reply.plain

    count = len(world.telegram.messages_to(new))
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    assert len(world.telegram.messages_to(new)) == count, "today's digest came twice"


# --- the next digest, told truly ----------------------------------------------------------------


async def test_after_todays_digest_a_later_time_today_means_tomorrow(world: World) -> None:
    user = 903
    await world.say(user, "/subscribe mllm")
    await world.ingest()
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    assert "Дайджест на 19 декабря" in world.telegram.messages_to(user)[-1].plain

    reply = await world.say(user, "/time 10:00")
    assert "завтра в 10:00" in reply.plain and "сегодня" not in reply.plain
    reply = await world.say(user, "/mytags")
    assert "завтра в 10:00" in reply.plain

    world.clock.now = dt.datetime(2024, 12, 19, 7, 0, 5, tzinfo=dt.UTC)  # 10:00 today
    count = len(world.telegram.messages_to(user))
    await tick(world.app)
    assert len(world.telegram.messages_to(user)) == count

    async with world.app.bot_data.services.sessionmaker() as session:
        chat = await chats.get_chat(session=session, chat_id=user)
    assert chat is not None and chat.next_digest_at == dt.datetime(2024, 12, 20, 7, tzinfo=dt.UTC)

    # Tomorrow brings a new paper, and at 10:00 it comes.
    world.sources.hf_days[DAY + dt.timedelta(days=1)] = hf_day(
        ["A Multimodal Large Language Model That Reads Tables"], first_id="2412.20001"
    )
    world.clock.now = dt.datetime(2024, 12, 20, 4, 0, tzinfo=dt.UTC)
    await world.app.bot_data.services.ingestor.run([DAY + dt.timedelta(days=1)], [Source.HF])
    world.clock.now = dt.datetime(2024, 12, 20, 6, 59, tzinfo=dt.UTC)  # 09:59: not yet
    await tick(world.app)
    assert len(world.telegram.messages_to(user)) == count
    world.clock.now = dt.datetime(2024, 12, 20, 7, 0, 5, tzinfo=dt.UTC)  # 10:00 tomorrow
    await tick(world.app)
    [digest] = world.telegram.messages_to(user)[count:]
    assert digest.plain.startswith("☀️ Дайджест на 20 декабря · #mllm · 1 статья")


# --- one busy chat never stalls the others ----------------------------------------------


async def test_a_chat_flooding_during_its_long_digest_does_not_delay_another_chats_reply(
    db_url: str,
) -> None:
    from tests.test_delivery_e2e import hostile_day

    busy, other = 904, 905
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = hostile_day(40)
        settings = make_settings(
            telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url, digest_max_papers=50
        )
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, clock, app, sources)
            await world.say(busy, "/subscribe mllm")
            await world.say(other, "/start")
            await world.ingest()
            telegram.send_text(busy, "/digest")
            await telegram.wait_until(lambda: _digest_parts(telegram, busy) >= 1)
            for _ in range(20):
                telegram.send_text(busy, "/mytags")
            reply = await world.say(other, "/mytags")
            parts_then = _digest_parts(telegram, busy)
            answered_then = _mytags_replies(telegram, busy)
            await telegram.wait_until(lambda: _mytags_replies(telegram, busy) == 20, timeout=60)
            parts_total = _digest_parts(telegram, busy)
    assert "Подписки —" not in reply.plain and "ни одной подписки" in reply.plain
    # The other chat was answered ahead of the busy chat's backlog, not after it: the busy
    # chat's digest was still going out, part after part, and most of its commands waited.
    assert parts_then < parts_total
    assert answered_then < 20


def _digest_parts(telegram: FakeTelegram, chat_id: int) -> int:
    return sum("Подписки —" not in m.plain for m in telegram.messages_to(chat_id)) - 1


def _mytags_replies(telegram: FakeTelegram, chat_id: int) -> int:
    return sum("Подписки —" in m.plain for m in telegram.messages_to(chat_id))
