"""A user manages tag subscriptions by talking to the real bot through the fake Telegram."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.app import DigestApp
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, make_settings, running_bot

USER = 1001
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, db_url: str) -> AsyncIterator[DigestApp]:
    async with running_bot(make_settings(fake, db_url)) as app:
        yield app


async def say(fake: FakeTelegram, text: str, chat_id: int = USER, **kwargs) -> str:
    """Send a message as the user and return the plain text of the bot's next reply."""
    before = len(fake.messages_to(chat_id))
    fake.send_text(chat_id, text, **kwargs)
    replies = await fake.wait_for_messages(chat_id, before + 1)
    return replies[before].plain


def buttons(message) -> list[tuple[str, str]]:
    markup = message.reply_markup or {}
    return [
        (button["text"], button.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]


async def test_start_greets_in_russian_with_popular_tag_buttons(fake, bot):
    reply = await say(fake, "/start")
    assert "Привет" in reply
    assert "09:00 (Europe/Moscow, UTC+3)" in reply
    labels = [text for text, _ in buttons(fake.messages_to(USER)[-1])]
    assert "#mllm" in labels and len(labels) >= 6


async def test_commands_menu_is_set_for_russian_and_default(fake, bot):
    scopes = {key for key in fake.commands}
    assert any("ru" in str(key) for key in scopes)
    assert len(scopes) >= 2


async def test_a_user_subscribes_sees_mytags_and_unsubscribes(fake, bot):
    reply = await say(fake, "/subscribe mllm #MoE Benchmark")
    assert "Подписка оформлена: #mllm, #moe, #benchmark" in reply
    assert "Первый дайджест придёт" in reply

    reply = await say(fake, "/mytags")
    assert "#benchmark" in reply and "#mllm" in reply and "#moe" in reply
    assert "3 тега" in reply

    reply = await say(fake, "/unsubscribe moe")
    assert "Отписка: #moe" in reply
    assert "Остались: #benchmark, #mllm" in reply

    reply = await say(fake, "/mytags")
    assert "#moe" not in reply


async def test_an_unknown_tag_gets_a_suggestion_button_that_works(fake, bot):
    reply = await say(fake, "/subscribe mlm")
    assert "Тега «mlm» нет. Может быть, #mllm?" in reply
    message = fake.messages_to(USER)[-1]
    [(label, data)] = buttons(message)
    assert label == "➕ #mllm"

    fake.press_button(USER, message.message_id, data)
    await fake.wait_until(
        lambda: "Подписка оформлена" in fake.message(USER, message.message_id).plain
    )
    assert buttons(fake.message(USER, message.message_id)) == []
    assert "#mllm" in await say(fake, "/mytags")


async def test_words_that_are_no_tag_are_named_together_with_one_pointer_to_tags(fake, bot):
    reply = await say(fake, "/subscribe mlm '; DROP TABLE chats; --")
    assert reply.splitlines() == [
        "Тега «mlm» нет. Может быть, #mllm?",
        "Тегов «DROP», «TABLE» и «chats» нет. Список всех тем — /tags",
    ]


async def test_tag_buttons_toggle_subscriptions_and_edit_the_message(fake, bot):
    await say(fake, "/tags")
    overview = fake.messages_to(USER)[-1]
    assert "Темы дайджеста" in overview.plain
    data = dict((label, cb) for label, cb in buttons(overview))["#vqa"]

    fake.press_button(USER, overview.message_id, data)
    await fake.wait_until(lambda: "✅ #vqa" in _labels(fake, overview.message_id))
    assert "✅ #vqa" in fake.message(USER, overview.message_id).plain
    assert "#vqa" in await say(fake, "/mytags")

    fake.press_button(USER, overview.message_id, data)
    await fake.wait_until(lambda: "#vqa" in _labels(fake, overview.message_id))
    assert "#vqa" not in await say(fake, "/mytags")


def _labels(fake: FakeTelegram, message_id: int) -> list[str]:
    return [label for label, _ in buttons(fake.message(USER, message_id))]


async def test_start_buttons_toggle_in_place(fake, bot):
    await say(fake, "/start")
    greeting = fake.messages_to(USER)[-1]
    data = dict(buttons(greeting))["#mllm"]
    fake.press_button(USER, greeting.message_id, data)
    await fake.wait_until(lambda: "✅ #mllm" in _labels(fake, greeting.message_id))
    assert "#mllm" in await say(fake, "/mytags")


async def test_tags_made_only_of_emoji_or_punctuation_get_the_usage_and_the_buttons(fake, bot):
    reply = await say(fake, "/subscribe 🤖🔥")
    assert "Напишите теги после команды" in reply
    await fake.wait_for_messages(USER, 2)
    assert "Темы дайджеста" in fake.messages_to(USER)[-1].plain

    await say(fake, "/subscribe llm")
    assert "От каких тем отписаться" in await say(fake, "/unsubscribe — !!!")


async def test_deep_link_subscribes_at_once(fake, bot):
    reply = await say(fake, "/start sub_mllm")
    assert "Ваши темы: #mllm" in reply


async def test_unsubscribe_without_arguments_offers_buttons(fake, bot):
    await say(fake, "/subscribe llm agents")
    await say(fake, "/unsubscribe")
    picker = fake.messages_to(USER)[-1]
    data = dict(buttons(picker))["✖️ #llm"]
    fake.press_button(USER, picker.message_id, data)
    await fake.wait_until(lambda: _labels(fake, picker.message_id) == ["✖️ #agents"])
    assert "#llm" not in await say(fake, "/mytags")


GROUP = -100500


async def test_in_a_group_only_admins_change_subscriptions(fake, bot):
    fake.set_chat_member_status(GROUP, 7, "member")
    fake.set_chat_member_status(GROUP, 8, "administrator")
    reply = await say(fake, "/subscribe mllm", chat_id=GROUP, user_id=7, chat_type="supergroup")
    assert "только его администраторы" in reply
    reply = await say(fake, "/subscribe mllm", chat_id=GROUP, user_id=8, chat_type="supergroup")
    assert "Подписка оформлена: #mllm" in reply
    reply = await say(fake, "/mytags", chat_id=GROUP, user_id=7, chat_type="supergroup")
    assert "#mllm" in reply


async def test_a_chat_is_capped_at_fifty_subscriptions(fake, bot):
    from content.taxonomy import TAGS

    ids = [t.id for t in TAGS]
    await say(fake, "/subscribe " + " ".join(ids[:49]))
    reply = await say(fake, "/subscribe " + " ".join(ids[49:]))
    assert "Подписка оформлена: #" + ids[49] in reply
    assert "не больше чем на 50 тегов" in reply
    assert "50 тегов" in await say(fake, "/mytags")


HOSTILE = [
    "/subscribe " + "a" * 5000,
    "/subscribe <b>mllm</b> <script>alert(1)</script>",
    "/subscribe '; DROP TABLE subscriptions;--",
    "/subscribe 🤖🔥 \u202emllm",
    "/subscribe 🤖🔥",
    "/unsubscribe !!! ...",
    "/subscribe #",
    "/subscribe mllm\x00",
    "/unsubscribe " + "<" * 3000,
    "/subscribe@digest_test_bot mllm",
    "/frobnicate",
    "/subscribe & &amp; &lt;",
    "просто текст",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_bad_input_gets_a_short_russian_answer(fake, bot, text):
    reply = await say(fake, text)
    assert CYRILLIC.search(reply)
    assert len(reply) < 1500
    assert "Traceback" not in reply and "Error" not in reply
    # The bot keeps working afterwards.
    assert "Подписки —" in await say(fake, "/mytags") or "ни одной подписки" in await say(
        fake, "/mytags"
    )


async def test_commands_for_another_bot_are_ignored_in_groups(fake, bot):
    fake.send_text(GROUP, "/start@some_other_bot", chat_type="supergroup", user_id=8)
    reply = await say(fake, "/help", chat_id=GROUP, chat_type="supergroup", user_id=8)
    assert "Что я умею" in reply
    assert len(fake.messages_to(GROUP)) == 1


async def test_a_failure_is_logged_and_the_user_gets_a_plain_apology(fake, bot, caplog):
    fake.set_chat_member_status(GROUP, 9, "administrator")
    fake.fail_next("getChatMember", error_code=500, description="Internal Server Error: boom")
    reply = await say(fake, "/subscribe mllm", chat_id=GROUP, user_id=9, chat_type="supergroup")
    assert reply.startswith("⚠️ Что-то пошло не так")
    assert "boom" not in reply
    assert any("failed" in r.getMessage() for r in caplog.records)
    reply = await say(fake, "/subscribe mllm", chat_id=GROUP, user_id=9, chat_type="supergroup")
    assert "Подписка оформлена" in reply


async def test_subscriptions_survive_a_restart(fake, db_url):
    settings = make_settings(fake, db_url)
    async with running_bot(settings):
        await say(fake, "/subscribe mllm moe")
    async with running_bot(settings):
        reply = await say(fake, "/mytags")
    assert "#mllm" in reply and "#moe" in reply
