"""``/healthz`` and ``/metrics`` on METRICS_PORT, served by tornado on the bot's event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tornado.web import Application, RequestHandler

from bot.metrics import Metrics
from bot.web import WebServer

log = logging.getLogger(__name__)

# A health probe must answer before the orchestrator's own timeout (Docker: 5 s here).
DATABASE_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports."""

    database_ok: bool
    database_ms: float
    database_error: str | None
    scheduler_running: bool
    last_ingest: dt.datetime | None
    last_delivery_tick: dt.datetime | None

    @property
    def healthy(self) -> bool:
        """The bot can do its work: the database answers and the scheduler runs."""
        return self.database_ok and self.scheduler_running

    def to_json(self) -> dict[str, Any]:
        """The JSON body of /healthz."""

        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "status": "ok" if self.healthy else "unhealthy",
            "database": {
                "ok": self.database_ok,
                "ms": round(self.database_ms, 1),
                "error": self.database_error,
            },
            "scheduler": {"running": self.scheduler_running},
            "last_ingest": iso(self.last_ingest),
            "last_delivery_tick": iso(self.last_delivery_tick),
        }


async def ping_database(engine: AsyncEngine) -> str | None:
    """``SELECT 1`` within DATABASE_TIMEOUT; None when it worked, else the error's type name."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        # The type only: driver messages may carry host names or connection strings.
        return type(exc).__name__
    return None


async def check_health(
    engine: AsyncEngine, metrics: Metrics, scheduler_running: Callable[[], bool]
) -> Health:
    """Probe the database and the scheduler."""
    started = time.perf_counter()
    error = await ping_database(engine)
    return Health(
        database_ok=error is None,
        database_ms=(time.perf_counter() - started) * 1000,
        database_error=error,
        scheduler_running=scheduler_running(),
        last_ingest=metrics.last_ingest_at,
        last_delivery_tick=metrics.last_tick_at,
    )


class _HealthHandler(RequestHandler):
    def initialize(self, check: Callable[[], Awaitable[Health]]) -> None:
        self._check = check

    async def get(self) -> None:
        health = await self._check()
        if not health.healthy:
            log.warning("unhealthy: %s", json.dumps(health.to_json()))
        self.set_status(200 if health.healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(health.to_json()))


class _MetricsHandler(RequestHandler):
    def initialize(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self._metrics.registry))


class MonitoringServer(WebServer):
    """The HTTP server of /healthz and /metrics; never public."""

    def __init__(
        self, *, metrics: Metrics, check: Callable[[], Awaitable[Health]], listen: str, port: int
    ) -> None:
        app = Application(
            [
                (r"/healthz", _HealthHandler, {"check": check}),
                (r"/metrics", _MetricsHandler, {"metrics": metrics}),
            ],
            log_function=lambda handler: None,  # probes every few seconds are not news
        )
        super().__init__(app, name="health and metrics", listen=listen, port=port)
