"""/follow, /unfollow, /author, /mute, /unmute and their ✖️ buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import (
    answer,
    chat_unit,
    edit_in_place,
    headed,
    refuse_non_admin,
    schedule_first_digest,
)
from content import matching, taxonomy
from content.matching import AUTHOR, MAX_FOLLOW_CHARS, MAX_KEY_CHARS, MUTE_TAG, MUTE_WORD, WORD
from storage import follows
from storage.follows import FOLLOW_KINDS, MUTE_KINDS, FollowItem

# Several follows at once: one per line or between commas.
_SEPARATORS: Final = re.compile(r"[,\n]+")
# A message is at most 4096 characters; nobody means more items than this at once.
_MAX_ITEMS: Final[int] = 100


@dataclass(slots=True)
class _Parsed:
    """A command's items sorted by what they turned out to be."""

    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # kind → (key, text)
    too_long: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    unknown_tags: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, kind: str, key: str, text: str) -> None:
        self.items.setdefault(kind, []).append((key, text))


def _arguments(message: Message) -> list[str]:
    """The items after the command, split by commas and line breaks (lost in ``ctx.args``)."""
    text = message.text or ""
    parts = text.split(maxsplit=1)
    rest = parts[1] if len(parts) > 1 else ""
    items = [" ".join(item.split()) for item in _SEPARATORS.split(rest)]
    return [item for item in items if item][:_MAX_ITEMS]


def _parse(raw: list[str], kind: str) -> _Parsed:
    """Read items as followed words, authors, or mutes (words and ``#tags``)."""
    parsed = _Parsed()
    for item in raw:
        if len(item) > MAX_FOLLOW_CHARS:
            parsed.too_long.append(item)
            continue
        if kind == MUTE_WORD and item.startswith("#"):
            resolution = taxonomy.resolve_tags(item)
            for tag in resolution.tags:
                parsed.add(MUTE_TAG, tag, taxonomy.hashtag(tag))
            parsed.unknown_tags += [(u.raw, u.suggestion) for u in resolution.unknown]
            if resolution.is_empty:
                parsed.unreadable.append(item)
            continue
        key = matching.author_key(item) if kind == AUTHOR else matching.phrase_key(item)
        if kind == WORD and matching.phrase_tags(item):
            # "#mllm" is a subscription; the answer says how to make it.
            parsed.tags += matching.phrase_tags(item)
        elif key is None:
            parsed.unreadable.append(item)
        elif len(key) > MAX_KEY_CHARS:
            parsed.too_long.append(item)
        else:
            parsed.add(kind, key, item)
    return parsed


async def follow(update: Update, ctx: AppContext) -> None:
    """/follow words: follow phrases; alone, list follows and authors with ✖️ buttons."""
    await _add(update, ctx, WORD)


async def author(update: Update, ctx: AppContext) -> None:
    """/author name: follow an author; alone, explain and list follows."""
    await _add(update, ctx, AUTHOR)


async def mute(update: Update, ctx: AppContext) -> None:
    """/mute word or #tag: keep such papers out; alone, list mutes with ✖️ buttons."""
    await _add(update, ctx, MUTE_WORD)


async def _add(update: Update, ctx: AppContext, kind: str) -> None:
    message = update.effective_message
    if message is None:
        return
    raw = _arguments(message)
    muting = kind == MUTE_WORD
    if not raw:
        await _send_list(update, ctx, mutes=muting, usage=kind == AUTHOR)
        return
    if await refuse_non_admin(update, ctx):
        return
    parsed = _parse(raw, kind)
    limit = ctx.settings.max_mutes if muting else ctx.settings.max_follows
    added: list[str] = []
    already: list[str] = []
    over: list[str] = []
    next_at = None
    async with chat_unit(update, ctx) as (session, chat, _):
        for item_kind, items in parsed.items.items():
            result = await follows.add_follows(
                session=session, chat_id=chat.id, kind=item_kind, items=items, limit=limit
            )
            added += result.added
            already += result.already
            over += result.over_limit
        if added and not muting:
            next_at = await schedule_first_digest(ctx, session=session, chat=chat)
    await answer(
        message,
        ctx,
        texts.follows_changed(
            what="mute" if muting else kind,
            added=added,
            already=already,
            over_limit=over,
            too_long=parsed.too_long,
            unreadable=parsed.unreadable,
            tags=parsed.tags,
            unknown_tags=parsed.unknown_tags,
            limit=limit,
            next_at=next_at,
            tz_name=chat.timezone,
            now=ctx.services.now(),
        ),
    )


async def unfollow(update: Update, ctx: AppContext) -> None:
    """/unfollow words or a name; alone, list follows with ✖️ buttons."""
    await _remove(update, ctx, mutes=False)


async def unmute(update: Update, ctx: AppContext) -> None:
    """/unmute word or #tag; alone, list mutes with ✖️ buttons."""
    await _remove(update, ctx, mutes=True)


