"""The one error handler: log everything, tell the user little, never write to a closed chat."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import ChatMigrated, Forbidden, TelegramError

from bot import texts
from bot.context import AppContext
from bot.delivery import move_chat
from bot.handlers.common import deactivate

log = logging.getLogger(__name__)


async def on_error(update: object, ctx: AppContext) -> None:
    """Log the failure with its update id; answer the chat without internals."""
    update_id = update.update_id if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    error = ctx.error
    if chat is not None and isinstance(error, Forbidden):
        # Blocked, removed, or not allowed to post: the chat hears nothing more from us.
        log.info("update %s: chat %s refused the reply (%s)", update_id, chat.id, error.message)
        await deactivate(ctx, chat.id)
        if isinstance(update, Update) and update.callback_query is not None:
            # Answering a press writes nothing to the chat; it stops the button's spinner.
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        return
    if chat is not None and isinstance(error, ChatMigrated):
        await move_chat(ctx.services, old_id=chat.id, new_id=error.new_chat_id)
        return
    log.error("update %s failed", update_id, exc_info=error)
    if not isinstance(update, Update):
        return
    ctx.services.metrics.update_errors.inc()
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.ERROR, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_html(texts.ERROR)
    except Forbidden:
        if chat is not None:
            await deactivate(ctx, chat.id)
    except TelegramError:
        log.warning("could not tell chat about failed update %s", update_id, exc_info=True)
