"""The alembic revisions, run for real on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from pipeline.store import migrate, revision
from pipeline.store.db import create_engine
from pipeline.store.models import Base


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.is_current(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)

        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()

        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


def test_head_is_known_without_alembic() -> None:
    # Adding a revision: set pipeline.store.revision.HEAD to it.
    assert migrate.head_revision() == revision.HEAD


async def test_is_at_head_only_at_head(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert not await revision.is_at_head(engine)  # empty: no version table
        await migrate.upgrade(engine, "0002")
        assert not await revision.is_at_head(engine)
        await migrate.upgrade(engine)
        assert await revision.is_at_head(engine)
    finally:
        await engine.dispose()


async def test_models_match_migrations(engine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_keys_survive_losing_their_foreign_key(database_url: str) -> None:
    # 0004 drops post_keys' foreign key; SQLite can only do that by copying the table.
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0003")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO posts (id, text, entities, media, status, created_at, updated_at)"
                    " VALUES (7, 'x', '[]', '[]', 'draft', :t, :t)"
                ),
                {"t": datetime(2026, 12, 3, tzinfo=UTC)},
            )
            await connection.execute(text("INSERT INTO post_keys VALUES (5, 7), (-3, 7)"))
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT key, post_id FROM post_keys ORDER BY key"))
            assert rows.all() == [(-3, 7), (5, 7)]
            assert (
                await connection.run_sync(lambda sync: inspect(sync).get_foreign_keys("post_keys"))
                == []
            )
            if engine.dialect.name == "sqlite":
                sql = await connection.scalar(
                    text("SELECT sql FROM sqlite_master WHERE name = 'post_keys'")
                )
                assert "WITHOUT ROWID" in sql
        await migrate.downgrade(engine, "0003")
        async with engine.connect() as connection:
            keys = await connection.run_sync(
                lambda sync: inspect(sync).get_foreign_keys("post_keys")
            )
            assert [key["referred_table"] for key in keys] == ["posts"]
            assert (await connection.execute(text("SELECT count(*) FROM post_keys"))).scalar() == 2
    finally:
        await engine.dispose()
