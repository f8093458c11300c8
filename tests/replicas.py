"""Replicas: several `digest-bot run` processes on one PostgreSQL database and the fake Bot API.

Shared by ``tests/test_shared_budget_e2e.py`` and ``benchmarks/replicas.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import Settings
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, WEBHOOK_SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Replicas:
    """Running replicas, in start order."""

    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    def kill(self, index: int) -> None:
        """SIGKILL one replica: no shutdown, claims and tokens left behind."""
        self.processes[index].kill()


def _env(
    telegram: FakeTelegram, db_url: str, code: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    configured = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in configured}
    return {
        **env,
        "PYTHONPATH": str(code),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "DATABASE_URL": db_url,
        # Replicas take updates by webhook: two pollers would knock each other off.
        "WEBHOOK_URL": "https://bot.example.org/telegram/updates",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(free_port()),
        "INGEST_ON_START": "false",
        "DELIVERY_INTERVAL": "PT1S",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@asynccontextmanager
async def replicas(
    telegram: FakeTelegram,
    db_url: str,
    logs: Path,
    count: int,
    *,
    env: Mapping[str, str] | None = None,
    code: Path = ROOT,
) -> AsyncIterator[Replicas]:
    """Start ``count`` replicas of the bot in ``code`` (migrated already); yield once all are up.

    Each logs to ``logs/replica-N.log``; all are stopped (or killed) on the way out.
    """
    running = Replicas()
    try:
        webhooks = len(telegram.calls("setWebhook"))
        for number in range(count):
            # The log goes to a file: a pipe nobody reads would stall a replica once full.
            with (logs / f"replica-{number}.log").open("ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "bot", "run", "--no-migrate"),
                    cwd=logs,
                    env=_env(telegram, db_url, code, env or {}),
                    stderr=log,
                )
            running.processes.append(process)
        # Each replica sets the webhook once it is up.
        await telegram.wait_until(lambda: len(telegram.calls("setWebhook")) >= webhooks + count, 60)
        yield running
    finally:
        for process in running.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
        for process in running.processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
