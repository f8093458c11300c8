"""/channels: run a group or channel's settings from a private chat, posting nothing there.

A user's choice is kept in ``managed_chats``. Before each settings command or button in the
private chat, ``aim`` confirms with Telegram that the user still administers the chat and the
bot is still in it, and points the handlers of group 0 at that chat (``AppContext.managed``);
otherwise the choice is dropped and the user told why.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import keyboards, texts
from bot.context import AppContext, Managed
from bot.handlers.common import edit_in_place, may_run
from storage import admins
from storage.models import Chat

# The commands that change or show a chat's settings; in a private chat that runs a group or
# channel they apply to that chat. /digest publishes the digest there (see README).
MANAGED_COMMANDS = (
    "subscribe",
    "unsubscribe",
    "tags",
    "mytags",
    "follow",
    "unfollow",
    "author",
    "mute",
    "unmute",
    "time",
    "timezone",
    "format",
    "weekly",
    "daily",
    "pause",
    "resume",
    "digest",
)

# Settings buttons: tags, formats, ✖️ of follows and mutes.
MANAGED_BUTTONS = "|".join(
    (
        keyboards.TAG_CALLBACK_PATTERN,
        keyboards.FORMAT_CALLBACK_PATTERN,
        keyboards.RHYTHM_CALLBACK_PATTERN,
        keyboards.FOLLOW_CALLBACK_PATTERN,
    )
)


async def aim(update: Update, ctx: AppContext) -> None:
    """Before a settings command or button in a private chat: aim it at the chat being run."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return
    async with ctx.session() as session:
        target = await admins.managed_chat(session=session, user_id=user.id)
    if target is None:
        return
    title = texts.chat_title(target.title, target.id)
    if target.active and await may_run(ctx, target.id, user.id):
        ctx.managed = Managed(target.id, target.type, title)
        return
    async with ctx.session() as session, session.begin():
        await admins.set_managed(session=session, user_id=user.id, chat_id=None)
    lost = texts.managing_lost(target.type, title)
    if update.callback_query is not None:
        await update.callback_query.answer(texts.CHANNEL_NOT_YOURS, show_alert=True)
        if isinstance(update.callback_query.message, Message):
            await update.callback_query.message.reply_html(lost)
    elif update.effective_message is not None:
        await update.effective_message.reply_html(lost)
    # The command was meant for that chat: it is not applied to the private chat instead.
    raise ApplicationHandlerStop


async def list_channels(update: Update, ctx: AppContext) -> None:
    """``/channels``: the groups and channels this user administers, as buttons."""
    message = update.effective_message
    chat, user = update.effective_chat, update.effective_user
    if message is None or chat is None:
        return
    if chat.type == ChatType.CHANNEL:
        return  # nothing but digests is posted in a channel
    if chat.type != ChatType.PRIVATE or user is None:
        # Listing a user's chats in front of a group would tell everyone what they run.
        await message.reply_html(texts.CHANNELS_PRIVATE_ONLY)
        return
    text, markup = await _channels_view(ctx, user)
    await message.reply_html(text, reply_markup=markup)


async def choose(update: Update, ctx: AppContext) -> None:
    """A /channels button: run that chat from here, or go back to the private chat."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    choice = keyboards.decode_channel(query.data)
    if choice is None:
        await query.answer(texts.CHANNEL_BUTTON_EXPIRED)
        return
    user = query.from_user
    if choice.chat_id is None:
        async with ctx.session() as session, session.begin():
            await admins.set_managed(session=session, user_id=user.id, chat_id=None)
        await query.answer(texts.MANAGING_STOPPED_SHORT)
        await edit_in_place(query.message, texts.MANAGING_STOPPED, None)
        return
    async with ctx.session() as session:
        target = await session.get(Chat, choice.chat_id)
    # A forged or stale button: a chat the bot does not know, or one the user does not run.
    if (
        target is None
        or not target.active
        or target.type == ChatType.PRIVATE
        or not await may_run(ctx, target.id, user.id)
    ):
        await query.answer(texts.CHANNEL_NOT_YOURS, show_alert=True)
        return
    async with ctx.session() as session, session.begin():
        await admins.set_managed(session=session, user_id=user.id, chat_id=target.id)
        await admins.remember_admin(session=session, chat_id=target.id, user_id=user.id)
    title = texts.chat_title(target.title, target.id)
    await query.answer()
    await edit_in_place(
        query.message,
        texts.managing_started(target.type, title),
        keyboards.channels_keyboard([], back=texts.CHANNELS_BACK_BUTTON),
    )


async def _channels_view(ctx: AppContext, user: User) -> tuple[str, InlineKeyboardMarkup | None]:
    async with ctx.session() as session:
        candidates = await admins.candidate_chats(session=session, user_id=user.id)
        current = await admins.managed_chat(session=session, user_id=user.id)
    # Each candidate is confirmed now: a remembered admin may have been demoted since.
    confirmed = [c for c in candidates if await may_run(ctx, c.id, user.id)]
    if not confirmed and current is None:
        return texts.CHANNELS_NONE, None
    buttons = [
        (c.id, texts.channel_button(c.type, texts.chat_title(c.title, c.id))) for c in confirmed
    ]
    running = (
        None if current is None else (current.type, texts.chat_title(current.title, current.id))
    )
    back = texts.CHANNELS_BACK_BUTTON if current is not None else None
    text = texts.channels_list(running) if confirmed else texts.CHANNELS_NONE
    return text, keyboards.channels_keyboard(buttons, back=back)
