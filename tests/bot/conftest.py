"""Fixtures of the bot's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bot.running import Store, two_channels
from tests.fake_telegram.server import FakeTelegram


@pytest.fixture
async def store(fake_telegram: FakeTelegram, database_url: str) -> AsyncIterator[Store]:
    """The bot running on a store with two publishing targets and a source channel."""
    async with two_channels(fake_telegram, database_url) as running:
        yield running
