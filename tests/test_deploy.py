"""The Docker image and the compose file, checked as far as this machine allows."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, WEBHOOK_SECRET, free_port, make_settings, running_bot

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages as (INSTRUCTION, arguments), continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def healthcheck_command() -> str:
    [check] = [args for instruction, args in final_stage() if instruction == "HEALTHCHECK"]
    return check.split(" CMD ", 1)[1].strip()


def test_the_image_is_multi_stage_on_python_slim_and_runs_as_a_user():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert all(stage[0][1].startswith("python:3.12-slim") for stage in stages)
    users = [args for instruction, args in final_stage() if instruction == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_checks_its_health_keeps_data_in_a_volume_and_migrates_on_start():
    stage = final_stage()
    instructions = {instruction for instruction, _ in stage}
    assert "HEALTHCHECK" in instructions
    assert "/healthz" in healthcheck_command() and "curl" not in healthcheck_command()
    volumes = " ".join(args for instruction, args in stage if instruction == "VOLUME")
    assert "/data" in volumes
    env = " ".join(args for instruction, args in stage if instruction == "ENV")
    assert "DATABASE_URL=sqlite+aiosqlite:////data/" in env
    assert "METRICS_PORT=" in env
    entry = [args for instruction, args in stage if instruction in {"ENTRYPOINT", "CMD"}]
    assert entry == ['["digest-bot"]', '["run"]']  # `run` migrates before it starts


async def test_the_healthcheck_command_follows_healthz(tmp_path):
    command = shlex.split(healthcheck_command())
    assert command[0] == "python"
    async with FakeTelegram(TOKEN) as fake:
        settings = make_settings(
            fake,
            f"sqlite+aiosqlite:///{tmp_path}/digest.db",
            metrics_port=0,
            metrics_listen="127.0.0.1",
        )
        async with running_bot(settings) as app:
            assert app.bot_data.monitoring is not None
            port = app.bot_data.monitoring.port
            assert port is not None

            async def probe(at: int) -> int:
                env = {**os.environ, "METRICS_PORT": str(at)}
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, *command[1:], env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
                return await asyncio.wait_for(proc.wait(), 30)

            assert await probe(port) == 0
            assert await probe(free_port()) != 0


def test_compose_runs_the_bot_after_a_healthy_postgres():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    postgres, bot = services["postgres"], services["bot"]
    assert postgres["healthcheck"]["test"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in bot["environment"]["DATABASE_URL"]
    assert bot["build"] == "."
    assert any(volume.endswith(":/data") for volume in bot["volumes"])


def test_compose_runs_several_bots_behind_one_proxy_for_the_webhook():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    bot, proxy = services["bot"], services["proxy"]
    # `--scale bot=3` needs every host port of the bot to be a range, one port per replica.
    for published in bot["ports"]:
        host_port = published.rsplit(":", 2)[-2]
        first, _, last = host_port.partition("-")
        assert last and int(last) - int(first) >= 2, published
    assert "container_name" not in bot
    assert bot["environment"]["WEBHOOK_PORT"] == "8443"  # where the Caddyfile forwards
    assert proxy["ports"] == ["127.0.0.1:8443:8443"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]


async def test_telegram_reaches_the_bot_through_the_compose_proxy(db_url):
    """deploy/Caddyfile, run as it is: plain HTTP in, the update reaches a replica, it answers."""
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed here")
    bot_port, proxy_port = free_port(), free_port()
    caddyfile = ROOT / "deploy" / "Caddyfile"
    env = {**os.environ, "PROXY_PORT": str(proxy_port), "BOT_HOST": "localhost"}
    env["BOT_PORT"] = str(bot_port)
    async with FakeTelegram(TOKEN) as fake:
        settings = make_settings(
            fake,
            db_url,
            webhook_url="https://bot.example.org/telegram/updates",
            webhook_secret=WEBHOOK_SECRET,
            webhook_listen="127.0.0.1",
            webhook_port=bot_port,
        )
        proxy = await asyncio.create_subprocess_exec(
            "caddy", "run", "--adapter", "caddyfile", "--config", str(caddyfile),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with running_bot(settings):
                fake.webhook_upstream = f"http://127.0.0.1:{proxy_port}"
                fake.send_text(7001, "/start")
                await fake.wait_until(lambda: bool(fake.messages_to(7001)), 30)
                assert fake.messages_to(7001)[0].text.startswith("👋")
        finally:
            proxy.terminate()
            await proxy.wait()
        assert fake.calls("getUpdates") == []
        assert {status for _, status in fake.webhook_pushes} == {200}


def _docker_compose() -> list[str] | None:
    # Compose v2 is a docker plugin; v1 (Debian's docker-compose) validates the same file.
    if shutil.which("docker") is not None:
        found = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if found.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_docker_compose_accepts_the_compose_file(tmp_path):
    compose = _docker_compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed here")
    # The operator's .env, as the README asks for it.
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TOKEN}\nPOSTGRES_PASSWORD=example\n")
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "POSTGRES_PASSWORD"}}
    result = subprocess.run(
        [
            *compose,
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--project-directory",
            str(tmp_path),
            "config",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
