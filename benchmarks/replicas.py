"""Several replicas broadcast together: one message budget keeps them to Telegram's limit.

2 and 3 `digest-bot run` processes share one PostgreSQL database (a scratch one beside
TEST_POSTGRES_URL's; without it this benchmark prints nothing) and the fake Telegram in this
process, which enforces Telegram's flood limits (30 messages/s per bot, about 1/s per chat)
with 429 answers. 600 chats fall due in the same minute, each owed a digest of one message
(DIGEST_MAX_PAPERS=3); no replica is given a rate setting. A third run kills one of three
replicas (SIGKILL) after 200 messages: the other two finish its chats once their claims lapse
(DELIVERY_LEASE, 5 s here).

Figures, per run (2, 3, 3 with one killed):
- seconds from the first digest message to the last: target <= 1.15 x 600/30 = 23 s, plus the
  lease for the killed run; messages per second;
- the share of sends answered 429 (target <= 0.01), and chats that got their digest exactly
  once (target == 600; in the killed run a message in flight at the kill may come twice).

With BENCH_BASELINE=<git ref>, the same runs also go to the bot at that commit (from `git
archive`), side by side: its per-process limit is what every replica gets with the shared
budget off, at the default BROADCAST_RATE and at 29/N.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.common import SHORT, emit  # noqa: E402
from tests.broadcast import ingest_day, make_due  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimit  # noqa: E402
from tests.harness import TOKEN  # noqa: E402
from tests.replicas import replicas  # noqa: E402
from tests.scratch_db import scratch_postgres  # noqa: E402

DIGESTS = 120 if SHORT else 600
CHATS = range(60_000, 60_000 + DIGESTS)
TELEGRAM_LIMIT = 30.0
LEASE_SECONDS = 5
KILL_AFTER = DIGESTS // 3
BOUND = 1.15 * DIGESTS / TELEGRAM_LIMIT


async def broadcast(
    db_url: str, count: int, *, kill: bool, code: Path, env: dict[str, str], logs: Path
) -> dict[str, float]:
    """One broadcast of DIGESTS one-message digests by ``count`` replicas; its figures."""
    await ingest_day(db_url)
    limits = RateLimit(global_per_second=TELEGRAM_LIMIT, per_chat_per_second=1)
    settings = {"DELIVERY_LEASE": f"PT{LEASE_SECONDS}S", "DIGEST_MAX_PAPERS": "3", **env}
    async with (
        FakeTelegram(TOKEN, rate_limit=limits) as telegram,
        replicas(telegram, db_url, logs, count, env=settings, code=code) as running,
    ):
        due = set(CHATS)
        await make_due(db_url, CHATS)
        if kill:
            await telegram.wait_until(
                lambda: sum(m.chat_id in due for m in telegram.sent) >= KILL_AFTER, 120
            )
            running.kill(0)
        await telegram.wait_until(lambda: all(telegram.messages_to(c) for c in CHATS), 300)
        await asyncio.sleep(1)  # a straggler sent twice would come now
    times = [m.time for c in CHATS for m in telegram.messages_to(c)]
    sends = [c for c in telegram.calls("sendMessage") if c.params.get("chat_id") in due]
    seconds = max(times) - min(times)
    return {
        "seconds": seconds,
        "messages_per_second": len(times) / seconds,
        "share_429": sum(c.status == 429 for c in sends) / len(sends),
        "once": sum(len(telegram.messages_to(c)) == 1 for c in CHATS),
    }


def run(
    label: str,
    count: int,
    *,
    kill: bool = False,
    code: Path = ROOT,
    env: dict[str, str] | None = None,
) -> None:
    postgres = os.environ["TEST_POSTGRES_URL"]
    name = f"{make_url(postgres).database}_replicas_bench"
    with scratch_postgres(postgres, name) as url, tempfile.TemporaryDirectory() as logs:
        began = time.monotonic()
        got = asyncio.run(
            broadcast(url, count, kill=kill, code=code, env=env or {}, logs=Path(logs))
        )
    bound = BOUND + (LEASE_SECONDS if kill else 0)
    new = code == ROOT
    emit(
        "replicas",
        f"{label}_seconds",
        got["seconds"],
        "s",
        target=f"<= {bound:.1f}" if new else None,
        replicas=count,
        killed=kill,
        digests=DIGESTS,
        messages_per_second=round(got["messages_per_second"], 2),
        run_seconds=round(time.monotonic() - began, 1),
    )
    emit(
        "replicas",
        f"{label}_share_429",
        got["share_429"],
        "ratio",
        target="<= 0.01" if new else None,
    )
    emit(
        "replicas",
        f"{label}_chats_once",
        got["once"],
        "chats",
        target=f"== {DIGESTS}" if new and not kill else None,
        chats=DIGESTS,
    )


def baseline(ref: str, into: Path) -> Path:
    """The bot's code at ``ref``, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "bot", "storage", "content"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    if not os.environ.get("TEST_POSTGRES_URL"):
        return  # replicas need PostgreSQL
    run("two", 2)
    run("three", 3)
    run("three_one_killed", 3, kill=True)
    if ref := os.environ.get("BENCH_BASELINE"):
        with tempfile.TemporaryDirectory() as tmp:
            old = baseline(ref, Path(tmp))
            for count, label in ((2, "two"), (3, "three")):
                run(f"baseline_{label}", count, code=old)
                rate = f"{29 / count:.2f}"
                run(f"baseline_{label}_rate_divided", count, code=old, env={"BROADCAST_RATE": rate})


if __name__ == "__main__":
    main()
