"""Who may use the bot."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from config.settings import Settings


class IsAdmin(Filter):
    """The update comes from a user listed in ``TGPIPE_ADMIN_IDS``."""

    async def __call__(
        self, event: TelegramObject, settings: Settings, event_from_user: User | None = None
    ) -> bool:
        return event_from_user is not None and event_from_user.id in settings.admin_ids
