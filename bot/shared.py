"""State the bot keeps between updates: in the process, or in Redis for several instances.

One instance keeps who administers which chat, and who is flooding it, in memory. Several
instances behind one webhook must agree on both — a person's ten requests may reach three
of them — so with ``TGPIPE_REDIS_URL`` the same state lives in Redis (with aiogram's FSM
storage). Keys start with ``tgpipe:<bot id>:``, so bots may share one Redis database.

The send limits need no Redis: they are read from the store's send log inside each claim
(``pipeline/publish/claims.py``), which every instance shares already.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


class AdminBook(Protocol):
    """Telegram's answers to "does this user administer this chat?", for a while."""

    async def get(self, chat_id: int, user_id: int) -> bool | None: ...

    async def put(self, chat_id: int, user_id: int, answer: bool, ttl: float) -> None: ...

    async def forget(self, chat_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    tell: bool = False  # refused, and the first refusal of this flood: say so once


class FloodBook(Protocol):
    """Each person's recent requests, to keep them to ``limit`` per ``window`` seconds."""

    async def hit(self, user_id: int, limit: int, window: float) -> Verdict: ...


# --- in the process ------------------------------------------------------------------------

_REMEMBERED = 100_000  # a crude bound on entries kept in memory; they are cheap to redo


class LocalAdminBook:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    async def get(self, chat_id: int, user_id: int) -> bool | None:
        cached = self._known.get((chat_id, user_id))
        return cached[0] if cached is not None and cached[1] > self._clock() else None

    async def put(self, chat_id: int, user_id: int, answer: bool, ttl: float) -> None:
        if len(self._known) > _REMEMBERED:
            self._known.clear()
        self._known[(chat_id, user_id)] = (answer, self._clock() + ttl)

    async def forget(self, chat_id: int) -> None:
        for key in [key for key in self._known if key[0] == chat_id]:
            del self._known[key]


class LocalFloodBook:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._told: set[int] = set()

    async def hit(self, user_id: int, limit: int, window: float) -> Verdict:
        now = self._clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            first = user_id not in self._told
            self._told.add(user_id)
            return Verdict(False, tell=first)
        self._told.discard(user_id)
        hits.append(now)
        if len(self._hits) > _REMEMBERED:
            self._hits = {user_id: hits}
        return Verdict(True)


# --- in Redis ------------------------------------------------------------------------------


class RedisAdminBook:
    """One hash per chat (``user id -> "1:<expiry>"``), so forgetting a chat is one DEL."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, chat_id: int) -> str:
        return f"{self._prefix}:admins:{chat_id}"

    async def get(self, chat_id: int, user_id: int) -> bool | None:
        value = await self._redis.hget(self._key(chat_id), str(user_id))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else value
        answer, _, expires = text.partition(":")
        return answer == "1" if float(expires) > time.time() else None

    async def put(self, chat_id: int, user_id: int, answer: bool, ttl: float) -> None:
        key = self._key(chat_id)
        value = f"{int(answer)}:{time.time() + ttl}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, str(user_id), value)
            pipe.expire(key, max(int(ttl) + 1, 1))
            await pipe.execute()

    async def forget(self, chat_id: int) -> None:
        await self._redis.delete(self._key(chat_id))


# A sliding window per person (a sorted set of request times), in one atomic step, so that
# instances answering the same person at the same moment cannot both let a request through.
_FLOOD_SCRIPT = """
local hits, told = KEYS[1], KEYS[2]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', hits, '-inf', now - window)
if redis.call('ZCARD', hits) >= limit then
  if redis.call('SET', told, '1', 'NX', 'PX', math.ceil(window * 1000)) then
    return 2
  end
  return 0
end
redis.call('ZADD', hits, now, ARGV[4])
redis.call('PEXPIRE', hits, math.ceil(window * 1000))
redis.call('DEL', told)
return 1
"""


class RedisFloodBook:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_FLOOD_SCRIPT)
        self._sequence = 0

    async def hit(self, user_id: int, limit: int, window: float) -> Verdict:
        self._sequence += 1
        # Wall-clock time: instances on several machines share no monotonic clock.
        now = time.time()
        member = f"{now}:{id(self)}:{self._sequence}"  # unique, so two hits never merge
        keys = [f"{self._prefix}:flood:{user_id}", f"{self._prefix}:flood-told:{user_id}"]
        result = await self._script(keys=keys, args=[now, window, limit, member])
        return Verdict(result == 1, tell=result == 2)


def redis_prefix(bot_id: int) -> str:
    return f"tgpipe:{bot_id}"
