"""What nothing else answered: strangers are told the bot is private, admins get a hint."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, User

from bot.filters import HasAccess
from pipeline.access import Access

log = logging.getLogger(__name__)


async def cmd_unknown(message: Message) -> None:
    await message.answer("Unknown command. Send /help for the list.")


async def cmd_refuse(message: Message, event_from_user: User | None = None) -> None:
    user_id = event_from_user.id if event_from_user else None
    log.info("refused a message from user %s in chat %s", user_id, message.chat.id)
    await message.answer(
        "This bot is private: only the admins of its channels can use it.\n"
        f"(Your Telegram user id is {user_id}; an admin can add it to TGPIPE_ADMIN_IDS.)"
    )


async def cmd_refuse_button(query: CallbackQuery, access: Access | None = None) -> None:
    if access is not None and access.anything:
        await query.answer("This button is out of date: send the command again.")
        return
    log.info("refused a button from user %s", query.from_user.id)
    await query.answer("This bot is private: only the admins of its channels can use it.")


def create_router() -> Router:
    router = Router(name=__name__)
    # Only private chats: the bot must stay silent in the channels and groups it serves.
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(cmd_unknown, HasAccess())
    router.message.register(cmd_refuse)
    router.callback_query.register(cmd_refuse_button)
    return router
