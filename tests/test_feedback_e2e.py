"""👍 and 👎 under digest messages, through the fake Bot API: what a reader taps and sees.

Every digest message carries a row of numbers, one per paper; a number opens that paper's
👍, 👎, «Похожие» and ◀ in the same keyboard. Two taps from the digest to a vote.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot import texts
from bot.app import DigestApp
from bot.delivery import Deliverer
from content.matching import Profile
from content.models import Source
from content.relevance import Vote
from storage import digests, feedback
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
READER = 901
GROUP = -100500
CHANNEL = -1001234567890
ADMIN, MEMBER = 72, 73


@dataclass
class World:
    telegram: FakeTelegram
    app: DigestApp

    async def say(self, chat_id: int, text: str, **kwargs: object) -> SentMessage:
        return await self.telegram.reply_to(chat_id, text, **kwargs)

    async def digest(self, chat_id: int, **kwargs: object) -> list[SentMessage]:
        """Subscribe to #mllm and ask for the digest; its messages."""
        await self.say(chat_id, "/subscribe mllm", **kwargs)
        before = len(self.telegram.messages_to(chat_id))
        self.telegram.send_text(chat_id, "/digest", **kwargs)  # type: ignore[arg-type]
        await self.telegram.wait_for_messages(chat_id, before + 1)
        await asyncio.sleep(0.2)  # the rest of a digest of several messages
        return [m for m in self.telegram.messages_to(chat_id)[before:] if "Дайджест" in m.plain]

    def keyboard(self, chat_id: int, message: SentMessage) -> list[list[str]]:
        """The button labels under the message now."""
        markup = self.telegram.message(chat_id, message.message_id).reply_markup or {}
        return [[button["text"] for button in row] for row in markup["inline_keyboard"]]

    def data(self, chat_id: int, message: SentMessage, label: str) -> str:
        markup = self.telegram.message(chat_id, message.message_id).reply_markup or {}
        for row in markup["inline_keyboard"]:
            for button in row:
                if button["text"] == label:
                    return str(button["callback_data"])
        raise AssertionError(f"no button {label!r} in {self.keyboard(chat_id, message)}")

    async def tap(
        self,
        chat_id: int,
        message: SentMessage,
        label: str = "",
        *,
        data: str | None = None,
        user_id: int | None = None,
        edit: bool = True,
    ) -> tuple[str, bool]:
        """Tap a button (by its label, or forged data); the answer's text and whether an alert.

        Waits for the keyboard's edit when the tap should ``edit`` it and is not refused.
        """
        state = self.telegram.message(chat_id, message.message_id)
        edits = state.edits
        answer = await self.telegram.answer_to_press(
            chat_id,
            message.message_id,
            data if data is not None else self.data(chat_id, message, label),
            user_id=user_id,
            check_button=data is None,
        )
        if edit and not answer.show_alert:
            await self.telegram.wait_until(lambda: state.edits > edits, timeout=1)
        return answer.text or "", answer.show_alert

    async def votes(self, chat_id: int) -> list[Vote]:
        async with self.app.bot_data.services.sessionmaker() as session:
            found = await feedback.votes_of_chats(session=session, chat_ids=[chat_id])
        return found.get(chat_id, [])


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        for chat_id in (CHANNEL, GROUP):
            telegram.set_chat_member_status(chat_id, ADMIN, "administrator")
            telegram.set_chat_member_status(chat_id, MEMBER, "member")
        async with running_bot(settings, clock=clock) as app:
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            yield World(telegram, app)


def numbers_in(message: SentMessage) -> list[str]:
    return re.findall(r"^(\d+)\. ", message.plain, re.M)


def paper_id(data: str) -> str:
    return data.split(":")[3]


# --- a reader in a private chat ------------------------------------------------------------------


async def test_every_digest_message_has_one_number_button_per_paper(world: World) -> None:
    [digest] = await world.digest(READER)

    keyboard = world.keyboard(READER, digest)
    assert [label for row in keyboard for label in row] == numbers_in(digest)
    assert all(len(row) <= 8 for row in keyboard)
    assert len(numbers_in(digest)) > 1


async def test_a_thumbs_up_takes_two_taps_and_is_answered(world: World) -> None:
    [digest] = await world.digest(READER)
    second = world.data(READER, digest, "2")

    assert await world.tap(READER, digest, "2") == ("", False)
    assert world.keyboard(READER, digest)[-1] == ["👍", "👎", "Похожие", "◀"]
    assert "· 2 ·" in world.keyboard(READER, digest)[0]

    assert await world.tap(READER, digest, "👍") == (texts.VOTE_LIKED, False)

    assert world.keyboard(READER, digest)[-1] == ["✅ 👍", "👎", "Похожие", "◀"]
    assert await world.votes(READER) == [Vote(paper_id(second), 1, 1)]


