"""Never publish the same content to a channel twice, unless the admin insists.

A post is refused for a chat when any version of its content (the post, its canonical post,
or any duplicate of that) is already queued for, being sent to, or sent to that chat, or
was itself imported from that channel. The admin can force it (a deliberate re-post).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.channels import normalise_username
from pipeline.errors import NotFoundError, TgpipeError
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    Post,
    PostStatus,
    Publication,
    PublicationMode,
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


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A target chat as admins write it: '@name', 't.me/name', or a numeric chat id."""

    username: str | None
    chat_id: int | None

    @classmethod
    def parse(cls, chat: str) -> ChatRef:
        text = chat.strip()
        digits = text.lstrip("-")
        if digits.isdigit():
            return cls(None, int(text))
        return cls(normalise_username(text) or None, None)

    def matches(self, other: str) -> bool:
        them = ChatRef.parse(other)
        if self.username is not None:
            return self.username == them.username
        return self.chat_id is not None and _same_id(self.chat_id, them.chat_id)

    def matches_channel(self, channel: Channel) -> bool:
        if self.username is not None:
            return channel.username == self.username
        return self.chat_id is not None and _same_id(self.chat_id, channel.telegram_id)


def _same_id(a: int | None, b: int | None) -> bool:
    """Bot API channel ids are -100<id>; Telegram Desktop exports write the bare id."""

    def bare(value: int) -> int:
        text = str(abs(value))
        return int(text[3:]) if value < 0 and text.startswith("100") else abs(value)

    return a is not None and b is not None and (a == b or bare(a) == bare(b))


async def _group(session: AsyncSession, post: Post) -> list[int]:
    canonical = post.duplicate_of or post.id
    members = await session.scalars(
        select(Post.id).where(or_(Post.id == canonical, Post.duplicate_of == canonical))
    )
    return sorted(set(members) | {post.id})


async def check_publishable(session: AsyncSession, post_id: int, target_chat: str) -> None:
    """Raise :class:`DuplicatePublicationError` when ``post_id``'s content is already queued
    for or sent to ``target_chat``, or came from that channel."""
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    target = ChatRef.parse(target_chat)
    group = await _group(session, post)
    same = "" if len(group) == 1 else f" (the same content as post(s) {_ids(group, post_id)})"
    planned = await session.scalars(
        select(Publication)
        .where(Publication.post_id.in_(group), Publication.state.in_(BLOCKING_STATES))
        .order_by(Publication.id)
    )
    for publication in planned:
        if target.matches(publication.target_chat):
            when = (
                f"sent {publication.sent_at:%Y-%m-%d %H:%M} UTC"
                if publication.state is PublicationState.SENT and publication.sent_at
                else f"{publication.state.value}, due {publication.due_at:%Y-%m-%d %H:%M} UTC"
            )
            raise DuplicatePublicationError(
                f"post {post_id}{same} is already planned for {publication.target_chat}: "
                f"publication {publication.id} of post {publication.post_id} ({when}); "
                "force it to publish the same content again"
            )
    seen = await session.execute(
        select(Post.id, Channel, ChannelMessage.message_id)
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(ChannelMessage, ChannelMessage.post_id == Post.id)
        .where(Post.id.in_(group))
        .order_by(Post.id, ChannelMessage.message_id)
    )
    for member_id, channel, message_id in seen:
        if target.matches_channel(channel):
            message = f" as message {message_id}" if message_id is not None else ""
            raise DuplicatePublicationError(
                f"post {post_id}{same} is already in {channel.display_name}{message} "
                f"(post {member_id}, imported from that channel); "
                "force it to publish the same content again"
            )


def _ids(group: list[int], post_id: int) -> str:
    return ", ".join(str(i) for i in group if i != post_id)


async def plan_publication(
    session: AsyncSession,
    post_id: int,
    target_chat: str,
    due_at: datetime,
    *,
    mode: PublicationMode = PublicationMode.SEND,
    force: bool = False,
    created_by: int | None = None,
) -> Publication:
    """Queue ``post_id`` for ``target_chat`` at ``due_at`` (aware), refusing duplicates unless
    ``force``. The caller's unit of work commits it."""
    if not force:
        await check_publishable(session, post_id, target_chat)
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    publication = Publication(
        post_id=post_id,
        mode=mode,
        target_chat=target_chat.strip(),
        due_at=due_at,
        created_by=created_by,
    )
    session.add(publication)
    if post.status is PostStatus.DRAFT:
        post.status = PostStatus.QUEUED
    await session.flush()
    return publication
