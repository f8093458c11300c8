"""Shared pytest fixtures.

Database tests run on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import KeyValueFormatter, quiet_noisy_loggers
from storage.db import create_engine, create_sessionmaker, upgrade_async
from tests.harness import SECRETS

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = "TEST_POSTGRES_URL is not set; run .ci/run or export it to test PostgreSQL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: runs against PostgreSQL (skipped unless TEST_POSTGRES_URL is set)"
    )


# --- log audit ----------------------------------------------------------------------------


class LogAudit(logging.Handler):
    """Formats every record the suite produces, unredacted, and keeps those holding a secret."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.setFormatter(KeyValueFormatter())
        self.seen = 0
        self.by_logger: dict[str, int] = {}
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.seen += 1
        top = record.name.split(".", 1)[0]
        self.by_logger[top] = self.by_logger.get(top, 0) + 1
        if any(secret in line for secret in self.secrets):
            self.leaks.append(line)


# A full run logs thousands of records; far fewer means the audit was not attached.
AUDIT_MIN_RECORDS = 500
AUDIT = LogAudit(SECRETS)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Production levels (INFO, chatty libraries at WARNING), and no redaction: the audit
    # checks that secrets never reach a log record at all, RedactSecrets is only a safety net.
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(AUDIT)
    quiet_noisy_loggers()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(AUDIT)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    problems: list[str] = []
    if AUDIT.leaks:
        problems.append(f"{len(AUDIT.leaks)} log lines contain a secret:")
        problems += AUDIT.leaks[:5]
    if session.testscollected >= 300 and AUDIT.seen < AUDIT_MIN_RECORDS:
        problems.append(f"the log audit saw only {AUDIT.seen} records: is it attached?")
    if reporter is not None:
        reporter.write_line(
            f"log audit: {AUDIT.seen} records checked for {len(SECRETS)} secrets "
            f"({', '.join(f'{k}={v}' for k, v in sorted(AUDIT.by_logger.items()))})"
        )
        for problem in problems:
            reporter.write_line(f"LOG AUDIT FAILED: {problem}", red=True)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- database ---------------------------------------------------------------------------


async def _reset_postgres(url: str) -> None:
    # Tests share one PostgreSQL database, so each starts from an empty schema.
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh database without any tables."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'digest.db'}"
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(POSTGRES_SKIP_REASON)
    await _reset_postgres(url)
    return url


@pytest.fixture
async def db_url(empty_db_url: str) -> str:
    """URL of a fresh database migrated to head."""
    await upgrade_async(empty_db_url)
    return empty_db_url


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Session factory on a fresh, migrated database."""
    engine = create_engine(db_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
