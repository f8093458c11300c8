"""The morning digest: which chats are due, what each receives, and the delivery bookkeeping.

Composing is grouped by profile (see docs/architecture.md): chats with the same tags, follows
and mutes (``content.matching.Profile``) share one ranked candidate list, and only the few
papers a chat already received are subtracted per chat.  A naive subscriptions × paper_tags ×
papers join would instead materialise one row per (chat, matching paper) - millions of rows for
100k chats.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, case, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.matching import AUTHOR, WORD, Matcher, PaperText, Profile, Reason
from content.relevance import Vote, affinities, choose, cosines
from storage import feedback
from storage.chats import lock_chat
from storage.db import in_values, insert_ignoring_conflicts, table_of
from storage.models import Chat, Delivery, DigestRun, Follow, Paper, PaperTag, Subscription
from storage.papers import latest_listing_day
from storage.vectors import load_vectors

READY_STATUSES: Final[tuple[str, ...]] = ("done", "fallback")
"""Summary statuses of papers that may go out in a digest."""

RUN_SENDING: Final[str] = "sending"
RUN_DONE: Final[str] = "done"
# SQLite allows at most 32,766 bound parameters per statement; stay far below it.
_CHUNK: Final[int] = 500

_T = TypeVar("_T")


class DueChat(NamedTuple):
    """A chat whose digest is due, with its sorted subscriptions."""

    # A named tuple, not a frozen dataclass: a broadcast makes one per chat, and a frozen
    # dataclass's __init__ costs several times as much.

    chat_id: int
    timezone: str
    digest_time: dt.time
    next_digest_at: dt.datetime
    tags: tuple[str, ...]
    digest_format: str = "full"
    digest_weekday: int | None = None  # weekly on that weekday (Monday is 0); None is daily


@dataclass(frozen=True, slots=True)
class DigestPaper:
    """What a digest needs of one paper, as one compose read it."""

    id: str
    title: str
    title_ru: str | None
    summary_ru: str | None
    url: str
    code_url: str | None
    project_url: str | None
    upvotes: int
    listed_on: dt.date
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ComposedDigest:
    """A chat's digest: the papers to send, best first, how many more matched, and why each came.

    ``reasons`` is keyed by paper id.
    """

    papers: tuple[DigestPaper, ...]
    more: int
    reasons: Mapping[str, Reason] = field(default_factory=dict)
    # Papers outside the chat's matches, close to what it liked ("Может быть интересно").
    suggestions: tuple[DigestPaper, ...] = ()


EMPTY_DIGEST: Final[ComposedDigest] = ComposedDigest(papers=(), more=0)

CODE_WINDOW: Final[dt.timedelta] = dt.timedelta(days=30)
"""How far before a digest's ``since`` a paper's late code is still announced."""

MAX_CODE_FOLLOWUPS: Final[int] = 10
"""Late code links told in one digest; the rest wait for the next one."""


@dataclass(frozen=True, slots=True)
class CodeFollowup:
    """A paper a chat received without code, whose code has appeared since."""

    paper_id: str
    title: str
    title_ru: str | None
    url: str
    code_url: str


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _due(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """Conditions of a chat whose digest is due and that no sender holds."""
    return (
        Chat.next_digest_at <= now,
        Chat.active.is_(True),
        Chat.paused.is_(False),
        or_(Chat.claimed_until.is_(None), Chat.claimed_until <= now),
        or_(
            exists().where(Subscription.chat_id == Chat.id),
            exists().where(Follow.chat_id == Chat.id, Follow.kind.in_((WORD, AUTHOR))),
        ),
    )


async def count_due_chats(*, session: AsyncSession, now: dt.datetime) -> int:
    """How many chats ``claim_due_chats`` would hand out at ``now``, all senders together."""
    found = await session.scalar(select(func.count()).select_from(Chat).where(*_due(now)))
    return int(found or 0)


async def claim_due_chats(
    *, session: AsyncSession, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[DueChat]:
    """Claim up to ``limit`` due chats that no other sender holds, oldest first, for ``lease``.

    Due means active, unpaused, following a tag, word or author, and next digest at or before
    ``now``. Senders
    (ticks, replicas) share the work: on PostgreSQL, rows another transaction is claiming are
    skipped (FOR UPDATE SKIP LOCKED); on SQLite, transactions are serial anyway. A claim
    ends with ``release_chat``, or lapses after ``lease`` if its sender died.
    """
    due = (
        select(Chat.id)
        .where(*_due(now))
        .order_by(Chat.next_digest_at, Chat.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # PostgreSQL may run an IN (subquery) more than once per UPDATE, each run skipping
        # other rows and so claiming more than ``limit``; a materialised CTE runs once.
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # Tag ids never contain spaces (content.taxonomy), so one string carries them all.
    tags = (
        select(func.aggregate_strings(Subscription.tag, " "))
        .where(Subscription.chat_id == Chat.id)
        .scalar_subquery()
    )
    connection = await session.connection()
    # One statement claims the chats and returns what a digest needs of them.
    claimed = await connection.execute(
        update(Chat)
        .where(Chat.id.in_(select(due.c.id)))
        .values(claimed_until=now + lease)
        .returning(
            Chat.next_digest_at,
            Chat.id,
            Chat.timezone,
            Chat.digest_time,
            tags,
            Chat.digest_format,
            Chat.digest_weekday,
        )
    )
    # Oldest first, as selected: RETURNING promises no order.
    rows = sorted(tuple(row) for row in claimed.all() if row[0] is not None)
    # Tags are sorted in Python: database collations disagree on punctuation.
    return [
        DueChat(
            chat_id=chat_id,
            timezone=timezone,
            digest_time=digest_time,
            next_digest_at=next_digest_at,
            tags=tuple(sorted(chat_tags.split())) if chat_tags else (),
            digest_format=digest_format,
            digest_weekday=day,
        )
        for next_digest_at, chat_id, timezone, digest_time, chat_tags, digest_format, day in rows
    ]


async def release_chat(
    *,
    session: AsyncSession,
    chat_id: int,
    due_at: dt.datetime,
    next_digest_at: dt.datetime | None,
) -> None:
    """End the claim on the chat, and move its next digest from ``due_at`` to ``next_digest_at``.

    A schedule changed while the digest was being sent (/time, /timezone) no longer reads
    ``due_at``, and stands.
    """
    await session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(
            claimed_until=None,
            next_digest_at=case(
                (Chat.next_digest_at == due_at, literal(next_digest_at, Chat.next_digest_at.type)),
                else_=Chat.next_digest_at,
            ),
        )
    )


class ComposeCache:
    """Per-profile work kept between composes over the same papers: one broadcast's batches.

    A broadcast claims chats batch after batch, and each batch's compose reads the ready
    papers again. While they read the same (same papers, fields and tags), a profile's
    matches, reasons and shared digest are the ones an earlier batch worked out, so a
    profile costs its work once per broadcast instead of once per batch. Once the papers
    read differently (an ingest ran meanwhile) the kept work is dropped. At most
    ``max_profiles`` profiles are kept, the oldest forgotten first.
    """

    def __init__(self, max_profiles: int = 50_000) -> None:
        self.max_profiles = max_profiles
        # By (since, whether texts were read): a daily and a weekly compose alternate.
        self._catalogues: dict[tuple[dt.date, bool], _Catalogue] = {}

    def _catalogue(
        self,
        since: dt.date,
        ranked: tuple[DigestPaper, ...],
        texts: Mapping[str, PaperText],
    ) -> _Catalogue:
        """The kept catalogue of these papers, or a new one when they read differently."""
        key = (since, bool(texts))
        kept = self._catalogues.get(key)
        if kept is None or kept.ranked != ranked or kept.texts != texts:
            matcher = Matcher([texts.get(p.id) or PaperText(p.id, p.tags) for p in ranked])
            kept = self._catalogues[key] = _Catalogue(ranked, dict(texts), matcher, self)
        return kept


@dataclass(slots=True)
class _Catalogue:
    """One compose's ranked papers, their matcher, and the work done per profile over them."""

    ranked: tuple[DigestPaper, ...]
    texts: dict[str, PaperText]
    matcher: Matcher
    cache: ComposeCache
    whys: dict[Profile, _Why] = field(default_factory=dict)

    def why(self, wanted: Profile) -> _Why:
        """The profile's matches over these papers, worked out once."""
        found = self.whys.get(wanted)
        if found is None:
            if len(self.whys) >= self.cache.max_profiles:
                del self.whys[next(iter(self.whys))]
            positions = self.matcher.matching(wanted)
            found = self.whys[wanted] = _Why(self.matcher, wanted, self.ranked, positions)
        return found


