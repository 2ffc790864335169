"""The suite's migrated stores (tests/db.py): each test's copy is as fresh as a new one, also
when it is a PostgreSQL database another test had before and left changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from pipeline.store import revision
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import Base, Channel, Lock, Post
from tests.db import Templates


async def _use(url: str) -> None:
    """What tests do to a store: rows in most tables, ids taken, the lock counters moved."""
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            for n in range(3):
                channel = Channel(title=f"Channel {n}", username=f"channel{n}")
                session.add(channel)
                await session.flush()
                session.add(
                    Post(
                        text=f"post {n}",
                        entities=[],
                        media=[],
                        channel_id=channel.id,
                        date=datetime(2026, 1, 1, tzinfo=UTC),
                    )
                )
            await session.execute(update(Lock).values(counter=Lock.counter + 7))
    finally:
        await engine.dispose()


async def _state(url: str) -> tuple[dict[str, int], list[tuple[str, int]], str | None, int]:
    """Rows per table, the lock rows, the revision, and the id a new channel gets."""
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            counts = {
                name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in Base.metadata.tables.items()
            }
            locks = [(lock.name, lock.counter) for lock in await session.scalars(select(Lock))]
            version = await session.scalar(text("SELECT version_num FROM alembic_version"))
            channel = Channel(title="New", username="new")
            session.add(channel)
            await session.flush()
            return counts, sorted(locks), version, channel.id
    finally:
        await engine.dispose()


# A store just migrated to head: no rows but the two lock counters at 0 and the revision;
# the first channel gets id 1.
FRESH = (
    {name: 2 if name == "locks" else 0 for name in Base.metadata.tables},
    [("dispatch", 0), ("reactions", 0)],
    revision.HEAD,
    1,
)


def test_a_used_store_given_again_is_as_fresh_as_a_new_one(
    backend: str, templates: Templates, tmp_path: Path
) -> None:
    for n in range(3):
        folder = tmp_path / str(n)
        folder.mkdir()
        with templates.copy(backend, folder) as url:
            assert asyncio.run(_state(url)) == FRESH
            asyncio.run(_use(url))


def test_a_session_left_open_does_not_keep_its_rows(
    backend: str, templates: Templates, tmp_path: Path
) -> None:
    loop = asyncio.new_event_loop()
    connection: AsyncConnection | None = None
    try:
        first = tmp_path / "first"
        first.mkdir()
        with templates.copy(backend, first) as url:
            engine = create_engine(url, poolclass=NullPool)
            # A transaction still open when the test ends: its locks must not block the next
            # test's store, and what it wrote is not there.
            connection = loop.run_until_complete(engine.connect())
            loop.run_until_complete(connection.execute(update(Lock).values(counter=99)))
        second = tmp_path / "second"
        second.mkdir()
        with templates.copy(backend, second) as url:
            assert asyncio.run(_state(url)) == FRESH
    finally:
        if connection is not None:
            loop.run_until_complete(connection.invalidate())
            loop.run_until_complete(connection.close())
        loop.close()


def test_a_store_whose_schema_was_changed_is_not_given_again(
    backend: str, templates: Templates, tmp_path: Path
) -> None:
    async def alter(url: str) -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("ALTER TABLE channels ADD COLUMN extra INTEGER"))
        finally:
            await engine.dispose()

    async def columns(url: str) -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(
                    lambda sync: inspect(sync).get_columns("channels")
                )
                return {column["name"] for column in found}
        finally:
            await engine.dispose()

    for n in range(2):
        folder = tmp_path / str(n)
        folder.mkdir()
        with templates.copy(backend, folder) as url:
            assert "extra" not in asyncio.run(columns(url))
            asyncio.run(alter(url))
