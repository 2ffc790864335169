"""Writing parsed posts into the store, in batches, deduplicating them.

A message already in the store under the same source (the same message id of the same
channel, or for formats without ids the same fingerprint in the same channel) adds a
sighting, never a post: its reactions and views are taken from the newer sighting, its text
from the richer version. Every other post is written with its dedup features and keys, and
the clusters around the batch are settled (``pipeline.dedup.cluster``), so a post that is
the same content as one already stored points at it. Everything runs inside the caller's
unit of work, so a file that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text, tuple_, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pipeline.dedup import features as dedup_features
from pipeline.dedup.cluster import Change, Clusterer, KnownNodes, Node, rank_of, refined_keys
from pipeline.dedup.features import Features, words_of
from pipeline.dedup.signature import KEY_SHINGLE, exact_key, lsh_keys
from pipeline.dedup.similarity import DEFAULT_THRESHOLD
from pipeline.dedup.staging import StagedKeys
from pipeline.dedup.text import tokens
from pipeline.ingest.model import ChannelInfo, ParsedPost, entities_json
from pipeline.ingest.report import FileReport
from pipeline.reactions import ImportedCounts
from pipeline.store.bulk import BulkInsert
from pipeline.store.models import (
    Base,
    Channel,
    ChannelMessage,
    DuplicateReason,
    Post,
    PostKey,
    PostSource,
    PostStatus,
    ReactionCount,
)
from pipeline.store.types import now_utc
from pipeline.store.values import among, dialect_name
from pipeline.usernames import normalise_username

BATCH_SIZE = 2000
# Nodes of earlier batches kept for the clustering of later ones (see KnownNodes), ~1 KB
# each: a channel of one layout meets its whole history, a normal channel hardly any.
KNOWN_NODES = 50_000

_POST_COLUMNS = (
    "id", "channel_id", "text", "entities", "media", "link_preview", "title", "forwarded_from",
    "reply_to", "author", "author_id", "date", "edited_at", "views", "counts_seen_at", "status",
    "content_hash", "created_at", "updated_at",
)  # fmt: skip
_SOURCE_COLUMNS = (
    "post_id", "channel_id", "message_id", "import_run_id", "file", "format", "fingerprint",
    "first_seen_at", "last_seen_at",
)  # fmt: skip
_IDENTITY_COLUMNS = ("channel_id", "message_id", "post_id")
_KEY_COLUMNS = ("key", "post_id")


class _Inserts:
    """The writer's bulk inserts, compiled once for the session's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        def bulk(
            model: type[Base], columns: tuple[str, ...], encoded: tuple[str, ...] = ()
        ) -> BulkInsert:
            return BulkInsert(cast(Table, model.__table__), columns, dialect, encoded)

        self.posts = bulk(Post, _POST_COLUMNS, encoded=("entities",))
        self.sources = bulk(PostSource, _SOURCE_COLUMNS)
        self.identities = bulk(ChannelMessage, _IDENTITY_COLUMNS)
        self.counts = ImportedCounts(dialect)
        self.keys = bulk(PostKey, _KEY_COLUMNS)


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
    if channel is None and info.telegram_id is not None:
        # The export of a chat tgpipe publishes to, known by its Bot API id: -(10^12 + id)
        # for a channel or supergroup ("-100<id>"), -id for a basic group.
        bot_api_ids = [-(10**12) - info.telegram_id, -info.telegram_id]
        channel = await session.scalar(
            select(Channel).where(Channel.chat_id.in_(bot_api_ids)).order_by(Channel.id).limit(1)
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


def _features(post: ParsedPost) -> Features:
    assert post.features is not None, "features are attached before writing"
    return post.features


def _version(
    *,
    edited: datetime | None,
    words: int,
    entities: int,
    media_files: int,
    preview: bool,
    text: str,
) -> tuple[Any, ...]:
    """Which of two versions of one message to keep (greater is kept): the later edit, then
    the richer one (more of the text, formatting, media files), then a tie-break on the
    content itself so the choice never depends on import order."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    edit = edited.timestamp() if edited else 0.0
    return (edit, words, entities, media_files, preview, len(text), digest)


def _parsed_version(post: ParsedPost) -> tuple[Any, ...]:
    return _version(
        edited=post.edited,
        words=_features(post).word_count,
        entities=len(post.entities),
        media_files=sum(1 for item in post.media if item.file),
        preview=post.link_preview is not None,
        text=post.text,
    )


@dataclass(slots=True)
class _Stored:
    """What a re-sighting is compared with: the stored version of the message."""

    id: int
    text: str
    entities: int
    media_files: int
    preview: bool
    edited: datetime | None
    content_hash: str | None
    counts_seen_at: datetime | None
    counts_total: int
    views: int | None
    author: str | None
    author_id: str | None

    def may_be_richer(self, post: ParsedPost) -> bool:
        """False when ``post`` is this very version (a plain re-import): no need to compare."""
        return (post.text, len(post.entities), post.edited, post.link_preview is not None) != (
            self.text,
            self.entities,
            self.edited,
            self.preview,
        ) or sum(1 for item in post.media if item.file) != self.media_files

    def version(self) -> tuple[Any, ...]:
        words = len(tokens(self.text)) if dedup_features.is_text_hash(self.content_hash) else 0
        return _version(
            edited=self.edited,
            words=words,
            entities=self.entities,
            media_files=self.media_files,
            preview=self.preview,
            text=self.text,
        )


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
        observed_at: datetime | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self._session = session
        self._file = file
        self._format = format
        self._run_id = import_run_id
        self._report = report
        self._seen_at = seen_at or now_utc()
        # When the export was taken (its file's time): decides which sighting's counts win.
        self._observed_at = observed_at or self._seen_at
        self._threshold = threshold
        self._base = Path(file).parent
        self._resolved_base = self._base.resolve()
        self._channel_id: int | None = None
        self._channel_key = ""
        self._pending: list[_Pending] = []
        self._next_post_id: int | None = None
        self._bulk: _Inserts | None = None
        # The posts this file added (ascending: ids are handed out in order) and the reasons of
        # those that are duplicates, for the report; compact, as a file may add millions.
        self._added = array("q")
        self._reasons: dict[int, DuplicateReason] = {}
        self._took_over: dict[int, DuplicateReason] = {}
        # New posts' dedup keys, written to post_keys in large sorted runs (see staging.py).
        self._staged = StagedKeys()
        self._hot_keys: set[int] = set()  # dedup keys found hot (see Clusterer)
        self._known_nodes = KnownNodes(KNOWN_NODES)

    async def set_channel(self, channel: Channel | None) -> None:
        await self.flush()
        self._channel_id = channel.id if channel else None
        self._channel_key = (channel.username or channel.title) if channel else ""

    async def add(self, post: ParsedPost) -> None:
        self._pending.append(_Pending(post, fingerprint(post)))
        self._report.parsed += 1
        if len(self._pending) >= BATCH_SIZE:
            await self.flush()

    async def flush(self) -> None:
        """Write the buffered posts; their dedup keys may be held back until :meth:`finish`."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        dedup_features.attach([item.post for item in pending], self._base)
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
        self._report.duplicates += len(known)
        self._report.same_source += len(known)
        await self._add_sightings(
            [(item, post_id) for item, post_id in zip(new, new_ids, strict=True)], fresh=True
        )
        await self._add_sightings(known, fresh=False)
        changed, replaced, removed_keys = await self._refresh_known(known)
        self._known_nodes.forget(post_id for _, post_id in known)
        # A post of this batch whose text a later sighting in it replaced was re-keyed in the
        # store already: the clusterer reads it back as it now is, and its first keys are
        # not staged.
        kept = [(item, pid) for item, pid in zip(new, new_ids, strict=True) if pid not in replaced]
        clusterer = Clusterer(
            self._session, self._threshold, self._staged, self._hot_keys, self._known_nodes
        )
        for item, post_id in kept:
            clusterer.add(self._node(item.post, post_id), indexed=False)
        clusterer.rekeyed(replaced)
        if self._added and new_ids and min(new_ids) < self._added[-1]:
            self._added = array("q", sorted([*self._added, *new_ids]))  # never seen: ids ascend
        else:
            self._added.extend(sorted(new_ids))
        self._note(await clusterer.settle([*new_ids, *changed], removed_keys))
        self._staged.add([_features(item.post).keys for item, _ in kept], [pid for _, pid in kept])
        await self._index_rows(clusterer)
        if self._staged.full:
            await self._write_staged()

    async def finish(self) -> None:
        """Write what is buffered and count, for the report, how the file's new posts ended up."""
        await self.flush()
        await self._write_staged()
        for post_id in self._added:
            reason = self._reasons.get(post_id) or self._took_over.get(post_id)
            if reason is None:
                self._report.new += 1
            elif reason is DuplicateReason.NEAR_DUPLICATE:
                self._report.near_duplicates += 1
            else:
                self._report.duplicates += 1
                if reason is DuplicateReason.SAME_SOURCE:
                    self._report.same_source += 1
                else:
                    self._report.same_content += 1

    def _note(self, changes: list[Change]) -> None:
        for change in changes:
            if self._is_ours(change.post_id):
                if change.reason is None:
                    self._reasons.pop(change.post_id, None)
                else:
                    self._reasons[change.post_id] = change.reason
            elif (
                change.was_canonical
                and change.reason
                and change.duplicate_of is not None
                and self._is_ours(change.duplicate_of)
            ):
                # A post of this file is a more complete version of content already stored.
                self._took_over.setdefault(change.duplicate_of, change.reason)

    def _is_ours(self, post_id: int) -> bool:
        """Whether this file added the post ``post_id``."""
        at = bisect_left(self._added, post_id)
        return at < len(self._added) and self._added[at] == post_id

    def _node(self, post: ParsedPost, post_id: int) -> Node:
        features = _features(post)
        message_id = min(_message_ids(post), default=None)
        return Node(
            id=post_id,
            rank=rank_of(
                words=features.word_count,
                entities=len(post.entities),
                media=len(post.media),
                reactions=sum(r.count for r in post.reactions),
                views=post.views,
                date=post.date,
                channel=self._channel_key,
                message_id=message_id,
                text=post.text,
            ),
            channel_id=self._channel_id,
            has_ids=self._channel_id is not None and message_id is not None,
            content_hash=features.content_hash,
            keys=features.keys,
            words=None,
            body=post.text,
        )

    def _key(self, item: _Pending) -> object:
        message_id = item.post.message_id
        return ("id", message_id) if message_id is not None else ("fp", item.fingerprint)

    async def _existing_posts(self, pending: list[_Pending]) -> dict[object, int]:
        found: dict[object, int] = {}
        ids = [item.post.message_id for item in pending if item.post.message_id is not None]
        if ids and self._channel_id is not None:
            rows = await self._session.execute(
                select(ChannelMessage.message_id, ChannelMessage.post_id).where(
                    ChannelMessage.channel_id == self._channel_id,
                    among(ChannelMessage.message_id, ids, dialect_name(self._session)),
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
            # One row holding every id: a row per id cost more to fetch than to allocate.
            # The sequence is looked up once, not per id (that cost eight times the ids).
            ids = await connection.scalar(
                text(
                    "WITH s AS MATERIALIZED "
                    "(SELECT pg_get_serial_sequence('posts', 'id')::regclass AS seq) "
                    "SELECT array_agg(nextval(s.seq)) FROM s, generate_series(1, :count)"
                ),
                {"count": count},
            )
            return sorted(ids)
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
        await bulk.counts.add(
            connection,
            [(post_id, item.post.reactions) for item, post_id in pairs if item.post.reactions],
            self._observed_at,
        )
        return post_ids

    async def _write_staged(self) -> None:
        connection, bulk = await self._inserts()
        for rows in self._staged.drain():
            await bulk.keys.run(connection, rows)

    def _media(self, post: ParsedPost) -> list[dict[str, Any]]:
        """The post's media descriptors, each with the absolute ``path`` of its file when the
        export holds it (never outside the export's folder): the publisher sends from there."""
        items = []
        for media in post.media:
            item = media.to_dict()
            if media.file and "://" not in media.file:
                path = (self._base / media.file).resolve()
                if path.is_relative_to(self._resolved_base) and path.is_file():
                    item["path"] = str(path)
            items.append(item)
        return items

    def _post_row(self, post: ParsedPost, post_id: int) -> tuple[Any, ...]:
        preview = post.link_preview
        return (
            post_id,
            self._channel_id,
            post.text,
            entities_json(post.entities),  # JSON text already (see _Inserts)
            self._media(post),
            {k: v for k, v in asdict(preview).items() if v is not None} if preview else None,
            post.title,
            post.forwarded_from,
            post.reply_to,
            post.author,
            post.author_id,
            post.date,
            post.edited,
            post.views,
            self._observed_at,
            PostStatus.DRAFT,
            _features(post).content_hash,
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
                    among(
                        PostSource.post_id, {pid for _, pid in items}, dialect_name(self._session)
                    ),
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
                    among(
                        PostSource.post_id, {pid for _, pid in items}, dialect_name(self._session)
                    ),
                    PostSource.file == self._file,
                    PostSource.format == self._format,
                )
                .values(last_seen_at=self._seen_at, import_run_id=self._run_id)
            )

    async def _refresh_known(
        self, known: list[tuple[_Pending, int]]
    ) -> tuple[list[int], set[int], set[int]]:
        """Bring stored posts up to date with a new sighting of them; return those whose
        dedup standing may have changed (new text, or new counts that change their rank),
        those whose text was replaced, and the dedup keys those lost.

        Counts (reactions, views) come from the newest sighting by export time; on a tie the
        larger total wins, so the result never depends on import order. The text comes from
        the richest version (see :func:`_version`).
        """
        if not known:
            return [], set(), set()
        stored = await self._stored_versions({post_id for _, post_id in known})
        await self._fill_author(known, stored)
        best: dict[int, _Pending] = {}
        for item, post_id in known:
            current = best.get(post_id)
            if current is None or _parsed_version(item.post) > _parsed_version(current.post):
                best[post_id] = item
        replaced: set[int] = set()
        removed_keys: set[int] = set()
        for post_id, item in best.items():
            was = stored[post_id]
            if was.may_be_richer(item.post) and _parsed_version(item.post) > was.version():
                removed_keys |= await self._replace_text(was, item.post)
                replaced.add(post_id)
        # Posts this file added may have their old keys held still: forget those too.
        self._staged.discard(replaced)
        changed = set(replaced)
        counted = {post_id: item.post for item, post_id in known}  # the last sighting here
        newer = []
        for post_id, post in counted.items():
            was = stored[post_id]
            total = sum(r.count for r in post.reactions)
            seen = was.counts_seen_at
            if (
                seen is None
                or self._observed_at > seen
                or (self._observed_at == seen and total > was.counts_total)
            ):
                newer.append(post_id)
                views = post.views if post.views is not None else was.views
                if total != was.counts_total or views != was.views:
                    changed.add(post_id)  # reactions and views are part of a post's rank
        await self._write_counts([(post_id, counted[post_id]) for post_id in newer])
        return sorted(changed), replaced, removed_keys

    async def _fill_author(
        self, known: list[tuple[_Pending, int]], stored: dict[int, _Stored]
    ) -> None:
        """Take the author (and its id) from a sighting that has them when the stored post
        lacks them: a Desktop HTML export names senders but not their ids, a JSON export of
        the same chat both, and the text of either may be the one kept."""
        filled: dict[int, dict[str, Any]] = {}
        for item, post_id in known:
            was, post = stored[post_id], item.post
            values = filled.setdefault(post_id, {})
            author = values.get("author", was.author)
            if author is None and post.author is not None:
                author = values["author"] = post.author
            has_id = values.get("author_id", was.author_id) is not None
            if not has_id and post.author_id is not None and post.author == author:
                values["author_id"] = post.author_id
        rows = [{"id": post_id} | values for post_id, values in filled.items() if values]
        if rows:
            await self._session.execute(update(Post), rows)

    async def _stored_versions(self, post_ids: set[int]) -> dict[int, _Stored]:
        reactions = (
            select(func.coalesce(func.sum(ReactionCount.count), 0))
            .where(ReactionCount.post_id == Post.id)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            select(
                Post.id,
                Post.text,
                Post.entities,
                Post.media,
                Post.link_preview,
                Post.edited_at,
                Post.counts_seen_at,
                Post.content_hash,
                Post.views,
                Post.author,
                Post.author_id,
                reactions.label("reactions"),
            ).where(among(Post.id, post_ids, dialect_name(self._session)))
        )
        return {
            row.id: _Stored(
                id=row.id,
                text=row.text,
                entities=len(row.entities or ()),
                media_files=sum(1 for item in row.media or () if item.get("file")),
                preview=row.link_preview is not None,
                edited=row.edited_at,
                content_hash=row.content_hash,
                counts_seen_at=row.counts_seen_at,
                counts_total=int(row.reactions),
                views=row.views,
                author=row.author,
                author_id=row.author_id,
            )
            for row in rows
        }

    async def _replace_text(self, was: _Stored, post: ParsedPost) -> set[int]:
        """Store ``post``'s version of the message, and re-key the post for dedup; return
        the keys it no longer has."""
        features = _features(post)
        preview = post.link_preview
        values: dict[str, Any] = {
            "text": post.text,
            "entities": [entity.to_dict() for entity in post.entities],
            "media": self._media(post),
            "link_preview": (
                {k: v for k, v in asdict(preview).items() if v is not None} if preview else None
            ),
            "edited_at": post.edited,
            "content_hash": features.content_hash,
        }
        for name, value in (
            ("title", post.title),
            ("date", post.date),
            ("author", post.author),
            ("author_id", post.author_id),
            ("forwarded_from", post.forwarded_from),
            ("reply_to", post.reply_to),
        ):
            if value is not None:  # a field this version lacks is kept from the other
                values[name] = value
        await self._session.execute(update(Post).where(Post.id == was.id).values(**values))
        old_keys = _keys_of(was.text, was.content_hash)
        if old_keys:
            # And its refined keys, for those of them that were hot (see Clusterer).
            refined = refined_keys(old_keys, words_of(was.text, was.content_hash))
            await self._session.execute(
                delete(PostKey).where(
                    PostKey.post_id == was.id, PostKey.key.in_([*old_keys, *refined])
                )
            )
        connection, bulk = await self._inserts()
        await bulk.keys.run(connection, [(key, was.id) for key in features.keys])
        return set(old_keys) - set(features.keys)

    async def _index_rows(self, clusterer: Clusterer) -> None:
        """The index rows settling added or dropped besides the posts' own keys (refined
        keys of hot keys)."""
        if clusterer.rows_to_add:
            added = sorted(clusterer.rows_to_add)
            self._staged.add([[key] for key, _ in added], [post_id for _, post_id in added])
        if clusterer.rows_to_drop:
            dropped = sorted(clusterer.rows_to_drop)
            self._staged.discard_rows(dropped)
            await self._session.execute(
                delete(PostKey).where(tuple_(PostKey.key, PostKey.post_id).in_(dropped))
            )

    async def _write_counts(self, latest: list[tuple[int, ParsedPost]]) -> None:
        _, bulk = await self._inserts()
        await bulk.counts.replace(
            self._session,
            [(post_id, post.reactions) for post_id, post in latest],
            self._observed_at,
        )
        if latest:
            await self._session.execute(
                update(Post),
                [
                    {"id": post_id, "counts_seen_at": self._observed_at}
                    | ({"views": post.views} if post.views is not None else {})
                    for post_id, post in latest
                ],
            )


def _keys_of(text: str, content_hash: str | None) -> list[int]:
    """The keys a stored post was indexed under (they follow from its text)."""
    if dedup_features.is_text_hash(content_hash):
        words = tokens(text)
        return lsh_keys([words])[0] if len(words) >= KEY_SHINGLE else []
    return [exact_key(content_hash)] if content_hash else []
