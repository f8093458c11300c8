"""The morning broadcast to 1,000 chats, and the commands people send while it goes out.

The real `digest-bot run` process (default settings, SQLite) starts with 1,000 private chats
due: papers of one real day were ingested beforehand, each chat follows one of four tag sets.
Its first delivery tick sends every digest to the fake Telegram server in this process, which
enforces Telegram's limits (30 messages/s overall, replies included, about 1/s per chat after a
burst of 3) with 429 answers. Meanwhile 20 other users send a command every 0.5 s between them
(/subscribe and /unsubscribe in turn) until the tick ends; the bot's METRICS_PORT tells when.

Figures:
- broadcast_commands: update-to-reply p95 of those commands (target <= 1000 ms), p50, max;
- share_of_limit: messages per second from the first digest message to the last, divided by
  the limit the bot is configured to, BROADCAST_RATE (29/s by default; target >= 0.97). The
  replies sent meanwhile count too: Telegram's limit covers both, and they share the budget;
- repeated: papers a chat received more than once (target == 0); also chats complete, papers
  lost, messages, seconds, and 429 answers to digests and to replies.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    SHORT,
    commands_during,
    emit,
    emit_latencies,
    sqlite_url,
)
from bot.ratelimit import MESSAGES_PER_SECOND  # noqa: E402
from tests.broadcast import Tally, ingest_day, make_due, tally  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimit  # noqa: E402
from tests.harness import TOKEN  # noqa: E402

CHATS = range(20_000, 20_100 if SHORT else 21_000)
COMMAND_CHATS = range(30_000, 30_020)
COMMANDS_PER_SECOND = 2
TELEGRAM_LIMIT = 30.0
# The bot's BROADCAST_RATE: the process runs with the default.
LIMIT = MESSAGES_PER_SECOND
TICK_DONE = "digest_delivery_tick_timestamp_seconds"


def report(telegram: FakeTelegram, result: Tally) -> None:
    times = [m.time for chat in CHATS for m in telegram.messages_to(chat)]
    first, last = min(times), max(times)
    seconds = last - first
    replies = sum(
        first <= m.time <= last for chat in COMMAND_CHATS for m in telegram.messages_to(chat)
    )
    rate = (result.messages + replies) / seconds
    emit(
        "delivery",
        "share_of_limit",
        rate / LIMIT,
        "ratio",
        target=">= 0.97",
        limit=LIMIT,
        limit_is="BROADCAST_RATE",
        messages_per_second=round(rate, 2),
        digest_messages_per_second=round(result.messages / seconds, 2),
        share_of_telegram_limit=round(rate / TELEGRAM_LIMIT, 3),
    )
    emit("delivery", "repeated", result.repeated, "papers", target="== 0")
    emit("delivery", "chats_complete", result.complete, "chats", chats=result.chats)
    emit("delivery", "lost", result.lost, "papers")
    emit("delivery", "messages", result.messages, "messages", seconds=round(seconds, 2))
    commands = set(COMMAND_CHATS)
    to_replies = sum(
        call.status == 429 and call.params.get("chat_id") in commands
        for call in telegram.calls("sendMessage")
    )
    emit(
        "delivery",
        "too_many_requests",
        result.too_many_requests + to_replies,
        "answers",
        to_digests=result.too_many_requests,
        to_replies=to_replies,
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        owed = await ingest_day(sqlite_url(tmp))
        await make_due(sqlite_url(tmp), CHATS)
        limits = RateLimit(global_per_second=TELEGRAM_LIMIT, per_chat_per_second=1)
        async with FakeTelegram(TOKEN, rate_limit=limits) as telegram:
            due = set(CHATS)
            latencies, _ = await commands_during(
                telegram,
                tmp,
                env={},
                chats=COMMAND_CHATS,
                rate=COMMANDS_PER_SECOND,
                begun=lambda: any(m.chat_id in due for m in telegram.sent),
                until_sample=TICK_DONE,
            )
            emit_latencies(
                "delivery",
                "broadcast_commands",
                latencies,
                "<= 1000",
                commands_per_second=COMMANDS_PER_SECOND,
                broadcast_chats=len(CHATS),
            )
            report(telegram, tally(telegram, CHATS, owed))


if __name__ == "__main__":
    asyncio.run(main())
