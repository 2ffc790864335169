"""Dispatcher middlewares."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, TelegramObject, User

from bot.shared import FloodBook, LocalFloodBook
from pipeline.store.db import SessionFactory, unit_of_work

log = logging.getLogger(__name__)

# What a handler leaves to be done once its unit of work is committed.
AfterCommit = list[Callable[[], object]]


class DbSessionMiddleware(BaseMiddleware):
    """One database session per update, committed when the handler returns normally.

    Handlers receive it as ``session``; they add and flush, never commit. What must happen
    only once their work is committed — telling the admin it is done, waking the courier for
    a publication due now — they append to ``after_commit`` (plain or async callables).
    """

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        committed: AfterCommit = []
        async with unit_of_work(self._factory) as session:
            data["session"] = session
            data["after_commit"] = committed
            result = await handler(event, data)
        for callback in committed:
            if inspect.isawaitable(outcome := callback()):
                await outcome
        return result


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


def from_a_person_in_private(event: TelegramObject) -> bool:
    """A message in a private chat, or a button pressed: what people ask the bot."""
    if isinstance(event, Message):
        return event.chat.type == ChatType.PRIVATE
    return isinstance(event, CallbackQuery)


class Throttle(BaseMiddleware):
    """At most ``limit`` commands (messages, button presses) per person per ``window``
    seconds; past that they are dropped, and the person is told once per flood. The count
    is kept in ``book``: this process's memory, or Redis shared by several instances."""

    TEXT = "⏳ Too many requests at once: wait a few seconds, then try again."

    def __init__(
        self,
        limit: int = 10,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        book: FloodBook | None = None,
    ) -> None:
        self._limit = limit
        self._window = window
        self._book = book or LocalFloodBook(clock)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not from_a_person_in_private(event):
            return await handler(event, data)
        verdict = await self._book.hit(user.id, self._limit, self._window)
        if verdict.allowed:
            return await handler(event, data)
        if verdict.tell:
            log.info("throttling user %d", user.id)
            await self._tell(event)
        return None

    async def _tell(self, event: TelegramObject) -> None:
        if isinstance(event, Message):
            await event.answer(self.TEXT, parse_mode=None)
        elif isinstance(event, CallbackQuery):
            await event.answer(self.TEXT)
