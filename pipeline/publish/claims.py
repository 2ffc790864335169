"""Exactly-once delivery: claim what is due, within Telegram's limits, and record outcomes.

The shape (DESIGN.md, "Publishing and scheduling"): a claim is one short transaction that
takes the dispatch lock row (SQLite's write lock / a PostgreSQL row lock, so claims from
every process are serial), picks due publications whose chats' limits allow them, sets them
``sending`` with an owner and a lease, charges the send log, and commits. Telegram is called
outside any transaction. Each outcome is recorded in a transaction of its own, and only by
the owner of the claim. A ``sending`` publication whose lease ran out (its owner died or
hung) becomes ``unknown``, and a person decides: it is never resent by itself.

The send limits are read from the send log inside the claim, so every process sharing the
store sees one budget.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pipeline.publish.notices import tell
from pipeline.publish.policy import Policy
from pipeline.publish.render import Rendering, render_post
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    Channel,
    Lock,
    Post,
    PostStatus,
    Publication,
    PublicationMode,
    PublicationState,
    SendLog,
)

log = logging.getLogger(__name__)

MINUTE = timedelta(seconds=60)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Claim:
    """A publication this process owns until it records the outcome (or the lease ends)."""

    publication_id: int
    owner: str
    channel_id: int
    chat_id: int
    chat_name: str
    chat_type: str
    mode: PublicationMode
    size: int
    attempts: int
    parts_done: int
    message_ids: list[int]
    silent: bool
    post_id: int | None = None
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    from_chat: str | None = None
    from_message_ids: list[int] = field(default_factory=list)


async def take_lock(session: AsyncSession) -> None:
    """Serialise with every other claim: the first statement of the transaction writes the
    lock row, so SQLite takes its write lock now (not on a later upgrade that could fail)
    and PostgreSQL holds the row until commit."""
    await session.execute(
        update(Lock).where(Lock.name == "dispatch").values(counter=Lock.counter + 1)
    )


def _owned(claim: Claim) -> Any:
    return and_(
        Publication.id == claim.publication_id,
        Publication.claimed_by == claim.owner,
        Publication.state.in_((PublicationState.SENDING, PublicationState.UNKNOWN)),
    )


async def settle_stale(session: AsyncSession, now: datetime, policy: Policy) -> None:
    """Expired leases become ``unknown``; publications long overdue become ``missed``.
    Both are told to the admins. Runs inside a claim (under the lock)."""
    stale = await session.scalars(
        select(Publication)
        .options(selectinload(Publication.channel))
        .where(Publication.state == PublicationState.SENDING, Publication.lease_until < now)
    )
    for publication in stale:
        publication.state = PublicationState.UNKNOWN
        publication.last_error = (
            f"the sender ({publication.claimed_by}) stopped while sending: "
            "it may or may not have been delivered"
        )
        log.warning("publication %d is unknown: %s", publication.id, publication.last_error)
        await tell(
            session,
            f"unknown:{publication.id}",
            f"⚠️ Publication {publication.id} to {publication.channel.display_name} may or may "
            "not have been delivered: tgpipe stopped while sending it. Check the channel, then "
            f"`tgpipe resolve {publication.id} --sent` or `--resend`.",
        )
    overdue = await session.scalars(
        select(Publication)
        .options(selectinload(Publication.channel))
        .where(
            Publication.state == PublicationState.SCHEDULED,
            Publication.due_at < now - policy.grace,
            Publication.attempts == 0,
            Publication.not_before.is_(None),
        )
    )
    for publication in overdue:
        publication.state = PublicationState.MISSED
        publication.last_error = (
            f"due {publication.due_at:%Y-%m-%d %H:%M} UTC while tgpipe was not running, "
            f"more than {_span(policy.grace)} ago"
        )
        await release_post(session, publication)
        await tell(
            session,
            f"missed:{publication.id}",
            f"⏰ Publication {publication.id} to {publication.channel.display_name} was missed: "
            f"{publication.last_error}. `tgpipe reschedule {publication.id} --at WHEN` plans "
            "it again.",
        )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


async def claim_due(
    factory: SessionFactory,
    *,
    owner: str,
    now: datetime,
    policy: Policy,
    max_claims: int = 30,
    channel_id: int | None = None,
    publication_id: int | None = None,
) -> list[Claim]:
    """Claim due publications the limits allow, at most one per chat, oldest first."""
    limits = policy.limits
    async with unit_of_work(factory) as session:
        await take_lock(session)
        await settle_stale(session, now, policy)
        sending = select(Publication.id).where(Publication.state == PublicationState.SENDING)
        # Deliveries still in flight count whatever their stamp: they have not reached
        # Telegram yet, or only just.
        used_now = await session.scalar(
            select(func.coalesce(func.sum(SendLog.messages), 0)).where(
                or_(SendLog.sent_at > now - SECOND, SendLog.publication_id.in_(sending))
            )
        )
        budget = limits.per_second - int(used_now or 0)
        if budget <= 0:
            return []
        busy = select(Publication.channel_id).where(Publication.state == PublicationState.SENDING)
        conditions = [
            Publication.state == PublicationState.SCHEDULED,
            Publication.due_at <= now,
            or_(Publication.not_before.is_(None), Publication.not_before <= now),
            or_(Channel.deferred_until.is_(None), Channel.deferred_until <= now),
            Channel.blocked_reason.is_(None),
            Publication.channel_id.not_in(busy),
        ]
        if channel_id is not None:
            conditions.append(Publication.channel_id == channel_id)
        if publication_id is not None:
            conditions.append(Publication.id == publication_id)
        # Only the first due publication of each chat is a candidate: one chat's backlog
        # never hides the others, and a claim reads a few rows, not the whole queue.
        first = (
            select(
                Publication.id,
                func.row_number()
                .over(
                    partition_by=Publication.channel_id,
                    order_by=(Publication.due_at, Publication.id),
                )
                .label("rank"),
            )
            .join(Channel, Channel.id == Publication.channel_id)
            .where(*conditions)
            .subquery()
        )
        query = (
            select(Publication)
            .join(first, first.c.id == Publication.id)
            .where(first.c.rank == 1)
            .order_by(Publication.due_at, Publication.id)
            .limit(max(max_claims * 5, 100))
        )
        candidates = list(await session.scalars(query))
        if not candidates:
            return []
        chats = {p.channel_id for p in candidates}
        per_chat = dict(
            (
                await session.execute(
                    select(SendLog.channel_id, func.sum(SendLog.messages))
                    .where(SendLog.channel_id.in_(chats), SendLog.sent_at > now - MINUTE)
                    .group_by(SendLog.channel_id)
                )
            ).all()
        )
        last_sent = dict(
            (
                await session.execute(
                    select(SendLog.channel_id, func.max(SendLog.sent_at))
                    .where(SendLog.channel_id.in_(chats))
                    .group_by(SendLog.channel_id)
                )
            ).all()
        )
        chosen: list[Publication] = []
        seen: set[int] = set()
        for publication in candidates:
            if len(chosen) >= max_claims or budget <= 0:
                break
            chat = publication.channel_id
            if chat in seen:
                continue  # one at a time per chat, in due order
            seen.add(chat)
            size = max(publication.size - publication.parts_done, 1)
            # An album bigger than a budget still goes once the budget is whole again.
            charge = min(size, limits.per_chat_per_minute)
            if int(per_chat.get(chat) or 0) + charge > limits.per_chat_per_minute:
                continue
            last = last_sent.get(chat)
            if last is not None and _aware(last) > now - timedelta(seconds=limits.chat_interval):
                continue
            if min(size, limits.per_second) > budget:
                break  # keep the order: the next second has room for it
            budget -= size
            chosen.append(publication)
        claims = []
        for publication in chosen:
            publication.state = PublicationState.SENDING
            publication.claimed_by = owner
            publication.claimed_at = now
            publication.lease_until = now + policy.lease
            publication.attempts += 1
            session.add(
                SendLog(
                    channel_id=publication.channel_id,
                    publication_id=publication.id,
                    sent_at=now,
                    messages=max(publication.size - publication.parts_done, 1),
                )
            )
            claims.append(await _claim_of(session, publication, owner))
        return claims


def _aware(value: datetime | str) -> datetime:
    # Aggregates (max) bypass the column type on SQLite and come back as naive text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _claim_of(session: AsyncSession, publication: Publication, owner: str) -> Claim:
    channel = await session.get_one(Channel, publication.channel_id)
    post = await session.get(Post, publication.post_id) if publication.post_id else None
    return Claim(
        publication_id=publication.id,
        owner=owner,
        channel_id=channel.id,
        chat_id=channel.chat_id or 0,
        chat_name=channel.display_name,
        chat_type=channel.chat_type or "channel",
        mode=publication.mode,
        size=publication.size,
        attempts=publication.attempts,
        parts_done=publication.parts_done,
        message_ids=list(publication.message_ids),
        silent=publication.silent,
        post_id=publication.post_id,
        text=post.text if post else "",
        entities=list(post.entities) if post else [],
        media=list(post.media) if post else [],
        from_chat=publication.from_chat,
        from_message_ids=list(publication.from_message_ids),
    )


async def claim_one(
    factory: SessionFactory, publication_id: int, *, owner: str, now: datetime, policy: Policy
) -> Claim | None:
    """Claim this publication now if it is scheduled and its chat's limits allow it
    (`post-next`, *Publish now*); None when they do not, yet."""
    claims = await claim_due(
        factory, owner=owner, now=now, policy=policy, max_claims=1, publication_id=publication_id
    )
    return claims[0] if claims else None


async def renew_leases(
    factory: SessionFactory, claims: Sequence[Claim], now: datetime, policy: Policy
) -> None:
    """The owner is alive: push its leases forward."""
    if not claims:
        return
    async with unit_of_work(factory) as session:
        await session.execute(
            update(Publication)
            .where(
                Publication.id.in_([c.publication_id for c in claims]),
                Publication.claimed_by == claims[0].owner,
                Publication.state == PublicationState.SENDING,
            )
            .values(lease_until=now + policy.lease)
        )


async def record_progress(
    factory: SessionFactory, claim: Claim, message_ids: Sequence[int], parts_done: int
) -> None:
    """Some messages of a multi-message delivery are out: a retry goes on after them."""
    async with unit_of_work(factory) as session:
        await session.execute(
            update(Publication)
            .where(_owned(claim))
            .values(message_ids=list(message_ids), parts_done=parts_done)
        )


async def record_sent(
    factory: SessionFactory,
    claim: Claim,
    message_ids: Sequence[int],
    now: datetime,
    notes: Sequence[str] = (),
) -> bool:
    """Delivered: ``sent`` with Telegram's message ids. False if the claim was lost."""
    async with unit_of_work(factory) as session:
        result = await session.execute(
            update(Publication)
            .where(_owned(claim))
            .values(
                state=PublicationState.SENT,
                sent_at=now,
                message_ids=list(message_ids),
                parts_done=claim.size,
                lease_until=None,
                last_error=None,
            )
        )
        if not getattr(result, "rowcount", 1):
            log.error("publication %d: claim lost before it was recorded", claim.publication_id)
            return False
        # The send log's time is the end of the delivery: spacing counts from there.
        await session.execute(
            update(SendLog)
            .where(SendLog.publication_id == claim.publication_id, SendLog.sent_at < now)
            .values(sent_at=now)
        )
        if claim.post_id is not None:
            await session.execute(
                update(Post).where(Post.id == claim.post_id).values(status=PostStatus.PUBLISHED)
            )
        if notes:
            await tell(
                session,
                f"notes:{claim.publication_id}",
                f"ℹ️ Publication {claim.publication_id} to {claim.chat_name} went out "
                f"without: {'; '.join(notes)}",
            )
        return True


