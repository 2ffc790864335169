"""What every command shares: settings from the context, opening the store, output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from config.settings import Settings
from pipeline.store import migrate
from pipeline.store.db import SessionFactory, create_engine, create_session_factory

T = TypeVar("T")

console = Console()


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root command built from the environment."""
    root = ctx.find_root()
    assert isinstance(root.obj, Settings), "the root callback builds the settings"
    return root.obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[SessionFactory]:
    """A session factory on a store at the newest revision (SQLite upgrades itself)."""
    engine = create_engine(settings.database_url)
    try:
        await migrate.ensure_current(engine, auto_upgrade=settings.is_sqlite)
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def print_error(message: str) -> None:
    """One plain line on stderr: no wrapping, no markup, easy to grep in a cron log."""
    sys.stderr.write(message.replace("\n", " ") + "\n")


def print_json(data: Any) -> None:
    """JSON for other tools: UTF-8, unescaped, one document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]], footer: str = "") -> None:
    """A table: aligned with rich on a terminal; off a terminal (a pipe, a file, cron's
    mail) plain tab-separated lines at their full width, with a header line."""
    cells = [["—" if value is None else str(value) for value in row] for row in rows]
    if not sys.stdout.isatty():
        sys.stdout.write("\t".join(columns) + "\n")
        for row in cells:
            sys.stdout.write("\t".join(cell.replace("\t", " ") for cell in row) + "\n")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    if footer:
        console.print(footer)


def print_line(message: str) -> None:
    """One plain line on stdout (never wrapped or marked up)."""
    sys.stdout.write(message + "\n")
