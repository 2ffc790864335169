"""Recording reactions to published messages: pipeline/reactions.py on a real store."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.reactions import (
    CountUpdate,
    ReactionRecorder,
    ReactionUpdate,
    Recorded,
    VoteUpdate,
    record,
    remember_sent,
)
from pipeline.store.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from pipeline.store.models import (
    Channel,
    Post,
    Publication,
    PublicationMode,
    PublicationState,
    PublishedMessage,
    PublishedSnapshot,
    ReactionVote,
)

CHANNEL = -1001000000001
GROUP = -1001000000002
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def published(
    factory: SessionFactory, chat_id: int = CHANNEL, message_ids: tuple[int, ...] = (10,)
) -> int:
    """A sent publication whose messages are ``message_ids`` in ``chat_id``."""
    async with unit_of_work(factory) as session:
        channel = await session.scalar(select(Channel).where(Channel.chat_id == chat_id))
        if channel is None:
            channel = Channel(title=f"chat {chat_id}", chat_id=chat_id, chat_type="channel")
            session.add(channel)
        post = Post(text="a post", entities=[], media=[])
        session.add(post)
        await session.flush()
        publication = Publication(
            post_id=post.id,
            mode=PublicationMode.SEND,
            channel_id=channel.id,
            due_at=T0,
            state=PublicationState.SENT,
            message_ids=list(message_ids),
            sent_at=T0,
        )
        session.add(publication)
        await session.flush()
        await remember_sent(session, publication.id, chat_id, message_ids)
        return publication.id


async def recorded(factory: SessionFactory, *batches: list[ReactionUpdate]) -> Recorded:
    """Each batch recorded in its own transaction, as the recorder does."""
    total = Recorded()
    for batch in batches:
        async with unit_of_work(factory) as session:
            total += await record(session, batch)
    return total


async def latest(
    factory: SessionFactory, chat_id: int = CHANNEL, message_id: int = 10
) -> tuple[dict[str, int], int, datetime | None]:
    async with unit_of_work(factory) as session:
        row = await session.get_one(PublishedMessage, (chat_id, message_id))
        return row.reactions, row.total, row.counted_at


async def history(factory: SessionFactory, message_id: int = 10) -> list[tuple[datetime, int]]:
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(PublishedSnapshot.taken_at, PublishedSnapshot.total)
            .where(PublishedSnapshot.message_id == message_id)
            .order_by(PublishedSnapshot.taken_at)
        )
        return [(taken_at, total) for taken_at, total in rows]


def counts(minutes: int, message_id: int = 10, **reactions: int) -> CountUpdate:
    names = {"like": "👍", "fire": "🔥", "heart": "❤", "paid": "paid", "custom": "custom:5"}
    return CountUpdate(
        CHANNEL, message_id, at(minutes), {names[k]: v for k, v in reactions.items()}
    )


async def test_counts_of_a_published_message_are_stored_with_a_snapshot(
    session_factory: SessionFactory,
) -> None:
    publication_id = await published(session_factory)
    outcome = await recorded(session_factory, [counts(5, like=3, fire=1, paid=2, custom=1)])
    assert outcome == Recorded(applied=1)
    assert await latest(session_factory) == (
        {"👍": 3, "🔥": 1, "paid": 2, "custom:5": 1},
        7,
        at(5),
    )
    async with unit_of_work(session_factory) as session:
        (snapshot,) = (await session.scalars(select(PublishedSnapshot))).all()
    assert (snapshot.publication_id, snapshot.taken_at, snapshot.total) == (
        publication_id,
        at(5),
        7,
    )
    assert snapshot.reactions == {"👍": 3, "🔥": 1, "paid": 2, "custom:5": 1}


async def test_messages_tgpipe_did_not_send_are_ignored(session_factory: SessionFactory) -> None:
    await published(session_factory)
    outcome = await recorded(
        session_factory,
        [
            counts(1, message_id=11, like=5),  # another message of the same chat
            CountUpdate(GROUP, 10, at(1), {"👍": 5}),  # the same id in another chat
            VoteUpdate(GROUP, 10, at(1), 7, ("👍",)),
        ],
    )
    assert outcome == Recorded(unknown=3)
    assert await latest(session_factory) == ({}, 0, None)
    assert await history(session_factory) == []


@pytest.mark.parametrize(
    ("batches", "expected_latest", "expected_history"),
    [
        # In order: each is the latest, each is a moment of the history.
        ([[counts(1, like=1)], [counts(2, like=2)]], ({"👍": 2}, 2), [(1, 1), (2, 2)]),
        # Out of order across batches: the older one adds history, not the latest.
        ([[counts(2, like=2)], [counts(1, like=1)]], ({"👍": 2}, 2), [(1, 1), (2, 2)]),
        # Out of order within a batch: the same.
        ([[counts(2, like=2), counts(1, like=1)]], ({"👍": 2}, 2), [(1, 1), (2, 2)]),
        # Repeated: one moment, once.
        ([[counts(1, like=1)], [counts(1, like=1)], [counts(1, like=1)]], ({"👍": 1}, 1), [(1, 1)]),
        # Two reports dated the same second: the later one to arrive is what Telegram knew last.
        ([[counts(1, like=1)], [counts(1, like=4)]], ({"👍": 4}, 4), [(1, 4)]),
        # Every reaction taken back: zero, still a moment.
        ([[counts(1, like=1)], [counts(2)]], ({}, 0), [(1, 1), (2, 0)]),
    ],
)
async def test_a_newer_count_is_never_replaced_by_an_older_one(
    session_factory: SessionFactory,
    batches: list[list[ReactionUpdate]],
    expected_latest: tuple[dict[str, int], int],
    expected_history: list[tuple[int, int]],
) -> None:
    await published(session_factory)
    await recorded(session_factory, *batches)
    reactions, total, _ = await latest(session_factory)
    assert (reactions, total) == expected_latest
    assert await history(session_factory) == [(at(m), n) for m, n in expected_history]


async def test_stale_and_repeated_updates_are_counted_as_such(
    session_factory: SessionFactory,
) -> None:
    await published(session_factory)
    outcome = await recorded(
        session_factory, [counts(2, like=2)], [counts(1, like=1), counts(2, like=2)]
    )
    assert outcome == Recorded(applied=1, stale=2)


async def test_an_album_counts_each_of_its_messages(session_factory: SessionFactory) -> None:
    publication_id = await published(session_factory, message_ids=(10, 11, 12))
    await recorded(
        session_factory, [counts(1, message_id=10, like=2), counts(1, message_id=12, fire=1)]
    )
    assert (await latest(session_factory, message_id=10))[:2] == ({"👍": 2}, 2)
    assert (await latest(session_factory, message_id=11))[:2] == ({}, 0)
    assert (await latest(session_factory, message_id=12))[:2] == ({"🔥": 1}, 1)
    async with unit_of_work(session_factory) as session:
        owners = set(await session.scalars(select(PublishedSnapshot.publication_id)))
    assert owners == {publication_id}


def vote(minutes: int, voter: int, *reactions: str) -> VoteUpdate:
    return VoteUpdate(GROUP, 10, at(minutes), voter, reactions)


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        ([[vote(1, 1, "👍"), vote(1, 2, "👍", "🔥")]], {"👍": 2, "🔥": 1}),
        # A person changes their mind: their old reaction no longer counts.
        ([[vote(1, 1, "👍"), vote(1, 2, "👍")], [vote(2, 1, "❤")]], {"👍": 1, "❤": 1}),
        # ... and takes it back.
        ([[vote(1, 1, "👍")], [vote(2, 1)]], {}),
        # The same update delivered again counts once.
        ([[vote(1, 1, "👍")], [vote(1, 1, "👍")], [vote(1, 1, "👍")]], {"👍": 1}),
        # An older change arriving late does not undo a newer one.
        ([[vote(2, 1, "❤")], [vote(1, 1, "👍")]], {"❤": 1}),
        ([[vote(2, 1, "❤"), vote(1, 1, "👍")]], {"❤": 1}),
        # Anonymous admins react as their chat: one voter like any other.
        ([[vote(1, GROUP, "👍"), vote(1, 1, "👍")]], {"👍": 2}),
    ],
)
async def test_a_groups_totals_are_counted_from_each_persons_latest_reactions(
    session_factory: SessionFactory,
    batches: list[list[ReactionUpdate]],
    expected: dict[str, int],
) -> None:
    await published(session_factory, chat_id=GROUP)
    await recorded(session_factory, *batches)
    reactions, total, _ = await latest(session_factory, chat_id=GROUP)
    assert (reactions, total) == (expected, sum(expected.values()))


async def test_votes_keep_each_persons_latest_reactions(session_factory: SessionFactory) -> None:
    await published(session_factory, chat_id=GROUP)
    await recorded(session_factory, [vote(1, 1, "👍"), vote(3, 2, "🔥")], [vote(2, 1, "❤")])
    async with unit_of_work(session_factory) as session:
        rows = (await session.execute(select(ReactionVote.voter, ReactionVote.reactions))).all()
    assert sorted((voter, reactions) for voter, reactions in rows) == [(1, ["❤"]), (2, ["🔥"])]
    # The message's counts are dated by the newest change in them.
    assert (await latest(session_factory, chat_id=GROUP))[2] == at(3)


async def test_the_recorder_stores_everything_added_in_batches(
    session_factory: SessionFactory,
) -> None:
    await published(session_factory, message_ids=tuple(range(1, 51)))
    recorder = ReactionRecorder(session_factory, batch=7, delay=0.01)
    for minute in range(3):
        for message_id in range(1, 51):
            recorder.add(counts(minute, message_id=message_id, like=minute + message_id))
    recorder.add(counts(9, message_id=999, like=1))  # not ours
    await recorder.flushed()
    assert recorder.totals == Recorded(applied=150, unknown=1)
    assert (await latest(session_factory, message_id=50))[:2] == ({"👍": 52}, 52)
    await recorder.close()


async def test_the_recorder_records_what_is_waiting_when_closed(
    session_factory: SessionFactory,
) -> None:
    await published(session_factory)
    recorder = ReactionRecorder(session_factory, batch=1000, delay=3600)
    recorder.add(counts(1, like=1))
    await asyncio.wait_for(recorder.close(), 10)
    assert (await latest(session_factory))[:2] == ({"👍": 1}, 1)


async def test_the_recorder_gives_up_on_an_unreachable_store_without_hanging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'store.db'}")
    recorder = ReactionRecorder(create_session_factory(engine), batch=2, delay=0.01, backlog=3)
    caplog.set_level(logging.ERROR, logger="pipeline.reactions")
    for minute in range(5):
        recorder.add(counts(minute, like=1))
    await asyncio.wait_for(recorder.close(), 10)
    await engine.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert "reaction updates piling up (store unreachable?): dropped 1" in messages
    assert "3 reaction update(s) not recorded" in messages
    assert recorder.totals == Recorded()
