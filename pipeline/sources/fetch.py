"""The one way tgpipe fetches a web page: politely, and failing in one clear sentence.

Every request of a process goes through a :class:`Fetcher`. It

* waits its turn per host (:class:`HostPacer`, shared by every watch of a process), and
  holds a whole host back for as long as a 429's ``Retry-After`` asks;
* retries 5xx answers, network errors, time-outs and cut-short bodies with exponential
  backoff and jitter, a few times, then gives up with what went wrong;
* names itself (``tgpipe/<version>``), takes the standard proxy variables (``HTTPS_PROXY``,
  ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), follows a few redirects, caps the size of
  what it reads, and asks conditionally (ETag, Last-Modified) when given validators.

What cannot be fetched is a :class:`FetchError`: a ``ParseError`` of the URL, so an import
rejects that address, names it and the reason, and writes nothing of it.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from pipeline.errors import ParseError
from pipeline.store.types import now_utc

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class FetchError(ParseError):
    """A page could not be fetched, or is not what was asked for; names the URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, None, reason)

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str]]:  # type: ignore[override]
        return (type(self), (self.file, self.reason))


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How patient and how polite a fetcher is (see ``config/example.env``)."""

    timeout: float = 20.0  # seconds for one request, connect to last byte
    host_interval: float = 2.0  # seconds between two requests to one host
    retries: int = 4  # further tries after a 5xx, a network error or a cut-short body
    backoff_base: float = 1.0  # seconds before the first retry; doubles with each
    backoff_max: float = 60.0
    # A 429 is waited out (the host is held back meanwhile) this many times in a row, each
    # for at most retry_after_max seconds; a server asking for longer is an error.
    limited_max: int = 10
    retry_after_max: float = 600.0
    max_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies its answer, to ask next time whether it changed."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page. ``url`` is where it was found, after redirects."""

    url: str
    status: int
    text: str
    content_type: str
    validators: Validators
    not_modified: bool = False  # a 304: unchanged since the validators given

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")


def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("tgpipe")
    except PackageNotFoundError:  # run from a source tree that was never installed
        ours = "0+unknown"
    return f"tgpipe/{ours} (Telegram channel content pipeline; python-httpx/{httpx.__version__})"


class Pacer(Protocol):
    """Whose turn it is to ask a host: :class:`HostPacer` in one process,
    ``pipeline.sources.shared_pace.RedisHostPacer`` across processes."""

    async def wait(self, host: str) -> None:
        """Wait for this host's turn, and take it."""
        ...

    async def hold(self, host: str, seconds: float) -> None:
        """No request to ``host`` for ``seconds`` from now, whoever asks."""
        ...


class HostPacer:
    """Turns per host: at most one request to a host every ``interval`` seconds, and none
    while the host asked to be left alone (429 ``Retry-After``). In one process."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, host: str) -> None:
        """Wait for this host's turn, and take it."""
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            while (delay := self._next.get(host, 0.0) - self._clock()) > 0:
                until = self._next[host]
                await self._sleep(delay)
                # A hold (another request's 429) may have come meanwhile: it is waited out
                # too. Else the turn is ours, without asking the clock again.
                if self._next[host] <= until:
                    break
            self._next[host] = self._clock() + self.interval

    async def hold(self, host: str, seconds: float) -> None:
        """No request to ``host`` for ``seconds`` from now, whoever asks."""
        self._next[host] = max(self._next.get(host, 0.0), self._clock() + seconds)


