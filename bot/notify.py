"""Telling the admins: the notices outbox (``pipeline.publish.notices``) sent to each of them."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.handlers.autopost import RuleAction
from bot.handlers.queue import FROM_NOTICE, QueueAction
from pipeline.publish import notices
from pipeline.store.db import SessionFactory, unit_of_work

log = logging.getLogger(__name__)


def buttons_for(key: str) -> InlineKeyboardMarkup | None:
    """What an admin can do about a notice, as buttons (the queue's and the rules' own)."""
    kind, _, rest = key.partition(":")
    ident = rest.split(":", 1)[0]
    if not ident.isdigit():
        return None
    number = int(ident)

    def queue(text: str, action: str) -> InlineKeyboardButton:
        data = QueueAction(action=action, id=number, page=FROM_NOTICE).pack()
        return InlineKeyboardButton(text=text, callback_data=data)

    rows: list[list[InlineKeyboardButton]] = []
    if kind == "unknown":
        rows = [[queue("✔ It was sent", "sent"), queue("↻ Send again", "again")]]
    elif kind in ("missed", "failed"):
        rows = [[queue("🚀 Send now", "now")]]
    elif kind == "autopost-empty":
        data = RuleAction(action="pause", id=number, notice=True).pack()
        rows = [[InlineKeyboardButton(text="⏸ Pause the rule", callback_data=data)]]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


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
                await bot.send_message(
                    admin, notice.text, parse_mode=None, reply_markup=buttons_for(notice.key)
                )
            except TelegramNetworkError:
                return len(sent)  # try again on the next round
            except TelegramAPIError as error:
                # An admin who never started the bot cannot be written to; the others are.
                log.warning("cannot tell admin %d: %s", admin, error.message)
        sent.append(notice.id)
    async with unit_of_work(factory) as session:
        await notices.mark_sent(session, sent)
    return len(sent)
