"""What a user may type for a live source (``pipeline/sources/addresses.py``): a channel, a web
page, or a usage error that says why."""

from __future__ import annotations

import pytest

from pipeline.errors import UsageError
from pipeline.sources.addresses import (
    DEFAULT_PREVIEW_BASE,
    Address,
    ChannelAddress,
    PageAddress,
    looks_like_address,
    parse_address,
)

LOCAL = "http://127.0.0.1:8080"  # a local preview server, with a port
MIRROR = "https://mirror.example/tg"  # a mirror under a path prefix

PRIVATE = (
    "a private chat's link; tgpipe reads only public channels' web previews "
    "(export a private channel with Telegram Desktop)"
)
NO_CHANNEL = "names no channel (expected t.me/NAME or @NAME)"
NOT_A_CHANNEL = "not a channel's address (expected t.me/NAME or @NAME)"


def bad_name(name: str) -> str:
    return (
        f"{name!r} is not a public channel's username "
        "(5-32 letters, digits and _, starting with a letter)"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("@dev_news", ChannelAddress("dev_news")),
        ("@Dev_News", ChannelAddress("dev_news")),  # usernames are case-insensitive
        ("  @dev_news\n", ChannelAddress("dev_news")),
        ("@news", ChannelAddress("news")),  # a few old usernames are 4 long
        ("@a" + "b" * 31, ChannelAddress("a" + "b" * 31)),  # 32, the longest
        ("t.me/dev_news", ChannelAddress("dev_news")),
        ("www.t.me/dev_news", ChannelAddress("dev_news")),
        ("https://t.me/dev_news", ChannelAddress("dev_news")),
        ("http://t.me/dev_news", ChannelAddress("dev_news")),
        ("https://t.me/dev_news/", ChannelAddress("dev_news")),
        ("https://t.me/s/dev_news", ChannelAddress("dev_news")),
        ("t.me/s/dev_news?before=120", ChannelAddress("dev_news")),
        ("https://t.me/dev_news/123", ChannelAddress("dev_news")),  # a post link
        ("https://t.me/s/dev_news/123", ChannelAddress("dev_news")),
        ("https://t.me/dev_news/123?single#top", ChannelAddress("dev_news")),
        ("telegram.me/dev_news", ChannelAddress("dev_news")),
        ("https://www.telegram.me/dev_news/7", ChannelAddress("dev_news")),
        ("HTTPS://T.ME/Dev_News", ChannelAddress("dev_news")),
        ("T.ME/S/DEV_NEWS", ChannelAddress("dev_news")),
        ("https://example.com/blog/post", PageAddress("https://example.com/blog/post")),
        ("http://example.com/a?b=c#d", PageAddress("http://example.com/a?b=c#d")),
        ("example.com/blog/post", PageAddress("https://example.com/blog/post")),
        ("https://t.me.example.com/dev_news", PageAddress("https://t.me.example.com/dev_news")),
        (
            "example.com/go?to=https://t.me/dev_news",
            PageAddress("https://example.com/go?to=https://t.me/dev_news"),
        ),
        ("https://nott.me/dev_news", PageAddress("https://nott.me/dev_news")),
    ],
)
def test_an_address_on_telegram_or_the_web(given: str, expected: Address) -> None:
    assert parse_address(given) == expected


@pytest.mark.parametrize(
    ("base", "given", "expected"),
    [
        (LOCAL, f"{LOCAL}/s/dev_news", ChannelAddress("dev_news")),
        (LOCAL, f"{LOCAL}/dev_news", ChannelAddress("dev_news")),
        (LOCAL, f"{LOCAL}/Dev_News/12", ChannelAddress("dev_news")),
        (LOCAL, "127.0.0.1:8080/s/dev_news", ChannelAddress("dev_news")),
        (LOCAL, "t.me/dev_news", ChannelAddress("dev_news")),  # Telegram's own, still
        (
            LOCAL,
            "http://127.0.0.1:9090/s/dev_news",
            PageAddress("http://127.0.0.1:9090/s/dev_news"),
        ),
        (LOCAL, "http://127.0.0.1/s/dev_news", PageAddress("http://127.0.0.1/s/dev_news")),
        (
            LOCAL,
            "http://localhost:8080/s/dev_news",
            PageAddress("http://localhost:8080/s/dev_news"),
        ),
        (MIRROR, f"{MIRROR}/s/dev_news", ChannelAddress("dev_news")),
        (MIRROR, f"{MIRROR}/dev_news", ChannelAddress("dev_news")),
        (MIRROR, f"{MIRROR}/dev_news/99", ChannelAddress("dev_news")),
        (MIRROR, "mirror.example/tg/s/dev_news", ChannelAddress("dev_news")),
        # The scheme's own port, written or not, is the same place.
        (MIRROR, "https://mirror.example:443/tg/dev_news", ChannelAddress("dev_news")),
        ("https://mirror.example:443/tg", f"{MIRROR}/dev_news", ChannelAddress("dev_news")),
        (
            MIRROR,
            "http://mirror.example/tg/dev_news",
            PageAddress("http://mirror.example/tg/dev_news"),
        ),
        (f"{MIRROR}/", f"{MIRROR}/s/dev_news", ChannelAddress("dev_news")),
        # Beside the prefix, the mirror's host serves other pages.
        (
            MIRROR,
            "https://mirror.example/blog/post",
            PageAddress("https://mirror.example/blog/post"),
        ),
        (
            MIRROR,
            "https://mirror.example/tgx/dev_news",
            PageAddress("https://mirror.example/tgx/dev_news"),
        ),
        (MIRROR, "https://mirror.example/", PageAddress("https://mirror.example/")),
        (
            DEFAULT_PREVIEW_BASE,
            f"{LOCAL}/s/dev_news",
            PageAddress(f"{LOCAL}/s/dev_news"),
        ),
    ],
)
def test_an_address_on_a_custom_preview_base(base: str, given: str, expected: Address) -> None:
    assert parse_address(given, base) == expected


