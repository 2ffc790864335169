"""A saved ``https://t.me/s/<channel>`` page: the public web preview of a channel.

Every post is a ``tgme_widget_message`` block whose ``data-post="<channel>/<id>"`` gives the
real message id; its text keeps the formatting as HTML (``b``, ``i``, ``u``, ``s``, ``code``,
``pre``, ``a``, ``tg-spoiler``, ``tg-emoji``, ``blockquote``, ``br``). Views and reaction counts
are rounded by Telegram (``1.2K``, ``3M``), so they are approximate. Albums are already grouped
by the page (``tgme_widget_message_grouped_wrap``), one block per album.

:func:`parse_page_html` reads one page held in memory and also returns the id to ask for the
next older page (``?before=N``), so the live fetcher pages through a channel with this code.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import lxml.html  # type: ignore[import-untyped, unused-ignore]
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from pipeline.errors import ParseError
from pipeline.ingest.model import (
    ChannelInfo,
    Entity,
    Event,
    LinkPreview,
    MediaItem,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.source import read_text
from pipeline.ingest.textutil import (
    HTML_FORMAT_TAGS,
    EntityBuilder,
    element_line,
    element_text,
)

FORMAT = "web-html"

logger = logging.getLogger(__name__)

# lxml ships no type information; its elements are handled as Any behind this name.
_El = Any

TME = "https://t.me/"
# Markers of a Telegram Desktop HTML export, which is never a web preview page.
DESKTOP_MARKERS = (
    "<title>Exported Data</title>",
    'class="page_wrap"',
    'class="message default',
    'class="message service"',
)

_POST = re.compile(r"^\s*([A-Za-z0-9_]{1,64})/(\d{1,18})\s*$")
_TME_PATH = re.compile(r"^/(?:s/)?([A-Za-z0-9_]{1,64})/(\d{1,18})/?$")
_COUNT = re.compile(r"^(\d+(?:[.,]\d+)?)([KMB]?)$", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_BG_URL = re.compile(r"""background-image\s*:\s*url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)
_DURATION = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_LANGUAGE = re.compile(r"(?:^|\s)language-([\w+#.-]+)")
_EDITED = re.compile(r"\bedited\b", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_SUBSCRIBER_WORDS = ("subscriber", "member", "подписчик", "участник")

_XPATHS: dict[str, Any] = {}


# --- small DOM helpers ----------------------------------------------------------------------


def _classes(el: _El) -> set[str]:
    if not isinstance(el.tag, str):
        return set()
    return set(str(el.get("class") or "").split())


def _all(root: _El, name: str) -> list[_El]:
    """Descendants of ``root`` carrying the class ``name`` (a whole class token)."""
    finder = _XPATHS.get(name)
    if finder is None:
        finder = etree.XPath(
            f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
        )
        _XPATHS[name] = finder
    found = finder(root)
    return list(found) if isinstance(found, list) else []


def _first(root: _El, name: str) -> _El | None:
    found = _all(root, name)
    return found[0] if found else None


def _inside(el: _El, stop: _El, names: frozenset[str]) -> bool:
    """Whether an ancestor of ``el`` below ``stop`` carries one of the classes ``names``."""
    node = el.getparent()
    while node is not None and node is not stop:
        if _classes(node) & names:
            return True
        node = node.getparent()
    return False


def _line(el: _El | None) -> str | None:
    """Text of ``el`` on one line, or None when it is absent or blank."""
    if el is None:
        return None
    return element_line(el) or None


def _block(el: _El | None) -> str | None:
    """Multi-line text of ``el`` (``<br>`` and blocks break lines), or None when blank."""
    if el is None:
        return None
    return re.sub(r"\n{3,}", "\n\n", element_text(el)) or None


# --- values -----------------------------------------------------------------------------------


def parse_count(raw: str) -> int | None:
    """``1.2K`` -> 1200, ``3M`` -> 3000000, ``1 234`` -> 1234; None for an empty label.

    Raises ValueError for anything else, so callers can name the place.
    """
    value = _SPACES.sub("", raw)
    if not value:
        return None
    match = _COUNT.match(value)
    if not match:
        raise ValueError(f"unreadable count {raw.strip()!r}")
    number, suffix = match.groups()
    scale = {"": 1, "K": 1000, "M": 1000_000, "B": 1000_000_000}[suffix.upper()]
    if scale == 1:
        # Without a suffix a separator can only group thousands ("1,234").
        number = number.replace(",", "").replace(".", "")
    try:
        return int(Decimal(number.replace(",", ".")) * scale)
    except InvalidOperation:
        raise ValueError(f"unreadable count {raw.strip()!r}") from None


def _duration(raw: str | None) -> int | None:
    if not raw:
        return None
    match = _DURATION.match(raw.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)


def _absolute(href: str, base: str = TME) -> str | None:
    """``href`` made absolute against ``base``; None when it is not a usable URL."""
    try:
        url = urljoin(base, href.strip())
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https", "tg") else None


def _background_url(el: _El) -> str | None:
    match = _BG_URL.search(str(el.get("style") or ""))
    if not match or not match.group(2):
        return None
    return _absolute(match.group(2), "https:")


def _post_id_from_url(href: str) -> tuple[str, int] | None:
    """``https://t.me/chan/12?single`` -> ("chan", 12)."""
    try:
        parts = urlsplit(urljoin(TME, href))
    except ValueError:
        return None
    if parts.hostname not in ("t.me", "telegram.me"):
        return None
    match = _TME_PATH.match(parts.path)
    if not match:
        return None
    return match.group(1), int(match.group(2))


class _Clock:
    """The zone for dates written without one, and whether any such date was met."""

    def __init__(self, name: str, origin: str) -> None:
        self.name = name
        self.naive = False
        if name.upper() == "UTC":
            self.zone: tzinfo = UTC
            return
        try:
            self.zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ParseError(origin, None, f"unknown time zone {name!r}") from None

    def read(self, raw: str) -> datetime:
        value = datetime.fromisoformat(raw.strip())
        if value.tzinfo is None:
            # The page always writes an offset; a saved copy edited by hand may not.
            self.naive = True
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC)


