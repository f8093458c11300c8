"""Specification of the digest queries, run on every configured database dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import numpy as np
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content.matching import profile
from storage.chats import get_chat, migrate_chat, set_digest_format, set_next_digest_at
from storage.db import dialect_name
from storage.digests import (
    MAX_CODE_FOLLOWUPS,
    READY_STATUSES,
    ComposeCache,
    ComposedDigest,
    DueChat,
    claim_due_chats,
    code_followups,
    code_owed,
    compose,
    count_due_chats,
    default_since,
    end_run,
    finish_run,
    record_code_told,
    record_deliveries,
    release_chat,
    renew_run,
    start_run,
    start_runs,
)
from storage.feedback import set_vote
from storage.jobs import claim_job_run
from storage.models import Chat, Delivery, DigestRun, Paper, PaperTag, Subscription
from storage.vectors import save_vectors

Sessions = async_sessionmaker[AsyncSession]

NOW = dt.datetime(2024, 12, 20, 6, 0, tzinfo=dt.UTC)
DAY = dt.date(2024, 12, 19)
RUN_LEASE = dt.timedelta(minutes=2)
NINE = dt.time(9, 0)


async def add_chat(
    sessionmaker: Sessions,
    chat_id: int,
    tags: Sequence[str] = ("mllm",),
    *,
    next_at: dt.datetime | None = NOW - dt.timedelta(minutes=1),
    active: bool = True,
    paused: bool = False,
    timezone: str = "Europe/Moscow",
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Chat).values(
                id=chat_id,
                type="private",
                language="ru",
                timezone=timezone,
                digest_time=NINE,
                next_digest_at=next_at,
                active=active,
                paused=paused,
                created_at=NOW,
            )
        )
        if tags:
            await session.execute(
                insert(Subscription),
                [{"chat_id": chat_id, "tag": tag, "created_at": NOW} for tag in tags],
            )


async def add_paper(
    sessionmaker: Sessions,
    paper_id: str,
    tags: Sequence[str] = ("mllm",),
    *,
    upvotes: int = 0,
    listed_on: dt.date = DAY,
    status: str = "done",
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Paper).values(
                id=paper_id,
                title=f"Paper {paper_id}",
                abstract="An abstract.",
                authors=["A. Author"],
                listed_on=listed_on,
                source="hf",
                url=f"https://huggingface.co/papers/{paper_id}",
                code_url=f"https://github.com/o/{paper_id}",
                upvotes=upvotes,
                title_ru=f"Статья {paper_id}",
                summary_ru="Краткое содержание.",
                summary_status=status,
                ingested_at=NOW,
                updated_at=NOW,
            )
        )
        if tags:
            await session.execute(
                insert(PaperTag), [{"paper_id": paper_id, "tag": tag} for tag in tags]
            )


async def deliver(sessionmaker: Sessions, chat_id: int, *paper_ids: str) -> None:
    async with sessionmaker() as session, session.begin():
        await record_deliveries(session=session, chat_id=chat_id, paper_ids=paper_ids, now=NOW)


async def composed(
    sessionmaker: Sessions,
    chats: Sequence[tuple[int, Sequence[str]]],
    *,
    max_papers: int = 15,
    since: dt.date = DAY,
) -> dict[int, ComposedDigest]:
    wanted = [(chat_id, profile(tags)) for chat_id, tags in chats]
    async with sessionmaker() as session:
        return await compose(session=session, chats=wanted, max_papers=max_papers, since=since)


def ids(digest: ComposedDigest) -> list[str]:
    return [paper.id for paper in digest.papers]


LEASE = dt.timedelta(minutes=2)


async def claim(sessionmaker: Sessions, now: dt.datetime = NOW, limit: int = 1000) -> list[DueChat]:
    async with sessionmaker() as session, session.begin():
        return await claim_due_chats(session=session, now=now, limit=limit, lease=LEASE)


# --- due chats ----------------------------------------------------------------------------


async def test_due_chats_are_active_unpaused_subscribed_and_overdue(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1, ["moe", "llm", "cv"], next_at=NOW - dt.timedelta(hours=2))
    await add_chat(sessionmaker, 2, next_at=NOW)  # due exactly now
    await add_chat(sessionmaker, 3, next_at=NOW + dt.timedelta(seconds=1))  # not yet
    await add_chat(sessionmaker, 4, active=False)  # blocked the bot
    await add_chat(sessionmaker, 5, paused=True)
    await add_chat(sessionmaker, 6, tags=())  # no subscriptions
    await add_chat(sessionmaker, 7, next_at=None)  # never scheduled
    await add_chat(sessionmaker, -1001, ["mllm"], next_at=NOW - dt.timedelta(days=1))

    due = await claim(sessionmaker)

    assert [chat.chat_id for chat in due] == [-1001, 1, 2]
    assert due[1] == DueChat(
        chat_id=1,
        timezone="Europe/Moscow",
        digest_time=NINE,
        next_digest_at=NOW - dt.timedelta(hours=2),
        tags=("cv", "llm", "moe"),
    )
    assert due[1].next_digest_at.tzinfo == dt.UTC


async def test_due_chats_are_limited_to_the_oldest(sessionmaker: Sessions) -> None:
    for n in range(5):
        await add_chat(sessionmaker, 100 + n, ["a", "b"], next_at=NOW - dt.timedelta(minutes=n))

    due = await claim(sessionmaker, limit=3)

    # The limit counts chats, not (chat, tag) rows.
    assert [chat.chat_id for chat in due] == [104, 103, 102]
    assert all(chat.tags == ("a", "b") for chat in due)


async def test_a_chat_is_claimed_with_its_digest_format_which_moves_with_a_supergroup(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, 1)
    await add_chat(sessionmaker, -5, next_at=NOW + dt.timedelta(hours=1))
    async with sessionmaker() as session, session.begin():
        await set_digest_format(session=session, chat_id=-5, digest_format="compact")
        await migrate_chat(session=session, old_id=-5, new_id=-1005)

    async with sessionmaker() as session:
        moved = await get_chat(session=session, chat_id=-1005)
    assert moved is not None and moved.digest_format == "compact"
    # A chat that never chose has today's format.
    later = await claim(sessionmaker, now=NOW + dt.timedelta(hours=1))
    assert {(due.chat_id, due.digest_format) for due in later} == {(1, "full"), (-1005, "compact")}


async def test_set_next_moves_a_chat_out_of_the_due_list(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    tomorrow = NOW + dt.timedelta(days=1)

    async with sessionmaker() as session, session.begin():
        await set_next_digest_at(session=session, chat_id=1, when=tomorrow)

    assert await claim(sessionmaker) == []
    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=1)
        assert chat is not None
        assert chat.next_digest_at == tomorrow


async def test_a_claimed_chat_is_skipped_until_released_or_its_lease_lapses(
    sessionmaker: Sessions,
) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(sessionmaker, chat_id, next_at=NOW - dt.timedelta(minutes=chat_id))

    first = await claim(sessionmaker, limit=2)
    second = await claim(sessionmaker, limit=2)
    assert [c.chat_id for c in first] == [3, 2]
    assert [c.chat_id for c in second] == [1]  # a second sender gets the rest
    assert await claim(sessionmaker) == []

    # Chat 2 is served and released to tomorrow; chat 3's sender died.
    async with sessionmaker() as session, session.begin():
        await release_chat(
            session=session,
            chat_id=2,
            due_at=NOW - dt.timedelta(minutes=2),
            next_digest_at=NOW + dt.timedelta(days=1),
        )
    assert await claim(sessionmaker, now=NOW + LEASE - dt.timedelta(seconds=1)) == []
    later = await claim(sessionmaker, now=NOW + LEASE)
    assert [c.chat_id for c in later] == [3, 1]


async def test_the_due_count_is_what_senders_could_still_claim(sessionmaker: Sessions) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(sessionmaker, chat_id, next_at=NOW - dt.timedelta(minutes=chat_id))
    await add_chat(sessionmaker, 4, next_at=NOW + dt.timedelta(hours=1))

    async def due() -> int:
        async with sessionmaker() as session:
            return await count_due_chats(session=session, now=NOW)

    assert await due() == 3
    await claim(sessionmaker, limit=2)
    assert await due() == 1


async def test_concurrent_claims_share_the_due_chats_without_overlap(
    sessionmaker: Sessions,
) -> None:
    for chat_id in range(1, 41):
        await add_chat(sessionmaker, chat_id, next_at=NOW - dt.timedelta(seconds=chat_id))

    batches = await asyncio.gather(*(claim(sessionmaker, limit=7) for _ in range(8)))

    claimed = [chat.chat_id for batch in batches for chat in batch]
    assert sorted(claimed) == list(range(1, 41))  # everyone once, nobody twice


async def test_a_claim_never_takes_more_chats_than_its_batch(sessionmaker: Sessions) -> None:
    # Senders racing for a long queue: each keeps claiming batches of 5 until none is left.
    for chat_id in range(1, 201):
        await add_chat(sessionmaker, chat_id, next_at=NOW - dt.timedelta(seconds=chat_id))

    async def sender() -> list[list[int]]:
        batches = []
        while batch := await claim(sessionmaker, limit=5):
            batches.append([chat.chat_id for chat in batch])
        return batches

    batches = [
        batch for found in await asyncio.gather(*(sender() for _ in range(10))) for batch in found
    ]

    assert max(len(batch) for batch in batches) <= 5
    assert sorted(chat for batch in batches for chat in batch) == list(range(1, 201))


# --- composing ----------------------------------------------------------------------------


async def test_each_chat_gets_its_matching_papers_best_first(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1, ["mllm"])
    await add_chat(sessionmaker, 2, ["moe", "rl"])
    await add_chat(sessionmaker, 3, ["audio"])
    await add_paper(sessionmaker, "2412.00001", ["mllm", "cv"], upvotes=5)
    await add_paper(sessionmaker, "2412.00002", ["moe"], upvotes=50)
    await add_paper(sessionmaker, "2412.00003", ["mllm", "moe"], upvotes=20)
    await add_paper(sessionmaker, "2412.00004", ["rl"], upvotes=20, listed_on=DAY.replace(day=20))
    await add_paper(sessionmaker, "2412.00005", ["cv"], upvotes=99)

    digests = await composed(sessionmaker, [(1, ["mllm"]), (2, ["moe", "rl"]), (3, ["audio"])])

    assert ids(digests[1]) == ["2412.00003", "2412.00001"]
    # Equal upvotes: the newer listing day comes first.
    assert ids(digests[2]) == ["2412.00002", "2412.00004", "2412.00003"]
    assert digests[3] == ComposedDigest(papers=(), more=0)
    assert all(digest.more == 0 for digest in digests.values())
    paper = digests[1].papers[1]
    assert paper.tags == ("cv", "mllm")
    assert (paper.title, paper.title_ru, paper.summary_ru) == (
        "Paper 2412.00001",
        "Статья 2412.00001",
        "Краткое содержание.",
    )
    assert paper.url == "https://huggingface.co/papers/2412.00001"
    assert paper.code_url == "https://github.com/o/2412.00001"
    assert paper.project_url is None
    assert (paper.upvotes, paper.listed_on) == (5, DAY)


async def test_equal_ranks_are_ordered_by_id(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    for paper_id in ("2412.00003", "2412.00001", "2412.00002"):
        await add_paper(sessionmaker, paper_id, upvotes=7)

    digests = await composed(sessionmaker, [(1, ["mllm"])])

    assert ids(digests[1]) == ["2412.00001", "2412.00002", "2412.00003"]


async def test_digest_is_capped_and_counts_the_rest(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    for n in range(7):
        await add_paper(sessionmaker, f"2412.{n:05d}", upvotes=n)
    await add_paper(sessionmaker, "2412.99999", ["cv"], upvotes=100)

    digests = await composed(sessionmaker, [(1, ["mllm"])], max_papers=3)

    assert ids(digests[1]) == ["2412.00006", "2412.00005", "2412.00004"]
    assert digests[1].more == 4


async def test_chats_with_the_same_tags_differ_by_their_deliveries(sessionmaker: Sessions) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(sessionmaker, chat_id, ["mllm", "cv"])
    for n in range(4):
        await add_paper(sessionmaker, f"2412.{n:05d}", ["mllm"], upvotes=n)
    await deliver(sessionmaker, 2, "2412.00003", "2412.00001")
    await deliver(sessionmaker, 3, "2412.00000", "2412.00001", "2412.00002", "2412.00003")

    chats = [(chat_id, ["cv", "mllm"]) for chat_id in (1, 2, 3)]
    digests = await composed(sessionmaker, chats, max_papers=1)

    assert (ids(digests[1]), digests[1].more) == (["2412.00003"], 3)
    assert (ids(digests[2]), digests[2].more) == (["2412.00002"], 1)
    # Everything already received: nothing to send.
    assert digests[3] == ComposedDigest(papers=(), more=0)


async def test_a_broadcasts_batches_share_a_profiles_digest_until_the_papers_change(
    sessionmaker: Sessions,
) -> None:
    for chat_id in (1, 2, 3, 4):
        await add_chat(sessionmaker, chat_id)
    for n in range(3):
        await add_paper(sessionmaker, f"2412.{n:05d}", ["mllm"], upvotes=n)
    await deliver(sessionmaker, 3, "2412.00002")
    cache = ComposeCache()

    async def batch(*chat_ids: int) -> dict[int, ComposedDigest]:
        async with sessionmaker() as session:
            return await compose(
                session=session,
                chats=[(chat_id, profile(["mllm"])) for chat_id in chat_ids],
                max_papers=2,
                since=DAY,
                cache=cache,
            )

    first, second = await batch(1), await batch(2, 3)
    # One digest object for the profile, whichever batch its chats were claimed in.
    assert second[2] is first[1]
    assert (ids(first[1]), first[1].more) == (["2412.00002", "2412.00001"], 1)
    assert ids(second[3]) == ["2412.00001", "2412.00000"]

    # An ingest between two batches: the next batch reads the papers as they are now.
    await add_paper(sessionmaker, "2412.00003", ["mllm"], upvotes=9)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Paper).where(Paper.id == "2412.00000").values(upvotes=5))
    third = await batch(4)
    assert (ids(third[4]), third[4].more) == (["2412.00003", "2412.00000"], 2)


async def test_only_ready_papers_go_out(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    statuses = ("pending", "done", "failed", "fallback")
    for n, status in enumerate(statuses):
        await add_paper(sessionmaker, f"2412.{n:05d}", status=status, upvotes=n)

    digests = await composed(sessionmaker, [(1, ["mllm"])])

    assert READY_STATUSES == ("done", "fallback")
    assert ids(digests[1]) == ["2412.00003", "2412.00001"]


async def test_papers_listed_before_since_are_left_out(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    await add_paper(sessionmaker, "2412.00001", listed_on=DAY - dt.timedelta(days=1), upvotes=9)
    await add_paper(sessionmaker, "2412.00002", listed_on=DAY)
    await add_paper(sessionmaker, "2412.00003", listed_on=DAY + dt.timedelta(days=1))

    digests = await composed(sessionmaker, [(1, ["mllm"])], since=DAY)

    assert ids(digests[1]) == ["2412.00003", "2412.00002"]


async def test_chats_without_tags_or_papers_get_an_empty_digest(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    await add_chat(sessionmaker, 2)

    assert await composed(sessionmaker, [(1, ["mllm"]), (2, [])]) == {
        1: ComposedDigest(papers=(), more=0),
        2: ComposedDigest(papers=(), more=0),
    }
    await add_paper(sessionmaker, "2412.00001")
    digests = await composed(sessionmaker, [(1, ["mllm"]), (2, [])])
    assert ids(digests[1]) == ["2412.00001"]
    assert digests[2] == ComposedDigest(papers=(), more=0)
    assert await composed(sessionmaker, []) == {}


async def test_compose_handles_more_chats_and_papers_than_one_statement_binds(
    sessionmaker: Sessions,
) -> None:
    chats = list(range(1, 1201))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Chat),
            [
                {
                    "id": chat_id,
                    "type": "private",
                    "timezone": "UTC",
                    "digest_time": NINE,
                    "next_digest_at": NOW,
                    "created_at": NOW,
                }
                for chat_id in chats
            ],
        )
        await session.execute(
            insert(Paper),
            [
                {
                    "id": f"2412.{n:05d}",
                    "title": "T",
                    "abstract": "A",
                    "authors": [],
                    "listed_on": DAY,
                    "source": "hf",
                    "url": "https://huggingface.co/papers/x",
                    "upvotes": n,
                    "summary_status": "done",
                    "ingested_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(600)
            ],
        )
        await session.execute(
            insert(PaperTag), [{"paper_id": f"2412.{n:05d}", "tag": "mllm"} for n in range(600)]
        )
    # The last chat has received the best paper.
    await deliver(sessionmaker, 1200, "2412.00599")

    digests = await composed(sessionmaker, [(chat_id, ["mllm"]) for chat_id in chats])

    assert len(digests) == 1200
    assert ids(digests[1]) == [f"2412.{n:05d}" for n in range(599, 584, -1)]
    assert digests[1].more == 585
    assert ids(digests[1200])[0] == "2412.00598"
    assert digests[1200].more == 584
    assert all(digests[chat_id] == digests[1] for chat_id in chats[:-1])


# --- where a new subscriber starts --------------------------------------------------------


async def test_default_since_is_the_latest_listing_day_less_the_lookback(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session:
        assert await default_since(session=session) is None

    await add_paper(sessionmaker, "2412.00001", listed_on=dt.date(2024, 12, 1))
    await add_paper(sessionmaker, "2412.00002", listed_on=DAY, status="pending")

    async with sessionmaker() as session:
        assert await default_since(session=session) == DAY - dt.timedelta(days=1)
        assert await default_since(session=session, lookback_days=0) == DAY


# --- delivery bookkeeping -----------------------------------------------------------------


async def test_recording_deliveries_is_idempotent(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)
    await add_paper(sessionmaker, "2412.00001", upvotes=2)
    await add_paper(sessionmaker, "2412.00002", upvotes=1)

    await deliver(sessionmaker, 1, "2412.00001")
    await deliver(sessionmaker, 1, "2412.00001", "2412.00001")
    later = NOW + dt.timedelta(hours=1)
    async with sessionmaker() as session, session.begin():
        await record_deliveries(session=session, chat_id=1, paper_ids=["2412.00001"], now=later)

    async with sessionmaker() as session:
        rows = (await session.execute(select(Delivery.paper_id, Delivery.delivered_at))).all()
    assert [tuple(row) for row in rows] == [("2412.00001", NOW)]
    digests = await composed(sessionmaker, [(1, ["mllm"])])
    assert ids(digests[1]) == ["2412.00002"]


async def runs(sessionmaker: Sessions) -> list[tuple[str, int, str | None]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(DigestRun.status, DigestRun.attempts, DigestRun.error).order_by(DigestRun.id)
        )
        return [(status, attempts, error) for status, attempts, error in rows.all()]


async def start(
    sessionmaker: Sessions, local_date: dt.date = DAY, now: dt.datetime = NOW
) -> int | None:
    async with sessionmaker() as session, session.begin():
        return await start_run(
            session=session, chat_id=1, local_date=local_date, now=now, lease=RUN_LEASE
        )


async def finish(sessionmaker: Sessions, status: str, error: str | None = None) -> None:
    async with sessionmaker() as session, session.begin():
        await finish_run(
            session=session, chat_id=1, local_date=DAY, status=status, error=error, now=NOW
        )


async def test_a_days_digest_runs_once_and_resumes_after_a_crash(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)

    assert await start(sessionmaker) == 1
    assert await runs(sessionmaker) == [("sending", 1, None)]
    # Another sender meanwhile (a second tick, /digest, a replica) is refused.
    assert await start(sessionmaker) is None
    # The process died while sending: once its claim expires, a tick picks the run up.
    later = NOW + RUN_LEASE
    assert await start(sessionmaker, now=later) == 2
    assert await runs(sessionmaker) == [("sending", 2, None)]
    assert await start(sessionmaker, now=later + RUN_LEASE) == 3
    assert await runs(sessionmaker) == [("sending", 3, None)]

    await finish(sessionmaker, "done")

    assert await start(sessionmaker) is None
    assert await runs(sessionmaker) == [("done", 3, None)]
    async with sessionmaker() as session:
        run = await session.scalar(select(DigestRun))
    assert run is not None
    assert (run.local_date, run.finished_at) == (DAY, NOW)
    # A run that ended without papers, blocked or failed also ends that day.
    for status in ("empty", "blocked", "failed"):
        day = DAY + dt.timedelta(days=10 + len(status))
        assert await start(sessionmaker, day) == 1
        async with sessionmaker() as session, session.begin():
            await finish_run(
                session=session, chat_id=1, local_date=day, status=status, error=None, now=NOW
            )
        assert await start(sessionmaker, day) is None
    # The next local day is a new run.
    assert await start(sessionmaker, DAY + dt.timedelta(days=1)) == 1


async def test_of_two_racing_senders_exactly_one_gets_the_run(sessionmaker: Sessions) -> None:
    await add_chat(sessionmaker, 1)

    results = await asyncio.gather(start(sessionmaker), start(sessionmaker))
    assert sorted(results, key=str) == [1, None]
    assert await runs(sessionmaker) == [("sending", 1, None)]

    await finish(sessionmaker, "done")

    assert list(await asyncio.gather(start(sessionmaker), start(sessionmaker))) == [None, None]
    assert await runs(sessionmaker) == [("done", 1, None)]


async def renew(sessionmaker: Sessions, attempt: int, now: dt.datetime) -> bool:
    async with sessionmaker() as session, session.begin():
        return await renew_run(
            session=session, chat_id=1, local_date=DAY, attempt=attempt, now=now, lease=RUN_LEASE
        )


async def test_a_renewed_run_is_not_taken_over_and_a_taken_over_run_is_not_renewed(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, 1)
    [claimed] = await claim(sessionmaker)
    assert await start(sessionmaker) == 1

    # The sender renews its claim while it waits out Telegram's flood control.
    almost = NOW + RUN_LEASE - dt.timedelta(seconds=1)
    assert await renew(sessionmaker, 1, now=almost) is True
    assert await start(sessionmaker, now=NOW + RUN_LEASE) is None
    assert await claim(sessionmaker, now=NOW + RUN_LEASE) == []

    # It stalls past its lease: another sender resumes the run, and the first has lost it.
    assert await start(sessionmaker, now=almost + RUN_LEASE) == 2
    assert await renew(sessionmaker, 1, now=almost + RUN_LEASE) is False
    assert await renew(sessionmaker, 2, now=almost + RUN_LEASE) is True
    await finish(sessionmaker, "done")
    assert await renew(sessionmaker, 2, now=almost + RUN_LEASE) is False
    assert claimed.chat_id == 1


async def waits_for_a_lock(sessionmaker: Sessions) -> None:
    """Return once another transaction waits for a row lock (PostgreSQL; SQLite serialises)."""
    async with sessionmaker() as session:
        if dialect_name(session) != "postgresql":
            await asyncio.sleep(0.05)
            return
        for _ in range(500):
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await session.rollback()
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("no transaction waited for a lock")


async def test_a_sender_past_its_lease_and_one_claiming_the_chat_both_commit(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, 1)
    [first] = await claim(sessionmaker)
    assert await start(sessionmaker) == 1
    later = NOW + LEASE

    async def first_sender_ends() -> None:
        async with sessionmaker() as session, session.begin():
            await end_run(
                session=session,
                chat_id=1,
                local_date=DAY,
                status="done",
                error=None,
                now=later,
                due_at=first.next_digest_at,
                next_digest_at=NOW + dt.timedelta(days=1),
            )

    async def first_sender_renews() -> None:
        assert await renew(sessionmaker, 1, now=later) is False

    for first_sender, resumed_as in ((first_sender_renews, 2), (first_sender_ends, 3)):
        # The first sender outlived its lease; a second one claims the chat and resumes the
        # run while the first, still alive, renews it or ends it.
        async with sessionmaker() as session, session.begin():
            assert await claim_due_chats(session=session, now=later, limit=10, lease=LEASE)
            racing = asyncio.create_task(first_sender())
            await waits_for_a_lock(sessionmaker)
            started = await start_runs(session=session, days={1: DAY}, now=later, lease=RUN_LEASE)
            assert started == {1: resumed_as}
        await racing
        later += LEASE

    # Neither was aborted: the run ended, and the chat moved on to its next digest.
    assert await runs(sessionmaker) == [("done", 3, None)]
    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=1)
    assert chat is not None
    assert (chat.claimed_until, chat.next_digest_at) == (None, NOW + dt.timedelta(days=1))


async def test_digest_command_and_a_claim_of_the_same_chat_both_commit(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, 1)
    # The morning digest's sender claims the chat as its reader sends /digest.
    async with sessionmaker() as session, session.begin():
        assert await claim_due_chats(session=session, now=NOW, limit=10, lease=LEASE)
        command = asyncio.create_task(start(sessionmaker))
        await waits_for_a_lock(sessionmaker)
        started = await start_runs(session=session, days={1: DAY}, now=NOW, lease=RUN_LEASE)
        assert started == {1: 1}

    # /digest waited for the sender, and finds the day's digest going out.
    assert await command is None
    assert await runs(sessionmaker) == [("sending", 1, None)]


async def test_releasing_a_chat_keeps_a_schedule_changed_during_the_send(
    sessionmaker: Sessions,
) -> None:
    due = NOW - dt.timedelta(minutes=1)
    tomorrow, later_today = NOW + dt.timedelta(days=1), NOW + dt.timedelta(hours=2)
    for chat_id in (1, 2):
        await add_chat(sessionmaker, chat_id, next_at=due)
    assert len(await claim(sessionmaker)) == 2
    # While the digests go out, chat 2 moves its delivery time (/time).
    async with sessionmaker() as session, session.begin():
        await set_next_digest_at(session=session, chat_id=2, when=later_today)

    async with sessionmaker() as session, session.begin():
        for chat_id in (1, 2):
            await release_chat(
                session=session, chat_id=chat_id, due_at=due, next_digest_at=tomorrow
            )

    async with sessionmaker() as session:
        one, two = [await get_chat(session=session, chat_id=chat_id) for chat_id in (1, 2)]
    assert one is not None and two is not None
    assert (one.next_digest_at, two.next_digest_at) == (tomorrow, later_today)
    assert (one.claimed_until, two.claimed_until) == (None, None)


# --- scheduled jobs ---------------------------------------------------------------------------


async def test_each_occurrence_of_a_job_is_claimed_once(sessionmaker: Sessions) -> None:
    five = dt.datetime(2024, 12, 19, 2, 0, tzinfo=dt.UTC)

    async def take(job: str, slot: dt.datetime) -> bool:
        async with sessionmaker() as session, session.begin():
            return await claim_job_run(session=session, job=job, slot=slot, now=NOW)

    results = await asyncio.gather(*(take("ingest", five) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]  # replicas racing: one wins
    assert await take("ingest", five + dt.timedelta(hours=6)) is True  # the next occurrence
    assert await take("cleanup", five) is True  # another job


# --- personal order from 👍 and 👎 ---------------------------------------------------------

MODEL = "test-model"


def topic(axis: int) -> list[float]:
    """A unit vector along one axis: papers on one topic share it, other topics are orthogonal."""
    vector = [0.0] * 384
    vector[axis] = 1.0
    return vector


async def embed(sessionmaker: Sessions, vectors: dict[str, list[float]]) -> None:
    async with sessionmaker() as session, session.begin():
        await save_vectors(
            session=session,
            model=MODEL,
            vectors={pid: np.asarray(v, dtype=np.float32) for pid, v in vectors.items()},
            now=NOW,
        )


async def rate(sessionmaker: Sessions, chat_id: int, paper_id: str, vote: int) -> None:
    async with sessionmaker() as session, session.begin():
        await set_vote(
            session=session, chat_id=chat_id, paper_id=paper_id, vote=vote, suggested=False, now=NOW
        )


async def test_a_chat_that_rated_papers_gets_its_own_order_drops_and_suggestions(
    sessionmaker: Sessions,
) -> None:
    # Yesterday: a MoE paper the reader liked and a video paper the reader did not.
    yesterday = DAY - dt.timedelta(days=1)
    await add_paper(sessionmaker, "2412.10000", ["mllm"], listed_on=yesterday)
    await add_paper(sessionmaker, "2412.10001", ["mllm"], listed_on=yesterday)
    # Today: two MoE papers, one video paper (all #mllm), and a MoE paper tagged #rl only.
    await add_paper(sessionmaker, "2412.20000", ["mllm"], upvotes=90)  # video
    await add_paper(sessionmaker, "2412.20001", ["mllm"], upvotes=50)  # MoE
    await add_paper(sessionmaker, "2412.20002", ["mllm"], upvotes=10)  # MoE
    await add_paper(sessionmaker, "2412.20003", ["rl"], upvotes=5)  # MoE, not followed
    moe, video = topic(0), topic(1)
    await embed(
        sessionmaker,
        {
            "2412.10000": moe,
            "2412.10001": video,
            "2412.20000": video,
            "2412.20001": moe,
            "2412.20002": moe,
            "2412.20003": moe,
        },
    )
    for chat_id in (1, 2):
        await add_chat(sessionmaker, chat_id, ["mllm"])
    await rate(sessionmaker, 1, "2412.10000", +1)
    await rate(sessionmaker, 1, "2412.10001", -1)

    async with sessionmaker() as session:
        digests = await compose(
            session=session,
            chats=[(1, profile(["mllm"])), (2, profile(["mllm"]))],
            max_papers=15,
            since=DAY,
            model=MODEL,
        )

    # The reader who rated: MoE first, the video paper dropped, the #rl MoE paper suggested.
    assert ids(digests[1]) == ["2412.20001", "2412.20002"]
    assert [p.id for p in digests[1].suggestions] == ["2412.20003"]
    # The reader who never rated: by upvotes, as before, nothing suggested.
    assert ids(digests[2]) == ["2412.20000", "2412.20001", "2412.20002"]
    assert digests[2].suggestions == ()


async def test_votes_change_nothing_without_an_embedding_model(sessionmaker: Sessions) -> None:
    await add_paper(sessionmaker, "2412.20000", ["mllm"], upvotes=90)
    await add_paper(sessionmaker, "2412.20001", ["mllm"], upvotes=50)
    await add_chat(sessionmaker, 1, ["mllm"])
    await rate(sessionmaker, 1, "2412.20000", -1)

    digests = await composed(sessionmaker, [(1, ["mllm"])])

    assert ids(digests[1]) == ["2412.20000", "2412.20001"]


async def test_a_reader_who_rated_still_gets_the_day_when_no_paper_has_a_vector_yet(
    sessionmaker: Sessions,
) -> None:
    # The embedding model was changed and the catalogue not yet re-embedded: nothing to rank by.
    await add_paper(sessionmaker, "2412.20000", ["mllm"], upvotes=90)
    await add_paper(sessionmaker, "2412.20001", ["mllm"], upvotes=50)
    await add_chat(sessionmaker, 1, ["mllm"])
    await rate(sessionmaker, 1, "2412.20000", -1)

    async with sessionmaker() as session:
        digests = await compose(
            session=session, chats=[(1, profile(["mllm"]))], max_papers=15, since=DAY, model=MODEL
        )

    # The usual order: the digest is not lost for want of vectors.
    assert ids(digests[1]) == ["2412.20000", "2412.20001"]


# --- code that appears later --------------------------------------------------------------


async def set_code(sessionmaker: Sessions, paper_id: str, code_url: str | None) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Paper).where(Paper.id == paper_id).values(code_url=code_url))


async def deliver_as_shown(sessionmaker: Sessions, chat_id: int, *paper_ids: str) -> None:
    """Record the papers as a digest does: with the code link each message showed."""
    async with sessionmaker() as session, session.begin():
        rows = await session.execute(
            select(Paper.id, Paper.code_url).where(Paper.id.in_(paper_ids))
        )
        shown = {paper_id: code_url for paper_id, code_url in rows.all()}
        await record_deliveries(
            session=session, chat_id=chat_id, paper_ids=paper_ids, now=NOW, code_urls=shown
        )


async def followups(
    sessionmaker: Sessions, chat_ids: Sequence[int], since: dt.date = DAY
) -> dict[int, list[tuple[str, str]]]:
    async with sessionmaker() as session:
        found = await code_followups(session=session, chat_ids=chat_ids, since=since)
    return {chat: [(f.paper_id, f.code_url) for f in owed] for chat, owed in found.items()}


async def tell(sessionmaker: Sessions, chat_id: int, *paper_ids: str) -> None:
    async with sessionmaker() as session, session.begin():
        await record_code_told(
            session=session,
            chat_id=chat_id,
            code_urls={pid: f"https://github.com/late/{pid}" for pid in paper_ids},
        )


async def test_code_that_appears_later_is_owed_to_the_chats_that_got_the_paper_without_it(
    sessionmaker: Sessions,
) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(sessionmaker, chat_id)
    await add_paper(sessionmaker, "2412.00001")
    await add_paper(sessionmaker, "2412.00002")
    await set_code(sessionmaker, "2412.00001", None)
    await deliver_as_shown(sessionmaker, 1, "2412.00001", "2412.00002")
    await deliver_as_shown(sessionmaker, 2, "2412.00001")
    assert await followups(sessionmaker, [1, 2, 3]) == {}

    await set_code(sessionmaker, "2412.00001", "https://github.com/late/2412.00001")

    late = ("2412.00001", "https://github.com/late/2412.00001")
    # Chat 3 never received the paper; chat 1 saw the other paper's code in its digest.
    assert await followups(sessionmaker, [1, 2, 3]) == {1: [late], 2: [late]}
    async with sessionmaker() as session:
        [told] = (await code_followups(session=session, chat_ids=[1], since=DAY))[1]
    assert (told.title, told.title_ru) == ("Paper 2412.00001", "Статья 2412.00001")
    assert told.url == "https://huggingface.co/papers/2412.00001"
    # Papers listed before ``since`` are no longer announced.
    assert await followups(sessionmaker, [1, 2], since=DAY + dt.timedelta(days=1)) == {}


async def test_a_told_code_link_is_never_owed_again_and_moves_with_a_supergroup(
    sessionmaker: Sessions,
) -> None:
    for chat_id in (1, 2):
        await add_chat(sessionmaker, chat_id)
    await add_paper(sessionmaker, "2412.00001")
    await set_code(sessionmaker, "2412.00001", None)
    for chat_id in (1, 2):
        await deliver_as_shown(sessionmaker, chat_id, "2412.00001")
    await set_code(sessionmaker, "2412.00001", "https://github.com/late/2412.00001")

    await tell(sessionmaker, 1, "2412.00001")

    assert list(await followups(sessionmaker, [1, 2])) == [2]
    async with sessionmaker() as session:
        assert await code_owed(session=session, chat_id=1, paper_ids=["2412.00001"]) == set()
        assert await code_owed(session=session, chat_id=2, paper_ids=["2412.00001"]) == {
            "2412.00001"
        }
    # Recording the delivery again (a resumed digest) does not make it owed again.
    await deliver_as_shown(sessionmaker, 1, "2412.00001")
    assert list(await followups(sessionmaker, [1, 2])) == [2]
    # A group that becomes a supergroup keeps what it was told and what it is owed.
    async with sessionmaker() as session, session.begin():
        await migrate_chat(session=session, old_id=1, new_id=-1001)
        await migrate_chat(session=session, old_id=2, new_id=-1002)
    assert list(await followups(sessionmaker, [-1001, -1002])) == [-1002]


async def test_a_digest_tells_at_most_ten_late_code_links_and_the_rest_next_time(
    sessionmaker: Sessions,
) -> None:
    await add_chat(sessionmaker, 1)
    paper_ids = [f"2412.{n:05d}" for n in range(1, MAX_CODE_FOLLOWUPS + 3)]
    for paper_id in paper_ids:
        await add_paper(sessionmaker, paper_id)
        await set_code(sessionmaker, paper_id, None)
    await deliver_as_shown(sessionmaker, 1, *paper_ids)
    for paper_id in paper_ids:
        await set_code(sessionmaker, paper_id, f"https://github.com/late/{paper_id}")

    first = [paper_id for paper_id, _ in (await followups(sessionmaker, [1]))[1]]
    assert first == paper_ids[:MAX_CODE_FOLLOWUPS]
    await tell(sessionmaker, 1, *first)
    rest = [paper_id for paper_id, _ in (await followups(sessionmaker, [1]))[1]]
    assert rest == paper_ids[MAX_CODE_FOLLOWUPS:]


async def test_late_code_is_found_for_a_broadcast_batch_larger_than_one_statement_binds(
    sessionmaker: Sessions,
) -> None:
    chat_ids = list(range(1, 1202))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Chat),
            [
                {
                    "id": chat_id,
                    "type": "private",
                    "language": "ru",
                    "timezone": "UTC",
                    "digest_time": NINE,
                    "created_at": NOW,
                }
                for chat_id in chat_ids
            ],
        )
    await add_paper(sessionmaker, "2412.00001")
    await set_code(sessionmaker, "2412.00001", None)
    for chat_id in chat_ids[::100]:
        await deliver_as_shown(sessionmaker, chat_id, "2412.00001")
    await set_code(sessionmaker, "2412.00001", "https://github.com/late/2412.00001")

    assert sorted(await followups(sessionmaker, chat_ids)) == chat_ids[::100]
