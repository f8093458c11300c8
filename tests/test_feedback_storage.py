"""Specification of 👍/👎 storage, run on every configured database dialect."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content.relevance import Vote
from storage import feedback
from storage.chats import migrate_chat
from tests.test_digests import NOW, add_chat, add_paper

Sessions = async_sessionmaker[AsyncSession]

READER = 1001
GROUP = -1002003004005  # supergroup ids exceed 32 bits


async def press(
    sessionmaker: Sessions,
    paper_id: str,
    vote: int,
    *,
    chat_id: int = READER,
    suggested: bool = False,
    at: dt.datetime = NOW,
) -> int | None:
    async with sessionmaker() as session, session.begin():
        return await feedback.toggle_vote(
            session=session,
            chat_id=chat_id,
            paper_id=paper_id,
            vote=vote,
            suggested=suggested,
            now=at,
        )


async def votes(sessionmaker: Sessions, chat_id: int = READER) -> list[Vote]:
    async with sessionmaker() as session:
        return (await feedback.votes_of_chats(session=session, chat_ids=[chat_id])).get(chat_id, [])


async def test_a_thumbs_up_is_recorded_with_weight_one(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_paper(sessionmaker, "2412.00001")

    assert await press(sessionmaker, "2412.00001", +1) == 1

    assert await votes(sessionmaker) == [Vote("2412.00001", 1, 1)]


async def test_pressing_the_same_vote_again_withdraws_it(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_paper(sessionmaker, "2412.00001")
    await press(sessionmaker, "2412.00001", -1)

    assert await press(sessionmaker, "2412.00001", -1) == 0

    assert await votes(sessionmaker) == []


async def test_the_other_vote_replaces_the_first(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_paper(sessionmaker, "2412.00001")
    await press(sessionmaker, "2412.00001", +1)

    assert await press(sessionmaker, "2412.00001", -1) == -1

    assert await votes(sessionmaker) == [Vote("2412.00001", -1, 1)]


async def test_a_thumbs_down_on_a_suggestion_weighs_twice(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_paper(sessionmaker, "2412.00001")
    await add_paper(sessionmaker, "2412.00002")

    await press(sessionmaker, "2412.00001", -1, suggested=True)
    await press(sessionmaker, "2412.00002", +1, suggested=True)

    assert sorted(await votes(sessionmaker), key=lambda v: v.paper_id) == [
        Vote("2412.00001", -1, 2),
        Vote("2412.00002", 1, 1),  # a liked suggestion is an ordinary 👍
    ]


async def test_a_vote_on_an_unknown_paper_stores_nothing(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)

    assert await press(sessionmaker, "9999.99999", +1) is None

    assert await votes(sessionmaker) == []


async def test_votes_on_reads_one_chats_votes_on_a_messages_papers(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_chat(sessionmaker, GROUP)
    for paper_id in ("2412.00001", "2412.00002", "2412.00003"):
        await add_paper(sessionmaker, paper_id)
    await press(sessionmaker, "2412.00001", +1)
    await press(sessionmaker, "2412.00003", -1)
    await press(sessionmaker, "2412.00002", -1, chat_id=GROUP)

    async with sessionmaker() as session:
        found = await feedback.votes_on(
            session=session, chat_id=READER, paper_ids=["2412.00001", "2412.00002", "2412.00003"]
        )
        nothing = await feedback.votes_on(session=session, chat_id=READER, paper_ids=[])

    assert found == {"2412.00001": 1, "2412.00003": -1}
    assert nothing == {}


async def test_votes_of_chats_reads_many_chats_at_once_newest_first(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, READER)
    await add_chat(sessionmaker, GROUP)
    await add_chat(sessionmaker, 7)  # never rated anything
    for paper_id in ("2412.00001", "2412.00002"):
        await add_paper(sessionmaker, paper_id)
    await press(sessionmaker, "2412.00001", +1, at=NOW)
    await press(sessionmaker, "2412.00002", -1, at=NOW + dt.timedelta(hours=1))
    await press(sessionmaker, "2412.00002", -1, chat_id=GROUP, suggested=True)

    async with sessionmaker() as session:
        found = await feedback.votes_of_chats(session=session, chat_ids=[READER, GROUP, 7, READER])

    assert found == {
        READER: [Vote("2412.00002", -1, 1), Vote("2412.00001", 1, 1)],
        GROUP: [Vote("2412.00002", -1, 2)],
    }


async def test_votes_move_with_a_group_that_becomes_a_supergroup(sessionmaker: Sessions) -> None:
    old, new = -500, -1009998887776
    await add_chat(sessionmaker, old)
    await add_paper(sessionmaker, "2412.00001")
    await press(sessionmaker, "2412.00001", -1, chat_id=old, suggested=True)

    async with sessionmaker() as session, session.begin():
        await migrate_chat(session=session, old_id=old, new_id=new)

    assert await votes(sessionmaker, old) == []
    assert await votes(sessionmaker, new) == [Vote("2412.00001", -1, 2)]
