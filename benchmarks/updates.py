"""How fast the bot answers /subscribe and /unsubscribe, in polling mode, on SQLite.

The real `digest-bot run` process polls the fake Telegram server running in this process,
so the bot and the fake each have a core of their own, as they would in production.

Two figures:
- throughput: 2,000 commands arrive at once from 200 chats; commands answered per second;
- latency: commands arrive at a steady 100/s, then 200/s, from the same 200 chats for 8 s
  each; update-to-reply p50/p95/max in milliseconds;
- the bot process's CPU time per command during the burst.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
BURST_COMMANDS = 2000
BURST_CHATS = 200
# Latency is measured below saturation (half the target rate) and at the target rate.
RATES = (100, 200)
RATE_SECONDS = 8
COMMANDS = ("/subscribe mllm #MoE Benchmark", "/unsubscribe moe")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(
        json.dumps(
            {
                "benchmark": "updates",
                "metric": metric,
                "value": round(value, 2),
                "unit": unit,
                **extra,
            }
        )
    )


async def wait_replies(fake: FakeTelegram, total: int, limit_s: float) -> None:
    await fake.wait_until(lambda: len(fake.sent) >= total, timeout=limit_s)


async def latency_phase(fake: FakeTelegram, rate: int) -> None:
    """Offer commands at a steady rate (open loop) and report update-to-reply latency."""
    start_count = len(fake.sent)
    total = rate * RATE_SECONDS
    sent_at: dict[int, deque[float]] = defaultdict(deque)
    began = time.monotonic()
    for i in range(total):
        # Open loop: the schedule does not wait for the bot.
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chat = 10_000 + i % BURST_CHATS
        sent_at[chat].append(time.monotonic())
        fake.send_text(chat, COMMANDS[i % 2])
    await wait_replies(fake, start_count + total, 120)
    # Each chat's updates are answered in order, so the n-th reply in a chat answers
    # that chat's n-th command.
    latencies = sorted(
        (m.time - sent_at[m.chat_id].popleft()) * 1000 for m in fake.sent[start_count:]
    )
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    emit("p50_latency_ms", statistics.median(latencies), "ms", offered_rate=rate)
    emit("p95_latency_ms", p95, "ms", target="<= 50", offered_rate=rate)
    emit("max_latency_ms", latencies[-1], "ms", offered_rate=rate)
    # Let a backlog drain so the next phase starts from an idle bot.
    await asyncio.sleep(1)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram(TOKEN) as fake:
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": fake.url,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "LOG_LEVEL": "WARNING",
                "INGEST_ON_START": "false",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp, env=env
            )
            try:
                await fake.wait_until(lambda: bool(fake.calls("getUpdates")), timeout=60)

                # Warm-up: first contact creates the chats, imports settle.
                for chat in range(BURST_CHATS):
                    fake.send_text(10_000 + chat, "/start")
                await wait_replies(fake, BURST_CHATS, 60)

                start_count = len(fake.sent)
                cpu_before = cpu_seconds(proc.pid)
                started = time.monotonic()
                for i in range(BURST_COMMANDS):
                    fake.send_text(10_000 + i % BURST_CHATS, COMMANDS[(i // BURST_CHATS) % 2])
                await wait_replies(fake, start_count + BURST_COMMANDS, 120)
                elapsed = fake.sent[-1].time - started
                cpu_ms = (cpu_seconds(proc.pid) - cpu_before) * 1000 / BURST_COMMANDS
                emit(
                    "commands_per_second",
                    BURST_COMMANDS / elapsed,
                    "1/s",
                    target=">= 200",
                    commands=BURST_COMMANDS,
                    chats=BURST_CHATS,
                )
                emit("bot_cpu_ms_per_command", cpu_ms, "ms")

                for rate in RATES:
                    await latency_phase(fake, rate)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()


if __name__ == "__main__":
    asyncio.run(main())
