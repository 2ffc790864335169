"""Reactions: the one place that records reaction counts and their history.

Counts come from two places:

* imports: an export states the counts of the posts it holds, as seen when it was taken —
  ``reaction_counts`` (the latest per post) and ``reaction_snapshots``, written in bulk by
  the importer through :class:`ImportedCounts`;
* the bot: Telegram reports reactions to the messages tgpipe published — a channel's as
  totals (``message_reaction_count``, a :class:`CountUpdate`), a group's as one person's
  change (``message_reaction``, a :class:`VoteUpdate`). :func:`record` maps them through
  ``published_messages`` to the publication and keeps the latest counts there, with a
  snapshot in ``published_snapshots`` for every moment reported.

Updates are recorded in batches (:class:`ReactionRecorder`): a busy channel sends thousands
a minute, and one transaction per update would be most of their cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pipeline.ingest.model import Reaction
from pipeline.store.bulk import BulkInsert
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.locks import REACTIONS, take_lock
from pipeline.store.models import (
    PublishedMessage,
    PublishedSnapshot,
    ReactionCount,
    ReactionSnapshot,
    ReactionVote,
)
from pipeline.store.values import among, dialect_name

log = logging.getLogger(__name__)

MessageKey = tuple[int, int]  # (Bot API chat id, message id)


# --- imports -------------------------------------------------------------------------------


class ImportedCounts:
    """An export's reaction counts for the posts it holds, written in bulk."""

    def __init__(self, dialect: Dialect) -> None:
        columns = ("post_id", "reaction", "count", "updated_at")
        self._counts = BulkInsert(cast(Table, ReactionCount.__table__), columns, dialect)
        self._snapshots = BulkInsert(
            cast(Table, ReactionSnapshot.__table__),
            ("post_id", "reaction", "count", "taken_at"),
            dialect,
        )

    async def add(
        self,
        connection: AsyncConnection,
        posts: Sequence[tuple[int, Sequence[Reaction]]],
        seen: datetime,
    ) -> None:
        """Counts of posts that have none yet, and a snapshot of them as the export saw them."""
        rows = [(post_id, r.key, r.count, seen) for post_id, rs in posts for r in rs]
        await self._counts.run(connection, rows)
        await self._snapshots.run(connection, rows)

    async def replace(
        self,
        session: AsyncSession,
        posts: Sequence[tuple[int, Sequence[Reaction]]],
        seen: datetime,
    ) -> None:
        """A newer sighting's counts replace the stored ones; the old ones stay as history."""
        with_reactions = [(post_id, rs) for post_id, rs in posts if rs]
        if not with_reactions:
            return
        await session.execute(
            delete(ReactionCount).where(
                among(
                    ReactionCount.post_id, [pid for pid, _ in with_reactions], dialect_name(session)
                )
            )
        )
        await self.add(await session.connection(), with_reactions, seen)


# --- updates for published messages ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountUpdate:
    """The totals of a message's anonymous reactions (a channel's), as of ``date``."""

    chat_id: int
    message_id: int
    date: datetime
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class VoteUpdate:
    """One person's reactions to a message (a group's) changed to ``reactions`` at ``date``."""

    chat_id: int
    message_id: int
    date: datetime
    voter: int  # the user's id, or the chat's that reacted on its behalf
    reactions: tuple[str, ...]


ReactionUpdate = CountUpdate | VoteUpdate


@dataclass(slots=True)
class Recorded:
    """What :func:`record` did with a batch of updates."""

    applied: int = 0  # updates that are now the latest counts (or a person's latest vote)
    stale: int = 0  # older than what was stored, or repeated: history at most
    unknown: int = 0  # for messages tgpipe did not publish: ignored

    def __iadd__(self, other: Recorded) -> Recorded:
        self.applied += other.applied
        self.stale += other.stale
        self.unknown += other.unknown
        return self

    @property
    def total(self) -> int:
        return self.applied + self.stale + self.unknown


@dataclass(slots=True)
class _Message:
    publication_id: int
    reactions: dict[str, int]
    counted_at: datetime | None
    changed: bool = False


# Rows per statement: SQLite's limit on bound parameters and PostgreSQL's plan cache both
# prefer statements of a bounded size.
_CHUNK = 500


