"""Morning digest at scale: compose and render the digests of 100,000 chats (BENCH_CHATS).

100,000 chats (``BENCH_CHATS``; 10,000 with BENCH_SHORT) follow 3 random tags each of the 51
in the taxonomy; one day lists 300 ready papers with 3 random tags each; 3% of the chats
already received a few of their papers, and 10% rated 5 earlier papers (3 👍, 2 👎), so their
digests are ranked for them alone. Every paper has a vector shaped like multilingual-e5's:
unrelated papers at cosine ~0.84, papers sharing their first tag at ~0.91. The timed part
streams the due chats in batches of 5,000 (claim_due_chats, compose, then moving their next
digest to tomorrow, as a broadcast does) and renders each distinct digest once. The deliveries
loaded did not show code, so the chats whose received papers have code are owed a «Код
появился» line (code_followups, once per batch).

Each database is loaded in a child process (bulk inserts, COPY on PostgreSQL; not timed), then
broadcast in another, so the peak RSS is the broadcast's own: SQLite always, PostgreSQL when
BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set (in a scratch database created next to it).
Figures: seconds, peak RSS, distinct tag sets, distinct digests and chats per second. The
targets are those of 100,000 chats (15 s, 500 MB) and of 1,000,000 (30 s, 1 GB); other sizes
are informative.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from benchmarks.common import SHORT, emit  # noqa: E402
from bot.delivery import view as paper_view  # noqa: E402
from content.render import PaperView, render_digest_parts  # noqa: E402
from content.taxonomy import TAG_IDS  # noqa: E402
from content.vectors import Vector, normalised  # noqa: E402
from storage.db import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    dialect_name,
    table_of,
    upgrade_async,
)
from storage.digests import (  # noqa: E402
    CODE_WINDOW,
    ComposeCache,
    ComposedDigest,
    claim_due_chats,
    code_followups,
    compose,
    default_since,
)
from storage.follows import load_profiles  # noqa: E402
from storage.models import (  # noqa: E402
    Base,
    Chat,
    Delivery,
    Feedback,
    Paper,
    PaperTag,
    Subscription,
)
from storage.vectors import save_vectors  # noqa: E402
from tests.scratch_db import scratch_postgres  # noqa: E402

SEED = 20241219
CHATS = int(os.environ.get("BENCH_CHATS") or (10_000 if SHORT else 100_000))
# Targets (seconds, peak MB) by size.
TARGETS = {100_000: ("<= 15", "<= 500"), 1_000_000: ("<= 30", "<= 1024")}
PAPERS = 300
TAGS_EACH = 3
DELIVERED_SHARE = 0.03  # chats that already received 1-3 of their papers
FEEDBACK_SHARE = 0.10  # chats that rated earlier papers
VOTES = (1, 1, 1, -1, -1)
RATED_PAPERS = 200  # earlier papers that chats rated
MODEL = "bench-model"
BATCH = 5000
MAX_PAPERS = 15
LOAD_CHUNK = 10_000
UPDATE_CHUNK = 500
LEASE = dt.timedelta(minutes=2)
DAY = dt.date(2024, 12, 19)
NOW = dt.datetime(2024, 12, 20, 6, 0, tzinfo=dt.UTC)
TOMORROW = NOW + dt.timedelta(days=1)
SUMMARY = (
    "Авторы предлагают иерархический оконный трансформер, который строит обратную пирамиду "
    "признаков ViT и сжимает её окнами разных масштабов: +3,7% в среднем по 14 бенчмаркам, "
    "+9,3% на DocVQA, при той же стоимости инференса и без дополнительного обучения энкодера."
)

Sessions = async_sessionmaker[AsyncSession]


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """This process's user and system CPU time: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- data -------------------------------------------------------------------------------


