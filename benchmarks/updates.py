"""How fast the bot answers /subscribe and /unsubscribe, in polling mode, on SQLite.

The real `digest-bot run` process, with its default settings, polls the fake Telegram server
running in this process. The two share this machine's cores; Telegram's servers would be
elsewhere in production.

The figures:
- throughput: 2,000 commands arrive at once from 200 chats; commands answered per second;
- latency: commands arrive at a steady 100/s, then 200/s, from the same 200 chats for 8 s
  each; update-to-reply p50/p95/max in milliseconds;
- the bot process's CPU time per command during the burst;
- the same burst answered by a reference bot: PTB alone, replying without a database, on
  the same Bot API transport and update processor. Its bursts alternate with the bot's,
  three rounds. This VM's speed drifts by tens of percent within minutes, so the median
  ratio of the two CPU figures is what compares across runs.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram  # noqa: E402

REFERENCE_FLAG = "--reference-bot"

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
BURST_COMMANDS = 2000
BURST_CHATS = 200
# Latency is measured below saturation (half the target rate) and at the target rate.
RATES = (100, 200)
RATE_SECONDS = 8
REFERENCE_ROUNDS = 3
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


def run_reference_bot() -> None:
    """PTB as the bot uses it (transport, update processor, HTML replies), no database."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from bot.app import MAX_CONCURRENT_UPDATES, bot_api_requests
    from bot.concurrency import ChatOrderedUpdateProcessor

    async def reply(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await update.effective_message.reply_html("✅ Подписка оформлена: #mllm, #moe.")

    requests, polling = bot_api_requests()
    app = (
        ApplicationBuilder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{os.environ['TELEGRAM_API_URL']}/bot")
        .request(requests)
        .get_updates_request(polling)
        .concurrent_updates(ChatOrderedUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .build()
    )
    app.add_handler(CommandHandler(["start", "subscribe", "unsubscribe"], reply))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


@asynccontextmanager
async def bot_process(fake: FakeTelegram, tmp: str, *args: str) -> AsyncIterator[int]:
    """Run ``python *args`` against the fake until the block ends; yield its pid once it polls."""
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
        "LOG_LEVEL": "WARNING",
        "INGEST_ON_START": "false",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, cwd=tmp, env=env)
    try:
        await fake.wait_until(lambda: bool(fake.calls("getUpdates")), timeout=60)
        # Warm-up: first contact creates the chats, imports settle.
        for chat in range(BURST_CHATS):
            fake.send_text(10_000 + chat, "/start")
        await wait_replies(fake, BURST_CHATS, 60)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()


async def burst(fake: FakeTelegram, pid: int) -> tuple[float, float]:
    """Send the burst at once; return (commands per second, CPU ms per command)."""
    start_count = len(fake.sent)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    for i in range(BURST_COMMANDS):
        fake.send_text(10_000 + i % BURST_CHATS, COMMANDS[(i // BURST_CHATS) % 2])
    await wait_replies(fake, start_count + BURST_COMMANDS, 120)
    elapsed = fake.sent[-1].time - started
    return BURST_COMMANDS / elapsed, (cpu_seconds(pid) - cpu_before) * 1000 / BURST_COMMANDS


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeTelegram(TOKEN) as fake,
            FakeTelegram(TOKEN) as reference_fake,
            bot_process(fake, tmp, "-m", "bot", "run") as pid,
            bot_process(reference_fake, tmp, str(SCRIPT), REFERENCE_FLAG) as reference_pid,
        ):
            rate, cpu_ms = await burst(fake, pid)
            emit(
                "commands_per_second",
                rate,
                "1/s",
                target=">= 200",
                commands=BURST_COMMANDS,
                chats=BURST_CHATS,
            )
            emit("bot_cpu_ms_per_command", cpu_ms, "ms")
            # Bursts alternate with the reference bot's, so both see the VM at the same speed.
            ratios = []
            for _ in range(REFERENCE_ROUNDS):
                _, reference_ms = await burst(reference_fake, reference_pid)
                ratios.append(cpu_ms / reference_ms)
                _, cpu_ms = await burst(fake, pid)
            emit("reference_cpu_ms_per_command", reference_ms, "ms")
            emit("bot_cpu_per_reference_cpu", statistics.median(ratios), "ratio")
            for offered in RATES:
                await latency_phase(fake, offered)


if __name__ == "__main__":
    if sys.argv[1:] == [REFERENCE_FLAG]:
        run_reference_bot()
    else:
        asyncio.run(main())