async def compose(
    *,
    session: AsyncSession,
    chats: Sequence[tuple[int, Profile]],
    max_papers: int,
    since: dt.date,
    model: str | None = None,
    cache: ComposeCache | None = None,
) -> dict[int, ComposedDigest]:
    """Each chat's ready, undelivered papers listed since ``since`` that its profile brings.

    A paper comes for a followed tag, word or author, unless a muted word or tag is in it.
    Papers are ranked by upvotes, then listing day (newest first), then id, and capped at
    ``max_papers``; ``more`` counts the matching papers beyond the cap.  Chats with equal
    results share one ComposedDigest object, so callers can render each result once.

    With ``model`` (the embedding model of the papers' vectors), a chat that rated papers gets
    its personal order instead, and suggestions (``content.relevance``); the
    chats that never rated keep sharing their results. With ``cache``, composes over the
    same papers (the batches of one broadcast) share their per-profile work and results.
    """
    wanted = dict(chats)
    result = dict.fromkeys(wanted, EMPTY_DIGEST)
    needs_text = any(p.needs_text for p in wanted.values())
    if not any(p.wants_anything for p in wanted.values()):
        return result
    votes: dict[int, list[Vote]] = {}
    if model is not None:
        votes = await feedback.votes_of_chats(
            session=session, chat_ids=[c for c, p in wanted.items() if p.wants_anything]
        )

    # All tags of the recent ready papers: one small query (a day lists a few hundred
    # papers), from which every profile's candidates are derived in memory.
    paper_tags: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(PaperTag.paper_id, PaperTag.tag)
        .join(Paper, Paper.id == PaperTag.paper_id)
        .where(Paper.listed_on >= since, Paper.summary_status.in_(READY_STATUSES))
        # In the database's own collation, which the id range in _delivered relies on.
        .order_by(PaperTag.paper_id)
    )
    for paper_id, tag in rows.all():
        paper_tags[paper_id].append(tag)
    texts: dict[str, PaperText] = {}
    if needs_text:
        # Followed words and authors may find any ready paper, tagged or not.
        papers, texts = await _papers_with_text(session=session, since=since, tags=paper_tags)
        pool = list(texts)
    else:
        # Every tagged paper, whatever this batch's chats follow: suggestions for chats that
        # rated papers may come from any tag, and the next batch reads the same papers.
        papers = await _digest_papers(session=session, paper_ids=list(paper_tags), tags=paper_tags)
        pool = list(paper_tags)
    if not papers:
        return result
    ranked = tuple(
        sorted(papers.values(), key=lambda p: (-p.upvotes, -p.listed_on.toordinal(), p.id))
    )
    catalogue = (cache or ComposeCache())._catalogue(since, ranked, texts)
    ranked = catalogue.ranked

    delivered = await _delivered(
        session=session,
        chat_ids=list(wanted),
        paper_ids=[p.id for p in ranked],
        id_range=(pool[0], pool[-1]),
    )

    # Each tag, word and author as a set of positions in the ranking: a profile's papers are
    # the union of its follows' sets less its mutes', so the cost follows the distinct
    # profiles and follows, not the chats.
    limit = max(max_papers, 0)
    personal: list[_Personal] = []
    for chat_id, chat_profile in wanted.items():
        if not chat_profile.wants_anything:
            continue
        # One mapping per profile: it holds the reasons of every paper its digests show.
        why = catalogue.why(chat_profile)
        received = delivered.get(chat_id, set())
        chat_votes = votes.get(chat_id)
        if chat_votes:
            personal.append(_Personal(chat_id, why, why.positions, received, chat_votes))
        elif received:
            kept = [p for p in why.positions if ranked[p].id not in received]
            result[chat_id] = why.capped(kept, limit)
        else:
            result[chat_id] = why.shared(limit)
    if personal and model is not None:
        result.update(
            await _personal_digests(
                session=session, model=model, chats=personal, ranked=ranked, limit=limit
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class _Personal:
    """A chat whose digest follows its own votes."""

    chat_id: int
    why: _Why
    positions: Sequence[int]  # what its profile brings, in the usual order
    received: set[str]
    votes: Sequence[Vote]


async def _personal_digests(
    *,
    session: AsyncSession,
    model: str,
    chats: Sequence[_Personal],
    ranked: Sequence[DigestPaper],
    limit: int,
) -> dict[int, ComposedDigest]:
    """The digests of chats that rated papers: their personal order, drops and suggestions."""
    voted = {vote.paper_id for chat in chats for vote in chat.votes}
    vectors = await load_vectors(
        session=session, model=model, paper_ids=[p.id for p in ranked] + sorted(voted)
    )
    if not vectors:
        # Nothing to rank by (a new model, the catalogue not yet re-embedded): the usual order.
        return {
            chat.chat_id: chat.why.capped(
                [p for p in chat.positions if ranked[p].id not in chat.received], limit
            )
            for chat in chats
        }
    # One matrix of the ranked papers serves every chat: a row of zeros is close to nothing.
    zero = np.zeros_like(next(iter(vectors.values())))
    matrix = np.stack([vectors.get(paper.id, zero) for paper in ranked])
    table = cosines(matrix, {pid: vectors[pid] for pid in sorted(voted) if pid in vectors})
    position_of = {paper.id: position for position, paper in enumerate(ranked)}
    found: dict[int, ComposedDigest] = {}
    for chat in chats:
        liked, disliked = affinities(table, chat.votes)
        outside = chat.why.others()
        received = {position_of[p] for p in chat.received if p in position_of}
        rated = {position_of[v.paper_id] for v in chat.votes if v.paper_id in position_of}
        order, _, suggested = choose(
            [p for p in chat.positions if p not in received] if received else chat.positions,
            outside,
            liked,
            disliked,
            excluded=received | rated,
        )
        digest = chat.why.capped(order, limit)
        if digest.papers and suggested:
            digest = replace(digest, suggestions=tuple(ranked[p] for p in suggested))
        found[chat.chat_id] = digest
    return found


@dataclass(slots=True)
class _Why:
    """A profile's matches and capped digests, with the reason of each paper they show."""

    matcher: Matcher
    profile: Profile
    ranked: Sequence[DigestPaper]
    positions: list[int]  # what the profile brings, best first
    reasons: dict[str, Reason] = field(default_factory=dict)
    _shared: dict[int, ComposedDigest] = field(default_factory=dict)
    _others: npt.NDArray[np.intp] | None = None

    def shared(self, limit: int) -> ComposedDigest:
        """The digest of every chat of the profile that received none of its papers."""
        found = self._shared.get(limit)
        if found is None:
            found = self._shared[limit] = self.capped(self.positions, limit)
        return found

    def others(self) -> npt.NDArray[np.intp]:
        """What the profile neither brings nor mutes: where its suggestions come from."""
        if self._others is None:
            self._others = np.asarray(self.matcher.others(self.profile), dtype=np.intp)
        return self._others

    def capped(self, kept: Sequence[int], limit: int) -> ComposedDigest:
        """The digest of these ranking positions, capped at ``limit``."""
        if not kept:
            return EMPTY_DIGEST
        shown = kept[:limit]
        for position in shown:
            paper_id = self.ranked[position].id
            if paper_id not in self.reasons:
                self.reasons[paper_id] = self.matcher.reason(self.profile, position)
        return ComposedDigest(
            papers=tuple(self.ranked[position] for position in shown),
            more=len(kept) - len(shown),
            reasons=self.reasons,
        )


async def _digest_papers(
    *, session: AsyncSession, paper_ids: Sequence[str], tags: dict[str, list[str]]
) -> dict[str, DigestPaper]:
    """Digest views of these papers, keyed by id."""
    found: dict[str, DigestPaper] = {}
    for chunk in _chunks(paper_ids):
        rows = await session.execute(select(*_DIGEST_COLUMNS).where(Paper.id.in_(chunk)))
        for row in rows.all():
            found[row.id] = _digest_paper(row, tags)
    return found


async def _papers_with_text(
    *, session: AsyncSession, since: dt.date, tags: dict[str, list[str]]
) -> tuple[dict[str, DigestPaper], dict[str, PaperText]]:
    """Every ready paper listed since ``since``, with what matching reads of it, by id.

    Both mappings are in the database's id order, which the id range in _delivered relies on.
    """
    rows = await session.execute(
        select(*_DIGEST_COLUMNS, Paper.abstract, Paper.authors)
        .where(Paper.listed_on >= since, Paper.summary_status.in_(READY_STATUSES))
        .order_by(Paper.id)
    )
    papers: dict[str, DigestPaper] = {}
    texts: dict[str, PaperText] = {}
    for row in rows.all():
        paper = papers[row.id] = _digest_paper(row, tags)
        texts[row.id] = PaperText(
            id=row.id,
            tags=paper.tags,
            title=row.title,
            abstract=row.abstract,
            title_ru=row.title_ru,
            summary_ru=row.summary_ru,
            authors=tuple(name for name in row.authors or () if isinstance(name, str)),
        )
    return papers, texts


_DIGEST_COLUMNS: Final = (
    Paper.id,
    Paper.title,
    Paper.title_ru,
    Paper.summary_ru,
    Paper.url,
    Paper.code_url,
    Paper.project_url,
    Paper.upvotes,
    Paper.listed_on,
)


def _digest_paper(row: Any, tags: dict[str, list[str]]) -> DigestPaper:
    return DigestPaper(
        id=row.id,
        title=row.title,
        title_ru=row.title_ru,
        summary_ru=row.summary_ru,
        url=row.url,
        code_url=row.code_url,
        project_url=row.project_url,
        upvotes=row.upvotes,
        listed_on=row.listed_on,
        tags=tuple(sorted(tags.get(row.id, ()))),
    )


async def _delivered(
    *,
    session: AsyncSession,
    chat_ids: Sequence[int],
    paper_ids: Sequence[str],
    id_range: tuple[str, str],
) -> dict[int, set[str]]:
    """Which of these papers (all within id_range) each chat received; chats with none absent."""
    wanted = set(paper_ids)
    # Binding every candidate id would make the database probe each (chat, paper) pair -
    # tens of millions of index seeks per broadcast.  arXiv ids grow with time, so the
    # candidates' id range picks out each chat's recent deliveries with one seek per chat
    # on the (chat_id, paper_id) primary key; the exact filter is applied here.  The range
    # comes from the database, since its collation need not order ids as Python does.
    low, high = id_range
    found: dict[int, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(Delivery.chat_id, Delivery.paper_id).where(
            in_values(session, Delivery.chat_id, chat_ids), Delivery.paper_id.between(low, high)
        )
    )
    for chat_id, paper_id in rows.all():
        if paper_id in wanted:
            found[chat_id].add(paper_id)
    return found


async def code_followups(
    *, session: AsyncSession, chat_ids: Sequence[int], since: dt.date
) -> dict[int, tuple[CodeFollowup, ...]]:
    """Papers listed since ``since`` that each chat received without code and that now have it.

    At most ``MAX_CODE_FOLLOWUPS`` a chat, oldest ids first; chats owed none are absent.
    """
    rows = await session.execute(
        select(Paper.id, Paper.title, Paper.title_ru, Paper.url, Paper.code_url)
        .where(Paper.listed_on >= since, Paper.code_url.is_not(None))
        # In the database's own collation, which the id range below relies on.
        .order_by(Paper.id)
    )
    papers = {
        row.id: CodeFollowup(row.id, row.title, row.title_ru, row.url, row.code_url)
        for row in rows.all()
    }
    if not papers or not chat_ids:
        return {}
    # As in _delivered: the id range bounds each chat's scan of its deliveries to recent ones.
    ids = list(papers)
    found: dict[int, list[CodeFollowup]] = defaultdict(list)
    owed = await session.execute(
        select(Delivery.chat_id, Delivery.paper_id)
        .where(
            in_values(session, Delivery.chat_id, chat_ids),
            Delivery.paper_id.between(ids[0], ids[-1]),
            Delivery.code_url_sent.is_(None),
        )
        .order_by(Delivery.chat_id, Delivery.paper_id)
    )
    for chat_id, paper_id in owed.all():
        paper = papers.get(paper_id)
        if paper is not None and len(found[chat_id]) < MAX_CODE_FOLLOWUPS:
            found[chat_id].append(paper)
    return {chat_id: tuple(followups) for chat_id, followups in found.items()}


async def code_owed(*, session: AsyncSession, chat_id: int, paper_ids: Sequence[str]) -> set[str]:
    """Which of these received papers the chat has not yet seen with code."""
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(paper_ids))):
        rows = await session.scalars(
            select(Delivery.paper_id).where(
                Delivery.chat_id == chat_id,
                Delivery.paper_id.in_(chunk),
                Delivery.code_url_sent.is_(None),
            )
        )
        found.update(rows)
    return found


