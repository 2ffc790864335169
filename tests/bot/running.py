"""`tgpipe run` in the test's event loop: the real bot polling the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.app import run_bot
from config.settings import Settings
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from pipeline.store.models import Channel, Post
from tests.fake_telegram.server import ApiCall, FakeTelegram
from tests.fake_telegram.updates import callback_query, private_message

GLOBAL = 1001  # in TGPIPE_ADMIN_IDS
ADMIN_A = 2001  # an administrator of @alpha_news
OWNER_B = 2002  # the owner of @beta_news
OUTSIDER = 3003
# This machine's Redis, for the tests of several instances (bot/shared.py).
REDIS_URL = os.environ.get("TGPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALPHA = -1001600000001
BETA = -1001600000002


@contextlib.asynccontextmanager
async def bot_running(
    fake: FakeTelegram, database_url: str, admin_ids: set[int], **settings: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """`run_bot` on ``database_url`` until the block ends; it is polling when the block
    starts. ``settings``: any other setting."""
    task = asyncio.create_task(
        run_bot(
            Settings(
                database_url=database_url,
                bot_token=fake.token,
                api_base=fake.base_url,
                admin_ids=frozenset(admin_ids),
                **settings,
            ),
            handle_signals=False,
        )
    )
    try:
        await fake.wait_for("getUpdates")
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Store:
    fake: FakeTelegram
    factory: SessionFactory
    posts: dict[str, int]  # "alpha", "beta", "gamma" (a source channel, not a target)
    channels: dict[str, int]  # store ids


async def seed_two_channels(fake: FakeTelegram, factory: SessionFactory) -> Store:
    """Two publishing targets (@alpha_news, administered by ADMIN_A; @beta_news, owned by
    OWNER_B) and a source channel, each with a post, in the store and in ``fake``."""
    posts: dict[str, int] = {}
    async with unit_of_work(factory) as session:
        alpha = CheckedChat(ALPHA, "channel", "Alpha", "alpha_news")
        beta = CheckedChat(BETA, "channel", "Beta", "beta_news")
        channels = {
            "alpha": await record_target(session, alpha),
            "beta": await record_target(session, beta),
            "gamma": Channel(title="Gamma", username="gamma_source"),
        }
        session.add(channels["gamma"])
        await session.flush()
        for day, (name, channel) in enumerate(channels.items(), start=1):
            post = Post(
                text=f"{name.title()} secret plans\nbody",
                entities=[],
                media=[],
                channel_id=channel.id,
                date=datetime(2026, 11, day, tzinfo=UTC),
            )
            session.add(post)
            await session.flush()
            posts[name] = post.id
        ids = {name: channel.id for name, channel in channels.items()}
    fake.add_chat(ALPHA, type="channel", title="Alpha", username="alpha_news")
    fake.add_chat(BETA, type="channel", title="Beta", username="beta_news")
    fake.set_chat_admins(ALPHA, [9999, ADMIN_A])  # 9999 owns it
    fake.set_chat_admins(BETA, [OWNER_B])
    return Store(fake, factory, posts, ids)


@contextlib.asynccontextmanager
async def two_channels(
    fake: FakeTelegram, database_url: str, **settings: Any
) -> AsyncIterator[Store]:
    """`run_bot` on a store (``database_url``, migrated to head) seeded by
    :func:`seed_two_channels`. ``settings``: any other setting of the bot."""
    engine = create_engine(database_url)
    try:
        store = await seed_two_channels(fake, create_session_factory(engine))
        async with bot_running(fake, database_url, {GLOBAL}, chat_interval=0.0, **settings):
            yield store
    finally:
        await engine.dispose()


async def reply_to(
    fake: FakeTelegram, user_id: int, since: int, until: Callable[[str], bool] | None = None
) -> ApiCall:
    """The first message the bot sent ``user_id`` after its first ``since`` sendMessage calls
    (with ``until``: the first whose text it accepts)."""

    def first() -> ApiCall | None:
        calls = fake.calls_to("sendMessage")[since:]
        mine = (c for c in calls if c.params["chat_id"] == user_id)
        return next((c for c in mine if until is None or until(str(c.params["text"]))), None)

    await fake.wait_until(lambda: first() is not None, what=f"a reply to {user_id}")
    found = first()
    assert found is not None
    return found


# /post answers with the post as it will be published, then what is known of it: that last.
POST_INFO = ("<b>#", "⚠️", "Usage", "This bot is private")


async def ask(
    fake: FakeTelegram, text: str, user_id: int, until: Callable[[str], bool] | None = None
) -> str:
    """Send ``text`` as ``user_id`` in their private chat; the bot's reply to them (with
    ``until``, the first reply it accepts; /post's info by default for /post)."""
    before = len(fake.calls_to("sendMessage"))
    fake.push_update(private_message(text, user_id=user_id))
    if until is None and text.startswith("/post "):
        until = lambda reply: reply.startswith(POST_INFO)  # noqa: E731
    return str((await reply_to(fake, user_id, before, until)).params["text"])


async def ask_post(fake: FakeTelegram, post_id: int, user_id: int) -> tuple[list[str], str]:
    """/post ID as ``user_id``: the texts of the preview, and then the post's info."""
    before = len(fake.calls_to("sendMessage"))
    info = await ask(fake, f"/post {post_id}", user_id)
    mine = [c for c in fake.calls_to("sendMessage")[before:] if c.params["chat_id"] == user_id]
    texts = [str(c.params["text"]) for c in mine]
    return texts[: texts.index(info)], info


async def press(store: Store, user_id: int, data: str) -> str:
    """Press a button with ``data`` under the last message the bot sent ``user_id``; the
    answer shown (an alert or a toast)."""
    fake = store.fake
    message = fake.messages_in(user_id)[-1]
    before = len(fake.calls_to("answerCallbackQuery"))
    fake.push_update(callback_query(data, user_id=user_id, message=message))
    (answer,) = (await fake.wait_for("answerCallbackQuery", count=before + 1))[before:]
    return str(answer.params.get("text", ""))
