"""Webhook mode: Telegram pushes updates to the bot, and only Telegram is listened to."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.app import DigestApp
from tests.fake_telegram import FakeTelegram
from tests.harness import SECRETS, TOKEN, WEBHOOK_SECRET, free_port, make_settings, running_bot
from tests.test_cli import bot_env, clean_env

PUBLIC_URL = "https://bot.example.org/telegram/updates"
USER = 7001


def webhook_settings(fake: FakeTelegram, db_url: str, port: int, **extra: Any):
    return make_settings(
        fake,
        db_url,
        webhook_url=PUBLIC_URL,
        webhook_secret=WEBHOOK_SECRET,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        metrics_port=0,
        metrics_listen="127.0.0.1",
        **extra,
    )


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[tuple[FakeTelegram, DigestApp, str]]:
    port = free_port()
    async with (
        FakeTelegram(TOKEN) as fake,
        running_bot(webhook_settings(fake, db_url, port)) as app,
    ):
        yield fake, app, f"http://127.0.0.1:{port}/telegram/updates"


async def post(url: str, update: dict[str, Any], secret: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=json.dumps(update), headers=headers, timeout=10)


async def updates_handled(app: DigestApp) -> float:
    monitoring = app.bot_data.monitoring
    assert monitoring is not None
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{monitoring.port}/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("digest_updates_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def test_start_sets_the_webhook_with_the_secret_and_stops_polling(world):
    fake, _, _ = world
    assert fake.webhook is not None
    assert fake.webhook["url"] == PUBLIC_URL
    assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    assert "callback_query" in fake.webhook["allowed_updates"]
    assert fake.calls("getUpdates") == []


async def test_forged_updates_get_403_and_never_reach_a_handler(world):
    fake, app, url = world
    update = fake.send_text(USER, "/start")  # what Telegram would send; here a forger sends it

    wrong = await post(url, update, "not-the-secret")
    missing = await post(url, update, None)
    assert (wrong.status_code, missing.status_code) == (403, 403)
    await asyncio.sleep(0.3)  # anything that got through would have answered by now
    assert fake.messages_to(USER) == []
    assert await updates_handled(app) == 0

    right = await post(url, update, WEBHOOK_SECRET)
    assert right.status_code == 200
    replies = await fake.wait_for_messages(USER, 1, timeout=10)
    assert "Привет" in replies[0].plain
    assert await updates_handled(app) == 1


async def test_a_user_talks_to_the_bot_through_telegrams_pushes(world):
    fake, _, url = world
    fake.webhook_upstream = url.removesuffix("/telegram/updates")
    fake.send_text(USER, "/subscribe mllm")
    fake.send_text(USER, "/mytags")
    replies = await fake.wait_for_messages(USER, 2, timeout=10)
    assert "Подписка оформлена: #mllm" in replies[0].plain
    assert "#mllm" in replies[1].plain
    assert [status for _, status in fake.webhook_pushes] == [200, 200]
    assert fake.pending_updates == []


async def test_digest_bot_run_serves_the_webhook_health_and_stops_on_sigterm(tmp_path):
    """The real CLI process, as Docker runs it."""
    port, metrics_port = free_port(), free_port()
    async with FakeTelegram(TOKEN) as fake:
        env = bot_env(
            fake,
            f"sqlite+aiosqlite:///{tmp_path}/data/digest.db",
            WEBHOOK_URL=PUBLIC_URL,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            METRICS_PORT=str(metrics_port),
            METRICS_LISTEN="127.0.0.1",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await fake.wait_until(lambda: fake.webhook is not None, timeout=30)
            fake.webhook_upstream = f"http://127.0.0.1:{port}"
            fake.send_text(USER, "/subscribe mllm")
            replies = await fake.wait_for_messages(USER, 1, timeout=15)
            assert "Подписка оформлена: #mllm" in replies[0].plain
            async with httpx.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{metrics_port}/healthz")
                forged = await client.post(
                    f"http://127.0.0.1:{port}/telegram/updates",
                    json=fake.send_text(USER, "/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": "guess"},
                )
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert forged.status_code == 403
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                pytest.fail("the bot did not stop on SIGTERM")
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
    assert proc.returncode == 0, log
    lines = log.strip().splitlines()
    assert lines and all(line.startswith("ts=") for line in lines), log
    assert any("msg=" in line and "is up" in line for line in lines)
    assert not [secret for secret in SECRETS if secret in log]
    # Telegram is never told to stop: other replicas keep receiving updates.
    assert fake.calls("deleteWebhook") == []


async def test_webhook_mode_without_a_secret_refuses_to_start(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path,
        env=clean_env(BOT_TOKEN=TOKEN, WEBHOOK_URL=PUBLIC_URL),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "WEBHOOK_SECRET" in err.decode() and "Traceback" not in err.decode()
