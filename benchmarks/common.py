"""Shared by the benchmarks: JSON lines, short mode, the bot process and reply latencies.

Every figure is one JSON line: benchmark, metric, value, unit, and for a figure with a
target the target (``"<= 100"``, ``">= 0.97"``, ``"== 0"``) and ``ok``, whether it was met.
``BENCH_SHORT=1`` shrinks every benchmark to a run of seconds, to check that it works; its
numbers mean little.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import signal
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TOKEN, free_port

ROOT = Path(__file__).resolve().parent.parent
SHORT = os.environ.get("BENCH_SHORT", "") not in {"", "0"}
# Each command gets exactly one reply; a chat alternates between them.
COMMANDS = ("/subscribe mllm #MoE Benchmark", "/unsubscribe moe")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


def meets(value: float, target: str) -> bool:
    """Whether ``value`` meets a target such as ``"<= 100"``."""
    op, bound = target.split()
    return bool(_COMPARE[op](value, float(bound)))


def emit(
    benchmark: str,
    metric: str,
    value: float,
    unit: str,
    *,
    target: str | None = None,
    **extra: Any,
) -> None:
    """Print one figure as a JSON line, with ``ok`` when it has a target."""
    row: dict[str, object] = {
        "benchmark": benchmark,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
    }
    if target is not None:
        row |= {"target": target, "ok": meets(value, target)}
    if SHORT:
        row["short"] = True
    print(json.dumps({**row, **extra}, ensure_ascii=False), flush=True)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile of sorted values (the nearest rank below)."""
    return values[max(int(len(values) * 0.95) - 1, 0)]


def emit_latencies(
    benchmark: str, name: str, latencies_ms: Sequence[float], target: str, **extra: object
) -> None:
    """p95 (against the target), p50 and max of update-to-reply latencies."""
    ordered = sorted(latencies_ms)
    emit(benchmark, f"{name}_p95_ms", p95(ordered), "ms", target=target, **extra)
    emit(benchmark, f"{name}_p50_ms", statistics.median(ordered), "ms")
    emit(benchmark, f"{name}_max_ms", ordered[-1], "ms", commands=len(ordered))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
    """Poll ``predicate`` until it holds (it may read state the fake is not told of)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


def sqlite_url(tmp: str) -> str:
    """The database of the bot process run in ``tmp``."""
    return f"sqlite+aiosqlite:///{tmp}/bench.db"


@asynccontextmanager
async def bot_process(
    fake: FakeTelegram,
    tmp: str,
    *args: str,
    warm_chats: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[int]:
    """Run ``python *args`` (by default ``-m bot run``) in ``tmp`` against the fake; yield its pid.

    Its database is ``sqlite_url(tmp)``; it runs in ``tmp`` so that no ``.env`` is read.

    It is yielded once it polls and has answered ``/start`` from each of ``warm_chats`` (first
    contact creates the chats, lazy imports settle).
    """
    environment = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": sqlite_url(tmp),
        "LOG_LEVEL": "WARNING",
        "INGEST_ON_START": "false",
        **(env or {}),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *(args or ("-m", "bot", "run")), cwd=tmp, env=environment
    )
    try:
        await fake.wait_until(lambda: bool(fake.calls("getUpdates")), timeout=60)
        offered = await offer(fake, warm_chats, rate=1000, count=len(warm_chats), text="/start")
        await reply_latencies_ms(fake, offered)
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()


@dataclass
class Offered:
    """Commands sent to the bot: when each chat's were sent, and its replies before them."""

    replies_before: dict[int, int]
    sent_at: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))


async def offer(
    fake: FakeTelegram,
    chats: Sequence[int],
    *,
    rate: float,
    count: int | None = None,
    stop: Callable[[], bool] | None = None,
    text: str | None = None,
) -> Offered:
    """Send commands at a steady rate (open loop) until ``count`` are sent or ``stop()`` holds.

    The chats take turns; each alternates between COMMANDS unless ``text`` is given.
    """
    offered = Offered({chat: len(fake.messages_to(chat)) for chat in chats})
    began = time.monotonic()
    i = 0
    while (count is None or i < count) and not (stop is not None and stop()):
        # Open loop: the schedule does not wait for the bot.
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chat = chats[i % len(chats)]
        offered.sent_at[chat].append(time.monotonic())
        fake.send_text(chat, text or COMMANDS[(i // len(chats)) % 2])
        i += 1
    return offered


async def reply_latencies_ms(
    fake: FakeTelegram,
    offered: Offered,
    timeout: float = 120,  # noqa: ASYNC109
) -> list[float]:
    """Wait for every reply; return update-to-reply latencies in milliseconds."""

    def replies(chat: int) -> list[SentMessage]:
        return fake.messages_to(chat)[offered.replies_before[chat] :]

    await fake.wait_until(
        lambda: all(len(replies(c)) >= len(ts) for c, ts in offered.sent_at.items()), timeout
    )
    # Each chat's updates are answered in order, so the n-th reply in a chat answers that
    # chat's n-th command.
    return [
        (reply.time - sent) * 1000
        for chat, times in offered.sent_at.items()
        for reply, sent in zip(replies(chat), times, strict=False)
    ]


async def scrape(port: int) -> dict[str, float]:
    """The bot's Prometheus samples (METRICS_PORT), by name; labels are left out."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    samples: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] += sample.value
    return samples


async def wait_for_sample(port: int, name: str) -> dict[str, float]:
    """Poll the bot's metrics until sample ``name`` is set (not 0); return them all."""
    while True:
        samples = await scrape(port)
        if samples.get(name):
            return samples
        await asyncio.sleep(0.5)


async def commands_during(
    fake: FakeTelegram,
    tmp: str,
    *,
    env: Mapping[str, str],
    chats: Sequence[int],
    rate: float,
    begun: Callable[[], bool],
    until_sample: str,
) -> tuple[list[float], dict[str, float]]:
    """Run the bot; from ``begun()`` on, send commands at ``rate`` until its metric is set.

    ``until_sample`` names the bot's metric (METRICS_PORT) that is set when the work commands
    are measured against ends. Return their update-to-reply latencies (ms) and the bot's
    metrics at that moment.
    """
    port = free_port()
    environment = {**env, "METRICS_PORT": str(port)}
    async with bot_process(fake, tmp, warm_chats=chats, env=environment):
        await until(begun, 60, "the work to measure against")
        done = asyncio.create_task(wait_for_sample(port, until_sample))
        offered = await offer(fake, chats, rate=rate, stop=done.done)
        samples = await done
        return await reply_latencies_ms(fake, offered), samples
