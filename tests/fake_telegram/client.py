"""An aiogram client for a :class:`FakeTelegram` (aiogram is imported only with this module).

Not in fixtures.py: that module is a pytest plugin, loaded by the xdist controller too, before
it starts the workers, and importing aiogram (its pydantic models) costs seconds of CPU.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.fake_telegram.server import FakeTelegram


class LocalSession(AiohttpSession):
    """aiogram's aiohttp session for a fake on 127.0.0.1.

    ``close()`` skips aiogram's 250 ms wait for SSL connections to wind down: there are none
    here, and the wait would otherwise add up over a test suite.
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def bot_for(fake: FakeTelegram) -> Bot:
    """An aiogram Bot (token ``fake.token``) talking to ``fake``; close its session when done."""
    return Bot(fake.token, session=LocalSession(api=TelegramAPIServer.from_base(fake.base_url)))
