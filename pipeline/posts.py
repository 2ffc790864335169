"""Reading posts out of the store: the views behind `tgpipe posts list/show` and the bot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pipeline.channels import find_channel
from pipeline.errors import NotFoundError
from pipeline.ingest.model import Entity
from pipeline.ingest.textutil import extract_hashtags, extract_links
from pipeline.store.models import Post, PostSource, PostStatus


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
    file: str
    format: str
    message_id: int | None
    channel: str | None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "message_id": self.message_id}


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
            sources=[
                SourceView(
                    s.file, s.format, s.message_id, s.channel.display_name if s.channel else None
                )
                for s in post.sources
            ],
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

    def to_json_detail(self) -> dict[str, Any]:
        """`posts show`: everything in the list view, plus formatting and the duplicates."""
        data = self.to_json()
        data["entities"] = self.entities
        data["duplicates"] = [duplicate.to_json() for duplicate in self.duplicates]
        return data


def _with_details(query: Select[Post]) -> Select[Post]:
    return query.options(
        selectinload(Post.channel),
        selectinload(Post.reactions),
        selectinload(Post.sources).selectinload(PostSource.channel),
    )


async def list_posts(
    session: AsyncSession,
    *,
    channel: str | None = None,
    status: PostStatus | None = None,
    include_duplicates: bool = False,
    limit: int | None = None,
) -> list[PostView]:
    """Posts, newest first (undated last); canonical ones only unless ``include_duplicates``."""
    query = select(Post)
    if channel is not None:
        query = query.where(Post.channel_id == (await find_channel(session, channel)).id)
    if status is not None:
        query = query.where(Post.status == status)
    if not include_duplicates:
        query = query.where(Post.duplicate_of.is_(None))
    query = query.order_by(Post.date.desc().nulls_last(), Post.id.desc()).limit(limit)
    posts = (await session.scalars(_with_details(query))).all()
    return [PostView.from_post(post) for post in posts]


async def get_post(session: AsyncSession, post_id: int) -> PostView:
    """One post with its sources and the duplicates that point at it."""
    post = (await session.scalars(_with_details(select(Post).where(Post.id == post_id)))).first()
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    view = PostView.from_post(post)
    duplicates = await session.scalars(
        _with_details(select(Post).where(Post.duplicate_of == post_id).order_by(Post.id))
    )
    view.duplicates = [PostView.from_post(duplicate) for duplicate in duplicates]
    return view
