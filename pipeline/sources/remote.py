"""Addresses as importer inputs: a channel's web preview, or an article, fetched when its
turn comes (see ``Remote`` in ``pipeline/ingest/importer.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pipeline.ingest.article import parse_article_html, parse_article_text
from pipeline.ingest.importer import Fetched
from pipeline.ingest.model import Event, Note
from pipeline.sources.addresses import (
    DEFAULT_PREVIEW_BASE,
    Address,
    ChannelAddress,
    PageAddress,
)
from pipeline.sources.fetch import Fetcher, FetchError
from pipeline.sources.preview import crawl_channel, preview_url
from pipeline.store.types import now_utc


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    """A public channel's posts from its web preview, newest first back to ``since`` or
    ``limit`` posts (the whole history the preview shows, when neither is given)."""

    fetcher: Fetcher
    username: str
    base: str = DEFAULT_PREVIEW_BASE
    since: datetime | None = None
    limit: int | None = None

    @property
    def name(self) -> str:
        return preview_url(self.base, self.username)

    async def fetch(self, progress: Callable[[int], None]) -> Fetched:
        observed_at = now_utc()
        crawl = await crawl_channel(
            self.fetcher,
            self.username,
            base=self.base,
            since=self.since,
            limit=self.limit,
            progress=progress,
        )
        events: list[Event] = list(crawl.events)
        if not crawl.posts:
            events.append(Note("no posts in that range" if self.since else "no posts"))
        return Fetched("web-html", events, observed_at)


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """One web page, read as an article: one draft post whose source is its URL."""

    fetcher: Fetcher
    url: str
    timezone: str = "UTC"

    @property
    def name(self) -> str:
        return self.url

    async def fetch(self, progress: Callable[[int], None]) -> Fetched:
        observed_at = now_utc()
        page = await self.fetcher.get(self.url)
        if page.is_html:
            post = parse_article_html(page.text, self.url, page.url, self.timezone)
        elif page.content_type == "text/plain":
            post = parse_article_text(page.text, self.url)
        else:
            raise FetchError(self.url, f"not a web page ({page.content_type or 'no content type'})")
        return Fetched("article", [post], observed_at)


def remote_input(
    address: Address,
    fetcher: Fetcher,
    *,
    base: str = DEFAULT_PREVIEW_BASE,
    since: datetime | None = None,
    limit: int | None = None,
    timezone: str = "UTC",
) -> ChannelPreview | ArticlePage:
    if isinstance(address, ChannelAddress):
        return ChannelPreview(fetcher, address.username, base, since, limit)
    assert isinstance(address, PageAddress)
    return ArticlePage(fetcher, address.url, timezone)
