"""An operator watches the bot through /healthz and /metrics on METRICS_PORT."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot.app import DigestApp
from bot.jobs import delivery_job, ingest_job
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, make_settings, running_bot
from tests.tcp_proxy import TcpProxy

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
READER, BLOCKER = 601, 602


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def get(app: DigestApp, path: str) -> httpx.Response:
    monitoring = app.bot_data.monitoring
    assert monitoring is not None and monitoring.port
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{monitoring.port}{path}", timeout=10)


async def metrics(app: DigestApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await get(app, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def run_job(app: DigestApp, callback: Any) -> None:
    """A scheduled job's callback, run through PTB's Job and awaited."""
    assert app.job_queue is not None
    job = app.job_queue.run_once(callback, when=dt.timedelta(days=1))
    try:
        await job.run(app)
    finally:
        job.schedule_removal()


async def say(telegram: FakeTelegram, chat_id: int, text: str) -> str:
    before = len(telegram.messages_to(chat_id))
    telegram.send_text(chat_id, text)
    return (await telegram.wait_for_messages(chat_id, before + 1, timeout=15))[before].plain


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[tuple[FakeTelegram, FakeLLM, Clock, DigestApp]]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            metrics_port=0,
            metrics_listen="127.0.0.1",
        )
        async with running_bot(settings, clock=clock) as app:
            yield telegram, llm, clock, app


async def test_metrics_count_commands_sends_429s_ingest_llm_and_the_morning_broadcast(world):
    telegram, llm, clock, app = world
    await say(telegram, READER, "/start")
    await say(telegram, READER, "/subscribe mllm")
    await say(telegram, READER, "/nonsense")
    await say(telegram, BLOCKER, "/subscribe mllm")
    # Telegram's flood control answers one reply with 429; the rate limiter waits and resends.
    telegram.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
        chat_id=READER,
    )
    assert "#mllm" in await say(telegram, READER, "/mytags")

    await run_job(app, ingest_job)
    ingested_at = clock.now
    telegram.block_chat(BLOCKER)
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 30, tzinfo=dt.UTC)  # 30 s after 09:00 Moscow
    await run_job(app, delivery_job)

    found = await metrics(app)
    assert value(found, "digest_updates_total", kind="message") == 5
    assert value(found, "digest_messages_sent_total", kind="reply") == 5
    assert value(found, "digest_messages_sent_total", kind="broadcast") >= 1
    assert value(found, "digest_telegram_429_total") == 1
    assert value(found, "digest_blocked_chats_total") == 1
    assert value(found, "digest_digests_total", result="sent") == 1
    assert value(found, "digest_digests_total", result="blocked") == 1
    assert value(found, "digest_delivery_lag_seconds_count") == 1
    assert value(found, "digest_delivery_lag_seconds_sum") == pytest.approx(30)
    assert value(found, "digest_delivery_lag_seconds_bucket", le="60.0") == 1
    assert value(found, "digest_delivery_lag_seconds_bucket", le="15.0") == 0
    assert value(found, "digest_ingest_duration_seconds_count") == 1
    assert value(found, "digest_ingest_papers_total", outcome="new") > 5
    assert value(found, "digest_last_ingest_timestamp_seconds") == ingested_at.timestamp()
    assert value(found, "digest_llm_calls_total") == llm.calls > 0
    assert value(found, "digest_llm_tokens_total", type="prompt") > 0
    assert value(found, "digest_llm_tokens_total", type="completion") > 0
    new = value(found, "digest_ingest_papers_total", outcome="new")
    assert value(found, "digest_summaries_total", outcome="done", reason="") == new


async def test_healthz_reports_database_scheduler_and_last_ingest(world):
    _, _, clock, app = world
    response = await get(app, "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True and body["database"]["error"] is None
    assert body["scheduler"] == {"running": True}
    assert body["last_ingest"] is None

    await run_job(app, ingest_job)
    body = (await get(app, "/healthz")).json()
    assert body["last_ingest"] == clock.now.isoformat()


async def test_two_applications_keep_separate_metrics(world, db_url):
    telegram, _, _, first = world
    settings = make_settings(telegram, db_url, metrics_port=0, metrics_listen="127.0.0.1")
    async with running_bot(settings) as second:
        await say(telegram, READER, "/help")
        counted = [
            value(await metrics(app), "digest_updates_total", kind="message")
            for app in (first, second)
        ]
    assert sorted(counted) == [0, 1]


@pytest.mark.postgres
async def test_healthz_turns_unhealthy_while_postgres_is_unreachable_and_recovers(db_url):
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("an outage needs a database behind a network connection")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with FakeTelegram(TOKEN) as telegram:
            settings = make_settings(telegram, proxied, metrics_port=0, metrics_listen="127.0.0.1")
            async with running_bot(settings) as app:
                assert (await get(app, "/healthz")).status_code == 200

                await proxy.stop()
                response = await get(app, "/healthz")
                assert response.status_code == 503
                body = response.json()
                assert body["status"] == "unhealthy"
                assert body["database"]["ok"] is False and body["database"]["error"]
                assert body["scheduler"] == {"running": True}
                assert str(proxy.port) not in response.text

                await proxy.start()
                response = await get(app, "/healthz")
                assert response.status_code == 200, response.text
                assert response.json()["database"]["ok"] is True
    finally:
        await proxy.stop()
