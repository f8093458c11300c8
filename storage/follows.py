"""A chat's followed words and authors, and its muted words and tags, capped per chat.

Follows (words and authors) share one limit, mutes (words and tags) another. Each row keeps
the key that matching and duplicates go by (``content.matching``) and the text as typed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.matching import AUTHOR, MUTE_TAG, MUTE_WORD, WORD, Profile, profile
from storage.chats import lock_chat
from storage.db import in_values, insert_ignoring_conflicts
from storage.models import Follow

FOLLOW_KINDS: Final[tuple[str, ...]] = (WORD, AUTHOR)
"""Kinds that bring papers; they share the chat's follow limit."""

MUTE_KINDS: Final[tuple[str, ...]] = (MUTE_WORD, MUTE_TAG)
"""Kinds that keep papers out; they share the chat's mute limit."""


class FollowItem(NamedTuple):
    """One stored follow or mute."""

    kind: str
    key: str
    text: str


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of add_follows, each list of texts in the order given."""

    added: list[str]
    already: list[str]
    over_limit: list[str]


async def list_follows(
    *, session: AsyncSession, chat_id: int, kinds: Sequence[str]
) -> list[FollowItem]:
    """The chat's follows of these kinds, oldest first (then by key)."""
    rows = await session.execute(
        select(Follow.kind, Follow.key, Follow.text, Follow.created_at).where(
            Follow.chat_id == chat_id, Follow.kind.in_(kinds)
        )
    )
    ordered = sorted(rows.all(), key=lambda row: (row.created_at, row.kind, row.key))
    return [FollowItem(row.kind, row.key, row.text) for row in ordered]


async def add_follows(
    *,
    session: AsyncSession,
    chat_id: int,
    kind: str,
    items: Sequence[tuple[str, str]],
    limit: int,
) -> AddResult:
    """Add ``(key, text)`` follows of one kind in order, never exceeding ``limit`` in its group.

    The group is follows (words and authors) or mutes (words and tags). A key the chat has
    already, in this kind, is reported as such and keeps its first text.
    """
    group = FOLLOW_KINDS if kind in FOLLOW_KINDS else MUTE_KINDS
    # Without the lock two concurrent requests could both see room for one more.
    await lock_chat(session=session, chat_id=chat_id)
    current = await list_follows(session=session, chat_id=chat_id, kinds=group)
    mine = {item.key for item in current if item.kind == kind}
    room = limit - len(current)
    added: list[tuple[str, str]] = []
    already: list[str] = []
    over: list[str] = []
    for key, text in items:
        if key in mine:
            already.append(text)
        elif len(added) < room:
            added.append((key, text))
            mine.add(key)
        else:
            over.append(text)
    if added:
        await session.execute(
            insert_ignoring_conflicts(session, Follow),
            [{"chat_id": chat_id, "kind": kind, "key": key, "text": text} for key, text in added],
        )
    return AddResult(added=[text for _, text in added], already=already, over_limit=over)


async def remove_follows(
    *, session: AsyncSession, chat_id: int, kind: str, keys: Sequence[str]
) -> list[FollowItem]:
    """Remove these keys of one kind; return the follows that were there."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    rows = await session.execute(
        select(Follow.kind, Follow.key, Follow.text).where(
            Follow.chat_id == chat_id, Follow.kind == kind, Follow.key.in_(wanted)
        )
    )
    found = {row.key: FollowItem(row.kind, row.key, row.text) for row in rows.all()}
    if found:
        await session.execute(
            delete(Follow).where(
                Follow.chat_id == chat_id, Follow.kind == kind, Follow.key.in_(list(found))
            )
        )
    return [found[key] for key in wanted if key in found]


async def has_follows(*, session: AsyncSession, chat_id: int) -> bool:
    """Whether the chat follows any word or author (so it gets digests without tags)."""
    found = await session.scalar(
        select(Follow.key).where(Follow.chat_id == chat_id, Follow.kind.in_(FOLLOW_KINDS)).limit(1)
    )
    return found is not None


async def load_profiles(
    *, session: AsyncSession, tags: Mapping[int, Sequence[str]]
) -> dict[int, Profile]:
    """Each chat's profile: its given tags with its follows and mutes, read in one query."""
    follows: dict[int, list[tuple[str, str, str]]] = {}
    if tags:
        rows = await session.execute(
            select(Follow.chat_id, Follow.kind, Follow.key, Follow.text).where(
                in_values(session, Follow.chat_id, list(tags))
            )
        )
        for chat_id, kind, key, text in rows.all():
            follows.setdefault(chat_id, []).append((kind, key, text))
    found: dict[int, Profile] = {}
    for chat_id, chat_tags in tags.items():
        if chat_id in follows:
            found[chat_id] = profile(chat_tags, follows[chat_id])
        else:
            found[chat_id] = _plain_profile(tuple(sorted(chat_tags)))
    return found


@functools.lru_cache(maxsize=65536)
def _plain_profile(tags: tuple[str, ...]) -> Profile:
    # Chats without follows (nearly all) share one profile object per tag set, batch after
    # batch of a broadcast: equal profiles then compare by identity at once.
    return profile(tags)
