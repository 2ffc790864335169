"""Reading posts out of the store: the views behind `tgpipe posts list/show` and the bot."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pipeline.channels import find_channel
from pipeline.errors import NotFoundError
from pipeline.ingest.model import Entity
from pipeline.ingest.textutil import extract_hashtags, extract_links
from pipeline.store.models import ChannelMessage, ImportRun, Post, PostSource, PostStatus
from pipeline.store.values import among, dialect_name


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a 'Z', the form every JSON output of tgpipe uses."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def first_line(text: str, limit: int = 120) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass(slots=True)
class SourceView:
    """One place a post's content was seen; ``post_id`` is the stored version seen there
    (the canonical post itself, or one of its duplicates)."""

    file: str
    format: str
    message_id: int | None  # the first message of an album
    channel: str | None
    post_id: int
    # Every message of the chat seen as this post there: an album's items, in order.
    message_ids: list[int] = field(default_factory=list)
    channel_id: int | None = None  # of the store, to find an album's messages

    @classmethod
    def from_source(cls, source: PostSource) -> SourceView:
        channel = source.channel.display_name if source.channel else None
        message_ids = [source.message_id] if source.message_id is not None else []
        return cls(
            source.file,
            source.format,
            source.message_id,
            channel,
            source.post_id,
            message_ids,
            source.channel_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "message_id": self.message_id,
            "message_ids": self.message_ids,
            "channel": self.channel,
            "post_id": self.post_id,
        }


@dataclass(slots=True)
class PostView:
    """A post as the CLI and the bot show it (DESIGN.md, `tgpipe posts list --json`)."""

    id: int
    channel: str | None
    title: str
    text: str
    forwarded_from: str | None
    reply_to: int | None
    author: str | None
    author_id: str | None
    reactions: dict[str, int]
    views: int | None
    hashtags: list[str]
    links: list[str]
    media: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    date: datetime | None
    status: str
    duplicate_of: int | None
    duplicate_reason: str | None
    similarity: float | None
    sources: list[SourceView]
    duplicates: list[PostView] = field(default_factory=list)

    @classmethod
    def from_post(cls, post: Post) -> PostView:
        return cls(
            id=post.id,
            channel=post.channel.display_name if post.channel else None,
            title=post.title or first_line(post.text),
            text=post.text,
            forwarded_from=post.forwarded_from,
            reply_to=post.reply_to,
            author=post.author,
            author_id=post.author_id,
            reactions={r.reaction: r.count for r in post.reactions},
            views=post.views,
            # Derived from the text on reading: never stale, and imports store less.
            hashtags=extract_hashtags(post.text),
            links=extract_links(post.text, [Entity(**entity) for entity in post.entities]),
            media=list(post.media),
            entities=list(post.entities),
            date=post.date,
            status=post.status.value,
            duplicate_of=post.duplicate_of,
            duplicate_reason=post.duplicate_reason.value if post.duplicate_reason else None,
            similarity=post.similarity,
            sources=[SourceView.from_source(source) for source in post.sources],
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "channel": self.channel,
            "title": self.title,
            "text": self.text,
            "forwarded_from": self.forwarded_from,
            "reply_to": self.reply_to,
            "author": self.author,
            "author_id": self.author_id,
            "reactions": self.reactions,
            "views": self.views,
            "hashtags": self.hashtags,
            "links": self.links,
            "media": self.media,
            "date": iso_utc(self.date),
            "status": self.status,
            "duplicate_of": self.duplicate_of,
            "duplicate_reason": self.duplicate_reason,
            "similarity": self.similarity,
            "sources": [source.to_json() for source in self.sources],
        }
        return data

    @property
    def original(self) -> PostView:
        """The earliest dated version among this post and its duplicates: where the content
        first appeared (the canonical post is the most complete one, not always the first)."""
        dated = [view for view in (self, *self.duplicates) if view.date is not None]
        return min(dated, key=lambda view: (view.date, view.id)) if dated else self

    def to_json_detail(self) -> dict[str, Any]:
        """`posts show`: everything in the list view, plus formatting, the duplicates and the
        original (the earliest version)."""
        data = self.to_json()
        data["entities"] = self.entities
        data["duplicates"] = [duplicate.to_json() for duplicate in self.duplicates]
        original = self.original
        data["original"] = {
            "id": original.id,
            "channel": original.channel,
            "date": iso_utc(original.date),
        }
        return data


def _with_details(query: Select[Post]) -> Select[Post]:
    return query.options(
        selectinload(Post.channel),
        selectinload(Post.reactions),
        selectinload(Post.sources).selectinload(PostSource.channel),
    )


def _of_channels(channel_ids: Collection[int], include_duplicates: bool) -> ColumnElement[bool]:
    if include_duplicates:
        return Post.channel_id.in_(channel_ids)
    # Content seen in the channels, also where the stored canonical version of it comes
    # from elsewhere (a channel re-posted it).
    reposted = select(Post.duplicate_of).where(Post.channel_id.in_(channel_ids))
    return or_(Post.channel_id.in_(channel_ids), Post.id.in_(reposted))


def in_scope(channel_ids: Collection[int], include_duplicates: bool) -> ColumnElement[bool]:
    """Posts of those channels, and posts imported for them (uploads by their admins)."""
    imported_for = (
        select(PostSource.post_id)
        .join(ImportRun, ImportRun.id == PostSource.import_run_id)
        .where(ImportRun.into_channel_id.in_(channel_ids))
    )
    return or_(_of_channels(channel_ids, include_duplicates), Post.id.in_(imported_for))


async def _filters(
    session: AsyncSession,
    channel: str | None,
    status: PostStatus | None,
    include_duplicates: bool,
    *,
    ordered: bool,
    scope: Collection[int] | None = None,
    text: str | None = None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if text:
        # Both ways: SQLite's lower() folds ASCII only, so 'Новая' is found as typed.
        where.append(
            or_(
                Post.text.contains(text, autoescape=True),
                func.lower(Post.text).contains(text.lower(), autoescape=True),
            )
        )
    if channel is not None:
        channel_id = (await find_channel(session, channel, scope)).id
        where.append(_of_channels([channel_id], include_duplicates))
    elif scope is not None:
        where.append(in_scope(scope, include_duplicates))
    if status is not None:
        where.append(Post.status == status)
    if not include_duplicates:
        if ordered:
            # Not through the duplicate_of index (nearly every post is canonical, so SQLite
            # would read them all through it and sort them): through the date index.
            where.append(func.coalesce(Post.duplicate_of, 0) == 0)
        else:
            where.append(Post.duplicate_of.is_(None))
    return where


async def list_posts(
    session: AsyncSession,
    *,
    channel: str | None = None,
    status: PostStatus | None = None,
    include_duplicates: bool = False,
    limit: int | None = None,
    offset: int = 0,
    scope: Collection[int] | None = None,
    text: str | None = None,
) -> list[PostView]:
    """Posts, newest first (undated last); canonical ones only unless ``include_duplicates``;
    with ``scope`` (store channel ids), only the posts of those channels; with ``text``,
    those containing it (a word, a phrase, a #hashtag)."""
    where = await _filters(
        session, channel, status, include_duplicates, ordered=True, scope=scope, text=text
    )
    # Dated and undated apart: each part is then read in the order of the (date, id) index
    # on both databases (PostgreSQL's index puts NULLs where "DESC NULLS LAST" does not), so
    # the newest few of a million posts are found without sorting them all.
    dated = (
        select(Post)
        .where(*where, Post.date.is_not(None))
        .order_by(Post.date.desc(), Post.id.desc())
        .offset(offset or None)
        .limit(limit)
    )
    posts = list((await session.scalars(_with_details(dated))).all())
    if limit is None or len(posts) < limit:
        skip = 0
        if offset and not posts:
            # The page starts past the dated posts: skip what remains of the offset.
            dated_total = await session.scalar(
                select(func.count()).select_from(Post).where(*where, Post.date.is_not(None))
            )
            skip = max(0, offset - (dated_total or 0))
        undated = (
            select(Post)
            .where(*where, Post.date.is_(None))
            .order_by(Post.id.desc())
            .offset(skip or None)
            .limit(None if limit is None else limit - len(posts))
        )
        posts += (await session.scalars(_with_details(undated))).all()
    views = [PostView.from_post(post) for post in posts]
    if not include_duplicates:
        await _add_duplicates_sources(session, views)
    await _add_album_messages(session, [source for view in views for source in view.sources])
    return views


async def count_posts(
    session: AsyncSession,
    *,
    channel: str | None = None,
    status: PostStatus | None = None,
    include_duplicates: bool = False,
    scope: Collection[int] | None = None,
) -> int:
    """How many posts :func:`list_posts` would list without a limit."""
    where = await _filters(session, channel, status, include_duplicates, ordered=False, scope=scope)
    return await session.scalar(select(func.count()).select_from(Post).where(*where)) or 0


async def _add_duplicates_sources(session: AsyncSession, views: list[PostView]) -> None:
    """Every place a canonical post's content was seen: its duplicates' sightings too."""
    by_id = {view.id: view for view in views if view.duplicate_of is None}
    ids = list(by_id)
    for start in range(0, len(ids), 5000):
        rows = await session.execute(
            select(Post.duplicate_of, PostSource)
            .join(Post, Post.id == PostSource.post_id)
            .where(Post.duplicate_of.in_(ids[start : start + 5000]))
            .options(selectinload(PostSource.channel))
            .order_by(PostSource.id)
        )
        for canonical_id, source in rows:
            if canonical_id is not None:
                by_id[canonical_id].sources.append(SourceView.from_source(source))


async def _add_album_messages(session: AsyncSession, sources: list[SourceView]) -> None:
    """Every message id of each source's post in its chat: a sighting of an album is
    recorded under its first message, the album's items are the post's identities
    (``channel_messages``)."""
    post_ids = sorted({s.post_id for s in sources if s.channel_id is not None and s.message_ids})
    found: dict[tuple[int, int], list[int]] = {}
    if not post_ids:
        return
    # among() binds the ids as one array, however many: no batches needed.
    rows = await session.execute(
        select(ChannelMessage.post_id, ChannelMessage.channel_id, ChannelMessage.message_id).where(
            among(ChannelMessage.post_id, post_ids, dialect_name(session))
        )
    )
    for post_id, channel_id, message_id in rows:
        found.setdefault((post_id, channel_id), []).append(message_id)
    for source in sources:
        if source.channel_id is None or not source.message_ids:
            continue
        album = found.get((source.post_id, source.channel_id), [])
        if len(album) > 1:
            source.message_ids = sorted({*album, *source.message_ids})


async def require_post(
    session: AsyncSession, post_id: int, scope: Collection[int] | None = None
) -> None:
    """NotFoundError unless post ``post_id`` exists and is within ``scope``, as
    :func:`get_post` would find it (one query, none of its details)."""
    query = select(Post.id).where(Post.id == post_id)
    if scope is not None:
        query = query.where(in_scope(scope, include_duplicates=False))
    if await session.scalar(query) is None:
        raise NotFoundError(f"no post with id {post_id}")


async def get_post(
    session: AsyncSession, post_id: int, scope: Collection[int] | None = None
) -> PostView:
    """One post with its sources and the duplicates that point at it; with ``scope``, a post
    outside those channels is not found."""
    query = select(Post).where(Post.id == post_id)
    if scope is not None:
        # As the listing has it: also content of elsewhere that these channels re-posted.
        query = query.where(in_scope(scope, include_duplicates=False))
    post = (await session.scalars(_with_details(query))).first()
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    view = PostView.from_post(post)
    others = select(Post).where(Post.duplicate_of == post_id).order_by(Post.id)
    if scope is not None:
        others = others.where(Post.channel_id.in_(scope))
    duplicates = await session.scalars(_with_details(others))
    view.duplicates = [PostView.from_post(duplicate) for duplicate in duplicates]
    for duplicate in view.duplicates:
        view.sources.extend(duplicate.sources)
    await _add_album_messages(session, view.sources)  # the duplicates' too: the same objects
    return view