async def load(sessionmaker: Sessions) -> None:
    """Bulk-load chats, subscriptions, papers and deliveries in a few transactions."""
    rng = random.Random(SEED)
    tags = sorted(TAG_IDS)
    papers = [(f"2412.{10000 + n:05d}", rng.sample(tags, TAGS_EACH)) for n in range(PAPERS)]
    by_tag: dict[str, list[str]] = defaultdict(list)
    for paper_id, paper_tags in papers:
        for tag in paper_tags:
            by_tag[tag].append(paper_id)

    earlier = [(f"2411.{10000 + n:05d}", rng.sample(tags, TAGS_EACH)) for n in range(RATED_PAPERS)]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(Paper),
            [
                {
                    "id": paper_id,
                    "title": f"Paper {paper_id}",
                    "abstract": "An abstract.",
                    "authors": ["A. Author"],
                    "listed_on": DAY - dt.timedelta(days=30),
                    "source": "hf",
                    "url": f"https://huggingface.co/papers/{paper_id}",
                    "summary_status": "done",
                    "ingested_at": NOW,
                    "updated_at": NOW,
                }
                for paper_id, _ in earlier
            ],
        )
        await session.execute(
            insert(Paper),
            [
                {
                    "id": paper_id,
                    "title": f"Paper {paper_id}: a hierarchical window transformer",
                    "abstract": "An abstract.",
                    "authors": ["A. Author", "B. Author"],
                    "listed_on": DAY,
                    "source": "hf",
                    "url": f"https://huggingface.co/papers/{paper_id}",
                    "code_url": f"https://github.com/lab/{paper_id}" if n % 2 else None,
                    "project_url": f"https://lab.github.io/{paper_id}" if n % 5 == 0 else None,
                    "upvotes": rng.randrange(200),
                    "title_ru": f"Статья {paper_id}: иерархический оконный трансформер",
                    "summary_ru": SUMMARY,
                    "summary_status": "done" if n % 10 else "fallback",
                    "ingested_at": NOW,
                    "updated_at": NOW,
                }
                for n, (paper_id, _) in enumerate(papers)
            ],
        )
        await session.execute(
            insert(PaperTag),
            [{"paper_id": pid, "tag": tag} for pid, paper_tags in papers for tag in paper_tags],
        )
        await save_vectors(session=session, model=MODEL, vectors=vectors(papers + earlier), now=NOW)

    for start in range(0, CHATS, LOAD_CHUNK):
        chats: list[tuple[object, ...]] = []
        subscriptions: list[tuple[object, ...]] = []
        deliveries: list[tuple[object, ...]] = []
        feedback: list[tuple[object, ...]] = []
        for chat_id in range(start + 1, min(start + LOAD_CHUNK, CHATS) + 1):
            chat_tags = rng.sample(tags, TAGS_EACH)
            # Spread over the night, so "oldest first" has something to order.
            due_at = NOW - dt.timedelta(seconds=rng.randrange(3600))
            chats.append((chat_id, "private", "ru", "Europe/Moscow", dt.time(9, 0), due_at, NOW))
            subscriptions.extend((chat_id, tag, NOW) for tag in chat_tags)
            if rng.random() < FEEDBACK_SHARE:
                rated = rng.sample(earlier, len(VOTES))
                feedback.extend(
                    (chat_id, pid, vote, NOW) for (pid, _), vote in zip(rated, VOTES, strict=True)
                )
            if rng.random() < DELIVERED_SHARE:
                matching = sorted({pid for tag in chat_tags for pid in by_tag[tag]})
                received = rng.sample(matching, min(len(matching), rng.randint(1, 3)))
                deliveries.extend((chat_id, pid, NOW) for pid in received)
        async with sessionmaker() as session, session.begin():
            await bulk_insert(session, Chat, CHAT_COLUMNS, chats)
            await bulk_insert(
                session, Subscription, ("chat_id", "tag", "created_at"), subscriptions
            )
            await bulk_insert(
                session, Delivery, ("chat_id", "paper_id", "delivered_at"), deliveries
            )
            await bulk_insert(
                session, Feedback, ("chat_id", "paper_id", "vote", "created_at"), feedback
            )

    # A live database has planner statistics, and on PostgreSQL a visibility map (index-only
    # scans skip the table); a freshly loaded one needs them made.
    async with sessionmaker() as session:
        if dialect_name(session) == "postgresql":
            connection = await session.connection(
                execution_options={"isolation_level": "AUTOCOMMIT"}
            )
            await connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            async with session.begin():
                await session.execute(text("ANALYZE"))


