"""Dedup end to end: exports through the importer into a real store, clusters read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from pipeline.dedup.cluster import find_candidates
from pipeline.dedup.staging import StagedKeys
from pipeline.dedup.text import is_comparable, tokens
from pipeline.ingest.importer import ImportOptions, import_paths
from pipeline.posts import get_post, list_posts
from pipeline.store.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from pipeline.store.models import (
    ChannelMessage,
    DedupState,
    DuplicateReason,
    Post,
    PostKey,
)
from tests.db import Templates
from tests.pipeline.dedup.exports import Message, write_export

CYBERSEC = "desktop/cybersecnews-2018-messages2.html"
# Media-only posts, stickers and one-word captions in ../shared/exports/desktop (each chat's
# JSON and HTML export hold the same ones: counted once).
SHORT_POSTS_IN_DESKTOP_EXPORTS = 82

ARTICLE = (
    "Исследователи представили новую модель для распознавания речи. Она работает на "
    "телефоне без подключения к сети, понимает двадцать языков и ошибается вдвое реже "
    "прежней версии. Код и веса модели открыты, статья опубликована на конференции."
)


async def message_to_post(factory: SessionFactory) -> dict[int, Post]:
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(ChannelMessage.message_id, Post).join(Post, Post.id == ChannelMessage.post_id)
        )
        return {message_id: post for message_id, post in rows}


@pytest.mark.parametrize(
    ("duplicate", "original", "reason"),
    [
        (1062, 1061, DuplicateReason.SAME_CONTENT),  # the same news posted twice
        (1760, 1738, DuplicateReason.NEAR_DUPLICATE),  # "APT 10" / "APT10"
        (1139, 1133, DuplicateReason.NEAR_DUPLICATE),  # the blurb reworded
        (1955, 1970, DuplicateReason.NEAR_DUPLICATE),  # "CES 2019:" added to the headline
    ],
)
async def test_real_duplicates_of_one_channel(
    session_factory: SessionFactory,
    exports_dir: Path,
    duplicate: int,
    original: int,
    reason: DuplicateReason,
) -> None:
    await import_paths(session_factory, [exports_dir / CYBERSEC])
    posts = await message_to_post(session_factory)
    assert posts[duplicate].duplicate_of == posts[original].id
    assert posts[duplicate].duplicate_reason is reason
    assert posts[original].duplicate_of is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (1782, 1783),  # New - CVE-2018-0724 / CVE-2018-0723: one template, two posts
        (1184, 1521),  # Android Security Bulletin November / December 2018
        (1850, 1852),  # Qualcomm CVE-2018-18324 / 18322
    ],
)
async def test_template_posts_stay_apart(
    session_factory: SessionFactory, exports_dir: Path, first: int, second: int
) -> None:
    await import_paths(session_factory, [exports_dir / CYBERSEC])
    posts = await message_to_post(session_factory)
    assert posts[first].duplicate_of is None
    assert posts[second].duplicate_of is None


async def test_posts_with_little_or_no_text_are_never_merged(
    session_factory: SessionFactory, exports_dir: Path
) -> None:
    await import_paths(session_factory, [exports_dir / "desktop"])
    async with unit_of_work(session_factory) as session:
        posts = (await session.scalars(select(Post))).all()
    short = [post for post in posts if not is_comparable(tokens(post.text))]
    assert len(short) == SHORT_POSTS_IN_DESKTOP_EXPORTS
    assert all(post.duplicate_of is None for post in short)
    # Nor does anything point at them.
    assert not {post.duplicate_of for post in posts} & {post.id for post in short}


async def test_a_channels_reposts_are_found_as_near_duplicates(
    session_factory: SessionFactory, exports_dir: Path
) -> None:
    nn = exports_dir / "text/nn_for_science-compact.txt"
    ai = exports_dir / "text/ai_dlya_vseh-spaced.txt"
    await import_paths(session_factory, [nn])
    report = await import_paths(session_factory, [ai])
    (item,) = report.files
    assert (item.parsed, item.new, item.near_duplicates, item.duplicates) == (10, 8, 2, 0)
    async with unit_of_work(session_factory) as session:
        listed = await list_posts(session)
        assert len(listed) == 11 + 8
        shared = [post for post in listed if len({s.channel for s in post.sources}) == 2]
    # Both channels stay as sources of each re-posted text.
    assert len(shared) == 2
    for post in shared:
        assert {s.channel for s in post.sources} == {"@nn_for_science", "AI Для Всех"}


@pytest.fixture
def other_database_url(backend: str, templates: Templates, tmp_path: Path) -> Iterator[str]:
    """A second store at the newest revision, on the same backend as ``migrated_database_url``."""
    folder = tmp_path / "other"
    folder.mkdir()
    with templates.copy(backend, folder) as url:
        yield url


async def test_import_order_does_not_change_the_clusters(
    migrated_database_url: str, other_database_url: str, exports_dir: Path
) -> None:
    files = [
        exports_dir / "text/nn_for_science-compact.txt",
        exports_dir / "text/ai_dlya_vseh-spaced.txt",
        exports_dir / CYBERSEC,
    ]

    async def clusters(url: str, order: list[Path]) -> set[tuple[str, frozenset[str]]]:
        engine = create_engine(url)
        factory = create_session_factory(engine)
        for path in order:
            await import_paths(factory, [path])
        async with unit_of_work(factory) as session:
            posts = await list_posts(session)
        await engine.dispose()
        return {
            (post.text, frozenset(f"{s.file}:{s.message_id}" for s in post.sources))
            for post in posts
        }

    forward = await clusters(migrated_database_url, files)
    backward = await clusters(other_database_url, list(reversed(files)))
    assert forward == backward


async def test_show_says_why_and_where_first(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    day = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    original = write_export(
        tmp_path / "a/result.json",
        [Message(5, ARTICLE[:150], date=day)],  # a preview: the first lines only
        chat_id=1,
        name="Source",
    )
    repost = write_export(
        tmp_path / "b/result.json",
        [
            Message(
                9, ARTICLE + "\n\nПодписывайтесь на @other_channel", date=day + timedelta(days=2)
            )
        ],
        chat_id=2,
        name="Reposter",
    )
    await import_paths(session_factory, [original, repost])
    async with unit_of_work(session_factory) as session:
        (canonical,) = await list_posts(session)
        shown = await get_post(session, canonical.id)
    # The most complete version is canonical; the first one is still named as the original.
    assert canonical.channel == "Reposter"
    assert [d.duplicate_reason for d in shown.duplicates] == ["near_duplicate"]
    assert shown.duplicates[0].channel == "Source"
    assert shown.original.channel == "Source"
    assert shown.to_json_detail()["original"]["date"] == "2024-03-01T09:00:00Z"
    assert {s.channel for s in shown.sources} == {"Source", "Reposter"}


async def test_media_only_posts_merge_by_their_files_bytes(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    (export / "photos/a.jpg").write_bytes(b"\xff\xd8 the same picture" * 100)
    (export / "photos/b.jpg").write_bytes(b"\xff\xd8 the same picture" * 100)
    (export / "photos/c.jpg").write_bytes(b"\xff\xd8 another picture!!" * 100)
    absent = "(File not included. Change data exporting settings to download.)"
    files = ["photos/a.jpg", "photos/b.jpg", "photos/c.jpg", absent, absent]
    path = write_export(
        export / "result.json",
        [
            # An hour apart: photos sent in the same second would be one album.
            Message(i, date=datetime(2024, 1, 1, i, tzinfo=UTC), extra={"photo": file})
            for i, file in enumerate(files, 1)
        ],
    )
    report = await import_paths(session_factory, [path])
    assert (report.files[0].new, report.files[0].same_content) == (4, 1)
    posts = await message_to_post(session_factory)
    # b.jpg holds a.jpg's bytes: the same picture posted twice, the first one kept.
    assert posts[2].duplicate_of == posts[1].id
    assert posts[2].duplicate_reason is DuplicateReason.SAME_CONTENT
    # Without the files, two photos are two posts: nothing says they are the same picture.
    assert posts[3].duplicate_of is posts[4].duplicate_of is posts[5].duplicate_of is None
    assert posts[1].media[0]["hash"] == posts[2].media[0]["hash"] != posts[3].media[0]["hash"]


async def test_changing_the_threshold_reclusters_on_the_next_import(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    await import_paths(session_factory, [exports_dir / CYBERSEC])
    async with unit_of_work(session_factory) as session:
        near = await session.scalar(
            select(func.count()).where(Post.duplicate_reason == DuplicateReason.NEAR_DUPLICATE)
        )
    assert near == 5
    empty = write_export(tmp_path / "empty/result.json", [], chat_id=7)
    report = await import_paths(session_factory, [empty], ImportOptions(dedup_threshold=0.9))
    assert report.notes
    assert "threshold changed (0.6 → 0.9)" in report.notes[0]
    async with unit_of_work(session_factory) as session:
        strict = await session.scalar(
            select(func.count()).where(Post.duplicate_reason == DuplicateReason.NEAR_DUPLICATE)
        )
        same = await session.scalar(
            select(func.count()).where(Post.duplicate_reason == DuplicateReason.SAME_CONTENT)
        )
        state = await session.scalar(select(DedupState))
    assert strict is not None
    assert 0 < strict < near
    assert same == 12  # equal texts stay duplicates at any threshold
    assert state is not None
    assert state.threshold == 0.9


async def test_a_store_from_before_dedup_is_indexed_on_the_next_import(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    await import_paths(session_factory, [exports_dir / CYBERSEC])
    # What a store written by tgpipe before dedup looks like: no keys, no clusters.
    async with unit_of_work(session_factory) as session:
        await session.execute(delete(PostKey))
        await session.execute(delete(DedupState))
        await session.execute(
            update(Post).values(
                duplicate_of=None, duplicate_reason=None, similarity=None, content_hash=None
            )
        )
    empty = write_export(tmp_path / "empty/result.json", [], chat_id=7)
    report = await import_paths(session_factory, [empty])
    assert "no dedup index yet" in report.notes[0]
    assert "17 duplicates" in report.notes[0]
    async with unit_of_work(session_factory) as session:
        assert len(await list_posts(session)) == 983


async def test_candidates_are_other_posts_sharing_a_key(session_factory: SessionFactory) -> None:
    async with unit_of_work(session_factory) as session:
        posts = [Post(text=f"post {n}") for n in range(3)]
        session.add_all(posts)
        await session.flush()
        first, second, third = (post.id for post in posts)
        for post_id, keys in ((first, (1, 2)), (second, (2, -3)), (third, (9,))):
            session.add_all(PostKey(key=key, post_id=post_id) for key in keys)
    async with session_factory() as session:
        found = await find_candidates(
            session,
            [
                (first, (1, 2)),  # its own keys are in the index: never its own candidate
                (None, (-3, 9, 12345)),  # a post not stored yet
                (third, (9,)),  # a key no other post has
                (None, ()),
            ],
        )
    assert found == [{second}, {second, third}, set(), set()]


async def test_candidates_include_keys_held_back_from_the_index(
    session_factory: SessionFactory,
) -> None:
    async with unit_of_work(session_factory) as session:
        posts = [Post(text=f"post {n}") for n in range(3)]
        session.add_all(posts)
        await session.flush()
        first, second, third = (post.id for post in posts)
        session.add(PostKey(key=4, post_id=first))
    staged = StagedKeys()
    staged.add([(4, 5), (5, 6)], [second, third])  # written by an import, not yet indexed
    async with session_factory() as session:
        found = await find_candidates(
            session, [(second, (4, 5)), (None, (6,)), (first, (4,))], staged
        )
    assert found == [{first, third}, {third}, {second}]
