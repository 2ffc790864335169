"""The publications queue as admins use it: plan, list, cancel, reschedule, settle.

Every function works inside the caller's unit of work (it adds and flushes, never commits).
Sending is not here: ``pipeline.publish.claims`` hands due publications to the publisher.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pipeline.errors import NotFoundError, TgpipeError
from pipeline.posts import iso_utc
from pipeline.publish.guard import check_publishable
from pipeline.publish.render import render_post
from pipeline.store.models import (
    Channel,
    Post,
    PostStatus,
    Publication,
    PublicationMode,
    PublicationState,
)
from pipeline.store.types import now_utc

# What the queue shows by default: what is still to happen or needs a person.
OPEN_STATES = (
    PublicationState.SCHEDULED,
    PublicationState.SENDING,
    PublicationState.UNKNOWN,
)
# Telegram's forwardMessages/copyMessages take at most 100 ids.
MAX_FORWARD_IDS = 100


class QueueError(TgpipeError):
    """The queue cannot do that to this publication (wrong state, bad request)."""


async def schedule_post(
    session: AsyncSession,
    post_id: int,
    target: Channel,
    due_at: datetime,
    *,
    force: bool = False,
    silent: bool = False,
    created_by: int | None = None,
    autopost_rule_id: int | None = None,
) -> Publication:
    """Queue ``post_id`` for ``target`` at ``due_at`` (aware), refusing content already
    planned for or sent to that chat unless ``force``."""
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    if not force:
        await check_publishable(session, post_id, target)
    rendering = render_post(post.text, post.entities, post.media)
    if not rendering.messages:
        left_out = "; ".join(rendering.missing) or "no text and no media"
        raise QueueError(f"post {post_id} has nothing tgpipe can send: {left_out}")
    publication = Publication(
        post_id=post_id,
        mode=PublicationMode.SEND,
        channel_id=target.id,
        due_at=due_at,
        silent=silent,
        size=rendering.size,
        created_by=created_by,
        autopost_rule_id=autopost_rule_id,
        notes=[f"media left out: {item}" for item in rendering.missing],
    )
    session.add(publication)
    if post.status is PostStatus.DRAFT:
        post.status = PostStatus.QUEUED
    await session.flush()
    return publication


async def schedule_forward(
    session: AsyncSession,
    from_chat: str,
    message_ids: Sequence[int],
    target: Channel,
    due_at: datetime,
    *,
    copy: bool = False,
    silent: bool = False,
    created_by: int | None = None,
) -> Publication:
    """Queue a forward (or, with ``copy``, a copy without the 'forwarded from' header) of
    existing messages; an album is forwarded whole when all its ids are given."""
    ids = sorted(set(message_ids))
    if not ids:
        raise QueueError("forward needs at least one message id")
    if any(i <= 0 for i in ids):
        raise QueueError(f"message ids are positive numbers, got {min(ids)}")
    if len(ids) > MAX_FORWARD_IDS:
        raise QueueError(f"at most {MAX_FORWARD_IDS} messages per forward, got {len(ids)}")
    publication = Publication(
        mode=PublicationMode.COPY if copy else PublicationMode.FORWARD,
        channel_id=target.id,
        from_chat=from_chat,
        from_message_ids=ids,
        due_at=due_at,
        silent=silent,
        size=len(ids),
        created_by=created_by,
    )
    session.add(publication)
    await session.flush()
    return publication


async def get_publication(
    session: AsyncSession, publication_id: int, scope: Collection[int] | None = None
) -> Publication:
    """The publication ``publication_id``; with ``scope`` (store channel ids), one to another
    chat is not found."""
    publication = await session.get(Publication, publication_id)
    if publication is None or (scope is not None and publication.channel_id not in scope):
        raise NotFoundError(f"no publication with id {publication_id}")
    return publication


async def cancel(
    session: AsyncSession, publication_id: int, scope: Collection[int] | None = None
) -> Publication:
    """Cancel a scheduled publication; one being sent or already sent cannot be."""
    publication = await get_publication(session, publication_id, scope)
    if publication.state is not PublicationState.SCHEDULED:
        raise QueueError(
            f"publication {publication_id} is {publication.state.value}: "
            "only scheduled publications can be cancelled"
        )
    publication.state = PublicationState.CANCELLED
    # Imported here: the claims (and the PostgreSQL dialect they load) are not needed to read
    # the queue, and `tgpipe queue` starts faster without them.
    from pipeline.publish.claims import release_post

    await release_post(session, publication)
    await session.flush()
    return publication


async def reschedule(
    session: AsyncSession,
    publication_id: int,
    due_at: datetime,
    scope: Collection[int] | None = None,
) -> Publication:
    """Move a scheduled (or failed, missed, cancelled: planned again) publication."""
    publication = await get_publication(session, publication_id, scope)
    movable = (
        PublicationState.SCHEDULED,
        PublicationState.FAILED,
        PublicationState.MISSED,
        PublicationState.CANCELLED,
    )
    if publication.state not in movable:
        raise QueueError(
            f"publication {publication_id} is {publication.state.value}: only scheduled, "
            "failed, missed or cancelled publications can be rescheduled"
        )
    if publication.state is not PublicationState.SCHEDULED and publication.post_id:
        # Planned again: the same content may have reached that chat meanwhile. (This
        # publication itself, failed, missed or cancelled, does not block it.)
        channel = await session.get_one(Channel, publication.channel_id)
        await check_publishable(session, publication.post_id, channel)
    publication.state = PublicationState.SCHEDULED
    publication.due_at = due_at
    publication.not_before = None
    publication.last_error = None
    publication.attempts = 0
    post = await session.get(Post, publication.post_id) if publication.post_id else None
    if post is not None and post.status is PostStatus.DRAFT:
        post.status = PostStatus.QUEUED
    await session.flush()
    return publication


async def resolve_unknown(
    session: AsyncSession,
    publication_id: int,
    *,
    sent: bool,
    scope: Collection[int] | None = None,
) -> Publication:
    """Settle a publication whose delivery is unknown: it was sent, or send it again."""
    publication = await get_publication(session, publication_id, scope)
    if publication.state is not PublicationState.UNKNOWN:
        raise QueueError(
            f"publication {publication_id} is {publication.state.value}: only unknown "
            "publications need resolving"
        )
    if sent:
        publication.state = PublicationState.SENT
        publication.sent_at = publication.claimed_at or now_utc()
        post = await session.get(Post, publication.post_id) if publication.post_id else None
        if post is not None:
            post.status = PostStatus.PUBLISHED
    else:
        publication.state = PublicationState.SCHEDULED
        publication.due_at = now_utc()
        publication.not_before = None
    publication.claimed_by = None
    publication.lease_until = None
    await session.flush()
    return publication


@dataclass(frozen=True, slots=True)
class PublicationView:
    id: int
    post_id: int | None
    chat: str
    chat_id: int | None
    mode: str
    due_at: datetime
    state: str
    attempts: int
    last_error: str | None
    message_ids: list[int]
    from_chat: str | None
    from_message_ids: list[int]
    silent: bool
    sent_at: datetime | None
    title: str
    autopost_rule_id: int | None
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "post_id": self.post_id,
            "chat": self.chat,
            "chat_id": self.chat_id,
            "mode": self.mode,
            "due_at": iso_utc(self.due_at),
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "message_ids": self.message_ids,
            "from_chat": self.from_chat,
            "from_message_ids": self.from_message_ids,
            "silent": self.silent,
            "sent_at": iso_utc(self.sent_at),
            "title": self.title,
            "autopost_rule_id": self.autopost_rule_id,
            "notes": self.notes,
        }


def _title(publication: Publication) -> str:
    if publication.post is not None:
        text = publication.post.text.strip()
        return text.splitlines()[0] if text else "(media only)"
    ids = ", ".join(str(i) for i in publication.from_message_ids)
    return f"{publication.mode.value} of {publication.from_chat} #{ids}"


async def list_queue(
    session: AsyncSession,
    *,
    chat: Channel | None = None,
    states: Sequence[PublicationState] | None = None,
    everything: bool = False,
    scope: Collection[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[PublicationView]:
    """Publications by due time; by default only those still open (scheduled, sending,
    unknown); ``everything`` includes the settled ones; ``scope``: only to those chats."""
    query = (
        select(Publication)
        .options(selectinload(Publication.post), selectinload(Publication.channel))
        .order_by(Publication.due_at, Publication.id)
    )
    if chat is not None:
        query = query.where(Publication.channel_id == chat.id)
    if scope is not None:
        query = query.where(Publication.channel_id.in_(scope))
    if offset or limit is not None:
        query = query.offset(offset or None).limit(limit)
    if states:
        query = query.where(Publication.state.in_(states))
    elif not everything:
        query = query.where(Publication.state.in_(OPEN_STATES))
    return [
        PublicationView(
            id=p.id,
            post_id=p.post_id,
            chat=p.channel.display_name,
            chat_id=p.channel.chat_id,
            mode=p.mode.value,
            due_at=p.due_at,
            state=p.state.value,
            attempts=p.attempts,
            last_error=p.last_error,
            message_ids=list(p.message_ids),
            from_chat=p.from_chat,
            from_message_ids=list(p.from_message_ids),
            silent=p.silent,
            sent_at=p.sent_at,
            title=_title(p),
            autopost_rule_id=p.autopost_rule_id,
            notes=list(p.notes),
        )
        for p in await session.scalars(query)
    ]


@dataclass(frozen=True, slots=True)
class QueueHealth:
    by_state: dict[str, int]  # every state, 0 where none
    lag_seconds: float  # how overdue the oldest due publication not sent yet is; 0: none


async def queue_health(session: AsyncSession, now: datetime) -> QueueHealth:
    """Publications by state, and the queue's lag (for /metrics)."""
    counts = dict.fromkeys((state.value for state in PublicationState), 0)
    for state, count in await session.execute(
        select(Publication.state, func.count()).group_by(Publication.state)
    ):
        counts[PublicationState(state).value] = count
    oldest = await session.scalar(
        select(func.min(Publication.due_at)).where(
            Publication.state == PublicationState.SCHEDULED, Publication.due_at <= now
        )
    )
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return QueueHealth(counts, lag)
