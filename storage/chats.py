"""Chats: registration, digest scheduling state and reachability."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name, insert_ignoring_conflicts
from storage.models import Chat


async def ensure_chat(
    *,
    session: AsyncSession,
    chat_id: int,
    chat_type: str,
    language: str | None,
    timezone: str,
    digest_time: dt.time,
) -> Chat:
    """Return the chat, creating it with these settings if new and reactivating it if inactive."""
    # Every update of a known chat comes through here, so the common path is one read.
    chat = await session.get(Chat, chat_id)
    if chat is not None:
        if not chat.active:
            # A chat that writes to us is reachable again.
            chat.active = True
            await session.flush()
        return chat
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
    chat = await session.get(Chat, chat_id, populate_existing=True)
    if chat is None:
        raise LookupError(f"chat {chat_id} vanished right after being ensured")
    return chat


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


async def set_active(*, session: AsyncSession, chat_id: int, active: bool) -> None:
    """Mark the chat reachable or not (e.g. after the bot was blocked or kicked)."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(active=active))


async def lock_chat(*, session: AsyncSession, chat_id: int) -> None:
    """Serialise concurrent writers of this chat's rows until the transaction ends."""
    # On SQLite every transaction already holds the database's write lock from BEGIN
    # IMMEDIATE on (see storage.db), so only PostgreSQL needs a row lock.
    if dialect_name(session) != "sqlite":
        await session.execute(select(Chat.id).where(Chat.id == chat_id).with_for_update())


async def refresh_locked(*, session: AsyncSession, chat: Chat) -> None:
    """Lock the chat's row and re-read it, for a read-modify-write of its settings."""
    await lock_chat(session=session, chat_id=chat.id)
    # The row may have changed between the unlocked first read and the lock.
    await session.refresh(chat)
