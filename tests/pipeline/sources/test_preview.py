"""A channel's web preview walked back page by page (``pipeline/sources/preview.py``), against
the fake t.me on 127.0.0.1: twenty posts a page, ``?before=`` links, faults on demand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.ingest.model import ChannelInfo, Event, Note, ParsedPost, Skipped
from pipeline.sources.fetch import Fetcher, FetchError
from pipeline.sources.preview import ChannelUnavailable, Crawl, crawl_channel, preview_url
from tests.fake_web import PreviewSite
from tests.pipeline.sources.conftest import Rig


@pytest.fixture
def fetcher(rig: Rig) -> Fetcher:
    return rig.fetcher(retries=0)


def ids(crawl: Crawl) -> list[int | None]:
    """The message ids of the crawl's posts and skipped messages, in event order."""
    return [e.message_id for e in crawl.events if isinstance(e, ParsedPost | Skipped)]


def asked(site: PreviewSite, username: str) -> list[str | None]:
    """The ``before`` of each preview page requested, in order."""
    return [request.query.get("before") for request in site.preview_requests(username)]


def page_of(site: PreviewSite, username: str, before: int | None = None) -> str:
    """The fake's preview page of ``username`` (older than ``before``), to serve elsewhere."""
    query = {} if before is None else {"before": str(before)}
    status, body, _, _ = site.render(f"/s/{username}", query)
    assert status == 200
    return body.decode()


@pytest.mark.parametrize(
    ("base", "before", "url"),
    [
        ("https://t.me", None, "https://t.me/s/dev_news"),
        ("https://t.me/", 120, "https://t.me/s/dev_news?before=120"),
        ("http://127.0.0.1:8080/tg/", 5, "http://127.0.0.1:8080/tg/s/dev_news?before=5"),
    ],
)
def test_preview_url(base: str, before: int | None, url: str) -> None:
    assert preview_url(base, "dev_news", before) == url


# -- what a crawl gives -----------------------------------------------------------------------


async def test_the_channel_comes_first_then_its_posts_oldest_first(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    channel = preview_site.add_channel("dev_news", "Dev News", posts=45, telegram_id=1500000042)

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    info, *rest = crawl.events
    assert info == ChannelInfo(
        title="Dev News",
        username="dev_news",
        telegram_id=1500000042,  # from the messages' data-view
        subscribers=12_800,
        description=channel.description,
    )
    assert all(isinstance(event, ParsedPost) for event in rest)
    assert ids(crawl) == list(range(1, 46))
    assert (crawl.pages, crawl.newest_id, crawl.complete) == (3, 45, True)
    assert crawl.url == f"{preview_site.base_url}/s/dev_news"
    assert crawl.validators.etag  # of the newest page, for a conditional next time
    assert not crawl.not_modified
    assert asked(preview_site, "dev_news") == [None, "26", "6"]
    newest = crawl.posts[-1]
    site_post = channel.posts[-1]
    assert (newest.text, newest.date, newest.views) == (
        site_post.text,
        site_post.date,
        site_post.views,
    )


async def test_a_channel_without_posts(fetcher: Fetcher, preview_site: PreviewSite) -> None:
    preview_site.add_channel("dev_news", "Dev News")

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert [type(event) for event in crawl.events] == [ChannelInfo]
    assert (crawl.posts, crawl.pages, crawl.newest_id, crawl.complete) == ([], 1, None, True)


async def test_service_messages_are_kept_as_skipped(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    channel = preview_site.add_channel("dev_news", posts=25)
    for post in channel.posts:
        post.service = post.id in (3, 25)  # one on the older page, the newest on the first

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert ids(crawl) == list(range(1, 26))
    skipped = [event for event in crawl.events if isinstance(event, Skipped)]
    assert skipped == [Skipped(3, "service"), Skipped(25, "service")]
    assert len(crawl.posts) == 23
    assert crawl.newest_id == 25  # a service message is the newest message too


# -- how far back -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("posts", "limit", "kept", "pages", "complete"),
    [
        (50, 25, range(26, 51), 2, False),
        (50, 20, range(31, 51), 1, False),  # the newest page exactly: older ones remain
        (50, 50, range(1, 51), 3, True),
        (50, 80, range(1, 51), 3, True),
        (15, 15, range(1, 16), 1, True),
        (15, 5, range(11, 16), 1, False),  # one page, but ten of its posts left out
        (45, 44, range(2, 46), 3, False),  # the oldest page, but its first post left out
    ],
)
async def test_limit_keeps_the_newest_posts(
    fetcher: Fetcher,
    preview_site: PreviewSite,
    posts: int,
    limit: int,
    kept: range,
    pages: int,
    complete: bool,
) -> None:
    preview_site.add_channel("dev_news", posts=posts)

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url, limit=limit)

    assert ids(crawl) == list(kept)
    assert (crawl.pages, crawl.complete, crawl.newest_id) == (pages, complete, posts)
    assert len(preview_site.preview_requests("dev_news")) == pages


