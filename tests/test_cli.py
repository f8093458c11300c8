"""The `digest-bot` command as an operator meets it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of an operator who has not configured anything yet."""
    configured = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in configured}
    env["PYTHONPATH"] = str(ROOT)
    # Tests ingest when they mean to, from fake sources, never from the real HuggingFace.
    env["INGEST_ON_START"] = "false"
    env.update(extra)
    return env


def bot_env(fake: FakeTelegram, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of `digest-bot run` against the fake Telegram and this database."""
    return clean_env(BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url, DATABASE_URL=database_url, **extra)


async def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_without_a_token_run_exits_with_one_line_naming_botfather(tmp_path):
    code, out, err = await run_cli("run", cwd=tmp_path, env=clean_env())
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "BOT_TOKEN" in lines[0] and "@BotFather" in lines[0]
    assert "Traceback" not in err + out


async def test_a_bad_setting_is_reported_without_echoing_secrets(tmp_path):
    env = clean_env(BOT_TOKEN=TOKEN, DEFAULT_TIMEZONE="Mars/Olympus")
    code, _, err = await run_cli("run", cwd=tmp_path, env=env)
    assert code != 0
    assert "DEFAULT_TIMEZONE" in err and "Traceback" not in err
    assert TOKEN not in err


async def test_db_upgrade_creates_the_sqlite_database(tmp_path):
    env = clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/data/bot.db")
    code, _, err = await run_cli("db", "upgrade", cwd=tmp_path, env=env)
    assert code == 0, err
    assert (tmp_path / "data" / "bot.db").exists()


async def wait_for_polling(fake: FakeTelegram, proc: asyncio.subprocess.Process) -> None:
    polls = len(fake.calls("getUpdates"))
    try:
        await fake.wait_until(lambda: len(fake.calls("getUpdates")) > polls, timeout=30)
    except AssertionError:
        proc.kill()
        raise


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        pytest.fail("the bot did not stop on SIGINT")


async def test_the_real_process_polls_answers_and_keeps_subscriptions_across_restarts(tmp_path):
    async with FakeTelegram(TOKEN) as fake:
        env = bot_env(fake, f"sqlite+aiosqlite:///{tmp_path}/digest.db")
        for attempt, (command, expected) in enumerate(
            [("/subscribe mllm #MoE Benchmark", "Подписка оформлена"), ("/mytags", "#moe")]
        ):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=tmp_path,
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            await wait_for_polling(fake, proc)
            fake.send_text(42, command)
            replies = await fake.wait_for_messages(42, attempt + 1, timeout=15)
            assert expected in replies[-1].plain
            await stop(proc)
            assert proc.stderr is not None
            log = (await proc.stderr.read()).decode()
            assert TOKEN not in log
            assert proc.returncode == 0, log
        assert fake.commands_for(language_code="ru")


async def test_search_prints_the_same_ranking_as_the_bot(tmp_path):
    from storage.db import create_engine, create_sessionmaker, upgrade_async
    from tests.search_fixture import AWAKER, load_search_papers, seed_search_papers

    url = f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        await seed_search_papers(create_sessionmaker(engine))
    finally:
        await engine.dispose()
    env = clean_env(DATABASE_URL=url)
    code, out, err = await run_cli(
        "search", "смесь", "экспертов", "--limit", "3", cwd=tmp_path, env=env
    )
    assert code == 0, err
    titles = {p["id"]: p["title_ru"] for p in load_search_papers()}
    assert out.startswith(f"1. {titles[AWAKER]}\n")
    assert "https://github.com/MetabrainAGI/Awaker" in out and "4. " not in out

    code, out, err = await run_cli("search", '"*(', cwd=tmp_path, env=env)
    assert code != 0
    assert err.strip().splitlines()[-1].startswith("error: nothing to search for")
    assert "Traceback" not in err + out