async def record_code_told(
    *, session: AsyncSession, chat_id: int, code_urls: Mapping[str, str]
) -> None:
    """Remember that the chat was told these papers' code links (paper id to link)."""
    for paper_id, code_url in code_urls.items():
        await session.execute(
            update(Delivery)
            .where(Delivery.chat_id == chat_id, Delivery.paper_id == paper_id)
            .values(code_url_sent=code_url)
        )


async def received(*, session: AsyncSession, chat_id: int, paper_ids: Sequence[str]) -> set[str]:
    """Which of these papers the chat has received already."""
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(paper_ids))):
        rows = await session.scalars(
            select(Delivery.paper_id).where(
                Delivery.chat_id == chat_id, Delivery.paper_id.in_(chunk)
            )
        )
        found.update(rows)
    return found


async def default_since(*, session: AsyncSession, lookback_days: int = 1) -> dt.date | None:
    """The latest listing day less ``lookback_days``: where a new subscriber's digest starts."""
    latest = await latest_listing_day(session=session)
    return None if latest is None else latest - dt.timedelta(days=lookback_days)


WEEK_DAYS: Final[int] = 7
"""Listing days a weekly digest covers, the latest among them."""

WEEKLY_MAX_PAPERS: Final[int] = 10
"""The most papers a weekly digest shows: it is the week's top, not its whole list."""


