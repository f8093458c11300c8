"""Chats: registration, digest scheduling state and reachability."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import BigInteger, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name, insert_ignoring_conflicts
from storage.models import (
    Chat,
    ChatAdmin,
    Delivery,
    DigestRun,
    Feedback,
    Follow,
    ManagedChat,
    Subscription,
)


class ChatWithTags(NamedTuple):
    """A chat's row and its subscribed tags (sorted), read together."""

    chat: Chat
    tags: list[str]


async def ensure_chat(
    *,
    session: AsyncSession,
    chat_id: int,
    chat_type: str,
    language: str | None,
    timezone: str,
    digest_time: dt.time,
) -> ChatWithTags:
    """Return the chat and its tags, creating the chat with these settings if new.

    An inactive chat is reactivated. The chat's row stays locked until the transaction
    ends, so what the caller read is what it changes.
    """
    loaded = await _load_locked(session, chat_id)
    if loaded is not None:
        if not loaded.chat.active:
            # A chat that writes to us is reachable again.
            loaded.chat.active = True
            await session.flush()
        return loaded
    # INSERT ... ON CONFLICT DO NOTHING keeps two concurrent first messages from racing
    # into an IntegrityError; an existing chat keeps the settings the user chose.
    await session.execute(
        insert_ignoring_conflicts(session, Chat).values(
            id=chat_id,
            type=chat_type,
            language=language,
            timezone=timezone,
            digest_time=digest_time,
        )
    )
    loaded = await _load_locked(session, chat_id)
    if loaded is None:
        raise LookupError(f"chat {chat_id} vanished right after being ensured")
    return loaded


async def _load_locked(session: AsyncSession, chat_id: int) -> ChatWithTags | None:
    # Locking in a statement of its own: under READ COMMITTED a statement that waited for the
    # lock still reads the tags as they were when it started, before the holder committed.
    await lock_chat(session=session, chat_id=chat_id)
    tags = (
        select(func.aggregate_strings(Subscription.tag, " "))
        .where(Subscription.chat_id == Chat.id)
        .scalar_subquery()
    )
    row = (await session.execute(select(Chat, tags).where(Chat.id == chat_id))).one_or_none()
    if row is None:
        return None
    chat, tags = row
    return ChatWithTags(chat, sorted(tags.split()) if tags else [])


async def get_chat(*, session: AsyncSession, chat_id: int) -> Chat | None:
    """Return the chat with this id, or None."""
    return await session.get(Chat, chat_id)


async def set_next_digest_at(
    *, session: AsyncSession, chat_id: int, when: dt.datetime | None
) -> None:
    """Set (or clear with None) the aware moment of the chat's next digest."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(next_digest_at=when))


async def set_schedule(
    *,
    session: AsyncSession,
    chat_id: int,
    timezone: str,
    digest_time: dt.time,
    next_digest_at: dt.datetime | None,
) -> None:
    """Set the chat's timezone name and local delivery time with the moment they imply."""
    await session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(timezone=timezone, digest_time=digest_time, next_digest_at=next_digest_at)
    )


async def set_paused(*, session: AsyncSession, chat_id: int, paused: bool) -> None:
    """Pause or resume the chat's scheduled digests; subscriptions stay as they are."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(paused=paused))


async def set_digest_format(*, session: AsyncSession, chat_id: int, digest_format: str) -> None:
    """Set how the chat's digests lay papers out (a ``content.render.DigestFormat`` value)."""
    await session.execute(
        update(Chat).where(Chat.id == chat_id).values(digest_format=digest_format)
    )


async def set_rhythm(
    *,
    session: AsyncSession,
    chat_id: int,
    weekday: int | None,
    next_digest_at: dt.datetime | None,
) -> None:
    """Make the chat's digest weekly on ``weekday`` (Monday is 0), or daily with None."""
    await session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(digest_weekday=weekday, next_digest_at=next_digest_at)
    )


async def set_active(*, session: AsyncSession, chat_id: int, active: bool) -> None:
    """Mark the chat reachable or not (e.g. after the bot was blocked or kicked)."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(active=active))


async def lock_chat(*, session: AsyncSession, chat_id: int) -> None:
    """Serialise concurrent writers of this chat's rows until the transaction ends."""
    # On SQLite every transaction already holds the database's write lock from BEGIN
    # IMMEDIATE on (see storage.db), so only PostgreSQL needs a row lock.
    if dialect_name(session) != "sqlite":
        await session.execute(select(Chat.id).where(Chat.id == chat_id).with_for_update())


async def migrate_chat(*, session: AsyncSession, old_id: int, new_id: int) -> bool:
    """Move a group that became a supergroup to its new id; False if there was nothing to move.

    Subscriptions, follows, mutes, feedback, settings, delivery history, digest runs, the
    remembered admins and the private chats that run it follow.
    If the new id is known already (its first message came before the news of the move), the
    old chat's settings win and both histories are kept.
    """
    await lock_chat(session=session, chat_id=old_id)
    old = await session.get(Chat, old_id)
    if old is None or old_id == new_id:
        return False
    await lock_chat(session=session, chat_id=new_id)
    settings = {
        "type": "supergroup",
        "language": old.language,
        "timezone": old.timezone,
        "digest_time": old.digest_time,
        "next_digest_at": old.next_digest_at,
        "claimed_until": old.claimed_until,
        "paused": old.paused,
        "active": old.active,
        "digest_format": old.digest_format,
        "digest_weekday": old.digest_weekday,
        "title": old.title,
    }
    await session.execute(
        insert_ignoring_conflicts(session, Chat).values(
            id=new_id, created_at=old.created_at, **settings
        )
    )
    await session.execute(update(Chat).where(Chat.id == new_id).values(**settings))
    for model, columns in _CHAT_HISTORY:
        await session.execute(
            insert_ignoring_conflicts(session, model).from_select(
                ["chat_id", *columns],
                select(literal(new_id, BigInteger), *(getattr(model, c) for c in columns)).where(
                    model.chat_id == old_id
                ),
            )
        )
    # Whoever ran the group from a private chat goes on running it under its new id.
    await session.execute(
        update(ManagedChat).where(ManagedChat.chat_id == old_id).values(chat_id=new_id)
    )
    # ON DELETE CASCADE takes the old chat's rows with it.
    await session.execute(delete(Chat).where(Chat.id == old_id))
    session.expunge_all()
    return True


# What moves with a chat, by model: the columns besides chat_id (surrogate ids are left out).
_CHAT_HISTORY: tuple[
    tuple[
        type[Subscription]
        | type[Follow]
        | type[Feedback]
        | type[Delivery]
        | type[DigestRun]
        | type[ChatAdmin],
        list[str],
    ],
    ...,
] = (
    (Subscription, ["tag", "created_at"]),
    (ChatAdmin, ["user_id", "created_at"]),
    (Follow, ["kind", "key", "text", "created_at"]),
    (Feedback, ["paper_id", "vote", "weight", "created_at"]),
    (Delivery, ["paper_id", "delivered_at", "code_url_sent"]),
    (
        DigestRun,
        ["local_date", "status", "attempts", "error", "started_at", "finished_at"],
    ),
)
