"""/subscribe, /unsubscribe, /tags, /mytags and the tag buttons."""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import BadRequest

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import (
    answer,
    chat_unit,
    command_args,
    headed,
    is_not_modified,
    refuse_non_admin,
    schedule_first_digest,
)
from bot.keyboards import Action
from content import taxonomy
from content.matching import KINDS
from content.render import DigestFormat
from storage import follows, papers, subscriptions


async def subscribe(update: Update, ctx: AppContext) -> None:
    """Subscribe to the tags given; unknown ones get a "did you mean" button."""
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx):
        return
    resolution = taxonomy.resolve_tags(command_args(ctx))
    if resolution.is_empty:
        # No arguments, or nothing that could be a tag (say, only emoji or punctuation).
        await answer(message, ctx, texts.SUBSCRIBE_USAGE)
        await send_tags_overview(update, ctx)
        return
    settings = ctx.settings
    now = ctx.services.now()
    async with chat_unit(update, ctx) as (session, chat, current):
        result = await subscriptions.add_tags(
            session=session,
            chat_id=chat.id,
            tags=resolution.tags,
            limit=settings.max_subscriptions,
            existing=current,
        )
        next_at = None
        if result.added:
            next_at = await schedule_first_digest(ctx, session=session, chat=chat)
    unknown = [(u.raw, u.suggestion) for u in resolution.unknown]
    text = texts.subscribed(
        added=result.added,
        already=result.already,
        over_limit=result.rejected_over_limit,
        unknown=unknown,
        limit=settings.max_subscriptions,
        next_at=next_at if next_at and next_at > now else None,
        tz_name=chat.timezone,
        now=now,
    )
    shown = unknown[: texts.MAX_UNKNOWN_SHOWN]
    suggestions = list(dict.fromkeys(s for _, s in shown if s))
    markup = keyboards.suggestions_keyboard(suggestions) if suggestions else None
    await answer(message, ctx, text, reply_markup=markup)


async def unsubscribe(update: Update, ctx: AppContext) -> None:
    """Remove the tags given; without arguments, offer buttons of current tags."""
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx):
        return
    resolution = taxonomy.resolve_tags(command_args(ctx))
    async with chat_unit(update, ctx) as (session, chat, before):
        current = before
        removed: list[str] = []
        if resolution.tags:
            removed = await subscriptions.remove_tags(
                session=session, chat_id=chat.id, tags=resolution.tags, existing=before
            )
            current = [t for t in before if t not in removed]
    if resolution.is_empty:
        if current:
            await answer(
                message,
                ctx,
                texts.UNSUBSCRIBE_PICK,
                reply_markup=keyboards.unsubscribe_keyboard(current),
            )
        else:
            await answer(message, ctx, texts.NOTHING_TO_UNSUBSCRIBE)
        return
    text = texts.unsubscribed(
        removed=removed,
        missing=[t for t in resolution.tags if t not in removed],
        unknown=[(u.raw, u.suggestion) for u in resolution.unknown],
        remaining=current,
    )
    await answer(message, ctx, text)


async def send_tags_overview(update: Update, ctx: AppContext) -> None:
    """Send the tag overview with ✅ marks for this chat."""
    message = update.effective_message
    if message is None:
        return
    async with chat_unit(update, ctx) as (session, _, mine):
        counts = await papers.count_by_tag(session=session)
    await answer(
        message,
        ctx,
        texts.tags_overview(subscribed=mine, paper_counts=counts),
        reply_markup=keyboards.all_tags_keyboard(mine),
    )


async def mytags(update: Update, ctx: AppContext) -> None:
    """Show this chat's subscriptions and delivery settings."""
    message = update.effective_message
    if message is None:
        return
    async with chat_unit(update, ctx) as (session, chat, tags):
        followed = await follows.list_follows(session=session, chat_id=chat.id, kinds=KINDS)
    await answer(
        message,
        ctx,
        texts.mytags(
            tags=tags,
            follows=[(item.kind, item.text) for item in followed],
            digest_time=chat.digest_time,
            tz_name=chat.timezone,
            now=ctx.services.now(),
            paused=chat.paused,
            next_at=chat.next_digest_at,
            digest_format=DigestFormat(chat.digest_format),
            weekday=chat.digest_weekday,
        ),
    )


async def tag_button(update: Update, ctx: AppContext) -> None:
    """Handle a press on any tag button and update the message in place."""
    query = update.callback_query
    if query is None:
        return
    pressed = keyboards.decode(query.data)
    if pressed is None:
        await query.answer(texts.BUTTON_EXPIRED)
        return
    if await refuse_non_admin(update, ctx):
        return
    limit = ctx.settings.max_subscriptions
    counts: dict[str, int] = {}
    async with chat_unit(update, ctx) as (session, chat, before):
        if pressed.action is Action.UNSUBSCRIBE:
            await subscriptions.remove_tags(
                session=session, chat_id=chat.id, tags=[pressed.tag], existing=before
            )
            state: bool | None = False
        elif pressed.action is Action.SUBSCRIBE:
            result = await subscriptions.add_tags(
                session=session, chat_id=chat.id, tags=[pressed.tag], limit=limit, existing=before
            )
            state = None if result.rejected_over_limit else True
        else:
            state = await subscriptions.toggle_tag(
                session=session, chat_id=chat.id, tag=pressed.tag, limit=limit, existing=before
            )
        if state:
            await schedule_first_digest(ctx, session=session, chat=chat)
        mine = await subscriptions.list_tags(session=session, chat_id=chat.id)
        if pressed.action is Action.TOGGLE_ALL:
            counts = await papers.count_by_tag(session=session)
    await query.answer(texts.toggled(pressed.tag, state, limit))
    message = query.message
    if not isinstance(message, Message):
        return  # too old to edit: Telegram no longer tells us its content
    try:
        await _refresh(message, pressed.action, pressed.tag, mine, counts, ctx=ctx)
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


async def _refresh(
    message: Message,
    action: Action,
    tag: str,
    mine: list[str],
    counts: dict[str, int],
    *,
    ctx: AppContext,
) -> None:
    if action is Action.TOGGLE_ALL:
        await message.edit_text(
            headed(ctx, texts.tags_overview(subscribed=mine, paper_counts=counts)),
            parse_mode="HTML",
            reply_markup=keyboards.all_tags_keyboard(mine),
        )
    elif action is Action.TOGGLE_POPULAR:
        await message.edit_reply_markup(keyboards.popular_keyboard(mine))
    elif action is Action.SUBSCRIBE:
        rest = _other_suggestions(message, exclude=set(mine))
        await message.edit_text(
            f"{message.text_html}\n\n{texts.subscribed_by_button(tag)}",
            parse_mode="HTML",
            reply_markup=keyboards.suggestions_keyboard(rest) if rest else None,
        )
    elif mine:
        await message.edit_reply_markup(keyboards.unsubscribe_keyboard(mine))
    else:
        await message.edit_text(headed(ctx, texts.NOTHING_TO_UNSUBSCRIBE), parse_mode="HTML")


def _other_suggestions(message: Message, exclude: set[str]) -> list[str]:
    markup = message.reply_markup
    if markup is None:
        return []
    found: list[str] = []
    for row in markup.inline_keyboard:
        for button in row:
            data = button.callback_data if isinstance(button.callback_data, str) else None
            pressed = keyboards.decode(data)
            if pressed and pressed.action is Action.SUBSCRIBE and pressed.tag not in exclude:
                found.append(pressed.tag)
    return found
