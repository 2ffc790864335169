"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL runs when ``TGPIPE_TEST_DATABASE_URL`` is set (CI sets it); every test gets its own
database created from that server, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from config.settings import normalise_database_url

PG_URL_ENV = "TGPIPE_TEST_DATABASE_URL"


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_ENV) else ["sqlite"]


def _dsn(url: str) -> str:
    # asyncpg speaks plain postgresql:// URLs.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(base_url: str, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(base_url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    base = normalise_database_url(os.environ[PG_URL_ENV])
    name = f"tgpipe_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    """An empty database of ``backend`` ('sqlite' or 'postgresql'), as an async URL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'tgpipe.db'}"
    else:
        with postgres_database() as url:
            yield url
