"""The publishing side of dedup: the same content is never planned twice for one chat."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline.errors import NotFoundError, TgpipeError
from pipeline.ingest.importer import import_paths
from pipeline.publish.guard import DuplicatePublicationError
from pipeline.publish.queue import schedule_post
from pipeline.publish.targets import CheckedChat, find_target, record_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Post, PostStatus, Publication, PublicationState
from tests.pipeline.dedup.exports import Message, write_export

DUE = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def repost(session_factory: SessionFactory, exports_dir: Path) -> tuple[int, int]:
    """(an nn_for_science post, ai_dlya_vseh's re-post of it, stored as its duplicate)."""
    await import_paths(
        session_factory,
        [
            exports_dir / "text/nn_for_science-compact.txt",
            exports_dir / "text/ai_dlya_vseh-spaced.txt",
        ],
    )
    async with unit_of_work(session_factory) as session:
        duplicate = (
            await session.scalars(select(Post).where(Post.duplicate_of.is_not(None)).limit(1))
        ).one()
        assert duplicate.duplicate_of is not None
        return duplicate.duplicate_of, duplicate.id


_IDS = {"target": -1001111, "elsewhere": -1002222, "nn_for_science": -1003333}


async def plan(
    factory: SessionFactory, post_id: int, chat: str, *, force: bool = False
) -> Publication:
    """Plan ``post_id`` for ``chat`` (a target made known first, as `channels add` would)."""
    async with unit_of_work(factory) as session:
        if chat.lstrip("-").isdigit():
            checked = CheckedChat(chat_id=int(chat), type="channel", title="Numeric")
        else:
            name = chat.rsplit("/", 1)[-1].lstrip("@").lower()
            checked = CheckedChat(chat_id=_IDS[name], type="channel", title=name, username=name)
        await record_target(session, checked)
        target = await find_target(session, chat)
        return await schedule_post(session, post_id, target, DUE, force=force)


async def test_a_duplicate_of_planned_content_is_refused_for_that_chat(
    session_factory: SessionFactory, repost: tuple[int, int]
) -> None:
    original, copy = repost
    first = await plan(session_factory, original, "@target")
    with pytest.raises(DuplicatePublicationError) as refused:
        await plan(session_factory, copy, "@Target")
    message = str(refused.value)
    assert f"post {copy} (the same content as post(s) {original})" in message
    assert f"publication {first.id} of post {original}" in message
    assert "force" in message
    assert isinstance(refused.value, TgpipeError)  # the CLI and the bot show it as it is
    # Another chat is fine, and so is this one when the admin forces it.
    await plan(session_factory, copy, "@elsewhere")
    forced = await plan(session_factory, copy, "@target", force=True)
    async with unit_of_work(session_factory) as session:
        states = (
            await session.scalars(
                select(Channel.username).join(Publication, Publication.channel_id == Channel.id)
            )
        ).all()
        post = await session.get_one(Post, copy)
    assert sorted(str(s) for s in states) == ["elsewhere", "target", "target"]
    assert forced.post_id == copy
    assert post.status is PostStatus.QUEUED


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        (PublicationState.SENT, True),
        (PublicationState.SENDING, True),
        (PublicationState.UNKNOWN, True),  # maybe delivered: never risk it twice
        (PublicationState.FAILED, False),
        (PublicationState.CANCELLED, False),
    ],
)
async def test_which_publications_count(
    session_factory: SessionFactory,
    repost: tuple[int, int],
    state: PublicationState,
    refused: bool,
) -> None:
    original, copy = repost
    first = await plan(session_factory, copy, "@target")
    async with unit_of_work(session_factory) as session:
        await session.execute(
            update(Publication)
            .where(Publication.id == first.id)
            .values(state=state, sent_at=DUE if state is PublicationState.SENT else None)
        )
    if refused:
        with pytest.raises(DuplicatePublicationError, match=state.value):
            await plan(session_factory, original, "@target")
    else:
        await plan(session_factory, original, "@target")


async def test_content_imported_from_a_channel_is_not_posted_there_again(
    session_factory: SessionFactory, repost: tuple[int, int]
) -> None:
    original, copy = repost
    for post_id in (original, copy):  # the re-post too: its content came from there
        with pytest.raises(DuplicatePublicationError, match="already in @nn_for_science"):
            await plan(session_factory, post_id, "https://t.me/nn_for_science")


@pytest.mark.parametrize("target", ["-1004242"])
async def test_numeric_chat_ids_match_the_exported_channel(
    session_factory: SessionFactory, tmp_path: Path, target: str
) -> None:
    text = "Обзор недели: три новых модели, одна утечка данных и большой релиз фреймворка."
    path = write_export(tmp_path / "result.json", [Message(12, text)], chat_id=4242)
    await import_paths(session_factory, [path])
    async with unit_of_work(session_factory) as session:
        post_id = (await session.scalars(select(Post.id))).one()
    with pytest.raises(DuplicatePublicationError, match="as message 12"):
        await plan(session_factory, post_id, target)


async def test_unknown_post(session_factory: SessionFactory) -> None:
    with pytest.raises(NotFoundError, match="no post with id 999"):
        await plan(session_factory, 999, "@target")
