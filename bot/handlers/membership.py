"""What Telegram tells the bot about its own membership, and moves of groups to supergroups."""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

from telegram import ChatMember, ChatMemberAdministrator, ChatMemberRestricted, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import JobQueue

from bot import texts
from bot.context import AppContext
from bot.delivery import move_chat
from bot.handlers.common import chat_unit, deactivate
from storage import admins, chats, subscriptions

log = logging.getLogger(__name__)

# A group upgraded to a supergroup sends the bot a "joined" update for the new id, beside the
# service messages that carry its settings over. Greeting a little later lets those arrive
# first, so a group that was already set up is not greeted as new.
GREETING_DELAY = dt.timedelta(seconds=2)


async def my_chat_member(update: Update, ctx: AppContext) -> None:
    """Follow the bot's own membership: blocked or removed chats get nothing, new ones a hello."""
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    old, new = change.old_chat_member, change.new_chat_member
    if not _can_post(new, chat.type):
        # Blocked, removed, or muted: no digest is attempted until this changes.
        await deactivate(ctx, chat.id)
        log.info("chat %s: the bot can no longer post there (%s)", chat.id, new.status)
        return
    # Unblocked, or added (again): the chat is reachable; chat_unit records and reactivates it.
    async with chat_unit(update, ctx) as (session, _, _):
        if chat.type != ChatType.PRIVATE:
            await admins.set_title(session=session, chat_id=chat.id, title=chat.title)
            # Whoever added the bot may run the chat from their private chat (/channels);
            # getChatMember confirms it there, every time.
            await admins.remember_admin(
                session=session, chat_id=chat.id, user_id=change.from_user.id
            )
    jobs = cast("JobQueue[AppContext] | None", ctx.job_queue)
    if chat.type != ChatType.PRIVATE and not _can_post(old, chat.type) and jobs is not None:
        jobs.run_once(_greet, when=GREETING_DELAY, chat_id=chat.id, user_id=change.from_user.id)


def _can_post(member: ChatMember, chat_type: str) -> bool:
    if member.status in (ChatMember.LEFT, ChatMember.BANNED):
        return False
    if isinstance(member, ChatMemberRestricted):
        return member.is_member and member.can_send_messages
    if chat_type == ChatType.CHANNEL:
        # In a channel only its owner and administrators allowed to post can.
        if isinstance(member, ChatMemberAdministrator):
            return bool(member.can_post_messages)
        return member.status == ChatMember.OWNER
    return True


async def _greet(ctx: AppContext) -> None:
    """Tell a group that just added the bot how its admins subscribe it.

    A channel gets nothing but digests: whoever added the bot is told, in their private chat,
    how to set the channel up from there.
    """
    job = ctx.job
    chat_id = job.chat_id if job is not None else None
    if job is None or chat_id is None:
        return
    async with ctx.session() as session:
        chat = await chats.get_chat(session=session, chat_id=chat_id)
        tags = await subscriptions.list_tags(session=session, chat_id=chat_id)
    if chat is None or not chat.active or tags:
        return  # gone again, or an upgraded group that brought its subscriptions along
    to, text = chat_id, texts.ADDED_TO_GROUP
    if chat.type == ChatType.CHANNEL:
        if job.user_id is None:
            return
        to, text = job.user_id, texts.added_to_channel(texts.chat_title(chat.title, chat.id))
    try:
        await ctx.bot.send_message(to, text)
    except Forbidden:
        # A group that left, or an owner who never started the bot (then nothing is lost).
        await deactivate(ctx, to)
    except BadRequest as exc:
        log.info("no greeting for chat %s: %s", to, exc.message)


async def migrated(update: Update, ctx: AppContext) -> None:
    """A group became a supergroup: its subscriptions, settings and history move to the new id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        await move_chat(ctx.services, old_id=message.chat_id, new_id=message.migrate_to_chat_id)
    elif message.migrate_from_chat_id is not None:
        await move_chat(ctx.services, old_id=message.migrate_from_chat_id, new_id=message.chat_id)
