"""Specification of the storage layer, run on every configured database dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, insert, inspect, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.chats import ChatWithTags, ensure_chat, get_chat, set_active, set_next_digest_at
from storage.db import alembic_config, create_engine, create_sessionmaker, upgrade, upgrade_async
from storage.models import Base, Chat, Delivery, Paper
from storage.search import UNMAPPED_TABLES
from storage.subscriptions import (
    AddResult,
    add_tags,
    count_subscribers,
    list_tags,
    remove_tags,
    toggle_tag,
)
from tests.test_cli import clean_env, run_cli

Sessions = async_sessionmaker[AsyncSession]

CHAT_ID = -1001234567890  # group ids are negative and exceed 32 bits
MOSCOW = dt.timezone(dt.timedelta(hours=3))
EIGHT_AM = dt.time(8, 0)


async def new_chat(sessionmaker: Sessions, chat_id: int = CHAT_ID) -> None:
    async with sessionmaker() as session, session.begin():
        await ensure(session, chat_id)


async def ensure(session: AsyncSession, chat_id: int = CHAT_ID) -> ChatWithTags:
    """The chat with its tags, as every command's unit of work starts."""
    return await ensure_chat(
        session=session,
        chat_id=chat_id,
        chat_type="supergroup",
        language="ru",
        timezone="Europe/Moscow",
        digest_time=EIGHT_AM,
    )


async def tags_of(sessionmaker: Sessions, chat_id: int = CHAT_ID) -> list[str]:
    async with sessionmaker() as session:
        return await list_tags(session=session, chat_id=chat_id)


# --- chats --------------------------------------------------------------------------------


async def test_ensure_chat_creates_a_chat_with_the_given_settings(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)

    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=CHAT_ID)

    assert chat is not None
    assert (chat.type, chat.language, chat.timezone) == ("supergroup", "ru", "Europe/Moscow")
    assert chat.digest_time == EIGHT_AM
    assert chat.active is True
    assert chat.paused is False
    assert chat.next_digest_at is None


async def test_get_chat_returns_none_for_an_unknown_chat(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        assert await get_chat(session=session, chat_id=42) is None


async def test_ensure_chat_does_not_overwrite_settings_and_reactivates(
    sessionmaker: Sessions,
) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await set_active(session=session, chat_id=CHAT_ID, active=False)

    async with sessionmaker() as session, session.begin():
        chat, _ = await ensure_chat(
            session=session,
            chat_id=CHAT_ID,
            chat_type="private",
            language="en",
            timezone="UTC",
            digest_time=dt.time(6, 30),
        )
        assert chat.active is True

    async with sessionmaker() as session:
        stored = await get_chat(session=session, chat_id=CHAT_ID)
    assert stored is not None
    assert (stored.type, stored.language, stored.timezone) == ("supergroup", "ru", "Europe/Moscow")
    assert stored.digest_time == EIGHT_AM
    assert stored.active is True


async def test_concurrent_first_messages_create_the_chat_once(sessionmaker: Sessions) -> None:
    await asyncio.gather(new_chat(sessionmaker), new_chat(sessionmaker))

    async with sessionmaker() as session:
        assert await get_chat(session=session, chat_id=CHAT_ID) is not None


async def test_next_digest_moment_can_be_set_and_cleared(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    when = dt.datetime(2025, 3, 1, 8, 0, tzinfo=MOSCOW)

    async with sessionmaker() as session, session.begin():
        await set_next_digest_at(session=session, chat_id=CHAT_ID, when=when)
    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=CHAT_ID)
        assert chat is not None
        assert chat.next_digest_at == when

    async with sessionmaker() as session, session.begin():
        await set_next_digest_at(session=session, chat_id=CHAT_ID, when=None)
    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=CHAT_ID)
        assert chat is not None
        assert chat.next_digest_at is None


async def test_datetimes_come_back_timezone_aware(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    when = dt.datetime(2025, 3, 1, 8, 0, tzinfo=MOSCOW)
    async with sessionmaker() as session, session.begin():
        await set_next_digest_at(session=session, chat_id=CHAT_ID, when=when)

    async with sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=CHAT_ID)

    assert chat is not None
    assert chat.next_digest_at == when
    assert chat.next_digest_at is not None
    assert chat.next_digest_at.tzinfo == dt.UTC
    assert chat.next_digest_at.hour == 5
    assert chat.created_at.tzinfo == dt.UTC
    assert abs(dt.datetime.now(dt.UTC) - chat.created_at) < dt.timedelta(minutes=1)


async def test_naive_datetimes_are_rejected(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)

    async with sessionmaker() as session:
        with pytest.raises(StatementError, match="naive datetime"):
            await set_next_digest_at(
                session=session, chat_id=CHAT_ID, when=dt.datetime(2025, 3, 1, 8, 0)
            )


async def test_deleting_a_chat_deletes_its_subscriptions(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["llm"], limit=10)

    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Chat).where(Chat.id == CHAT_ID))

    assert await tags_of(sessionmaker) == []


