"""A small store for tests that need posts to show: written through the library's writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import update

from pipeline.ingest.model import ChannelInfo, Entity, MediaItem, ParsedPost, Reaction
from pipeline.ingest.report import FileReport
from pipeline.ingest.writer import PostWriter, upsert_channel
from pipeline.store import migrate
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import DuplicateReason, Post


async def seed_store(url: str) -> None:
    """Three posts of @nn_for_science (the third a near duplicate of the first), migrated store."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        channel = await upsert_channel(
            session, ChannelInfo(title="Science NN", username="nn_for_science", telegram_id=77)
        )
        writer = PostWriter(
            session,
            file="export/result.json",
            format="desktop-json",
            import_run_id=None,
            report=FileReport("export/result.json"),
        )
        await writer.set_channel(channel)
        await writer.add(
            ParsedPost(
                message_id=10,
                text="Новая модель\nподробности по ссылке https://example.org #ml #новости",
                entities=[Entity("bold", 0, 12)],
                date=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
                forwarded_from="Other Channel",
                reactions=[Reaction("👍", 50), Reaction("custom:5368", 3), Reaction("paid", 2)],
            )
        )
        await writer.add(
            ParsedPost(
                message_id=11,
                date=datetime(2024, 5, 2, tzinfo=UTC),
                media=[MediaItem("photo", width=800, height=600)],
            )
        )
        await writer.add(
            ParsedPost(message_id=12, text="A copy", date=datetime(2024, 5, 3, tzinfo=UTC))
        )
        await writer.finish()
    async with unit_of_work(factory) as session:
        # Mark the third as a duplicate of the first, as the dedup stage will.
        await session.execute(
            update(Post)
            .where(Post.text == "A copy")
            .values(
                duplicate_of=1, duplicate_reason=DuplicateReason.NEAR_DUPLICATE, similarity=0.91
            )
        )
    await engine.dispose()


def seed(url: str) -> None:
    """:func:`seed_store` for synchronous tests."""
    asyncio.run(seed_store(url))
