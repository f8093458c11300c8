"""/time, /timezone, /weekly, /daily, /pause, /resume and /format: a chat's digest settings.

When, how often, whether and how a chat gets its digest.

Changing the time or the timezone recomputes ``next_digest_at`` from now, so the next digest
follows the new setting at once. A chat that never subscribed keeps no moment at all: its
first one is set when it subscribes (see ``schedule_first_digest``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, Update

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import (
    answer,
    chat_unit,
    command_args,
    edit_in_place,
    headed,
    refuse_non_admin,
    touch_chat,
    upcoming_digest,
)
from content.render import DigestFormat, parse_format
from content.schedule import parse_time, parse_timezone, parse_weekday
from storage import chats, follows
from storage.models import Chat


async def set_time(update: Update, ctx: AppContext) -> None:
    """``/time 08:30``: the local time of the daily digest; without a value, the current one."""

    def parse(raw: str) -> _Change | None:
        at = parse_time(raw)
        return None if at is None else _Change(digest_time=at)

    await _schedule_command(
        update,
        ctx,
        usage=lambda chat, now: texts.time_usage(
            digest_time=chat.digest_time,
            tz_name=chat.timezone,
            now=now,
            weekday=chat.digest_weekday,
        ),
        parse=parse,
        bad=texts.bad_time,
        changed=texts.time_changed,
    )


async def set_timezone(update: Update, ctx: AppContext) -> None:
    """``/timezone Europe/Moscow`` or ``+3``; without a value, the current timezone."""

    def parse(raw: str) -> _Change | None:
        tz_name = parse_timezone(raw)
        return None if tz_name is None else _Change(tz_name=tz_name)

    await _schedule_command(
        update,
        ctx,
        usage=lambda chat, now: texts.timezone_usage(tz_name=chat.timezone, now=now),
        parse=parse,
        bad=texts.bad_timezone,
        changed=texts.timezone_changed,
    )


@dataclass(frozen=True, slots=True)
class _Change:
    """What a /time or /timezone command changes; None keeps the chat's current value."""

    tz_name: str | None = None
    digest_time: dt.time | None = None


async def _schedule_command(
    update: Update,
    ctx: AppContext,
    *,
    usage: Callable[[Chat, dt.datetime], str],
    parse: Callable[[str], _Change | None],
    bad: Callable[[str], str],
    changed: Callable[..., str],
) -> None:
    # /time and /timezone alike: no value shows the current one, a bad value gets an example,
    # a good one (from an admin, in groups) reschedules the chat and says when it comes next.
    message = update.effective_message
    if message is None:
        return
    raw = command_args(ctx).strip()
    if not raw:
        now = ctx.services.now()
        chat, _ = await touch_chat(update, ctx)
        await answer(message, ctx, usage(chat, now))
        return
    if await refuse_non_admin(update, ctx):
        return
    change = parse(raw)
    if change is None:
        await touch_chat(update, ctx)
        await answer(message, ctx, bad(raw))
        return
    new = await _change_schedule(
        update, ctx, tz_name=change.tz_name, digest_time=change.digest_time
    )
    await answer(
        message,
        ctx,
        changed(
            digest_time=new.digest_time,
            tz_name=new.tz_name,
            now=new.now,
            next_at=new.next_at,
            paused=new.paused,
            subscribed=new.subscribed,
            weekday=new.weekday,
        ),
    )


@dataclass(frozen=True, slots=True)
class _Schedule:
    """A chat's delivery settings right after a change, for the reply."""

    tz_name: str
    digest_time: dt.time
    now: dt.datetime
    next_at: dt.datetime | None
    paused: bool
    subscribed: bool
    weekday: int | None = None