# --- subscriptions ------------------------------------------------------------------------


async def test_a_chat_subscribes_to_three_tags_and_sees_them_listed(
    sessionmaker: Sessions,
) -> None:
    await new_chat(sessionmaker)

    async with sessionmaker() as session, session.begin():
        result = await add_tags(
            session=session, chat_id=CHAT_ID, tags=["rl", "llm", "cv"], limit=10
        )

    assert result == AddResult(added=["rl", "llm", "cv"], already=[], rejected_over_limit=[])
    assert await tags_of(sessionmaker) == ["cv", "llm", "rl"]


async def test_adding_known_and_repeated_tags_reports_them_once(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["llm"], limit=10)

    async with sessionmaker() as session, session.begin():
        result = await add_tags(
            session=session, chat_id=CHAT_ID, tags=["llm", "cv", "cv", "llm"], limit=10
        )

    assert result == AddResult(added=["cv"], already=["llm"], rejected_over_limit=[])
    assert await tags_of(sessionmaker) == ["cv", "llm"]


async def test_subscriptions_are_capped_at_the_limit(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        first = await add_tags(session=session, chat_id=CHAT_ID, tags=["a", "b"], limit=3)
    async with sessionmaker() as session, session.begin():
        second = await add_tags(
            session=session, chat_id=CHAT_ID, tags=["b", "c", "d", "e"], limit=3
        )

    assert first == AddResult(added=["a", "b"], already=[], rejected_over_limit=[])
    assert second == AddResult(added=["c"], already=["b"], rejected_over_limit=["d", "e"])
    assert await tags_of(sessionmaker) == ["a", "b", "c"]


async def test_removing_tags_reports_only_those_that_were_subscribed(
    sessionmaker: Sessions,
) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["a", "b", "c"], limit=10)

    async with sessionmaker() as session, session.begin():
        removed = await remove_tags(session=session, chat_id=CHAT_ID, tags=["c", "x", "a", "c"])

    assert removed == ["c", "a"]
    assert await tags_of(sessionmaker) == ["b"]


async def test_toggle_subscribes_unsubscribes_and_respects_the_limit(
    sessionmaker: Sessions,
) -> None:
    await new_chat(sessionmaker)

    async def toggle(tag: str) -> bool | None:
        async with sessionmaker() as session, session.begin():
            return await toggle_tag(session=session, chat_id=CHAT_ID, tag=tag, limit=1)

    assert await toggle("llm") is True
    assert await toggle("cv") is None
    assert await tags_of(sessionmaker) == ["llm"]
    assert await toggle("llm") is False
    assert await tags_of(sessionmaker) == []


async def test_subscribers_are_counted_per_tag(sessionmaker: Sessions) -> None:
    for chat_id in (1, 2, 3):
        await new_chat(sessionmaker, chat_id)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=1, tags=["llm", "cv"], limit=10)
        await add_tags(session=session, chat_id=2, tags=["llm"], limit=10)

    async with sessionmaker() as session:
        assert await count_subscribers(session=session, tag="llm") == 2
        assert await count_subscribers(session=session, tag="cv") == 1
        assert await count_subscribers(session=session, tag="rl") == 0


async def test_storage_functions_leave_the_commit_to_the_caller(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)

    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["llm"], limit=10)
        await session.rollback()

    assert await tags_of(sessionmaker) == []


