"""A reader follows words and authors, mutes words and tags, and sees why each paper came.

Everything goes through the fake Bot API, the fake HF Daily Papers API and the fake LLM; the
day is the real fixture of 2024-12-19 with a watermarking paper, a Yann LeCun paper and a
multimodal video paper by Yann Dubois added (tests/fixtures/README.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import texts
from bot.app import DigestApp
from content.models import Source
from storage import papers
from storage.models import Paper
from tests.fake_llm import FakeLLM, RecordedRequest, default_answer, paper_title
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, MessageState, SentMessage
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURES = Path(__file__).parent / "fixtures"
DAY = dt.date(2024, 12, 19)
USER = 2001
GROUP = -100777
ADMIN, MEMBER = 81, 82
WATERMARK = "2412.09492"  # Video Seal: Open and Efficient Video Watermarking
METAMORPH = "2412.14164"  # by Yann LeCun
APOLLO = "2412.10360"  # by Yann Dubois, about video in multimodal models


class RussianLLM(FakeLLM):
    """The fake LLM, with a summary of the watermarking paper as an editor would write it."""

    def make_content(self, request: RecordedRequest) -> str:
        answer = default_answer(request.user_message)
        if "Watermarking" in paper_title(request.user_message):
            answer["title_ru"] = "Video Seal: открытые и быстрые водяные знаки для видео"
            answer["summary_ru"] = (
                "Video Seal встраивает в видео незаметные водяные знаки и находит их после "
                "сжатия кодеками; модель и код открыты."
            )
        return json.dumps(answer, ensure_ascii=False)


@dataclass
class World:
    telegram: FakeTelegram
    clock: Clock
    app: DigestApp

    async def say(self, text: str, chat_id: int = USER, **kwargs: object) -> SentMessage:
        """Write in the chat; the bot's next message there."""
        return await self.telegram.reply_to(chat_id, text, **kwargs)

    async def digest(self, chat_id: int = USER, **kwargs: object) -> list[SentMessage]:
        """Ask for /digest; the messages of the digest (one usually)."""
        return await self.telegram.replies_to(chat_id, "/digest", **kwargs)

    async def press(self, chat_id: int, message: SentMessage, data: str, user_id: int) -> str:
        """Press a button; the text of the bot's answer to the press."""
        answer = await self.telegram.answer_to_press(
            chat_id, message.message_id, data, user_id=user_id
        )
        return answer.text or ""

    async def paper(self, paper_id: str) -> Paper:
        async with self.app.bot_data.services.sessionmaker() as session:
            found = await session.get(Paper, paper_id)
        assert found is not None
        return found


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    day = json.loads((FIXTURES / "hf_daily_2024-12-19.json").read_text("utf-8"))
    day += json.loads((FIXTURES / "hf_daily_2024-12-19_follows.json").read_text("utf-8"))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, RussianLLM() as llm:
        sources.hf_days[DAY] = day
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        telegram.set_chat_member_status(GROUP, ADMIN, "administrator")
        telegram.set_chat_member_status(GROUP, MEMBER, "member")
        async with running_bot(settings, clock=clock) as app:
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            yield World(telegram, clock, app)


def blocks(messages: list[SentMessage]) -> list[str]:
    """The paper blocks of a digest's messages (the header and the more-line left out)."""
    found = []
    for message in messages:
        for block in message.plain.split("\n\n"):
            if block[:1].isdigit() and ". " in block.split("\n", 1)[0]:
                found.append(block)
    return found


def paper_ids(messages: list[SentMessage]) -> set[str]:
    """The arXiv ids of the papers a digest links to."""
    found = set()
    for message in messages:
        for entity in message.entities or []:
            url = entity.get("url", "")
            if "/papers/" in url:
                found.add(url.rsplit("/", 1)[-1])
    return found


def pin(block: str) -> str:
    [line] = [line for line in block.splitlines() if line.startswith("📌 ")]
    return line


def buttons(message: SentMessage | MessageState) -> list[tuple[str, str]]:
    return [
        (button["text"], button.get("callback_data", ""))
        for row in (message.reply_markup or {}).get("inline_keyboard", [])
        for button in row
    ]


# --- follows --------------------------------------------------------------------------------


async def test_following_a_word_without_tags_brings_the_watermarking_paper_and_says_why(
    world: World,
) -> None:
    reply = await world.say("/follow watermark")
    assert "Слежу за словами: «watermark»" in reply.plain
    assert "Первый дайджест придёт" in reply.plain

    digest = await world.digest()
    assert paper_ids(digest) == {WATERMARK}
    [block] = blocks(digest)
    assert "водяные знаки для видео" in block
    assert pin(block) == "📌 «watermark»"
    assert "«watermark»" in digest[0].plain.splitlines()[0]  # the header names the follow


