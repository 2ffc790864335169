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

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pipeline.publish.notices import tell
from pipeline.publish.policy import Policy
from pipeline.publish.render import Rendering, render_post
from pipeline.reactions import remember_sent
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.locks import DISPATCH, take_lock
from pipeline.store.models import (
    Channel,
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
# A claim takes what may go within this much from now, each with the moment it may start;
# the sender waits for that. Claiming takes time (a transaction), and sending as soon as
# a limit allows keeps the whole budget in use.
LEAD = timedelta(seconds=0.1)
# The soonest a sender looks again for budget that deliveries in flight hold.
LOOK_AGAIN = timedelta(seconds=0.1)


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
    # Not before this: claimed a moment ahead, so that the claim's own time is not lost
    # from the send budget (see LEAD).
    start_at: datetime | None = None


def _update(model: Any) -> Any:
    # Statements by id, in sessions that hold no copy of the rows: skipping the ORM's
    # synchronisation of loaded objects halves what a statement costs, and a sender runs
    # several per message.
    return update(model).execution_options(synchronize_session=False)


def _delete(model: Any) -> Any:
    return delete(model).execution_options(synchronize_session=False)


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


@dataclass(frozen=True, slots=True)
class Batch:
    """What one claim took, and when to look again: the moment a publication a limit
    holds back may go, or the next one falls due. The sender sleeps until then (or until
    one of its deliveries ends), not in a polling loop; None: at once, or when woken."""

    claims: list[Claim]
    retry_at: datetime | None = None
    complete: bool = True  # every due publication was looked at (else: more may go now)


def _fits_at(
    frees: Sequence[tuple[datetime, int]], held: int, need: int, at: datetime, per_second: int
) -> datetime | None:
    """The first moment from ``at`` on when ``need`` more messages fit in the one-second
    budget: ``frees`` are the ended deliveries' (time their messages leave the window,
    messages), in time order; ``held``, messages of deliveries not ended yet (they leave
    a second after they end, a time not known yet). None: only such an end makes room."""
    used = held + sum(n for moment, n in frees if moment > at)
    if per_second - used >= need:
        return at
    for moment, n in frees:
        if moment <= at:
            continue
        used -= n
        if per_second - used >= need:
            return moment
    return None


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


async def claim_due(
    factory: SessionFactory,
    *,
    owner: str,
    now: datetime,
    policy: Policy,
    max_claims: int = 30,
    channel_id: int | None = None,
    publication_id: int | None = None,
    settle: bool = True,
) -> Batch:
    """Claim due publications the limits allow, at most one per chat, oldest first.

    ``settle``: also turn expired leases into ``unknown`` and long-overdue publications
    into ``missed`` (a sender claiming many times a second does it about once a second;
    an overdue publication is never claimed either way)."""
    limits = policy.limits
    async with unit_of_work(factory) as session:
        await take_lock(session, DISPATCH)
        if settle:
            await settle_stale(session, now, policy)
        horizon = now + LEAD
        sending = select(Publication.id).where(Publication.state == PublicationState.SENDING)
        window = (
            await session.execute(
                select(
                    SendLog.sent_at, SendLog.messages, SendLog.publication_id.in_(sending)
                ).where(or_(SendLog.sent_at > now - SECOND, SendLog.publication_id.in_(sending)))
            )
        ).all()
        # A delivery in flight holds its messages until a second after it ends; an ended
        # one, until a second after its end.
        held = sum(int(n) for _, n, flying in window if flying)
        frees = sorted(
            (_aware(stamp) + SECOND, int(n)) for stamp, n, flying in window if not flying
        )
        flying_since = min((_aware(stamp) for stamp, _, flying in window if flying), default=None)

        def when_held(at: datetime | None) -> datetime:
            """When to look again for room that is not there within the horizon."""
            if at is not None:
                return at - LEAD
            guess = flying_since + SECOND if flying_since else now + SECOND
            return max(guess, now + LOOK_AGAIN)

        room = _fits_at(frees, held, 1, now, limits.per_second)
        if room is None or room > horizon:
            return Batch([], when_held(room))
        busy = select(Publication.channel_id).where(Publication.state == PublicationState.SENDING)
        conditions = [
            Publication.state == PublicationState.SCHEDULED,
            Publication.due_at <= horizon,
            # Long overdue and never tried: 'missed' (settle_stale), not sent late.
            or_(
                Publication.due_at >= now - policy.grace,
                Publication.attempts > 0,
                Publication.not_before.is_not(None),
            ),
            or_(Publication.not_before.is_(None), Publication.not_before <= horizon),
            or_(Channel.deferred_until.is_(None), Channel.deferred_until <= horizon),
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
                Publication.channel_id,
                Publication.due_at,
                _later(
                    _later(Publication.due_at, Publication.not_before), Channel.deferred_until
                ).label("ready"),
                (Publication.size - Publication.parts_done).label("left"),
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
        limit = max(max_claims * 5, 100)
        candidates = (
            await session.execute(
                select(first.c.id, first.c.channel_id, first.c.ready, first.c.left)
                .where(first.c.rank == 1)
                .order_by(first.c.due_at, first.c.id)
                .limit(limit)
            )
        ).all()
        if not candidates:
            upcoming = await _next_ready(session, horizon)
            return Batch([], upcoming - LEAD if upcoming else None)
        minute = {
            chat: (int(used or 0), _aware(oldest) if oldest else None, _aware(last))
            for chat, used, oldest, last in await session.execute(
                select(
                    SendLog.channel_id,
                    func.sum(SendLog.messages).filter(SendLog.sent_at > now - MINUTE),
                    func.min(SendLog.sent_at).filter(SendLog.sent_at > now - MINUTE),
                    func.max(SendLog.sent_at),
                )
                .where(SendLog.channel_id.in_({chat for _, chat, _, _ in candidates}))
                .group_by(SendLog.channel_id)
            )
            if last is not None
        }
        chosen: list[tuple[int, int, int, datetime]] = []
        retry_at: datetime | None = None
        for pid, chat, ready, left in candidates:
            if len(chosen) >= max_claims:
                break
            size = max(left, 1)
            used, oldest, last = minute.get(chat, (0, None, None))
            # An album bigger than a budget still goes once the budget is whole again.
            if used + min(size, limits.per_chat_per_minute) > limits.per_chat_per_minute:
                # Not claimed ahead: 20 a minute leaves no budget to keep busy, and the
                # minute's oldest message must have left the window when it is looked at.
                retry_at = _earliest(retry_at, oldest + MINUTE if oldest else None)
                continue
            start = max(now, _aware(ready))
            if last is not None and last + limits.spacing > start:
                start = last + limits.spacing
                if start > horizon:
                    retry_at = _earliest(retry_at, start - LEAD)
                    continue
            at = _fits_at(frees, held, min(size, limits.per_second), start, limits.per_second)
            if at is None or at > horizon:
                # Keep the order: the next free second has room for it.
                retry_at = _earliest(retry_at, when_held(at))
                break
            held += size
            chosen.append((pid, chat, size, at))
        complete = len(candidates) < limit
        if complete:
            # Every due candidate was looked at: the claim knows when to look again.
            upcoming = await _next_ready(session, horizon)
            retry_at = _earliest(retry_at, upcoming - LEAD if upcoming else None)
        else:
            retry_at = _earliest(retry_at, now + LOOK_AGAIN)
        if not chosen:
            return Batch([], retry_at, complete)
        ids = [pid for pid, _, _, _ in chosen]
        await session.execute(
            _update(Publication)
            .where(Publication.id.in_(ids))
            .values(
                state=PublicationState.SENDING,
                claimed_by=owner,
                claimed_at=now,
                lease_until=now + policy.lease,
                attempts=Publication.attempts + 1,
            )
        )
        await session.execute(
            insert(SendLog),
            [
                {"channel_id": chat, "publication_id": pid, "sent_at": at, "messages": size}
                for pid, chat, size, at in chosen
            ],
        )
        starts = {pid: at for pid, _, _, at in chosen if at > now}
        return Batch(await _claims_of(session, ids, owner, starts), retry_at, complete)


async def _claims_of(
    session: AsyncSession, ids: Sequence[int], owner: str, starts: dict[int, datetime]
) -> list[Claim]:
    rows = await session.execute(
        select(Publication, Channel, Post)
        .join(Channel, Channel.id == Publication.channel_id)
        .outerjoin(Post, Post.id == Publication.post_id)
        .where(Publication.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    by_id = {
        publication.id: Claim(
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
            start_at=starts.get(publication.id),
        )
        for publication, channel, post in rows
    }
    return [by_id[pid] for pid in ids]


def _aware(value: datetime | str) -> datetime:
    # Aggregates (max) bypass the column type on SQLite and come back as naive text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def renew_leases(
    factory: SessionFactory, claims: Sequence[Claim], now: datetime, policy: Policy
) -> None:
    """The owner is alive: push its leases forward."""
    if not claims:
        return
    async with unit_of_work(factory) as session:
        await session.execute(
            _update(Publication)
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
            _update(Publication)
            .where(_owned(claim))
            .values(message_ids=list(message_ids), parts_done=parts_done)
        )
        await remember_sent(session, claim.publication_id, claim.chat_id, message_ids)


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
            _update(Publication)
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
        await remember_sent(session, claim.publication_id, claim.chat_id, message_ids)
        # The limits count from the end of the delivery: Telegram has every message of it
        # by then, so a message sent a second later cannot arrive within its second.
        await session.execute(
            _update(SendLog)
            .where(SendLog.publication_id == claim.publication_id, SendLog.sent_at < now)
            .values(sent_at=now)
        )
        if claim.post_id is not None:
            await session.execute(
                _update(Post).where(Post.id == claim.post_id).values(status=PostStatus.PUBLISHED)
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
        _update(Publication)
        .where(_owned(claim))
        .values(state=PublicationState.SCHEDULED, claimed_by=None, lease_until=None, **values)
    )


async def _unsend(session: AsyncSession, claim: Claim) -> None:
    # Nothing (more) reached the chat: the budget charged by the claim is given back.
    await session.execute(_delete(SendLog).where(SendLog.publication_id == claim.publication_id))


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
            _update(Channel)
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
        _update(Publication)
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
            _update(Publication)
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
            _update(Publication)
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
            _update(Post)
            .where(Post.id == publication.post_id, Post.status == PostStatus.QUEUED)
            .values(status=PostStatus.DRAFT)
        )


def _later(a: Any, b: Any) -> Any:
    """The later of two times, either of which may be NULL (SQLite's and PostgreSQL's
    GREATEST differ on NULLs, so it is spelled out)."""
    return case((b.is_(None), a), (a.is_(None), b), (a >= b, a), else_=b)


async def _next_ready(session: AsyncSession, after: datetime) -> datetime | None:
    """The earliest time after ``after`` that something scheduled may be sent (due, backoff
    and 429 considered; the send limits are the claim's part of :attr:`Batch.retry_at`)."""
    ready = _later(_later(Publication.due_at, Publication.not_before), Channel.deferred_until)
    earliest = await session.scalar(
        select(func.min(ready))
        .select_from(Publication)
        .join(Channel, Channel.id == Publication.channel_id)
        .where(
            Publication.state == PublicationState.SCHEDULED,
            Channel.blocked_reason.is_(None),
            ready > after,
        )
    )
    return _aware(earliest) if earliest is not None else None


async def prune_send_log(factory: SessionFactory, now: datetime) -> None:
    """Entries older than the longest window are of no more use."""
    async with unit_of_work(factory) as session:
        await session.execute(_delete(SendLog).where(SendLog.sent_at < now - 2 * MINUTE))


def render_claim(claim: Claim) -> Rendering:
    """The messages a ``send`` claim delivers (the same rendering the queue charged)."""
    return render_post(claim.text, claim.entities, claim.media)