async def record(session: AsyncSession, updates: Sequence[ReactionUpdate]) -> Recorded:
    """Record ``updates`` (in the order they arrived) in the caller's transaction.

    An update never replaces counts that Telegram dated later; one for a message tgpipe did
    not send is ignored. Recorders in several processes take turns (the ``reactions`` lock),
    so two of them cannot interleave a read and a write of the same message.
    """
    outcome = Recorded()
    if not updates:
        return outcome
    await take_lock(session, REACTIONS)
    messages = await _published(session, {(u.chat_id, u.message_id) for u in updates})
    known = [u for u in updates if (u.chat_id, u.message_id) in messages]
    outcome.unknown = len(updates) - len(known)
    # Stable sort: updates of one moment keep the order they arrived in.
    known.sort(key=lambda u: u.date)
    snapshots: dict[tuple[MessageKey, datetime], tuple[dict[str, int], bool]] = {}

    for u in known:
        if not isinstance(u, CountUpdate):
            continue
        key = (u.chat_id, u.message_id)
        message = messages[key]
        counts = {k: int(v) for k, v in u.counts.items() if v}
        if message.counted_at is not None and (
            u.date < message.counted_at
            or (u.date == message.counted_at and counts == message.reactions)
        ):
            outcome.stale += 1
            # An old moment still belongs in the history, unless it is there already.
            snapshots.setdefault((key, u.date), (counts, False))
            continue
        message.reactions, message.counted_at, message.changed = counts, u.date, True
        snapshots[(key, u.date)] = (counts, True)
        outcome.applied += 1

    votes = [u for u in known if isinstance(u, VoteUpdate)]
    if votes:
        await _apply_votes(session, votes, messages, snapshots, outcome)

    await _write(session, messages, snapshots)
    return outcome


async def _of_messages(
    session: AsyncSession,
    model: type[PublishedMessage] | type[ReactionVote],
    keys: Iterable[MessageKey],
    *columns: Any,
) -> list[Any]:
    """Rows of ``model`` for the messages ``keys``, a bounded number per statement."""
    ordered = sorted(keys)
    rows: list[Any] = []
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        where = tuple_(model.chat_id, model.message_id).in_(chunk)
        rows.extend(
            await session.execute(select(model.chat_id, model.message_id, *columns).where(where))
        )
    return rows


async def _published(session: AsyncSession, keys: set[MessageKey]) -> dict[MessageKey, _Message]:
    rows = await _of_messages(
        session,
        PublishedMessage,
        keys,
        PublishedMessage.publication_id,
        PublishedMessage.reactions,
        PublishedMessage.counted_at,
    )
    return {
        (chat_id, message_id): _Message(publication_id, dict(reactions), counted_at)
        for chat_id, message_id, publication_id, reactions, counted_at in rows
    }


async def _apply_votes(
    session: AsyncSession,
    votes: list[VoteUpdate],
    messages: dict[MessageKey, _Message],
    snapshots: dict[tuple[MessageKey, datetime], tuple[dict[str, int], bool]],
    outcome: Recorded,
) -> None:
    """A group's totals are counted from everyone's latest reactions to the message."""
    keys = sorted({(u.chat_id, u.message_id) for u in votes})
    ballots: dict[MessageKey, dict[int, tuple[tuple[str, ...], datetime]]] = {k: {} for k in keys}
    rows = await _of_messages(
        session,
        ReactionVote,
        keys,
        ReactionVote.voter,
        ReactionVote.reactions,
        ReactionVote.voted_at,
    )
    for chat_id, message_id, voter, reactions, voted_at in rows:
        ballots[(chat_id, message_id)][voter] = (tuple(reactions), voted_at)
    changed: dict[tuple[MessageKey, int], tuple[tuple[str, ...], datetime]] = {}
    for u in votes:
        key = (u.chat_id, u.message_id)
        was = ballots[key].get(u.voter)
        if was is not None and (u.date < was[1] or was == (u.reactions, u.date)):
            outcome.stale += 1
            continue
        ballots[key][u.voter] = changed[(key, u.voter)] = (u.reactions, u.date)
        outcome.applied += 1
    if not changed:
        return
    await _upsert_votes(session, changed)
    for key in {key for key, _ in changed}:
        tally: Counter[str] = Counter()
        for reactions, _ in ballots[key].values():
            tally.update(set(reactions))
        message = messages[key]
        latest = max(at for _, at in ballots[key].values())
        if message.counted_at is not None and latest < message.counted_at:
            latest = message.counted_at
        message.reactions, message.counted_at, message.changed = dict(tally), latest, True
        snapshots[(key, latest)] = (dict(tally), True)


async def _upsert_votes(
    session: AsyncSession, changed: dict[tuple[MessageKey, int], tuple[tuple[str, ...], datetime]]
) -> None:
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    statement = insert(ReactionVote)
    statement = statement.on_conflict_do_update(
        index_elements=["chat_id", "message_id", "voter"],
        set_={"reactions": statement.excluded.reactions, "voted_at": statement.excluded.voted_at},
    )
    rows = [
        {"chat_id": c, "message_id": m, "voter": voter, "reactions": list(r), "voted_at": at}
        for ((c, m), voter), (r, at) in changed.items()
    ]
    for start in range(0, len(rows), _CHUNK):
        await session.execute(statement, rows[start : start + _CHUNK])