@pytest.mark.parametrize(
    ("since_id", "first", "pages"),
    [
        (58, 58, 3),  # pages 100-81, 80-61 and 60-41, where older posts begin
        (81, 81, 2),  # the newest page's oldest post: the page before shows only older
        (100, 100, 1),
        (1, 1, 5),  # the channel's start
    ],
)
async def test_since_stops_at_older_posts(
    fetcher: Fetcher, preview_site: PreviewSite, since_id: int, first: int, pages: int
) -> None:
    channel = preview_site.add_channel("dev_news", posts=100)
    since = channel.posts[since_id - 1].date

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url, since=since)

    assert ids(crawl) == list(range(first, 101))
    assert all(post.date is not None and post.date >= since for post in crawl.posts)
    assert (crawl.pages, crawl.complete) == (pages, True)


async def test_since_after_the_newest_post_keeps_none(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    channel = preview_site.add_channel("dev_news", posts=30)
    since = channel.posts[-1].date + timedelta(seconds=1)

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url, since=since)

    assert crawl.posts == []
    assert (crawl.pages, crawl.complete, crawl.newest_id) == (1, True, 30)


@pytest.mark.parametrize(
    ("after_id", "kept", "pages"),
    [
        (45, range(46, 51), 1),
        (31, range(32, 51), 1),
        (30, range(31, 51), 2),  # the newest page's posts are all newer: one more page
        (25, range(26, 51), 2),
        (50, range(0), 1),  # nothing new
        (0, range(1, 51), 3),
    ],
)
async def test_after_id_stops_at_the_known_message(
    fetcher: Fetcher, preview_site: PreviewSite, after_id: int, kept: range, pages: int
) -> None:
    preview_site.add_channel("dev_news", posts=50)

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url, after_id=after_id)

    assert ids(crawl) == list(kept)
    assert (crawl.pages, crawl.complete, crawl.newest_id) == (pages, True, 50)
    assert isinstance(crawl.events[0], ChannelInfo)


@pytest.mark.parametrize(
    ("posts", "max_pages", "kept", "complete"),
    [
        (100, 2, range(61, 101), False),
        (100, 1, range(81, 101), False),
        (40, 2, range(1, 41), True),  # the second page is the oldest: nothing left out
    ],
)
async def test_max_pages_stops_the_walk_and_says_so(
    fetcher: Fetcher,
    preview_site: PreviewSite,
    posts: int,
    max_pages: int,
    kept: range,
    complete: bool,
) -> None:
    preview_site.add_channel("dev_news", posts=posts)

    crawl = await crawl_channel(
        fetcher, "dev_news", base=preview_site.base_url, max_pages=max_pages
    )

    assert ids(crawl) == list(kept)
    assert (crawl.pages, crawl.complete) == (max_pages, complete)
    notes = [event for event in crawl.events if isinstance(event, Note)]
    if complete:
        assert notes == []
    else:
        (note,) = notes
        assert f"{max_pages} pages" in note.message
        assert crawl.events.index(note) == 1  # after the channel, before the posts


