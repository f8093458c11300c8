"""Helpers shared by handlers: the chat row, permissions and scheduling."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest

from bot import texts
from bot.context import AppContext
from content.schedule import next_digest_at, zone
from storage import chats
from storage.models import Chat

_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class ChatUnit(NamedTuple):
    """A unit of work on one chat: its session, its row and its tags as the unit began."""

    session: AsyncSession
    chat: Chat
    tags: list[str]


@asynccontextmanager
async def chat_unit(update: Update, ctx: AppContext) -> AsyncIterator[ChatUnit]:
    """One unit of work for this update's chat; the chat row is created on first contact.

    The chat's row is locked for the unit, so its settings and tags are current.
    """
    tg_chat = update.effective_chat
    if tg_chat is None:
        raise ValueError("update has no chat")
    user = update.effective_user
    settings = ctx.settings
    async with ctx.session() as session, session.begin():
        chat, tags = await chats.ensure_chat(
            session=session,
            chat_id=tg_chat.id,
            chat_type=tg_chat.type,
            language=user.language_code if user else None,
            timezone=settings.default_timezone,
            digest_time=settings.default_digest_time,
        )
        yield ChatUnit(session, chat, tags)


async def touch_chat(update: Update, ctx: AppContext) -> chats.ChatWithTags:
    """Record first contact with this chat (reactivating it); return it with its tags."""
    async with chat_unit(update, ctx) as (_, chat, tags):
        return chats.ChatWithTags(chat, tags)


async def may_change_settings(update: Update, ctx: AppContext) -> bool:
    """In groups only administrators change settings; in private chats everyone may."""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        # Only administrators can post in a channel at all.
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        # An anonymous administrator writes on behalf of the group itself.
        return message.sender_chat.id == chat.id
    user = update.effective_user
    if user is None:
        return False
    member = await ctx.bot.get_chat_member(chat.id, user.id)
    return member.status in _ADMIN_STATUSES


async def refuse_non_admin(update: Update, ctx: AppContext) -> bool:
    """Politely refuse a settings change from a non-admin; True if refused."""
    if await may_change_settings(update, ctx):
        return False
    if update.callback_query is not None:
        await update.callback_query.answer(texts.ADMINS_ONLY_SHORT, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_html(texts.ADMINS_ONLY)
    return True


async def schedule_first_digest(
    *, session: AsyncSession, chat: Chat, now: dt.datetime
) -> dt.datetime | None:
    """Give a newly subscribed chat its first delivery moment; keep an existing one.

    An existing moment is kept even when overdue: it means a digest is still owed.
    """
    if chat.next_digest_at is None:
        when = next_digest_at(now, zone(chat.timezone), chat.digest_time)
        await chats.set_next_digest_at(session=session, chat_id=chat.id, when=when)
        chat.next_digest_at = when
    return chat.next_digest_at


def command_args(ctx: AppContext) -> str:
    """The command's arguments as one string."""
    return " ".join(ctx.args or [])


def is_not_modified(exc: BadRequest) -> bool:
    """Telegram refuses an edit that changes nothing; that is not an error for us."""
    return "not modified" in exc.message.lower()
