"""Telling the admins: the notices outbox (``pipeline.publish.notices``) sent to each of them."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from pipeline.publish import notices
from pipeline.store.db import SessionFactory, unit_of_work

log = logging.getLogger(__name__)


async def send_notices(bot: Bot, factory: SessionFactory, admin_ids: frozenset[int]) -> int:
    """Send every unsent notice to every admin; the number sent."""
    async with unit_of_work(factory) as session:
        pending = list(await notices.unsent(session))
    sent: list[int] = []
    for notice in pending:
        if not admin_ids:
            log.warning("no TGPIPE_ADMIN_IDS to tell: %s", notice.text)
        for admin in sorted(admin_ids):
            try:
                await bot.send_message(admin, notice.text, parse_mode=None)
            except TelegramNetworkError:
                return len(sent)  # try again on the next round
            except TelegramAPIError as error:
                # An admin who never started the bot cannot be written to; the others are.
                log.warning("cannot tell admin %d: %s", admin, error.message)
        sent.append(notice.id)
    async with unit_of_work(factory) as session:
        await notices.mark_sent(session, sent)
    return len(sent)
