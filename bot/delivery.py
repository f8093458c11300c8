"""Sending digests: once per chat per local day, in order, whatever Telegram answers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot import keyboards
from bot.context import Services
from bot.paid import RoundPlan
from bot.ratelimit import SendKind
from content.matching import Profile, Reason
from content.render import DigestFormat, DigestPart, PaperView, render_digest_parts, safe_url
from content.schedule import next_digest_at, zone
from storage import chats, digests, follows
from storage.digests import CodeFollowup, ComposedDigest, DigestPaper, DueChat

log = logging.getLogger(__name__)

# Few sends in flight: replies to people must never queue behind thousands of digests.
SENDERS = 8
# A paid round keeps as many in flight as it sends in this long, so that the round trips to
# Telegram and the database do not hold it under its rate; a reply still waits about this long.
SEND_WINDOW = 0.25
# Chats claimed at a time: a couple of seconds of sending, so replicas share a broadcast
# finely and a claim never has to outlive its lease.
DUE_BATCH = 64
# A digest that keeps failing on network errors is given up after this many ticks.
MAX_ATTEMPTS = 5
_TAG = re.compile(r"<[^>]+>")
_EMPTY = ComposedDigest(papers=(), more=0)
# httpx errors raised before a request was written: no connection, or none free in the pool.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ChatGone(Exception):
    """The chat blocked the bot, left, or no longer exists."""


class SendFailed(Exception):
    """Sending failed for now; the digest waits for the next tick."""


class RunLost(Exception):
    """Another sender took the digest run over after this one's lease lapsed."""


@dataclass(frozen=True, slots=True)
class Run:
    """A chat's digest run for its local day, as one attempt of a sender owns it."""

    chat_id: int
    local_date: dt.date
    attempt: int
    started_at: dt.datetime  # when this sender started (or resumed) the run
    following: dt.datetime  # when the chat's next digest falls due, once this one ends


@dataclass(frozen=True, slots=True)
class Owed:
    """A claimed chat whose run this sender started, and the digest it is owed."""

    chat: DueChat
    run: Run
    digest: ComposedDigest
    topics: Sequence[str]
    followups: Sequence[CodeFollowup]
    week_from: dt.date | None


@dataclass(slots=True)
class DeliveryReport:
    """What one tick did."""

    due: int = 0
    sent_chats: int = 0
    messages: int = 0
    empty: int = 0
    blocked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def view(paper: DigestPaper, reason: Reason | None = None) -> PaperView:
    """How a stored paper reads in a digest, with the 📌 line of why it came."""
    return PaperView(
        id=paper.id,
        title=paper.title_ru or paper.title,
        summary=paper.summary_ru or "",
        url=paper.url,
        code_url=paper.code_url,
        project_url=paper.project_url,
        upvotes=paper.upvotes,
        tags=paper.tags,
        why=reason.line() if reason else "",
    )


def code_view(followup: CodeFollowup) -> PaperView:
    """How a paper whose code appeared late reads under «Код появился»."""
    return PaperView(
        id=followup.paper_id,
        title=followup.title_ru or followup.title,
        summary="",
        url=followup.url,
        code_url=followup.code_url,
    )


async def move_chat(services: Services, *, old_id: int, new_id: int) -> None:
    """Move a group that became a supergroup, with everything it had, to its new id."""
    async with services.sessionmaker() as session, session.begin():
        moved = await chats.migrate_chat(session=session, old_id=old_id, new_id=new_id)
    if moved:
        log.info("chat %s became supergroup %s; its settings and history moved", old_id, new_id)


def never_reached_telegram(exc: BaseException) -> bool:
    """Whether a send failed before its request reached Telegram, so resending is safe."""
    # PTB raises NetworkError (TimedOut among them) from the transport's exception; any
    # other failure may come after Telegram took the message.
    return isinstance(exc, NetworkError) and isinstance(exc.__cause__, _NEVER_SENT)


def plain_text(message: str) -> str:
    """The visible text of our own HTML, for the plain-text fallback after a 400."""
    return html.unescape(_TAG.sub("", message))


def local_day(chat: DueChat) -> dt.date:
    """The chat's local day its digest fell due: what its run is keyed by."""
    return chat.next_digest_at.astimezone(zone(chat.timezone)).date()


def following_digest(
    now: dt.datetime, timezone: str, at: dt.time, weekday: int | None = None
) -> dt.datetime:
    """The next scheduled digest after today's: today counts as delivered."""
    tz = zone(timezone)
    when = next_digest_at(now, tz, at, weekday)
    if when.astimezone(tz).date() == now.astimezone(tz).date():
        when = next_digest_at(when, tz, at, weekday)
    return when