def backoff(attempts: int, policy: Policy) -> float:
    """Exponential backoff with full jitter, in seconds."""
    ceiling = min(policy.backoff_max, policy.backoff_base * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


async def _requeue(session: AsyncSession, claim: Claim, **values: Any) -> None:
    """The owner gives the publication back to the queue (``values``: what else changes)."""
    await session.execute(
        update(Publication)
        .where(_owned(claim))
        .values(state=PublicationState.SCHEDULED, claimed_by=None, lease_until=None, **values)
    )


async def _unsend(session: AsyncSession, claim: Claim) -> None:
    # Nothing (more) reached the chat: the budget charged by the claim is given back.
    await session.execute(delete(SendLog).where(SendLog.publication_id == claim.publication_id))


async def record_retry(
    factory: SessionFactory, claim: Claim, error: str, now: datetime, policy: Policy
) -> PublicationState:
    """A temporary failure (5xx, network): try again after a backoff, or give up."""
    async with unit_of_work(factory) as session:
        await _unsend(session, claim)
        if claim.attempts >= policy.max_attempts:
            await _fail(session, claim, f"{error} (gave up after {claim.attempts} attempts)")
            return PublicationState.FAILED
        await _requeue(
            session,
            claim,
            not_before=now + timedelta(seconds=backoff(claim.attempts, policy)),
            last_error=error,
        )
        return PublicationState.SCHEDULED


async def record_deferred(
    factory: SessionFactory, claim: Claim, retry_after: float, now: datetime
) -> None:
    """Telegram said 429: this chat waits ``retry_after`` seconds, in every process."""
    async with unit_of_work(factory) as session:
        await _unsend(session, claim)
        until = now + timedelta(seconds=retry_after)
        await session.execute(
            update(Channel)
            .where(
                Channel.id == claim.channel_id,
                or_(Channel.deferred_until.is_(None), Channel.deferred_until < until),
            )
            .values(deferred_until=until)
        )
        # Not the publication's fault: the attempt is not counted.
        await _requeue(
            session,
            claim,
            attempts=Publication.attempts - 1,
            last_error=f"Telegram asked to wait {retry_after:g} s (429)",
        )


async def _fail(session: AsyncSession, claim: Claim, reason: str) -> None:
    await session.execute(
        update(Publication)
        .where(_owned(claim))
        .values(state=PublicationState.FAILED, last_error=reason, lease_until=None)
    )
    publication = await session.get(Publication, claim.publication_id)
    if publication is not None:
        await release_post(session, publication)
    await tell(
        session,
        f"failed:{claim.publication_id}",
        f"❌ Publication {claim.publication_id} to {claim.chat_name} failed: {reason}",
    )


async def record_failed(factory: SessionFactory, claim: Claim, reason: str) -> None:
    """A permanent failure of this publication (400: Telegram's description says why)."""
    async with unit_of_work(factory) as session:
        if claim.parts_done == 0:
            await _unsend(session, claim)
        await _fail(session, claim, reason)


async def record_unknown(factory: SessionFactory, claim: Claim, reason: str) -> None:
    """Telegram may have delivered it (no answer in time): a person decides."""
    async with unit_of_work(factory) as session:
        await session.execute(
            update(Publication)
            .where(_owned(claim))
            .values(state=PublicationState.UNKNOWN, last_error=reason, lease_until=None)
        )
        await tell(
            session,
            f"unknown:{claim.publication_id}",
            f"⚠️ Publication {claim.publication_id} to {claim.chat_name} may or may not have "
            f"been delivered: {reason}. Check the channel, then `tgpipe resolve "
            f"{claim.publication_id} --sent` or `--resend`.",
        )


async def record_chat_blocked(
    factory: SessionFactory, claim: Claim, reason: str, now: datetime
) -> int:
    """403: the bot cannot post to this chat. Its scheduled publications fail with the
    reason, the admins are told once, and the chat is refused until added again."""
    async with unit_of_work(factory) as session:
        if claim.parts_done == 0:
            await _unsend(session, claim)
        await session.execute(
            update(Publication)
            .where(_owned(claim))
            .values(state=PublicationState.FAILED, last_error=reason, lease_until=None)
        )
        channel = await session.get_one(Channel, claim.channel_id)
        channel.blocked_reason = reason
        pending = list(
            await session.scalars(
                select(Publication).where(
                    Publication.channel_id == claim.channel_id,
                    Publication.state == PublicationState.SCHEDULED,
                )
            )
        )
        for publication in pending:
            publication.state = PublicationState.FAILED
            publication.last_error = reason
        for publication in [*pending, await session.get_one(Publication, claim.publication_id)]:
            await release_post(session, publication)
        await tell(
            session,
            f"blocked:{claim.channel_id}:{now.isoformat()}",
            f"🚫 tgpipe cannot post to {claim.chat_name}: {reason}. "
            f"{len(pending) + 1} publication(s) failed. Give the bot its rights back, then "
            f"`tgpipe channels add {claim.chat_name}` and reschedule them.",
        )
        return len(pending) + 1


async def release(factory: SessionFactory, claim: Claim) -> None:
    """Give back a claim that was never sent (shutting down before the call)."""
    async with unit_of_work(factory) as session:
        if claim.parts_done == 0:
            await _unsend(session, claim)
        await _requeue(session, claim, attempts=Publication.attempts - 1)


async def release_post(session: AsyncSession, publication: Publication) -> None:
    """A post whose only plan did not happen is a draft again."""
    if publication.post_id is None:
        return
    others = await session.scalar(
        select(func.count())
        .select_from(Publication)
        .where(
            Publication.post_id == publication.post_id,
            Publication.id != publication.id,
            Publication.state.in_(
                (PublicationState.SCHEDULED, PublicationState.SENDING, PublicationState.SENT)
            ),
        )
    )
    if not others:
        await session.execute(
            update(Post)
            .where(Post.id == publication.post_id, Post.status == PostStatus.QUEUED)
            .values(status=PostStatus.DRAFT)
        )


async def next_due(factory: SessionFactory) -> datetime | None:
    """The earliest time anything scheduled may be sent (due, backoff and 429 considered)."""
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(Publication.due_at, Publication.not_before, Channel.deferred_until)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(
                Publication.state == PublicationState.SCHEDULED,
                Channel.blocked_reason.is_(None),
            )
            .order_by(Publication.due_at)
            .limit(500)
        )
        times = [max(t for t in row if t is not None) for row in rows]
    return min(times) if times else None


async def prune_send_log(factory: SessionFactory, now: datetime) -> None:
    """Entries older than the longest window are of no more use."""
    async with unit_of_work(factory) as session:
        await session.execute(delete(SendLog).where(SendLog.sent_at < now - 2 * MINUTE))


def render_claim(claim: Claim) -> Rendering:
    """The messages a ``send`` claim delivers (the same rendering the queue charged)."""
    return render_post(claim.text, claim.entities, claim.media)
