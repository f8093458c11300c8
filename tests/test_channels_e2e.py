"""A channel's owner sets it up from a private chat (/channels), through the fake Bot API.

Nothing but digests reaches the channel; the owner's own settings stay their own; every
command and button asks Telegram again whether the owner still runs the channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import keyboards, texts
from bot.app import DigestApp
from content.models import Source
from storage import admins, subscriptions
from storage.models import Chat
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
NINE_IN_MOSCOW = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)

CHANNEL = -1001234567890
GROUP = -100500
OWNER, ADMIN, READER = 71, 72, 73
HEADER = "⚙️ Канал «ML Daily»:"


@dataclass
class World:
    telegram: FakeTelegram
    clock: Clock
    app: DigestApp

    async def tags_of(self, chat_id: int) -> list[str]:
        async with self.app.bot_data.services.sessionmaker() as session:
            return await subscriptions.list_tags(session=session, chat_id=chat_id)

    async def say(self, chat_id: int, text: str) -> SentMessage:
        """Write in one's private chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text)

    async def press(
        self, chat_id: int, message: SentMessage, data: str, *, check_button: bool = True
    ) -> str:
        """Press a button in one's private chat; the text of the bot's answer to the press."""
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=chat_id, check_button=check_button
        )
        return answer.text or ""

    async def choose(self, chat_id: int, label: str) -> str:
        """Open /channels and press the button with this label; the answer to the press."""
        listing = await self.say(chat_id, "/channels")
        return await self.press(chat_id, listing, button(listing, label))

    def sent_to_channel(self) -> list[str]:
        return [
            str(c.params.get("text"))
            for c in self.telegram.calls("sendMessage")
            if str(c.params.get("chat_id")) == str(CHANNEL)
        ]


def labels(message: SentMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def button(message: SentMessage, label: str) -> str:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    for row in rows:
        for b in row:
            if b["text"] == label:
                return str(b["callback_data"])
    raise AssertionError(f"no button {label!r} in {labels(message)}")


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url)
        telegram.set_chat_member_status(CHANNEL, OWNER, "creator")
        telegram.set_chat_member_status(CHANNEL, READER, "member")
        telegram.set_chat_member_status(GROUP, ADMIN, "administrator")
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, clock, app)
            await world.say(OWNER, "/start")
            telegram.change_bot_membership(
                CHANNEL, "administrator", chat_type="channel", user_id=OWNER, chat_title="ML Daily"
            )
            # The owner is told privately how to set the channel up.
            await telegram.wait_for_messages(OWNER, 2)
            yield world


async def test_an_owner_runs_the_channel_from_a_private_chat_and_it_gets_only_its_digest(
    world: World,
) -> None:
    await world.say(OWNER, "/subscribe moe")

    listing = await world.say(OWNER, "/channels")
    assert labels(listing) == ["📢 ML Daily"]
    assert await world.press(OWNER, listing, button(listing, "📢 ML Daily")) == ""
    await world.telegram.wait_until(
        lambda: (
            "относятся к каналу «ML Daily»"
            in world.telegram.message(OWNER, listing.message_id).plain
        )
    )

    reply = await world.say(OWNER, "/subscribe mllm")
    assert reply.plain.startswith(HEADER)
    assert "#mllm" in reply.plain
    assert await world.tags_of(CHANNEL) == ["mllm"]
    assert await world.tags_of(OWNER) == ["moe"]

    shown = await world.say(OWNER, "/mytags")
    assert shown.plain.startswith(HEADER) and "#mllm" in shown.plain and "#moe" not in shown.plain
    timed = await world.say(OWNER, "/time 09:00")
    assert timed.plain.startswith(HEADER)

    # Set up entirely from the private chat: the channel has been sent nothing so far.
    assert world.sent_to_channel() == []
    await world.app.bot_data.services.ingestor.run([DAY], [Source.HF])
    world.clock.now = NINE_IN_MOSCOW
    await tick(world.app)
    digest = world.sent_to_channel()
    assert digest, "the channel got no digest"
    assert all("#mllm" in text for text in digest[:1])
    assert len(world.telegram.messages_to(CHANNEL)) == len(digest)


async def test_switching_back_makes_commands_apply_to_the_private_chat_again(
    world: World,
) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    await world.say(OWNER, "/subscribe mllm")

    listing = await world.say(OWNER, "/channels")
    assert "Сейчас вы управляете: каналом «ML Daily»" in listing.plain
    answer = await world.press(OWNER, listing, button(listing, texts.CHANNELS_BACK_BUTTON))
    assert answer == texts.MANAGING_STOPPED_SHORT

    reply = await world.say(OWNER, "/subscribe agents")
    assert not reply.plain.startswith("⚙️")
    assert await world.tags_of(OWNER) == ["agents"]
    assert await world.tags_of(CHANNEL) == ["mllm"]


async def test_a_reader_of_the_channel_does_not_see_it_in_channels(world: World) -> None:
    await world.say(READER, "/start")
    listing = await world.say(READER, "/channels")
    assert listing.plain == texts.CHANNELS_NONE
    assert labels(listing) == []


