"""Specification of stored follows and mutes, run on every configured database dialect."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content.matching import AUTHOR, MUTE_TAG, MUTE_WORD, WORD, Phrase
from storage import follows
from storage.models import Chat

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime(2024, 12, 20, 6, 0, tzinfo=dt.UTC)


async def add_chat(sessionmaker: Sessions, chat_id: int) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Chat).values(
                id=chat_id,
                type="private",
                timezone="Europe/Moscow",
                digest_time=dt.time(9),
                created_at=NOW,
            )
        )


async def test_follows_are_added_once_by_key_within_their_limit(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    async with sessionmaker() as session, session.begin():
        first = await follows.add_follows(
            session=session,
            chat_id=1,
            kind=WORD,
            items=[("watermark", "watermark"), ("a", "A"), ("watermark", "Watermarks")],
            limit=3,
        )
        second = await follows.add_follows(
            session=session,
            chat_id=1,
            kind=AUTHOR,
            items=[("yann lecun", "Yann LeCun"), ("b", "B")],
            limit=3,
        )
        mutes = await follows.add_follows(
            session=session, chat_id=1, kind=MUTE_TAG, items=[("benchmark", "#benchmark")], limit=1
        )
    assert (first.added, first.already, first.over_limit) == (
        ["watermark", "A"],
        ["Watermarks"],
        [],
    )
    # Words and authors share one limit; mutes have their own.
    assert (second.added, second.over_limit) == (["Yann LeCun"], ["B"])
    assert mutes.added == ["#benchmark"]
    async with sessionmaker() as session:
        listed = await follows.list_follows(session=session, chat_id=1, kinds=follows.FOLLOW_KINDS)
        assert {item.text for item in listed} == {"watermark", "A", "Yann LeCun"}
        assert await follows.has_follows(session=session, chat_id=1)


async def test_removing_reports_what_was_there(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    async with sessionmaker() as session, session.begin():
        await follows.add_follows(
            session=session, chat_id=1, kind=MUTE_WORD, items=[("video", "Video")], limit=50
        )
        removed = await follows.remove_follows(
            session=session, chat_id=1, kind=MUTE_WORD, keys=["video", "nothing"]
        )
        assert [item.text for item in removed] == ["Video"]
        assert (
            await follows.remove_follows(session=session, chat_id=1, kind=MUTE_WORD, keys=["video"])
            == []
        )
        assert not await follows.has_follows(session=session, chat_id=1)


async def test_profiles_of_many_chats_are_read_at_once(sessionmaker: Sessions) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(sessionmaker, chat_id)
    async with sessionmaker() as session, session.begin():
        await follows.add_follows(
            session=session, chat_id=2, kind=WORD, items=[("watermark", "watermark")], limit=50
        )
        await follows.add_follows(
            session=session, chat_id=2, kind=MUTE_TAG, items=[("benchmark", "#benchmark")], limit=50
        )
    async with sessionmaker() as session:
        profiles = await follows.load_profiles(
            session=session, tags={1: ["mllm"], 2: [], 3: ["mllm"]}
        )
    assert profiles[1] is profiles[3]  # chats without follows share their profile
    assert profiles[1].tags == {"mllm"} and not profiles[1].needs_text
    assert profiles[2].words == (Phrase("watermark", "watermark"),)
    assert profiles[2].mute_tags == {"benchmark"}
    assert profiles[2].wants_anything
