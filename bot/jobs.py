"""Scheduled work on PTB's JobQueue (APScheduler underneath)."""

from __future__ import annotations

import datetime as dt
import logging
import time

from bot.context import AppContext, DigestApp
from bot.delivery import Deliverer
from bot.ingest import days_to_cover
from content.models import Source
from content.schedule import latest_occurrence
from storage.jobs import claim_job_run

log = logging.getLogger(__name__)

# An ingest that fires late (a busy event loop) still runs; runs missed while the bot was
# down are caught up at start-up instead (see schedule).
_MISFIRE = {"misfire_grace_time": 6 * 3600, "coalesce": True}
# One delivery tick at a time: a long broadcast makes later ticks skip, never overlap.
_ONE_AT_A_TIME = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
INGEST_JOB = "ingest"
DELIVERY_JOB = "delivery"
# Replicas fire the same occurrence a little apart, clocks a little skewed: an occurrence up to
# this far ahead is the one being run now.
_SLOT_TOLERANCE = dt.timedelta(minutes=1)
_CATCH_UP_DELAY = dt.timedelta(seconds=2)


def schedule(app: DigestApp) -> None:
    """Register ingest at INGEST_TIMES (in DEFAULT_TIMEZONE), its catch-up, and delivery ticks."""
    if app.job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    settings = app.bot_data.services.settings
    for at in settings.ingest_times:
        app.job_queue.run_daily(
            ingest_job,
            time=dt.time(at.hour, at.minute, tzinfo=settings.tz),
            name=f"ingest {at:%H:%M}",
            job_kwargs=_MISFIRE,
        )
    if settings.ingest_on_start:
        # A bot that was down at an ingest time (or starts for the first time) catches up.
        app.job_queue.run_once(ingest_job, when=_CATCH_UP_DELAY, name="ingest catch-up")
    app.job_queue.run_repeating(
        delivery_job,
        interval=settings.delivery_interval,
        first=1,
        name=DELIVERY_JOB,
        job_kwargs=_ONE_AT_A_TIME,
    )


async def ingest_job(ctx: AppContext) -> None:
    """Fetch today's and yesterday's papers and summarise the new ones, on one replica only."""
    services = ctx.services
    settings = services.settings
    now = services.now()
    slot = latest_occurrence(now + _SLOT_TOLERANCE, settings.tz, settings.ingest_times)
    if slot is None:
        return
    async with services.sessionmaker() as session, session.begin():
        if not await claim_job_run(session=session, job=INGEST_JOB, slot=slot, now=now):
            log.info("ingest: the run scheduled for %s is done or under way elsewhere", slot)
            return
    sources = [Source.HF, Source.ARXIV] if settings.arxiv_enabled else [Source.HF]
    started = time.monotonic()
    report = await services.ingestor.run(days_to_cover(now), sources)
    services.metrics.observe_ingest(report, time.monotonic() - started, services.now())
    if report.embedded:
        # This process's search and "Похожие" see the new papers at once.
        await services.vectors.refresh()
    if not report.ok:
        log.warning(
            "ingest: some sources failed; the next ingest time retries them: %s",
            report.failed_sources,
        )


async def delivery_job(ctx: AppContext) -> None:
    """Send the digests that are due now."""
    report = await Deliverer(ctx.services, ctx.bot).tick()
    ctx.services.metrics.observe_delivery(report, ctx.services.now())