async def test_a_forged_channel_button_changes_nothing(world: World) -> None:
    listing = await world.say(READER, "/channels")
    forged = keyboards.encode_channel(CHANNEL)
    answer = await world.press(READER, listing, forged, check_button=False)
    assert answer == texts.CHANNEL_NOT_YOURS

    reply = await world.say(READER, "/subscribe mllm")
    assert not reply.plain.startswith("⚙️")
    assert await world.tags_of(READER) == ["mllm"]
    assert await world.tags_of(CHANNEL) == []
    assert world.sent_to_channel() == []


async def test_an_owner_no_longer_admin_is_told_and_the_command_changes_nothing(
    world: World,
) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    world.telegram.set_chat_member_status(CHANNEL, OWNER, "member")
    world.app.bot_data.admins.clear()

    reply = await world.say(OWNER, "/subscribe mllm")
    assert "Управление каналом «ML Daily» прекращено" in reply.plain
    assert await world.tags_of(CHANNEL) == []
    assert await world.tags_of(OWNER) == []
    async with world.app.bot_data.services.sessionmaker() as session:
        assert await admins.managed_chat(session=session, user_id=OWNER) is None

    # The next command is the private chat's own again.
    again = await world.say(OWNER, "/subscribe mllm")
    assert not again.plain.startswith("⚙️")
    assert await world.tags_of(OWNER) == ["mllm"]


async def test_the_settings_buttons_apply_to_the_channel_being_run(world: World) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    overview = await world.say(OWNER, "/tags")
    assert overview.plain.startswith(HEADER)
    data = next(
        b["callback_data"]
        for row in (overview.reply_markup or {})["inline_keyboard"]
        for b in row
        if b["text"].endswith("#agents")
    )
    await world.press(OWNER, overview, str(data))
    assert await world.tags_of(CHANNEL) == ["agents"]
    assert await world.tags_of(OWNER) == []
    await world.telegram.wait_until(
        lambda: "✅ #agents" in str(world.telegram.message(OWNER, overview.message_id).reply_markup)
    )
    assert world.telegram.message(OWNER, overview.message_id).plain.startswith(HEADER)


async def test_weekly_chosen_from_the_private_chat_sets_the_channels_rhythm(world: World) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    weekly = await world.say(OWNER, "/weekly пятница")
    assert weekly.plain.startswith(HEADER) and "пятниц" in weekly.plain
    async with world.app.bot_data.services.sessionmaker() as session:
        channel = await session.get(Chat, CHANNEL)
        own = await session.get(Chat, OWNER)
    assert channel is not None and channel.digest_weekday == 4
    assert own is None or own.digest_weekday is None

    daily = await world.say(OWNER, "/daily")
    assert daily.plain.startswith(HEADER)
    async with world.app.bot_data.services.sessionmaker() as session:
        channel = await session.get(Chat, CHANNEL)
    assert channel is not None and channel.digest_weekday is None
    assert world.sent_to_channel() == []


async def test_digest_run_from_the_private_chat_is_published_in_the_channel(world: World) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    await world.say(OWNER, "/subscribe mllm")
    await world.app.bot_data.services.ingestor.run([DAY], [Source.HF])

    before = len(world.telegram.messages_to(OWNER))
    world.telegram.send_text(OWNER, "/digest")
    [done] = (await world.telegram.wait_for_messages(OWNER, before + 1))[before:]
    assert done.plain == f"{HEADER}\n{texts.DIGEST_PUBLISHED}"
    digest = world.sent_to_channel()
    assert digest and "Дайджест на 19 декабря" in digest[0] and "#mllm" in digest[0]


async def test_a_channel_that_removed_the_bot_can_no_longer_be_run(world: World) -> None:
    await world.choose(OWNER, "📢 ML Daily")
    # Removed, and the my_chat_member update not here yet: getChatMember already tells.
    world.telegram.set_chat_member_status(CHANNEL, world.telegram.bot_id, "left")

    reply = await world.say(OWNER, "/time 10:00")
    assert "Управление каналом «ML Daily» прекращено" in reply.plain
    listing = await world.say(OWNER, "/channels")
    assert listing.plain == texts.CHANNELS_NONE


async def test_a_group_admin_seen_at_work_there_can_run_it_from_a_private_chat(
    world: World,
) -> None:
    world.telegram.send_text(
        GROUP, "/subscribe agents", chat_type="supergroup", user_id=ADMIN, chat_title="Клуб"
    )
    await world.telegram.wait_for_messages(GROUP, 1)

    assert await world.choose(ADMIN, "👥 Клуб") == ""
    reply = await world.say(ADMIN, "/subscribe mllm")
    assert reply.plain.startswith("⚙️ Группа «Клуб»:")
    assert await world.tags_of(GROUP) == ["agents", "mllm"]


async def test_the_chat_being_run_is_kept_across_a_restart(db_url: str) -> None:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram:
        telegram.set_chat_member_status(CHANNEL, OWNER, "creator")
        settings = make_settings(telegram, db_url)
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, clock, app)
            await world.say(OWNER, "/start")
            telegram.change_bot_membership(
                CHANNEL, "administrator", chat_type="channel", user_id=OWNER, chat_title="ML Daily"
            )
            await telegram.wait_for_messages(OWNER, 2)  # the note about /channels
            await world.choose(OWNER, "📢 ML Daily")
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, clock, app)
            reply = await world.say(OWNER, "/subscribe mllm")
            assert reply.plain.startswith(HEADER)
            assert await world.tags_of(CHANNEL) == ["mllm"]
