"""Is a store at the schema revision this tgpipe needs? Answered without alembic.

Every command that opens the store asks, and importing alembic to answer costs more than the
rest of `tgpipe posts list`. A store at :data:`HEAD` is used as it is; any other answer (an
empty store, an older or newer revision, a version table that cannot be read) goes to
:func:`pipeline.store.migrate.ensure_current`, which decides with alembic.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.errors import StoreError

# The newest revision in migrations/versions (tests/migrations checks that it is).
HEAD = "0012"
# Where alembic records a store's revision (its default name, which migrations/env.py keeps).
_VERSION_TABLE = "alembic_version"


async def is_at_head(engine: AsyncEngine) -> bool:
    """Whether the store is at :data:`HEAD`; an unreachable database is a StoreError."""
    try:
        connection = await engine.connect()
    except (OSError, DBAPIError) as exc:
        raise cannot_open(engine, exc) from None
    try:
        result = await connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}"))
        return list(result.scalars()) == [HEAD]
    except (OSError, DBAPIError):
        return False  # no version table yet, or a store alembic has to look at
    finally:
        await connection.close()


def cannot_open(engine: AsyncEngine, exc: BaseException) -> StoreError:
    reason = _reason(exc)
    if engine.dialect.name == "sqlite" and engine.url.database:
        from pathlib import Path

        from pipeline.store.db import unwritable

        # SQLite's own words ("unable to open database file") do not say why.
        reason = unwritable(Path(engine.url.database)) or reason
    return StoreError(f"cannot open the database {describe(engine)}: {reason}")


def describe(engine: AsyncEngine) -> str:
    """The engine's URL as it may be shown to a user (no password)."""
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
