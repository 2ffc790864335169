"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL runs when ``TGPIPE_TEST_DATABASE_URL`` is set (CI sets it); every test gets its own
database created from that server, so tests never see each other's rows.

A test that wants a store already migrated to head gets a copy of a template: the real alembic
revisions run once per test session (per xdist worker) into a template database, and each test
gets a copy of the file (SQLite) or a database of its own made with ``CREATE DATABASE ...
TEMPLATE`` (PostgreSQL).  The tests under tests/migrations/ still run every revision from scratch
on an empty database.

A PostgreSQL copy is not dropped when its test ends but put back to the template's state and
handed to the session's next test: every ``DROP DATABASE`` forces a checkpoint of the whole
server and every ``CREATE DATABASE`` writes the template's 7 MB of catalogs to the WAL, which
with three workers (and anything else on the server) cost a PostgreSQL test about a second of
set-up and tear-down.  Putting back leaves nothing a test could tell from a new copy: what is
still connected is cut off, the schema is compared with the template's (a test that changed it
loses its database: it is dropped), every row is deleted, the template's rows (the revision, the
lock counters) are written again and every sequence is set as the template has it.
tests/test_db.py checks this.
"""

from __future__ import annotations

import asyncio
import graphlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


# Everything in the schemas of a database that a test could change with DDL, as text: two
# databases with the same text have the same tables, columns, defaults, keys, indexes, views,
# sequences, types, functions and triggers.
_SCHEMA_SQL = """
WITH spaces AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
)
SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
    SELECT 'schema ' || nspname AS line FROM spaces
    UNION ALL
    SELECT format('relation %s %s %s', c.oid::regclass, c.relkind,
                  coalesce(pg_get_viewdef(c.oid), ''))
    FROM pg_class c JOIN spaces s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('column %s %s %s %s %s', a.attrelid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  coalesce(pg_get_expr(d.adbin, d.adrelid), ''))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN spaces s ON s.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s %s %s', k.conrelid::regclass, k.conname,
                  pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN spaces s ON s.oid = k.connamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN spaces s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('sequence %s %s %s %s %s', q.seqrelid::regclass, q.seqtypid::regtype,
                  q.seqstart, q.seqincrement, q.seqcycle)
    FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid JOIN spaces s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('type %s %s', t.oid::regtype, t.typtype)
    FROM pg_type t JOIN spaces s ON s.oid = t.typnamespace
    UNION ALL
    SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel)
    FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN spaces s ON s.oid = t.typnamespace
    UNION ALL
    SELECT format('function %s %s', p.oid::regprocedure, md5(p.prosrc))
    FROM pg_proc p JOIN spaces s ON s.oid = p.pronamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(g.oid) FROM pg_trigger g WHERE NOT g.tgisinternal
    UNION ALL
    SELECT 'extension ' || extname FROM pg_extension
) AS everything
"""
_TABLES_SQL = """
SELECT schemaname, tablename FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2
"""
_FOREIGN_KEYS_SQL = """
SELECT k.conrelid::regclass::text, k.confrelid::regclass::text
FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid <> k.confrelid
"""
_SEQUENCES_SQL = """
SELECT format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value),
       last_value IS NOT NULL