async def test_a_russian_follow_finds_the_same_paper_through_its_russian_summary(
    world: World,
) -> None:
    await world.say("/follow водяные знаки")
    digest = await world.digest()
    assert paper_ids(digest) == {WATERMARK}
    [block] = blocks(digest)
    assert pin(block) == "📌 «водяные знаки»"


@pytest.mark.parametrize("name", ["LeCun", "Yann LeCun", "yann lecun", "Y. LeCun"])
async def test_an_author_brings_exactly_their_papers_never_a_namesake(
    world: World, name: str
) -> None:
    reply = await world.say(f"/author {name}")
    assert "Слежу за авторами" in reply.plain
    digest = await world.digest()
    assert paper_ids(digest) == {METAMORPH}  # Apollo's Yann Dubois shares only a first name
    [block] = blocks(digest)
    assert pin(block) == "📌 автор: Yann LeCun"


async def test_a_muted_word_keeps_out_every_paper_that_mentions_it(world: World) -> None:
    await world.say("/subscribe multimodal")
    reply = await world.say("/mute video")
    assert "Скрыто из дайджеста: «video»" in reply.plain
    digest = await world.digest()
    shown = paper_ids(digest)
    assert METAMORPH in shown and len(shown) >= 5
    assert APOLLO not in shown and WATERMARK not in shown
    for paper_id in shown:
        paper = await world.paper(paper_id)
        text = " ".join([paper.title, paper.abstract, paper.title_ru or "", paper.summary_ru or ""])
        assert "video" not in text.lower() and "видео" not in text.lower()
    for block in blocks(digest):
        assert pin(block) == "📌 #multimodal"


async def test_a_muted_tag_removes_every_paper_tagged_with_it(world: World) -> None:
    await world.say("/subscribe mllm llm benchmark")
    before = paper_ids(await world.digest())
    async with world.app.bot_data.services.sessionmaker() as session:
        tagged = await papers.tags_of(session=session, paper_ids=sorted(before))
    benchmark = {pid for pid, tags in tagged.items() if "benchmark" in tags}
    assert benchmark

    await world.say("/mute #benchmark")
    # /digest counts as the day's digest; tomorrow's would not repeat papers, so forget them.
    async with world.app.bot_data.services.sessionmaker() as session, session.begin():
        from sqlalchemy import delete

        from storage.models import Delivery, DigestRun

        await session.execute(delete(Delivery))
        await session.execute(delete(DigestRun))
    digest = await world.digest()
    assert paper_ids(digest) == before - benchmark
    for block in blocks(digest):
        assert "#benchmark" not in block
        assert pin(block).startswith("📌 #")


async def test_every_paper_of_a_mixed_digest_has_its_pin_line(world: World) -> None:
    await world.say("/subscribe agents")
    await world.say("/follow watermark, водяные знаки")
    await world.say("/author Yann LeCun")
    digest = await world.digest()
    found = blocks(digest)
    assert len(found) == len(paper_ids(digest)) >= 3
    pins = {pin(block) for block in found}
    assert "📌 «watermark», «водяные знаки»" in pins
    assert "📌 автор: Yann LeCun" in pins
    assert "📌 #agents" in pins


async def test_a_follows_only_chat_gets_its_scheduled_digest(world: World) -> None:
    await world.say("/follow watermark")
    before = len(world.telegram.messages_to(USER))
    world.clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)  # 09:00 in Moscow
    await tick(world.app)
    digest = world.telegram.messages_to(USER)[before:]
    assert paper_ids(digest) == {WATERMARK}
    assert pin(blocks(digest)[0]) == "📌 «watermark»"


async def test_a_follows_only_chat_that_changes_its_time_is_told_when_the_digest_comes(
    world: World,
) -> None:
    await world.say("/follow watermark")
    answer = await world.say("/time 10:30")
    assert "Подпишитесь" not in answer.plain
    assert "Следующий дайджест придёт сегодня в 10:30" in answer.plain
    await world.say("/pause")
    resumed = await world.say("/resume")
    assert "Подпишитесь" not in resumed.plain
    assert "10:30" in resumed.plain


# --- lists, buttons, limits and bad input ---------------------------------------------------