async def week_since(*, session: AsyncSession) -> dt.date | None:
    """The first of the 7 listing days up to the latest one: where a weekly digest starts."""
    return await default_since(session=session, lookback_days=WEEK_DAYS - 1)


async def record_deliveries(
    *,
    session: AsyncSession,
    chat_id: int,
    paper_ids: Sequence[str],
    now: dt.datetime,
    code_urls: Mapping[str, str | None] | None = None,
) -> None:
    """Remember that these papers reached the chat; papers already recorded are left alone.

    ``code_urls`` holds the code link each paper's message showed, if it showed one.
    """
    shown = code_urls or {}
    rows = [
        {"chat_id": chat_id, "paper_id": pid, "delivered_at": now, "code_url_sent": shown.get(pid)}
        for pid in dict.fromkeys(paper_ids)
    ]
    for chunk in _chunks(rows):
        await session.execute(insert_ignoring_conflicts(session, Delivery), chunk)


async def start_run(
    *,
    session: AsyncSession,
    chat_id: int,
    local_date: dt.date,
    now: dt.datetime,
    lease: dt.timedelta,
) -> int | None:
    """Claim the chat's digest for its local day: the attempt that owns it, None if refused.

    A run left "sending" is a claim that holds for ``lease`` from its last renewal
    (``renew_run``): a concurrent sender (another tick, /digest, another replica) gets None
    meanwhile, and once the lease has expired (its sender died) the run is resumed as the
    next attempt. Any finished run (done, empty, blocked, failed) ends the day, so nobody
    gets a second digest that local day.
    """
    # The chat first: a run's foreign key would lock it after the run's row, while a claim
    # holds the chat and waits for that row (/digest at the minute of the morning digest).
    await lock_chat(session=session, chat_id=chat_id)
    started = await start_runs(session=session, days={chat_id: local_date}, now=now, lease=lease)
    return started.get(chat_id)


