"""Shared pytest fixtures.

Database tests run on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL too.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_sessionmaker, upgrade_async

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = "TEST_POSTGRES_URL is not set; run .ci/run or export it to test PostgreSQL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: runs against PostgreSQL (skipped unless TEST_POSTGRES_URL is set)"
    )


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
