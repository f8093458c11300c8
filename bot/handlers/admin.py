"""Commands for the bot's operators (ADMIN_IDS); to everyone else they do not exist."""

from __future__ import annotations

import datetime as dt

from telegram import Update

from bot import texts
from bot.context import AppContext
from bot.handlers import fallback
from content.schedule import zone
from storage.stats import bot_stats


def is_admin(update: Update, ctx: AppContext) -> bool:
    """The sender is listed in ADMIN_IDS."""
    user = update.effective_user
    return user is not None and user.id in ctx.settings.admin_ids


async def stats(update: Update, ctx: AppContext) -> None:
    """Chats, subscriptions, papers and today's deliveries, for admins only."""
    message = update.effective_message
    if message is None:
        return
    if not is_admin(update, ctx):
        await fallback.unknown_command(update, ctx)
        return
    now = ctx.services.now()
    tz_name = ctx.settings.default_timezone
    local_midnight = dt.datetime.combine(
        now.astimezone(zone(tz_name)).date(), dt.time(), zone(tz_name)
    )
    async with ctx.session() as session:
        figures = await bot_stats(session=session, since=local_midnight.astimezone(dt.UTC))
    text = texts.stats(figures, tz_name=tz_name, now=now)
    broadcast = ctx.services.broadcast
    if broadcast.enabled:
        paid = texts.paid_broadcast(
            broadcast.last,
            paid_rate=broadcast.paid_rate,
            free_rate=broadcast.free_rate,
            tz_name=tz_name,
            now=now,
        )
        text = f"{text}\n\n{paid}"
    await message.reply_html(text)
