"""The fake Telegram server is faithful: the real PTB Bot and Application work against it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fake_telegram import (
    NOT_MODIFIED,
    EntityParseError,
    FakeTelegram,
    RateLimit,
    parse_html,
)

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{fake.url}/bot") as client:
        yield client


# PTB 22 warns that RetryAfter.retry_after becomes a timedelta; the fake is not what it warns about.
no_retry_after_warning = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# --- basics -------------------------------------------------------------------------------------


async def test_get_me_describes_the_bot(fake, bot):
    me = await bot.get_me()
    assert me.id == 7000001
    assert me.username == "digest_test_bot"
    assert me.is_bot
    assert fake.calls("getMe")


async def test_unknown_token_is_unauthorized(fake):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.url}/bot1:wrong/getMe") as response,
    ):
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=f"{fake.url}/bot"):
            pass


async def test_unknown_method_is_404_and_json_bodies_are_accepted(fake):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/bot{TOKEN}/sendSticker", json={}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        body = {
            "chat_id": 5,
            "text": "<b>json</b>",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "y"}]]},
        }
        async with http.post(f"{fake.url}/bot{TOKEN}/sendMessage", json=body) as response:
            assert response.status == 200
            result = (await response.json())["result"]
    assert result["text"] == "json"
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert fake.messages_to(5)[0].reply_markup == body["reply_markup"]


# --- sendMessage validation ------------------------------------------------------------------


async def test_valid_html_is_sent_and_parsed(fake, bot):
    message = await bot.send_message(
        1,
        "<b>Дайджест</b> за <i>сегодня</i> &amp; <a href='https://arxiv.org'>arXiv</a>",
        parse_mode=ParseMode.HTML,
    )
    assert message.message_id == 1
    assert message.text == "Дайджест за сегодня & arXiv"
    assert [e.type for e in message.entities] == ["bold", "italic", "text_link"]
    assert message.entities[2].url == "https://arxiv.org/"
    sent = fake.messages_to(1)[0]
    assert sent.plain == message.text
    assert sent.text.startswith("<b>Дайджест</b>")
    assert sent.parse_mode == "HTML"
    # PTB sends form data: the fake decodes it to real types.
    assert fake.calls("sendMessage")[0].params["chat_id"] == 1


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("Hi <script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 3'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<a href=http://x.org>x</a>", "Unexpected end of name token at byte offset 8"),
        ("1 &nbsp; 2", 'Unsupported HTML entity "&nbsp;"'),
        ('<a href="https://a.org"><a href="https://b.org">x</a></a>', 'Nested tag "a"'),
    ],
)
async def test_broken_html_is_refused_like_telegram(bot, text, detail):
    with pytest.raises(BadRequest) as info:
        await bot.send_message(1, text, parse_mode=ParseMode.HTML)
    # PTB strips "Bad Request: " and str.capitalize()s the rest, hence lower().
    assert "can't parse entities" in info.value.message.lower()
    assert detail.lower() in info.value.message.lower()


async def test_escaped_text_and_bare_ampersands_pass(bot):
    message = await bot.send_message(
        1, "a &lt; b &gt; c &amp; &quot;d&quot; R&D &#1071;&#x44f;", parse_mode=ParseMode.HTML
    )
    assert message.text == 'a < b > c & "d" R&D Яя'


async def test_visible_length_is_limited_to_4096_utf16_units(fake, bot):
    await bot.send_message(1, "я" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "я" * 4097)
    # An emoji outside the BMP counts twice.
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "😀" * 2049)
    # Markup does not count: 5000+ raw characters, 4000 visible.
    raw = "<b>xxxx</b>" * 1000
    assert len(raw) > 5000
    message = await bot.send_message(1, raw, parse_mode=ParseMode.HTML)
    assert len(message.text) == 4000
    assert len(fake.messages_to(1)) == 2


async def test_empty_and_blank_texts_are_refused(bot):
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1, "<b> </b>\n", parse_mode=ParseMode.HTML)
    message = await bot.send_message(1, "  text with spaces \n")
    assert message.text == "text with spaces"


async def test_callback_data_is_limited_to_64_bytes(bot):
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="я" * 32)]])
    await bot.send_message(1, "buttons", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="я" * 32 + "x")]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(1, "buttons", reply_markup=too_long)


async def test_an_inline_keyboard_holds_100_buttons_at_most_8_in_a_row(bot):
    def keyboard(rows: int, per_row: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(f"{r}.{c}", callback_data=f"{r}.{c}") for c in range(per_row)]
                for r in range(rows)
            ]
        )

    await bot.send_message(1, "buttons", reply_markup=keyboard(12, 8))  # 96
    await bot.send_message(1, "buttons", reply_markup=keyboard(25, 4))  # 100
    with pytest.raises(BadRequest, match=r"(?i)reply markup is too long"):
        await bot.send_message(1, "buttons", reply_markup=keyboard(101, 1))
    with pytest.raises(BadRequest, match=r"(?i)at most 8"):
        await bot.send_message(1, "buttons", reply_markup=keyboard(1, 9))


async def test_callback_data_may_not_be_empty(fake):
    async with aiohttp.ClientSession() as http:
        body = {
            "chat_id": 1,
            "text": "x",
            "reply_markup": {"inline_keyboard": [[{"text": "t", "callback_data": ""}]]},
        }
        async with http.post(f"{fake.url}/bot{TOKEN}/sendMessage", json=body) as response:
            payload = await response.json()
    assert payload["ok"] is False


async def test_a_button_needs_an_action(fake):
    async with aiohttp.ClientSession() as http:
        body = {"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "t"}]]}}
        async with http.post(f"{fake.url}/bot{TOKEN}/sendMessage", json=body) as response:
            payload = await response.json()
    assert payload["description"] == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


# --- faults --------------------------------------------------------------------------------------


@no_retry_after_warning
async def test_fail_next_429_raises_retry_after_once(fake, bot):
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
    )
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1, "x")
    assert retry_seconds(info.value) == 7
    await bot.send_message(1, "x")
    assert fake.too_many_requests == 1
    assert [m.plain for m in fake.messages_to(1)] == ["x"]


async def test_fail_next_can_target_one_chat(fake, bot):
    fake.fail_next("sendMessage", error_code=400, description="Bad Request: boom", chat_id=2)
    await bot.send_message(1, "to one")
    with pytest.raises(BadRequest, match=r"(?i)boom"):
        await bot.send_message(2, "to two")


async def test_blocked_and_forgotten_chats(fake, bot):
    fake.block_chat(1)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(1, "x")
    fake.forget_chat(2)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(2, "x")
    await bot.send_message(3, "any other chat id is fine")


@no_retry_after_warning
async def test_rate_limit_answers_429(bot):
    limits = RateLimit(global_per_second=100, per_chat_per_second=1.0, per_chat_burst=3)
    async with (
        FakeTelegram(TOKEN, rate_limit=limits) as limited,
        Bot(TOKEN, base_url=f"{limited.url}/bot") as client,
    ):
        for _ in range(3):
            await client.send_message(1, "x")
        with pytest.raises(RetryAfter) as info:
            await client.send_message(1, "x")
        assert retry_seconds(info.value) == 1
        await client.send_message(2, "another chat has its own budget")
        assert limited.too_many_requests == 1


@no_retry_after_warning
async def test_paid_broadcasts_skip_the_broadcasting_limit_and_bill_the_messages_above_it():
    # Telegram's free limit is 30 a second; 3 here, so that a test outruns it for sure.
    limits = RateLimit(global_per_second=3, paid_per_second=1000)
    async with (
        FakeTelegram(TOKEN, rate_limit=limits) as limited,
        Bot(TOKEN, base_url=f"{limited.url}/bot") as client,
    ):
        limited.set_star_balance("10.05")
        balance = await client.get_my_star_balance()
        assert (balance.amount, balance.nanostar_amount) == (10, 50_000_000)

        for chat_id in range(100, 110):
            await client.send_message(chat_id, "paid", allow_paid_broadcast=True)
        # The first 3 fell in the free allowance (a few more if it refilled meanwhile); the
        # rest cost 0.1 Star each.
        assert limited.paid_messages == 10
        assert 4 <= limited.billed_messages <= 7
        assert limited.star_balance_nanostars == 10_050_000_000 - limited.billed_messages * 10**8

        # An ordinary message still keeps to the limit, on its own budget.
        for chat_id in range(200, 203):
            await client.send_message(chat_id, "free")
        with pytest.raises(RetryAfter):
            await client.send_message(300, "free")


@no_retry_after_warning
async def test_without_stars_a_paid_broadcast_keeps_to_the_broadcasting_limit():
    limits = RateLimit(global_per_second=3, paid_per_second=1000)
    async with (
        FakeTelegram(TOKEN, rate_limit=limits) as limited,
        Bot(TOKEN, base_url=f"{limited.url}/bot") as client,
    ):
        balance = await client.get_my_star_balance()
        assert (balance.amount, balance.nanostar_amount) == (0, None)
        for chat_id in range(100, 103):
            await client.send_message(chat_id, "paid", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):
            await client.send_message(131, "paid", allow_paid_broadcast=True)
        assert (limited.paid_messages, limited.billed_messages) == (3, 0)


# --- edits and callbacks ------------------------------------------------------------------------


async def test_edit_message_text_tracks_state(fake, bot):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]])
    sent = await bot.send_message(1, "<b>v1</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard)
    assert fake.message(1, sent.message_id).reply_markup == keyboard.to_dict()

    edited = await bot.edit_message_text(
        "<i>v2</i>", chat_id=1, message_id=sent.message_id, parse_mode=ParseMode.HTML
    )
    assert edited.text == "v2"
    assert edited.edit_date is not None
    state = fake.message(1, sent.message_id)
    assert (state.text, state.plain, state.reply_markup) == ("<i>v2</i>", "v2", None)
    assert fake.edits[-1].plain == "v2"
    # The original send is still recorded as sent.
    assert fake.messages_to(1)[0].plain == "v1"

    with pytest.raises(BadRequest) as info:
        await bot.edit_message_text(
            "<em>v2</em>", chat_id=1, message_id=sent.message_id, parse_mode=ParseMode.HTML
        )
    assert info.value.message.lower() == NOT_MODIFIED.removeprefix("Bad Request: ").lower()

    await bot.edit_message_reply_markup(1, sent.message_id, reply_markup=keyboard)
    assert fake.message(1, sent.message_id).reply_markup == keyboard.to_dict()
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=1, message_id=999)


async def test_callback_queries_must_be_answered_once(fake, bot):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="go")]])
    sent = await bot.send_message(1, "press", reply_markup=keyboard)
    with pytest.raises(ValueError, match="no button"):
        fake.press_button(1, sent.message_id, "other")
    query_id = fake.press_button(1, sent.message_id, "go")
    update = fake.pending_updates[-1]["callback_query"]
    assert update["message"]["message_id"] == sent.message_id
    assert update["from"]["id"] == 1
    await bot.answer_callback_query(query_id, text="done")
    assert fake.callback_answers[-1].text == "done"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_inline_queries(fake, bot):
    query_id = fake.inline_query(42, "mllm")

    def article(i: int, text: str = "<b>ok</b>") -> InlineQueryResultArticle:
        content = InputTextMessageContent(text, parse_mode=ParseMode.HTML)
        return InlineQueryResultArticle(str(i), f"title {i}", content)

    with pytest.raises(BadRequest, match=r"(?i)too many inline query results"):
        await bot.answer_inline_query(query_id, [article(i) for i in range(51)])
    with pytest.raises(
        BadRequest, match=r"(?i)can't parse inline query result: can't parse entities"
    ):
        await bot.answer_inline_query(query_id, [article(1, "<b>x")])
    await bot.answer_inline_query(query_id, [article(i) for i in range(50)])
    assert len(fake.inline_answers[-1].results) == 50
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query(query_id, [])


# --- other methods ------------------------------------------------------------------------------


async def test_commands_are_kept_per_scope_and_language(fake, bot):
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("start", "Начать")], language_code="ru")
    await bot.set_my_commands(
        [BotCommand("digest", "Дайджест")], scope=BotCommandScopeAllPrivateChats()
    )
    assert set(fake.commands) == {("default", ""), ("default", "ru"), ("all_private_chats", "")}
    ru = await bot.get_my_commands(language_code="ru")
    assert [(c.command, c.description) for c in ru] == [("start", "Начать")]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    await bot.delete_my_commands(language_code="ru")
    assert ("default", "ru") not in fake.commands


async def test_chat_members_and_administrators(fake, bot):
    fake.set_chat_member_status(-100500, 7, "member")
    fake.set_chat_member_status(-100500, 8, "administrator")
    fake.set_chat_member_status(-100500, 9, "creator")
    assert (await bot.get_chat_member(-100500, 7)).status == "member"
    assert (await bot.get_chat_member(-100500, 8)).status == "administrator"
    admins = await bot.get_chat_administrators(-100500)
    assert [(a.user.id, a.status) for a in admins] == [(9, "creator"), (8, "administrator")]
    chat = await bot.get_chat(-100500)
    assert chat.type == "supergroup"
    with pytest.raises(BadRequest, match=r"(?i)no administrators in the private chat"):
        await bot.get_chat_administrators(5)
    assert await bot.send_chat_action(5, "typing")


async def test_webhook_blocks_get_updates(fake, bot):
    await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret"
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


# --- long polling ------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake, bot):
    async def user_writes_later() -> None:
        await asyncio.sleep(0.3)
        fake.send_text(1, "hello")

    writer = asyncio.create_task(user_writes_later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    await writer
    assert 0.2 < elapsed < 2
    assert [u.message.text for u in updates] == ["hello"]

    # Unconfirmed updates come again; an offset confirms them.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_an_empty_long_poll_waits_for_its_timeout(bot):
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_application_polls_and_replies(fake):
    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("again", callback_data="again")]])
        await update.effective_message.reply_html("<b>pong</b>", reply_markup=keyboard)

    async def again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text("pong again")

    app = ApplicationBuilder().token(TOKEN).base_url(f"{fake.url}/bot").build()
    app.add_handler(CommandHandler("ping", ping))
    app.add_handler(CallbackQueryHandler(again))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
        await app.start()
        try:
            update = fake.send_text(1, "/ping")
            [reply] = await fake.wait_for_messages(1, 1)
            assert reply.plain == "pong"
            assert reply.reply_to_update_id == update["update_id"]
            assert reply.latency is not None and reply.latency < 2

            fake.send_text(1, "/ping@digest_test_bot")
            replies = await fake.wait_for_messages(1, 2)
            assert [m.plain for m in replies] == ["pong", "pong"]

            query_id = fake.press_button(1, reply.message_id, "again")
            await fake.wait_until(lambda: fake.message(1, reply.message_id).plain == "pong again")
            await fake.wait_until(lambda: bool(fake.callback_answers))
            assert fake.callback_answers[0].callback_query_id == query_id
        finally:
            await app.updater.stop()
            await app.stop()
    # Every update was delivered once: the bot confirmed each with its next offset.
    assert set(fake.deliveries.values()) == {1}
    assert fake.pending_updates == []


async def test_wait_for_messages_explains_a_timeout(fake, bot):
    with pytest.raises(BadRequest):
        await bot.send_message(1, "<b>broken", parse_mode=ParseMode.HTML)
    with pytest.raises(AssertionError) as info:
        await fake.wait_for_messages(1, 1, timeout=0.2)
    assert "expected at least 1 message(s) to chat 1" in str(info.value)
    assert "can't parse entities" in str(info.value)


# --- the HTML parser on its own -----------------------------------------------------------------


def test_entities_use_utf16_offsets_and_pre_code_language():
    parsed = parse_html('🤖 <b>бот</b> <pre><code class="language-python">x = 1</code></pre>')
    assert parsed.text == "🤖 бот x = 1"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "pre", "offset": 7, "length": 5, "language": "python"},
    ]


def test_spoilers_quotes_and_custom_emoji():
    parsed = parse_html(
        '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>'
        "<blockquote expandable>c</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert [e["type"] for e in parsed.entities] == [
        "spoiler",
        "spoiler",
        "expandable_blockquote",
        "custom_emoji",
    ]
    with pytest.raises(EntityParseError, match='must have class "tg-spoiler"'):
        parse_html("<span>x</span>")


def test_quotes_plain_and_expandable_with_formatting_inside_but_never_nested():
    parsed = parse_html(
        "<blockquote>a <b>b</b></blockquote>\n<blockquote expandable>c <i>d</i></blockquote>"
    )
    assert parsed.text == "a b\nc d"
    assert parsed.entities == [
        {"type": "blockquote", "offset": 0, "length": 3},
        {"type": "bold", "offset": 2, "length": 1},
        {"type": "expandable_blockquote", "offset": 4, "length": 3},
        {"type": "italic", "offset": 6, "length": 1},
    ]
    for nested in (
        "<blockquote>a <blockquote>b</blockquote></blockquote>",
        "<blockquote expandable><b><blockquote>b</blockquote></b></blockquote>",
        "<blockquote>a <blockquote expandable>b</blockquote></blockquote>",
    ):
        with pytest.raises(EntityParseError, match='Nested tag "blockquote"'):
            parse_html(nested)
    with pytest.raises(EntityParseError, match="Unmatched end tag"):
        parse_html("<blockquote expandable>a</b>")


def test_lenient_mode_matches_telegram_on_unknown_entities():
    assert parse_html("1&nbsp;2", strict=False).text == "1&nbsp;2"
    assert parse_html("&#0; &#x110000; &lt", strict=False).text == "&#0; &#x110000; <"


# --- standalone mode ---------------------------------------------------------------------------


async def test_control_endpoints(bot):
    async with (
        FakeTelegram(TOKEN, control_endpoints=True) as server,
        Bot(TOKEN, base_url=f"{server.url}/bot") as client,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            f"{server.url}/_control/send", json={"chat_id": 3, "text": "/start"}
        ) as response:
            update = await response.json()
        assert update["message"]["entities"][0]["type"] == "bot_command"
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d")]])
        sent = await client.send_message(3, "<b>hi</b>", parse_mode="HTML", reply_markup=keyboard)
        async with http.post(
            f"{server.url}/_control/press",
            json={"chat_id": 3, "message_id": sent.message_id, "data": "d"},
        ) as response:
            assert (await response.json())["callback_query"]["data"] == "d"
        async with http.get(f"{server.url}/_control/sent", params={"chat_id": "3"}) as response:
            [state] = await response.json()
        assert (state["text"], state["plain"]) == ("<b>hi</b>", "hi")
        assert state["reply_markup"] == keyboard.to_dict()
        async with http.get(f"{server.url}/_control/calls") as response:
            assert (await response.json())["sendMessage"] == 1


async def test_control_endpoints_for_groups_membership_and_migration(bot):
    async with (
        FakeTelegram(TOKEN, control_endpoints=True) as server,
        Bot(TOKEN, base_url=f"{server.url}/bot") as client,
        aiohttp.ClientSession() as http,
    ):
        member = {"chat_id": -5, "user_id": 9, "status": "administrator"}
        async with http.post(f"{server.url}/_control/member", json=member) as response:
            assert response.status == 200
        assert (await client.get_chat_member(-5, 9)).status == "administrator"

        blocked = {"chat_id": 4, "status": "kicked"}
        async with http.post(f"{server.url}/_control/membership", json=blocked) as response:
            update = await response.json()
        assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
        with pytest.raises(Forbidden, match="blocked by the user"):
            await client.send_message(4, "hi")

        moved = {"group_id": -6, "supergroup_id": -1006}
        async with http.post(f"{server.url}/_control/migrate", json=moved) as response:
            assert response.status == 200
        with pytest.raises(ChatMigrated) as raised:
            await client.send_message(-6, "hi")
        assert raised.value.new_chat_id == -1006
        kinds = [next(k for k in u if k != "update_id") for u in server.pending_updates]
        assert kinds[-3:] == ["message", "my_chat_member", "message"]


async def test_standalone_process_prints_its_url_and_serves():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_telegram",
        "--token",
        TOKEN,
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert line.startswith("fake Telegram listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/_control/send", json={"chat_id": 1, "text": "hi"}):
                pass
            async with http.get(f"{url}/bot{TOKEN}/getUpdates") as response:
                body = await response.json()
        assert [u["message"]["text"] for u in body["result"]] == ["hi"]
        assert json.dumps(body, ensure_ascii=False)
    finally:
        process.terminate()
        await process.wait()
