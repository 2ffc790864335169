"""Publishing from Telegram: /channels, /addchannel, /schedule, /now, /queue (with its
buttons), /cancel.

The work is the queue's (pipeline/publish/queue.py); here are the commands' syntax, the
replies and buttons, and the scope: a channel admin sees and touches their chats only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiogram import Bot, F, Router, html
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    User,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import ChatAdmins
from bot.delivery import Courier
from bot.filters import HasAccess
from bot.middlewares import AfterCommit
from bot.targets import check_chat
from config.settings import Settings
from pipeline.access import Access
from pipeline.errors import NotFoundError, UsageError
from pipeline.posts import require_post
from pipeline.publish import queue as queue_lib
from pipeline.publish.targets import (
    TargetView,
    find_target,
    list_targets,
    parse_message_link,
    record_target,
)
from pipeline.publish.when import WhenError, describe_local, parse_when
from pipeline.store.models import Channel, PublicationState
from pipeline.store.types import now_utc

log = logging.getLogger(__name__)

PAGE = 5
SCHEDULE_USAGE = (
    "Usage: /schedule ID WHEN [CHAT] — e.g. /schedule 12 18:30 @mychannel\n"
    "WHEN: now, +10m, +2h, 18:30 (the next such time), or 2026-12-24 09:00."
)
NOW_USAGE = "Usage: /now ID [CHAT] — publish post ID now, e.g. /now 12 @mychannel"
ADD_USAGE = (
    "Usage: /addchannel CHAT — @username, t.me/name or the chat's id; first make the bot an "
    "administrator there with the right to post"
)
FORWARD_USAGE = (
    "Usage: /forward LINK WHEN [CHAT] — e.g. /forward https://t.me/somechannel/123 18:30 "
    "@mychannel; or send /forward WHEN [CHAT] in reply to a message forwarded from a channel"
)
CANCEL_USAGE = "Usage: /cancel ID — the publication's id, as /queue shows it"


# The page of a button under an admin notice (bot/notify.py), not under /queue.
FROM_NOTICE = -1


class QueueAction(CallbackData, prefix="q"):
    """A button under /queue: ``action`` on publication ``id``, shown on ``page`` (or under
    a notice: :data:`FROM_NOTICE`)."""

    action: str  # cancel, now, move, sent, again, page
    id: int
    page: int = 0


class PlanTo(CallbackData, prefix="plan"):
    """A chat chosen for a post: publish ``post`` to channel ``chat`` at ``at`` (Unix time)."""

    post: int
    chat: int
    at: int


class PostAction(CallbackData, prefix="post"):
    """A button under /post: publish ``post`` now, or ask when (``when``)."""

    action: str  # now, when, dups
    post: int


class Moving(StatesGroup):
    when = State()  # waiting for a publication's new time


class Planning(StatesGroup):
    when = State()  # waiting for the time to publish a post at


class Forwarding(StatesGroup):
    chat = State()  # a forward waits for the chat it goes to


class ForwardTo(CallbackData, prefix="fwd"):
    """The chat chosen for a /forward sent without one (the forward waits in the FSM)."""

    chat: int  # its store id


# --- arguments ---------------------------------------------------------------------------


def _looks_like_chat(word: str) -> bool:
    return word.startswith(("@", "t.me/", "https://t.me/")) or word.lstrip("-").isdigit()


def parse_plan(args: str | None, *, needs_when: bool) -> tuple[int, str, str | None]:
    """``ID WHEN [CHAT]`` (or ``ID [CHAT]``): the post id, the time as typed, the chat."""
    words = (args or "").split()
    usage = SCHEDULE_USAGE if needs_when else NOW_USAGE
    if not words or not words[0].lstrip("#").isdigit():
        raise UsageError(usage)
    post_id, rest = int(words[0].lstrip("#")), words[1:]
    chat = None
    # The last word names the chat when it looks like one and a time is left before it
    # (in `/schedule 12 1700000000`, the number is a time, not a chat id).
    if rest and _looks_like_chat(rest[-1]) and (len(rest) > 1 or not needs_when):
        chat = rest.pop()
    when = " ".join(rest)
    if needs_when and not when:
        raise UsageError(usage)
    if not needs_when and when:
        raise UsageError(usage)
    return post_id, when or "now", chat


def _due(text: str, settings: Settings) -> datetime:
    try:
        return parse_when(text, tz=settings.tz, now=now_utc())
    except WhenError as error:
        raise WhenError(f"WHEN {error}") from None


# --- replies -----------------------------------------------------------------------------


def _target_line(target: TargetView) -> str:
    line = f"• {html.quote(target.name)} — {html.quote(target.title)} ({target.type})"
    if target.scheduled:
        line += f", {target.scheduled} scheduled"
    if target.blocked_reason:
        line += f"\n  ⚠️ {html.quote(target.blocked_reason)}"
    return line


async def cmd_channels(message: Message, session: AsyncSession, access: Access) -> None:
    targets = await list_targets(session, access.scope)
    if not targets:
        await message.answer(
            "No publishing targets yet. Make the bot an admin of your channel, then add it: "
            "/addchannel @channel."
        )
        return
    await message.answer("<b>Publishing targets</b>\n" + "\n".join(map(_target_line, targets)))


async def cmd_addchannel(
    message: Message,
    chat: re.Match[str],
    bot: Bot,
    session: AsyncSession,
    access: Access,
    chat_admins: ChatAdmins,
    after_commit: AfterCommit,
) -> None:
    """/addchannel CHAT: the same checks as `tgpipe channels add`; a channel admin may add
    only a chat they administer too."""
    checked = await check_chat(bot, chat[1])
    user_id = message.from_user.id if message.from_user else 0
    if not access.everything and not await chat_admins.is_admin(bot, checked.chat_id, user_id):
        raise UsageError(
            f"you are not an administrator of {chat[1]}: only its administrators (or the "
            "bot's admins) can make it a publishing target"
        )
    channel = await record_target(session, checked)
    await chat_admins.forget(checked.chat_id)  # the sender now manages it: ask again
    text = (
        f"✅ {html.quote(channel.display_name)} ({checked.type}, {html.quote(checked.title)}) "
        "is a publishing target."
    )
    after_commit.append(partial(message.answer, text))


async def _plan(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    post_id: int,
    target: Channel,
    due: datetime,
) -> str:
    publication = await queue_lib.schedule_post(session, post_id, target, due, created_by=user_id)
    when = _when_text(due, settings)
    parts = f" ({publication.size} messages)" if publication.size > 1 else ""
    notes = "".join(f"\nℹ️ {html.quote(note)}" for note in publication.notes)
    return (
        f"🗓 Publication <b>{publication.id}</b>: post {post_id} to "
        f"{html.quote(target.display_name)} {when}{parts}.{notes}"
    )


async def choose_chat(
    message: Message,
    session: AsyncSession,
    access: Access,
    question: str,
    button: Callable[[int], CallbackData],
) -> None:
    """No chat named and several possible: ask ``question`` with a button per chat
    (``button(store id)`` is its callback data)."""
    targets = [t for t in await list_targets(session, access.scope) if not t.blocked_reason]
    builder = InlineKeyboardBuilder()
    for target in targets:
        builder.button(text=target.name, callback_data=button(target.id))
    builder.adjust(2)
    await message.answer(question, reply_markup=builder.as_markup())


async def take_choice(
    session: AsyncSession,
    access: Access,
    state: FSMContext,
    chat_id: int,
    waiting: State,
    key: str,
) -> tuple[Channel, dict[str, Any]] | None:
    """What a button of :func:`choose_chat` chose: the chat (one of the sender's, else not
    found) and the request that waited for it in the FSM under ``key``, taken out; None when
    none waits (pressed twice, or after another request replaced it)."""
    target = await session.get(Channel, chat_id)
    if target is None or target.target_since is None or not access.allows(target.id):
        raise NotFoundError("no such chat")
    request = (await state.get_data()).get(key)
    if await state.get_state() != waiting.state or not isinstance(request, dict):
        return None
    await state.clear()
    return target, request


async def _choose_target(
    message: Message, session: AsyncSession, access: Access, post_id: int, due: datetime
) -> None:
    at = int(due.timestamp())
    await choose_chat(
        message,
        session,
        access,
        f"Where should post {post_id} go?",
        lambda chat: PlanTo(post=post_id, chat=chat, at=at),
    )


async def target_for(session: AsyncSession, access: Access, chat: str | None) -> Channel | None:
    """The chat named (within the sender's), or the one chat a command without a chat can
    mean; None when there are several to choose from."""
    if chat:
        return await find_target(session, chat, access.scope)
    targets = [t for t in await list_targets(session, access.scope) if not t.blocked_reason]
    if not targets:
        raise UsageError(
            "no publishing target yet: make the bot an admin of your channel, then "
            "/addchannel @channel"
        )
    return await session.get(Channel, targets[0].id) if len(targets) == 1 else None


def _when_text(due: datetime, settings: Settings) -> str:
    return "now" if due <= now_utc() else f"at {describe_local(due, settings.tz)}"


def _wake_if_due(after_commit: AfterCommit, courier: Courier | None, due: datetime) -> None:
    """Due now: the courier need not wait for its next look at the queue."""
    if courier is not None and due <= now_utc():
        after_commit.append(courier.wake.set)


async def _plan_or_ask(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    user_id: int,
    post_id: int,
    due: datetime,
    after_commit: AfterCommit,
    courier: Courier | None,
    chat: str | None = None,
) -> None:
    """Plan ``post_id`` for ``chat`` (or the one chat the admin has), or ask which chat."""
    await require_post(session, post_id, access.scope)  # outside one's chats: not found
    target = await target_for(session, access, chat)
    if target is None:
        await _choose_target(message, session, access, post_id, due)
        return
    text = await _plan(session, settings, user_id, post_id, target, due)
    after_commit.append(partial(message.answer, text))
    _wake_if_due(after_commit, courier, due)


async def cmd_schedule(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    """/schedule ID WHEN [CHAT], and /now ID [CHAT]: the same with WHEN now."""
    post_id, when, chat = parse_plan(command.args, needs_when=command.command != "now")
    due = _due(when, settings)
    user_id = message.from_user.id if message.from_user else 0
    await _plan_or_ask(
        message, session, settings, access, user_id, post_id, due, after_commit, courier, chat
    )


async def cmd_forward(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    """/forward LINK WHEN [CHAT], or WHEN [CHAT] in reply to a message forwarded from a
    channel: schedule a forward of that message."""
    words = (command.args or "").split()
    origin = message.reply_to_message.forward_origin if message.reply_to_message else None
    if words and "t.me/" in words[0]:
        source, message_id = parse_message_link(words.pop(0))
    elif isinstance(origin, MessageOriginChannel):
        chat = origin.chat
        source = f"@{chat.username}" if chat.username else str(chat.id)
        message_id = origin.message_id
    else:
        raise UsageError(FORWARD_USAGE)
    chat_name = words.pop() if len(words) > 1 and _looks_like_chat(words[-1]) else None
    if not words:
        raise UsageError(FORWARD_USAGE)
    due = _due(" ".join(words), settings)
    target = await target_for(session, access, chat_name)
    if target is None:
        await state.set_state(Forwarding.chat)
        await state.update_data(
            forward={"source": source, "message": message_id, "at": due.timestamp()}
        )
        await choose_chat(
            message,
            session,
            access,
            f"Where should {html.quote(source)} #{message_id} be forwarded?",
            lambda chat: ForwardTo(chat=chat),
        )
        return
    text = await _forward(session, settings, message.from_user, source, message_id, target, due)
    after_commit.append(partial(message.answer, text))
    _wake_if_due(after_commit, courier, due)


async def _forward(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    source: str,
    message_id: int,
    target: Channel,
    due: datetime,
) -> str:
    publication = await queue_lib.schedule_forward(
        session,
        source,
        [message_id],
        target,
        due,
        created_by=user.id if user else None,
    )
    return (
        f"↪️ Publication <b>{publication.id}</b>: forward of {html.quote(source)} "
        f"#{message_id} to {html.quote(target.display_name)} {_when_text(due, settings)}."
    )


async def on_forward_to(
    query: CallbackQuery,
    callback_data: ForwardTo,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    choice = await take_choice(
        session, access, state, callback_data.chat, Forwarding.chat, "forward"
    )
    if choice is None:
        await query.answer("That forward is no longer waiting: send /forward again.")
        return
    target, waiting = choice
    due = max(datetime.fromtimestamp(waiting["at"], UTC), now_utc())
    text = await _forward(
        session, settings, query.from_user, waiting["source"], waiting["message"], target, due
    )
    if isinstance(query.message, Message):
        after_commit.append(partial(query.message.edit_text, text))
    after_commit.append(query.answer)
    _wake_if_due(after_commit, courier, due)


async def on_plan_to(
    query: CallbackQuery,
    callback_data: PlanTo,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    if not access.allows(callback_data.chat):
        await query.answer("That chat is not one of yours.", show_alert=True)
        return
    target = await session.get(Channel, callback_data.chat)
    if target is None or target.target_since is None:
        await query.answer("That chat is no longer a publishing target.", show_alert=True)
        return
    await require_post(session, callback_data.post, access.scope)
    due = max(datetime.fromtimestamp(callback_data.at, UTC), now_utc())
    text = await _plan(session, settings, query.from_user.id, callback_data.post, target, due)
    if isinstance(query.message, Message):
        after_commit.append(partial(query.message.edit_text, text))
    after_commit.append(query.answer)
    _wake_if_due(after_commit, courier, due)


async def on_post_action(
    query: CallbackQuery,
    callback_data: PostAction,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    post_id = callback_data.post
    await require_post(session, post_id, access.scope)
    if not isinstance(query.message, Message):
        await query.answer()
        return
    if callback_data.action == "when":
        await state.set_state(Planning.when)
        await state.update_data(post=post_id)
        await query.message.answer(
            f"When should post {post_id} go out? Send a time: 18:30, +2h, 2026-12-24 09:00 …"
        )
        await query.answer()
        return
    await _plan_or_ask(
        query.message,
        session,
        settings,
        access,
        query.from_user.id,
        post_id,
        now_utc(),
        after_commit,
        courier,
    )
    after_commit.append(query.answer)


async def on_plan_time(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    post_id = int((await state.get_data())["post"])
    due = _due(message.text or "", settings)
    await state.clear()
    user_id = message.from_user.id if message.from_user else 0
    await _plan_or_ask(
        message, session, settings, access, user_id, post_id, due, after_commit, courier
    )


# --- /queue ------------------------------------------------------------------------------


def _item(view: queue_lib.PublicationView, settings: Settings) -> str:
    state = {"scheduled": "🗓", "sending": "📤", "unknown": "❓"}.get(view.state, "•")
    line = (
        f"{state} <b>{view.id}</b> {describe_local(view.due_at, settings.tz)} → "
        f"{html.quote(view.chat)}: {html.quote(view.title[:60])}"
    )
    if view.state == PublicationState.UNKNOWN.value:
        line += "\n   <i>sent or not? Telegram did not say before tgpipe stopped</i>"
    elif view.last_error:
        line += f"\n   <i>{html.quote(view.last_error[:120])}</i>"
    return line


def _buttons(view: queue_lib.PublicationView, page: int) -> list[InlineKeyboardButton]:
    def button(text: str, action: str) -> InlineKeyboardButton:
        data = QueueAction(action=action, id=view.id, page=page).pack()
        return InlineKeyboardButton(text=f"{text} {view.id}", callback_data=data)

    if view.state == PublicationState.SCHEDULED.value:
        return [button("✖ Cancel", "cancel"), button("🕑 Move", "move"), button("🚀 Now", "now")]
    if view.state == PublicationState.UNKNOWN.value:
        return [button("✔ It was sent", "sent"), button("↻ Send again", "again")]
    return []


async def _queue_page(
    session: AsyncSession, settings: Settings, access: Access, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    views = await queue_lib.list_queue(
        session, scope=access.scope, offset=page * PAGE, limit=PAGE + 1
    )
    if not views and page > 0:
        return await _queue_page(session, settings, access, 0)
    if not views:
        return "The queue is empty. Plan a post with /schedule ID WHEN.", None
    more, views = len(views) > PAGE, views[:PAGE]
    rows = [row for view in views if (row := _buttons(view, page))]
    nav = []
    if page > 0:
        data = QueueAction(action="page", id=0, page=page - 1).pack()
        nav.append(InlineKeyboardButton(text="‹ Earlier", callback_data=data))
    if more:
        data = QueueAction(action="page", id=0, page=page + 1).pack()
        nav.append(InlineKeyboardButton(text="Later ›", callback_data=data))
    if nav:
        rows.append(nav)
    title = f"<b>Queue</b>{f' · page {page + 1}' if page or more else ''}"
    text = "\n".join([title, *(_item(view, settings) for view in views)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def cmd_queue(
    message: Message, session: AsyncSession, settings: Settings, access: Access
) -> None:
    text, markup = await _queue_page(session, settings, access, 0)
    await message.answer(text, reply_markup=markup)


async def cmd_cancel(
    message: Message,
    publication: re.Match[str],
    session: AsyncSession,
    access: Access,
    after_commit: AfterCommit,
) -> None:
    publication_id = int(publication[1])
    await queue_lib.cancel(session, publication_id, access.scope)
    after_commit.append(partial(message.answer, f"✖ Publication {publication_id} cancelled."))


def usage_reply(text: str) -> Callable[[Message], Awaitable[object]]:
    async def cmd_usage(message: Message) -> None:
        await message.answer(text, parse_mode=None)

    return cmd_usage


async def on_queue_action(
    query: CallbackQuery,
    callback_data: QueueAction,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
    courier: Courier | None = None,
) -> None:
    action, pid, scope = callback_data.action, callback_data.id, access.scope
    answer = ""
    if action == "cancel":
        await queue_lib.cancel(session, pid, scope)
        answer = f"Publication {pid} cancelled."
    elif action == "now":
        await queue_lib.reschedule(session, pid, now_utc(), scope)
        answer = f"Publication {pid} is being sent."
    elif action in ("sent", "again"):
        await queue_lib.resolve_unknown(session, pid, sent=action == "sent", scope=scope)
        answer = f"Publication {pid} " + ("marked sent." if action == "sent" else "sent again.")
    elif action == "move":
        await queue_lib.get_publication(session, pid, scope)  # the scope check
        await state.set_state(Moving.when)
        await state.update_data(publication=pid)
        if isinstance(query.message, Message):
            await query.message.answer(
                f"When should publication {pid} go out instead? Send a time: 18:30, +2h, "
                "2026-12-24 09:00 … (/queue to leave it as it is)"
            )
        await query.answer()
        return
    if action in ("now", "again"):
        _wake_if_due(after_commit, courier, now_utc())
    if isinstance(query.message, Message):
        if callback_data.page == FROM_NOTICE:
            # The notice stays as it was told; what was done is answered, once.
            after_commit.append(partial(query.message.edit_reply_markup, reply_markup=None))
        else:
            text, markup = await _queue_page(session, settings, access, callback_data.page)
            after_commit.append(partial(query.message.edit_text, text, reply_markup=markup))
    after_commit.append(partial(query.answer, answer))


async def on_new_time(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    access: Access,
    state: FSMContext,
    after_commit: AfterCommit,
) -> None:
    publication_id = int((await state.get_data())["publication"])
    due = _due(message.text or "", settings)
    await queue_lib.reschedule(session, publication_id, due, access.scope)
    await state.clear()
    moved = f"🕑 Publication {publication_id} moved to {describe_local(due, settings.tz)}."
    after_commit.append(partial(message.answer, moved))


async def cmd_leave_move(message: Message, state: FSMContext) -> None:
    """A command while a time is awaited: the question is dropped, the command goes on."""
    await state.clear()
    raise SkipHandler


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasAccess())
    router.callback_query.filter(HasAccess())
    waiting = StateFilter(Moving.when, Planning.when)
    router.message.register(cmd_leave_move, waiting, F.text.startswith("/"))
    router.message.register(on_new_time, Moving.when, F.text)
    router.message.register(on_plan_time, Planning.when, F.text)
    router.message.register(cmd_channels, Command("channels"))
    chat = F.args.regexp(r"^\s*(\S+)\s*$").as_("chat")
    router.message.register(cmd_addchannel, Command("addchannel", magic=chat))
    router.message.register(usage_reply(ADD_USAGE), Command("addchannel"))
    router.message.register(cmd_schedule, Command("schedule", "now", magic=F.args))
    router.message.register(usage_reply(SCHEDULE_USAGE), Command("schedule"))
    router.message.register(usage_reply(NOW_USAGE), Command("now"))
    router.message.register(cmd_forward, Command("forward"))
    router.message.register(cmd_queue, Command("queue"))
    cancel_id = F.args.regexp(r"^\s*#?(\d+)\s*$").as_("publication")
    router.message.register(cmd_cancel, Command("cancel", magic=cancel_id))
    router.message.register(usage_reply(CANCEL_USAGE), Command("cancel"))
    router.callback_query.register(on_queue_action, QueueAction.filter())
    router.callback_query.register(on_plan_to, PlanTo.filter())
    router.callback_query.register(on_forward_to, ForwardTo.filter())
    router.callback_query.register(on_post_action, PostAction.filter(F.action != "dups"))
    return router
