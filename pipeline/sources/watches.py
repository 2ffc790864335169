"""Watched channels: each read from its web preview on its interval, its new posts imported
and, for a watch with a target chat, queued there after the watch's delay.

The store says what is due (``watches.next_check_at``): `tgpipe run` asks every few seconds
(``bot/scheduler.py``), `tgpipe watch run-once` once, for system cron. A check

1. takes the watch: moves its next check on by its interval in a short transaction only one
   process can win, so two running instances never check a watch twice;
2. reads the preview back to the newest message it saw before: the newest page only, unless
   posts came faster than the interval (then page by page, at most ``GAP_PAGES``), and
   conditionally, where the preview gave validators last time;
3. imports what it read through the importer (dedup, an import run, newer counts);
4. queues the channel's posts newer than the last seen that are no duplicates, through the
   publishing guard, and records the newest id, in one transaction: a crash between 3 and 4
   only repeats them (the import finds the same sources, the guard refuses a second
   publication of the same content).

The first check of a watch only reads where the channel stands: what it already had is
history, not news, and is not queued. A check that fails backs off (its interval doubled per
failure, at most a day); after ``TELL_AFTER`` failures in a row the admins are told, once, and
once more when it works again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError, TgpipeError, UsageError
from pipeline.ingest.importer import Fetched, ImportOptions, import_paths
from pipeline.publish.guard import DuplicatePublicationError
from pipeline.publish.notices import tell
from pipeline.publish.queue import QueueError, schedule_post
from pipeline.sources.addresses import DEFAULT_PREVIEW_BASE
from pipeline.sources.fetch import Fetcher, Validators
from pipeline.sources.preview import Crawl, crawl_channel
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, ChannelMessage, Post, Watch, WatchPolicy

log = logging.getLogger(__name__)

DEFAULT_EVERY = timedelta(minutes=15)
MIN_EVERY = timedelta(minutes=1)  # a preview page a minute is as often as anyone needs
MAX_DELAY = timedelta(days=30)
MAX_BACKOFF = timedelta(days=1)
TELL_AFTER = 3  # failed checks in a row before the admins hear of it
GAP_PAGES = 10  # pages a check reads back for posts it missed (some 200 posts)


class WatchError(UsageError):
    """A watch cannot be made or changed as asked."""


@dataclass(frozen=True, slots=True)
class WatchContext:
    """What checks need besides the store: the process's one fetcher and the settings."""

    fetcher: Fetcher
    base: str = DEFAULT_PREVIEW_BASE
    options: ImportOptions = field(default_factory=ImportOptions)


@dataclass(frozen=True, slots=True)
class WatchView:
    id: int
    channel: str  # @name
    every: timedelta
    target: str | None
    delay: timedelta
    policy: WatchPolicy
    paused: bool
    next_check_at: datetime
    last_checked_at: datetime | None
    last_message_id: int | None
    failures: int
    last_error: str | None

    @property
    def state(self) -> str:
        if self.paused:
            return "paused"
        return f"failing ({self.failures})" if self.failures else "on"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "every_seconds": int(self.every.total_seconds()),
            "to": self.target,
            "delay_seconds": int(self.delay.total_seconds()),
            "policy": self.policy.value,
            "paused": self.paused,
            "next_check_at": _iso(self.next_check_at),
            "last_checked_at": _iso(self.last_checked_at),
            "last_message_id": self.last_message_id,
            "failures": self.failures,
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class CheckResult:
    """What one check of a watch did."""

    watch_id: int
    channel: str
    outcome: str  # "first look", "new posts", "nothing new", "unchanged", "failed"
    new: int = 0  # posts the import added
    queued: list[int] = field(default_factory=list)  # publication ids
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "watch": self.watch_id,
            "channel": self.channel,
            "outcome": self.outcome,
            "new": self.new,
            "queued": list(self.queued),
            "error": self.error,
            "notes": list(self.notes),
        }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def check_options(
    every: timedelta, delay: timedelta, policy: WatchPolicy, *, queueing: bool
) -> None:
    """A watch's options, refused as :class:`WatchError` when they cannot be; ``queueing``:
    it has a chat to queue for. (Commands check before they open the store, too.)"""
    if every < MIN_EVERY:
        raise WatchError(f"a watch checks at most once a minute (asked: every {every})")
    if not timedelta(0) <= delay <= MAX_DELAY:
        raise WatchError(f"the delay must be from 0 to {MAX_DELAY.days} days (asked: {delay})")
    if not queueing and (delay or policy is not WatchPolicy.ALL):
        raise WatchError("a delay and a policy are for queueing: name the chat to queue for")