async def _write(
    session: AsyncSession,
    messages: dict[MessageKey, _Message],
    snapshots: dict[tuple[MessageKey, datetime], tuple[dict[str, int], bool]],
) -> None:
    latest = [
        {
            "c": chat_id,
            "m": message_id,
            "reactions": message.reactions,
            "total": sum(message.reactions.values()),
            "counted_at": message.counted_at,
        }
        for (chat_id, message_id), message in messages.items()
        if message.changed
    ]
    if latest:
        table = cast(Table, PublishedMessage.__table__)
        statement = (
            update(table)
            .where(table.c.chat_id == bindparam("c"), table.c.message_id == bindparam("m"))
            .values(
                reactions=bindparam("reactions"),
                total=bindparam("total"),
                counted_at=bindparam("counted_at"),
            )
        )
        await session.execute(statement, latest)
    if not snapshots:
        return
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    rows: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for ((chat_id, message_id), at), (counts, newest) in snapshots.items():
        rows[newest].append(
            {
                "publication_id": messages[(chat_id, message_id)].publication_id,
                "chat_id": chat_id,
                "message_id": message_id,
                "taken_at": at,
                "reactions": counts,
                "total": sum(counts.values()),
            }
        )
    # The latest counts of a moment overwrite what an earlier batch knew of that moment;
    # an old moment's snapshot is only added where none exists.
    base = insert(PublishedSnapshot)
    keys = ["chat_id", "message_id", "taken_at"]
    statements = {
        True: base.on_conflict_do_update(
            index_elements=keys,
            set_={"reactions": base.excluded.reactions, "total": base.excluded.total},
        ),
        False: base.on_conflict_do_nothing(index_elements=keys),
    }
    for newest, items in rows.items():
        for start in range(0, len(items), _CHUNK):
            if items[start : start + _CHUNK]:
                await session.execute(statements[newest], items[start : start + _CHUNK])


async def remember_sent(
    session: AsyncSession, publication_id: int, chat_id: int, message_ids: Iterable[int]
) -> None:
    """The messages a publication put in ``chat_id``: reactions to them are its reactions."""
    rows = [
        {"chat_id": chat_id, "message_id": message_id, "publication_id": publication_id}
        for message_id in message_ids
    ]
    if not rows or not chat_id:
        return
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(PublishedMessage).on_conflict_do_nothing(index_elements=["chat_id", "message_id"]),
        rows,
    )


# --- batching -------------------------------------------------------------------------------


class ReactionRecorder:
    """Collects updates as they arrive and records them in batches, each in one transaction:
    ``delay`` seconds after the first one waiting, or as soon as ``batch`` are waiting.

    :meth:`close` records what is still waiting (the bot calls it on shutdown). A batch the
    store refuses is kept and tried again; past ``backlog`` waiting updates the oldest are
    dropped (and logged), so an unreachable store cannot exhaust memory.
    """

    def __init__(
        self,
        factory: SessionFactory,
        *,
        batch: int = 500,
        delay: float = 0.2,
        backlog: int = 100_000,
    ) -> None:
        self._factory = factory
        self._batch = batch
        self._delay = delay
        self._backlog = backlog
        self.totals = Recorded()
        self._waiting: list[ReactionUpdate] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, update: ReactionUpdate) -> None:
        self._waiting.append(update)
        if len(self._waiting) > self._backlog:
            dropped = len(self._waiting) - self._backlog
            del self._waiting[:dropped]
            log.error("reaction updates piling up (store unreachable?): dropped %d", dropped)
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="reactions")
        if len(self._waiting) >= self._batch:
            self._wake.set()

    async def flushed(self) -> None:
        """Wait until everything added so far is recorded (or, at close, given up on)."""
        await self._idle.wait()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        try:
            while self._waiting:
                if not self._closing and len(self._waiting) < self._batch:
                    self._wake.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._delay)
                if await self._flush():
                    continue
                if self._closing:
                    log.error("%d reaction update(s) not recorded", len(self._waiting))
                    self._waiting.clear()
                    break
                await asyncio.sleep(self._delay)  # the store refused: try again shortly
        finally:
            self._idle.set()

    async def _flush(self) -> bool:
        """Record what is waiting now; False if the store refused a batch (it stays waiting).

        Updates that arrive meanwhile wait for the next round: taking them as they come
        would record them one or two at a time while updates stream in."""
        left = len(self._waiting)
        while left > 0:
            taken = self._waiting[: min(self._batch, left)]
            try:
                async with unit_of_work(self._factory) as session:
                    outcome = await record(session, taken)
            except Exception:
                log.exception("recording %d reaction update(s) failed", len(taken))
                return False
            del self._waiting[: len(taken)]
            left -= len(taken)
            self.totals += outcome
        return True
