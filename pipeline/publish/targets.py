"""Publishing targets: the chats tgpipe posts to, as `tgpipe channels add` checked them.

The check itself (getChat, getChatMember) talks to Telegram and lives in ``bot/targets.py``;
this module records its outcome and finds targets by the names admins use.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError, TgpipeError
from pipeline.posts import iso_utc
from pipeline.publish.guard import same_chat_id
from pipeline.publish.notices import tell
from pipeline.store.models import Channel, Publication, PublicationState
from pipeline.store.types import now_utc
from pipeline.usernames import normalise_username


class TargetError(TgpipeError):
    """The bot cannot publish to that chat; says why."""


@dataclass(frozen=True, slots=True)
class CheckedChat:
    """What Telegram said about a chat the bot may post to."""

    chat_id: int
    type: str  # channel, supergroup, group
    title: str
    username: str | None = None  # without '@'


_LINK = re.compile(
    r"^(?:https?://)?(?:t\.me|telegram\.me)/(?:s/)?(?:(c)/(\d+)|([A-Za-z]\w{3,31}))/(\d+)/?(?:\?.*)?$"
)


def parse_message_link(value: str) -> tuple[str, int]:
    """A message link (``t.me/channel/123``, ``t.me/c/1234567890/45`` for a private chat) as
    (the chat as the Bot API takes it, the message id)."""
    match = _LINK.match(value.strip())
    if match is None:
        raise TargetError(
            f"{value!r} is not a message link: use https://t.me/channel/123, or "
            "t.me/c/1234567890/45 for a private channel (Copy Link on the message)"
        )
    private, number, username, message_id = match.groups()
    chat = f"-100{number}" if private else f"@{username.lower()}"
    return chat, int(message_id)


def parse_chat(value: str) -> str | int:
    """'@name', 't.me/name' or a numeric id, as the Bot API's ``chat_id`` takes it."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    name = normalise_username(text)
    if not name or not all(ch.isalnum() or ch == "_" for ch in name) or "/" in name:
        raise TargetError(
            f"{value!r} is not a chat: use @name, a t.me/name link or a numeric id (-100...)"
        )
    return f"@{name}"


async def record_target(session: AsyncSession, chat: CheckedChat) -> Channel:
    """Store ``chat`` as a publishing target, merged with the channel imports know it as."""
    channel = await session.scalar(select(Channel).where(Channel.chat_id == chat.chat_id))
    if channel is None and chat.username:
        channel = await session.scalar(
            select(Channel).where(Channel.username == chat.username.lower())
        )
    if channel is None:
        for known in await session.scalars(
            select(Channel).where(Channel.telegram_id.is_not(None), Channel.chat_id.is_(None))
        ):
            if same_chat_id(chat.chat_id, known.telegram_id):
                channel = known
                break
    if channel is None:
        channel = Channel(title=chat.title)
        session.add(channel)
    channel.chat_id = chat.chat_id
    channel.chat_type = chat.type
    channel.title = chat.title
    if chat.username:
        channel.username = chat.username.lower()
    channel.target_since = channel.target_since or now_utc()
    channel.blocked_reason = None
    await session.flush()
    return channel


async def find_target(
    session: AsyncSession, name: str, scope: Collection[int] | None = None
) -> Channel:
    """The publishing target called ``name``; refuses chats not added or not postable. With
    ``scope`` (store ids), only those targets are looked at (and named in the error)."""
    wanted = parse_chat(name)
    query = select(Channel).where(Channel.target_since.is_not(None))
    if scope is not None:
        query = query.where(Channel.id.in_(scope))
    targets = list(await session.scalars(query.order_by(Channel.id)))
    for channel in targets:
        if (isinstance(wanted, int) and same_chat_id(wanted, channel.chat_id)) or (
            isinstance(wanted, str) and channel.username == wanted[1:].lower()
        ):
            if channel.blocked_reason:
                raise TargetError(
                    f"cannot publish to {channel.display_name}: {channel.blocked_reason} "
                    f"(fix it in Telegram, then run `tgpipe channels add {name}` again)"
                )
            return channel
    known = ", ".join(channel.display_name for channel in targets[:20]) or "none yet"
    raise NotFoundError(
        f"{name} is not a publishing target: add it with `tgpipe channels add {name}` "
        f"(targets: {known})"
    )


@dataclass(frozen=True, slots=True)
class TargetView:
    id: int
    chat_id: int
    name: str
    title: str
    type: str
    added: datetime
    blocked_reason: str | None
    scheduled: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "chat": self.name,
            "title": self.title,
            "type": self.type,
            "added_at": iso_utc(self.added),
            "blocked_reason": self.blocked_reason,
            "scheduled": self.scheduled,
        }


async def list_targets(
    session: AsyncSession, scope: Collection[int] | None = None
) -> list[TargetView]:
    """The publishing targets (with ``scope``, those of them), with what is scheduled."""
    scheduled = (
        select(Publication.channel_id, func.count().label("n"))
        .where(Publication.state == PublicationState.SCHEDULED)
        .group_by(Publication.channel_id)
        .subquery()
    )
    rows = await session.execute(
        select(Channel, func.coalesce(scheduled.c.n, 0))
        .outerjoin(scheduled, scheduled.c.channel_id == Channel.id)
        .where(
            Channel.target_since.is_not(None),
            Channel.id.in_(scope) if scope is not None else true(),
        )
        .order_by(Channel.title, Channel.id)
    )
    return [
        TargetView(
            id=channel.id,
            chat_id=channel.chat_id or 0,
            name=channel.display_name,
            title=channel.title,
            type=channel.chat_type or "channel",
            added=channel.target_since or channel.created_at,
            blocked_reason=channel.blocked_reason,
            scheduled=int(count),
        )
        for channel, count in rows
    ]


async def record_rights(
    session: AsyncSession, chat_id: int, *, can_post: bool, change: str, at: datetime
) -> Channel | None:
    """The bot's rights in chat ``chat_id`` changed (``change`` says how, for the admins).

    A publishing target the bot can no longer post to is held back — its scheduled
    publications wait, they are not failed — and the admins are told, once per change;
    when the bot may post again, the target is released and they are told that too. Chats
    that are not targets are ignored (None)."""
    channel = await session.scalar(
        select(Channel).where(Channel.chat_id == chat_id, Channel.target_since.is_not(None))
    )
    if channel is None:
        return None
    waiting = await session.scalar(
        select(func.count())
        .select_from(Publication)
        .where(
            Publication.channel_id == channel.id,
            Publication.state == PublicationState.SCHEDULED,
        )
    )
    name = channel.display_name
    if not can_post:
        channel.blocked_reason = change
        await tell(
            session,
            f"rights:{channel.id}:{at.isoformat()}",
            f"🚫 {change} in {name}: tgpipe cannot post there. {waiting or 0} scheduled "
            "publication(s) wait; make the bot an administrator allowed to post again, "
            "and they go out (those overdue by then are reported missed).",
        )
    elif channel.blocked_reason is not None:
        channel.blocked_reason = None
        await tell(
            session,
            f"rights:{channel.id}:{at.isoformat()}",
            f"✅ tgpipe can post to {name} again: {waiting or 0} scheduled publication(s) "
            "go out as planned.",
        )
    await session.flush()
    return channel