async def start_runs(
    *,
    session: AsyncSession,
    days: Mapping[int, dt.date],
    now: dt.datetime,
    lease: dt.timedelta,
) -> dict[int, int]:
    """``start_run`` for many chats (chat id to its local day): the attempts that own them.

    Chats refused are absent.
    """
    if not days:
        return {}
    # INSERT ... ON CONFLICT DO NOTHING and a conditional UPDATE are each atomic, so two
    # racing replicas get neither an IntegrityError nor a second digest after "done".
    connection = await session.connection()
    inserted = await connection.execute(
        insert_ignoring_conflicts(session, DigestRun).returning(table_of(DigestRun).c.chat_id),
        [
            {
                "chat_id": chat_id,
                "local_date": local_date,
                "status": RUN_SENDING,
                "attempts": 1,
                "started_at": now,
            }
            for chat_id, local_date in days.items()
        ],
    )
    started = dict.fromkeys(inserted.scalars(), 1)
    # The day's run exists already: resumed when its sender's lease lapsed (rare).
    for chat_id, local_date in days.items():
        if chat_id in started:
            continue
        attempt = await session.scalar(
            update(DigestRun)
            .where(
                DigestRun.chat_id == chat_id,
                DigestRun.local_date == local_date,
                DigestRun.status == RUN_SENDING,
                DigestRun.started_at <= now - lease,
            )
            .values(
                status=RUN_SENDING,
                attempts=DigestRun.attempts + 1,
                started_at=now,
                error=None,
                finished_at=None,
            )
            .returning(DigestRun.attempts)
        )
        if attempt is not None:
            started[chat_id] = attempt
    return started


