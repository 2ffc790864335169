"""pytest fixtures around :class:`FakeTelegram`, for tests/conftest.py to import.

    # tests/conftest.py
    pytest_plugins = ["tests.fake_telegram.fixtures"]

Fixtures:

- ``fake_telegram`` (async): a started fake on the test's loop; at teardown it fails the test
  if :attr:`FakeTelegram.problems` is not empty (clear it after asserting a problem you provoked).
- ``telegram_bot`` (async): an aiogram ``Bot`` whose session talks to ``fake_telegram``
  (token ``fake_telegram.token``, made by :func:`tests.fake_telegram.client.bot_for`); its
  session is closed at teardown.
- ``fake_telegram_thread``: a fake serving from a background thread, for tests that run
  ``tgpipe`` as a subprocess (``env={**os.environ, **fake.env}``) or from plain sync code; use
  ``fake.wait_for_sync(...)`` there.  Same problems check at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.fake_telegram.server import FakeTelegram

if TYPE_CHECKING:
    from aiogram import Bot


def _assert_honest(fake: FakeTelegram) -> None:
    assert not fake.problems, "the fake Telegram found problems:\n" + "\n".join(fake.problems)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
    _assert_honest(fake)


@pytest.fixture
async def telegram_bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    from tests.fake_telegram.client import bot_for  # aiogram: see client.py

    bot = bot_for(fake_telegram)
    yield bot
    await bot.session.close()


@pytest.fixture
def fake_telegram_thread() -> Iterator[FakeTelegram]:
    with FakeTelegram().running_in_thread() as fake:
        yield fake
    _assert_honest(fake)