# --- message text -----------------------------------------------------------------------------

_BLOCK_TAGS = frozenset({"blockquote", "pre", "div", "p"})


class _TextWriter:
    """An EntityBuilder that also knows its last character, to keep blocks on their own lines."""

    def __init__(self) -> None:
        self.builder = EntityBuilder()
        self.last = ""
        self.pending_break = False

    def _flush(self, before: str) -> None:
        if self.pending_break:
            self.pending_break = False
            if self.last not in ("", "\n") and not before.startswith("\n"):
                self.builder.text("\n")
                self.last = "\n"

    def text(self, piece: str) -> None:
        if not piece:
            return
        self._flush(piece)
        self.builder.text(piece)
        self.last = piece[-1]

    def open(self, type: str, **attrs: object) -> None:
        # The line break owed to a closed block goes before the new span, not inside it.
        self._flush("")
        self.builder.open(type, **attrs)

    def close(self) -> None:
        self.builder.close()

    def break_line(self) -> None:
        """Start a block: a newline unless the text already ends a line."""
        if self.last not in ("", "\n"):
            self.builder.text("\n")
            self.last = "\n"
        self.pending_break = False


def _link(el: _El, text: str) -> tuple[str | None, dict[str, object]]:
    """The entity an ``<a>`` in a message makes: url, text_link, mention, hashtag, email."""
    href = str(el.get("href") or "").strip()
    shown = text.strip()
    if not href or not shown:
        return None, {}
    if href.startswith("?q="):
        # Hashtag and cashtag search links of the preview page.
        if shown.startswith("#"):
            return "hashtag", {}
        if shown.startswith("$"):
            return "cashtag", {}
        return None, {}
    if href.lower().startswith("mailto:"):
        return "email", {}
    url = _absolute(href)
    if url is None:
        return None, {}
    target = _post_id_from_url(url)
    parts = urlsplit(url)
    if (
        shown.startswith("@")
        and parts.hostname in ("t.me", "telegram.me")
        and parts.path.strip("/").lower() == shown[1:].lower()
        and target is None
    ):
        return "mention", {}

    # Only a link showing exactly its own address is a plain URL; anything else keeps its
    # address as a text_link, which republishes the same whatever Telegram would detect.
    if unquote(shown) == unquote(url):
        return "url", {}
    return "text_link", {"url": url}


def _language(el: _El) -> str | None:
    for node in (el, *el.iter("code")):
        match = _LANGUAGE.search(str(node.get("class") or ""))
        if match:
            return match.group(1)
    return None


