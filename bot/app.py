"""The composition root: ``build_application(settings)`` wires everything together."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, JobQueue
from telegram.request import HTTPXRequest

from bot import handlers, jobs
from bot.concurrency import ChatOrderedUpdateProcessor
from bot.context import AppContext, BotData, Services, utcnow
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.monitoring import Health, MonitoringServer, check_health
from bot.ratelimit import ReplyFirstRateLimiter, SendKind
from bot.settings import Settings
from storage.db import create_engine, create_sessionmaker, is_sqlite

log = logging.getLogger(__name__)

# PTB's builder cannot infer the job queue's context type, hence Any there.
DigestApp = Application[
    ExtBot[SendKind], AppContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]
]

# Measured best on 2 cores: more concurrent updates only add GIL and pool contention
# (benchmarks/updates.py), fewer leave the loop idle while a reply is in flight.
MAX_CONCURRENT_UPDATES = 8


def bot_api_requests() -> tuple[HTTPXRequest, HTTPXRequest]:
    """New (request, get_updates_request) for PTB's builder: PTB's httpx transport."""
    # Replies and broadcasts share many connections; the long poll needs one.
    return HTTPXRequest(connection_pool_size=256), HTTPXRequest(connection_pool_size=1)


# A pause after each getUpdates answer. Telegram answers a long poll as soon as one update
# is waiting, so under load the bot fetched one update per request, and each round of polling
# cost as much CPU as a command. Pausing lets updates gather. At a steady 200 commands/s
# (benchmarks/updates.py) a 10 ms pause meant 0.3 requests per command; 20 ms means 0.2 and
# about 12% less CPU per command, which kept p95 latency under 50 ms where 10 ms let it drift
# past 100 ms; 25 ms saved nothing more (measured on httpx; requests are cheaper on aiohttp, so
# the saving is smaller now). A quiet chat loses nothing: its update ends a poll that is
# already waiting.
_POLL_INTERVAL = dt.timedelta(milliseconds=20)


class MissingTokenError(RuntimeError):
    """BOT_TOKEN is not configured."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where Telegram sends updates (``url``) and where PTB's webhook server listens for them."""

    url: str
    secret_token: str = field(repr=False)
    listen: str
    port: int
    # The public URL's path: a reverse proxy passes it through unchanged.
    url_path: str