async def _remove(update: Update, ctx: AppContext, *, mutes: bool) -> None:
    message = update.effective_message
    if message is None:
        return
    raw = _arguments(message)
    if not raw:
        await _send_list(update, ctx, mutes=mutes)
        return
    if await refuse_non_admin(update, ctx):
        return
    removed: list[str] = []
    missing: list[str] = []
    async with chat_unit(update, ctx) as (session, chat, _):
        for item in raw:
            gone: list[FollowItem] = []
            for kind, key in _candidate_keys(item, mutes=mutes):
                gone += await follows.remove_follows(
                    session=session, chat_id=chat.id, kind=kind, keys=[key]
                )
            if not gone and not mutes:
                # "/unfollow LeCun" for a followed "Yann LeCun".
                gone += await _remove_author(session, chat.id, item)
            if gone:
                removed += [found.text for found in gone]
            else:
                missing.append(item)
    await answer(message, ctx, texts.follows_removed(removed=removed, missing=missing, mute=mutes))


async def _remove_author(session: AsyncSession, chat_id: int, name: str) -> list[FollowItem]:
    """Remove the followed authors that this name's words name."""
    words = matching.name_words(name)
    if not matching.author_key(name):
        return []
    authors = await follows.list_follows(session=session, chat_id=chat_id, kinds=[AUTHOR])
    keys = [a.key for a in authors if matching.author_matches(words, a.key.split())]
    return await follows.remove_follows(session=session, chat_id=chat_id, kind=AUTHOR, keys=keys)


def _candidate_keys(item: str, *, mutes: bool) -> list[tuple[str, str]]:
    """The (kind, key) pairs an /unfollow or /unmute item may name."""
    found: list[tuple[str, str]] = []
    if mutes and item.startswith("#"):
        found += [(MUTE_TAG, tag) for tag in taxonomy.resolve_tags(item).tags]
        return found
    phrase = matching.phrase_key(item)
    if phrase is not None:
        found.append((MUTE_WORD if mutes else WORD, phrase))
    if not mutes and (name := matching.author_key(item)) is not None:
        found.append((AUTHOR, name))
    return found


async def _send_list(update: Update, ctx: AppContext, *, mutes: bool, usage: bool = False) -> None:
    """The chat's follows or mutes with a ✖️ button each, or how to add some."""
    message = update.effective_message
    if message is None:
        return
    async with chat_unit(update, ctx) as (session, chat, _):
        items = await follows.list_follows(
            session=session, chat_id=chat.id, kinds=MUTE_KINDS if mutes else FOLLOW_KINDS
        )
    if usage:
        await answer(message, ctx, texts.AUTHOR_USAGE)
        if not items:
            return
    if not items:
        await answer(message, ctx, texts.NOTHING_MUTED if mutes else texts.NOTHING_FOLLOWED)
        return
    await answer(
        message,
        ctx,
        _list_text(ctx, items, mutes=mutes),
        reply_markup=keyboards.follows_keyboard(items),
    )


def _list_text(ctx: AppContext, items: list[FollowItem], *, mutes: bool) -> str:
    if mutes:
        return texts.mutes_list(
            words=[i.text for i in items if i.kind == MUTE_WORD],
            tags=[i.key for i in items if i.kind == MUTE_TAG],
            limit=ctx.settings.max_mutes,
        )
    return texts.follows_list(
        words=[i.text for i in items if i.kind == WORD],
        authors=[i.text for i in items if i.kind == AUTHOR],
        limit=ctx.settings.max_follows,
    )


async def remove_button(update: Update, ctx: AppContext) -> None:
    """A ✖️ press: remove that follow or mute, and update the list in place."""
    query = update.callback_query
    if query is None:
        return
    pressed = keyboards.decode_follow(query.data)
    if pressed is None:
        await query.answer(texts.FOLLOW_BUTTON_EXPIRED)
        return
    if await refuse_non_admin(update, ctx, alert=texts.FOLLOW_ADMINS_ONLY_SHORT):
        return
    mutes = pressed.kind in MUTE_KINDS
    kinds = MUTE_KINDS if mutes else FOLLOW_KINDS
    async with chat_unit(update, ctx) as (session, chat, _):
        items = await follows.list_follows(session=session, chat_id=chat.id, kinds=kinds)
        target = next(
            (
                i
                for i in items
                if i.kind == pressed.kind and keyboards.key_hash(i.kind, i.key) == pressed.key_hash
            ),
            None,
        )
        if target is not None:
            await follows.remove_follows(
                session=session, chat_id=chat.id, kind=target.kind, keys=[target.key]
            )
            items.remove(target)
    if target is None:
        await query.answer(texts.FOLLOW_BUTTON_EXPIRED)
    else:
        await query.answer(texts.follow_removed_toast(target.text))
    if items:
        text = _list_text(ctx, items, mutes=mutes)
        await edit_in_place(query.message, headed(ctx, text), keyboards.follows_keyboard(items))
    else:
        text = texts.NOTHING_MUTED if mutes else texts.NOTHING_FOLLOWED
        await edit_in_place(query.message, headed(ctx, text))