# -- pages that are not what they should be ---------------------------------------------------


async def test_a_page_that_repeats_posts_of_the_newer_page_adds_each_once(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", posts=50)
    # Asked for the posts before 31, the server shows 16-35 (a post came meanwhile, say).
    preview_site.page("/s/dev_news?before=31", page_of(preview_site, "dev_news", before=36))

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert ids(crawl) == list(range(1, 51))
    assert asked(preview_site, "dev_news") == [None, "31", "16"]


@pytest.mark.parametrize(
    ("shown_before", "points_to"),
    [
        (61, 41),  # the same page again: the walk would never end
        (81, 61),  # a newer page than the one asked for
    ],
)
async def test_a_before_link_that_points_forward_fails(
    fetcher: Fetcher, preview_site: PreviewSite, shown_before: int, points_to: int
) -> None:
    preview_site.add_channel("dev_news", posts=100)
    preview_site.page(
        "/s/dev_news?before=41", page_of(preview_site, "dev_news", before=shown_before)
    )
    url = f"{preview_site.base_url}/s/dev_news?before=41"

    with pytest.raises(FetchError) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert str(caught.value) == f"{url}: the page before 41 points forward, to {points_to}"
    assert asked(preview_site, "dev_news") == [None, "81", "61", "41"]


def _private(site: PreviewSite) -> None:
    site.add_channel("dev_news", posts=5).private = True


def _no_channel(site: PreviewSite) -> None:
    pass


def _not_a_preview(site: PreviewSite) -> None:
    site.page("/s/dev_news", "<html><body><h1>Maintenance</h1></body></html>")


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (_private, "(a private channel, or none of that name)"),
        (_no_channel, "(a private channel, or none of that name)"),
        (_not_a_preview, "(the page shows no channel)"),
    ],
    ids=["private", "no-such-channel", "no-channel-shown"],
)
async def test_a_channel_without_a_public_preview(
    fetcher: Fetcher, preview_site: PreviewSite, arrange, reason: str
) -> None:
    arrange(preview_site)
    url = f"{preview_site.base_url}/s/dev_news"

    with pytest.raises(ChannelUnavailable) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert str(caught.value) == f"{url}: @dev_news has no public web preview {reason}"


