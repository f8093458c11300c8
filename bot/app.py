"""The composition root: ``build_application(settings)`` wires everything together."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cachetools import TTLCache
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import HTTPXRequest

from bot import handlers, jobs
from bot.concurrency import ChatOrderedUpdateProcessor
from bot.context import ADMIN_CACHE_SECONDS, AppContext, BotData, Services, utcnow
from bot.context import DigestApp as DigestApp  # noqa: PLC0414 (re-exported for callers)
from bot.feeds import Feeds, FeedServer
from bot.handlers.start import DEEP_LINK_PREFIX
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.monitoring import Health, MonitoringServer, check_health
from bot.paid import PaidBroadcast
from bot.ratelimit import DatabaseBudget, SharedBudgetRateLimiter
from bot.settings import Settings
from bot.vectors import VectorService, embedding_model
from storage.db import create_engine, create_sessionmaker, is_sqlite

log = logging.getLogger(__name__)

# Updates handled at once (bot.concurrency): a handler mostly waits for the database or
# Telegram, so a few keep the loop busy, and more would only queue on the database pool.
MAX_CONCURRENT_UPDATES = 8


def bot_api_requests() -> tuple[HTTPXRequest, HTTPXRequest]:
    """New (request, get_updates_request) for PTB's builder."""
    # Replies and broadcasts share many connections; the long poll needs one. httpx reads
    # HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY when the client is built.
    return HTTPXRequest(connection_pool_size=256), HTTPXRequest(connection_pool_size=1)


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


def run(app: DigestApp) -> None:
    """Serve updates until SIGINT or SIGTERM: the webhook when configured, else long polling."""
    hook = webhook_config(app.bot_data.services.settings)
    # What start-up built lives as long as the process; frozen, the collector's full passes
    # skip it instead of pausing every reply in flight to re-scan it.
    gc.freeze()
    if hook is None:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
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
    model = embedding_model(settings)
    ingestor = Ingestor(settings=settings, sessionmaker=sessionmaker, clock=clock, embedder=model)
    metrics.track_llm(ingestor.summarizer)
    limiter = SharedBudgetRateLimiter(
        messages_per_second=settings.broadcast_rate,
        metrics=metrics,
        # SQLite means one process; on PostgreSQL, replicas share the budget.
        shared=None if is_sqlite(settings.database_url) else DatabaseBudget(settings.database_url),
    )
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        ingestor=ingestor,
        metrics=metrics,
        vectors=VectorService(model=model, sessionmaker=sessionmaker, clock=clock),
        broadcast=PaidBroadcast(
            enabled=settings.paid_broadcast,
            paid_rate=settings.paid_broadcast_rate,
            free_rate=settings.broadcast_rate,
            limiter=limiter,
        ),
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
        # Every text the bot writes is Telegram HTML, no message needs a link preview, and an
        # answer still arrives when the command it answers was deleted meanwhile.
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(limiter)
        .concurrent_updates(ChatOrderedUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data.services = services
    # On the application's clock, so tests can let a minute pass.
    app.bot_data.admins = TTLCache(
        maxsize=10_000, ttl=ADMIN_CACHE_SECONDS, timer=lambda: services.now().timestamp()
    )
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
    if settings.web_port is not None:
        # A feed is identified by the Telegram link that subscribes to its tag: it stays the
        # same wherever the feeds are served, and a reader's "open site" lands in the bot.
        link = app.bot.link
        feeds = Feeds(
            sessionmaker=app.bot_data.services.sessionmaker,
            home_url=lambda tag: f"{link}?start={DEEP_LINK_PREFIX}{tag}",
            publisher=app.bot.name,
            public_url=settings.public_url,
        )
        server = FeedServer(feeds=feeds, listen=settings.web_listen, port=settings.web_port)
        await server.start()
        app.bot_data.feeds = server
    # Loading 100,000 vectors takes a couple of seconds: not on the first search's time.
    app.bot_data.services.vectors.start_warm_up()
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
    if app.bot_data.feeds is not None:
        await app.bot_data.feeds.stop()
        app.bot_data.feeds = None
    await services.ingestor.aclose()
    await services.vectors.aclose()
    await services.engine.dispose()
