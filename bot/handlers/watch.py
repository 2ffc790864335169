"""/watch: watched channels from Telegram — list (with Pause / Resume / Remove buttons), add,
pause, resume, remove; the work is pipeline/sources/watches.py's.

A global admin may watch any channel, with or without a chat to queue for; an admin of a
target chat only for that chat, and sees only the watches queueing for their chats.
"""

from __future__ import annotations

import re
from functools import partial

from aiogram import F, Router, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from bot.filters import HasAccess
from bot.handlers.queue import target_for, usage_reply
from bot.middlewares import AfterCommit
from bot.scheduler import look_now
from config.settings import Settings
from pipeline.access import Access
from pipeline.errors import UsageError
from pipeline.publish.when import describe_duration, parse_duration
from pipeline.sources import watches
from pipeline.sources.addresses import ChannelAddress, parse_address
from pipeline.store.models import WatchPolicy
from pipeline.store.types import now_utc

USAGE = (
    "Usage:\n/watch — the watched channels\n"
    "/watch add @channel [every 15m] [to @chat] [after 2h] [originals] — read the channel's "
    "web preview every 15 minutes and import its new posts; with a chat, queue each new one "
    "there 2 hours after it is found (originals: not what it forwarded)\n"
    "/watch pause ID, /watch resume ID, /watch remove ID"
)

_DONE = {"pause": "paused", "resume": "resumed", "remove": "removed"}

# "/watch add @channel every 15m to @chat after 2h originals", the parts after the channel
# in any order.
_ADD = re.compile(r"^\s*add\s+(\S+)((?:\s+\S+)*)\s*$", re.IGNORECASE)
_PART = re.compile(r"(every|to|after)\s+(\S+)|(originals)", re.IGNORECASE)


class WatchAction(CallbackData, prefix="watch"):
    action: str  # pause, resume, remove
    id: int


def _line(view: watches.WatchView) -> str:
    queue = (
        f" → {html.quote(view.target)} after {describe_duration(view.delay)} ({view.policy})"
        if view.target
        else ""
    )
    state = {"on": "", "paused": " · ⏸ paused"}.get(view.state, f" · ⚠️ {view.state}")
    error = f"\n    {html.quote(view.last_error)}" if view.last_error else ""
    return (
        f"👁 <b>{view.id}</b> {html.quote(view.channel)} every "
        f"{describe_duration(view.every)}{queue}{state}{error}"
    )


async def _page(session: AsyncSession, access: Access) -> tuple[str, InlineKeyboardMarkup | None]:
    views = await watches.list_watches(session, access.scope)
    if not views:
        return "No watched channels. Add one: /watch add @channel", None
    rows = [
        [
            InlineKeyboardButton(
                text=f"▶ Resume {view.id}" if view.paused else f"⏸ Pause {view.id}",
                callback_data=WatchAction(
                    action="resume" if view.paused else "pause", id=view.id
                ).pack(),
            ),
            InlineKeyboardButton(
                text=f"🗑 Remove {view.id}",
                callback_data=WatchAction(action="remove", id=view.id).pack(),
            ),
        ]
        for view in views
    ]
    text = "<b>Watched channels</b>\n" + "\n".join(_line(view) for view in views)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def cmd_watch(message: Message, session: AsyncSession, access: Access) -> None:
    text, markup = await _page(session, access)
    await message.answer(text, reply_markup=markup)


async def cmd_watch_add(
    message: Message,
    adding: re.Match[str],
    session: AsyncSession,
    settings: Settings,
    access: Access,
    after_commit: AfterCommit,
    scheduler: AsyncIOScheduler | None = None,
) -> None:
    address = parse_address(adding[1], settings.preview_base)
    if not isinstance(address, ChannelAddress):
        raise UsageError(f"{adding[1]}: not a channel (give @channel or t.me/channel)")
    rest = adding[2].strip()
    every, chat, delay, policy = watches.DEFAULT_EVERY, None, "0", WatchPolicy.ALL
    for part in _PART.finditer(rest):
        word, value, originals = part.groups()
        if originals:
            policy = WatchPolicy.ORIGINALS
        elif word.lower() == "every":
            every = parse_duration(value)
        elif word.lower() == "to":
            chat = value
        else:
            delay = value
    if leftover := _PART.sub("", rest).strip():
        raise UsageError(f"cannot read {leftover!r}\n\n{USAGE}")
    # Only a global admin watches without a chat: a chat's admin queues for their chat.
    target = await target_for(session, access, chat) if chat or not access.everything else None
    if target is None and not access.everything:
        raise UsageError("name the chat to queue for: /watch add @channel to @yourchat")
    wait = parse_duration(delay)
    watch = await watches.add_watch(
        session,
        address.username,
        now=now_utc(),
        every=every,
        target=target,
        delay=wait,
        policy=policy,
        created_by=message.from_user.id if message.from_user else None,
    )
    (view,) = [v for v in await watches.list_watches(session) if v.id == watch.id]
    after_commit.append(
        partial(
            message.answer,
            f"✅ Watch {watch.id} added; the first look comes within seconds (it only notes "
            f"where the channel stands):\n{_line(view)}",
        )
    )
    after_commit.append(partial(look_now, scheduler))


async def cmd_watch_change(
    message: Message,
    change: re.Match[str],
    session: AsyncSession,
    access: Access,
    after_commit: AfterCommit,
    scheduler: AsyncIOScheduler | None = None,
) -> None:
    verb, watch_id = change[1].lower(), int(change[2])
    await _change(session, access, verb, watch_id)
    after_commit.append(partial(message.answer, f"Watch {watch_id} {_DONE[verb]}."))
    if verb == "resume":
        after_commit.append(partial(look_now, scheduler))


async def _change(session: AsyncSession, access: Access, verb: str, watch_id: int) -> None:
    if verb == "remove":
        await watches.remove_watch(session, watch_id, access.scope)
    else:
        await watches.set_paused(session, watch_id, verb == "pause", now_utc(), access.scope)


async def on_watch_action(
    query: CallbackQuery,
    callback_data: WatchAction,
    session: AsyncSession,
    access: Access,
    after_commit: AfterCommit,
    scheduler: AsyncIOScheduler | None = None,
) -> None:
    await _change(session, access, callback_data.action, callback_data.id)
    if callback_data.action == "resume":
        after_commit.append(partial(look_now, scheduler))
    if isinstance(query.message, Message):
        text, markup = await _page(session, access)
        after_commit.append(partial(query.message.edit_text, text, reply_markup=markup))
    done = _DONE[callback_data.action]
    after_commit.append(partial(query.answer, f"Watch {callback_data.id} {done}."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.callback_query.filter(HasAccess())
    router.message.register(cmd_watch, Command("watch", magic=~F.args))
    add = F.args.regexp(_ADD).as_("adding")
    router.message.register(cmd_watch_add, Command("watch", magic=add))
    change = F.args.regexp(r"^\s*(pause|resume|remove)\s+#?(\d+)\s*$", flags=re.I).as_("change")
    router.message.register(cmd_watch_change, Command("watch", magic=change))
    router.message.register(usage_reply(USAGE), Command("watch"))
    router.callback_query.register(on_watch_action, WatchAction.filter())
    return router