async def add_watch(
    session: AsyncSession,
    username: str,
    *,
    now: datetime,
    every: timedelta = DEFAULT_EVERY,
    target: Channel | None = None,
    delay: timedelta = timedelta(0),
    policy: WatchPolicy = WatchPolicy.ALL,
    created_by: int | None = None,
) -> Watch:
    """A new watch of @``username`` (lower case), first checked at once."""
    check_options(every, delay, policy, queueing=target is not None)
    existing = await session.scalar(select(Watch).where(Watch.username == username))
    if existing is not None:
        raise WatchError(f"@{username} is watched already (watch {existing.id})")
    watch = Watch(
        username=username,
        every_seconds=int(every.total_seconds()),
        target_id=target.id if target else None,
        delay_seconds=int(delay.total_seconds()),
        policy=policy,
        next_check_at=now,
        created_by=created_by,
        created_at=now,
    )
    session.add(watch)
    await session.flush()
    return watch


async def list_watches(
    session: AsyncSession, scope: Collection[int] | None = None
) -> list[WatchView]:
    """Every watch; with ``scope`` (store ids of target chats), only those queueing for one
    of them (see ``pipeline/access.py``)."""
    query = select(Watch, Channel).outerjoin(Channel, Channel.id == Watch.target_id)
    if scope is not None:
        query = query.where(Watch.target_id.in_(scope))
    rows = await session.execute(query.order_by(Watch.id))
    return [
        WatchView(
            id=watch.id,
            channel=f"@{watch.username}",
            every=timedelta(seconds=watch.every_seconds),
            target=target.display_name if target else None,
            delay=timedelta(seconds=watch.delay_seconds),
            policy=watch.policy,
            paused=watch.paused,
            next_check_at=watch.next_check_at,
            last_checked_at=watch.last_checked_at,
            last_message_id=watch.last_message_id,
            failures=watch.failures,
            last_error=watch.last_error,
        )
        for watch, target in rows.all()
    ]


async def get_watch(
    session: AsyncSession, watch_id: int, scope: Collection[int] | None = None
) -> Watch:
    """The watch, if it is within ``scope``; one outside is answered as if it did not exist."""
    watch = await session.get(Watch, watch_id)
    if watch is None or (scope is not None and watch.target_id not in scope):
        raise NotFoundError(f"no watch with id {watch_id}")
    return watch


async def set_paused(
    session: AsyncSession,
    watch_id: int,
    paused: bool,
    now: datetime,
    scope: Collection[int] | None = None,
) -> Watch:
    """Pause a watch, or resume it: checked at once, with a clean slate of failures."""
    watch = await get_watch(session, watch_id, scope)
    watch.paused = paused
    if not paused:
        watch.next_check_at = now
        watch.failures = 0
        watch.failing_since = None
    return watch


async def remove_watch(
    session: AsyncSession, watch_id: int, scope: Collection[int] | None = None
) -> Watch:
    """Delete a watch; what it imported and queued stays."""
    watch = await get_watch(session, watch_id, scope)
    await session.delete(watch)
    return watch


async def check_due(
    factory: SessionFactory,
    context: WatchContext,
    now: datetime,
    ids: Collection[int] | None = None,
) -> list[CheckResult]:
    """Check every watch that is due (or, with ``ids``, those watches now, due or not)."""
    async with unit_of_work(factory) as session:
        query = select(Watch.id).where(Watch.paused.is_(False)).order_by(Watch.next_check_at)
        if ids is None:
            query = query.where(Watch.next_check_at <= now)
        else:
            query = query.where(Watch.id.in_(ids))
        due = list(await session.scalars(query))
    results = []
    for watch_id in due:
        result = await check_watch(factory, context, watch_id, now, force=ids is not None)
        if result is not None:
            results.append(result)
    return results


@dataclass(frozen=True, slots=True)
class _Taken:
    id: int
    username: str
    every: timedelta
    last_message_id: int | None
    validators: Validators


async def check_watch(
    factory: SessionFactory,
    context: WatchContext,
    watch_id: int,
    now: datetime,
    *,
    force: bool = False,
) -> CheckResult | None:
    """Check one watch; None when it is not due (or paused, gone, or taken by another
    process) and ``force`` is not given."""
    taken = await _take(factory, watch_id, now, force)
    if taken is None:
        return None
    result = CheckResult(watch_id, f"@{taken.username}", "nothing new")
    try:
        crawl = await crawl_channel(
            context.fetcher,
            taken.username,
            base=context.base,
            after_id=taken.last_message_id,
            validators=taken.validators or None,
            max_pages=1 if taken.last_message_id is None else GAP_PAGES,
        )
        if crawl.not_modified:
            result.outcome = "unchanged"
        elif crawl.posts:  # a page changed only in its counters is no import run
            options = replace(context.options, requested_by=f"watch {watch_id}")
            report = await import_paths(factory, [_Read(crawl, now)], options)
            (file,) = report.files
            if file.errors:
                raise TgpipeError(file.errors[0])
            result.new = file.new
            if not crawl.complete and taken.last_message_id is not None:
                result.notes.append(
                    f"more posts came than {GAP_PAGES} pages hold; the oldest of them were not read"
                )
        await _succeeded(factory, taken, crawl, now, result)
    except TgpipeError as exc:
        result.outcome, result.error = "failed", str(exc)
        log.warning("watch %d (@%s) failed: %s", watch_id, taken.username, exc)
        await _failed(factory, taken, str(exc), now)
    return result