CHAT_COLUMNS = (
    "id",
    "type",
    "language",
    "timezone",
    "digest_time",
    "next_digest_at",
    "created_at",
)


async def bulk_insert(
    session: AsyncSession, model: type[Base], columns: Sequence[str], rows: list[tuple[object, ...]]
) -> None:
    """Insert rows of these columns: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    table = table_of(model)
    connection = await session.connection()
    if dialect_name(session) == "postgresql":
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=rows, columns=list(columns)
        )
    else:
        await connection.execute(
            insert(table), [dict(zip(columns, row, strict=True)) for row in rows]
        )


def vectors(papers: list[tuple[str, list[str]]]) -> dict[str, Vector]:
    """e5-like vectors: a component every paper shares, one per first tag, and noise."""
    rng = np.random.default_rng(SEED)

    def unit(rows: int) -> Vector:
        return normalised(rng.standard_normal((rows, 384)))

    common = unit(1)[0]
    topics = dict(zip(sorted(TAG_IDS), unit(len(TAG_IDS)), strict=True))
    noise = unit(len(papers))
    return {
        pid: np.sqrt(0.84) * common + np.sqrt(0.07) * topics[paper_tags[0]] + np.sqrt(0.09) * n
        for (pid, paper_tags), n in zip(papers, noise, strict=True)
    }


# --- the measured broadcast -------------------------------------------------------------


def view(digest: ComposedDigest) -> list[PaperView]:
    return [paper_view(paper, digest.reasons.get(paper.id)) for paper in digest.papers]


async def broadcast(db: str, sessionmaker: Sessions) -> None:
    tag_sets: set[tuple[str, ...]] = set()
    rendered: set[tuple[tuple[str, ...], int, tuple[str, ...]]] = set()
    # compose gives chats with equal results one object, in every batch (ComposeCache): each
    # object is looked at once. Held here, so that no id is reused.
    seen: dict[int, ComposedDigest] = {}
    cache = ComposeCache()
    chats = with_digest = messages = batches = personal = told = 0
    due_s = compose_s = render_s = advance_s = late_s = 0.0
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    while True:
        t0 = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            due = await claim_due_chats(session=session, now=NOW, limit=BATCH, lease=LEASE)
            if not due:
                break
            due_s += time.perf_counter() - t0
            since = await default_since(session=session)
            assert since is not None
            profiles = await load_profiles(
                session=session, tags={chat.chat_id: chat.tags for chat in due}
            )
            digests = await compose(
                session=session,
                chats=list(profiles.items()),
                max_papers=MAX_PAPERS,
                since=since,
                model=MODEL,
                cache=cache,
            )
            # The papers' code is counted as appeared after the deliveries loaded above.
            t_late = time.perf_counter()
            late = await code_followups(
                session=session, chat_ids=[chat.chat_id for chat in due], since=since - CODE_WINDOW
            )
            told += len(late)
            late_s += time.perf_counter() - t_late
            t1 = time.perf_counter()
            compose_s += t1 - t0
            for chat in due:
                tag_sets.add(chat.tags)
                digest = digests[chat.chat_id]
                if not digest.papers:
                    continue
                with_digest += 1
                personal += bool(digest.suggestions)
                if id(digest) in seen:
                    continue
                seen[id(digest)] = digest
                # The 📌 lines differ between profiles that got the same papers.
                whys = tuple(digest.reasons[paper.id].line() for paper in digest.papers)
                suggested = tuple(paper.id for paper in digest.suggestions)
                key = (tuple(p.id for p in digest.papers), digest.more, whys + suggested)
                if key in rendered:
                    continue
                rendered.add(key)
                parts = render_digest_parts(
                    view(digest),
                    day=DAY,
                    tags=chat.tags,
                    more=digest.more,
                    suggestions=[paper_view(paper) for paper in digest.suggestions],
                )
                messages += len(parts)
            t2 = time.perf_counter()
            render_s += t2 - t1
            # What a broadcast does once a chat is served: the claim ends, the next digest is
            # tomorrow's.
            ids = [chat.chat_id for chat in due]
            for start in range(0, len(ids), UPDATE_CHUNK):
                await session.execute(
                    update(Chat)
                    .where(Chat.id.in_(ids[start : start + UPDATE_CHUNK]))
                    .values(next_digest_at=TOMORROW, claimed_until=None)
                )
        advance_s += time.perf_counter() - t2
        chats += len(due)
        batches += 1
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started

    seconds_target, rss_target = TARGETS.get(CHATS, (None, None))
    emit(
        "digest",
        "seconds",
        seconds,
        "s",
        target=seconds_target,
        chats=chats,
        batches=batches,
        db=db,
    )
    emit("digest", "peak_rss_mb", peak_rss_mb(), "MB", target=rss_target, db=db)
    emit("digest", "cpu_seconds", cpu, "s", note="of this process, the database's aside", db=db)
    emit("digest", "with_suggestions", personal, "chats", note="rated, got suggestions", db=db)
    emit("digest", "distinct_tag_sets", len(tag_sets), "sets", db=db)
    emit("digest", "code_followups", told, "chats", note="owed a late code link", db=db)
    emit("digest", "distinct_digests", len(rendered), "digests", messages=messages, db=db)
    emit("digest", "chats_per_second", chats / seconds, "chats/s", with_digest=with_digest, db=db)
    emit("digest", "claim_seconds", due_s, "s", note="claim_due_chats", db=db)
    emit(
        "digest",
        "compose_seconds",
        compose_s,
        "s",
        note="claim_due_chats, compose, code_followups",
        db=db,
    )
    emit("digest", "code_followups_seconds", late_s, "s", note="of compose_seconds", db=db)
    emit("digest", "render_seconds", render_s, "s", db=db)
    emit("digest", "advance_seconds", advance_s, "s", note="next_digest_at moved, commit", db=db)


async def run(db: str, url: str, phase: str) -> None:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            assert dialect_name(session) in {"sqlite", "postgresql"}
        if phase == "load":
            started = time.perf_counter()
            await upgrade_async(url)
            await load(sessionmaker)
            emit(
                "digest",
                "setup_seconds",
                time.perf_counter() - started,
                "s",
                rss_mb=peak_rss_mb(),
                chats=CHATS,
                db=db,
            )
        else:
            await broadcast(db, sessionmaker)
    finally:
        await engine.dispose()


# --- child processes per database -------------------------------------------------------


def child(db: str, url: str, phase: str) -> None:
    result = subprocess.run(
        [sys.executable, __file__, "--db", db, "--url", url, "--phase", phase], check=False
    )
    if result.returncode:
        raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"])
    parser.add_argument("--url")
    parser.add_argument("--phase", choices=["load", "broadcast"])
    args = parser.parse_args()
    if args.db:
        asyncio.run(run(args.db, args.url, args.phase))
        return

    # The data is loaded by one process and broadcast by another: the peak RSS is the
    # broadcast's alone.
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        child("sqlite", url, "load")
        child("sqlite", url, "broadcast")
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if postgres:
        with scratch_postgres(postgres, f"digest_bench_{os.getpid()}") as url:
            child("postgresql", url, "load")
            child("postgresql", url, "broadcast")


if __name__ == "__main__":
    main()