async def compose_digests(
    services: Services,
    *,
    session: AsyncSession,
    profiles: Mapping[int, Profile],
    weekly: Collection[int] = (),
    cache: digests.ComposeCache | None = None,
) -> tuple[dict[int, ComposedDigest], dt.date | None]:
    """Each chat's digest, and the first listing day of the week when weekly chats were composed.

    Daily chats get the latest listing days' papers; the ``weekly`` chats get the best of the
    7 listing days up to the latest one, at most ``WEEKLY_MAX_PAPERS``. Both are ranked alike.
    ``cache`` carries per-profile work from one batch of a broadcast to the next.
    """
    settings = services.settings
    model = services.vectors.model_name
    daily = [(chat_id, p) for chat_id, p in profiles.items() if chat_id not in weekly]
    week = [(chat_id, p) for chat_id, p in profiles.items() if chat_id in weekly]
    found: dict[int, ComposedDigest] = {}
    if daily and (since := await digests.default_since(session=session)) is not None:
        found |= await digests.compose(
            session=session,
            chats=daily,
            max_papers=settings.digest_max_papers,
            since=since,
            model=model,
            cache=cache,
        )
    week_from = await digests.week_since(session=session) if week else None
    if week_from is not None:
        found |= await digests.compose(
            session=session,
            chats=week,
            max_papers=min(settings.digest_max_papers, digests.WEEKLY_MAX_PAPERS),
            since=week_from,
            model=model,
            cache=cache,
        )
    return found, week_from