def render_text(root: _El) -> tuple[str, list[Entity]]:
    """The text of a message element and its formatting entities (UTF-16 offsets)."""
    out = _TextWriter()
    # (element, closing, opened an entity); the root's own tag and tail are not part of it.
    stack: list[tuple[_El, bool, bool]] = [(child, False, False) for child in reversed(root)]
    out.text(root.text or "")
    in_pre = 0
    while stack:
        el, closing, opened = stack.pop()
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if closing:
            if opened:
                out.close()
            if tag == "pre":
                in_pre -= 1
            if tag in _BLOCK_TAGS:
                out.pending_break = True
            out.text(el.tail or "")
            continue
        classes = _classes(el)
        if not tag or tag in ("script", "style", "svg"):
            out.text(el.tail or "")
            continue
        if tag == "br":
            out.text("\n")
            out.text(el.tail or "")
            continue
        if tag == "tg-emoji":
            shown = element_text(el)
            emoji_id = str(el.get("emoji-id") or "").strip()
            if shown and emoji_id.isdigit():
                out.open("custom_emoji", custom_emoji_id=emoji_id)
                out.text(shown)
                out.close()
            else:
                out.text(shown)
            out.text(el.tail or "")
            continue
        if tag == "i" and "emoji" in classes:
            # An emoji drawn as an image: its character sits in a <b> that is not bold.
            out.text(element_text(el))
            out.text(el.tail or "")
            continue
        entity: str | None = None
        attrs: dict[str, object] = {}
        if tag in _BLOCK_TAGS:
            out.break_line()
        if tag == "pre":
            entity, attrs = "pre", {}
            language = _language(el)
            if language:
                attrs["language"] = language
            in_pre += 1
        elif tag == "blockquote":
            expandable = "expandable" in classes or el.get("expandable") is not None
            entity = "expandable_blockquote" if expandable else "blockquote"
        elif tag == "code" and in_pre:
            entity = None
        elif tag == "a":
            entity, attrs = _link(el, element_text(el))
        elif tag == "span" and "tg-spoiler" in classes:
            entity = "spoiler"
        else:
            entity = HTML_FORMAT_TAGS.get(tag)
        if entity:
            out.open(entity, **attrs)
        stack.append((el, True, entity is not None))
        out.text(el.text or "")
        stack.extend((child, False, False) for child in reversed(el))
    return out.builder.build()


# --- media ------------------------------------------------------------------------------------

# Parts of a message that hold no attachment of the message itself.
_NOT_MEDIA = frozenset(
    {
        "tgme_widget_message_reply",
        "tgme_widget_message_link_preview",
        "tgme_widget_message_text",
        "tgme_widget_message_forwarded_from",
        "tgme_widget_message_footer",
        "tgme_widget_message_reactions",
        "tgme_widget_message_author",
        "tgme_widget_message_user",
        "tgme_widget_message_inline_keyboard",
    }
)


def _media_kind(classes: set[str]) -> str | None:
    if "tgme_widget_message_photo_wrap" in classes:
        return "photo"
    if "tgme_widget_message_roundvideo_player" in classes:
        return "video_note"
    if "tgme_widget_message_video_player" in classes:
        return "video"
    if "tgme_widget_message_voice_player" in classes:
        return "voice"
    if "tgme_widget_message_document_wrap" in classes:
        return "document"
    if "tgme_widget_message_sticker_wrap" in classes:
        return "sticker"
    if "tgme_widget_message_poll" in classes:
        return "poll"
    if "tgme_widget_message_location_wrap" in classes:
        return "location"
    if "message_media_not_supported_wrap" in classes:
        return "unsupported"
    return None


