"""One pace per host for every process of an installation, kept in Redis.

With ``TGPIPE_REDIS_URL``, several `tgpipe run` instances (behind one webhook), a cron's
`tgpipe watch run-once` and an admin's `tgpipe import @channel` all ask t.me in turn, and a
429 one of them got holds the others back too; without it each process keeps its own pace
(:class:`pipeline.sources.fetch.HostPacer`). Each turn is taken by one Lua script, atomic in
Redis, on Redis's own clock, so processes on machines whose clocks differ still agree.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pipeline.sources.fetch import Sleep

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "tgpipe:pace:"

# A key outlives the host's next turn by a minute: a host not asked since needs none.
# KEYS[1]: the host's key; ARGV[1]: the interval (ms). 0 when the turn was taken, else the
# milliseconds to wait before asking again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if next > now then return next - now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], now + interval, 'PX', interval + 60000)
return 0
"""

# KEYS[1]: the host's key; ARGV[1]: how long to hold it (ms). Never shortens a hold.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[1])
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + hold > next then redis.call('SET', KEYS[1], now + hold, 'PX', hold + 60000) end
return 0
"""


class RedisHostPacer:
    """:class:`pipeline.sources.fetch.Pacer` in Redis: at most one request to a host every
    ``interval`` seconds from all processes together."""

    def __init__(
        self,
        redis: Redis,
        interval: float,
        *,
        prefix: str = PREFIX,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._prefix = prefix
        self._sleep = sleep
        self._take = redis.register_script(_TAKE)
        self._hold = redis.register_script(_HOLD)

    def key(self, host: str) -> str:
        return f"{self._prefix}{host}"

    async def wait(self, host: str) -> None:
        interval = round(self.interval * 1000)
        while (wait := int(await self._take(keys=[self.key(host)], args=[interval]))) > 0:
            await self._sleep(wait / 1000)

    async def hold(self, host: str, seconds: float) -> None:
        await self._hold(keys=[self.key(host)], args=[round(seconds * 1000)])
