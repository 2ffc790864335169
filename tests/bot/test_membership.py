"""The bot's rights in a target chat change: the chat is held back and the admins told,
once per change; given back, it is released."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot import scheduler
from pipeline.store.db import unit_of_work
from pipeline.store.models import Channel, Publication, PublicationState
from tests.bot.running import ALPHA, GLOBAL, Store, ask
from tests.fake_telegram.updates import my_chat_member


@pytest.fixture(autouse=True)
def notices_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot sends notices every 2 s; here every 0.05 s, so tests wait on them less."""
    monkeypatch.setattr(scheduler, "NOTIFY_SECONDS", 0.05)


def _told(store: Store, start: str) -> list[str]:
    calls = store.fake.calls_to("sendMessage")
    return [
        c.params["text"]
        for c in calls
        if c.params["chat_id"] == GLOBAL and c.params["text"].startswith(start)
    ]


async def test_losing_and_regaining_rights_is_told_once_each(store: Store) -> None:
    fake = store.fake
    await ask(fake, f"/schedule {store.posts['gamma']} +2h @alpha_news", GLOBAL)
    removed = my_chat_member(
        ALPHA,
        by_user_id=9999,
        new_status="left",
        old_status="administrator",
        username="alpha_news",
        title="Alpha",
        date=int(time.time()),
    )
    fake.push_update(removed)
    fake.push_update(removed)  # delivered twice: the same event
    await fake.wait_until(lambda: _told(store, "🚫"), timeout=10, what="the admins told")
    (told,) = _told(store, "🚫")
    assert told.startswith("🚫 the bot was removed (by Test) in @alpha_news")
    assert "1 scheduled publication(s) wait" in told
    async with unit_of_work(store.factory) as session:
        channel = await session.get_one(Channel, store.channels["alpha"])
        assert channel.blocked_reason == "the bot was removed (by Test)"
        states = list(await session.scalars(select(Publication.state)))
    assert states == [PublicationState.SCHEDULED]  # waiting, not failed
    assert "⚠️ the bot was removed" in await ask(fake, "/channels", GLOBAL)

    back = my_chat_member(
        ALPHA,
        by_user_id=9999,
        new_status="administrator",
        old_status="left",
        username="alpha_news",
        title="Alpha",
        date=int(time.time()) + 1,
    )
    fake.push_update(back)
    await fake.wait_until(lambda: _told(store, "✅"), timeout=10, what="told it is back")
    assert _told(store, "✅") == [
        "✅ tgpipe can post to @alpha_news again: 1 scheduled publication(s) go out as planned."
    ]
    assert len(_told(store, "🚫")) == 1
    async with unit_of_work(store.factory) as session:
        assert (await session.get_one(Channel, store.channels["alpha"])).blocked_reason is None


async def test_chats_that_are_not_targets_are_left_alone(store: Store) -> None:
    fake = store.fake
    fake.push_update(my_chat_member(-1001999000111, by_user_id=5, new_status="left"))
    assert "@alpha_news" in await ask(fake, "/channels", GLOBAL)  # went on, nothing told
    assert _told(store, "🚫") == []
