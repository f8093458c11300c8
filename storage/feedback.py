"""A chat's 👍 and 👎 on papers: one vote per chat and paper, changed or withdrawn at will."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.relevance import Vote
from storage.db import dialect_name, in_values, table_of
from storage.models import Feedback, Paper

LIKE: Final[int] = 1
DISLIKE: Final[int] = -1
SUGGESTION_DISLIKE_WEIGHT: Final[int] = 2
"""A 👎 on a paper the bot suggested outside the chat's interests says more: it weighs twice."""

_CHUNK = 5000


def weight_of(vote: int, *, suggested: bool) -> int:
    """How much a vote counts: a 👎 on a suggestion twice, everything else once."""
    return SUGGESTION_DISLIKE_WEIGHT if vote == DISLIKE and suggested else 1


async def toggle_vote(
    *,
    session: AsyncSession,
    chat_id: int,
    paper_id: str,
    vote: int,
    suggested: bool,
    now: dt.datetime,
) -> int | None:
    """Press 👍 (``vote`` +1) or 👎 (-1) on a paper; return the chat's vote afterwards.

    Pressing the vote the chat already gave withdraws it (0); the other one replaces it.
    None when the paper is unknown: nothing is stored then.
    """
    if vote not in (LIKE, DISLIKE):
        raise ValueError(f"a vote is +1 or -1, not {vote}")
    current = await session.scalar(
        select(Feedback.vote).where(Feedback.chat_id == chat_id, Feedback.paper_id == paper_id)
    )
    if current == vote:
        await withdraw_vote(session=session, chat_id=chat_id, paper_id=paper_id)
        return 0
    if await session.scalar(select(Paper.id).where(Paper.id == paper_id)) is None:
        return None
    await set_vote(
        session=session,
        chat_id=chat_id,
        paper_id=paper_id,
        vote=vote,
        suggested=suggested,
        now=now,
    )
    return vote


async def set_vote(
    *,
    session: AsyncSession,
    chat_id: int,
    paper_id: str,
    vote: int,
    suggested: bool,
    now: dt.datetime,
) -> None:
    """Record the chat's vote on a paper, replacing any it gave before."""
    if vote not in (LIKE, DISLIKE):
        raise ValueError(f"a vote is +1 or -1, not {vote}")
    row = {
        "chat_id": chat_id,
        "paper_id": paper_id,
        "vote": vote,
        "weight": weight_of(vote, suggested=suggested),
        "created_at": now,
    }
    # An upsert, so two presses racing each other cannot both insert.
    name = dialect_name(session)
    dialect = postgresql if name == "postgresql" else sqlite
    insert = dialect.insert(table_of(Feedback)).values(row)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["chat_id", "paper_id"],
            set_={
                "vote": insert.excluded.vote,
                "weight": insert.excluded.weight,
                "created_at": insert.excluded.created_at,
            },
        )
    )


async def withdraw_vote(*, session: AsyncSession, chat_id: int, paper_id: str) -> bool:
    """Forget the chat's vote on a paper; False when it had none."""
    result = await session.execute(
        delete(Feedback).where(Feedback.chat_id == chat_id, Feedback.paper_id == paper_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def votes_on(
    *, session: AsyncSession, chat_id: int, paper_ids: Sequence[str]
) -> dict[str, int]:
    """The chat's votes on these papers (+1 or -1); papers it did not rate are absent."""
    if not paper_ids:
        return {}
    rows = await session.execute(
        select(Feedback.paper_id, Feedback.vote).where(
            Feedback.chat_id == chat_id, Feedback.paper_id.in_(list(dict.fromkeys(paper_ids)))
        )
    )
    return {paper_id: vote for paper_id, vote in rows.all()}


async def votes_of_chats(
    *, session: AsyncSession, chat_ids: Sequence[int]
) -> dict[int, list[Vote]]:
    """Every vote of these chats, for composing their digests; chats without votes are absent.

    Each chat's votes come newest first, ready for ``content.relevance.personalise``.
    """
    found: dict[int, list[Vote]] = {}
    unique = list(dict.fromkeys(chat_ids))
    for start in range(0, len(unique), _CHUNK):
        rows = await session.execute(
            select(Feedback.chat_id, Feedback.paper_id, Feedback.vote, Feedback.weight)
            .where(in_values(session, Feedback.chat_id, unique[start : start + _CHUNK]))
            .order_by(Feedback.chat_id, Feedback.created_at.desc(), Feedback.paper_id)
        )
        for chat_id, paper_id, vote, weight in rows.all():
            found.setdefault(chat_id, []).append(Vote(paper_id, vote, weight))
    return found
