"""Alembic environment: async engine from storage.db, metadata from storage.models."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from storage.db import URL_ATTRIBUTE, create_engine
from storage.models import Base, UTCDateTime

DEFAULT_URL = "sqlite+aiosqlite:///./data/digest.db"
# Any constant every replica agrees on; PostgreSQL advisory locks are keyed by a bigint.
MIGRATION_LOCK_ID = 0x6469676573746462  # "digestdb" in ASCII

config = context.config
target_metadata = Base.metadata

# Only the alembic CLI has an ini file; programmatic upgrade() must not reconfigure the
# application's logging.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """Pick the URL: upgrade()'s explicit one, then DATABASE_URL, then the ini file."""
    explicit = config.attributes.get(URL_ATTRIBUTE)
    if explicit:
        return str(explicit)
    return os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url") or DEFAULT_URL


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render custom column types as plain SQLAlchemy types in generated migrations."""
    # Migrations must not import model code, which keeps changing after they are written.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (``alembic upgrade head --sql``)."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on a sync connection."""
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # Batch mode rebuilds a table via DROP TABLE, which with foreign keys enabled runs
        # ON DELETE CASCADE and silently wipes child rows. The pragma is ignored inside a
        # transaction, so it is committed before Alembic starts one.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas upgrade as they start: the first migrates, the others wait here and
            # then find the schema at head. The lock ends with the migration's transaction.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
        context.run_migrations()
    if is_sqlite:
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if violations:
            raise RuntimeError(f"migrations left foreign key violations: {violations[:10]}")


async def run_async_migrations() -> None:
    """Open an async engine and run the migrations through it."""
    engine = create_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Run the migrations against a live database."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async_migrations())
        return
    # upgrade() was called synchronously from inside a running event loop, where
    # asyncio.run() refuses to work: give the migration a private loop on a worker thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        pool.submit(lambda: asyncio.run(run_async_migrations())).result()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
