"""Hot keys: a channel of one layout costs each post a bounded number of comparisons, and
what was found before still is (``Clusterer``, refined keys)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import select

from pipeline.dedup.index import rebuild
from pipeline.dedup.similarity import similarity
from pipeline.ingest.importer import ImportOptions, import_paths
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import ChannelMessage, DuplicateReason, Post, PostKey
from tests.pipeline.dedup.exports import Message, write_export

START = datetime(2024, 1, 1, tzinfo=UTC)
PRODUCTS = ("Apache Struts", "OpenSSL", "nginx")
ACTIONS = ("execute arbitrary code", "cause a denial of service")


def notice(index: int, rng: random.Random) -> str:
    """One post of a vulnerability feed: every post one layout, told apart by its numbers."""
    version = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"
    return (
        f"New - CVE-2024-{1000 + index}\n\n{rng.choice(PRODUCTS)} before {version} allows "
        f"remote attackers to {rng.choice(ACTIONS)} via a crafted request. Severity: HIGH "
        f"({rng.randint(10, 100) / 10}). Patches are available from the vendor.\n\n#cve"
    )


def feed(first: int, count: int, seed: int = 5) -> list[Message]:
    rng = random.Random(seed + first)
    return [
        Message(i, notice(i, rng), START + timedelta(hours=i)) for i in range(first, first + count)
    ]


@pytest.fixture
def comparisons() -> Iterator[list[int]]:
    """How many times the clusterer compares two posts."""
    calls = [0]

    def counting(*args: object, **kwargs: object) -> float:
        calls[0] += 1
        return similarity(*args, **kwargs)  # type: ignore[arg-type]

    with mock.patch("pipeline.dedup.cluster.similarity", counting):
        yield calls


async def stored(factory: SessionFactory) -> dict[int, Post]:
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(ChannelMessage.message_id, Post).join(Post, Post.id == ChannelMessage.post_id)
        )
        return {message_id: post for message_id, post in rows}


async def index_rows(factory: SessionFactory) -> set[tuple[int, int]]:
    async with unit_of_work(factory) as session:
        rows = await session.execute(select(PostKey.key, PostKey.post_id))
        return {(key, post_id) for key, post_id in rows}


@pytest.mark.parametrize(("hot_key", "bounded"), [(8, True), (10**9, False)])
async def test_a_channel_of_one_layout_costs_each_post_a_bounded_number_of_comparisons(
    session_factory: SessionFactory,
    tmp_path: Path,
    comparisons: list[int],
    hot_key: int,
    bounded: bool,
) -> None:
    per_post = []
    with mock.patch("pipeline.dedup.cluster.HOT_KEY", hot_key):
        for part in range(3):
            path = write_export(tmp_path / f"part{part}.json", feed(1 + part * 150, 150))
            before = comparisons[0]
            report = await import_paths(session_factory, [path])
            assert report.totals()["new"] == 150
            per_post.append((comparisons[0] - before) / 150)
    posts = await stored(session_factory)
    assert all(post.duplicate_of is None for post in posts.values())  # all different posts
    if bounded:
        # Each post compared with no more than the holders of its keys that are not hot.
        assert max(per_post) <= 10 * hot_key
        assert per_post[2] <= 1.5 * per_post[1], per_post
    else:
        # The control: every post of the layout meets every earlier one, more and more.
        assert per_post[2] > 2.5 * per_post[0], per_post


async def test_copies_of_a_post_of_a_hot_layout_are_still_found(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    posts = feed(1, 300)
    original = posts[41].text
    copies = [  # in another channel: the same text, and one with a few words changed
        Message(901, original, START + timedelta(days=30)),
        Message(902, original.replace("Patches are", "Fixes are"), START + timedelta(days=30)),
    ]
    with mock.patch("pipeline.dedup.cluster.HOT_KEY", 8):
        await import_paths(session_factory, [write_export(tmp_path / "feed.json", posts)])
        repost = write_export(tmp_path / "repost.json", copies, chat_id=2002, name="Reposts")
        await import_paths(session_factory, [repost])
        keys = await index_rows(session_factory)
    found = await stored(session_factory)
    assert any(post_id == 0 for _, post_id in keys)  # the layout's keys are hot indeed
    duplicates = {i: post for i, post in found.items() if post.duplicate_of is not None}
    assert set(duplicates) == {901, 902}
    assert {post.duplicate_of for post in duplicates.values()} == {found[42].id}
    assert {post.duplicate_reason for post in duplicates.values()} == {
        DuplicateReason.NEAR_DUPLICATE
    }


async def test_a_key_that_stops_being_hot_leaves_the_index_as_a_rebuild_would(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    # Three posts of one layout share most keys: with HOT_KEY 2 those are hot. Then the
    # third is edited into another text, and they are not any more.
    layout = "Release {} of the command line tool is out today with fixes and improvements for all"
    posts = [Message(i, layout.format(i), START + timedelta(hours=i)) for i in (1, 2, 3)]
    edited = Message(
        3,
        "Our team meets in Berlin next week to plan the roadmap for the coming year",
        START + timedelta(hours=3),
        extra={"edited": "2024-02-01T00:00:00", "edited_unixtime": "1706745600"},
    )
    with mock.patch("pipeline.dedup.cluster.HOT_KEY", 2):
        await import_paths(session_factory, [write_export(tmp_path / "a.json", posts)])
        hot = await index_rows(session_factory)
        await import_paths(session_factory, [write_export(tmp_path / "b.json", [edited])])
        after_edit = await index_rows(session_factory)
        async with unit_of_work(session_factory) as session:
            await rebuild(session, ImportOptions().dedup_threshold)
        rebuilt = await index_rows(session_factory)
    assert any(post_id == 0 for _, post_id in hot)
    assert not any(post_id == 0 for _, post_id in after_edit)
    assert after_edit == rebuilt
    posts_now = await stored(session_factory)
    assert posts_now[3].text.startswith("Our team")
