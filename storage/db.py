"""Engine and session factories, and schema migrations."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    SQLColumnExpression,
    Table,
    any_,
    event,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Keys of Alembic's Config.attributes understood by migrations/env.py.
URL_ATTRIBUTE = "sqlalchemy.url"

_SQLITE_PRAGMAS = (
    # WAL lets the digest sender read while the bot writes.
    "PRAGMA journal_mode=WAL",
    # SQLite ignores foreign keys (and ON DELETE CASCADE) unless asked, per connection.
    "PRAGMA foreign_keys=ON",
    # Wait for a concurrent writer instead of failing at once with "database is locked".
    "PRAGMA busy_timeout=5000",
    # Durable enough under WAL (only the last commits may roll back on power loss), much faster.
    "PRAGMA synchronous=NORMAL",
    # The default 2 MB cache rereads the chats table and its due index on every broadcast
    # batch; 32 MB (allocated only as used) holds them for a large community.
    "PRAGMA cache_size=-32768",
)


def is_sqlite(url: str | URL) -> bool:
    """Whether the database URL names SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, single_statements: bool = False) -> AsyncEngine:
    """Create an async engine for ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` URLs.

    ``single_statements``: a small PostgreSQL engine whose every statement commits by itself,
    with no BEGIN or COMMIT round trips (SQLite ignores it), for units of one statement.
    """
    sa_url = make_url(url)
    if is_sqlite(sa_url):
        _ensure_sqlite_directory(sa_url)
        # SQLite has one writer at a time anyway. One pooled connection turns waiting for it
        # into a fair FIFO queue in the event loop, instead of SQLite's busy-sleep lottery
        # that starves unlucky connections past busy_timeout under load.
        engine = _create_async_engine(
            sa_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    if single_statements:
        return _create_async_engine(
            sa_url,
            isolation_level="AUTOCOMMIT",
            # A ping costs as long as the statement: a dropped connection fails its statement
            # instead, and the caller tries again on a new one.
            pool_pre_ping=False,
            pool_recycle=1800,
            pool_size=1,
            max_overflow=1,
            pool_timeout=30,
        )
    return _create_async_engine(
        sa_url,
        # Survive server restarts and idle connections dropped by proxies or firewalls.
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=5,
        pool_timeout=30,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Create a session factory whose objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Build an Alembic config for ``url`` that does not depend on the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # Passed as an attribute rather than a main option: ini interpolation would choke on "%"
    # in passwords, and it must win over DATABASE_URL from the environment.
    config.attributes[URL_ATTRIBUTE] = url
    return config


def upgrade(url: str) -> None:
    """Apply all Alembic migrations up to head (blocking)."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_async(url: str) -> None:
    """Apply all Alembic migrations up to head without blocking the event loop."""
    await asyncio.to_thread(upgrade, url)


def dialect_name(session: AsyncSession) -> str:
    """Return the name of the session's database dialect ("sqlite" or "postgresql")."""
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(session: AsyncSession, model: type[Base]) -> Insert:
    """Return ``INSERT ... ON CONFLICT DO NOTHING`` into ``model`` for the session's dialect."""
    return _insert_ignoring_conflicts(dialect_name(session), model)


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core statements that skip the ORM's bulk paths."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


# Statements are immutable, so one per dialect and table serves every call: hot paths skip
# building it and generating its cache key. They insert into the table, not the entity: the
# ORM's bulk insert adds nothing here (no object in the session is affected) but its cost.
@functools.cache
def _insert_ignoring_conflicts(name: str, model: type[Base]) -> Insert:
    if name == "postgresql":
        return postgresql.insert(table_of(model)).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table_of(model)).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database dialect: {name}")


def in_values(
    session: AsyncSession, column: SQLColumnExpression[int], values: Sequence[int]
) -> ColumnElement[bool]:
    """``column IN values`` with the whole list bound as one parameter, however long it is.

    An expanding IN binds a parameter per value: SQLAlchemy renders the statement anew for
    every list, and SQLite caps a statement's parameters, so long lists went in chunks.
    """
    name = dialect_name(session)
    if name == "postgresql":
        return column == any_(literal(list(values), postgresql.ARRAY(BigInteger)))
    if name == "sqlite":
        items = func.json_each(json.dumps(list(values))).table_valued("value")
        return column.in_(select(items.c.value))
    raise NotImplementedError(f"unsupported database dialect: {name}")


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _apply_sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for the write lock:
    # SQLite fails it at once with "database is locked" when another connection wrote
    # meanwhile. Taking the lock at BEGIN makes concurrent units of work queue up
    # (within busy_timeout) instead, and serialises them like row locks would.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