def _media_item(kind: str, el: _El) -> MediaItem:
    item = MediaItem(kind=kind)
    if kind == "photo":
        item.file = _background_url(el)
    elif kind in ("video", "video_note"):
        video = next(iter(el.iter("video")), None)
        src = str(video.get("src") or "") if video is not None else ""
        item.file = src or None
        item.duration = _duration(_line(_first(el, "message_video_duration")))
        thumb = _first(el, "tgme_widget_message_video_thumb")
        if thumb is not None and _background_url(thumb):
            item.extra["thumbnail"] = _background_url(thumb)
        if "not_supported" in _classes(el):
            item.extra["notice"] = _line(_first(el, "message_media_not_supported_label"))
    elif kind == "voice":
        audio = next(iter(el.iter("audio")), None)
        item.file = (str(audio.get("src") or "") or None) if audio is not None else None
        item.duration = _duration(_line(_first(el, "tgme_widget_message_voice_duration")))
    elif kind == "document":
        item.file_name = _line(_first(el, "tgme_widget_message_document_title"))
        extra = _line(_first(el, "tgme_widget_message_document_extra"))
        icon = _first(el, "tgme_widget_message_document_icon")
        if icon is not None and "audio" in _classes(icon):
            item.kind = "audio"
            if extra:
                item.extra["performer"] = extra
        elif extra:
            # Telegram shows a rounded size ("2.4 MB"); kept as shown, not as bytes.
            item.extra["size"] = extra
    elif kind == "sticker":
        image = _first(el, "tgme_widget_message_sticker")
        if image is not None:
            item.file = str(image.get("data-webp") or "") or _background_url(image)
        else:
            video = next(iter(el.iter("video")), None)
            item.file = (str(video.get("src") or "") or None) if video is not None else None
    elif kind == "poll":
        item.extra["question"] = _block(_first(el, "tgme_widget_message_poll_question")) or ""
        poll_type = _line(_first(el, "tgme_widget_message_poll_type"))
        if poll_type:
            item.extra["type"] = poll_type
        options = []
        for option in _all(el, "tgme_widget_message_poll_option"):
            entry: dict[str, object] = {
                "text": _block(_first(option, "tgme_widget_message_poll_option_text")) or ""
            }
            percent = _PERCENT.search(
                _line(_first(option, "tgme_widget_message_poll_option_percent")) or ""
            )
            if percent:
                entry["percent"] = float(percent.group(1).replace(",", "."))
            options.append(entry)
        item.extra["options"] = options
    elif kind == "location":
        href = str(el.get("href") or "")
        if href:
            item.extra["url"] = href
    elif kind == "unsupported":
        item.extra["notice"] = _line(_first(el, "message_media_not_supported_label"))
    return item


def _media(message: _El) -> list[MediaItem]:
    """Attachments in page order, not looking inside the reply quote or the link preview."""
    items: list[MediaItem] = []
    stack = list(reversed(message))
    while stack:
        el = stack.pop()
        classes = _classes(el)
        if not isinstance(el.tag, str):
            continue
        if classes & _NOT_MEDIA:
            continue
        kind = _media_kind(classes)
        if kind:
            items.append(_media_item(kind, el))
            continue
        stack.extend(reversed(el))
    return items


# --- one message ------------------------------------------------------------------------------


def _message_text(message: _El) -> _El | None:
    skip = frozenset(
        {
            "tgme_widget_message_reply",
            "tgme_widget_message_link_preview",
            "tgme_widget_message_poll",
        }
    )
    for el in _all(message, "tgme_widget_message_text"):
        if not _inside(el, message, skip) and "js-message_reply_text" not in _classes(el):
            return el
    return None


def _reactions(message: _El, where: str, origin: str) -> list[Reaction]:
    reactions: list[Reaction] = []
    for span in _all(message, "tgme_reaction"):
        classes = _classes(span)
        custom = next(
            (node for node in span.iter("tg-emoji") if str(node.get("emoji-id") or "").strip()),
            None,
        )
        if "tgme_reaction_paid" in classes:
            key = "paid"
        elif custom is not None:
            key = "custom:" + str(custom.get("emoji-id")).strip()
        else:
            shown = next(iter(span.iter("b")), None)
            key = _line(shown) or _line(_first(span, "emoji")) or ""
        # The count is the span's own text, after the emoji element.
        own = (span.text or "") + "".join(child.tail or "" for child in span)
        if not key:
            # Old markup puts the emoji as bare text before the count: "👍 1 234".
            match = re.match(r"^\s*(\D+?)\s*([\d.,\s\u00a0\u202f]+[KMB]?)\s*$", own, re.IGNORECASE)
            if not match:
                logger.warning("%s: %s: reaction without an emoji skipped", origin, where)
                continue
            key, own = match.group(1).strip(), match.group(2)
        try:
            count = parse_count(own)
        except ValueError as exc:
            raise ParseError(origin, where, f"reaction {key}: {exc}") from None
        reactions.append(Reaction(key, count if count is not None else 0))
    return reactions


def _link_preview(message: _El) -> LinkPreview | None:
    block = _first(message, "tgme_widget_message_link_preview")
    if block is None:
        return None
    href = str(block.get("href") or "").strip()
    preview = LinkPreview(
        url=_absolute(href) if href else None,
        site=_line(_first(block, "link_preview_site_name")),
        title=_line(_first(block, "link_preview_title")),
        description=_block(_first(block, "link_preview_description")),
    )
    if not (preview.url or preview.site or preview.title or preview.description):
        return None
    return preview


