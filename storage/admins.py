"""Who runs which group or channel from a private chat (/channels).

Rows here are hints, never rights: the bot layer confirms every use with ``getChatMember``.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_conflicts
from storage.models import Chat, ChatAdmin, ManagedChat


async def remember_admin(*, session: AsyncSession, chat_id: int, user_id: int) -> None:
    """Note the user as a likely administrator of the chat (it added the bot, or ran the chat)."""
    await session.execute(
        insert_ignoring_conflicts(session, ChatAdmin).values(chat_id=chat_id, user_id=user_id)
    )


async def candidate_chats(*, session: AsyncSession, user_id: int) -> list[Chat]:
    """The active groups and channels the user is remembered to administer, by title."""
    rows = await session.scalars(
        select(Chat)
        .join(ChatAdmin, ChatAdmin.chat_id == Chat.id)
        .where(ChatAdmin.user_id == user_id, Chat.active, Chat.type != "private")
        .order_by(Chat.title, Chat.id)
    )
    return list(rows)


async def set_title(*, session: AsyncSession, chat_id: int, title: str | None) -> None:
    """Keep the group's or channel's title as last seen."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(title=title))


async def managed_chat(*, session: AsyncSession, user_id: int) -> Chat | None:
    """The chat the user's private chat currently runs, or None."""
    return await session.scalar(
        select(Chat)
        .join(ManagedChat, ManagedChat.chat_id == Chat.id)
        .where(ManagedChat.user_id == user_id)
    )


async def set_managed(*, session: AsyncSession, user_id: int, chat_id: int | None) -> None:
    """Make the user's private chat run this chat; None goes back to the private chat."""
    await session.execute(delete(ManagedChat).where(ManagedChat.user_id == user_id))
    if chat_id is not None:
        session.add(ManagedChat(user_id=user_id, chat_id=chat_id))
        await session.flush()
