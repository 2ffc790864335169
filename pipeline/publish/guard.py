"""Never publish the same content to a channel twice, unless the admin insists.

A post is refused for a chat when any version of its content (the post, its canonical post,
or any duplicate of that) is already queued for, being sent to, or sent to that chat, or
was itself imported from that channel. The admin can force it (a deliberate re-post).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError, TgpipeError
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    Post,
    Publication,
    PublicationState,
)

# A publication in these states means the content is, or may already be, in the chat.
BLOCKING_STATES = (
    PublicationState.SCHEDULED,
    PublicationState.SENDING,
    PublicationState.SENT,
    PublicationState.UNKNOWN,
)


class DuplicatePublicationError(TgpipeError):
    """The content of a post is already in, or on its way to, the target chat."""


def same_chat_id(a: int | None, b: int | None) -> bool:
    """Bot API channel ids are -100<id>; Telegram Desktop exports write the bare id."""

    def bare(value: int) -> int:
        text = str(abs(value))
        return int(text[3:]) if value < 0 and text.startswith("100") else abs(value)

    return a is not None and b is not None and (a == b or bare(a) == bare(b))


def same_channel(target: Channel, other: Channel) -> bool:
    """``other`` (a channel posts were imported from) is the chat ``target`` publishes to."""
    return (
        other.id == target.id
        or (target.username is not None and other.username == target.username)
        or same_chat_id(target.chat_id, other.telegram_id)
        or same_chat_id(target.chat_id, other.chat_id)
    )


async def content_group(session: AsyncSession, post: Post) -> list[int]:
    """The ids of every stored version of ``post``'s content."""
    canonical = post.duplicate_of or post.id
    members = await session.scalars(
        select(Post.id).where(or_(Post.id == canonical, Post.duplicate_of == canonical))
    )
    return sorted(set(members) | {post.id})


async def check_publishable(session: AsyncSession, post_id: int, target: Channel) -> None:
    """Raise :class:`DuplicatePublicationError` when ``post_id``'s content is already queued
    for or sent to ``target``, or came from that channel."""
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    group = await content_group(session, post)
    same = "" if len(group) == 1 else f" (the same content as post(s) {_ids(group, post_id)})"
    planned = await session.scalar(
        select(Publication)
        .where(
            Publication.post_id.in_(group),
            Publication.channel_id == target.id,
            Publication.state.in_(BLOCKING_STATES),
        )
        .order_by(Publication.id)
        .limit(1)
    )
    if planned is not None:
        when = (
            f"sent {planned.sent_at:%Y-%m-%d %H:%M} UTC"
            if planned.state is PublicationState.SENT and planned.sent_at
            else f"{planned.state.value}, due {planned.due_at:%Y-%m-%d %H:%M} UTC"
        )
        raise DuplicatePublicationError(
            f"post {post_id}{same} is already planned for {target.display_name}: "
            f"publication {planned.id} of post {planned.post_id} ({when}); "
            "use --force to publish the same content again"
        )
    seen = await session.execute(
        select(Post.id, Channel, ChannelMessage.message_id)
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(ChannelMessage, ChannelMessage.post_id == Post.id)
        .where(Post.id.in_(group))
        .order_by(Post.id, ChannelMessage.message_id)
    )
    for member_id, channel, message_id in seen:
        if same_channel(target, channel):
            message = f" as message {message_id}" if message_id is not None else ""
            raise DuplicatePublicationError(
                f"post {post_id}{same} is already in {target.display_name}{message} "
                f"(post {member_id}, imported from that channel); "
                "use --force to publish the same content again"
            )


def _ids(group: list[int], post_id: int) -> str:
    return ", ".join(str(i) for i in group if i != post_id)
