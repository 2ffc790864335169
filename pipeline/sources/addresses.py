"""What a user may type for a live source: a public channel, or any other web page.

``@name``, ``t.me/name``, ``https://t.me/s/name``, ``telegram.me/name`` and a post link
``t.me/name/123`` all name the channel ``name``; so does an address on the preview base
(``TGPIPE_PREVIEW_BASE``, a mirror or a local server). Any other ``http(s)://`` address is
a web page, read as an article. Private links (``t.me/+…``, ``t.me/joinchat/…``,
``t.me/c/…``) have no web preview, which is said at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.errors import UsageError

DEFAULT_PREVIEW_BASE = "https://t.me"

# Telegram's rule for public usernames: 5-32 of a-z, 0-9 and _, starting with a letter
# (a few old ones are 4 long, hence 4).
_USERNAME = re.compile(r"[a-z][a-z0-9_]{3,31}", re.IGNORECASE)
_TELEGRAM_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me"})
# A URL, a bare t.me link or an @name: an address, never a file name.
_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|(?:www\.)?(?:t|telegram)\.me/|@\w)", re.IGNORECASE)
# Written with a scheme: a "://" further on (t.me/iv?url=https://...) is no scheme.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Paths of t.me that are not channels.
_NOT_CHANNELS = frozenset(
    {"s", "c", "joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "login", "iv"}
)


@dataclass(frozen=True, slots=True)
class ChannelAddress:
    """A public channel, by its username (lower case)."""

    username: str


@dataclass(frozen=True, slots=True)
class PageAddress:
    """Any other web page."""

    url: str


Address = ChannelAddress | PageAddress


def looks_like_address(text: str) -> bool:
    """Whether ``text`` is written as a web address or @name rather than as a path."""
    return bool(_ADDRESS.match(text.strip()))


def parse_address(text: str, preview_base: str = DEFAULT_PREVIEW_BASE) -> Address:
    """What ``text`` names; ``UsageError`` for what is no public channel or web page."""
    given = text.strip()
    if given.startswith("@"):
        return ChannelAddress(_username(given[1:], given))
    url = given if _SCHEME.match(given) else f"https://{given}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise UsageError(f"{given}: not a web address") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise UsageError(f"{given}: not a web address (http:// or https://)")
    base = urlsplit(preview_base)
    base_path = base.path.rstrip("/")
    # The base's host and port, under its path: beside a mirror's prefix (https://host/tg)
    # the same host serves other pages (https://host/blog/post, https://host/tgx).
    on_base = (
        host == (base.hostname or "").lower()
        and _port(parts.scheme, port) == _port(base.scheme, base.port)
        and (parts.path == base_path or parts.path.startswith(f"{base_path}/"))
    )
    if host not in _TELEGRAM_HOSTS and not on_base:
        return PageAddress(url)
    path = parts.path[len(base_path) :] if on_base else parts.path
    segments = [segment for segment in path.split("/") if segment]
    if segments and segments[0].lower() == "s":
        segments = segments[1:]
    if not segments:
        raise UsageError(f"{given}: names no channel (expected t.me/NAME or @NAME)")
    first = segments[0]
    if first.startswith("+") or first.lower() in ("joinchat", "c"):
        raise UsageError(
            f"{given}: a private chat's link; tgpipe reads only public channels' web "
            "previews (export a private channel with Telegram Desktop)"
        )
    if first.lower() in _NOT_CHANNELS:
        raise UsageError(f"{given}: not a channel's address (expected t.me/NAME or @NAME)")
    return ChannelAddress(_username(first, given))


def _port(scheme: str, port: int | None) -> int | None:
    """The port, the scheme's own when none is written (https://host is https://host:443)."""
    return port if port is not None else {"http": 80, "https": 443}.get(scheme.lower())


def _username(name: str, given: str) -> str:
    if not _USERNAME.fullmatch(name):
        raise UsageError(
            f"{given}: {name!r} is not a public channel's username "
            "(5-32 letters, digits and _, starting with a letter)"
        )
    return name.lower()
