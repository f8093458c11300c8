"""Helpers shared by handlers: the chat row, permissions and scheduling."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, MaybeInaccessibleMessage, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden

from bot import texts
from bot.context import AppContext
from content.schedule import next_digest_at, zone
from storage import admins, chats, digests
from storage.models import Chat

log = logging.getLogger(__name__)

_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class ChatUnit(NamedTuple):
    """A unit of work on one chat: its session, its row and its tags as the unit began."""

    session: AsyncSession
    chat: Chat
    tags: list[str]


@asynccontextmanager
async def chat_unit(update: Update, ctx: AppContext) -> AsyncIterator[ChatUnit]:
    """One unit of work for this update's chat; the chat row is created on first contact.

    The chat's row is locked for the unit, so its settings and tags are current. When the
    private chat runs a group or channel (/channels), the unit is that chat's.
    """
    tg_chat = update.effective_chat
    if tg_chat is None:
        raise ValueError("update has no chat")
    user = update.effective_user
    settings = ctx.settings
    managed = ctx.managed
    async with ctx.session() as session, session.begin():
        chat, tags = await chats.ensure_chat(
            session=session,
            chat_id=managed.chat_id if managed else tg_chat.id,
            chat_type=managed.chat_type if managed else tg_chat.type,
            language=user.language_code if user and not managed else None,
            timezone=settings.default_timezone,
            digest_time=settings.default_digest_time,
        )
        if managed is None and tg_chat.title and chat.title != tg_chat.title:
            chat.title = tg_chat.title  # named in /channels
        if (
            managed is None
            and user is not None
            and tg_chat.type != ChatType.PRIVATE
            and ctx.bot_data.admins.get((tg_chat.id, user.id))
        ):
            # An admin seen at work here is offered the chat in /channels later.
            await admins.remember_admin(session=session, chat_id=tg_chat.id, user_id=user.id)
        yield ChatUnit(session, chat, tags)


async def touch_chat(update: Update, ctx: AppContext) -> chats.ChatWithTags:
    """Record first contact with this chat (reactivating it); return it with its tags."""
    async with chat_unit(update, ctx) as (_, chat, tags):
        return chats.ChatWithTags(chat, tags)


async def may_change_settings(update: Update, ctx: AppContext) -> bool:
    """Whether whoever sent this update may change the chat's subscriptions and settings.

    Everyone in a private chat. Elsewhere only administrators: a channel post (only admins
    post), an anonymous admin writing as the group itself, or a user whose membership
    ``getChatMember`` shows as administrator or owner. A button press is judged by who
    pressed it, never by the message the button belongs to.
    """
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    query = update.callback_query
    if query is not None:
        return await is_chat_admin(ctx, chat.id, query.from_user.id)
    if update.channel_post is not None:
        return True
    message = update.message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    user = update.effective_user
    return user is not None and await is_chat_admin(ctx, chat.id, user.id)


async def is_chat_admin(ctx: AppContext, chat_id: int, user_id: int) -> bool:
    """Whether the user administers the chat, asked of Telegram and remembered briefly."""
    known = ctx.bot_data.admins.get((chat_id, user_id))
    if known is not None:
        return known
    try:
        member = await ctx.bot.get_chat_member(chat_id, user_id)
    except BadRequest as exc:
        # E.g. a channel whose member list the bot may not read: nobody is let through.
        log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc.message)
        return False
    admin = member.status in _ADMIN_STATUSES
    ctx.bot_data.admins[(chat_id, user_id)] = admin
    return admin


async def may_run(ctx: AppContext, chat_id: int, user_id: int) -> bool:
    """Whether the user may run the chat from a private chat: an admin now, the bot still in it.

    Asked of Telegram every time, never from the cache: this is the only check between a
    private chat and a channel's settings.
    """
    try:
        user = await ctx.bot.get_chat_member(chat_id, user_id)
        bot = await ctx.bot.get_chat_member(chat_id, ctx.bot.id)
    except (BadRequest, Forbidden) as exc:
        # The chat is gone, or the bot may no longer look into it.
        log.info("getChatMember(%s) refused: %s", chat_id, exc.message)
        return False
    admin = user.status in _ADMIN_STATUSES
    ctx.bot_data.admins[(chat_id, user_id)] = admin
    return admin and bot.status not in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


async def answer(
    message: Message,
    ctx: AppContext,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Reply in HTML; while the private chat runs a group or channel, the first line names it."""
    await message.reply_html(headed(ctx, text), reply_markup=reply_markup)


async def edit_in_place(
    message: MaybeInaccessibleMessage | None,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Show ``text`` in the message whose button was pressed, unless it is too old to edit."""
    if not isinstance(message, Message):
        return  # too old: Telegram no longer tells us its content
    try:
        await message.edit_text(text, reply_markup=reply_markup)
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


def headed(ctx: AppContext, text: str) -> str:
    """The text, under a line naming the group or channel the private chat runs, if any."""
    managed = ctx.managed
    if managed is None:
        return text
    return f"{texts.managing_header(managed.chat_type, managed.title)}\n{text}"


async def refuse_non_admin(
    update: Update,
    ctx: AppContext,
    *,
    reply: str = texts.ADMINS_ONLY,
    alert: str = texts.ADMINS_ONLY_SHORT,
) -> bool:
    """Politely refuse a change from a non-admin; True if refused."""
    if await may_change_settings(update, ctx):
        return False
    if update.callback_query is not None:
        await update.callback_query.answer(alert, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_html(reply)
    return True


async def schedule_first_digest(
    ctx: AppContext, *, session: AsyncSession, chat: Chat
) -> dt.datetime | None:
    """Give a newly subscribed chat its first delivery moment; keep an existing one.

    An existing moment is kept even when overdue: it means a digest is still owed.
    """
    if chat.next_digest_at is None:
        when = await upcoming_digest(
            ctx,
            session=session,
            chat_id=chat.id,
            tz_name=chat.timezone,
            at=chat.digest_time,
            weekday=chat.digest_weekday,
        )
        await chats.set_next_digest_at(session=session, chat_id=chat.id, when=when)
        chat.next_digest_at = when
    return chat.next_digest_at


async def upcoming_digest(
    ctx: AppContext,
    *,
    session: AsyncSession,
    chat_id: int,
    tz_name: str,
    at: dt.time,
    weekday: int | None = None,
) -> dt.datetime:
    """When the chat's next digest will really come: a day that had its digest gets no other.

    With ``weekday``, the chat is weekly: its digest comes on that local weekday only.
    """
    now = ctx.services.now()
    lease = ctx.settings.delivery_lease
    tz = zone(tz_name)
    when = next_digest_at(now, tz, at, weekday)
    day = when.astimezone(tz).date()
    if await digests.day_is_taken(
        session=session, chat_id=chat_id, local_date=day, now=now, lease=lease
    ):
        when = next_digest_at(when, tz, at, weekday)
    return when


async def deactivate(ctx: AppContext, chat_id: int) -> None:
    """Mark a chat the bot can no longer write to: no digest is attempted there."""
    async with ctx.session() as session, session.begin():
        await chats.set_active(session=session, chat_id=chat_id, active=False)


def command_args(ctx: AppContext) -> str:
    """The command's arguments as one string."""
    return " ".join(ctx.args or [])


def is_not_modified(exc: BadRequest) -> bool:
    """Telegram refuses an edit that changes nothing; that is not an error for us."""
    return "not modified" in exc.message.lower()