async def _change_schedule(
    update: Update,
    ctx: AppContext,
    *,
    tz_name: str | None = None,
    digest_time: dt.time | None = None,
) -> _Schedule:
    now = ctx.services.now()
    async with chat_unit(update, ctx) as (session, chat, tags):
        # Followed words and authors bring digests as tags do.
        subscribed = bool(tags) or await follows.has_follows(session=session, chat_id=chat.id)
        tz_name = chat.timezone if tz_name is None else tz_name
        digest_time = chat.digest_time if digest_time is None else digest_time
        # Only a chat that is (or was) scheduled gets a new moment, even an overdue one:
        # the user asked for a new time, so the next digest follows it.
        next_at = chat.next_digest_at
        if subscribed or next_at is not None:
            next_at = await upcoming_digest(
                ctx,
                session=session,
                chat_id=chat.id,
                tz_name=tz_name,
                at=digest_time,
                weekday=chat.digest_weekday,
            )
        await chats.set_schedule(
            session=session,
            chat_id=chat.id,
            timezone=tz_name,
            digest_time=digest_time,
            next_digest_at=next_at,
        )
        paused, weekday = chat.paused, chat.digest_weekday
    return _Schedule(tz_name, digest_time, now, next_at, paused, subscribed, weekday)


async def pause(update: Update, ctx: AppContext) -> None:
    """``/pause``: no scheduled digests until /resume; subscriptions stay."""
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx):
        return
    async with chat_unit(update, ctx) as (session, chat, _):
        was_paused = chat.paused
        if not was_paused:
            await chats.set_paused(session=session, chat_id=chat.id, paused=True)
    await answer(message, ctx, texts.ALREADY_PAUSED if was_paused else texts.PAUSED)


async def resume(update: Update, ctx: AppContext) -> None:
    """``/resume``: deliveries restart at the next digest time, without a backlog burst."""
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx):
        return
    now = ctx.services.now()
    async with chat_unit(update, ctx) as (session, chat, tags):
        subscribed = bool(tags) or await follows.has_follows(session=session, chat_id=chat.id)
        was_paused = chat.paused
        next_at = chat.next_digest_at
        if was_paused:
            await chats.set_paused(session=session, chat_id=chat.id, paused=False)
            # The moment kept from before the pause is likely overdue; recomputing from now
            # means no digest fires the minute the chat resumes.
            if subscribed or next_at is not None:
                next_at = await upcoming_digest(
                    ctx,
                    session=session,
                    chat_id=chat.id,
                    tz_name=chat.timezone,
                    at=chat.digest_time,
                    weekday=chat.digest_weekday,
                )
                await chats.set_next_digest_at(session=session, chat_id=chat.id, when=next_at)
        tz_name = chat.timezone
    await answer(
        message,
        ctx,
        texts.resumed(
            was_paused=was_paused,
            next_at=next_at,
            tz_name=tz_name,
            now=now,
            subscribed=subscribed,
        ),
    )


async def set_format(update: Update, ctx: AppContext) -> None:
    """``/format компактный`` or ``полный``; without a value, the current format with buttons."""
    message = update.effective_message
    if message is None:
        return
    raw = command_args(ctx).strip()
    if not raw:
        chat, _ = await touch_chat(update, ctx)
        current = DigestFormat(chat.digest_format)
        await answer(message, ctx, texts.format_usage(current), reply_markup=_buttons(current))
        return
    if await refuse_non_admin(update, ctx):
        return
    chosen = parse_format(raw)
    if chosen is None:
        chat, _ = await touch_chat(update, ctx)
        current = DigestFormat(chat.digest_format)
        await answer(message, ctx, texts.bad_format(raw), reply_markup=_buttons(current))
        return
    changed = await _change_format(update, ctx, chosen)
    await answer(message, ctx, texts.format_changed(chosen, changed=changed))


async def format_button(update: Update, ctx: AppContext) -> None:
    """A press on a format button: switch the format and mark the new one in place."""
    query = update.callback_query
    if query is None:
        return
    chosen = keyboards.decode_format(query.data)
    if chosen is None:
        await query.answer(texts.FORMAT_BUTTON_EXPIRED)
        return
    if await refuse_non_admin(update, ctx, alert=texts.FORMAT_ADMINS_ONLY_SHORT):
        return
    await _change_format(update, ctx, chosen)
    await query.answer(texts.format_toast(chosen))
    await edit_in_place(query.message, headed(ctx, texts.format_usage(chosen)), _buttons(chosen))


