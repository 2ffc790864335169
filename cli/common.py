"""What every command shares: settings from the context, opening the store, output.

Start-up stays under a second: the settings (pydantic), the store (SQLAlchemy, alembic) and
rich are imported by the commands that use them, not with this module, which every command
imports — `tgpipe --help` needs none of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperGroup

if TYPE_CHECKING:
    from rich.console import Console

    from config.settings import Settings
    from pipeline.sources.fetch import Fetcher
    from pipeline.store.db import SessionFactory

T = TypeVar("T")


@cache
def console() -> Console:
    """The rich console of the commands' human output (made on first use). Off a terminal
    it never wraps: a line written to a file or a pipe is the whole line, not 80 columns of
    it (rich also leaves out colour there, and wherever NO_COLOR is set)."""
    from rich.console import Console

    return Console(soft_wrap=not sys.stdout.isatty())


class _PlainArgument(TyperArgument):
    """An argument as a manual writes it: its metavar alone (typer adds ``<list[Path]>``),
    in brackets when optional, ``...`` when it takes several."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return f"{name}..." if self.nargs != 1 else name


class PlainHelp(TyperGroup):
    """The root command: every command's arguments under it written as :class:`_PlainArgument`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pending: list[Any] = [self]
        while pending:
            command = pending.pop()
            pending.extend(getattr(command, "commands", {}).values())
            for param in command.params:
                if type(param) is TyperArgument:
                    param.__class__ = _PlainArgument


def group(help: str) -> typer.Typer:
    """A command group, its help plain text like the root command's (cli/main.py)."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def at_least(low: int, high: int | None = None) -> Callable[[int | None], int | None]:
    """A check of an integer option, said in words on error (typer's own range check would
    also print ``[x>=1]`` into every --help)."""

    def check(value: int | None) -> int | None:
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise typer.BadParameter(f"{value} is not {bound}")
        return value

    return check


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root command built from the environment."""
    from config.settings import Settings

    root = ctx.find_root()
    assert isinstance(root.obj, Settings), "the root callback builds the settings"
    return root.obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@asynccontextmanager
async def open_fetcher(settings: Settings) -> AsyncIterator[Fetcher]:
    """The command's fetcher of live sources; with TGPIPE_REDIS_URL its turns per host are
    shared with every other tgpipe process (pipeline/sources/shared_pace.py)."""
    from pipeline.sources.fetch import Fetcher

    if settings.redis_url is None:
        async with Fetcher(settings.fetch_options()) as fetcher:
            yield fetcher
        return
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from pipeline.errors import ConfigError
    from pipeline.sources.shared_pace import RedisHostPacer

    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        try:
            await redis.ping()
        except (RedisError, OSError) as error:
            raise ConfigError(f"cannot reach Redis at TGPIPE_REDIS_URL: {error}") from None
        pacer = RedisHostPacer(redis, settings.fetch_interval)
        async with Fetcher(settings.fetch_options(), pacer=pacer) as fetcher:
            yield fetcher
    finally:
        await redis.aclose()


@asynccontextmanager
async def open_store(
    settings: Settings, *, read_only: bool = False
) -> AsyncIterator[SessionFactory]:
    """A session factory on a store at the newest revision (SQLite upgrades itself).

    ``read_only``: a command that only reads, which answers as for an empty store, without
    creating the embedded store's file, when there is none (a typo in a path, a command
    run in the wrong folder, must not leave a tgpipe.db behind)."""
    from pipeline.store.db import (
        create_engine,
        create_reading_engine,
        create_session_factory,
        unwritable,
    )
    from pipeline.store.revision import is_at_head

    stored = settings.sqlite_file
    if read_only and stored is not None and not stored.exists():
        from sqlalchemy.pool import StaticPool

        # One connection, so the schema migrated into memory is the one the command reads.
        engine = create_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    elif read_only and stored is not None and unwritable(stored):
        engine = create_reading_engine(stored)  # a read-only disk: reading still works
    else:
        engine = create_engine(settings.database_url)
    try:
        if not await is_at_head(engine):
            # alembic only when the store is to be created, upgraded or refused.
            from pipeline.store import migrate

            await migrate.ensure_current(engine, auto_upgrade=engine.dialect.name == "sqlite")
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def print_error(message: str) -> None:
    """One plain line on stderr: no wrapping, no markup, easy to grep in a cron log."""
    sys.stderr.write(message.replace("\n", " ") + "\n")


def print_json(data: Any) -> None:
    """JSON for other tools: UTF-8, unescaped, one document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    footer: str = "",
    *,
    title: str = "",
    right: Sequence[str] = (),
    wrap: str | None = None,
) -> None:
    """A table: aligned with rich on a terminal; off a terminal (a pipe, a file, cron's
    mail) plain tab-separated lines at their full width, with a header line, and the
    ``footer`` on stderr, out of the way of whatever reads the rows. ``right``: the
    columns aligned right on a terminal (numbers); ``wrap``: the one column folded to fit
    the terminal, the others kept whole (by default every column may fold)."""
    cells = [["—" if value is None else str(value) for value in row] for row in rows]
    if not sys.stdout.isatty():
        sys.stdout.write("\t".join(columns) + "\n")
        for row in cells:
            sys.stdout.write("\t".join(cell.replace("\t", " ") for cell in row) + "\n")
        if footer:
            sys.stderr.write(footer + "\n")
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title or None)
    for column in columns:
        table.add_column(
            column,
            overflow="fold",
            no_wrap=wrap is not None and column != wrap,
            justify="right" if column in right else "left",
        )
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)
    if footer:
        console().print(Text(footer))


def print_line(message: str) -> None:
    """One plain line on stdout (never wrapped or marked up)."""
    sys.stdout.write(message + "\n")
