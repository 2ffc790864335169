"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL runs when ``TGPIPE_TEST_DATABASE_URL`` is set (CI sets it); every test gets its own
database created from that server, so tests never see each other's rows.

A test that wants a store already migrated to head gets a copy of a template: the real alembic
revisions run once per test session (per xdist worker) into a template database, and each test
gets ``CREATE DATABASE ... TEMPLATE`` of it (PostgreSQL) or a copy of the file (SQLite).  The
tests under tests/migrations/ still run every revision from scratch on an empty database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from config.settings import normalise_database_url
from pipeline.store import migrate
from pipeline.store.db import create_engine

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


def _server_url() -> str:
    return normalise_database_url(os.environ[PG_URL_ENV])


def _on_server(name: str) -> str:
    return make_url(_server_url()).set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database on the test server (empty, or a copy of ``template``);
    dropped afterwards."""
    base = _server_url()
    name = f"tgpipe_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield _on_server(name)
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


async def _upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


class Templates:
    """Databases migrated to head once, copied for each test that wants a migrated store.

    Each is made on first use; :meth:`close` drops the PostgreSQL one.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            asyncio.run(_upgrade(f"sqlite+aiosqlite:///{path}"))
            # Every connection is closed: the WAL is checkpointed into the file and removed.
            assert not path.with_name(path.name + "-wal").exists()
            self._sqlite = path
        return self._sqlite

    def _postgres_template(self) -> str:
        if self._postgres is None:
            name = f"tgpipe_template_{uuid.uuid4().hex[:12]}"
            asyncio.run(_admin(_server_url(), f'CREATE DATABASE "{name}"'))
            self._postgres = name  # dropped by close() even if the migration fails
            asyncio.run(_upgrade(_on_server(name)))
        return self._postgres

    @contextmanager
    def copy(self, backend: str, directory: Path) -> Iterator[str]:
        """A database of ``backend`` at the newest revision, private to the caller."""
        if backend == "sqlite":
            path = directory / "tgpipe.db"
            shutil.copyfile(self._sqlite_template(), path)
            yield f"sqlite+aiosqlite:///{path}"
        else:
            with postgres_database(template=self._postgres_template()) as url:
                yield url

    def close(self) -> None:
        if self._postgres is not None:
            name, self._postgres = self._postgres, None
            asyncio.run(_admin(_server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
