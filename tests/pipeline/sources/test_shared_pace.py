"""Turns per host shared through a real Redis (this machine's, 127.0.0.1:6379): two pacers
stand for two tgpipe processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from pipeline.sources.shared_pace import RedisHostPacer
from tests.bot.running import REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis: Redis) -> str:
    return f"tgpipe-test:{uuid.uuid4().hex}:"


async def _timed(*waits: object) -> list[float]:
    start = time.monotonic()
    stamps: list[float] = []

    async def one(wait: object) -> None:
        await wait  # type: ignore[misc]
        stamps.append(time.monotonic() - start)

    await asyncio.gather(*(one(wait) for wait in waits))
    return sorted(stamps)


async def test_two_processes_take_turns_at_one_host(redis: Redis, prefix: str) -> None:
    first = RedisHostPacer(redis, 0.3, prefix=prefix)
    second = RedisHostPacer(redis, 0.3, prefix=prefix)

    stamps = await _timed(first.wait("t.me"), second.wait("t.me"), first.wait("t.me"))

    assert stamps[0] < 0.2  # the first turn is free
    assert stamps[1] - stamps[0] >= 0.28  # then one an interval apart (Redis's ms clock)
    assert stamps[2] - stamps[1] >= 0.28
    assert 0 < await redis.pttl(f"{prefix}t.me") <= 60_300


async def test_other_hosts_do_not_wait(redis: Redis, prefix: str) -> None:
    first = RedisHostPacer(redis, 5.0, prefix=prefix)
    second = RedisHostPacer(redis, 5.0, prefix=prefix)
    await first.wait("t.me")

    stamps = await _timed(second.wait("example.com"))

    assert stamps[0] < 0.5


async def test_a_hold_from_one_process_holds_the_other(redis: Redis, prefix: str) -> None:
    first = RedisHostPacer(redis, 0.0, prefix=prefix)
    second = RedisHostPacer(redis, 0.0, prefix=prefix)
    await first.hold("t.me", 0.4)  # a 429 with Retry-After: 0.4
    await first.hold("t.me", 0.1)  # a shorter one later never shortens it

    stamps = await _timed(second.wait("t.me"))

    assert stamps[0] >= 0.38
