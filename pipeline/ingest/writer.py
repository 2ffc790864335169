"""Writing parsed posts into the store, in batches, deduplicating by source.

A message already in the store under the same source (the same message id of the same
channel, or for formats without ids the same fingerprint in the same channel) adds a
sighting and refreshes counts; it never adds a post. Everything runs inside the caller's
unit of work, so a file that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, exists, func, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pipeline.channels import normalise_username
from pipeline.ingest.model import ChannelInfo, ParsedPost, Reaction
from pipeline.ingest.report import FileReport
from pipeline.store.bulk import BulkInsert
from pipeline.store.models import (
    Base,
    Channel,
    ChannelMessage,
    Post,
    PostSource,
    PostStatus,
    ReactionCount,
    ReactionSnapshot,
)
from pipeline.store.types import now_utc

BATCH_SIZE = 2000

_POST_COLUMNS = (
    "id", "channel_id", "text", "entities", "media", "link_preview", "title", "forwarded_from",
    "reply_to", "author", "date", "edited_at", "views", "status", "created_at", "updated_at",
)  # fmt: skip
_SOURCE_COLUMNS = (
    "post_id", "channel_id", "message_id", "import_run_id", "file", "format", "fingerprint",
    "first_seen_at", "last_seen_at",
)  # fmt: skip
_IDENTITY_COLUMNS = ("channel_id", "message_id", "post_id")
_REACTION_COLUMNS = ("post_id", "reaction", "count", "updated_at")
_SNAPSHOT_COLUMNS = ("post_id", "reaction", "count", "taken_at")


class _Inserts:
    """The writer's bulk inserts, compiled once for the session's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        def bulk(model: type[Base], columns: tuple[str, ...]) -> BulkInsert:
            return BulkInsert(cast(Table, model.__table__), columns, dialect)

        self.posts = bulk(Post, _POST_COLUMNS)
        self.sources = bulk(PostSource, _SOURCE_COLUMNS)
        self.identities = bulk(ChannelMessage, _IDENTITY_COLUMNS)
        self.reactions = bulk(ReactionCount, _REACTION_COLUMNS)
        self.snapshots = bulk(ReactionSnapshot, _SNAPSHOT_COLUMNS)


def fingerprint(post: ParsedPost) -> str:
    """A hash of the message as read: equal for the same message read twice from one format."""
    media = "\x1e".join(f"{m.kind}\x1d{m.file}\x1d{m.file_name}\x1d{m.size}" for m in post.media)
    raw = "\x1f".join(
        (
            str(post.message_id),
            post.text,
            media,
            post.forwarded_from or "",
            post.author or "",
            post.date.isoformat() if post.date else "",
        )
    )
    # 128 bits tell messages apart as well as 256 and keep the provenance index small.
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


async def upsert_channel(session: AsyncSession, info: ChannelInfo) -> Channel | None:
    """The stored channel for ``info``, created or refreshed; None when ``info`` names nothing."""
    username = normalise_username(info.username) if info.username else None
    channel = None
    if info.telegram_id is not None:
        channel = await session.scalar(
            select(Channel).where(Channel.telegram_id == info.telegram_id)
        )
    if channel is None and username:
        channel = await session.scalar(select(Channel).where(Channel.username == username))
    if channel is None and info.title:
        # A title is a weak identity: an export that names the chat only by title (HTML)
        # matches a known channel of that title; one that has an id or username only claims
        # a channel seen so far by title alone.
        query = select(Channel).where(Channel.title == info.title)
        if info.telegram_id is not None or username:
            query = query.where(Channel.telegram_id.is_(None), Channel.username.is_(None))
        channel = await session.scalar(query.order_by(Channel.id).limit(1))
    if channel is None:
        if not (info.title or username or info.telegram_id):
            return None
        channel = Channel(title=info.title or username or str(info.telegram_id))
        session.add(channel)
    if info.title:
        channel.title = info.title
    if username:
        channel.username = username
    if info.telegram_id is not None:
        channel.telegram_id = info.telegram_id
    if info.subscribers is not None:
        channel.subscribers = info.subscribers
    if info.description:
        channel.description = info.description
    await session.flush()
    return channel


def _message_ids(post: ParsedPost) -> list[int]:
    """Every message id a post stands for: its own and those of the album items folded in."""
    ids = [post.message_id] if post.message_id is not None else []
    return ids + [extra for extra in post.album_ids if extra != post.message_id]


