"""Domain errors raised by a handler become a reply to the admin who asked."""

from __future__ import annotations

import logging

from aiogram.types import ErrorEvent

log = logging.getLogger(__name__)

# Telegram shows a button's answer in a small alert; longer texts are cut there.
_ALERT_LIMIT = 200


async def reply_with_error(event: ErrorEvent) -> None:
    log.info("command failed: %s", event.exception)
    text = f"⚠️ {event.exception}"
    if (message := event.update.message) is not None:
        await message.answer(text, parse_mode=None)
    elif (query := event.update.callback_query) is not None:
        await query.answer(text[:_ALERT_LIMIT], show_alert=True)
