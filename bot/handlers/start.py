"""/start and /help."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import (
    chat_unit,
    refuse_non_admin,
    schedule_first_digest,
    touch_chat,
)
from content import taxonomy
from storage import subscriptions

DEEP_LINK_PREFIX = "sub_"


async def start(update: Update, ctx: AppContext) -> None:
    """Greet, show popular tags; ``/start sub_<tag>`` subscribes at once."""
    message = update.effective_message
    if message is None:
        return
    deep_tag = _deep_link_tag(ctx.args)
    if deep_tag is not None and await refuse_non_admin(update, ctx):
        return
    settings = ctx.settings
    async with chat_unit(update, ctx) as (session, chat, subscribed):
        tags = subscribed
        if deep_tag is not None:
            result = await subscriptions.add_tags(
                session=session,
                chat_id=chat.id,
                tags=[deep_tag],
                limit=settings.max_subscriptions,
                existing=subscribed,
            )
            tags = sorted([*subscribed, *result.added])
            await schedule_first_digest(ctx, session=session, chat=chat)
    user = update.effective_user
    in_private = (
        update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE
    )
    text = texts.greeting(
        first_name=user.first_name if user and in_private else None,
        subscribed=tags,
        digest_time=chat.digest_time,
        tz_name=chat.timezone,
        now=ctx.services.now(),
        weekday=chat.digest_weekday,
    )
    await message.reply_html(text, reply_markup=keyboards.popular_keyboard(tags))


def _deep_link_tag(args: list[str] | None) -> str | None:
    if not args or not args[0].startswith(DEEP_LINK_PREFIX):
        return None
    tags = taxonomy.resolve_tags(args[0].removeprefix(DEEP_LINK_PREFIX)).tags
    return tags[0] if tags else None


async def help_command(update: Update, ctx: AppContext) -> None:
    """List every command with examples."""
    message = update.effective_message
    if message is None:
        return
    await touch_chat(update, ctx)
    await message.reply_html(texts.help_text(ctx.settings.feeds_url))
