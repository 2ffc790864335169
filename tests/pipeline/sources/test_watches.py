"""Watches: checks against a fake t.me (tests/fake_web) into a real store, on both backends,
with the clock given by the test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pipeline.errors import NotFoundError
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.sources import watches
from pipeline.sources.fetch import Fetcher, FetchOptions
from pipeline.sources.watches import WatchContext, WatchError
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    Channel,
    ImportRun,
    Notice,
    Post,
    Publication,
    PublicationState,
    Watch,
    WatchPolicy,
)
from tests.fake_web import PreviewSite

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)


@pytest.fixture
async def context(preview_site: PreviewSite) -> AsyncIterator[WatchContext]:
    async with Fetcher(FetchOptions(host_interval=0, retries=0)) as fetcher:
        yield WatchContext(fetcher, base=preview_site.base_url)


async def _target(factory: SessionFactory) -> Channel:
    async with unit_of_work(factory) as session:
        return await record_target(
            session,
            CheckedChat(chat_id=-1001000000777, type="channel", title="Mine", username="mine"),
        )


async def _watch(factory: SessionFactory, target: Channel | None = None, **options: object) -> int:
    async with unit_of_work(factory) as session:
        watch = await watches.add_watch(
            session,
            "dev_news",
            now=NOW,
            every=EVERY,
            target=target,
            **options,  # type: ignore[arg-type]
        )
        return watch.id


async def _publications(factory: SessionFactory) -> list[Publication]:
    async with unit_of_work(factory) as session:
        return list(await session.scalars(select(Publication).order_by(Publication.id)))


async def _count(factory: SessionFactory, model: type) -> int:
    async with unit_of_work(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_new_post_is_queued_for_the_target_after_the_delay(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=45)
    target = await _target(session_factory)
    watch_id = await _watch(session_factory, target, delay=timedelta(hours=2))

    (first,) = await watches.check_due(session_factory, context, NOW)

    # The first look reads the newest page and queues none of what was there before.
    assert (first.outcome, first.new, first.queued) == ("first look", 20, [])
    assert await _publications(session_factory) == []
    # Not due again before its interval.
    assert await watches.check_due(session_factory, context, NOW + EVERY / 2) == []

    post = preview_site.publish("dev_news", "Вышел новый релиз компилятора")
    later = NOW + EVERY
    (second,) = await watches.check_due(session_factory, context, later)

    assert (second.outcome, second.new) == ("new posts", 1)
    (publication,) = await _publications(session_factory)
    assert second.queued == [publication.id]
    assert publication.state is PublicationState.SCHEDULED
    assert publication.channel_id == target.id
    assert publication.due_at == later + timedelta(hours=2)
    async with unit_of_work(session_factory) as session:
        queued = await session.get_one(Post, publication.post_id)
        assert queued.text == "Вышел новый релиз компилятора"
        watch = await session.get_one(Watch, watch_id)
        assert watch.last_message_id == post.id
        assert watch.next_check_at == later + EVERY
    # Only the newest page was asked for each time.
    assert [r.query for r in preview_site.preview_requests("dev_news")] == [{}, {}]


async def test_an_unchanged_preview_is_asked_conditionally(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=5)
    await _watch(session_factory)
    await watches.check_due(session_factory, context, NOW)

    (result,) = await watches.check_due(session_factory, context, NOW + EVERY)

    assert result.outcome == "unchanged"
    first, second = preview_site.preview_requests("dev_news")
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"]
    assert second.status == 304


async def test_posts_that_came_faster_than_the_interval_are_read_back_to_the_last_seen(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=30)
    target = await _target(session_factory)
    await _watch(session_factory, target)
    await watches.check_due(session_factory, context, NOW)
    for _ in range(45):
        preview_site.publish("dev_news")

    (result,) = await watches.check_due(session_factory, context, NOW + EVERY)

    assert (result.new, len(result.queued)) == (45, 45)
    assert [r.query.get("before") for r in preview_site.preview_requests("dev_news")] == [
        None,
        None,
        "56",
        "36",
    ]
    assert await _count(session_factory, Post) == 20 + 45


async def test_duplicates_and_forwards_are_not_queued(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    channel = preview_site.add_channel("dev_news", posts=3)
    target = await _target(session_factory)
    await _watch(session_factory, target, policy=WatchPolicy.ORIGINALS)
    await watches.check_due(session_factory, context, NOW)
    preview_site.publish("dev_news", channel.posts[0].text)  # the same text posted again
    preview_site.publish("dev_news", "Перепост из другого канала", forwarded_from="ML Weekly")
    own = preview_site.publish("dev_news", "Свой пост о новом ядре")

    (result,) = await watches.check_due(session_factory, context, NOW + EVERY)

    (publication,) = await _publications(session_factory)
    assert result.queued == [publication.id]
    async with unit_of_work(session_factory) as session:
        assert (await session.get_one(Post, publication.post_id)).text == own.text


async def test_the_guard_keeps_a_post_from_being_queued_twice(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=2)
    target = await _target(session_factory)
    watch_id = await _watch(session_factory, target)
    await watches.check_due(session_factory, context, NOW)
    preview_site.publish("dev_news")
    await watches.check_due(session_factory, context, NOW + EVERY)
    # As after a crash between the import and the queueing: the watch as it was before.
    async with unit_of_work(session_factory) as session:
        watch = await session.get_one(Watch, watch_id)
        watch.last_message_id, watch.etag = 2, None

    (again,) = await watches.check_due(session_factory, context, NOW + 2 * EVERY)

    assert again.queued == []
    assert len(await _publications(session_factory)) == 1
    assert "already" in " ".join(again.notes)


async def test_a_failing_watch_backs_off_and_the_admins_are_told_once(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    channel = preview_site.add_channel("dev_news", posts=3)
    watch_id = await _watch(session_factory)
    await watches.check_due(session_factory, context, NOW)
    channel.private = True

    now = NOW + EVERY
    waits = []
    for _ in range(4):
        (result,) = await watches.check_due(session_factory, context, now)
        assert result.outcome == "failed"
        assert "has no public web preview" in (result.error or "")
        async with unit_of_work(session_factory) as session:
            next_check = (await session.get_one(Watch, watch_id)).next_check_at
        waits.append(next_check - now)
        assert (
            await watches.check_due(session_factory, context, next_check - timedelta(seconds=1))
            == []
        )
        now = next_check

    assert waits == [EVERY * 2, EVERY * 4, EVERY * 8, EVERY * 16]
    async with unit_of_work(session_factory) as session:
        (notice,) = await session.scalars(select(Notice))
    assert notice.text.startswith(f"Watch {watch_id} of @dev_news failed 3 checks in a row: ")

    channel.private = False
    (result,) = await watches.check_due(session_factory, context, now)

    assert result.ok
    async with unit_of_work(session_factory) as session:
        texts = [
            notice.text for notice in await session.scalars(select(Notice).order_by(Notice.id))
        ]
        watch = await session.get_one(Watch, watch_id)
    assert texts[1:] == [f"Watch {watch_id} of @dev_news works again."]
    assert (watch.failures, watch.last_error, watch.next_check_at) == (0, None, now + EVERY)


async def test_only_one_process_takes_a_due_watch(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=3)
    watch_id = await _watch(session_factory)

    first = await watches._take(session_factory, watch_id, NOW, force=False)
    second = await watches._take(session_factory, watch_id, NOW, force=False)

    assert first is not None
    assert second is None


async def test_a_paused_watch_is_not_checked_and_resumes_at_once(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    preview_site.add_channel("dev_news", posts=3)
    watch_id = await _watch(session_factory)
    async with unit_of_work(session_factory) as session:
        await watches.set_paused(session, watch_id, True, NOW)

    assert await watches.check_due(session_factory, context, NOW + EVERY) == []

    async with unit_of_work(session_factory) as session:
        await watches.set_paused(session, watch_id, False, NOW + 2 * EVERY)
    (result,) = await watches.check_due(session_factory, context, NOW + 2 * EVERY)
    assert result.outcome == "first look"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every": timedelta(seconds=30)}, "a watch checks at most once a minute"),
        ({"delay": timedelta(hours=1)}, "a delay and a policy are for queueing"),
        ({"policy": WatchPolicy.ORIGINALS}, "a delay and a policy are for queueing"),
        ({"delay": timedelta(days=31), "target": "target"}, "the delay must be from 0 to 30 days"),
    ],
)
async def test_add_refuses(
    session_factory: SessionFactory, options: dict[str, object], message: str
) -> None:
    if options.get("target") == "target":
        options["target"] = await _target(session_factory)
    with pytest.raises(WatchError, match=re.escape(message)):
        async with unit_of_work(session_factory) as session:
            await watches.add_watch(session, "dev_news", now=NOW, **options)  # type: ignore[arg-type]


async def test_a_channel_is_watched_once(session_factory: SessionFactory) -> None:
    first = await _watch(session_factory)

    with pytest.raises(WatchError, match=rf"@dev_news is watched already \(watch {first}\)"):
        await _watch(session_factory)


async def test_remove(session_factory: SessionFactory) -> None:
    watch_id = await _watch(session_factory)
    async with unit_of_work(session_factory) as session:
        await watches.remove_watch(session, watch_id)

    with pytest.raises(NotFoundError, match=f"no watch with id {watch_id}"):
        async with unit_of_work(session_factory) as session:
            await watches.remove_watch(session, watch_id)


async def test_a_page_changed_only_in_its_counters_is_no_import(
    session_factory: SessionFactory, preview_site: PreviewSite, context: WatchContext
) -> None:
    channel = preview_site.add_channel("dev_news", posts=5)
    await _watch(session_factory)
    await watches.check_due(session_factory, context, NOW)
    runs = await _count(session_factory, ImportRun)
    channel.posts[-1].views = (channel.posts[-1].views or 0) + 100

    (result,) = await watches.check_due(session_factory, context, NOW + EVERY)

    assert (result.outcome, result.new, result.error) == ("nothing new", 0, None)
    assert preview_site.preview_requests("dev_news")[-1].status == 200
    assert await _count(session_factory, ImportRun) == runs
