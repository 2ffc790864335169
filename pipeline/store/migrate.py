"""Running alembic from tgpipe: upgrade, downgrade, and 'is this store current?'."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from pipeline.errors import StoreError
from pipeline.store.revision import cannot_open
from pipeline.store.revision import describe as describe  # re-exported

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    """An alembic config pointing at tgpipe's migrations, whatever the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.attributes["url"] = url
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def _run(engine: AsyncEngine, action: str, target: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, target)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision_checked(engine: AsyncEngine) -> str | None:
    """Like :func:`current_revision`, with an unreachable database as a :class:`StoreError`."""
    try:
        return await current_revision(engine)
    except (OSError, DBAPIError) as exc:
        raise cannot_open(engine, exc) from None


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    await _run(engine, "upgrade", target)


async def downgrade(engine: AsyncEngine, target: str = "base") -> None:
    await _run(engine, "downgrade", target)


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()


async def ensure_current(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """Make sure the store is at the newest revision before tgpipe uses it.

    The embedded SQLite store upgrades itself, so a new user never runs a migration by hand;
    a server database is migrated deliberately with ``tgpipe db upgrade``.
    """
    current = await current_revision_checked(engine)
    head = head_revision()
    if current == head:
        return
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if current is not None and current not in known:
        raise StoreError(
            f"the database {describe(engine)} is at revision {current}, which this version of "
            "tgpipe does not know (was it written by a newer tgpipe?)"
        )
    if not auto_upgrade:
        state = "empty" if current is None else f"at revision {current}"
        raise StoreError(
            f"the database {describe(engine)} is {state}, tgpipe needs revision {head}: "
            "run `tgpipe db upgrade`"
        )
    log.info("upgrading %s from %s to %s", describe(engine), current or "empty", head)
    await upgrade(engine)
