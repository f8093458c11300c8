"""Answers to anything no other handler took: unknown commands and plain text."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot import texts
from bot.context import AppContext
from bot.handlers.common import touch_chat


async def unknown_command(update: Update, ctx: AppContext) -> None:
    """Tell the user the command does not exist, unless it was meant for another bot."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split(maxsplit=1)[0]
    _, _, addressee = command.partition("@")
    if addressee and addressee.lower() != ctx.bot.username.lower():
        return
    await touch_chat(update, ctx)
    await message.reply_html(texts.UNKNOWN_COMMAND)


async def plain_text(update: Update, ctx: AppContext) -> None:
    """In a private chat, point a user who wrote plain text to the commands."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    await touch_chat(update, ctx)
    await message.reply_html(texts.NOT_A_COMMAND)
