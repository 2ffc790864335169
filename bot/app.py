"""Building and running the bot: `tgpipe run`.

Long-lived objects (settings, the session factory) travel as dispatcher data, never as
globals, so tests build as many independent bots as they like.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import BotCommand
from aiogram.utils.token import TokenValidationError

from bot.access import AccessMiddleware, ChatAdmins
from bot.delivery import Courier
from bot.errors import reply_with_error
from bot.handlers import create_routers
from bot.handlers.help import COMMANDS
from bot.middlewares import DbSessionMiddleware, InFlightUpdates, Throttle
from bot.publisher import Publisher
from bot.scheduler import Runtime, start_scheduler, stop_scheduler
from bot.shared import RedisAdminBook, RedisFloodBook, redis_prefix
from bot.webhook import serve_webhook, webhook_path
from config.settings import Settings
from pipeline.errors import ConfigError, TgpipeError
from pipeline.reactions import ReactionRecorder
from pipeline.sources.fetch import Fetcher
from pipeline.sources.shared_pace import RedisHostPacer
from pipeline.store import migrate
from pipeline.store.db import SessionFactory, create_engine, create_session_factory

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


class _Session(AiohttpSession):
    """aiogram's aiohttp session, whose ``close()`` waits 250 ms for TLS connections to shut
    down gracefully: it skips that wait when the Bot API server is plain http (a local
    ``telegram-bot-api``), where there are none and the wait would only delay every exit."""

    async def close(self) -> None:
        if self.api.base.startswith("https:"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


def create_bot(settings: Settings, command: str = "tgpipe run") -> Bot:
    """The aiogram client for the configured token and Bot API server."""
    if settings.bot_token is None:
        raise ConfigError(
            f"TGPIPE_BOT_TOKEN is not set: `{command}` needs the token from @BotFather"
        )
    session = _Session(api=TelegramAPIServer.from_base(settings.api_base))
    try:
        return Bot(
            settings.bot_token.get_secret_value(),
            session=session,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
    except TokenValidationError:
        raise ConfigError(
            "TGPIPE_BOT_TOKEN is not a valid bot token (expected 123456:ABC...)"
        ) from None


def create_dispatcher(
    settings: Settings,
    session_factory: SessionFactory,
    redis: Redis | None = None,
    bot_id: int = 0,
) -> Dispatcher:
    """The dispatcher with its middlewares and routers; with ``redis``, the FSM, the admin
    cache and the throttle keep their state there, shared by every instance of the bot."""
    if redis is None:
        dispatcher = Dispatcher(settings=settings, session_factory=session_factory)
        admins = ChatAdmins(ttl=settings.admin_cache_seconds)
        throttle = Throttle(settings.throttle_limit, settings.throttle_window)
    else:
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage

        storage = RedisStorage(redis, key_builder=DefaultKeyBuilder(with_bot_id=True))
        dispatcher = Dispatcher(storage=storage, settings=settings, session_factory=session_factory)
        prefix = redis_prefix(bot_id)
        admins = ChatAdmins(ttl=settings.admin_cache_seconds, book=RedisAdminBook(redis, prefix))
        throttle = Throttle(
            settings.throttle_limit, settings.throttle_window, book=RedisFloodBook(redis, prefix)
        )
    in_flight = InFlightUpdates()
    dispatcher.update.outer_middleware(in_flight)
    dispatcher.update.outer_middleware(DbSessionMiddleware(session_factory))
    # What people ask: throttled first (a flood costs nothing further), then who is asking.
    dispatcher["chat_admins"] = admins
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.outer_middleware(throttle)
        observer.outer_middleware(AccessMiddleware(admins))
    # Reactions are recorded in batches; on shutdown the updates in hand still get stored
    # (after the handlers in progress, which may add to them).
    recorder = ReactionRecorder(session_factory)
    dispatcher["reactions"] = recorder
    dispatcher.shutdown.register(in_flight.drain)
    dispatcher.shutdown.register(recorder.close)
    dispatcher.errors.register(reply_with_error, ExceptionTypeFilter(TgpipeError))
    dispatcher.include_routers(*create_routers())
    return dispatcher


def _redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    from redis.asyncio import Redis  # only with TGPIPE_REDIS_URL

    return Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)


async def _check_redis(redis: Redis) -> None:
    from redis.exceptions import RedisError

    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        raise ConfigError(f"cannot reach Redis at TGPIPE_REDIS_URL: {error}") from None


async def run_bot(
    settings: Settings, *, handle_signals: bool = True, webhook_url: str | None = None
) -> None:
    """Run the bot until SIGTERM/SIGINT (or ``stop_polling``): by long polling, or with
    ``webhook_url``, serving Telegram's updates over HTTP (bot/webhook.py)."""
    bot = create_bot(settings)  # a missing or malformed token fails before anything starts
    if webhook_url is not None:
        webhook_path(webhook_url)  # a malformed URL fails before anything starts too
    engine = create_engine(settings.database_url)
    redis = _redis(settings)
    # One pace per host for every watch of this process, and of every process with Redis.
    pacer = RedisHostPacer(redis, settings.fetch_interval) if redis is not None else None
    fetcher = Fetcher(settings.fetch_options(), pacer=pacer)
    try:
        if redis is not None:
            await _check_redis(redis)
        await migrate.ensure_current(engine, auto_upgrade=settings.is_sqlite)
        factory = create_session_factory(engine)
        dispatcher = create_dispatcher(settings, factory, redis, bot.id)
        try:
            await bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in COMMANDS.items()]
            )
            courier = Courier(
                Publisher(bot, chat_interval=settings.chat_interval), factory, settings.policy()
            )
            runtime = Runtime(
                key=courier.owner,
                bot=bot,
                factory=factory,
                courier=courier,
                admin_ids=settings.admin_ids,
                watching=settings.watch_context(fetcher),
            )
            stop = asyncio.Event()
            delivering = asyncio.create_task(courier.serve(stop), name="delivery")
            scheduler = start_scheduler(runtime)
            dispatcher["scheduler"] = scheduler
            dispatcher["courier"] = courier
            log.info("tgpipe running as %s", courier.owner)
            try:
                if webhook_url is not None:
                    await serve_webhook(
                        dispatcher,
                        bot,
                        settings,
                        webhook_url,
                        factory=factory,
                        courier=courier,
                        redis=redis,
                        handle_signals=handle_signals,
                    )
                else:
                    # A webhook left by an earlier `run --webhook` would make polling fail.
                    if (await bot.get_webhook_info()).url:
                        log.warning("removing the webhook set earlier: polling instead")
                        await bot.delete_webhook()
                    await dispatcher.start_polling(
                        bot,
                        handle_signals=handle_signals,
                        # The HTTP session must outlive polling: deliveries in flight at
                        # SIGTERM still need their answers (it is closed below, after them).
                        close_bot_session=False,
                        allowed_updates=dispatcher.resolve_used_update_types(),
                    )
            finally:
                # Stop taking new work, let what is being sent finish and be recorded.
                stop.set()
                stop_scheduler(runtime, scheduler)
                await delivering
        except TelegramUnauthorizedError:
            raise ConfigError("Telegram refused TGPIPE_BOT_TOKEN (401 Unauthorized)") from None
        except TelegramNetworkError as exc:
            raise TgpipeError(f"cannot reach the Bot API at {settings.api_base}: {exc}") from None
    finally:
        await bot.session.close()
        await fetcher.aclose()
        await engine.dispose()
        if redis is not None:
            await redis.aclose()
    log.info("tgpipe stopped")