@dataclass(frozen=True, slots=True)
class _Read:
    """A crawl already read, as the importer's input."""

    crawl: Crawl
    observed_at: datetime

    @property
    def name(self) -> str:
        return self.crawl.url

    async def fetch(self, progress: Callable[[int], None]) -> Fetched:
        return Fetched("web-html", list(self.crawl.events), self.observed_at)


async def _take(
    factory: SessionFactory, watch_id: int, now: datetime, force: bool
) -> _Taken | None:
    async with unit_of_work(factory) as session:
        watch = await session.get(Watch, watch_id)
        if watch is None or watch.paused or (not force and watch.next_check_at > now):
            return None
        every = timedelta(seconds=watch.every_seconds)
        # Only one process moves the next check on from the value it read.
        moved = await session.execute(
            update(Watch)
            .where(Watch.id == watch_id, Watch.next_check_at == watch.next_check_at)
            .values(next_check_at=now + every)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return _Taken(
            watch.id,
            watch.username,
            every,
            watch.last_message_id,
            Validators(watch.etag, watch.last_modified),
        )


async def _succeeded(
    factory: SessionFactory, taken: _Taken, crawl: Crawl, now: datetime, result: CheckResult
) -> None:
    async with unit_of_work(factory) as session:
        watch = await session.get(Watch, taken.id)
        if watch is None:
            return  # removed while it was being checked
        if taken.last_message_id is None and not crawl.not_modified:
            result.outcome = "first look"
        elif crawl.posts:
            result.outcome = "new posts"
            if watch.target_id is not None:
                await _queue(session, watch, crawl, now, result)
        newest = [i for i in (watch.last_message_id, crawl.newest_id) if i is not None]
        watch.last_message_id = max(newest) if newest else None
        watch.etag, watch.last_modified = crawl.validators.etag, crawl.validators.last_modified
        watch.last_checked_at = now
        watch.last_error = None
        if watch.failures >= TELL_AFTER and watch.failing_since is not None:
            await tell(
                session,
                f"watch:{watch.id}:works:{watch.failing_since.isoformat()}",
                f"Watch {watch.id} of @{watch.username} works again.",
            )
        watch.failures = 0
        watch.failing_since = None


async def _queue(
    session: AsyncSession, watch: Watch, crawl: Crawl, now: datetime, result: CheckResult
) -> None:
    """Queue the crawl's posts newer than the watch had seen, oldest first."""
    since = watch.last_message_id or 0
    ids = sorted({p.message_id for p in crawl.posts if p.message_id and p.message_id > since})
    channel = await session.scalar(select(Channel).where(Channel.username == watch.username))
    target = await session.get(Channel, watch.target_id) if watch.target_id else None
    if channel is None or target is None or not ids:
        return
    posts = await session.scalars(
        select(Post)
        .join(ChannelMessage, ChannelMessage.post_id == Post.id)
        .where(ChannelMessage.channel_id == channel.id, ChannelMessage.message_id.in_(ids))
        .where(Post.duplicate_of.is_(None))
        .order_by(ChannelMessage.message_id)
    )
    due = now + timedelta(seconds=watch.delay_seconds)
    seen: set[int] = set()
    for post in posts:
        if post.id in seen:
            continue  # an album: one post for several message ids
        seen.add(post.id)
        if watch.policy is WatchPolicy.ORIGINALS and post.forwarded_from:
            continue
        try:
            publication = await schedule_post(session, post.id, target, due)
        except (DuplicatePublicationError, QueueError) as exc:
            # Both refuse before adding anything: the rest of the unit of work stands.
            result.notes.append(f"post {post.id} not queued: {exc}")
            continue
        result.queued.append(publication.id)


async def _failed(factory: SessionFactory, taken: _Taken, error: str, now: datetime) -> None:
    async with unit_of_work(factory) as session:
        watch = await session.get(Watch, taken.id)
        if watch is None:
            return
        watch.failures += 1
        watch.failing_since = watch.failing_since or now
        watch.last_error = error
        watch.last_checked_at = now
        backoff = min(taken.every * 2**watch.failures, MAX_BACKOFF)
        watch.next_check_at = now + max(backoff, taken.every)
        if watch.failures == TELL_AFTER:
            await tell(
                session,
                f"watch:{watch.id}:failing:{watch.failing_since.isoformat()}",
                f"Watch {watch.id} of @{watch.username} failed {watch.failures} checks in a "
                f"row: {error}\nIt is checked less often while it fails; `tgpipe watch "
                f"pause {watch.id}` stops it.",
            )
