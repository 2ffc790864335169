"""The alembic revisions, run for real on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
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
