"""Reactions end to end: tgpipe publishes through the fake Bot API, Telegram reports
reactions to what it published, and the counts land in the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from pipeline.store.models import Channel, PublishedMessage, PublishedSnapshot
from tests.bot.running import bot_running
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import reaction_count_update, reaction_update
from tests.publishing import add_post, plan

ADMIN = 1001
CHANNEL = -1001500000001
GROUP = -1001500000002


@dataclass
class Published:
    fake: FakeTelegram
    factory: SessionFactory
    channel_message: int
    group_message: int


async def _target(factory: SessionFactory, fake: FakeTelegram, chat: CheckedChat) -> Channel:
    fake.add_chat(chat.chat_id, type=chat.type, title=chat.title, username=chat.username)
    async with unit_of_work(factory) as session:
        return await record_target(session, chat)


@pytest.fixture
async def published(
    fake_telegram: FakeTelegram, migrated_database_url: str
) -> AsyncIterator[Published]:
    """`run_bot` running, after it published one post to a channel and one to a group."""
    database_url = migrated_database_url
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    channel = await _target(
        factory, fake_telegram, CheckedChat(CHANNEL, "channel", "News", "news_channel")
    )
    group = await _target(factory, fake_telegram, CheckedChat(GROUP, "supergroup", "Chat"))
    for target in (channel, group):
        await plan(factory, await add_post(factory, f"hello {target.title}"), target)
    try:
        async with bot_running(fake_telegram, database_url, {ADMIN}, chat_interval=0.0):
            await fake_telegram.wait_until(
                lambda: fake_telegram.messages_in(CHANNEL) and fake_telegram.messages_in(GROUP),
                timeout=20,
                what="both publications sent",
            )
            # Sent is recorded just after Telegram answers: wait until the store knows it.
            await _eventually(lambda: _count(factory), 2, "the sent messages recorded")
            yield Published(
                fake_telegram,
                factory,
                fake_telegram.messages_in(CHANNEL)[-1]["message_id"],
                fake_telegram.messages_in(GROUP)[-1]["message_id"],
            )
    finally:
        await engine.dispose()


async def _count(factory: SessionFactory) -> int:
    async with unit_of_work(factory) as session:
        return len((await session.scalars(select(PublishedMessage))).all())


async def _eventually(
    read: Callable[[], Awaitable[object]], expected: object, what: str, within: float = 10
) -> None:
    """Wait until ``await read()`` equals ``expected`` (the store is written asynchronously)."""
    deadline = time.monotonic() + within
    while (value := await read()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s for {what}: still {value!r}")
        await asyncio.sleep(0.02)


def _reactions(
    factory: SessionFactory, chat_id: int, message_id: int
) -> Callable[[], Awaitable[tuple[dict[str, int], int]]]:
    async def read() -> tuple[dict[str, int], int]:
        async with unit_of_work(factory) as session:
            row = await session.get_one(PublishedMessage, (chat_id, message_id))
            return row.reactions, row.total

    return read


async def test_the_bot_asks_telegram_for_reaction_updates(published: Published) -> None:
    allowed = published.fake.allowed_updates or []
    assert {"message_reaction_count", "message_reaction"} <= set(allowed)


async def test_channel_reaction_counts_are_recorded(published: Published) -> None:
    fake, message_id = published.fake, published.channel_message
    now = int(time.time())
    fake.push_update(reaction_count_update(CHANNEL, message_id, {"👍": 2}, date=now))
    fake.push_update(reaction_count_update(CHANNEL, message_id, {"👍": 5, "🔥": 1}, date=now + 60))
    # Delivered late: older than what is stored, so it must not win.
    fake.push_update(reaction_count_update(CHANNEL, message_id, {"👍": 3}, date=now + 30))
    await _eventually(
        _reactions(published.factory, CHANNEL, message_id), ({"👍": 5, "🔥": 1}, 6), "counts"
    )


async def test_group_reactions_are_counted_per_person(published: Published) -> None:
    fake, message_id = published.fake, published.group_message
    fake.push_update(reaction_update(GROUP, message_id, user_id=5, new=["👍"]))
    fake.push_update(reaction_update(GROUP, message_id, user_id=6, new=["👍", "🔥"]))
    fake.push_update(reaction_update(GROUP, message_id, actor_chat_id=GROUP, new=["❤"]))
    await _eventually(
        _reactions(published.factory, GROUP, message_id),
        ({"👍": 2, "🔥": 1, "❤": 1}, 4),
        "counts",
    )


async def test_reactions_to_other_messages_are_ignored_without_a_word(
    published: Published,
) -> None:
    fake, factory = published.fake, published.factory
    sent_before = len(fake.calls_to("sendMessage"))
    fake.push_update(reaction_count_update(CHANNEL, published.channel_message + 100, {"👍": 9}))
    fake.push_update(reaction_count_update(-1001999999999, 1, {"👍": 9}))
    fake.push_update(reaction_update(GROUP, published.group_message + 100, user_id=5, new=["👍"]))
    # Recorded in order: once this one is stored, those before it were dealt with.
    fake.push_update(reaction_count_update(CHANNEL, published.channel_message, {"🔥": 1}))
    await _eventually(_reactions(factory, CHANNEL, published.channel_message), ({"🔥": 1}, 1), "")
    assert await _reactions(factory, GROUP, published.group_message)() == ({}, 0)
    async with unit_of_work(factory) as session:
        snapshots = (await session.scalars(select(PublishedSnapshot))).all()
    assert [(s.message_id, s.total) for s in snapshots] == [(published.channel_message, 1)]
    assert len(fake.calls_to("sendMessage")) == sent_before  # nobody was told anything