async def test_follow_alone_lists_follows_and_authors_with_buttons_that_remove_them(
    world: World,
) -> None:
    await world.say("/follow watermark\nmixture of experts")
    await world.say("/author Yann LeCun")
    listing = await world.say("/follow")
    stale = await world.say("/follow")
    assert "Слова: «watermark», «mixture of experts»" in listing.plain
    assert "Авторы: Yann LeCun" in listing.plain
    labels = dict(buttons(listing))
    assert set(labels) == {"✖️ «watermark»", "✖️ «mixture of experts»", "✖️ 👤 Yann LeCun"}
    assert all(len(data.encode()) <= 64 for data in labels.values())

    answer = await world.press(USER, listing, labels["✖️ «watermark»"], USER)
    assert answer == "Убрано: watermark"
    await world.telegram.wait_until(
        lambda: "watermark»" not in world.telegram.message(USER, listing.message_id).plain
    )
    assert len(buttons(world.telegram.message(USER, listing.message_id))) == 2
    # The same button under an older list: politely nothing, and the list is brought up to date.
    answer = await world.press(USER, stale, labels["✖️ «watermark»"], USER)
    assert answer == texts.FOLLOW_BUTTON_EXPIRED
    await world.telegram.wait_until(
        lambda: len(buttons(world.telegram.message(USER, stale.message_id))) == 2
    )

    reply = await world.say("/unfollow Mixture of Experts, LeCun")
    assert "Больше не слежу: «mixture of experts», «Yann LeCun»" in reply.plain
    assert texts.NOTHING_FOLLOWED.split("\n")[0] in (await world.say("/follow")).plain


async def test_mute_alone_lists_mutes_and_unmute_removes_them(world: World) -> None:
    await world.say("/mute video, #benchmark")
    listing = await world.say("/mute")
    assert "Слова: «video»" in listing.plain and "Теги: #benchmark" in listing.plain
    labels = dict(buttons(listing))
    assert set(labels) == {"✖️ «video»", "✖️ #benchmark"}
    assert "Больше не скрыто: «#benchmark»" in (await world.say("/unmute #benchmark")).plain
    assert "среди скрытых нет" in (await world.say("/unmute #benchmark")).plain
    mytags = await world.say("/mytags")
    assert "Скрыто: video" in mytags.plain


async def test_mytags_shows_follows_authors_and_mutes(world: World) -> None:
    await world.say("/follow watermark")
    await world.say("/author LeCun")
    await world.say("/mute video")
    reply = (await world.say("/mytags")).plain
    assert "Слова: «watermark»" in reply
    assert "Авторы: LeCun" in reply
    assert "Скрыто: video" in reply
    assert "Следующий дайджест придёт" in reply


async def test_limits_and_bad_input_get_clear_russian_answers(world: World) -> None:
    many = ", ".join(f"topic{n}" for n in range(51))
    reply = (await world.say(f"/follow {many}")).plain
    assert "Не добавлено: «topic50» — в одном чате не больше 50 слов и авторов" in reply
    assert "Уже в списке: «Topic1»" in (await world.say("/follow Topic1")).plain
    assert "Слишком длинно" in (await world.say("/mute " + "x" * 101)).plain
    assert "нет слов, по которым можно искать" in (await world.say("/follow для !!!")).plain
    assert "Может быть, #benchmark?" in (await world.say("/mute #benchmrk")).plain
    assert "/subscribe mllm" in (await world.say("/follow #mllm")).plain
    assert "в вашем списке нет" in (await world.say("/unfollow nothing")).plain
    assert "Не понял имя" in (await world.say("/author Y.")).plain
    assert "«&lt;b&gt;bold&lt;/b&gt;»" in (await world.say("/follow <b>bold</b>")).text


async def test_in_a_group_only_admins_follow_and_press_the_buttons(world: World) -> None:
    kwargs: dict[str, object] = {"chat_type": "supergroup"}
    reply = await world.say("/follow watermark", GROUP, user_id=MEMBER, **kwargs)
    assert "только его администраторы" in reply.plain
    reply = await world.say("/follow watermark", GROUP, user_id=ADMIN, **kwargs)
    assert "Слежу за словами" in reply.plain
    listing = await world.say("/follow", GROUP, user_id=MEMBER, **kwargs)
    [(_, data)] = buttons(listing)
    assert await world.press(GROUP, listing, data, MEMBER) == texts.FOLLOW_ADMINS_ONLY_SHORT
    assert "«watermark»" in (await world.say("/follow", GROUP, user_id=MEMBER, **kwargs)).plain
