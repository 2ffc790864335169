"""Writing parsed posts into the store, in batches, deduplicating by source.

A message already in the store under the same source (the same message id of the same
channel, or for formats without ids the same fingerprint in the same channel) adds a
sighting and refreshes counts; it never adds a post. Everything runs inside the caller's
unit of work, so a file that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.channels import normalise_username
from pipeline.ingest.model import ChannelInfo, ParsedPost
from pipeline.ingest.report import FileReport
from pipeline.ingest.textutil import extract_hashtags, extract_links
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    Post,
    PostSource,
    PostStatus,
    ReactionCount,
    ReactionSnapshot,
)
from pipeline.store.types import utcnow

BATCH_SIZE = 1000


def fingerprint(post: ParsedPost) -> str:
    """A hash of the message as read: equal for the same message read twice from one format."""
    raw = [
        post.message_id,
        post.text,
        [media.to_dict() for media in post.media],
        post.forwarded_from,
        post.author,
        post.date.isoformat() if post.date else None,
    ]
    return hashlib.sha256(json.dumps(raw, ensure_ascii=False).encode()).hexdigest()


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
    if channel is None and info.title and info.telegram_id is None and not username:
        # A title is a weak identity: only use it when the export gives nothing better.
        channel = await session.scalar(
            select(Channel).where(func.lower(Channel.title) == info.title.lower()).limit(1)
        )
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
        self._seen_at = seen_at or utcnow()
        self._channel_id: int | None = None
        self._pending: list[_Pending] = []

    async def set_channel(self, channel: Channel | None) -> None:
        await self.flush()
        self._channel_id = channel.id if channel else None

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
        if ids and self._channel_id is not None:
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

    async def _insert_posts(self, new: list[_Pending]) -> list[int]:
        if not new:
            return []
        rows = [self._post_row(item.post) for item in new]
        result = await self._session.scalars(
            insert(Post).returning(Post.id, sort_by_parameter_order=True), rows
        )
        post_ids = list(result)
        if self._channel_id is not None:
            identities = [
                {"channel_id": self._channel_id, "message_id": mid, "post_id": post_id}
                for item, post_id in zip(new, post_ids, strict=True)
                for mid in ([item.post.message_id] if item.post.message_id is not None else [])
                + [extra for extra in item.post.album_ids if extra != item.post.message_id]
            ]
            if identities:
                await self._session.execute(insert(ChannelMessage), identities)
        reactions = [
            {"post_id": post_id, "reaction": reaction.key, "count": reaction.count}
            for item, post_id in zip(new, post_ids, strict=True)
            for reaction in item.post.reactions
        ]
        if reactions:
            await self._session.execute(insert(ReactionCount), reactions)
            await self._session.execute(
                insert(ReactionSnapshot), [{**row, "taken_at": self._seen_at} for row in reactions]
            )
        return post_ids

    def _post_row(self, post: ParsedPost) -> dict[str, Any]:
        preview = post.link_preview
        return {
            "channel_id": self._channel_id,
            "text": post.text,
            "entities": [entity.to_dict() for entity in post.entities],
            "media": [media.to_dict() for media in post.media],
            "hashtags": extract_hashtags(post.text),
            "links": extract_links(post.text, post.entities),
            "link_preview": (
                {k: v for k, v in asdict(preview).items() if v is not None} if preview else None
            ),
            "title": post.title,
            "forwarded_from": post.forwarded_from,
            "author": post.author,
            "date": post.date,
            "edited_at": post.edited,
            "views": post.views,
            "status": PostStatus.DRAFT,
        }

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
                {
                    "post_id": post_id,
                    "channel_id": self._channel_id,
                    "message_id": item.post.message_id,
                    "import_run_id": self._run_id,
                    "file": self._file,
                    "format": self._format,
                    "fingerprint": item.fingerprint,
                    "first_seen_at": self._seen_at,
                    "last_seen_at": self._seen_at,
                }
            )
        if rows_to_add:
            await self._session.execute(insert(PostSource), rows_to_add)
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
            rows = [
                {"post_id": post_id, "reaction": reaction.key, "count": reaction.count}
                for post_id in with_reactions
                for reaction in latest[post_id].reactions
            ]
            await self._session.execute(insert(ReactionCount), rows)
            await self._session.execute(
                insert(ReactionSnapshot), [{**row, "taken_at": self._seen_at} for row in rows]
            )
        views = [
            {"id": post_id, "views": post.views}
            for post_id, post in latest.items()
            if post.views is not None
        ]
        if views:
            await self._session.execute(update(Post), views)