def _forwarded_from(message: _El) -> str | None:
    block = _first(message, "tgme_widget_message_forwarded_from")
    if block is None:
        return None
    name = _line(_first(block, "tgme_widget_message_forwarded_from_name"))
    if name:
        return name
    text = _line(block) or ""
    return re.sub(r"^forwarded from\s*", "", text, flags=re.IGNORECASE) or None


def _signature(message: _El) -> str | None:
    signed = _line(_first(message, "tgme_widget_message_from_author"))
    if signed:
        return signed
    # Discussion-style pages name the sender in the header, not with the channel's own name.
    for header in _all(message, "tgme_widget_message_author"):
        if _inside(header, message, frozenset({"tgme_widget_message_reply"})):
            continue
        return _line(_first(header, "tgme_widget_message_author_name"))
    return None


def _reply_to(message: _El, channel: str) -> int | None:
    reply = _first(message, "tgme_widget_message_reply")
    if reply is None:
        return None
    target = _post_id_from_url(str(reply.get("href") or ""))
    if target is None or target[0].lower() != channel.lower():
        return None
    return target[1]


def _date_and_edited(
    message: _El, where: str, origin: str, clock: _Clock
) -> tuple[datetime | None, bool]:
    date_link = _first(message, "tgme_widget_message_date")
    times = list(date_link.iter("time")) if date_link is not None else []
    if not times:
        meta = _first(message, "tgme_widget_message_meta")
        times = list(meta.iter("time")) if meta is not None else []
    stamp = next((str(t.get("datetime")) for t in times if t.get("datetime")), None)
    date = None
    if stamp:
        try:
            date = clock.read(stamp)
        except (ValueError, OverflowError):
            raise ParseError(origin, where, f"unreadable date {stamp!r}") from None
    meta = _first(message, "tgme_widget_message_meta")
    edited = False
    if meta is not None:
        text = element_text(meta)
        author = _first(meta, "tgme_widget_message_from_author")
        if author is not None:
            text = text.replace(element_text(author), " ", 1)
        edited = bool(_EDITED.search(text))
    return date, edited


def _album_ids(message: _El) -> list[int]:
    ids: list[int] = []
    for group in _all(message, "tgme_widget_message_grouped_wrap"):
        for item in _all(group, "grouped_media_wrap"):
            target = _post_id_from_url(str(item.get("href") or ""))
            if target is not None and target[1] not in ids:
                ids.append(target[1])
    return ids if len(ids) > 1 else []


def _message(
    message: _El, channel: str, message_id: int, origin: str, clock: _Clock
) -> ParsedPost | Skipped:
    where = f"post {channel}/{message_id}"
    if "service_message" in _classes(message):
        return Skipped(message_id, "service")
    text_el = _message_text(message)
    text, entities = render_text(text_el) if text_el is not None else ("", [])
    views_el = _first(message, "tgme_widget_message_views")
    try:
        views = parse_count(element_text(views_el)) if views_el is not None else None
    except ValueError as exc:
        raise ParseError(origin, where, f"views: {exc}") from None
    date, edited = _date_and_edited(message, where, origin, clock)
    post = ParsedPost(
        message_id=message_id,
        text=text,
        entities=entities,
        date=date,
        edited=date if edited else None,
        author=_signature(message),
        forwarded_from=_forwarded_from(message),
        reply_to=_reply_to(message, channel),
        media=_media(message),
        reactions=_reactions(message, where, origin),
        views=views,
        link_preview=_link_preview(message),
        album_ids=_album_ids(message),
    )
    poll = next((item for item in post.media if item.kind == "poll"), None)
    voters_el = _first(message, "tgme_widget_message_voters")
    if poll is not None and voters_el is not None:
        try:
            voters = parse_count(element_text(voters_el))
        except ValueError as exc:
            raise ParseError(origin, where, f"poll votes: {exc}") from None
        if voters is not None:
            poll.extra["total_voters"] = voters
    if not (post.text or post.media or post.link_preview):
        return Skipped(message_id, "empty")
    return post


# --- the page ---------------------------------------------------------------------------------


def load_html(html: str, origin: str) -> _El:
    """The parsed document; ParseError when lxml finds nothing to parse."""
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8")
        return lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(origin, None, f"not readable as HTML: {exc}") from None


