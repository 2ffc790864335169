"""/stats [CHAT]: a channel's figures as text, and its chart as a photo."""

from __future__ import annotations

import asyncio

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from config.settings import Settings
from pipeline.access import Access
from pipeline.channels import find_channel
from pipeline.errors import NotFoundError
from pipeline.stats.chart import render_chart
from pipeline.stats.report import channel_stats, channel_zone, channels_with_history, summary_lines
from pipeline.store.models import Channel


class StatsOf(CallbackData, prefix="stats"):
    """The channel chosen when /stats had several to show."""

    chat: int  # its store id


async def _send_stats(
    message: Message, session: AsyncSession, settings: Settings, channel: Channel
) -> None:
    stats = await channel_stats(
        session, channel, zone=await channel_zone(session, channel.id, settings.timezone)
    )
    head, *rest = summary_lines(stats)
    await message.answer("\n".join([f"📊 <b>{html.quote(head)}</b>", *map(html.quote, rest)]))
    if stats.has_chart:
        # matplotlib draws for a few hundred milliseconds: not on the event loop.
        png = await asyncio.to_thread(render_chart, stats)
        await message.answer_photo(
            BufferedInputFile(png, filename=f"stats-{channel.id}.png"),
            caption=f"📈 {html.quote(stats.channel)}: best hours and recent reactions",
        )


async def cmd_stats(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    access: Access,
) -> None:
    wanted = (command.args or "").strip()
    if wanted:
        channel = await find_channel(session, wanted, access.scope)
        await _send_stats(message, session, settings, channel)
        return
    channels = await channels_with_history(session, access.scope)
    if not channels:
        await message.answer(
            "📊 None of your channels has a history yet: send its export as a document "
            "(/import), or publish to it, and the stats follow."
        )
    elif len(channels) == 1:
        await _send_stats(message, session, settings, channels[0])
    else:
        builder = InlineKeyboardBuilder()
        for channel in channels[:50]:
            builder.button(text=channel.display_name, callback_data=StatsOf(chat=channel.id))
        builder.adjust(2)
        await message.answer("📊 Stats of which channel?", reply_markup=builder.as_markup())


async def cmd_stats_of(
    query: CallbackQuery,
    callback_data: StatsOf,
    session: AsyncSession,
    settings: Settings,
    access: Access,
) -> None:
    channel = await session.get(Channel, callback_data.chat)
    if channel is None or not access.allows(channel.id):
        raise NotFoundError("no such channel")
    await query.answer()
    if isinstance(query.message, Message):
        await _send_stats(query.message, session, settings, channel)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.callback_query.filter(HasAccess())
    router.message.register(cmd_stats, Command("stats"))
    router.callback_query.register(cmd_stats_of, StatsOf.filter())
    return router
