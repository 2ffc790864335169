"""/watch from Telegram: watches added, listed, paused, resumed and removed, each admin's
for their own chats; the running bot looks at them and queues what they find."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.handlers.watch import WatchAction
from pipeline.store.db import unit_of_work
from pipeline.store.models import Publication, Watch, WatchPolicy
from tests.bot.running import ADMIN_A, GLOBAL, OWNER_B, Store, ask, press, two_channels
from tests.fake_telegram.server import FakeTelegram
from tests.fake_web import PreviewSite


@pytest.fixture
async def store(
    fake_telegram: FakeTelegram, migrated_database_url: str, preview_site: PreviewSite
) -> AsyncIterator[Store]:
    async with two_channels(
        fake_telegram,
        migrated_database_url,
        preview_base=preview_site.base_url,
        fetch_interval=0.0,
    ) as running:
        yield running


async def _watches(store: Store) -> list[tuple[int, str, int | None, int, int, WatchPolicy]]:
    async with unit_of_work(store.factory) as session:
        found = await session.scalars(select(Watch).order_by(Watch.id))
        return [
            (w.id, w.username, w.target_id, w.every_seconds, w.delay_seconds, w.policy)
            for w in found
        ]


async def _publications(store: Store) -> list[Publication]:
    async with unit_of_work(store.factory) as session:
        return list(await session.scalars(select(Publication).order_by(Publication.id)))


async def test_a_watch_added_in_telegram_queues_the_channels_new_posts(
    store: Store, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", posts=25)

    reply = await ask(
        store.fake, "/watch add @dev_news every 30m to @alpha_news after 2h originals", GLOBAL
    )

    assert reply.startswith("✅ Watch 1 added; the first look comes within seconds")
    assert "→ @alpha_news after 2h (originals)" in reply
    alpha = store.channels["alpha"]
    assert await _watches(store) == [(1, "dev_news", alpha, 1800, 7200, WatchPolicy.ORIGINALS)]
    # The running bot looks at it (and only notes where the channel stands).
    await asyncio.to_thread(preview_site.wait_for, "/s/dev_news")
    post = preview_site.publish("dev_news", "Свежий пост: ядро 6.13 вышло")
    assert await ask(store.fake, "/watch resume 1", GLOBAL) == "Watch 1 resumed."
    await asyncio.to_thread(preview_site.wait_for, "/s/dev_news", 2)

    deadline = time.monotonic() + 15
    while not (queued := await _publications(store)):
        assert time.monotonic() < deadline, "nothing was queued"
        await asyncio.sleep(0.05)
    (publication,) = queued
    assert publication.channel_id == alpha
    async with unit_of_work(store.factory) as session:
        watch = await session.get_one(Watch, 1)
        assert watch.last_message_id == post.id
    listing = await ask(store.fake, "/watch", GLOBAL)
    assert "👁 <b>1</b> @dev_news every 30m → @alpha_news after 2h (originals)" in listing


async def test_a_chats_admin_watches_for_their_chat_only(store: Store) -> None:
    assert (await ask(store.fake, "/watch add @dev_news", GLOBAL)).startswith("✅ Watch 1")
    mine = await ask(store.fake, "/watch add @ml_weekly every 1h", ADMIN_A)
    assert mine.startswith("✅ Watch 2")
    assert "→ @alpha_news" in mine  # their one chat
    refused = await ask(store.fake, "/watch add @cve_feed to @beta_news", ADMIN_A)
    assert refused.startswith("⚠️ @beta_news is not a publishing target")

    listing = await ask(store.fake, "/watch", ADMIN_A)
    assert "@ml_weekly" in listing
    assert "@dev_news" not in listing
    for verb in ("pause", "resume", "remove"):
        assert await ask(store.fake, f"/watch {verb} 1", ADMIN_A) == "⚠️ no watch with id 1"
        data = WatchAction(action=verb, id=1).pack()
        assert await press(store, ADMIN_A, data) == "⚠️ no watch with id 1"
    assert await ask(store.fake, "/watch", OWNER_B) == (
        "No watched channels. Add one: /watch add @channel"
    )
    assert [w[0] for w in await _watches(store)] == [1, 2]


async def test_pause_resume_remove_by_button_and_command(store: Store) -> None:
    await ask(store.fake, "/watch add @ml_weekly", ADMIN_A)
    await ask(store.fake, "/watch", ADMIN_A)

    assert await press(store, ADMIN_A, WatchAction(action="pause", id=1).pack()) == (
        "Watch 1 paused."
    )
    (edit,) = store.fake.calls_to("editMessageText")
    assert "⏸ paused" in edit.params["text"]
    assert await ask(store.fake, "/watch resume 1", ADMIN_A) == "Watch 1 resumed."
    await ask(store.fake, "/watch", ADMIN_A)
    assert await press(store, ADMIN_A, WatchAction(action="remove", id=1).pack()) == (
        "Watch 1 removed."
    )
    assert await _watches(store) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/watch frobnicate", "Usage:\n/watch"),
        ("/watch add", "Usage:\n/watch"),
        ("/watch add @dev_news sometimes", "⚠️ cannot read 'sometimes'\n\nUsage:\n/watch"),
        ("/watch add @dev_news every 10s", "⚠️ a watch checks at most once a minute"),
        ("/watch add @dev_news every soon", "⚠️ 'soon': not a length of time"),
        ("/watch add @dev_news after 2h", "⚠️ a delay and a policy are for queueing"),
        ("/watch add @dev_news originals", "⚠️ a delay and a policy are for queueing"),
        ("/watch add https://example.com/x", "⚠️ https://example.com/x: not a channel"),
        ("/watch add t.me/+secret", "⚠️ t.me/+secret: a private chat's link"),
        ("/watch pause 99", "⚠️ no watch with id 99"),
    ],
)
async def test_mistakes(store: Store, command: str, expected: str) -> None:
    assert (await ask(store.fake, command, GLOBAL)).startswith(expected)
    assert await _watches(store) == []
