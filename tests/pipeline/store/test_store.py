"""The store on real SQLite and PostgreSQL databases: types, constraints, unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    Post,
    PostSource,
    PostStatus,
    Publication,
    PublicationMode,
    PublicationState,
)


async def test_datetimes_come_back_aware_utc(session_factory: SessionFactory) -> None:
    berlin = timezone(timedelta(hours=2))
    written = datetime(2024, 3, 31, 3, 30, tzinfo=berlin)
    async with unit_of_work(session_factory) as session:
        post = Post(text="hello", date=written)
        session.add(post)
        await session.flush()
        post_id = post.id
    async with unit_of_work(session_factory) as session:
        stored = await session.get_one(Post, post_id)
        assert stored.date == written
        assert stored.date is not None
        assert stored.date.tzinfo is not None
        assert stored.date.utcoffset() == timedelta(0)
        assert stored.created_at.tzinfo is not None
        assert stored.status is PostStatus.DRAFT


async def test_due_publications_are_found_by_time(session_factory: SessionFactory) -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    async with unit_of_work(session_factory) as session:
        post, target = Post(text="x"), Channel(title="target")
        session.add_all([post, target])
        await session.flush()
        for minutes in (-5, 5, -1):
            session.add(
                Publication(
                    post_id=post.id,
                    mode=PublicationMode.SEND,
                    channel_id=target.id,
                    # Mixed offsets: comparison must happen in UTC on every backend.
                    due_at=(now + timedelta(minutes=minutes)).astimezone(
                        timezone(timedelta(hours=-7))
                    ),
                )
            )
    async with unit_of_work(session_factory) as session:
        due = (
            await session.scalars(
                select(Publication.due_at)
                .where(Publication.state == PublicationState.SCHEDULED, Publication.due_at <= now)
                .order_by(Publication.due_at)
            )
        ).all()
    assert due == [now - timedelta(minutes=5), now - timedelta(minutes=1)]


async def test_naive_datetimes_are_refused(session_factory: SessionFactory) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with unit_of_work(session_factory) as session:
            session.add(Post(text="x", date=datetime(2024, 1, 1)))  # noqa: DTZ001
            await session.flush()


async def test_a_message_of_a_channel_belongs_to_one_post(session_factory: SessionFactory) -> None:
    with pytest.raises(IntegrityError):
        async with unit_of_work(session_factory) as session:
            channel = Channel(title="c")
            first, second = Post(text="a"), Post(text="b")
            session.add_all([channel, first, second])
            await session.flush()
            session.add(ChannelMessage(channel_id=channel.id, message_id=7, post_id=first.id))
            session.add(ChannelMessage(channel_id=channel.id, message_id=7, post_id=second.id))
            await session.flush()


async def test_foreign_keys_are_enforced(session_factory: SessionFactory) -> None:
    with pytest.raises(IntegrityError):
        async with unit_of_work(session_factory) as session:
            session.add(PostSource(post_id=999, file="f", format="text", fingerprint="x"))
            await session.flush()


async def test_publication_needs_content(session_factory: SessionFactory) -> None:
    with pytest.raises(IntegrityError):
        async with unit_of_work(session_factory) as session:
            target = Channel(title="t")
            session.add(target)
            await session.flush()
            session.add(
                Publication(
                    mode=PublicationMode.FORWARD,
                    channel_id=target.id,
                    due_at=datetime.now(UTC),
                )
            )
            await session.flush()


async def test_unit_of_work_rolls_back_everything_on_error(session_factory: SessionFactory) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(session_factory) as session:
            session.add(Post(text="lost"))
            await session.flush()
            raise RuntimeError("boom")
    async with unit_of_work(session_factory) as session:
        assert await session.scalar(select(func.count()).select_from(Post)) == 0