FROM pg_sequences ORDER BY 1
"""
_SET_SEQUENCES_SQL = """
SELECT setval(name, value, called)
FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS s(name, value, called)
"""


def _quoted(*names: str) -> str:
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


@dataclass(frozen=True)
class _Snapshot:
    """What a PostgreSQL database at the template's state holds: its schema (as text), the
    rows of its tables, the state of its sequences."""

    schema: str
    rows: dict[tuple[str, str], tuple[list[str], list[asyncpg.Record]]]  # (schema, table)
    sequences: tuple[list[str], list[int], list[bool]]  # names, values, nextval() called yet
    emptying: str  # the statements that delete every row, referencing tables first

    @classmethod
    async def take(cls, url: str) -> _Snapshot:
        connection = await asyncpg.connect(_dsn(url))
        try:
            schema = await connection.fetchval(_SCHEMA_SQL)
            rows = {}
            for space, table in await connection.fetch(_TABLES_SQL):
                query = await connection.prepare(f"SELECT * FROM {_quoted(space, table)}")
                columns = [attribute.name for attribute in query.get_attributes()]
                rows[space, table] = (columns, list(await query.fetch()))
            keys = await connection.fetch(_FOREIGN_KEYS_SQL)
            regclass = {
                table: await connection.fetchval("SELECT $1::regclass::text", _quoted(*table))
                for table in rows
            }
            found = await connection.fetch(_SEQUENCES_SQL)
        finally:
            await connection.close()
        # DELETE, not TRUNCATE: truncating makes new files for every table and index, 0.1 s
        # on a quiet machine and half a second with the suite's workers on it.
        order = graphlib.TopologicalSorter[str]({name: set() for name in regclass.values()})
        for referencing, referenced in keys:
            order.add(referenced, referencing)  # the rows that point at others go first
        emptying = "; ".join(f"DELETE FROM {table}" for table in order.static_order())
        sequences = ([r[0] for r in found], [r[1] for r in found], [r[2] for r in found])
        return cls(schema, rows, sequences, emptying)

    async def restore(self, url: str) -> bool:
        """Put the database at ``url`` back to this state; False if its schema differs (it
        cannot be put back: the caller drops it)."""
        connection = await asyncpg.connect(_dsn(url))
        try:
            # What the test left connected (a killed child's session, an engine never
            # disposed) goes, as it would with DROP DATABASE ... WITH (FORCE).
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if await connection.fetchval(_SCHEMA_SQL) != self.schema:
                return False
            async with connection.transaction():
                # A terminated session may take a moment to let go of its locks.
                await connection.execute("SET LOCAL lock_timeout = '10s'")
                await connection.execute(self.emptying)
                for (space, table), (columns, records) in self.rows.items():
                    if records:
                        await connection.copy_records_to_table(
                            table, schema_name=space, columns=columns, records=records
                        )
                await connection.execute(_SET_SEQUENCES_SQL, *self.sequences)
        except (asyncpg.PostgresError, OSError):
            return False
        finally:
            await connection.close()
        return True


class Templates:
    """Databases migrated to head once, copied for each test that wants a migrated store.

    Each is made on first use; :meth:`close` drops the PostgreSQL ones (the template and the
    copies kept for the next tests).
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._snapshot: _Snapshot | None = None
        self._spare: list[str] = []  # copies at the template's state, for the next tests

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
            self._snapshot = asyncio.run(_Snapshot.take(_on_server(name)))
        return self._postgres

    def _postgres_copy(self) -> str:
        if self._spare:
            return self._spare.pop()
        template = self._postgres_template()
        name = f"tgpipe_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(_server_url(), f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def _postgres_done(self, name: str) -> None:
        assert self._snapshot is not None
        if asyncio.run(self._snapshot.restore(_on_server(name))):
            self._spare.append(name)
        else:
            asyncio.run(_admin(_server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @contextmanager
    def copy(self, backend: str, directory: Path) -> Iterator[str]:
        """A database of ``backend`` at the newest revision, private to the caller."""
        if backend == "sqlite":
            path = directory / "tgpipe.db"
            shutil.copyfile(self._sqlite_template(), path)
            yield f"sqlite+aiosqlite:///{path}"
        else:
            name = self._postgres_copy()
            try:
                yield _on_server(name)
            finally:
                self._postgres_done(name)

    def close(self) -> None:
        names = [*self._spare, *([self._postgres] if self._postgres else [])]
        self._spare, self._postgres = [], None

        async def drop_all() -> None:
            # Together: each DROP DATABASE waits for a checkpoint, and checkpoints asked for at
            # the same time are one checkpoint.
            drops = (
                _admin(_server_url(), f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)') for n in names
            )
            await asyncio.gather(*drops)

        asyncio.run(drop_all())
