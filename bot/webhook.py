"""`tgpipe run --webhook URL`: updates POSTed by Telegram instead of long polling.

One aiohttp server answers three paths:

* the webhook, at the path of URL: a request without the secret token set with setWebhook
  (header ``X-Telegram-Bot-Api-Secret-Token``) gets 401 and is not read; a good one is
  answered at once and handled in the background, as polling would;
* ``/healthz``: 200 when the store (and Redis, when used) answer, else 503 with which one
  failed — for a load balancer or Kubernetes' probes;
* ``/metrics``: Prometheus text — publications by state and the queue's lag (read from the
  store, so every instance reports the same), and this instance's sends, 429s and failures.

Several instances may serve one webhook URL behind a load balancer: what they must share
moves to Redis (``bot/shared.py``), and the queue is the store's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy import text

from config.settings import Settings
from pipeline.errors import ConfigError
from pipeline.publish.queue import queue_health
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.types import now_utc

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.delivery import Courier

log = logging.getLogger(__name__)

_CHECK_TIMEOUT = 3.0  # seconds a health check waits for the store or Redis


def webhook_secret(settings: Settings) -> str:
    """The secret token: TGPIPE_WEBHOOK_SECRET, else one derived from the bot token (the
    same in every instance of the bot, and useless without the token)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    assert settings.bot_token is not None, "the bot is built before its webhook"
    token = settings.bot_token.get_secret_value().encode()
    return hmac.new(token, b"tgpipe webhook secret", hashlib.sha256).hexdigest()


def webhook_path(url: str) -> str:
    """Where the server takes updates: the path of the public URL (``/`` if it has none)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"--webhook {url!r}: give the public https:// URL Telegram posts to")
    return parts.path or "/"


class _Updates(SimpleRequestHandler):
    # aiogram's handler closes the bot's HTTP session when the server stops; ours must
    # outlive it, for the deliveries still in flight (run_bot closes it after them).
    async def close(self) -> None:
        return None


async def _check(what: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(what(), _CHECK_TIMEOUT)
    except Exception as error:  # any failure is the answer here, not a crash
        return f"failing: {type(error).__name__}: {error}"[:300]
    return "ok"


def health_check(factory: SessionFactory, redis: Redis | None) -> Callable[[web.Request], Any]:
    async def store() -> None:
        async with factory() as session:
            await session.execute(text("SELECT 1"))

    async def handle(request: web.Request) -> web.Response:
        checks = {"store": await _check(store)}
        if redis is not None:
            checks["redis"] = await _check(redis.ping)
        healthy = all(value == "ok" for value in checks.values())
        body = {"status": "ok" if healthy else "failing", **checks}
        return web.json_response(body, status=200 if healthy else 503)

    return handle


def metrics(factory: SessionFactory, courier: Courier) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        # The counters first: the store, read after, is then at least as new as they are.
        tally = courier.tally
        sent, deferred, failed = tally.sent_count, tally.deferred, tally.failed_count
        async with unit_of_work(factory) as session:
            health = await queue_health(session, now_utc())
        lines = [
            "# HELP tgpipe_publications Publications in the store, by state.",
            "# TYPE tgpipe_publications gauge",
            *(
                f'tgpipe_publications{{state="{state}"}} {count}'
                for state, count in sorted(health.by_state.items())
            ),
            "# HELP tgpipe_queue_lag_seconds How overdue the oldest due, unsent publication is.",
            "# TYPE tgpipe_queue_lag_seconds gauge",
            f"tgpipe_queue_lag_seconds {health.lag_seconds:.3f}",
            "# HELP tgpipe_sends_total Publications this instance sent.",
            "# TYPE tgpipe_sends_total counter",
            f"tgpipe_sends_total {sent}",
            "# HELP tgpipe_telegram_429_total 429 answers (too many requests) this instance got.",
            "# TYPE tgpipe_telegram_429_total counter",
            f"tgpipe_telegram_429_total {deferred}",
            "# HELP tgpipe_send_failures_total Publications this instance failed to send.",
            "# TYPE tgpipe_send_failures_total counter",
            f"tgpipe_send_failures_total {failed}",
        ]
        return web.Response(
            text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8"
        )

    return handle


async def serve_webhook(
    dispatcher: Dispatcher,
    bot: Bot,
    settings: Settings,
    url: str,
    *,
    factory: SessionFactory,
    courier: Courier,
    redis: Redis | None,
    handle_signals: bool = True,
) -> None:
    """Serve updates at ``url`` (setWebhook), /healthz and /metrics until SIGTERM/SIGINT."""
    path = webhook_path(url)
    secret = webhook_secret(settings)
    app = web.Application()
    _Updates(dispatcher, bot, secret_token=secret, handle_in_background=True).register(
        app, path=path
    )
    app.router.add_get("/healthz", health_check(factory, redis))
    app.router.add_get("/metrics", metrics(factory, courier))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = settings.webhook_listen.rpartition(":")
    stop = asyncio.Event()
    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    await dispatcher.emit_startup(bot=bot, **workflow)
    try:
        site = web.TCPSite(runner, host.strip("[]"), int(port))
        try:
            await site.start()
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {settings.webhook_listen} (TGPIPE_WEBHOOK_LISTEN): "
                f"{error.strerror}"
            ) from None
        # Listening first: Telegram starts posting as soon as the webhook is set.
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )
        log.info("taking updates at %s (listening on %s)", url, settings.webhook_listen)
        if handle_signals:
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        # The webhook stays set: another instance may still be serving it.
        if handle_signals:
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                with suppress(Exception):
                    loop.remove_signal_handler(number)
        await runner.cleanup()
        await dispatcher.emit_shutdown(bot=bot, **workflow)