def webhook_config(settings: Settings) -> WebhookConfig | None:
    """The webhook set-up, or None to poll (WEBHOOK_URL unset)."""
    if not settings.webhook_url:
        return None
    if settings.webhook_secret is None:  # Settings refuses this; keep the type checker honest
        raise ValueError("WEBHOOK_SECRET is required with WEBHOOK_URL")
    return WebhookConfig(
        url=settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=urlsplit(settings.webhook_url).path.strip("/"),
    )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's where it is installed (not on Windows), else asyncio's."""
    # Under a steady 180 commands/s the bot spent 7-21% less CPU per command on uvloop
    # (paired runs, benchmarks/updates.py load): every database call and every reply is a
    # wake-up of the loop, and uvloop's are cheaper.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def keep_threads_on_one_cpu() -> int | None:
    """Confine the process's threads to the CPU it runs on now; return it, or None if not.

    Threads started later inherit the confinement. Linux only; elsewhere, and where the
    process may use a single CPU anyway, nothing changes.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    cpu = _current_cpu()
    if cpu not in allowed:
        cpu = min(allowed)
    tasks = Path("/proc/self/task")
    threads = [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [0]
    for thread in threads:
        os.sched_setaffinity(thread, {cpu})
    return cpu


def _current_cpu() -> int | None:
    # Field 39 of /proc/self/stat, "processor"; the fields after the name start at field 3.
    try:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return None


def run(app: DigestApp) -> None:
    """Serve updates until SIGINT or SIGTERM: the webhook when configured, else long polling."""
    settings = app.bot_data.services.settings
    if settings.single_cpu and is_sqlite(settings.database_url):
        # Every SQLite statement is three or four hand-offs between the event loop and
        # aiosqlite's thread. Across two CPUs each hand-off wakes the other core; on one it
        # is a plain context switch. The GIL lets only one of them run at a time anyway.
        # On the 2-core VM of benchmarks/updates.py a command took about 30% less CPU
        # (4.6 -> 3.2 ms) and the bot answered 300 commands/s instead of 190.
        try:
            cpu = keep_threads_on_one_cpu()
        except OSError as exc:
            log.warning("could not keep the bot on one CPU: %s", exc)
        else:
            if cpu is not None:
                log.info("SQLite: the bot's threads stay on CPU %d (SINGLE_CPU)", cpu)
    hook = webhook_config(settings)
    # Everything built so far (modules, the taxonomy, SQLAlchemy's and PTB's machinery) lives
    # as long as the process. Frozen, the collector stops re-scanning it: each full collection
    # paused the bot for 60-90 ms under load, enough to push p95 latency past 50 ms
    # (benchmarks/updates.py); with it, the longest wait at 100 commands/s fell from about
    # 100 ms to 25 ms.
    gc.freeze()
    # PTB runs on the current event loop, and closes it when it stops.
    asyncio.set_event_loop(new_event_loop())
    if hook is None:
        app.run_polling(
            allowed_updates=Update.ALL_TYPES, poll_interval=_POLL_INTERVAL.total_seconds()
        )
        return
    # Each replica sets the same webhook on start; none deletes it on stop, so a rolling
    # restart never leaves Telegram without a target.
    app.run_webhook(
        listen=hook.listen,
        port=hook.port,
        url_path=hook.url_path,
        webhook_url=hook.url,
        secret_token=hook.secret_token,
        allowed_updates=Update.ALL_TYPES,
    )


def build_application(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> DigestApp:
    """Build the PTB application with storage, handlers and lifecycle hooks attached."""
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        raise MissingTokenError("BOT_TOKEN is not set")
    api = settings.telegram_api_url.rstrip("/")
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    clock = clock or utcnow
    metrics = Metrics()
    ingestor = Ingestor(settings=settings, sessionmaker=sessionmaker, clock=clock)
    metrics.track_llm(ingestor.summarizer)
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        ingestor=ingestor,
        metrics=metrics,
        clock=clock,
    )
    requests, polling = bot_api_requests()
    app: DigestApp = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(requests)
        .get_updates_request(polling)
        .context_types(ContextTypes(context=AppContext, bot_data=BotData))
        .rate_limiter(
            ReplyFirstRateLimiter(broadcast_per_second=settings.broadcast_rate, metrics=metrics)
        )
        .concurrent_updates(ChatOrderedUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data.services = services
    handlers.register(app)
    jobs.schedule(app)
    return app


async def _post_init(app: DigestApp) -> None:
    commands = handlers.bot_commands()
    await app.bot.set_my_commands(commands)
    await app.bot.set_my_commands(commands, language_code="ru")
    settings = app.bot_data.services.settings
    if settings.metrics_port is not None:
        monitoring = MonitoringServer(
            metrics=app.bot_data.services.metrics,
            check=lambda: _health(app),
            listen=settings.metrics_listen,
            port=settings.metrics_port,
        )
        await monitoring.start()
        app.bot_data.monitoring = monitoring
    log.info("bot @%s is up", app.bot.username)


def _health(app: DigestApp) -> Awaitable[Health]:
    services = app.bot_data.services
    scheduler = app.job_queue.scheduler if app.job_queue is not None else None
    return check_health(
        services.engine, services.metrics, lambda: bool(scheduler and scheduler.running)
    )


async def _post_shutdown(app: DigestApp) -> None:
    services = app.bot_data.services
    if app.bot_data.monitoring is not None:
        await app.bot_data.monitoring.stop()
        app.bot_data.monitoring = None
    await services.ingestor.aclose()
    await services.engine.dispose()