async def test_a_channel_that_goes_private_half_way_fails_naming_the_page(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", posts=50)
    preview_site.redirect("/s/dev_news?before=31", "/dev_news")  # as Telegram does
    url = f"{preview_site.base_url}/s/dev_news?before=31"

    with pytest.raises(ChannelUnavailable) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert caught.value.file == url
    assert len(preview_site.requests_to("/dev_news")) == 1


MARKUP_CHANGED = "not a channel preview tgpipe can read (its markup changed?)"


@pytest.mark.parametrize(
    ("markup", "posts", "reason"),
    [
        ("no-ids", 5, f"{MARKUP_CHANGED}: no post id (data-post='')"),
        ("no-ids", 50, f"{MARKUP_CHANGED}: no post id (data-post='')"),
        ("renamed", 5, MARKUP_CHANGED),  # posts are there (data-post), none reads as one
        ("renamed", 50, MARKUP_CHANGED),
    ],
)
async def test_a_preview_whose_markup_changed_fails(
    fetcher: Fetcher, preview_site: PreviewSite, markup: str, posts: int, reason: str
) -> None:
    preview_site.add_channel("dev_news", posts=posts).markup = markup
    url = f"{preview_site.base_url}/s/dev_news"

    with pytest.raises(FetchError) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert type(caught.value) is FetchError  # the channel is there; its page is unreadable
    assert str(caught.value) == f"{url}: {reason}"
    assert len(preview_site.preview_requests("dev_news")) == 1


@pytest.mark.parametrize(("before", "asked_first"), [(None, 1), (31, 2)])
async def test_a_page_showing_another_channel_fails(
    fetcher: Fetcher, preview_site: PreviewSite, before: int | None, asked_first: int
) -> None:
    preview_site.add_channel("dev_news", posts=50)
    preview_site.add_channel("other_news", posts=50)
    path = "/s/dev_news" if before is None else f"/s/dev_news?before={before}"
    preview_site.page(path, page_of(preview_site, "other_news", before))

    with pytest.raises(FetchError) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert str(caught.value) == (
        f"{preview_site.base_url}{path}: the page shows @other_news, not @dev_news"
    )
    assert len(preview_site.preview_requests("dev_news")) == asked_first


async def test_a_preview_that_is_no_web_page_fails(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    preview_site.page("/s/dev_news", "{}", content_type="application/json")

    with pytest.raises(FetchError) as caught:
        await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert str(caught.value) == (
        f"{preview_site.base_url}/s/dev_news: not a web page (application/json)"
    )


# -- conditional crawls -----------------------------------------------------------------------


async def test_an_unchanged_preview_is_not_modified_and_nothing_more_is_asked(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", posts=50)
    first = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)
    requests_before = len(preview_site.preview_requests("dev_news"))

    again = await crawl_channel(
        fetcher, "dev_news", base=preview_site.base_url, validators=first.validators
    )

    (request,) = preview_site.preview_requests("dev_news")[requests_before:]
    assert request.headers["If-None-Match"] == first.validators.etag
    assert request.status == 304
    assert again.not_modified
    assert (again.events, again.pages, again.newest_id) == ([], 0, None)
    assert again.validators == first.validators


async def test_a_changed_preview_is_walked_and_only_its_first_page_is_conditional(
    fetcher: Fetcher, preview_site: PreviewSite
) -> None:
    preview_site.add_channel("dev_news", posts=30)
    first = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)
    preview_site.publish("dev_news")
    requests_before = len(preview_site.preview_requests("dev_news"))

    again = await crawl_channel(
        fetcher, "dev_news", base=preview_site.base_url, validators=first.validators
    )

    newest, older = preview_site.preview_requests("dev_news")[requests_before:]
    assert newest.headers["If-None-Match"] == first.validators.etag
    assert "If-None-Match" not in older.headers
    assert not again.not_modified
    assert ids(again) == list(range(1, 32))
    assert again.newest_id == 31
    assert again.validators.etag not in (None, first.validators.etag)


def _events_are_well_ordered(events: list[Event]) -> bool:
    """ChannelInfo, notes, then messages (each with its id) by id ascending."""
    kinds = [type(event) for event in events]
    messages = [e.message_id for e in events if isinstance(e, ParsedPost | Skipped)]
    known = [message_id for message_id in messages if message_id is not None]
    return kinds[:1] == [ChannelInfo] and known == messages and known == sorted(known)


@pytest.mark.parametrize("posts", [1, 20, 21, 59, 60, 61])
async def test_every_post_once_whatever_the_page_boundaries(
    fetcher: Fetcher, preview_site: PreviewSite, posts: int
) -> None:
    preview_site.add_channel("dev_news", posts=posts)

    crawl = await crawl_channel(fetcher, "dev_news", base=preview_site.base_url)

    assert ids(crawl) == list(range(1, posts + 1))
    assert _events_are_well_ordered(crawl.events)
    assert crawl.pages == -(-posts // 20)


@pytest.mark.parametrize(("limit", "told"), [(None, [20, 40, 45]), (30, [20, 30])])
async def test_progress_is_told_after_each_page(
    fetcher: Fetcher, preview_site: PreviewSite, limit: int | None, told: list[int]
) -> None:
    preview_site.add_channel("dev_news", posts=45)
    seen: list[int] = []

    await crawl_channel(
        fetcher, "Dev_News", base=preview_site.base_url, limit=limit, progress=seen.append
    )

    assert seen == told
