"""Run the real Application against the fake Telegram server, the way `digest-bot run` does."""

from __future__ import annotations

import datetime as dt
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update

from bot.app import DigestApp, build_application, webhook_config
from bot.jobs import DELIVERY_JOB, delivery_job
from bot.settings import Settings
from tests.fake_telegram import FakeTelegram

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
LLM_API_KEY = "sk-test-secret-key"
WEBHOOK_SECRET = "webhook-secret_9f8e7d6c5b4a"
# Every secret the tests hand to the bot: tests/conftest.py fails the run if a log line has one.
SECRETS = (TOKEN, TOKEN.split(":", 1)[1], LLM_API_KEY, "sk-test-7f3a9c1e5b2d", WEBHOOK_SECRET)


def make_settings(fake: FakeTelegram, db_url: str, **overrides: Any) -> Settings:
    """Settings for a test bot: nothing read from the developer's environment or .env."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_url": fake.url,
        "database_url": db_url,
        # Tests ingest when they mean to, from fake sources.
        "ingest_on_start": False,
        # And embed when they mean to: the embedded model costs 0.1 s of CPU a paper.
        "embeddings": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def tick(app: DigestApp) -> None:
    """One delivery tick: the scheduled job's callback, run through PTB's Job and awaited."""
    assert app.job_queue is not None
    job = app.job_queue.run_once(delivery_job, when=dt.timedelta(days=1))
    try:
        await job.run(app)
    finally:
        job.schedule_removal()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a server started later.

    Taken below Linux's ephemeral range (32768-60999): the fake servers bind port 0, and the
    kernel could hand one of them a port this returned before its own server got to bind it.
    """
    for _ in range(1000):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port in 20000-32000")


@asynccontextmanager
async def running_bot(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> AsyncIterator[DigestApp]:
    """Start like ``bot.app.run`` (webhook with WEBHOOK_URL, else polling); stop the same way."""
    app = build_application(settings, clock=clock)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    hook = webhook_config(settings)
    if hook is None:
        await app.updater.start_polling(
            poll_interval=0, timeout=dt.timedelta(seconds=1), allowed_updates=Update.ALL_TYPES
        )
    else:
        await app.updater.start_webhook(
            listen=hook.listen,
            port=hook.port,
            url_path=hook.url_path,
            webhook_url=hook.url,
            secret_token=hook.secret_token,
            allowed_updates=Update.ALL_TYPES,
        )
    await app.start()
    # Tests deliver with tick() on their own clock. The every-minute job, which first fires a
    # second after start, would race them for the due chats.
    assert app.job_queue is not None
    for job in app.job_queue.get_jobs_by_name(DELIVERY_JOB):
        job.enabled = False
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
