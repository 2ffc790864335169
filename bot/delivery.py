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
from datetime import UTC, datetime, timedelta
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
# Expired leases and missed publications are looked for this often, not at every claim.
SETTLE_EVERY = timedelta(seconds=1)


# SQLSTATEs of a server that is going away or not back yet: connection exceptions (class
# 08), shut down by an administrator or a crash, starting up ("cannot connect now").
_UNAVAILABLE = ("08", "57P01", "57P02", "57P03")


def _unreachable(error: Exception) -> bool:
    """The store cannot be reached right now (restarting, network), as opposed to refusing
    the statement."""
    if isinstance(error, OSError):
        return True
    assert isinstance(error, DBAPIError)
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        return True
    # asyncpg's errors reach SQLAlchemy as a plain DBAPI error: its SQLSTATE tells.
    state = getattr(error.orig, "sqlstate", None) or ""
    return state.startswith(_UNAVAILABLE)


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

    @property
    def sent_count(self) -> int:
        return len(self.sent)

    @property
    def failed_count(self) -> int:
        return len(self.failed)


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
        self._look_at: datetime | None = None
        # The courier's own transactions go one at a time: on SQLite, concurrent writers
        # of one process would otherwise wait out each other in SQLite's busy handler
        # (sleeps of up to 100 ms), and every such wait is send budget lost.
        self._writing = asyncio.Lock()
        self._settled = datetime.min.replace(tzinfo=UTC)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the store, robustly ---------------------------------------------------------------

    async def _store(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a store call, retrying while the database is unreachable: an outcome that
        happened in Telegram must not be lost because the database restarted."""
        delay = 0.2
        while True:
            try:
                async with self._writing:
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

            if claim.start_at is not None:
                # Claimed a moment ahead of a limit: not a moment before it allows.
                await asyncio.sleep(max((claim.start_at - self.clock()).total_seconds(), 0.0))
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
            self._ended(claim)

    def _ended(self, claim: Claim) -> None:
        """A delivery ended: its chat may take the next one after the chat interval (its
        send budget frees a second after it ended). Woken now only when that is sooner
        than a pause lasts, or when nothing is left in flight (`dispatch` may be done)."""
        interval = self.policy.limits.chat_interval
        if interval < POLL_SECONDS or not self._in_flight:
            self.wake.set()
            return
        then = self.clock() + timedelta(seconds=interval) - claims.LEAD
        self._look_at = then if self._look_at is None else min(self._look_at, then)

    # -- the loop --------------------------------------------------------------------------

    async def step(self) -> bool:
        """Claim what may go now and start sending it; True if more may go at once."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return False
        now = self.clock()
        settle = now - self._settled >= SETTLE_EVERY
        batch = await self._store(
            "claim",
            lambda: claims.claim_due(
                self.factory,
                owner=self.owner,
                now=now,
                policy=self.policy,
                max_claims=free,
                settle=settle,
            ),
        )
        if settle:
            self._settled = now
        self._look_at = batch.retry_at
        log.debug("claimed %d (%d free), look again at %s", len(batch.claims), free, batch.retry_at)
        for claim in batch.claims:
            await self._slots.acquire()
            self._in_flight[claim.publication_id] = claim
            task = asyncio.create_task(
                self._handle(claim), name=f"publication-{claim.publication_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return bool(batch.claims) and (not batch.complete or len(batch.claims) == free)

    async def publish_now(self, publication_id: int, *, max_wait: float = 60.0) -> PublicationState:
        """Send this scheduled publication as soon as its chat's limits allow (`post-next`,
        *Publish now*), waiting up to ``max_wait`` seconds; its state afterwards. Another
        process may take it first: then it is theirs, and its state says what became of it."""
        deadline = self.clock() + timedelta(seconds=max_wait)
        while True:
            now = self.clock()

            async def take(at: datetime = now) -> claims.Batch:
                return await claims.claim_due(
                    self.factory,
                    owner=self.owner,
                    now=at,
                    policy=self.policy,
                    max_claims=1,
                    publication_id=publication_id,
                )

            batch = await self._store("claim", take)
            if batch.claims:
                (claim,) = batch.claims
                await self._slots.acquire()
                self._in_flight[claim.publication_id] = claim
                await self._handle(claim)
                break
            state = await self._store("state", lambda: _state_of(self.factory, publication_id))
            if state is not PublicationState.SCHEDULED or now >= deadline:
                return state
            wait = (batch.retry_at - now).total_seconds() if batch.retry_at else POLL_SECONDS
            await asyncio.sleep(min(max(wait, 0.01), POLL_SECONDS))
        return await self._store("state", lambda: _state_of(self.factory, publication_id))

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

    def _until_next(self) -> float:
        """Seconds to sleep before the next claim, unless a delivery ending wakes it: until
        the claim's time to look again, and at most :data:`POLL_SECONDS` (publications
        other processes add, leases to settle)."""
        if self._look_at is None:
            return POLL_SECONDS
        return min(max((self._look_at - self.clock()).total_seconds(), 0.0), POLL_SECONDS)

    async def serve(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish what is in flight."""
        keeper = asyncio.create_task(self._keep_leases(stop))
        # A stop ends the pause between looks at the queue at once, not up to POLL_SECONDS
        # later (every SIGTERM, and every test's teardown, waited for it).
        waker = asyncio.create_task(self._wake_on(stop))
        pruned = self.clock()
        try:
            while not stop.is_set():
                again = await self.step()
                if self.clock() - pruned > timedelta(minutes=1):
                    pruned = self.clock()
                    await self._store("prune", self._prune)
                # A stop during the step has set ``wake`` already: pausing would clear it and
                # sleep out the whole pause.
                if again or stop.is_set():
                    continue
                await self._pause(self._until_next())
        finally:
            waker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waker
            await self.drain()
            stop.set()
            await keeper

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wake.set()

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
                if await self.step():
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
                await self._pause(self._until_next())
        finally:
            await self.drain()
            stop.set()
            await keeper
        return self.tally


async def _state_of(factory: SessionFactory, publication_id: int) -> PublicationState:
    async with unit_of_work(factory) as session:
        return (await session.get_one(Publication, publication_id)).state


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
