"""Fixtures of the bot's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bot.running import Store, two_channels
from tests.fake_telegram.server import FakeTelegram


@pytest.fixture
async def store(fake_telegram: FakeTelegram, migrated_database_url: str) -> AsyncIterator[Store]:
    """The bot running on a store with two publishing targets and a source channel (a copy
    of the session's migrated template: migrating each test's store cost most of its time)."""
    async with two_channels(fake_telegram, migrated_database_url) as running:
        yield running
