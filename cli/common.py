"""What every command shares: settings from the context, opening the store, output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console

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