@dataclass(slots=True)
class _Pending:
    post: ParsedPost
    fingerprint: str


class PostWriter:
    """Buffers parsed posts of one file and writes them in batches."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        file: str,
        format: str,
        import_run_id: int | None,
        report: FileReport,
        seen_at: datetime | None = None,
    ) -> None:
        self._session = session
        self._file = file
        self._format = format
        self._run_id = import_run_id
        self._report = report
        self._seen_at = seen_at or now_utc()
        self._channel_id: int | None = None
        self._channel_is_new = False
        self._ids_from_this_file: dict[int, int] = {}
        self._pending: list[_Pending] = []
        self._next_post_id: int | None = None
        self._bulk: _Inserts | None = None

    async def set_channel(self, channel: Channel | None) -> None:
        await self.flush()
        self._channel_id = channel.id if channel else None
        # A chat with no stored messages yet (a first import) needs no look-ups: any of its
        # messages already stored came from this file, and those are remembered here.
        self._channel_is_new = channel is not None and not await self._session.scalar(
            select(exists().where(ChannelMessage.channel_id == channel.id))
        )
        self._ids_from_this_file = {}

    async def add(self, post: ParsedPost) -> None:
        self._pending.append(_Pending(post, fingerprint(post)))
        self._report.parsed += 1
        if len(self._pending) >= BATCH_SIZE:
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        existing = await self._existing_posts(pending)
        new: list[_Pending] = []
        seen_in_batch: dict[object, int] = {}
        repeats: list[tuple[_Pending, int]] = []  # (sighting, index into new)
        known: list[tuple[_Pending, int]] = []  # (sighting, stored post id)
        for item in pending:
            key = self._key(item)
            if key in existing:
                known.append((item, existing[key]))
            elif key in seen_in_batch:
                repeats.append((item, seen_in_batch[key]))
            else:
                seen_in_batch[key] = len(new)
                new.append(item)
        new_ids = await self._insert_posts(new)
        known.extend((item, new_ids[index]) for item, index in repeats)
        self._report.new += len(new)
        self._report.duplicates += len(known)
        await self._add_sightings(
            [(item, post_id) for item, post_id in zip(new, new_ids, strict=True)], fresh=True
        )
        await self._add_sightings(known, fresh=False)
        await self._refresh_counts(known)

    def _key(self, item: _Pending) -> object:
        message_id = item.post.message_id
        return ("id", message_id) if message_id is not None else ("fp", item.fingerprint)

    async def _existing_posts(self, pending: list[_Pending]) -> dict[object, int]:
        found: dict[object, int] = {}
        ids = [item.post.message_id for item in pending if item.post.message_id is not None]
        if self._channel_is_new:
            known = self._ids_from_this_file
            found.update({("id", mid): known[mid] for mid in ids if mid in known})
        elif ids and self._channel_id is not None:
            rows = await self._session.execute(
                select(ChannelMessage.message_id, ChannelMessage.post_id).where(
                    ChannelMessage.channel_id == self._channel_id,
                    ChannelMessage.message_id.in_(ids),
                )
            )
            found.update({("id", message_id): post_id for message_id, post_id in rows})
        fingerprints = [
            item.fingerprint
            for item in pending
            if item.post.message_id is None or self._channel_id is None
        ]
        if fingerprints:
            channel_match = (
                PostSource.channel_id.is_(None)
                if self._channel_id is None
                else PostSource.channel_id == self._channel_id
            )
            rows = await self._session.execute(
                select(PostSource.fingerprint, PostSource.post_id).where(
                    PostSource.fingerprint.in_(fingerprints), channel_match
                )
            )
            for fp, post_id in rows:
                found.setdefault(("fp", fp), post_id)
            # A message with an id but no channel is identified by its fingerprint too.
            for item in pending:
                if item.post.message_id is not None and ("fp", item.fingerprint) in found:
                    found.setdefault(("id", item.post.message_id), found[("fp", item.fingerprint)])
        return found

    async def _allocate_post_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new posts, taken up front so rows need no RETURNING round trip
        (fetching RETURNING rows one by one through aiosqlite was most of an import's time)."""
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            rows = await connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('posts', 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"count": count},
            )
            return [row[0] for row in rows]
        if self._next_post_id is None:
            # Take SQLite's write lock first: until this transaction ends no other writer can
            # add posts, so max(id) stays the last id in use.
            await connection.execute(text("DELETE FROM posts WHERE 0"))
            self._next_post_id = (await connection.scalar(select(func.max(Post.id))) or 0) + 1
        first = self._next_post_id
        self._next_post_id += count
        return list(range(first, first + count))

    async def _inserts(self) -> tuple[AsyncConnection, _Inserts]:
        connection = await self._session.connection()
        if self._bulk is None:
            self._bulk = _Inserts(connection.dialect)
        return connection, self._bulk

    async def _insert_posts(self, new: list[_Pending]) -> list[int]:
        if not new:
            return []
        post_ids = await self._allocate_post_ids(len(new))
        connection, bulk = await self._inserts()
        pairs = list(zip(new, post_ids, strict=True))
        await bulk.posts.run(connection, [self._post_row(item.post, pid) for item, pid in pairs])
        if self._channel_id is not None:
            identities = [
                (self._channel_id, message_id, post_id)
                for item, post_id in pairs
                for message_id in _message_ids(item.post)
            ]
            await bulk.identities.run(connection, identities)
            if self._channel_is_new:
                self._ids_from_this_file.update((mid, pid) for _, mid, pid in identities)
        await self._insert_reactions(
            [(post_id, item.post.reactions) for item, post_id in pairs if item.post.reactions]
        )
        return post_ids

    async def _insert_reactions(self, posts: list[tuple[int, list[Reaction]]]) -> None:
        """Counts, and a snapshot of them as seen now, so growth can be charted."""
        connection, bulk = await self._inserts()
        seen = self._seen_at
        await bulk.reactions.run(
            connection, [(pid, r.key, r.count, seen) for pid, rs in posts for r in rs]
        )
        await bulk.snapshots.run(
            connection, [(pid, r.key, r.count, seen) for pid, rs in posts for r in rs]
        )

    def _post_row(self, post: ParsedPost, post_id: int) -> tuple[Any, ...]:
        preview = post.link_preview
        return (
            post_id,
            self._channel_id,
            post.text,
            [entity.to_dict() for entity in post.entities],
            [media.to_dict() for media in post.media],
            {k: v for k, v in asdict(preview).items() if v is not None} if preview else None,
            post.title,
            post.forwarded_from,
            post.reply_to,
            post.author,
            post.date,
            post.edited,
            post.views,
            PostStatus.DRAFT,
            self._seen_at,
            self._seen_at,
        )

    async def _add_sightings(self, items: list[tuple[_Pending, int]], *, fresh: bool) -> None:
        if not items:
            return
        present: set[tuple[int, str]] = set()
        if not fresh:
            rows = await self._session.execute(
                select(PostSource.post_id, PostSource.fingerprint).where(
                    PostSource.post_id.in_({post_id for _, post_id in items}),
                    PostSource.file == self._file,
                    PostSource.format == self._format,
                )
            )
            present = {(post_id, fp) for post_id, fp in rows}
        rows_to_add = []
        for item, post_id in items:
            key = (post_id, item.fingerprint)
            if key in present:
                continue
            present.add(key)
            rows_to_add.append(
                (
                    post_id,
                    self._channel_id,
                    item.post.message_id,
                    self._run_id,
                    self._file,
                    self._format,
                    item.fingerprint,
                    self._seen_at,
                    self._seen_at,
                )
            )
        connection, bulk = await self._inserts()
        await bulk.sources.run(connection, rows_to_add)
        if not fresh:
            await self._session.execute(
                update(PostSource)
                .where(
                    PostSource.post_id.in_({post_id for _, post_id in items}),
                    PostSource.file == self._file,
                    PostSource.format == self._format,
                )
                .values(last_seen_at=self._seen_at, import_run_id=self._run_id)
            )

    async def _refresh_counts(self, known: list[tuple[_Pending, int]]) -> None:
        """A later sighting carries the latest reaction counts and views."""
        latest = {post_id: item.post for item, post_id in known}  # the last sighting wins
        with_reactions = [post_id for post_id, post in latest.items() if post.reactions]
        if with_reactions:
            await self._session.execute(
                delete(ReactionCount).where(ReactionCount.post_id.in_(with_reactions))
            )
            await self._insert_reactions(
                [(post_id, latest[post_id].reactions) for post_id in with_reactions]
            )
        views = [
            {"id": post_id, "views": post.views}
            for post_id, post in latest.items()
            if post.views is not None
        ]
        if views:
            await self._session.execute(update(Post), views)
