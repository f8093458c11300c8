"""Counting updates for /metrics, before any handler runs."""

from __future__ import annotations

from telegram import Update

from bot.context import AppContext


def update_kind(update: Update) -> str:
    """The update's type as the Bot API names it: e.g. "message" or "callback_query"."""
    for kind in Update.ALL_TYPES:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


async def count_update(update: Update, ctx: AppContext) -> None:
    """Count the update by kind; the handlers of group 0 then answer it as usual."""
    ctx.services.metrics.updates.labels(update_kind(update)).inc()
