"""The delivery loop: claim what is due, send it through the publisher, record the outcome.

One :class:`Courier` per process. `tgpipe run` keeps it serving (woken by the scheduler and
by a poll for publications other processes add); `tgpipe dispatch` runs it until what was
due when it started is settled. Exactly-once comes from the claims, not from here: this
loop only makes sure every claim it took ends in a recorded outcome, retrying the record
itself while the store is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.publisher import Ambiguous, ChatBlocked, Deferred, Failed, Publisher, Retry, Sent
from pipeline.publish import claims
from pipeline.publish.claims import Claim
from pipeline.publish.policy import Policy
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Publication, PublicationState
from pipeline.store.types import now_utc

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
# How long the loop sleeps at most when nothing is due: publications added by another
# process are picked up within this.
POLL_SECONDS = 0.5
LIMIT_WAIT = 0.1


def _unreachable(error: Exception) -> bool:
    """The store cannot be reached right now (restarting, network), as opposed to refusing
    the statement."""
    if isinstance(error, OSError):
        return True
    assert isinstance(error, DBAPIError)
    return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)


def instance_id() -> str:
    """Names this process as the owner of its claims."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class Tally:
    """What one run of the loop did, for `tgpipe dispatch`'s summary and exit code."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    retried: int = 0
    deferred: int = 0


class Courier:
    def __init__(
        self,
        publisher: Publisher,
        factory: SessionFactory,
        policy: Policy,
        *,
        owner: str | None = None,
        clock: Clock = now_utc,
        concurrency: int = 32,
    ) -> None:
        self.publisher = publisher
        self.factory = factory
        self.policy = policy
        self.owner = owner or instance_id()
        self.clock = clock
        self.tally = Tally()
        self.wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._in_flight: dict[int, Claim] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the store, robustly ---------------------------------------------------------------

    async def _store(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a store call, retrying while the database is unreachable: an outcome that
        happened in Telegram must not be lost because the database restarted."""
        delay = 0.2
        while True:
            try:
                return await call()
            except (DBAPIError, OSError) as error:
                # Only a lost or refused connection is waited out; anything else (a constraint,
                # a bug) would fail the same way again and is raised.
                if not _unreachable(error):
                    raise
                log.warning("store unavailable (%s), retrying in %.1f s: %s", what, delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- one claim -------------------------------------------------------------------------

    async def _handle(self, claim: Claim) -> None:
        try:

            async def progress(ids: list[int], done: int) -> None:
                await self._store(
                    "progress", lambda: claims.record_progress(self.factory, claim, ids, done)
                )

            outcome = await self.publisher.deliver(claim, progress)
            now = self.clock()
            pid = claim.publication_id
            match outcome:
                case Sent(message_ids=ids, notes=notes):
                    await self._store(
                        "sent", lambda: claims.record_sent(self.factory, claim, ids, now, notes)
                    )
                    self.tally.sent.append(pid)
                    log.info("publication %d sent to %s: %s", pid, claim.chat_name, ids)
                case Deferred(retry_after=wait, message_ids=ids, parts_done=done):
                    if done > claim.parts_done:
                        await progress(ids, done)
                    await self._store(
                        "deferred", lambda: claims.record_deferred(self.factory, claim, wait, now)
                    )
                    self.tally.deferred += 1
                    log.info("chat %s deferred %g s (429)", claim.chat_name, wait)
                case ChatBlocked(reason=reason):
                    count = await self._store(
                        "blocked",
                        lambda: claims.record_chat_blocked(self.factory, claim, reason, now),
                    )
                    self.tally.failed.append(pid)
                    log.warning("%s: %s (%d publication(s) failed)", claim.chat_name, reason, count)
                case Failed(reason=reason):
                    await self._store(
                        "failed", lambda: claims.record_failed(self.factory, claim, reason)
                    )
                    self.tally.failed.append(pid)
                    log.warning("publication %d failed: %s", pid, reason)
                case Retry(reason=reason):
                    state = await self._store(
                        "retry",
                        lambda: claims.record_retry(self.factory, claim, reason, now, self.policy),
                    )
                    if state is PublicationState.FAILED:
                        self.tally.failed.append(pid)
                    else:
                        self.tally.retried += 1
                    log.info("publication %d will be retried: %s", pid, reason)
                case Ambiguous(reason=reason):
                    await self._store(
                        "unknown", lambda: claims.record_unknown(self.factory, claim, reason)
                    )
                    self.tally.unknown.append(pid)
                    log.warning("publication %d is unknown: %s", pid, reason)
        except asyncio.CancelledError:
            # Stopping before Telegram answered: whether it went out is not known.
            raise
        except Exception:
            log.exception("publication %d: unexpected error", claim.publication_id)
            await self._store(
                "unknown",
                lambda: claims.record_unknown(
                    self.factory, claim, "tgpipe failed while sending it (see its log)"
                ),
            )
            self.tally.unknown.append(claim.publication_id)
        finally:
            self._in_flight.pop(claim.publication_id, None)
            self._slots.release()
            self.wake.set()

    # -- the loop --------------------------------------------------------------------------

    async def step(self) -> int:
        """Claim what may go now and start sending it; the number claimed."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        taken = await self._store(
            "claim",
            lambda: claims.claim_due(
                self.factory,
                owner=self.owner,
                now=self.clock(),
                policy=self.policy,
                max_claims=free,
            ),
        )
        for claim in taken:
            await self._slots.acquire()
            self._in_flight[claim.publication_id] = claim
            task = asyncio.create_task(
                self._handle(claim), name=f"publication-{claim.publication_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(taken)

    async def deliver_claim(self, claim: Claim) -> None:
        """Send one claim taken outside the loop (`post-next`, *Publish now*) and record it."""
        await self._slots.acquire()
        self._in_flight[claim.publication_id] = claim
        await self._handle(claim)

    async def _keep_leases(self, stop: asyncio.Event) -> None:
        every = max(self.policy.lease.total_seconds() / 3, 0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            claims_now = list(self._in_flight.values())
            if claims_now:
                try:
                    await claims.renew_leases(self.factory, claims_now, self.clock(), self.policy)
                except (DBAPIError, OSError) as error:
                    if not _unreachable(error):
                        raise
                    log.warning("cannot renew leases: %s", error)

    async def _pause(self, limit: float) -> None:
        """Sleep until woken, or ``limit`` seconds."""
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), max(limit, 0.01))

    async def _until_next(self) -> float:
        due = await self._store("next due", lambda: claims.next_due(self.factory))
        if due is None:
            return POLL_SECONDS
        seconds = (due - self.clock()).total_seconds()
        # Due already, yet nothing could be claimed: a limit holds it, and budgets free up
        # as earlier sends age; look again soon, not in a busy loop.
        return LIMIT_WAIT if seconds <= 0 else min(seconds, POLL_SECONDS)

    async def serve(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish what is in flight."""
        keeper = asyncio.create_task(self._keep_leases(stop))
        pruned = self.clock()
        try:
            while not stop.is_set():
                claimed = await self.step()
                if self.clock() - pruned > timedelta(minutes=1):
                    pruned = self.clock()
                    await self._store("prune", self._prune)
                if claimed:
                    continue
                await self._pause(await self._until_next())
        finally:
            await self.drain()
            stop.set()
            await keeper

    async def _prune(self) -> None:
        await claims.prune_send_log(self.factory, self.clock())

    async def drain(self, grace: float = 30.0) -> None:
        """Let in-flight deliveries finish and record their outcome."""
        if self._tasks:
            log.info("finishing %d delivery(ies) in progress", len(self._tasks))
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in late:
                task.cancel()

    async def run_due(self, *, max_wait: float = 600.0) -> Tally:
        """`tgpipe dispatch`: deliver everything due now (waiting for the limits), then stop."""
        started = self.clock()
        stop = asyncio.Event()
        keeper = asyncio.create_task(self._keep_leases(stop))
        try:
            while True:
                claimed = await self.step()
                if claimed:
                    continue
                # In flight first: a delivery finishing during the count below could otherwise
                # be neither in flight nor counted (it was 'sending' when counted).
                busy = bool(self._in_flight)
                remaining = await self._store("remaining", lambda: _due_left(self.factory, started))
                if not remaining and not busy:
                    break
                if (self.clock() - started).total_seconds() > max_wait:
                    log.warning("%d publication(s) still waiting on limits; stopping", remaining)
                    break
                await self._pause(await self._until_next())
        finally:
            await self.drain()
            stop.set()
            await keeper
        return self.tally


async def _due_left(factory: SessionFactory, since: datetime) -> int:
    """Scheduled publications that were due by ``since`` and can still go."""
    async with unit_of_work(factory) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Publication)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(
                Publication.state == PublicationState.SCHEDULED,
                Publication.due_at <= since,
                Channel.blocked_reason.is_(None),
            )
        )
        return int(count or 0)
