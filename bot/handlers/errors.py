"""The one error handler: log everything, tell the user little."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot import texts
from bot.context import AppContext

log = logging.getLogger(__name__)


async def on_error(update: object, ctx: AppContext) -> None:
    """Log the failure with its update id; answer the chat without internals."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=ctx.error)
    if not isinstance(update, Update):
        return
    ctx.services.metrics.update_errors.inc()
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.ERROR, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_html(texts.ERROR)
    except TelegramError:
        log.warning("could not tell chat about failed update %s", update_id, exc_info=True)
