"""`tgpipe run --webhook URL`: the secret token, /healthz, /metrics, and two instances
behind one webhook sharing Redis and the store."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import select

from bot.app import run_bot
from bot.handlers.queue import QueueAction
from bot.webhook import webhook_secret
from config.settings import Settings
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import Publication
from tests.bot.running import (
    ADMIN_A,
    ALPHA,
    GLOBAL,
    REDIS_URL,
    Store,
    ask,
    press,
    reply_to,
    seed_two_channels,
)
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import private_message

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    # A bot id of its own: the Redis keys of tests running side by side never meet.
    bot_id = 100_000 + (os.getpid() * 7919 + id(object())) % 800_000
    async with FakeTelegram(bot_id=bot_id) as running:
        yield running
    assert not running.problems, running.problems
    redis = Redis.from_url(REDIS_URL)
    for pattern in (f"tgpipe:{bot_id}:*", f"fsm:{bot_id}:*"):
        keys = [key async for key in redis.scan_iter(match=pattern)]
        if keys:
            await redis.delete(*keys)
    await redis.aclose()


@contextlib.asynccontextmanager
async def instance(
    fake: FakeTelegram, database_url: str, url: str, port: int, **settings: Any
) -> AsyncIterator[Settings]:
    """`run_bot --webhook url` listening on ``port``, until the block ends."""
    config = Settings(
        database_url=database_url,
        bot_token=fake.token,
        api_base=fake.base_url,
        admin_ids=frozenset({GLOBAL}),
        chat_interval=0.0,
        webhook_listen=f"127.0.0.1:{port}",
        **settings,
    )
    before = len(fake.calls_to("setWebhook"))
    task = asyncio.create_task(run_bot(config, handle_signals=False, webhook_url=url))
    try:
        await fake.wait_for("setWebhook", count=before + 1)
        yield config
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_updates_need_the_secret_token(
    fake: FakeTelegram, migrated_database_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    engine = create_engine(migrated_database_url)
    await seed_two_channels(fake, create_session_factory(engine))
    async with instance(fake, migrated_database_url, url, port) as settings:
        (call,) = fake.calls_to("setWebhook")
        assert call.params["url"] == url
        assert call.params["secret_token"] == webhook_secret(settings)
        assert "message_reaction_count" in call.params["allowed_updates"]
        assert not fake.calls_to("getUpdates")
        # Telegram's POSTs carry the secret: the bot answers.
        assert "/posts" in await ask(fake, "/help", GLOBAL)
        before = len(fake.calls_to("sendMessage"))
        update = private_message("/help", user_id=GLOBAL)
        update["update_id"] = 10_000
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "guess"}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 401
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"status": "ok", "store": "ok"}
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
        assert 'tgpipe_publications{state="scheduled"} 0' in metrics
        assert "tgpipe_queue_lag_seconds 0.000" in metrics
        assert "tgpipe_sends_total 0" in metrics
        # The refused requests were not handled: nothing was answered for them.
        assert "/posts" in await ask(fake, "/help", GLOBAL)
        assert len(fake.calls_to("sendMessage")) == before + 1
    await engine.dispose()


class RoundRobin:
    """The load balancer in front of several instances: each POST to the next one."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.counts = dict.fromkeys(upstreams, 0)
        self._next = itertools.cycle(upstreams)

    async def handle(self, request: web.Request) -> web.Response:
        upstream = next(self._next)
        self.counts[upstream] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        async with (
            aiohttp.ClientSession() as http,
            http.post(upstream, data=await request.read(), headers=headers) as response,
        ):
            return web.Response(body=await response.read(), status=response.status)


async def test_two_instances_behind_one_webhook_share_redis_and_the_store(
    fake: FakeTelegram, migrated_database_url: str
) -> None:
    ports = [free_port(), free_port()]
    balancer = RoundRobin([f"http://127.0.0.1:{port}/hook" for port in ports])
    app = web.Application()
    app.router.add_post("/hook", balancer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    front = free_port()
    await web.TCPSite(runner, "127.0.0.1", front).start()
    url = f"http://127.0.0.1:{front}/hook"
    engine = create_engine(migrated_database_url)
    factory = create_session_factory(engine)
    store = Store(fake, factory, {}, {})
    seeded = await seed_two_channels(fake, factory)
    store.posts, store.channels = seeded.posts, seeded.channels
    shared = {"redis_url": REDIS_URL, "throttle_limit": 4, "throttle_window": 60.0}
    try:
        async with (
            instance(fake, migrated_database_url, url, ports[0], **shared),
            instance(fake, migrated_database_url, url, ports[1], **shared),
        ):
            # The channel admin's first command asks Telegram who administers the chats;
            # the next, answered by the other instance, finds the answer in Redis.
            await ask(fake, "/channels", ADMIN_A)
            asked = len(fake.calls_to("getChatMember"))
            assert asked >= 1
            await ask(fake, "/queue", ADMIN_A)
            assert len(fake.calls_to("getChatMember")) == asked
            assert all(balancer.counts.values())  # both instances took updates
            # A conversation across instances: Move asks for a time on one, the answer
            # arrives at the other (aiogram's FSM state in Redis).
            planned = await ask(fake, f"/schedule {store.posts['gamma']} +1h @alpha_news", GLOBAL)
            assert planned.startswith("🗓 Publication <b>1</b>"), planned
            async with unit_of_work(factory) as session:
                (publication,) = (await session.scalars(select(Publication))).all()
            await ask(fake, "/queue", GLOBAL)
            await press(store, GLOBAL, QueueAction(action="move", id=publication.id).pack())
            moved = await ask(fake, "+3h", GLOBAL)
            assert f"Publication {publication.id}" in moved, moved
            async with unit_of_work(factory) as session:
                due = await session.scalar(select(Publication.due_at))
            assert due is not None
            assert due > publication.due_at
            # A flood spread over both instances is counted once: 4 allowed, then told.
            before = len(fake.calls_to("sendMessage"))
            for _ in range(3):
                fake.push_update(private_message("/help", user_id=ADMIN_A))
            told = await reply_to(fake, ADMIN_A, before, lambda text: "Too many" in text)
            assert told.params["text"].startswith("⏳ Too many requests")
            assert not [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == ALPHA]
    finally:
        await runner.cleanup()
        await engine.dispose()
