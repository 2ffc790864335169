"""pytest fixtures around :class:`FakeTelegram`, for tests/conftest.py to import.

    # tests/conftest.py
    pytest_plugins = ["tests.fake_telegram.fixtures"]

Fixtures:

- ``fake_telegram`` (async): a started fake on the test's loop; at teardown it fails the test
  if :attr:`FakeTelegram.problems` is not empty (clear it after asserting a problem you provoked).
- ``telegram_bot`` (async): an aiogram ``Bot`` whose session talks to ``fake_telegram``
  (token ``fake_telegram.token``, made by :func:`bot_for`); its session is closed at teardown.
- ``fake_telegram_thread``: a fake serving from a background thread, for tests that run
  ``tgpipe`` as a subprocess (``env={**os.environ, **fake.env}``) or from plain sync code; use
  ``fake.wait_for_sync(...)`` there.  Same problems check at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
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


def _assert_honest(fake: FakeTelegram) -> None:
    assert not fake.problems, "the fake Telegram found problems:\n" + "\n".join(fake.problems)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
    _assert_honest(fake)


@pytest.fixture
async def telegram_bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = bot_for(fake_telegram)
    yield bot
    await bot.session.close()


@pytest.fixture
def fake_telegram_thread() -> Iterator[FakeTelegram]:
    with FakeTelegram().running_in_thread() as fake:
        yield fake
    _assert_honest(fake)
