"""How fast the bot answers commands at a steady 100 a second, in polling mode, on SQLite.

The real `digest-bot run` process, with its default settings, polls the fake Telegram server
running in this process.

The figures:
- the bot process's CPU time per command during bursts of 2,000 commands from 200 chats, each
  chat alternating /subscribe and /unsubscribe;
- the same bursts answered by a reference bot: PTB alone, replying without a database, on
  the same Bot API transport and update processor. Its bursts alternate with the
  bot's, three rounds. The machine's speed drifts by tens of percent within minutes, so the
  median ratio of the two CPU figures is what compares across runs (no target: informative);
- steady_100: then commands arrive at a steady 100/s from the same chats for 8 s;
  update-to-reply p95 (target <= 100 ms), p50 and max.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve()
sys.path.insert(0, str(SCRIPT.parent.parent))

from benchmarks.common import (  # noqa: E402
    SHORT,
    bot_process,
    cpu_seconds,
    emit,
    emit_latencies,
    offer,
    reply_latencies_ms,
)
from tests.fake_telegram import FakeTelegram  # noqa: E402
from tests.harness import TOKEN  # noqa: E402

REFERENCE_FLAG = "--reference-bot"

CHATS = range(10_000, 10_200)
RATE = 100
RATE_SECONDS = 2 if SHORT else 8
BURST_COMMANDS = 400 if SHORT else 2000
REFERENCE_ROUNDS = 1 if SHORT else 3


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


async def burst_cpu_ms(fake: FakeTelegram, pid: int) -> float:
    """Send a burst at once; return the process's CPU milliseconds per command."""
    before = cpu_seconds(pid)
    offered = await offer(fake, CHATS, rate=1e9, count=BURST_COMMANDS)
    await reply_latencies_ms(fake, offered)
    return (cpu_seconds(pid) - before) * 1000 / BURST_COMMANDS


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeTelegram(TOKEN) as fake,
            FakeTelegram(TOKEN) as reference_fake,
            bot_process(fake, tmp, warm_chats=CHATS) as pid,
            bot_process(
                reference_fake, tmp, str(SCRIPT), REFERENCE_FLAG, warm_chats=CHATS
            ) as reference_pid,
        ):
            # Bursts alternate with the reference bot's, so both see the machine at one speed.
            cpu_ms = await burst_cpu_ms(fake, pid)
            ratios = []
            for _ in range(REFERENCE_ROUNDS):
                reference_ms = await burst_cpu_ms(reference_fake, reference_pid)
                ratios.append(cpu_ms / reference_ms)
                cpu_ms = await burst_cpu_ms(fake, pid)
            emit("updates", "bot_cpu_ms_per_command", cpu_ms, "ms", burst=BURST_COMMANDS)
            emit("updates", "reference_cpu_ms_per_command", reference_ms, "ms")
            emit("updates", "bot_cpu_per_reference_cpu", statistics.median(ratios), "ratio")
            await asyncio.sleep(1)  # the last burst's backlog drains: the steady phase starts idle
            offered = await offer(fake, CHATS, rate=RATE, count=RATE * RATE_SECONDS)
            latencies = await reply_latencies_ms(fake, offered)
            emit_latencies(
                "updates",
                "steady_100",
                latencies,
                "<= 100",
                commands_per_second=RATE,
                chats=len(CHATS),
            )


if __name__ == "__main__":
    if sys.argv[1:] == [REFERENCE_FLAG]:
        run_reference_bot()
    else:
        asyncio.run(main())