async def test_subscriptions_survive_a_new_engine(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        sessions = create_sessionmaker(engine)
        await new_chat(sessions)
        async with sessions() as session, session.begin():
            await add_tags(session=session, chat_id=CHAT_ID, tags=["llm", "cv"], limit=10)
    finally:
        await engine.dispose()

    engine = create_engine(db_url)
    try:
        assert await tags_of(create_sessionmaker(engine)) == ["cv", "llm"]
    finally:
        await engine.dispose()


# As a command does it (the tags ensure_chat read at the start of the unit), or on its own.
@pytest.mark.parametrize("from_ensure_chat", [False, True], ids=["alone", "as-a-command"])
async def test_concurrent_add_tags_neither_fail_nor_exceed_the_limit(
    sessionmaker: Sessions, from_ensure_chat: bool
) -> None:
    await new_chat(sessionmaker)

    async def subscribe(tags: list[str]) -> AddResult:
        async with sessionmaker() as session, session.begin():
            existing = (await ensure(session)).tags if from_ensure_chat else None
            result = await add_tags(
                session=session, chat_id=CHAT_ID, tags=tags, limit=4, existing=existing
            )
            # Keep the transaction open so that the two really overlap.
            await asyncio.sleep(0.05)
            return result

    first, second = await asyncio.gather(subscribe(["a", "b", "c"]), subscribe(["c", "d", "e"]))

    stored = await tags_of(sessionmaker)
    assert len(stored) == 4
    assert sorted(first.added + second.added) == stored
    assert len(first.rejected_over_limit + second.rejected_over_limit) == 1


async def test_ensure_chat_returns_the_chat_with_its_tags_sorted(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["moe", "benchmark"], limit=10)

    async with sessionmaker() as session, session.begin():
        chat, tags = await ensure(session)
        fresh, no_tags = await ensure(session, chat_id=7)

    assert (chat.id, tags) == (CHAT_ID, ["benchmark", "moe"])
    assert (fresh.id, no_tags) == (7, [])


async def test_add_tags_can_start_from_the_tags_ensure_chat_read(sessionmaker: Sessions) -> None:
    await new_chat(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["a"], limit=2)

    async with sessionmaker() as session, session.begin():
        _, tags = await ensure(session)
        result = await add_tags(
            session=session, chat_id=CHAT_ID, tags=["a", "b", "c"], limit=2, existing=tags
        )

    assert result == AddResult(added=["b"], already=["a"], rejected_over_limit=["c"])
    assert await tags_of(sessionmaker) == ["a", "b"]


async def test_a_unit_of_work_that_fails_midway_leaves_nothing_behind(
    sessionmaker: Sessions,
) -> None:
    await new_chat(sessionmaker)
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, session.begin():
            await add_tags(session=session, chat_id=CHAT_ID, tags=["llm"], limit=10)
            raise RuntimeError("the handler crashed")

    # The next unit gets a connection with no transaction left open.
    async with sessionmaker() as session, session.begin():
        await add_tags(session=session, chat_id=CHAT_ID, tags=["cv"], limit=10)
    assert await tags_of(sessionmaker) == ["cv"]


# --- schema and engine --------------------------------------------------------------------


async def test_migrations_match_the_models(db_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        # The search index is shaped per dialect (FTS5 or tsvector), outside the ORM metadata.
        def include_name(name: str | None, type_: str, parent_names: object) -> bool:
            return not (type_ == "table" and name in UNMAPPED_TABLES)

        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_migrations_downgrade_to_base_and_upgrade_again(empty_db_url: str) -> None:
    def table_names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    config = alembic_config(empty_db_url)
    await upgrade_async(empty_db_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await upgrade_async(empty_db_url)
    await upgrade_async(empty_db_url)

    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(table_names)
    finally:
        await engine.dispose()
    expected = {"chats", "subscriptions", "papers", "paper_tags", "deliveries", "digest_runs"}
    assert expected <= names


async def test_replicas_starting_together_migrate_the_database_once(
    empty_db_url: str, tmp_path: Path
) -> None:
    if empty_db_url.startswith("sqlite"):
        pytest.skip("several replicas need PostgreSQL; SQLite is the single-process default")

    # Every replica upgrades as it starts; one migrates, the others wait and find it done.
    env = clean_env(DATABASE_URL=empty_db_url)
    results = await asyncio.gather(
        *(run_cli("db", "upgrade", cwd=tmp_path, env=env) for _ in range(3))
    )
    assert [(code, err) for code, _, err in results if code != 0] == []

    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as connection:
            versions = (await connection.exec_driver_sql("SELECT * FROM alembic_version")).all()
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(empty_db_url)).get_current_head()
    assert [tuple(row) for row in versions] == [(head,)]


async def test_upgrade_works_when_called_synchronously_inside_a_running_loop(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url)

    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(Chat.id)) is None
    finally:
        await engine.dispose()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()

    assert path.exists()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,  # NORMAL
    }


async def test_upgrading_counts_past_deliveries_as_having_shown_their_papers_code(
    empty_db_url: str,
) -> None:
    # Nothing old is announced as «Код появился» after the upgrade that records code links.
    await asyncio.to_thread(command.upgrade, alembic_config(empty_db_url), "0006")
    now = dt.datetime(2024, 12, 20, 6, 0, tzinfo=dt.UTC)
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Chat).values(
                    id=1,
                    type="private",
                    language="ru",
                    timezone="UTC",
                    digest_time=dt.time(9, 0),
                    created_at=now,
                )
            )
            for paper_id, code_url in (
                ("2412.00001", "https://github.com/o/r"),
                ("2412.00002", None),
            ):
                await connection.execute(
                    insert(Paper).values(
                        id=paper_id,
                        title="A paper",
                        abstract="An abstract.",
                        authors=["A. Author"],
                        listed_on=now.date(),
                        source="hf",
                        url=f"https://huggingface.co/papers/{paper_id}",
                        code_url=code_url,
                        ingested_at=now,
                        updated_at=now,
                    )
                )
                await connection.execute(
                    insert(Delivery).values(chat_id=1, paper_id=paper_id, delivered_at=now)
                )
        await upgrade_async(empty_db_url)
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Delivery.paper_id, Delivery.code_url_sent).order_by(Delivery.paper_id)
            )
            assert [tuple(row) for row in rows] == [
                ("2412.00001", "https://github.com/o/r"),
                ("2412.00002", None),
            ]
    finally:
        await engine.dispose()
