"""Domain errors raised by a handler become a reply to the admin who asked."""

from __future__ import annotations

import logging

from aiogram.types import ErrorEvent

log = logging.getLogger(__name__)


async def reply_with_error(event: ErrorEvent) -> None:
    message = event.update.message
    log.info("command failed: %s", event.exception)
    if message is not None:
        await message.answer(f"⚠️ {event.exception}", parse_mode=None)