async def renew_run(
    *,
    session: AsyncSession,
    chat_id: int,
    local_date: dt.date,
    attempt: int,
    now: dt.datetime,
    lease: dt.timedelta,
) -> bool:
    """Extend ``attempt``'s claim on the chat's run by ``lease``; False if it lost the run.

    The run is lost once it finished or another sender resumed it after the lease lapsed.
    The chat's claim (``claim_due_chats``), if it has one, is extended too.
    """
    # Chats before digest_runs, the order in which a claim and start_runs lock them: a
    # sender renewing while another claims the chat whose lease lapsed waits, not deadlocks.
    await lock_chat(session=session, chat_id=chat_id)
    # started_at doubles as the moment of the last renewal: start_run resumes a run a
    # whole lease after it.
    renewed = await session.execute(
        update(DigestRun)
        .where(
            DigestRun.chat_id == chat_id,
            DigestRun.local_date == local_date,
            DigestRun.status == RUN_SENDING,
            DigestRun.attempts == attempt,
        )
        .values(started_at=now)
    )
    if _rowcount(renewed) != 1:
        return False
    await session.execute(
        update(Chat)
        .where(Chat.id == chat_id, Chat.claimed_until.is_not(None))
        .values(claimed_until=now + lease)
    )
    return True


async def finish_run(
    *,
    session: AsyncSession,
    chat_id: int,
    local_date: dt.date,
    status: str,
    error: str | None,
    now: dt.datetime,
) -> None:
    """Record how the chat's digest for its local day ended."""
    await session.execute(
        update(DigestRun)
        .where(DigestRun.chat_id == chat_id, DigestRun.local_date == local_date)
        .values(status=status, error=error, finished_at=now)
    )