class _Retry(Exception):
    """A failure worth another try (the server's or the network's, not the request's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Limited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


class Fetcher:
    """GET pages politely; one per process, shared by everything that fetches."""

    def __init__(
        self,
        options: FetchOptions = FetchOptions(),
        *,
        pacer: Pacer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self.pacer: Pacer = pacer or HostPacer(options.host_interval, sleep=sleep)
        self._sleep = sleep
        self._jitter = jitter
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent(), "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,
            max_redirects=options.max_redirects,
            transport=transport,
            trust_env=True,  # HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, validators: Validators | None = None) -> Page:
        """The page at ``url``; ``FetchError`` when it cannot be had."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(url, "not an http(s) address")
        host = parts.hostname
        failures = limited = 0
        while True:
            await self.pacer.wait(host)
            try:
                return await self._once(url, validators)
            except _Limited as exc:
                limited += 1
                if exc.wait > self.options.retry_after_max:
                    raise FetchError(
                        url, f"the server asks to wait {exc.wait:.0f} s before asking again (429)"
                    ) from None
                if limited > self.options.limited_max:
                    raise FetchError(
                        url,
                        f"the server answered 429 Too Many Requests {limited} times in a row",
                    ) from None
                log.warning("%s: 429, every request to %s waits %.1f s", url, host, exc.wait)
                await self.pacer.hold(host, exc.wait)
            except _Retry as exc:
                failures += 1
                if failures > self.options.retries:
                    raise FetchError(url, f"{exc.reason} ({failures} tries)") from None
                # Jittered so that many watches do not retry in step; capped after that.
                delay = self.options.backoff_base * 2 ** (failures - 1) * (0.5 + self._jitter())
                delay = min(self.options.backoff_max, delay)
                log.warning("%s: %s; trying again in %.1f s", url, exc.reason, delay)
                await self._sleep(delay)

    async def _once(self, url: str, validators: Validators | None) -> Page:
        headers = {"Accept": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            # The time-out bounds each read; this bounds a server that sends a byte a second.
            async with asyncio.timeout(self.options.timeout * 2):
                return await self._read(url, headers)
        except TimeoutError:
            raise _Retry("no complete answer in time") from None
        except httpx.TooManyRedirects:
            raise FetchError(url, f"more than {self.options.max_redirects} redirects") from None
        except httpx.TimeoutException:
            raise _Retry("no answer in time") from None
        except httpx.RemoteProtocolError as exc:
            raise _Retry(f"the answer was cut short ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retry(f"cannot connect: {exc or type(exc).__name__}") from None

    async def _read(self, url: str, headers: dict[str, str]) -> Page:
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            final = str(response.url)
            if status == 304:
                return Page(final, status, "", "", _validators(response), not_modified=True)
            if status == 429:
                raise _Limited(_retry_after(response.headers.get("Retry-After")))
            if status >= 500:
                raise _Retry(f"the server answered {status} {response.reason_phrase}".rstrip())
            if status >= 400:
                raise FetchError(url, _refusal(status, response.reason_phrase))
            limit = self.options.max_bytes
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(
                    url, f"the page is larger than {_size(limit)} ({_size(int(declared))})"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise FetchError(url, f"the page is larger than {_size(limit)}")
            content_type, charset = _content_type(response.headers.get("Content-Type", ""))
            return Page(
                final, status, _decode(bytes(body), charset), content_type, _validators(response)
            )


def _validators(response: httpx.Response) -> Validators:
    return Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))


def _retry_after(raw: str | None) -> float:
    """Seconds a 429 asks to wait: a number, or an HTTP date; a few seconds if it says none."""
    if raw is None or not raw.strip():
        return 5.0
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - now_utc()).total_seconds())
    except (TypeError, ValueError):
        return 5.0


def _refusal(status: int, phrase: str) -> str:
    if status == 404:
        return "no such page (404 Not Found)"
    if status in (401, 403):
        return f"the server refuses to show it ({status} {phrase})"
    return f"the server answered {status} {phrase}".rstrip()


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB"


def _content_type(header: str) -> tuple[str, str | None]:
    kind, _, params = header.partition(";")
    match = re.search(r'charset\s*=\s*"?([\w.:-]+)', params, re.IGNORECASE)
    return kind.strip().lower(), match.group(1) if match else None


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def _decode(body: bytes, charset: str | None) -> str:
    """The page as text: by the charset the server named, else the page's own <meta>, else
    UTF-8 (what Telegram serves). Undecodable bytes become U+FFFD, never an exception."""
    if charset is None:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii") if match else None
    try:
        encoding = codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        encoding = "utf-8"
    return body.decode(encoding, errors="replace")
