"""The typed context every handler and job receives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.paid import PaidBroadcast
from bot.ratelimit import SendKind
from bot.settings import Settings
from bot.vectors import VectorService

if TYPE_CHECKING:
    from bot.feeds import FeedServer
    from bot.monitoring import MonitoringServer


def utcnow() -> dt.datetime:
    """The real clock: timezone-aware UTC now."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Services:
    """Long-lived resources shared by handlers and jobs."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    ingestor: Ingestor
    metrics: Metrics
    # The embedding model, its vectors in memory, query embeddings ("Похожие", hybrid search).
    vectors: VectorService
    # Whether each delivery round pays for a faster broadcast, and how the last one went.
    broadcast: PaidBroadcast
    # Injected so tests can move time (DST, "tomorrow") without sleeping.
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return self.clock()


# Who administers a chat changes rarely; a minute-old answer spares a getChatMember call on
# every press of a group's buttons, and a demoted admin loses the right within a minute.
ADMIN_CACHE_SECONDS = 60


class BotData:
    """Application-wide state; ``services`` is set once by ``build_application``."""

    services: Services
    # Set in post_init when METRICS_PORT is configured.
    monitoring: MonitoringServer | None = None
    # Set in post_init when WEB_PORT is configured.
    feeds: FeedServer | None = None

    # (chat id, user id) -> whether the user administers the chat; set by build_application.
    admins: TTLCache[tuple[int, int], bool]


@dataclass(frozen=True, slots=True)
class Managed:
    """The group or channel a private chat runs (/channels), confirmed for this update."""

    chat_id: int
    chat_type: str
    title: str


class AppContext(CallbackContext[ExtBot[SendKind], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with typed access to the services."""

    # PTB builds one context per update and hands it to every handler group, so the check in
    # group -1 (bot.handlers.channels.aim) reaches the settings handlers that follow it.
    managed: Managed | None = None

    @property
    def services(self) -> Services:
        """The shared services of this application."""
        return self.bot_data.services

    @property
    def settings(self) -> Settings:
        """The application's settings."""
        return self.bot_data.services.settings

    def session(self) -> AsyncSession:
        """A new database session; use as ``async with ctx.session() as s, s.begin():``."""
        return self.bot_data.services.sessionmaker()


# Here rather than in bot.app, so that bot.jobs can name it without importing the composition
# root that imports it. PTB's builder cannot infer the job queue's context type, hence Any there.
DigestApp = Application[
    ExtBot[SendKind], AppContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]
]