def _buttons(current: DigestFormat) -> InlineKeyboardMarkup:
    return keyboards.format_keyboard(current, texts.FORMAT_BUTTONS)


async def _change_format(update: Update, ctx: AppContext, chosen: DigestFormat) -> bool:
    """Set the chat's format; False when it was that already."""
    async with chat_unit(update, ctx) as (session, chat, _):
        changed = chat.digest_format != chosen
        if changed:
            await chats.set_digest_format(
                session=session, chat_id=chat.id, digest_format=chosen.value
            )
    return changed


async def set_weekly(update: Update, ctx: AppContext) -> None:
    """``/weekly пятница``: one digest a week on that day; without a day, weekday buttons."""
    message = update.effective_message
    if message is None:
        return
    raw = command_args(ctx).strip()
    if not raw:
        chat, _ = await touch_chat(update, ctx)
        await answer(
            message,
            ctx,
            texts.weekly_usage(chat.digest_weekday, chat.digest_time),
            reply_markup=_rhythm_buttons(chat.digest_weekday),
        )
        return
    if await refuse_non_admin(update, ctx):
        return
    weekday = parse_weekday(raw)
    if weekday is None:
        chat, _ = await touch_chat(update, ctx)
        await answer(
            message, ctx, texts.bad_weekday(raw), reply_markup=_rhythm_buttons(chat.digest_weekday)
        )
        return
    await answer(message, ctx, await _change_rhythm(update, ctx, weekday))


async def set_daily(update: Update, ctx: AppContext) -> None:
    """``/daily``: back to a digest every day."""
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx):
        return
    await answer(message, ctx, await _change_rhythm(update, ctx, None))


async def rhythm_button(update: Update, ctx: AppContext) -> None:
    """A press on a weekday or daily button: switch the rhythm and mark the new one in place."""
    query = update.callback_query
    if query is None:
        return
    chosen = keyboards.decode_rhythm(query.data)
    if chosen is None:
        await query.answer(texts.RHYTHM_BUTTON_EXPIRED)
        return
    if await refuse_non_admin(update, ctx, alert=texts.RHYTHM_ADMINS_ONLY_SHORT):
        return
    reply = await _change_rhythm(update, ctx, chosen.weekday)
    await query.answer(texts.rhythm_toast(chosen.weekday))
    await edit_in_place(query.message, headed(ctx, reply), _rhythm_buttons(chosen.weekday))


def _rhythm_buttons(current: int | None) -> InlineKeyboardMarkup:
    return keyboards.rhythm_keyboard(current, texts.WEEKDAY_BUTTONS, texts.DAILY_BUTTON)


async def _change_rhythm(update: Update, ctx: AppContext, weekday: int | None) -> str:
    """Make the chat weekly on ``weekday`` or daily (None), reschedule it; the reply to show."""
    now = ctx.services.now()
    async with chat_unit(update, ctx) as (session, chat, tags):
        subscribed = bool(tags) or await follows.has_follows(session=session, chat_id=chat.id)
        changed = chat.digest_weekday != weekday
        next_at = chat.next_digest_at
        if changed:
            # As with /time: only a scheduled chat gets a new moment, and at once.
            if subscribed or next_at is not None:
                next_at = await upcoming_digest(
                    ctx,
                    session=session,
                    chat_id=chat.id,
                    tz_name=chat.timezone,
                    at=chat.digest_time,
                    weekday=weekday,
                )
            await chats.set_rhythm(
                session=session, chat_id=chat.id, weekday=weekday, next_digest_at=next_at
            )
        return texts.rhythm_changed(
            weekday=weekday,
            changed=changed,
            digest_time=chat.digest_time,
            tz_name=chat.timezone,
            now=now,
            next_at=next_at,
            paused=chat.paused,
            subscribed=subscribed,
        )
