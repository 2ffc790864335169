"""Who may use the bot."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from pipeline.access import Access


class HasAccess(Filter):
    """The sender manages something: a global admin, or an admin of a target chat."""

    async def __call__(self, event: TelegramObject, access: Access | None = None) -> bool:
        return access is not None and access.anything
