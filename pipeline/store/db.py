"""Engines, sessions and the unit of work.

``unit_of_work`` is the one place that commits: code inside it adds and flushes, and either
everything in the block is committed or nothing is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the bot read while an import writes;
    # busy_timeout makes a second process (cron `tgpipe dispatch`) wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 24 MiB: imports update several large indexes, but the whole import (both processes)
    # stays under 300 MB; with the dedup keys written in sorted runs 32 MiB was no faster.
    cursor.execute("PRAGMA cache_size=-24576")
    # No memory map (SQLite's default): mapped pages count in the RSS of every reader, so a
    # 4 GB map made an import into a million-post store 1.4 GB, and an import measured no
    # faster with one than through the page cache.
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``)."""
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def unwritable(path: Path) -> str | None:
    """Why the SQLite store at ``path`` (or its folder, where SQLite keeps its -wal and -shm
    files) cannot be written, in words; None when it can."""
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    for place in (path, folder):
        if place.exists() and not os.access(place, os.W_OK):
            return f"this user may not write {place}"
    return None


def create_reading_engine(path: Path) -> AsyncEngine:
    """An engine that only reads the SQLite store at ``path``, for a store tgpipe may not
    write (:func:`unwritable`). On a read-only file system nothing can change the file,
    so SQLite is told it is immutable: it then needs no -shm file, which it could not make."""
    read_only = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    query = "mode=ro&immutable=1" if read_only else "mode=ro"
    return create_async_engine(f"sqlite+aiosqlite:///file:{quote(str(path))}?{query}&uri=true")


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: objects stay readable after the unit of work ends.
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed at the end of the block, or rolled back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