def _channel_info(doc: _El) -> ChannelInfo | None:
    block = _first(doc, "tgme_channel_info")
    if block is None:
        return None
    info = ChannelInfo(
        title=_line(_first(block, "tgme_channel_info_header_title")),
        description=_block(_first(block, "tgme_channel_info_description")),
    )
    username = _line(_first(block, "tgme_channel_info_header_username"))
    if username:
        info.username = username.lstrip("@").strip() or None
    for counter in _all(block, "tgme_channel_info_counter"):
        kind = (_line(_first(counter, "counter_type")) or "").lower()
        if any(word in kind for word in _SUBSCRIBER_WORDS):
            value = _first(counter, "counter_value")
            try:
                shown = value if value is not None else counter
                info.subscribers = parse_count(element_text(shown))
            except ValueError:
                logger.warning("unreadable subscriber count %r", _line(counter))
            break
    return info


def before_id(doc: _El, origin: str) -> int | None:
    """The id to request the next older page with (``?before=N``), None on the oldest page."""
    for link in _all(doc, "tme_messages_more"):
        raw = str(link.get("data-before") or "").strip()
        if not raw:
            try:
                query = urlsplit(str(link.get("href") or "")).query
            except ValueError:
                query = ""
            raw = (parse_qs(query).get("before") or [""])[0].strip()
        if not raw:
            continue
        if not raw.isdigit():
            raise ParseError(origin, "older-messages link", f"unreadable message id {raw!r}")
        return int(raw)
    return None


def _view_channel_id(message: _El) -> int | None:
    """The channel's Telegram id, as a Desktop export writes it, from a message's
    ``data-view``: base64 of JSON whose ``c`` is the Bot API id (``-100<id>``). It ties the
    preview to an export of the same channel; a value that reads otherwise tells nothing."""
    raw = str(message.get("data-view") or "").strip()
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        text = str(data["c"]) if isinstance(data, dict) else ""
    except (ValueError, KeyError, TypeError):
        return None
    if not text.startswith("-100") or not text[4:].isdigit():
        return None
    return int(text[4:])


def page_events(doc: _El, origin: str, timezone: str = "UTC") -> Iterator[Event]:
    """ChannelInfo, then the page's posts and skipped messages in page order."""
    clock = _Clock(timezone, origin)
    header = _channel_info(doc)
    messages = _all(doc, "tgme_widget_message")
    if not messages and header is None:
        raise ParseError(origin, None, "no Telegram web preview messages (tgme_widget_message)")
    current: str | None = None
    noted = False
    if header is not None and messages:
        first = _POST.match(str(messages[0].get("data-post") or ""))
        if first and (header.username or first.group(1)).lower() == first.group(1).lower():
            header.telegram_id = _view_channel_id(messages[0])
    if header is not None and (header.username or not messages):
        current = header.username
        yield header
    for number, message in enumerate(messages, 1):
        raw = str(message.get("data-post") or "")
        match = _POST.match(raw)
        if not match:
            where = f"message {number}"
            raise ParseError(origin, where, f"no post id (data-post={raw!r})")
        channel, message_id = match.group(1), int(match.group(2))
        if current is None or channel.lower() != current.lower():
            if current is None and header is not None:
                header.username = channel
                yield header
            else:
                yield ChannelInfo(username=channel, telegram_id=_view_channel_id(message))
            current = channel
        result = _message(message, channel, message_id, origin, clock)
        if clock.naive:
            clock.naive = False
            if not noted:
                noted = True
                yield Note(f"dates on this page have no time zone; read as {clock.name}")
        yield result


def parse_page_html(html: str, origin: str) -> tuple[list[Event], int | None]:
    """One web preview page held in memory: its events and the ``before`` id of the next
    older page (None when this is the oldest). ``origin`` names it in errors (URL or path)."""
    doc = load_html(html, origin)
    events = list(page_events(doc, origin))
    return events, before_id(doc, origin)


def sniff(path: Path, head: str) -> bool:
    """A web preview page: message widgets or the channel header, and no Desktop markers."""
    if "tgme_widget_message" not in head and "tgme_channel_info" not in head:
        return False
    return not any(marker in head for marker in DESKTOP_MARKERS)


def parse(path: Path, options: ParseOptions) -> Iterator[Event]:
    origin = str(path)
    _Clock(options.timezone, origin)  # an unknown zone is refused before reading the file
    doc = load_html(read_text(path), origin)
    count = 0
    for event in page_events(doc, origin, options.timezone):
        count += isinstance(event, ParsedPost)
        yield event
    logger.info("%s: %d posts from the web preview page", origin, count)
