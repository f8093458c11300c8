"""A paid broadcast against a free one, side by side: how fast 3,000 digests go out.

Each run starts the real `digest-bot run` process (SQLite) with 3,000 private chats due (300
with BENCH_SHORT=1), each owed a one-message digest of one real day's papers. The fake Telegram
server in this process enforces Telegram's limits: 30 messages/s overall, 1,000/s for messages
sent with allow_paid_broadcast while the Star balance pays for them (0.1 Star for each above
the free 30/s), about 1/s per chat after a burst of 3; beyond them it answers 429. The bot's
first delivery tick sends every digest.

Runs: "free" (the defaults, BROADCAST_RATE 29/s) and "paid" (PAID_BROADCAST=true,
PAID_BROADCAST_RATE=300, a balance of 100,000 Stars).

Figures per run:
- messages_per_second: digest messages from the first to the last (paid target >= 0.9 × 300);
- too_many_requests_share: 429 answers per digest message (target <= 0.01);
- bot_cpu_ms_per_message and fake_cpu_ms_per_message: CPU time of the bot process and of this
  process (the fake) during the broadcast, per message; with ceiling_messages_per_second, what
  one core would allow the bot at that cost. This machine's cores are shared with the fake and
  other work, so the throughput reached is bounded by them as much as by the bot;
- repeated and lost papers (target == 0), paid and billed messages, Stars spent;
- commands_p95_ms, p50 and max: update-to-reply latency of the commands 20 readers send,
  2 a second in all, while the digests go out (target p95 <= 1000 ms); the bot's CPU
  figures include those replies.

A third run, "bare_ptb", is the floor under the bot: a bare PTB ``Bot`` in this process sends
the same number of paid messages (one short HTML text each, 75 in flight) to the fake, with no
database, limiter or rendering; its CPU per message covers PTB, httpx and the fake together.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from benchmarks.common import (  # noqa: E402
    SHORT,
    bot_process,
    cpu_seconds,
    emit,
    emit_latencies,
    offer,
    reply_latencies_ms,
    sqlite_url,
    until,
)
from tests.broadcast import ingest_day, make_due, tally  # noqa: E402
from tests.fake_telegram import NANOSTARS_PER_STAR, FakeTelegram, RateLimit  # noqa: E402
from tests.harness import TOKEN  # noqa: E402

CHATS = range(40_000, 40_300 if SHORT else 43_000)
# People using the bot while the digests go out, and how many commands a second they send.
READERS = range(90_000, 90_020)
READER_RATE = 2
PAID_RATE = 300
BALANCE_STARS = 100_000
LIMITS = RateLimit(global_per_second=30, paid_per_second=1000, per_chat_per_second=1)
RUNS = {
    "free": {},
    "paid": {"PAID_BROADCAST": "true", "PAID_BROADCAST_RATE": str(PAID_RATE)},
}


async def run(name: str, env: dict[str, str]) -> None:
    """One broadcast of every due chat's digest; emit its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        owed = await ingest_day(sqlite_url(tmp))
        await make_due(sqlite_url(tmp), CHATS)
        async with FakeTelegram(TOKEN, rate_limit=LIMITS) as telegram:
            telegram.set_star_balance(BALANCE_STARS)
            due = set(CHATS)

            def digests_sent() -> int:
                return sum(m.chat_id in due for m in telegram.sent)

            async with bot_process(telegram, tmp, env=env, warm_chats=READERS) as pid:
                await until(lambda: bool(digests_sent()), 120, "the broadcast to start")
                bot_cpu, own_cpu = cpu_seconds(pid), time.process_time()
                offered = await offer(
                    telegram,
                    READERS,
                    rate=READER_RATE,
                    stop=lambda: digests_sent() >= len(CHATS),
                )
                await until(lambda: digests_sent() >= len(CHATS), 3600, "every digest")
                bot_cpu, own_cpu = cpu_seconds(pid) - bot_cpu, time.process_time() - own_cpu
                latencies = await reply_latencies_ms(telegram, offered)
            result = tally(telegram, CHATS, owed)
    times = sorted(m.time for m in telegram.sent if m.chat_id in due)
    rate = (len(times) - 1) / (times[-1] - times[0])
    messages = result.messages
    paid = name == "paid"
    emit(
        "paid_broadcast",
        f"{name}_messages_per_second",
        rate,
        "messages/s",
        target=f">= {0.9 * PAID_RATE:g}" if paid else None,
        messages=messages,
        seconds=round(times[-1] - times[0], 2),
    )
    emit(
        "paid_broadcast",
        f"{name}_too_many_requests_share",
        result.too_many_requests / messages,
        "ratio",
        target="<= 0.01",
        answers=result.too_many_requests,
    )
    bot_ms = bot_cpu * 1000 / messages
    emit(
        "paid_broadcast",
        f"{name}_bot_cpu_ms_per_message",
        bot_ms,
        "ms",
        ceiling_messages_per_second=round(1000 / bot_ms, 1),
    )
    emit("paid_broadcast", f"{name}_fake_cpu_ms_per_message", own_cpu * 1000 / messages, "ms")
    emit("paid_broadcast", f"{name}_repeated", result.repeated, "papers", target="== 0")
    emit("paid_broadcast", f"{name}_lost", result.lost, "papers", target="== 0")
    emit_latencies(
        "paid_broadcast",
        f"{name}_commands",
        latencies,
        "<= 1000",
        commands_per_second=READER_RATE,
    )
    spent = BALANCE_STARS - telegram.star_balance_nanostars / NANOSTARS_PER_STAR
    emit(
        "paid_broadcast",
        f"{name}_paid_messages",
        telegram.paid_messages,
        "messages",
        billed=telegram.billed_messages,
        stars_spent=round(spent, 1),
    )


async def bare_ptb() -> None:
    """As many paid messages as the broadcast, from a bare PTB Bot, 75 in flight."""
    in_flight = asyncio.Semaphore(PAID_RATE // 4)
    text = '☀️ <b>Дайджест</b> · #mllm\n\n1. <b><a href="https://arxiv.org/abs/2412.1">x</a></b>'
    async with FakeTelegram(TOKEN, rate_limit=LIMITS) as telegram:
        telegram.set_star_balance(BALANCE_STARS)
        request = HTTPXRequest(connection_pool_size=256)
        async with Bot(TOKEN, base_url=f"{telegram.url}/bot", request=request) as bot:

            async def send(chat_id: int) -> None:
                async with in_flight:
                    await bot.send_message(
                        chat_id, text, parse_mode="HTML", allow_paid_broadcast=True
                    )

            started, cpu = time.monotonic(), time.process_time()
            await asyncio.gather(*(send(chat_id) for chat_id in CHATS))
            seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    emit(
        "paid_broadcast",
        "bare_ptb_messages_per_second",
        len(CHATS) / seconds,
        "messages/s",
        messages=len(CHATS),
        too_many_requests=telegram.too_many_requests,
    )
    emit("paid_broadcast", "bare_ptb_cpu_ms_per_message", cpu * 1000 / len(CHATS), "ms")


async def main() -> None:
    for name, env in RUNS.items():
        await run(name, env)
    await bare_ptb()


if __name__ == "__main__":
    asyncio.run(main())