async def test_a_reader_changes_a_vote_withdraws_it_and_goes_back_to_the_numbers(
    world: World,
) -> None:
    [digest] = await world.digest(READER)
    first = world.data(READER, digest, "1")
    await world.tap(READER, digest, "1")
    await world.tap(READER, digest, "👍")

    assert await world.tap(READER, digest, "👎") == (texts.VOTE_DISLIKED, False)
    assert world.keyboard(READER, digest)[-1] == ["👍", "✅ 👎", "Похожие", "◀"]
    assert await world.votes(READER) == [Vote(paper_id(first), -1, 1)]

    await world.tap(READER, digest, "◀")
    labels = [label for row in world.keyboard(READER, digest) for label in row]
    assert labels[0] == "1 👎"  # the numbers remember the vote
    assert "👍" not in labels and "◀" not in labels

    await world.tap(READER, digest, "1 👎")
    assert await world.tap(READER, digest, "✅ 👎") == (texts.VOTE_WITHDRAWN, False)
    assert await world.votes(READER) == []


async def test_a_reader_who_never_rates_sees_only_numbers(world: World) -> None:
    [digest] = await world.digest(READER)

    labels = [label for row in world.keyboard(READER, digest) for label in row]
    assert labels == [str(n) for n in range(1, len(labels) + 1)]


async def test_forged_or_stale_buttons_are_answered_politely_and_change_nothing(
    world: World,
) -> None:
    [digest] = await world.digest(READER)
    before = world.keyboard(READER, digest)
    forged = [
        "fb:+:1:2401.99999",  # a paper this message does not carry
        "fb:+:1",
        "fb:?:1:2412.13871",
        "fb:x:extra",
        "fb:-:1:" + "x" * 40,
    ]
    for data in forged:
        assert await world.tap(READER, digest, data=data) == (texts.FEEDBACK_EXPIRED, True)

    assert world.keyboard(READER, digest) == before
    assert await world.votes(READER) == []


async def test_similar_without_vectors_is_a_polite_answer(world: World) -> None:
    [digest] = await world.digest(READER)
    await world.tap(READER, digest, "1")
    before = len(world.telegram.messages_to(READER))

    await world.tap(READER, digest, "Похожие", edit=False)

    [reply] = (await world.telegram.wait_for_messages(READER, before + 1))[before:]
    assert reply.plain == texts.SIMILAR_UNAVAILABLE


# --- suggestions -----------------------------------------------------------------------------


async def test_a_thumbs_down_on_a_suggestion_is_stored_with_weight_two(world: World) -> None:
    await world.say(READER, "/subscribe mllm")
    services = world.app.bot_data.services
    async with services.sessionmaker() as session:
        since = await digests.default_since(session=session)
        assert since is not None
        composed = await digests.compose(
            session=session,
            chats=[(READER, Profile(tags=frozenset({"mllm"})))],
            max_papers=10,
            since=since,
        )
    papers = composed[READER].papers
    # The last two papers come as suggestions, as composing will send them.
    digest = replace(composed[READER], papers=papers[:-2], suggestions=papers[-2:])
    await Deliverer(services, world.app.bot).send(READER, ["mllm"], digest, DAY)
    [message] = world.telegram.messages_to(READER)[-1:]
    assert "Может быть интересно" in message.plain
    last = numbers_in(message)[-1]
    assert paper_id(world.data(READER, message, last)) == papers[-1].id

    await world.tap(READER, message, last)
    await world.tap(READER, message, "👎")

    assert await world.votes(READER) == [Vote(papers[-1].id, -1, 2)]


# --- groups and channels -----------------------------------------------------------------------


async def test_in_a_group_only_admins_rate(world: World) -> None:
    [digest] = await world.digest(GROUP, chat_type="supergroup", user_id=ADMIN)
    before = world.keyboard(GROUP, digest)

    answer = await world.tap(GROUP, digest, "1", user_id=MEMBER)

    assert answer == (texts.FEEDBACK_ADMINS_ONLY_SHORT, True)
    assert world.keyboard(GROUP, digest) == before
    await world.tap(GROUP, digest, "1", user_id=ADMIN)
    assert await world.tap(GROUP, digest, "👍", user_id=ADMIN) == (texts.VOTE_LIKED, False)
    assert len(await world.votes(GROUP)) == 1


async def test_a_channel_readers_press_changes_nothing(world: World) -> None:
    [digest] = await world.digest(CHANNEL, chat_type="channel")
    await world.tap(CHANNEL, digest, "1", user_id=ADMIN)
    before = world.keyboard(CHANNEL, digest)

    answer = await world.tap(CHANNEL, digest, "👍", user_id=MEMBER)

    assert answer == (texts.FEEDBACK_ADMINS_ONLY_SHORT, True)
    assert world.keyboard(CHANNEL, digest) == before
    assert await world.votes(CHANNEL) == []


async def test_the_buttons_work_after_a_restart(db_url: str) -> None:
    # Nothing about a keyboard lives in the process: a new one (or another replica) answers.
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        async with running_bot(settings, clock=clock) as app:
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            world = World(telegram, app)
            [digest] = await world.digest(READER)
            await world.tap(READER, digest, "3")
        async with running_bot(settings, clock=clock) as app:
            world = World(telegram, app)
            third = world.data(READER, digest, "· 3 ·")

            assert await world.tap(READER, digest, "👎") == (texts.VOTE_DISLIKED, False)

            assert await world.votes(READER) == [Vote(paper_id(third), -1, 1)]
