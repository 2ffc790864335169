"""Reading posts out of the store: the listing's order and its count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.errors import NotFoundError
from pipeline.posts import count_posts, get_post, list_posts, require_post
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Post

DAY = [datetime(2024, 5, day, tzinfo=UTC) for day in range(1, 4)]
# (text, date): two undated posts between dated ones, and two posts of the same moment.
POSTS = [("a", DAY[0]), ("b", None), ("c", DAY[2]), ("d", None), ("e", DAY[1]), ("f", DAY[2])]
NEWEST_FIRST = ["f", "c", "e", "a", "d", "b"]  # by date, then by id; undated last


@pytest.mark.parametrize("limit", [None, 1, 2, 4, 5, 6, 9])
async def test_newest_first_undated_last(session_factory: SessionFactory, limit) -> None:
    async with unit_of_work(session_factory) as session:
        session.add_all(Post(text=text, date=date) for text, date in POSTS)
    async with unit_of_work(session_factory) as session:
        listed = await list_posts(session, limit=limit)
        total = await count_posts(session)
    assert [post.text for post in listed] == NEWEST_FIRST[:limit]
    assert total == len(POSTS)


async def test_duplicates_are_left_out_of_list_and_count(session_factory: SessionFactory) -> None:
    async with unit_of_work(session_factory) as session:
        original = Post(text="original", date=DAY[0])
        session.add(original)
        await session.flush()
        session.add(Post(text="copy", date=DAY[1], duplicate_of=original.id))
    async with unit_of_work(session_factory) as session:
        assert [p.text for p in await list_posts(session)] == ["original"]
        assert await count_posts(session) == 1
        assert [p.text for p in await list_posts(session, include_duplicates=True)] == [
            "copy",
            "original",
        ]
        assert await count_posts(session, include_duplicates=True) == 2


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 2), (2, 2), (3, 2), (4, 2), (5, 2), (6, 2), (1, None), (3, 9)]
)
async def test_pages_follow_the_same_order(
    session_factory: SessionFactory, offset: int, limit: int | None
) -> None:
    async with unit_of_work(session_factory) as session:
        session.add_all(Post(text=text, date=date) for text, date in POSTS)
    async with unit_of_work(session_factory) as session:
        page = await list_posts(session, offset=offset, limit=limit)
    end = None if limit is None else offset + limit
    assert [post.text for post in page] == NEWEST_FIRST[offset:end]


async def test_a_scope_keeps_other_channels_out(session_factory: SessionFactory) -> None:
    async with unit_of_work(session_factory) as session:
        mine, theirs = Channel(title="Mine"), Channel(title="Theirs")
        session.add_all([mine, theirs])
        await session.flush()
        own = Post(text="own", date=DAY[0], channel_id=mine.id)
        other = Post(text="other", date=DAY[1], channel_id=theirs.id)
        elsewhere = Post(text="elsewhere", date=DAY[2], channel_id=theirs.id)
        session.add_all([own, other, elsewhere, Post(text="no channel", date=DAY[2])])
        await session.flush()
        # Content of theirs that was also seen in mine: mine re-posted it.
        session.add(Post(text="other, again", channel_id=mine.id, duplicate_of=other.id))
    scope = {mine.id}
    async with unit_of_work(session_factory) as session:
        assert [p.text for p in await list_posts(session, scope=scope)] == ["other", "own"]
        assert await count_posts(session, scope=scope) == 2
        assert (await get_post(session, own.id, scope=scope)).text == "own"
        assert (await get_post(session, other.id, scope=scope)).text == "other"
        with pytest.raises(NotFoundError, match=f"no post with id {elsewhere.id}"):
            await get_post(session, elsewhere.id, scope=scope)
        # The cheap check says the same as get_post.
        await require_post(session, own.id, scope)
        await require_post(session, other.id, scope)
        with pytest.raises(NotFoundError, match=f"no post with id {elsewhere.id}"):
            await require_post(session, elsewhere.id, scope)
        with pytest.raises(NotFoundError, match=r"no channel 'Theirs' \(known channels: Mine\)"):
            await list_posts(session, channel="Theirs", scope=scope)
        assert [p.text for p in await list_posts(session, channel="Mine", scope=scope)] == [
            "other",
            "own",
        ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("model", ["A new model"]),
        ("MODEL", ["A new model"]),
        ("Новая", ["Новая модель #ml"]),
        ("#ml", ["Новая модель #ml"]),
        ("50%", ["Up 50% today"]),  # a LIKE wildcard is looked for as itself
        ("nothing like it", []),
    ],
)
async def test_posts_are_found_by_their_text(
    session_factory: SessionFactory, text: str, found: list[str]
) -> None:
    async with unit_of_work(session_factory) as session:
        session.add_all(
            Post(text=t, date=DAY[0]) for t in ("A new model", "Новая модель #ml", "Up 50% today")
        )
    async with unit_of_work(session_factory) as session:
        assert [p.text for p in await list_posts(session, text=text)] == found