class Deliverer:
    """Composes and sends the digests that are due."""

    def __init__(self, services: Services, bot: ExtBot[SendKind]) -> None:
        self._services = services
        self._bot = bot
        # Set for a paid round: its digest messages go with allow_paid_broadcast.
        self._paid = False

    async def tick(self) -> DeliveryReport:
        """Claim and send due digests, batch after batch, until none is left to claim."""
        plan = await self._plan_round()
        self._paid = plan is not None and plan.paid
        # A paid round keeps more sends in flight: at 300 a second, 8 would hold it far below.
        senders = SENDERS
        if plan is not None and plan.paid:
            senders = max(SENDERS, math.ceil(plan.rate * SEND_WINDOW))
        try:
            return await self._tick(senders)
        finally:
            if plan is not None:
                self._services.broadcast.end_round(plan)

    async def _plan_round(self) -> RoundPlan | None:
        """With paid broadcasts on and digests due, check the Star balance for this round."""
        broadcast = self._services.broadcast
        if not broadcast.enabled:
            return None
        now = self._services.now()
        async with self._services.sessionmaker() as session:
            due = await digests.count_due_chats(session=session, now=now)
        if not due:
            return None
        return await broadcast.begin_round(self._bot, messages=due, now=now)

    async def _tick(self, senders: int) -> DeliveryReport:
        report = DeliveryReport()
        limit = asyncio.Semaphore(senders)
        # The batches of one tick compose over the same papers, mostly for the same profiles.
        cache = digests.ComposeCache()

        async def one(owed: Owed) -> None:
            async with limit:
                try:
                    await self._deliver(owed, report)
                except Exception as exc:
                    # One chat's trouble (a database error, a setting that no longer
                    # parses) must not cost the others their digests. Its claim lapses,
                    # and a later tick resumes its run.
                    log.exception("delivery: chat %d failed", owed.chat.chat_id)
                    report.errors.append(f"{owed.chat.chat_id}: {exc!r}")

        while (batch := await self._claim_batch(cache, report)) is not None:
            await asyncio.gather(*(one(owed) for owed in batch))
        if report.due:
            log.info(
                "delivery: %d due, %d sent (%d messages), %d empty, %d blocked, %d failed",
                report.due,
                report.sent_chats,
                report.messages,
                report.empty,
                report.blocked,
                report.failed,
            )
        return report

    async def _claim_batch(
        self, cache: digests.ComposeCache, report: DeliveryReport
    ) -> list[Owed] | None:
        """Claim due chats and start their runs: the digests owed, None once none is due.

        One transaction for the batch: a chat whose run that day is finished and a chat with
        nothing new are settled here (one whose run another sender holds keeps its claim until
        it lapses), so sending a one-message digest costs one more transaction, the one that
        records it.
        """
        # A claim holds until the chat is released; a chat whose digest failed for now keeps
        # it until the lease lapses, so this tick does not retry it in a loop. Claims and
        # runs are stamped with the clock at that moment, never the tick's start: a broadcast
        # outlasts the lease, and a stale stamp would hand its chats to another sender.
        lease = self._services.settings.delivery_lease
        now = self._services.now()
        async with self._services.sessionmaker() as session, session.begin():
            due = await digests.claim_due_chats(
                session=session, now=now, limit=DUE_BATCH, lease=lease
            )
            if not due:
                return None
            report.due += len(due)
            # The runs start before the digests are composed, so that what each chat received
            # until now is left out, and nobody else sends to it until its run ends.
            days: dict[int, dt.date] = {}
            following: dict[int, dt.datetime] = {}
            for chat in due:
                try:
                    day = local_day(chat)
                    then = next_digest_at(
                        now, zone(chat.timezone), chat.digest_time, chat.digest_weekday
                    )
                except Exception as exc:
                    # A setting that no longer parses must not cost the others their digests.
                    # The claim lapses, and a later tick tries again.
                    log.exception("delivery: chat %d failed", chat.chat_id)
                    report.errors.append(f"{chat.chat_id}: {exc!r}")
                    continue
                days[chat.chat_id], following[chat.chat_id] = day, then
            started = await digests.start_runs(session=session, days=days, now=now, lease=lease)
            for chat in due:
                if chat.chat_id in days and chat.chat_id not in started:
                    # Finished that day already: move on to the next. Otherwise someone else
                    # is sending it right now, and moving the chat on could lose their digest.
                    status = await digests.run_status(
                        session=session, chat_id=chat.chat_id, local_date=days[chat.chat_id]
                    )
                    if status != digests.RUN_SENDING:
                        await digests.release_chat(
                            session=session,
                            chat_id=chat.chat_id,
                            due_at=chat.next_digest_at,
                            next_digest_at=following[chat.chat_id],
                        )
            due = [chat for chat in due if chat.chat_id in started]
            profiles = await follows.load_profiles(
                session=session, tags={chat.chat_id: chat.tags for chat in due}
            )
            composed, week_from = await compose_digests(
                self._services,
                session=session,
                profiles=profiles,
                weekly={chat.chat_id for chat in due if chat.digest_weekday is not None},
                cache=cache,
            )
            since = await digests.default_since(session=session)
            followups = (
                {}
                if since is None or not due
                else await digests.code_followups(
                    session=session,
                    chat_ids=[chat.chat_id for chat in due],
                    since=since - digests.CODE_WINDOW,
                )
            )
            owed: list[Owed] = []
            for chat in due:
                chat_id = chat.chat_id
                digest = composed.get(chat_id, _EMPTY)
                told = followups.get(chat_id, ())
                run = Run(chat_id, days[chat_id], started[chat_id], now, following[chat_id])
                if digest.papers or told:
                    weekly = chat.digest_weekday is not None
                    topics = profiles[chat_id].topics
                    owed.append(
                        Owed(chat, run, digest, topics, told, week_from if weekly else None)
                    )
                    continue
                # A day with nothing new: nothing goes out.
                await self._finish(session, chat, run, status="empty")
                report.empty += 1
        return owed

    async def _finish(
        self,
        session: AsyncSession,
        chat: DueChat,
        run: Run,
        *,
        status: str,
        error: str | None = None,
    ) -> None:
        """End the run with ``status``; move its chat (at ``run.chat_id``) to its next digest."""
        if status == "blocked":
            await chats.set_active(session=session, chat_id=run.chat_id, active=False)
        await digests.end_run(
            session=session,
            chat_id=run.chat_id,
            local_date=run.local_date,
            status=status,
            error=error,
            now=self._services.now(),
            due_at=chat.next_digest_at,
            next_digest_at=run.following,
        )

    async def _deliver(self, owed: Owed, report: DeliveryReport) -> None:
        chat, run = owed.chat, owed.run
        # The run stays keyed by the day it fell due; the header tells the day it arrives.
        today = self._services.now().astimezone(zone(chat.timezone)).date()
        digest_format = DigestFormat(chat.digest_format)

        async def send_to(target_run: Run, *, fresh: bool) -> int:
            async def done(session: AsyncSession) -> None:
                await self._finish(session, chat, target_run, status="done")

            return await self.send(
                target_run.chat_id,
                chat.tags,
                owed.digest,
                today,
                run=target_run,
                fresh=fresh,
                on_done=done,
                topics=owed.topics,
                digest_format=digest_format,
                week_from=owed.week_from,
                code_followups=owed.followups,
            )

        try:
            try:
                sent = await send_to(run, fresh=True)
            except ChatMigrated as moved:
                # The group became a supergroup: everything, this run included, moves to
                # the new id, and the digest goes on there after what was delivered.
                await move_chat(self._services, old_id=chat.chat_id, new_id=moved.new_chat_id)
                run = replace(run, chat_id=moved.new_chat_id)
                sent = await send_to(run, fresh=False)
            # Not "report.messages += await ...": that reads the counter before the await.
            report.messages += sent
            report.sent_chats += 1
            self._services.metrics.observe_lag(chat.next_digest_at, self._services.now())
            return
        except RunLost:
            log.warning("delivery: chat %d: another sender took the digest over", chat.chat_id)
            return  # and finishes it
        except ChatGone as exc:
            status, error = "blocked", str(exc)
            report.blocked += 1
        except SendFailed as exc:
            report.errors.append(f"{chat.chat_id}: {exc}")
            if run.attempt < MAX_ATTEMPTS:
                return  # once the claim lapses, a tick resumes after what was delivered
            status, error = "failed", str(exc)
            report.failed += 1
        async with self._services.sessionmaker() as session, session.begin():
            await self._finish(session, chat, run, status=status, error=error)

    async def send(
        self,
        chat_id: int,
        tags: Sequence[str],
        digest: ComposedDigest,
        day: dt.date,
        *,
        run: Run | None = None,
        fresh: bool = False,
        on_done: Callable[[AsyncSession], Awaitable[None]] | None = None,
        topics: Sequence[str] = (),
        digest_format: DigestFormat = DigestFormat.FULL,
        week_from: dt.date | None = None,
        code_followups: Sequence[CodeFollowup] = (),
    ) -> int:
        """Send a composed digest dated ``day`` in order, recording each message's papers.

        Papers the chat received since the digest was composed are left out: another
        sender may have got part of it out before it died, or /digest raced the morning
        run. ``fresh`` says the digest was composed after ``run`` started, so that nothing
        in it can have reached the chat: the check is skipped. With ``run``, its claim is
        kept alive while sending, and sending stops with RunLost once another sender has
        taken the run over. ``on_done`` runs once everything is sent, in the transaction
        that records the last message. ``topics`` are the followed words and authors the
        header names after the tags; ``digest_format`` is the chat's /format. With
        ``week_from``, the first listing day of its week, it is headed as the week's digest.
        ``code_followups`` end the digest under «Код появился», each recorded as told with
        its message, and alone make a short message when no paper is left.
        Returns the number of messages sent, 0 when nothing was left to send.
        """
        received: set[str] = set()
        owed = {f.paper_id for f in code_followups}
        if not fresh:
            async with self._services.sessionmaker() as session:
                received = await digests.received(
                    session=session,
                    chat_id=chat_id,
                    paper_ids=[p.id for p in (*digest.papers, *digest.suggestions)],
                )
                owed = await digests.code_owed(
                    session=session, chat_id=chat_id, paper_ids=list(owed)
                )
        papers = [view(p, digest.reasons.get(p.id)) for p in digest.papers if p.id not in received]
        # Told by an earlier message of this digest (a sender that died), or by /digest.
        told = [code_view(f) for f in code_followups if f.paper_id in owed and safe_url(f.code_url)]
        suggestions = [view(p) for p in digest.suggestions if p.id not in received]
        if week_from is not None:
            day = week_from + dt.timedelta(days=digests.WEEK_DAYS - 1)
        parts = (
            render_digest_parts(
                papers,
                day=day,
                tags=tags,
                more=digest.more,
                topics=topics,
                suggestions=suggestions,
                digest_format=digest_format,
                week_from=week_from,
                code_followups=told,
            )
            if papers or told
            else []
        )
        code_urls = {p.id: p.code_url for p in (*papers, *suggestions, *told)}
        async with self._renewing(run):
            for number, part in enumerate(parts):
                # Fenced: once the lease lapsed and another sender resumed the run, every
                # part sent from here on could reach the chat twice. The first part too,
                # when the run has waited its turn for a while.
                if run is not None and (number or self._stale(run)) and not await self._renew(run):
                    raise RunLost
                if not await self._send_part(chat_id, part):
                    # Probably delivered: at most once, never twice.
                    self._services.metrics.uncertain_sends.inc()
                    log.warning("delivery: chat %d: no answer to a digest message", chat_id)
                ends = on_done if number == len(parts) - 1 else None
                if part.paper_ids or part.code_ids or ends is not None:
                    await self._record(chat_id, part, code_urls, ends=ends)
        if not parts and on_done is not None:
            async with self._services.sessionmaker() as session, session.begin():
                await on_done(session)
        return len(parts)

    async def _record(
        self,
        chat_id: int,
        part: DigestPart,
        code_urls: Mapping[str, str | None],
        *,
        ends: Callable[[AsyncSession], Awaitable[None]] | None,
    ) -> None:
        """Record what the sent message carried; with ``ends``, end the run in the same go."""

        async def record(session: AsyncSession) -> None:
            await digests.record_deliveries(
                session=session,
                chat_id=chat_id,
                paper_ids=part.paper_ids,
                now=self._services.now(),
                code_urls=code_urls,
            )
            told = {pid: url for pid in part.code_ids if (url := code_urls[pid])}
            await digests.record_code_told(session=session, chat_id=chat_id, code_urls=told)

        try:
            async with self._services.sessionmaker() as session, session.begin():
                await record(session)
                if ends is not None:
                    await ends(session)
        except Exception:
            if ends is None:
                raise
            # The message is out: its record must not go down with the run's end, or the
            # run's next attempt would send it again. The run ends on that attempt instead.
            async with self._services.sessionmaker() as session, session.begin():
                await record(session)
            raise

    def _stale(self, run: Run) -> bool:
        """Whether this sender started the run more than a third of the lease ago."""
        lease = self._services.settings.delivery_lease
        return self._services.now() - run.started_at > lease / 3

    @contextlib.asynccontextmanager
    async def _renewing(self, run: Run | None) -> AsyncIterator[None]:
        """Renew the run's claim every third of the lease while the body runs.

        One send can outlast the lease: the rate limiter sleeps out each retry_after inside it.
        """
        if run is None:
            yield
            return
        interval = self._services.settings.delivery_lease.total_seconds() / 3

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    if not await self._renew(run):
                        return
                except Exception as exc:
                    log.warning("delivery: chat %d: claim not renewed: %r", run.chat_id, exc)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait([task])

    async def _renew(self, run: Run) -> bool:
        async with self._services.sessionmaker() as session, session.begin():
            return await digests.renew_run(
                session=session,
                chat_id=run.chat_id,
                local_date=run.local_date,
                attempt=run.attempt,
                now=self._services.now(),
                lease=self._services.settings.delivery_lease,
            )

    async def _send_part(self, chat_id: int, part: DigestPart) -> bool:
        """Send one message with its papers' number buttons; False when its fate is unknown."""
        markup = digest_markup(part)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3),
                wait=wait_exponential(multiplier=0.5, max=4),
                retry=retry_if_exception(never_reached_telegram),
                reraise=True,
            ):
                with attempt:
                    await self._send_html(chat_id, part.text, markup)
        except ChatMigrated:
            raise  # nothing was sent; the caller moves the chat and sends again
        except Forbidden as exc:
            raise ChatGone(exc.message) from exc
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise ChatGone(exc.message) from exc
            # Everything we interpolate is escaped, so this is a bug; the reader still gets
            # the papers, as plain text.
            log.error("Telegram refused a digest message (%s): %r", exc.message, part.text[:500])
            try:
                await self._bot.send_message(
                    chat_id,
                    plain_text(part.text),
                    parse_mode=None,
                    reply_markup=markup,
                    allow_paid_broadcast=self._paid or None,
                    rate_limit_args=SendKind.BROADCAST,
                )
            except TelegramError as again:
                raise SendFailed(f"plain-text fallback failed: {again}") from again
        except RetryAfter as exc:
            raise SendFailed(f"flood control: retry after {exc.retry_after}") from exc
        except NetworkError as exc:
            if never_reached_telegram(exc):
                raise SendFailed(str(exc)) from exc
            # A timeout while waiting for the answer, a dropped connection, a 5xx: Telegram
            # may well have delivered it, and resending could show it twice.
            return False
        except TelegramError as exc:
            raise SendFailed(str(exc)) from exc
        return True

    async def _send_html(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        # HTML without link previews: the application's Defaults. A paid round's messages skip
        # Telegram's broadcasting limit for a fee (bot.paid).
        await self._bot.send_message(
            chat_id,
            text,
            reply_markup=markup,
            allow_paid_broadcast=self._paid or None,
            rate_limit_args=SendKind.BROADCAST,
        )


def digest_markup(part: DigestPart) -> InlineKeyboardMarkup | None:
    """The number buttons of a digest message: one per paper, numbered as in its text."""
    items = [
        keyboards.DigestItem(number, paper_id, paper_id in part.suggested)
        for number, paper_id in zip(part.numbers, part.paper_ids, strict=True)
    ]
    return keyboards.digest_keyboard(items)
