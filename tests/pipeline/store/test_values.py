"""Binding many values fast: ``pipeline.store.values.among``, bulk rows, SQLite times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select
from sqlalchemy.dialects import sqlite

from pipeline.store.bulk import BulkInsert
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Post, PostKey, ReactionSnapshot
from pipeline.store.types import UTCDateTime
from pipeline.store.values import among, dialect_name

KEYS = [-(2**31), -7, 0, 1, 2**31 - 1]


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ([], []),
        ([1], [1]),
        ([-7, 2**31 - 1, 12345], [-7, 2**31 - 1]),
        (KEYS, KEYS),
        # Far beyond SQLite's limit on parameters per statement, in one statement.
        (range(-20_000, 20_000), [-7, 0, 1]),
    ],
)
async def test_among(session_factory: SessionFactory, wanted: list[int], found: list[int]) -> None:
    async with unit_of_work(session_factory) as session:
        post = Post(text="keyed")
        session.add(post)
        await session.flush()
        session.add_all(PostKey(key=key, post_id=post.id) for key in KEYS)
    async with session_factory() as session:
        query = select(PostKey.key).where(among(PostKey.key, wanted, dialect_name(session)))
        assert sorted(await session.scalars(query)) == found


async def test_among_big_integers(session_factory: SessionFactory) -> None:
    ids = [-1001234567890, 2**62]
    async with unit_of_work(session_factory) as session:
        session.add_all(Channel(title=str(i), telegram_id=i) for i in ids)
    async with session_factory() as session:
        query = select(Channel.telegram_id).where(
            among(Channel.telegram_id, [*ids, 5], dialect_name(session))
        )
        found = [telegram_id for telegram_id in await session.scalars(query) if telegram_id]
        assert sorted(found) == ids


async def test_bulk_insert_converts_each_time(session_factory: SessionFactory) -> None:
    # The bind memo must never hand one row's converted time to another.
    first, second = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
    times = [first, first, second, second, first]
    async with unit_of_work(session_factory) as session:
        post = Post(text="counted")
        session.add(post)
        await session.flush()
        connection = await session.connection()
        table = cast(Table, ReactionSnapshot.__table__)
        bulk = BulkInsert(table, ("post_id", "reaction", "count", "taken_at"), connection.dialect)
        await bulk.run(connection, [(post.id, "👍", n, t) for n, t in enumerate(times)])
    async with session_factory() as session:
        query = select(ReactionSnapshot.taken_at).order_by(ReactionSnapshot.count)
        assert list(await session.scalars(query)) == times


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        datetime(2024, 3, 31, 3, 30, 0, 7, tzinfo=timezone(timedelta(hours=2))),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
)
def test_sqlite_times_are_written_as_sqlalchemy_writes_them(value: datetime) -> None:
    # Stored times compare as text on SQLite: the fast path must write exactly the old form.
    dialect = sqlite.dialect()
    column = UTCDateTime()
    fast = column.bind_processor(dialect)
    text = sqlite.DATETIME().bind_processor(dialect)  # type: ignore[no-untyped-call]
    assert fast is not None
    assert text is not None
    assert fast(value) == text(column.process_bind_param(value, dialect))
    assert column.dialect_impl(dialect).bind_processor(dialect) is not None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(value.replace(tzinfo=None))
