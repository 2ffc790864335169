"""Dispatcher middlewares."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from pipeline.store.db import SessionFactory, unit_of_work

log = logging.getLogger(__name__)


class DbSessionMiddleware(BaseMiddleware):
    """One database session per update, committed when the handler returns normally.

    Handlers receive it as ``session``; they add and flush, never commit.
    """

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with unit_of_work(self._factory) as session:
            data["session"] = session
            return await handler(event, data)


class InFlightUpdates(BaseMiddleware):
    """Tracks updates being handled, so shutdown lets them finish instead of cutting them off.

    aiogram handles each update in its own task and does not wait for those on stop; a
    SIGTERM in the middle of a command would otherwise drop its reply or its database work.
    """

    def __init__(self, grace_seconds: float = 10.0) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._grace = grace_seconds

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            return await handler(event, data)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def drain(self) -> None:
        pending = {task for task in self._tasks if task is not asyncio.current_task()}
        if pending:
            log.info("waiting for %d update(s) in progress", len(pending))
            _, late = await asyncio.wait(pending, timeout=self._grace)
            for task in late:
                task.cancel()
