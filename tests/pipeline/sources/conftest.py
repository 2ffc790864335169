"""Fetchers for the live-source tests that never wait on real time.

The pacer runs on a :class:`FakeClock` that moves only when something sleeps on it, so the
waits it asks for (a host's interval, a 429's hold) are recorded exactly; the retries'
backoff sleeps on another, so the two are told apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from pipeline.sources.fetch import Fetcher, FetchOptions, HostPacer

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it; records each sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # others run meanwhile, as they would during a real sleep


class Rig:
    """Makes fetchers on fake time (closed at the end of the test)."""

    def __init__(self) -> None:
        self.turns = FakeClock()  # the pacer's: host intervals and 429 holds
        self.backoff = FakeClock()  # the retries' backoff
        self.jitter: Callable[[], float] = lambda: 0.5  # 0.5 + 0.5: delays as computed
        self._open: list[Fetcher] = []

    def fetcher(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        host_interval: float = 0.0,
        timeout: float = 5.0,
        **options: Any,
    ) -> Fetcher:
        fetcher = Fetcher(
            FetchOptions(timeout=timeout, host_interval=host_interval, **options),
            pacer=HostPacer(host_interval, clock=self.turns, sleep=self.turns.sleep),
            transport=transport,
            sleep=self.backoff.sleep,
            jitter=lambda: self.jitter(),
        )
        self._open.append(fetcher)
        return fetcher

    async def aclose(self) -> None:
        for fetcher in self._open:
            await fetcher.aclose()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go straight to 127.0.0.1 (or a MockTransport), whatever the environment."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made = Rig()
    yield made
    await made.aclose()