@pytest.mark.parametrize(
    ("given", "base", "reason"),
    [
        ("t.me/+AbCdEf123", DEFAULT_PREVIEW_BASE, PRIVATE),
        ("https://t.me/joinchat/AbCdEf", DEFAULT_PREVIEW_BASE, PRIVATE),
        ("t.me/JoinChat/AbCdEf", DEFAULT_PREVIEW_BASE, PRIVATE),
        ("https://t.me/c/1234567890/55", DEFAULT_PREVIEW_BASE, PRIVATE),
        ("https://t.me/s/+AbCdEf", DEFAULT_PREVIEW_BASE, PRIVATE),
        (f"{LOCAL}/+AbCdEf", LOCAL, PRIVATE),
        ("t.me/", DEFAULT_PREVIEW_BASE, NO_CHANNEL),
        ("https://t.me", DEFAULT_PREVIEW_BASE, NO_CHANNEL),
        ("https://t.me/s/", DEFAULT_PREVIEW_BASE, NO_CHANNEL),
        (f"{LOCAL}/", LOCAL, NO_CHANNEL),
        (MIRROR, MIRROR, NO_CHANNEL),
        (f"{MIRROR}/s", MIRROR, NO_CHANNEL),
        ("https://t.me/addstickers/Cats", DEFAULT_PREVIEW_BASE, NOT_A_CHANNEL),
        ("t.me/share/url?url=https://example.com", DEFAULT_PREVIEW_BASE, NOT_A_CHANNEL),
        ("t.me/iv?url=https://example.com", DEFAULT_PREVIEW_BASE, NOT_A_CHANNEL),
        ("t.me/proxy?server=1.2.3.4", DEFAULT_PREVIEW_BASE, NOT_A_CHANNEL),
        ("@ab", DEFAULT_PREVIEW_BASE, bad_name("ab")),
        ("@", DEFAULT_PREVIEW_BASE, bad_name("")),
        ("@1channel", DEFAULT_PREVIEW_BASE, bad_name("1channel")),
        ("@_channel", DEFAULT_PREVIEW_BASE, bad_name("_channel")),
        ("@dev-news", DEFAULT_PREVIEW_BASE, bad_name("dev-news")),
        ("@a" + "b" * 32, DEFAULT_PREVIEW_BASE, bad_name("a" + "b" * 32)),  # 33 long
        ("t.me/dev-news", DEFAULT_PREVIEW_BASE, bad_name("dev-news")),
        ("https://t.me/Канал", DEFAULT_PREVIEW_BASE, bad_name("Канал")),
        ("ftp://example.com/file", DEFAULT_PREVIEW_BASE, "not a web address (http:// or https://)"),
        ("mailto://someone", DEFAULT_PREVIEW_BASE, "not a web address (http:// or https://)"),
        ("http://", DEFAULT_PREVIEW_BASE, "not a web address (http:// or https://)"),
        ("https://[::1/page", DEFAULT_PREVIEW_BASE, "not a web address"),
        ("https://example.com:99999/page", DEFAULT_PREVIEW_BASE, "not a web address"),
    ],
)
def test_an_address_that_names_no_public_channel_or_page(
    given: str, base: str, reason: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse_address(given, base)

    assert str(caught.value) == f"{given.strip()}: {reason}"


@pytest.mark.parametrize(
    ("text", "is_address"),
    [
        ("@dev_news", True),
        ("  @dev_news ", True),
        ("t.me/dev_news", True),
        ("T.ME/dev_news", True),
        ("www.t.me/dev_news", True),
        ("telegram.me/dev_news", True),
        ("https://example.com/post", True),
        ("http://127.0.0.1:8080/s/dev_news", True),
        ("ftp://example.com/file", True),  # an address, if not one tgpipe reads
        ("result.json", False),
        ("exports/t.me/result.json", False),
        ("./@dev_news.html", False),
        ("@", False),
        ("me/dev_news", False),
        ("example.com/post", False),  # could be a folder: a path unless written as a URL
    ],
)
def test_looks_like_address(text: str, is_address: bool) -> None:
    assert looks_like_address(text) is is_address
