"""The bot's shared state on a real Redis: several instances count one flood and share
Telegram's answers about admins; /healthz says when Redis is gone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.shared import RedisAdminBook, RedisFloodBook, Verdict
from bot.webhook import health_check
from pipeline.store.db import SessionFactory
from tests.bot.running import REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis: Redis) -> str:
    return f"tgpipe:test-{uuid.uuid4().hex}"


async def test_a_flood_is_counted_across_instances(redis: Redis, prefix: str) -> None:
    first, second = RedisFloodBook(redis, prefix), RedisFloodBook(redis, prefix)
    verdicts = [await book.hit(7, 3, 60.0) for book in (first, second, first, second, first)]
    assert verdicts == [
        Verdict(True),
        Verdict(True),
        Verdict(True),
        Verdict(False, tell=True),  # told once per flood...
        Verdict(False, tell=False),  # ...not again
    ]
    assert await second.hit(8, 3, 60.0) == Verdict(True)  # another person is not affected


async def test_the_window_slides(redis: Redis, prefix: str) -> None:
    book = RedisFloodBook(redis, prefix)
    assert [await book.hit(7, 1, 0.2) for _ in range(2)] == [Verdict(True), Verdict(False, True)]
    await asyncio.sleep(0.25)  # the window itself is what is tested here
    assert await book.hit(7, 1, 0.2) == Verdict(True)


async def test_admin_answers_are_shared_until_they_expire_or_are_forgotten(
    redis: Redis, prefix: str
) -> None:
    one, other = RedisAdminBook(redis, prefix), RedisAdminBook(redis, prefix)
    assert await one.get(-100, 5) is None
    await one.put(-100, 5, True, 60)
    await one.put(-100, 6, False, 60)
    await one.put(-200, 5, True, 60)
    assert (await other.get(-100, 5), await other.get(-100, 6)) == (True, False)
    await other.forget(-100)
    assert (await one.get(-100, 5), await one.get(-200, 5)) == (None, True)
    await one.put(-300, 5, True, 0.05)
    await asyncio.sleep(0.1)
    assert await other.get(-300, 5) is None


async def test_healthz_fails_when_redis_is_gone(session_factory: SessionFactory) -> None:
    gone = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    app = web.Application()
    app.router.add_get("/healthz", health_check(session_factory, gone))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        body = await response.json()
    assert (body["status"], body["store"]) == ("failing", "ok")
    assert body["redis"].startswith("failing: ConnectionError")
    await gone.aclose()
