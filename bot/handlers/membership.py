"""What Telegram tells the bot about its own membership, and moves of groups to supergroups."""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberAdministrator, ChatMemberRestricted, Update
from telegram.constants import ChatType

from bot import texts
from bot.context import AppContext
from bot.handlers.common import chat_unit, migrate_chat
from storage import chats

log = logging.getLogger(__name__)

_GONE = frozenset({ChatMember.LEFT, ChatMember.BANNED})


async def my_chat_member(update: Update, ctx: AppContext) -> None:
    """Follow the bot's own membership: blocked or removed chats get nothing, new ones a hello."""
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    old, new = change.old_chat_member, change.new_chat_member
    if new.status in _GONE:
        # Blocked in a private chat, removed from a group or channel: no digest is attempted.
        async with ctx.session() as session, session.begin():
            await chats.set_active(session=session, chat_id=chat.id, active=False)
        log.info("chat %s: the bot is now %s", chat.id, new.status)
        return
    # Unblocked, or added (again): the chat is reachable; chat_unit records and reactivates it.
    async with chat_unit(update, ctx):
        pass
    joined = old.status in _GONE
    if joined and chat.type != ChatType.PRIVATE and _can_post(new, chat.type):
        text = texts.ADDED_TO_CHANNEL if chat.type == ChatType.CHANNEL else texts.ADDED_TO_GROUP
        await ctx.bot.send_message(chat.id, text)


def _can_post(member: ChatMember, chat_type: str) -> bool:
    if isinstance(member, ChatMemberRestricted):
        return member.can_send_messages
    if chat_type == ChatType.CHANNEL:
        # In a channel only administrators with the right to post can.
        return isinstance(member, ChatMemberAdministrator) and bool(member.can_post_messages)
    return True


async def migrated(update: Update, ctx: AppContext) -> None:
    """A group became a supergroup: its subscriptions, settings and history move to the new id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        await migrate_chat(ctx, old_id=message.chat_id, new_id=message.migrate_to_chat_id)
    elif message.migrate_from_chat_id is not None:
        await migrate_chat(ctx, old_id=message.migrate_from_chat_id, new_id=message.chat_id)
