"""Who runs which group or channel from a private chat: the rows behind /channels."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import admins, chats
from storage.chats import migrate_chat

Sessions = async_sessionmaker[AsyncSession]

OWNER, OTHER = 71, 72
CHANNEL, GROUP = -1001234567890, -4001


async def add_chat(sessionmaker: Sessions, chat_id: int, chat_type: str, title: str) -> None:
    async with sessionmaker() as session, session.begin():
        await chats.ensure_chat(
            session=session,
            chat_id=chat_id,
            chat_type=chat_type,
            language=None,
            timezone="Europe/Moscow",
            digest_time=dt.time(9, 0),
        )
        await admins.set_title(session=session, chat_id=chat_id, title=title)


async def candidates(sessionmaker: Sessions, user_id: int) -> list[int]:
    async with sessionmaker() as session:
        return [c.id for c in await admins.candidate_chats(session=session, user_id=user_id)]


async def managed(sessionmaker: Sessions, user_id: int) -> int | None:
    async with sessionmaker() as session:
        chat = await admins.managed_chat(session=session, user_id=user_id)
        return None if chat is None else chat.id


async def test_a_user_is_offered_the_active_chats_they_added_the_bot_to(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, CHANNEL, "channel", "ML Daily")
    await add_chat(sessionmaker, GROUP, "group", "Reading club")
    async with sessionmaker() as session, session.begin():
        for chat_id in (CHANNEL, GROUP):
            await admins.remember_admin(session=session, chat_id=chat_id, user_id=OWNER)
        # Remembering twice is harmless.
        await admins.remember_admin(session=session, chat_id=CHANNEL, user_id=OWNER)
        await chats.set_active(session=session, chat_id=GROUP, active=False)

    assert await candidates(sessionmaker, OWNER) == [CHANNEL]
    assert await candidates(sessionmaker, OTHER) == []


async def test_choosing_a_chat_replaces_the_previous_choice_and_none_goes_back(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, CHANNEL, "channel", "ML Daily")
    await add_chat(sessionmaker, GROUP, "group", "Reading club")
    for choice in (CHANNEL, GROUP):
        async with sessionmaker() as session, session.begin():
            await admins.set_managed(session=session, user_id=OWNER, chat_id=choice)
        assert await managed(sessionmaker, OWNER) == choice
    async with sessionmaker() as session, session.begin():
        await admins.set_managed(session=session, user_id=OWNER, chat_id=None)
    assert await managed(sessionmaker, OWNER) is None


async def test_a_group_that_becomes_a_supergroup_is_still_run_by_its_admin(
    sessionmaker: Sessions,
) -> None:
    new = -1004001
    await add_chat(sessionmaker, GROUP, "group", "Reading club")
    async with sessionmaker() as session, session.begin():
        await admins.remember_admin(session=session, chat_id=GROUP, user_id=OWNER)
        await admins.set_managed(session=session, user_id=OWNER, chat_id=GROUP)

    async with sessionmaker() as session, session.begin():
        assert await migrate_chat(session=session, old_id=GROUP, new_id=new)

    assert await managed(sessionmaker, OWNER) == new
    assert await candidates(sessionmaker, OWNER) == [new]
    async with sessionmaker() as session:
        moved = await chats.get_chat(session=session, chat_id=new)
    assert moved is not None and moved.title == "Reading club"