async def end_run(
    *,
    session: AsyncSession,
    chat_id: int,
    local_date: dt.date,
    status: str,
    error: str | None,
    now: dt.datetime,
    due_at: dt.datetime,
    next_digest_at: dt.datetime | None,
) -> None:
    """``release_chat``, then ``finish_run``: a scheduled digest is over, the chat moves on."""
    # Chats before digest_runs, as in a claim: ending a run while another sender claims the
    # chat (its lease lapsed) makes one transaction wait for the other instead of deadlocking.
    await release_chat(
        session=session, chat_id=chat_id, due_at=due_at, next_digest_at=next_digest_at
    )
    await finish_run(
        session=session,
        chat_id=chat_id,
        local_date=local_date,
        status=status,
        error=error,
        now=now,
    )


def _rowcount(result: object) -> int:
    # Result of a DML statement; typed loosely because Result does not declare rowcount.
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_held(*, session: AsyncSession, chat_id: int, now: dt.datetime) -> bool:
    """Whether a sender holds the chat's claim at ``now``: its scheduled digest is going out."""
    held = await session.scalar(select(Chat.id).where(Chat.id == chat_id, Chat.claimed_until > now))
    return held is not None


async def run_status(*, session: AsyncSession, chat_id: int, local_date: dt.date) -> str | None:
    """The status of the chat's run for that local day, or None when there is none."""
    return await session.scalar(
        select(DigestRun.status).where(
            DigestRun.chat_id == chat_id, DigestRun.local_date == local_date
        )
    )


async def day_is_taken(
    *,
    session: AsyncSession,
    chat_id: int,
    local_date: dt.date,
    now: dt.datetime,
    lease: dt.timedelta,
) -> bool:
    """Whether the chat's digest for that local day was sent, or is being sent right now.

    A run left "sending" by a sender that died (its lease lapsed) does not count: that digest
    is still owed, and the next send resumes it.
    """
    row = (
        await session.execute(
            select(DigestRun.status, DigestRun.started_at).where(
                DigestRun.chat_id == chat_id, DigestRun.local_date == local_date
            )
        )
    ).one_or_none()
    if row is None:
        return False
    status, started_at = row
    return status != RUN_SENDING or started_at > now - lease
