"""`tgpipe db ...`: the store's schema."""

from __future__ import annotations

import typer

from cli.common import console, group, run, settings_of

app = group("Manage the post store's schema.")


@app.command("upgrade")
def cmd_upgrade(ctx: typer.Context) -> None:
    """Create the store or bring it to the newest schema.

    Safe to run again. SQLite stores upgrade themselves on first use; a PostgreSQL store
    is upgraded only by this command."""
    # alembic and SQLAlchemy are imported in the commands: start-up stays under 1 s.
    from pipeline.store import migrate
    from pipeline.store.db import create_engine

    settings = settings_of(ctx)

    async def upgrade() -> tuple[str | None, str | None]:
        engine = create_engine(settings.database_url)
        try:
            before = await migrate.current_revision_checked(engine)
            await migrate.upgrade(engine)
            return before, await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    before, after = run(upgrade())
    where = settings.database.render_as_string(hide_password=True)
    if before == after:
        console().print(f"{where} is up to date (revision {after})")
    else:
        console().print(f"{where} upgraded from {before or 'empty'} to revision {after}")


@app.command("current")
def cmd_current(ctx: typer.Context) -> None:
    """Show the store's schema revision and the newest one."""
    from pipeline.store import migrate
    from pipeline.store.db import create_engine, create_reading_engine, unwritable

    settings = settings_of(ctx)

    async def current() -> str | None:
        stored = settings.sqlite_file
        if stored is not None and not stored.exists():
            return None  # and no file made to say so
        if stored is not None and unwritable(stored):
            engine = create_reading_engine(stored)
        else:
            engine = create_engine(settings.database_url)
        try:
            return await migrate.current_revision_checked(engine)
        finally:
            await engine.dispose()

    revision = run(current())
    console().print(f"current: {revision or 'empty'}; newest: {migrate.head_revision()}")
