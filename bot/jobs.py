"""Scheduled work on PTB's JobQueue (APScheduler underneath)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from bot.context import AppContext
from bot.delivery import Deliverer
from bot.ingest import days_to_cover
from content.models import Source

if TYPE_CHECKING:
    from bot.app import DigestApp

log = logging.getLogger(__name__)

# A bot that was down at an ingest time catches up when it comes back, once.
_MISFIRE = {"misfire_grace_time": 6 * 3600, "coalesce": True}
# One delivery tick at a time: a long broadcast makes later ticks skip, never overlap.
_ONE_AT_A_TIME = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
DELIVERY_INTERVAL = 60


def schedule(app: DigestApp) -> None:
    """Register ingest at INGEST_TIMES (in DEFAULT_TIMEZONE) and the per-minute delivery tick."""
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
    app.job_queue.run_repeating(
        delivery_job,
        interval=DELIVERY_INTERVAL,
        first=1,
        name="delivery",
        job_kwargs=_ONE_AT_A_TIME,
    )


async def ingest_job(ctx: AppContext) -> None:
    """Fetch today's and yesterday's papers and summarise the new ones."""
    services = ctx.services
    sources = [Source.HF, Source.ARXIV] if services.settings.arxiv_enabled else [Source.HF]
    started = time.monotonic()
    report = await services.ingestor.run(days_to_cover(services.now()), sources)
    services.metrics.observe_ingest(report, time.monotonic() - started, services.now())
    if not report.ok:
        log.warning("ingest: some sources failed and will be retried: %s", report.failed_sources)


async def delivery_job(ctx: AppContext) -> None:
    """Send the digests that are due now."""
    report = await Deliverer(ctx.services, ctx.bot).tick()
    ctx.services.metrics.observe_delivery(report, ctx.services.now())
