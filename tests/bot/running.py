"""`tgpipe run` in the test's event loop: the real bot polling the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.app import run_bot
from config.settings import Settings
from tests.fake_telegram.server import FakeTelegram


@contextlib.asynccontextmanager
async def bot_running(
    fake: FakeTelegram, database_url: str, admin_ids: set[int], **settings: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """`run_bot` on ``database_url`` until the block ends; it is polling when the block
    starts. ``settings``: any other setting."""
    task = asyncio.create_task(
        run_bot(
            Settings(
                database_url=database_url,
                bot_token=fake.token,
                api_base=fake.base_url,
                admin_ids=frozenset(admin_ids),
                **settings,
            ),
            handle_signals=False,
        )
    )
    try:
        await fake.wait_for("getUpdates")
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
