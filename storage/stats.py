"""Figures for the admins' /stats: chats, subscriptions, papers and today's deliveries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Chat, Delivery, DigestRun, Paper, Subscription


@dataclass(frozen=True, slots=True)
class BotStats:
    """A snapshot of the bot's state for its operators."""

    chats_active: int
    chats_paused: int
    chats_blocked: int
    subscribed_chats: int
    subscriptions: int
    top_tags: list[tuple[str, int]]
    papers: int
    papers_ready: int
    last_ingest: dt.datetime | None
    papers_delivered_today: int
    # Digest runs finished since the start of the day, by status (done, empty, blocked, failed).
    runs_today: dict[str, int] = field(default_factory=dict)


async def bot_stats(*, session: AsyncSession, since: dt.datetime, top: int = 10) -> BotStats:
    """Count chats, subscriptions, papers, and the deliveries and failures since ``since``."""
    chats = (
        await session.execute(
            select(
                func.count().filter(and_(Chat.active, ~Chat.paused)),
                func.count().filter(and_(Chat.active, Chat.paused)),
                func.count().filter(~Chat.active),
            )
        )
    ).one()
    subscriptions = (
        await session.execute(select(func.count(), func.count(func.distinct(Subscription.chat_id))))
    ).one()
    per_tag = func.count().label("n")
    top_tags = (
        await session.execute(
            select(Subscription.tag, per_tag)
            .group_by(Subscription.tag)
            .order_by(per_tag.desc(), Subscription.tag)
            .limit(top)
        )
    ).all()
    ready = case((Paper.summary_status.in_(("done", "fallback")), 1), else_=0)
    papers = (
        await session.execute(select(func.count(), func.sum(ready), func.max(Paper.updated_at)))
    ).one()
    delivered = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.delivered_at >= since)
    )
    runs = (
        await session.execute(
            select(DigestRun.status, func.count())
            .where(DigestRun.finished_at >= since)
            .group_by(DigestRun.status)
        )
    ).all()
    return BotStats(
        chats_active=chats[0],
        chats_paused=chats[1],
        chats_blocked=chats[2],
        subscriptions=subscriptions[0],
        subscribed_chats=subscriptions[1],
        top_tags=[(tag, n) for tag, n in top_tags],
        papers=papers[0],
        papers_ready=int(papers[1] or 0),
        last_ingest=papers[2],
        papers_delivered_today=delivered or 0,
        runs_today={status: n for status, n in runs},
    )
