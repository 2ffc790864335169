"""/tz: the time zone an admin types and reads times in."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from bot.middlewares import AfterCommit
from config.settings import Settings
from pipeline.prefs import set_zone, zone_of
from pipeline.publish.when import describe_local


async def cmd_tz(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    after_commit: AfterCommit,
) -> None:
    user_id = message.from_user.id if message.from_user else 0
    wanted = (command.args or "").strip()
    if not wanted:
        own = await zone_of(session, user_id)
        now = describe_local(datetime.now(UTC), settings.tz)
        source = "your own" if own else "the bot's default (TGPIPE_TIMEZONE)"
        await message.answer(
            f"🕰 Times are in {html.quote(settings.timezone)}, {source}: it is {now}.\n"
            "Change it: /tz Europe/Berlin (an IANA name); /tz default to go back."
        )
        return
    zone = None if wanted.lower() == "default" else wanted
    await set_zone(session, user_id, zone)
    shown = zone or "the bot's default"
    after_commit.append(
        partial(message.answer, f"🕰 Your times are now read and shown in {html.quote(shown)}.")
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.message.register(cmd_tz, Command("tz"))
    return router
