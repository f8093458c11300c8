"""Chat subscriptions to topic tags, capped per chat."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.chats import lock_chat
from storage.db import insert_ignoring_conflicts
from storage.models import Subscription


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of add_tags, each list in the order the tags were given."""

    added: list[str]
    already: list[str]
    rejected_over_limit: list[str]


async def list_tags(*, session: AsyncSession, chat_id: int) -> list[str]:
    """Return the chat's subscribed tags, sorted."""
    tags = await session.scalars(select(Subscription.tag).where(Subscription.chat_id == chat_id))
    # Sorted in Python: PostgreSQL's locale collation and SQLite's byte order disagree on
    # punctuation, and the UI should not depend on the database.
    return sorted(tags)


async def add_tags(
    *,
    session: AsyncSession,
    chat_id: int,
    tags: Sequence[str],
    limit: int,
    existing: Collection[str] | None = None,
) -> AddResult:
    """Subscribe the chat to ``tags`` in order, never exceeding ``limit`` subscriptions.

    ``existing`` saves a read: the chat's tags as ``storage.chats.ensure_chat`` returned
    them in this transaction, under the chat's lock.
    """
    wanted = list(dict.fromkeys(tags))
    if not wanted:
        return AddResult(added=[], already=[], rejected_over_limit=[])
    current = await _locked_tags(session, chat_id, existing)
    added: list[str] = []
    already: list[str] = []
    rejected: list[str] = []
    for tag in wanted:
        if tag in current:
            already.append(tag)
        elif len(current) + len(added) < limit:
            added.append(tag)
        else:
            rejected.append(tag)
    if added:
        await session.execute(
            insert_ignoring_conflicts(session, Subscription),
            [{"chat_id": chat_id, "tag": tag} for tag in added],
        )
    return AddResult(added=added, already=already, rejected_over_limit=rejected)


async def remove_tags(
    *,
    session: AsyncSession,
    chat_id: int,
    tags: Sequence[str],
    existing: Collection[str] | None = None,
) -> list[str]:
    """Unsubscribe the chat from ``tags``; return those it was actually subscribed to.

    ``existing`` saves a read, as in ``add_tags``.
    """
    current = await _locked_tags(session, chat_id, existing)
    removed = [tag for tag in dict.fromkeys(tags) if tag in current]
    if removed:
        await session.execute(
            delete(Subscription).where(
                Subscription.chat_id == chat_id, Subscription.tag.in_(removed)
            )
        )
    return removed


async def toggle_tag(
    *,
    session: AsyncSession,
    chat_id: int,
    tag: str,
    limit: int,
    existing: Collection[str] | None = None,
) -> bool | None:
    """Flip one subscription: True if now subscribed, False if not, None if over the limit.

    ``existing`` saves a read, as in ``add_tags``.
    """
    current = await _locked_tags(session, chat_id, existing)
    if tag in current:
        await session.execute(
            delete(Subscription).where(Subscription.chat_id == chat_id, Subscription.tag == tag)
        )
        return False
    if len(current) >= limit:
        return None
    await session.execute(
        insert_ignoring_conflicts(session, Subscription), {"chat_id": chat_id, "tag": tag}
    )
    return True


async def _locked_tags(
    session: AsyncSession, chat_id: int, existing: Collection[str] | None
) -> set[str]:
    if existing is not None:
        return set(existing)
    # Without the lock two concurrent requests could both see room for one more tag.
    await lock_chat(session=session, chat_id=chat_id)
    return set(await list_tags(session=session, chat_id=chat_id))


async def count_subscribers(*, session: AsyncSession, tag: str) -> int:
    """Return how many chats (inactive ones included) are subscribed to ``tag``."""
    count = await session.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.tag == tag)
    )
    return count or 0
