"""A public channel's web preview (``<base>/s/<name>``), walked back page by page.

The preview shows a channel's newest posts, about twenty a page, with a link to the page
before (``?before=<id>``). :func:`crawl_channel` follows those links until it has what was
asked (``limit`` posts, posts back to ``since``, or back to ``after_id`` for a watch), reading
each page with the saved-page parser. Every page is read before anything is written, so a
page that fails (the channel went private half-way, the markup changed) fails the whole
crawl with a clear error naming the page, and the store is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from pipeline.errors import ParseError
from pipeline.ingest.model import ChannelInfo, Event, Note, ParsedPost, Skipped
from pipeline.ingest.web_html import parse_page_html
from pipeline.sources.addresses import DEFAULT_PREVIEW_BASE
from pipeline.sources.fetch import Fetcher, FetchError, Page, Validators

log = logging.getLogger(__name__)

# A walk back through a channel's whole history stops here unless --limit or --since stop it
# first: 500 pages are some 10,000 posts, and at the polite pace some 17 minutes.
MAX_PAGES = 500


class ChannelUnavailable(FetchError):
    """The channel has no public web preview: it is private, or there is no such channel."""


def preview_url(base: str, username: str, before: int | None = None) -> str:
    url = f"{base.rstrip('/')}/s/{username}"
    return f"{url}?{urlencode({'before': before})}" if before is not None else url


@dataclass(slots=True)
class Crawl:
    """What a walk through a channel's preview found."""

    username: str
    url: str  # the preview's first page: the "file" its posts were seen in
    events: list[Event] = field(default_factory=list)  # ChannelInfo, then posts, oldest first
    pages: int = 0
    newest_id: int | None = None  # the newest message id seen (a post or a service message)
    validators: Validators = field(
        default_factory=Validators
    )  # of the newest page, for a conditional next time
    not_modified: bool = False  # the newest page is as it was (nothing fetched or read)
    # Whether the walk went back far enough: to after_id, since, or the channel's start. A
    # walk cut short by limit or by MAX_PAGES leaves a gap before what it found.
    complete: bool = True

    @property
    def posts(self) -> list[ParsedPost]:
        return [event for event in self.events if isinstance(event, ParsedPost)]


async def crawl_channel(
    fetcher: Fetcher,
    username: str,
    *,
    base: str = DEFAULT_PREVIEW_BASE,
    since: datetime | None = None,
    limit: int | None = None,
    after_id: int | None = None,
    validators: Validators | None = None,
    max_pages: int = MAX_PAGES,
    progress: Callable[[int], None] | None = None,
) -> Crawl:
    """The channel's posts, newest first back to whichever comes first: ``limit`` posts,
    posts older than ``since`` (aware), message ``after_id`` (exclusive), or its first post.

    ``validators`` (of the newest page, from an earlier crawl) make the first request
    conditional: an unchanged preview answers ``not_modified`` and nothing more is fetched.
    ``progress`` is told after each page how many posts the crawl holds.
    """
    username = username.lower()  # as the pages' addresses are compared
    crawl = Crawl(username=username, url=preview_url(base, username))
    header: ChannelInfo | None = None
    notes: list[Note] = []
    pages: list[list[Event]] = []  # newest page first
    kept = 0
    before: int | None = None
    while True:
        url = preview_url(base, username, before)
        page = await fetcher.get(url, validators if before is None else None)
        if page.not_modified:
            crawl.not_modified = True
            crawl.validators = page.validators
            return crawl
        events, older = _read(page, url, username, first=before is None)
        crawl.pages += 1
        if before is None:
            crawl.validators = page.validators
        taken: list[Event] = []
        reached_end = False
        # Newest first, so that a limit keeps the newest posts.
        for event in reversed(events):
            if isinstance(event, ChannelInfo):
                header = header or event
            elif isinstance(event, Note):
                if event not in notes:
                    notes.append(event)
            elif isinstance(event, ParsedPost | Skipped):
                message_id = event.message_id
                if message_id is not None and before is not None and message_id >= before:
                    continue  # a page that repeats what the newer one showed
                if message_id is not None and crawl.newest_id is None:
                    crawl.newest_id = message_id
                if after_id is not None and message_id is not None and message_id <= after_id:
                    reached_end = True
                    continue
                if isinstance(event, ParsedPost):
                    if since is not None and event.date is not None and event.date < since:
                        reached_end = True
                        continue
                    if limit is not None and kept >= limit:
                        # A post in range is left out, even on the oldest page: a gap.
                        crawl.complete = False
                        break
                    kept += 1
                taken.append(event)
        pages.append(taken[::-1])
        if progress is not None:
            progress(kept)
        if reached_end or older is None:
            break
        if limit is not None and kept >= limit:
            crawl.complete = False  # older pages may hold more posts in range
            break
        if crawl.pages >= max_pages:
            log.warning("@%s: stopped after %d pages of its preview", username, crawl.pages)
            notes.append(Note(f"read the newest {crawl.pages} pages only; older posts were left"))
            crawl.complete = False
            break
        if before is not None and older >= before:
            raise FetchError(url, f"the page before {before} points forward, to {older}")
        before = older
    crawl.events = [header or ChannelInfo(username=username), *notes]
    for taken in reversed(pages):
        crawl.events.extend(taken)
    log.info("@%s: %d posts from %d preview pages", username, len(crawl.posts), crawl.pages)
    return crawl


def _read(page: Page, url: str, username: str, *, first: bool) -> tuple[list[Event], int | None]:
    """The events of one preview page and the id of the page before it."""
    if not _is_preview_of(page.url, username):
        # Telegram sends the preview of a private or unknown channel to its t.me/NAME page.
        raise ChannelUnavailable(
            url, f"@{username} has no public web preview (a private channel, or none of that name)"
        )
    if not page.is_html:
        raise FetchError(url, f"not a web page ({page.content_type or 'no content type'})")
    try:
        events, older = parse_page_html(page.text, page.url)
    except ParseError as exc:
        if (
            first
            and "tgme_widget_message" not in page.text
            and "tgme_channel_info" not in page.text
        ):
            raise ChannelUnavailable(
                url, f"@{username} has no public web preview (the page shows no channel)"
            ) from None
        raise FetchError(
            url, f"not a channel preview tgpipe can read (its markup changed?): {exc.reason}"
        ) from None
    if not any(isinstance(event, ParsedPost | Skipped) for event in events) and (
        'data-post="' in page.text or older is not None
    ):
        # Posts are there (or older ones are), but none reads as a post.
        raise FetchError(url, "not a channel preview tgpipe can read (its markup changed?)")
    for event in events:
        shown = event.username if isinstance(event, ChannelInfo) else None
        if shown and shown.lower() != username:
            raise FetchError(url, f"the page shows @{shown}, not @{username}")
    return events, older


def _is_preview_of(url: str, username: str) -> bool:
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    return len(segments) >= 2 and segments[-2] == "s" and segments[-1].lower() == username
