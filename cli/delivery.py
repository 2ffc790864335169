"""Delivery from the command line (`dispatch`, `post-next`): a courier on a bot for one run.

Kept apart from ``cli/publishing.py`` so that aiogram is imported only by the commands that
talk to Telegram.
"""

from __future__ import annotations

from aiogram import Bot

from bot.app import create_bot
from bot.delivery import Courier, Tally
from bot.notify import send_notices
from bot.publisher import Publisher
from cli.common import open_store, print_error
from config.settings import Settings
from pipeline.errors import NotFoundError
from pipeline.publish import autopost
from pipeline.publish.notices import unsent
from pipeline.publish.queue import schedule_post
from pipeline.publish.targets import find_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import PublicationState
from pipeline.store.types import now_utc


async def _tell(settings: Settings, factory: SessionFactory, bot: Bot) -> None:
    # The admins hear it in Telegram; cron's mail gets it on stderr too.
    async with unit_of_work(factory) as session:
        for notice in await unsent(session):
            print_error(f"tgpipe: {notice.text}")
    await send_notices(bot, factory, settings.admin_ids)


async def dispatch_now(settings: Settings) -> Tally:
    """Fire the autopost slots that are due, then deliver everything due now."""
    bot = create_bot(settings, "tgpipe dispatch")
    try:
        async with open_store(settings) as factory:
            async with unit_of_work(factory) as session:
                rule_ids = await autopost.enabled_rule_ids(session)
            for rule_id in rule_ids:
                await autopost.fire_and_refresh(factory, rule_id, now_utc())
            courier = Courier(
                Publisher(bot, chat_interval=settings.chat_interval), factory, settings.policy()
            )
            tally = await courier.run_due()
            await _tell(settings, factory, bot)
            return tally
    finally:
        await bot.session.close()


async def post_next(settings: Settings, chat: str) -> tuple[int, PublicationState, Tally]:
    """Queue the next draft for ``chat`` (oldest first, never content it has) and send it:
    the publication, its state afterwards, and what this process did."""
    bot = create_bot(settings, "tgpipe post-next")
    try:
        async with open_store(settings) as factory:
            now = now_utc()
            async with unit_of_work(factory) as session:
                target = await find_target(session, chat)
                post_id = await autopost.pick_draft(session, target)
                if post_id is None:
                    raise NotFoundError(f"no draft left for {chat} that it does not have yet")
                publication = await schedule_post(session, post_id, target, now)
                publication_id = publication.id
            courier = Courier(
                Publisher(bot, chat_interval=settings.chat_interval), factory, settings.policy()
            )
            # The chat's limits may hold it back for a moment (another process just sent).
            state = await courier.publish_now(publication_id)
            await _tell(settings, factory, bot)
            return publication_id, state, courier.tally
    finally:
        await bot.session.close()
