"""Reading posts out of the store: the listing's order and its count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.posts import count_posts, list_posts
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Post

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
