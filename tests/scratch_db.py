"""A scratch PostgreSQL database beside a given one, for benchmarks that must not touch it.

Shared by ``benchmarks/digest.py`` and ``benchmarks/search.py``: the database named in
TEST_POSTGRES_URL belongs to the test suite, which may be running at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def _recreate(url: str, name: str, *, create: bool) -> None:
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()


@contextmanager
def scratch_postgres(url: str, name: str) -> Iterator[str]:
    """Create an empty database ``name`` on the server of ``url``; yield its URL; drop it."""
    asyncio.run(_recreate(url, name, create=True))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_recreate(url, name, create=False))
