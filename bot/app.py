"""Building and running the bot: `tgpipe run`.

Long-lived objects (settings, the session factory) travel as dispatcher data, never as
globals, so tests build as many independent bots as they like.
"""

from __future__ import annotations

import asyncio
import logging

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
from config.settings import Settings
from pipeline.errors import ConfigError, TgpipeError
from pipeline.reactions import ReactionRecorder
from pipeline.store import migrate
from pipeline.store.db import SessionFactory, create_engine, create_session_factory

log = logging.getLogger(__name__)


def create_bot(settings: Settings, command: str = "tgpipe run") -> Bot:
    """The aiogram client for the configured token and Bot API server."""
    if settings.bot_token is None:
        raise ConfigError(
            f"TGPIPE_BOT_TOKEN is not set: `{command}` needs the token from @BotFather"
        )
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base))
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


def create_dispatcher(settings: Settings, session_factory: SessionFactory) -> Dispatcher:
    dispatcher = Dispatcher(settings=settings, session_factory=session_factory)
    in_flight = InFlightUpdates()
    dispatcher.update.outer_middleware(in_flight)
    dispatcher.update.outer_middleware(DbSessionMiddleware(session_factory))
    # What people ask: throttled first (a flood costs nothing further), then who is asking.
    admins = ChatAdmins(ttl=settings.admin_cache_seconds)
    dispatcher["chat_admins"] = admins
    throttle = Throttle(settings.throttle_limit, settings.throttle_window)
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


async def run_bot(settings: Settings, *, handle_signals: bool = True) -> None:
    """Run the bot by long polling until SIGTERM/SIGINT (or ``stop_polling``)."""
    bot = create_bot(settings)  # a missing or malformed token fails before anything starts
    engine = create_engine(settings.database_url)
    try:
        await migrate.ensure_current(engine, auto_upgrade=settings.is_sqlite)
        factory = create_session_factory(engine)
        dispatcher = create_dispatcher(settings, factory)
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
            )
            stop = asyncio.Event()
            delivering = asyncio.create_task(courier.serve(stop), name="delivery")
            scheduler = start_scheduler(runtime)
            dispatcher["scheduler"] = scheduler
            dispatcher["courier"] = courier
            log.info("tgpipe running as %s", courier.owner)
            try:
                await dispatcher.start_polling(
                    bot,
                    handle_signals=handle_signals,
                    # The HTTP session must outlive polling: deliveries in flight at SIGTERM
                    # still need their answers (it is closed below, after them).
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
        await engine.dispose()
    log.info("tgpipe stopped")
