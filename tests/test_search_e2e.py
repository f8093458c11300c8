"""A reader searches papers with /search and inline mode, through the real bot and fake Telegram."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DigestApp
from bot.handlers.search import INLINE_PAGE_SIZE
from storage.chats import get_chat
from storage.db import create_engine, create_sessionmaker
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, make_settings, running_bot
from tests.search_fixture import AWAKER, MPO, load_search_papers, seed_search_papers
from tests.test_search import HOSTILE_QUERIES

USER = 1001
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
TITLES = {p["id"]: p["title_ru"] for p in load_search_papers()}
# What Telegram can deliver: a lone surrogate is no valid UTF-8, so no update carries one.
DELIVERABLE = [q for q in HOSTILE_QUERIES if q.encode("utf-8", "replace").decode() == q]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def catalogue_url(db_url: str) -> str:
    engine = create_engine(db_url)
    sessions: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
    try:
        await seed_search_papers(sessions)
    finally:
        await engine.dispose()
    return db_url


@pytest.fixture
async def bot(fake: FakeTelegram, catalogue_url: str) -> AsyncIterator[DigestApp]:
    async with running_bot(make_settings(fake, catalogue_url)) as app:
        yield app


async def ask(fake: FakeTelegram, text: str, chat_id: int = USER) -> SentMessage:
    before = len(fake.messages_to(chat_id))
    fake.send_text(chat_id, text)
    return (await fake.wait_for_messages(chat_id, before + 1))[before]


def buttons(markup: dict[str, Any] | None) -> dict[str, str]:
    return {
        button["text"]: button["callback_data"]
        for row in (markup or {}).get("inline_keyboard", [])
        for button in row
    }


def shown_titles(plain: str) -> list[str]:
    """Titles of the numbered cards in a page, in order."""
    return [m.group(1) for m in re.finditer(r"^\d+\. (.+)$", plain, re.MULTILINE)]


# --- /search --------------------------------------------------------------------------------


async def test_search_answers_with_five_compact_cards_best_first(fake, bot):
    reply = await ask(fake, "/search смесь экспертов")
    titles = shown_titles(reply.plain)
    assert len(titles) == 5
    assert TITLES[AWAKER] in titles[:3]
    assert reply.plain.startswith("🔎 смесь экспертов · 1–5")
    # A card: the Russian title linking to the paper, one line of summary, code, tags.
    assert '<a href="https://arxiv.org/abs/2411.10669">' in reply.text
    # Like any command, the first /search registers the chat.
    async with bot.bot_data.services.sessionmaker() as session:
        assert await get_chat(session=session, chat_id=USER) is not None
    assert "💻 MetabrainAGI/Awaker" in reply.plain
    assert "#moe" in reply.plain
    assert reply.link_preview_options == {"is_disabled": True}
    assert set(buttons(reply.reply_markup)) == {"Дальше ▶"}


async def test_english_query_and_model_names_find_their_papers(fake, bot):
    titles = shown_titles((await ask(fake, "/search mixture of experts")).plain)
    assert TITLES[AWAKER] in titles[:3]
    titles = shown_titles((await ask(fake, "/search InternVL2-8B")).plain)
    assert titles[0] == TITLES[MPO]


async def test_buttons_page_forward_and_back_by_editing_the_message(fake, bot):
    reply = await ask(fake, "/search языковые модели")
    first_page = shown_titles(reply.plain)
    fake.press_button(USER, reply.message_id, buttons(reply.reply_markup)["Дальше ▶"])
    await fake.wait_until(lambda: "6–10" in fake.message(USER, reply.message_id).plain)
    second = fake.message(USER, reply.message_id)
    assert not set(shown_titles(second.plain)) & set(first_page)
    assert shown_titles(second.plain) and second.plain.count("\n6. ") == 1
    assert set(buttons(second.reply_markup)) == {"◀ Назад", "Дальше ▶"}

    fake.press_button(USER, reply.message_id, buttons(second.reply_markup)["◀ Назад"])
    await fake.wait_until(lambda: "1–5" in fake.message(USER, reply.message_id).plain)
    assert shown_titles(fake.message(USER, reply.message_id).plain) == first_page
    assert len(fake.messages_to(USER)) == 1  # edits, not new messages
    assert all(answer.text is None for answer in fake.callback_answers)


async def test_paging_survives_a_restart(fake, catalogue_url):
    settings = make_settings(fake, catalogue_url)
    async with running_bot(settings):
        reply = await ask(fake, "/search обучение с подкреплением")
    # Another process (a restart, or another replica) gets the button press.
    async with running_bot(settings):
        fake.press_button(USER, reply.message_id, buttons(reply.reply_markup)["Дальше ▶"])
        await fake.wait_until(lambda: "6–" in fake.message(USER, reply.message_id).plain)


async def test_a_forged_or_forgotten_button_asks_for_a_new_search(fake, bot):
    reply = await ask(fake, "/search языковые модели")
    for data in ("sr:0123456789ab:1", "sr:../../:1", "sr:abc:99999", "sr::"):
        before = len(fake.callback_answers)
        fake.press_button(USER, reply.message_id, data, check_button=False)
        await fake.wait_until(lambda before=before: len(fake.callback_answers) > before)
        assert "устарел" in (fake.callback_answers[-1].text or "")
    assert fake.message(USER, reply.message_id).edits == 0


async def test_an_empty_query_gets_usage_with_examples(fake, bot):
    reply = await ask(fake, "/search")
    assert "Поиск по статьям" in reply.plain
    assert "/search смесь экспертов" in reply.plain
    assert "/search #mllm галлюцинации" in reply.plain
    assert f"@{bot.bot.username} запрос" in reply.plain


async def test_nothing_found_suggests_what_to_try(fake, bot):
    reply = await ask(fake, "/search зюзюкабра")
    assert "ничего не нашлось" in reply.plain
    assert "/search #moe" in reply.plain and "/tags" in reply.plain
    assert reply.reply_markup is None


async def test_no_paper_with_every_word_says_so_and_shows_the_closest(fake, bot):
    reply = await ask(fake, "/search Awaker2.5-VL кухонные роботы-повара")
    assert "Статей со всеми словами запроса нет" in reply.plain
    assert shown_titles(reply.plain)


async def test_a_hashtag_filters_the_results(fake, bot):
    reply = await ask(fake, "/search #moe")
    assert TITLES[AWAKER] in shown_titles(reply.plain)
    cards = reply.plain.split("\n\n")[1:]
    assert cards and all("#moe" in card for card in cards)


async def test_help_and_the_command_menu_list_search(fake, bot):
    assert "/search" in (await ask(fake, "/help")).plain
    for scope in fake.commands.values():
        assert "search" in [command["command"] for command in scope]


@pytest.mark.parametrize("chunk", range(3))
async def test_hostile_queries_get_a_normal_answer(fake, bot, caplog, chunk):
    assert len(DELIVERABLE) >= 50
    caplog.set_level(logging.WARNING)
    queries = DELIVERABLE[chunk::3]
    for raw in queries:
        reply = await ask(fake, f"/search {raw}")
        assert CYRILLIC.search(reply.plain), raw
        assert "Что-то пошло не так" not in reply.plain, raw
        assert len(reply.plain) <= 4096
        for data in buttons(reply.reply_markup).values():
            assert len(data.encode()) <= 64
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []


# --- inline mode ----------------------------------------------------------------------------


async def inline(fake: FakeTelegram, query: str, offset: str = ""):
    before = len(fake.inline_answers)
    fake.inline_query(USER, query, offset)
    await fake.wait_until(lambda: len(fake.inline_answers) > before)
    return fake.inline_answers[-1]


async def test_inline_search_offers_paper_cards(fake, bot):
    answer = await inline(fake, "смесь экспертов")
    assert 0 < len(answer.results) <= 50
    ids = [result["id"] for result in answer.results]
    assert AWAKER in ids[:3]
    assert all(len(pid.encode()) <= 64 for pid in ids)
    assert 60 <= (answer.cache_time or 0) <= 300
    awaker = answer.results[ids.index(AWAKER)]
    assert awaker["type"] == "article"
    assert awaker["title"] == TITLES[AWAKER]
    content = awaker["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["link_preview_options"] == {"is_disabled": True}
    assert "MetabrainAGI/Awaker" in content["message_text"]


async def test_choosing_an_inline_result_sends_its_card(fake, bot):
    await inline(fake, "InternVL2-8B")
    fake.choose_inline_result(USER, MPO, "InternVL2-8B", inline_message_id="im-1")
    card = fake.inline_message("im-1")
    assert card.plain.startswith(TITLES[MPO])
    assert any(entity["type"] == "text_link" for entity in card.entities)


async def test_an_empty_inline_query_shows_the_latest_papers_and_pages(fake, bot):
    answer = await inline(fake, "")
    assert len(answer.results) == INLINE_PAGE_SIZE
    newest = max(load_search_papers(), key=lambda p: p["listed_on"])
    assert answer.results[0]["id"] == newest["id"]
    assert answer.next_offset == str(INLINE_PAGE_SIZE)
    second = await inline(fake, "", answer.next_offset)
    assert not {r["id"] for r in second.results} & {r["id"] for r in answer.results}


async def test_hostile_inline_queries_get_valid_answers(fake, bot, caplog):
    caplog.set_level(logging.WARNING)
    for raw in [*DELIVERABLE[::4], "x"]:
        await inline(fake, raw[:256], offset="-1' OR 1=1")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
