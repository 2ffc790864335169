"""Who is asking: each update from a person gets an :class:`~pipeline.access.Access`.

Global admins come from the settings; the administrators of each target chat are asked of
Telegram (getChatMember) and remembered for a few minutes, so a busy admin costs a call per
chat now and then, not per command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.middlewares import from_a_person_in_private
from bot.shared import AdminBook, LocalAdminBook
from config.settings import Settings
from pipeline.access import Access, target_chats
from pipeline.prefs import zone_of

log = logging.getLogger(__name__)

_MANAGING = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR}


class ChatAdmins:
    """Whether a user administers a chat, as Telegram said within the last ``ttl`` seconds
    (remembered in ``book``: this process's memory, or Redis shared by several instances)."""

    def __init__(
        self,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        book: AdminBook | None = None,
    ) -> None:
        self._ttl = ttl
        self._book = book or LocalAdminBook(clock)

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        cached = await self._book.get(chat_id, user_id)
        if cached is not None:
            return cached
        try:
            member = await bot.get_chat_member(chat_id, user_id)
            answer = member.status in _MANAGING
        except TelegramAPIError as error:
            # The bot was removed, the chat is gone: nobody manages it through the bot.
            log.info("cannot check admins of chat %d: %s", chat_id, error.message)
            answer = False
        if self._ttl > 0:
            await self._book.put(chat_id, user_id, answer, self._ttl)
        return answer

    async def forget(self, chat_id: int) -> None:
        """The chat's admins changed (or the bot's rights did): ask again next time."""
        await self._book.forget(chat_id)


async def access_of(
    bot: Bot, session: AsyncSession, settings: Settings, admins: ChatAdmins, user_id: int
) -> Access:
    if user_id in settings.admin_ids:
        return Access(user_id, everything=True)
    managed = [
        channel_id
        for channel_id, chat_id in await target_chats(session)
        if await admins.is_admin(bot, chat_id, user_id)
    ]
    return Access(user_id, channel_ids=frozenset(managed))


class AccessMiddleware(BaseMiddleware):
    """Puts ``access`` (what the sender may manage) into the handler data, and makes the
    ``settings`` handlers see speak the sender's own time zone."""

    def __init__(self, admins: ChatAdmins) -> None:
        self._admins = admins

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not from_a_person_in_private(event):
            # Messages in groups and channels ask nothing of the bot: no checks for them.
            data["access"] = Access(user.id if user else 0)
        else:
            data["access"] = await access_of(
                data["bot"], data["session"], data["settings"], self._admins, user.id
            )
            # Times an admin types and reads are in their own zone (/tz), if they chose one.
            if data["access"].anything and (zone := await zone_of(data["session"], user.id)):
                data["settings"] = data["settings"].model_copy(update={"timezone": zone})
        return await handler(event, data)
