"""A fake t.me (channel web previews) and web server for the live-source tests.

from tests.fake_web import PreviewSite

with PreviewSite() as site:
    site.add_channel("news", "News", posts=200)
    ... fetch f"{site.base_url}/s/news" (TGPIPE_PREVIEW_BASE=site.base_url) ...
    site.fail("/s/news", 429, times=2, headers={"Retry-After": "1"})
"""

from tests.fake_web.site import Channel, PreviewSite, Request, SitePost

__all__ = ["Channel", "PreviewSite", "Request", "SitePost"]
