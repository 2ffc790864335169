"""Telegram Desktop HTML chat exports: ``messages.html``, ``messages2.html``, …

Telegram Desktop writes at most 1000 messages per page and links the pages with
``<a class="pagination">`` "Previous messages" / "Next messages" links. Every page repeats the
chat title in its header; the history is a flat list of ``div.message`` blocks:

* ``message service`` — service messages (``id="message12"``) and day separators (negative ids,
  not messages at all);
* ``message default`` — posts; a ``joined`` post omits the sender's name and userpic because it
  continues the previous sender, and a forwarded post nests its body in ``div.forwarded.body``
  (whose name is omitted the same way when it continues the previous forward).

The markup is written by ``export_output_html.cpp`` in tdesktop; the mapping below follows it.
Message ids, texts and reactions match the JSON export of the same chat.

Dates: the ``title`` of a post's date reads ``19.06.2026 15:26:50 UTC+03:00``; exports made
by older Telegram Desktop versions write ``18.07.2023 01:18:56`` with no zone. Those are read in
``ParseOptions.timezone``, and the parser says so with a :class:`Note` (once per import, shown in
the import report) and a logged warning per page.

HTML exports carry neither edit dates nor view counts, so ``edited`` and ``views`` stay ``None``;
nor sender ids (``author_id``) or the chat's type. A sender is the author unless it is the chat
itself: named like the chat in a chat where nobody else posts (a channel). Once a page shows
another sender the chat is a conversation, where a sender named like the chat (the other person
of a personal chat) is an author too; a conversation whose first pages show only that person
reads, on those pages, as a channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# No lxml stubs in the environment; the unused-ignore keeps this clean once they are added.
import lxml.etree  # type: ignore[import-untyped, unused-ignore]
import lxml.html  # type: ignore[import-untyped, unused-ignore]
from lxml.etree import _Element  # type: ignore[import-untyped, unused-ignore]

from pipeline.errors import ParseError
from pipeline.ingest.albums import group_albums
from pipeline.ingest.model import (
    ChannelInfo,
    Entity,
    Event,
    MediaItem,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.repeats import Repeats
from pipeline.ingest.source import read_text
from pipeline.ingest.textutil import (
    HTML_FORMAT_TAGS,
    EntityBuilder,
    element_line,
    element_text,
)

FORMAT = "desktop-html"

logger = logging.getLogger(__name__)

_PAGE_NAME = re.compile(r"^messages(\d*)\.html$", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"^message(-?[0-9]{1,18})$")
_DATE = re.compile(
    r"^\s*(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})"
    r"(?:\s*(UTC|GMT)(?:([+-])(\d{1,2}):?(\d{2}))?)?\s*$",
    re.ASCII,
)
_COUNT = re.compile(r"^[0-9]{1,18}$")
_GO_TO_MESSAGE = re.compile(r"#go_to_message([0-9]{1,18})$")
_VIA_BOT = re.compile(r"\s+via @\w+$")
_VOTES = re.compile(r"([0-9]{1,18}) votes?")
_DURATION = re.compile(r"^(?:([0-9]{1,6}):)?([0-9]{1,2}):([0-9]{2})$")
_DIMENSIONS = re.compile(r"^([0-9]{1,6})\s*[×x]\s*([0-9]{1,6})$")
_ONCLICK_ENTITY = {
    "ShowHashtag": "hashtag",
    "ShowCashtag": "cashtag",
    "ShowBotCommand": "bot_command",
    "ShowMentionName": "text_mention",
}
_CUSTOM_EMOJI_ONCLICK = ("ShowNotLoadedEmoji", "ShowNotAvailableEmoji")
_UNSUPPORTED_TEXT = "This message is not supported by this version of Telegram Desktop"
# Mentions link to the internal links domain; a text link shaped the same is indistinguishable.
_MENTION_BASE = "https://t.me/"
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def sniff(path: Path, head: str) -> bool:
    """A Telegram Desktop chat page: the export's page wrapper around a message history."""
    if "tgme_widget_message" in head:
        return False
    if 'class="page_wrap"' not in head:
        return False
    return 'class="history"' in head or 'class="message default' in head


def parse(path: Path, options: ParseOptions) -> Iterator[Event]:
    """The chat, then its posts with albums folded, following the pages from ``path`` on."""
    yield from group_albums(parse_messages(path, options))


def parse_messages(path: Path, options: ParseOptions) -> Iterator[Event]:
    """Like :func:`parse` but one post per exported message (album items not folded)."""
    zone = _zone(path, options.timezone)
    state = _State(zone=zone, zone_name=options.timezone)
    last = None
    for page in _pages(path):
        yield from _parse_page(page, state)
        last = page
    if note := state.repeats.note():
        yield note
    if last is not None and last.missing_next:
        yield Note(
            f"{last.path.name} links to {last.missing_next}, which is not beside it; "
            "the pages after it were not read"
        )


# --- pages ---------------------------------------------------------------------------------


def _first_page(path: Path) -> Path:
    """``path`` itself, or for a folder its ``messages.html`` (or lowest ``messagesN.html``)."""
    if not path.is_dir():
        return path
    numbered: list[tuple[int, Path]] = []
    for child in path.iterdir():
        match = _PAGE_NAME.match(child.name)
        if match and child.is_file():
            numbered.append((int(match.group(1) or 1), child))
    if not numbered:
        raise ParseError(str(path), None, "no messages.html in this folder")
    return min(numbered)[1]


def _pages(path: Path) -> Iterator[_Page]:
    """Each page from ``path`` on, following the "Next messages" links."""
    page_path: Path | None = _first_page(path)
    seen: set[Path] = set()
    while page_path is not None:
        seen.add(page_path.resolve())
        page = _load_page(page_path)
        yield page
        page_path = _next_page(page)
        if page_path is not None and page_path.resolve() in seen:
            raise ParseError(str(page.path), page_path.name, "pagination links loop back")


@dataclass(slots=True)
class _Page:
    path: Path
    history: _Element
    title: str | None
    next_href: str | None
    missing_next: str | None = None  # set when the "Next messages" page is absent


def _load_page(path: Path) -> _Page:
    text = read_text(path)
    _check_complete(path, text)
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (lxml.etree.LxmlError, ValueError) as exc:
        raise ParseError(str(path), None, f"not readable as HTML: {exc}") from None
    wraps = _find_class(root, "div", "page_wrap")
    histories = _find_class(root, "div", "history")
    if not wraps or not histories:
        raise ParseError(
            str(path), None, "not a Telegram Desktop chat export (no page_wrap/history blocks)"
        )
    if len(histories) > 1:
        raise ParseError(str(path), _line(histories[1]), "more than one message history")
    history = histories[0]
    title = None
    headers = _find_class(root, "div", "page_header")
    if headers:
        for candidate in headers[0].iter("div"):
            if "text" in _classes(candidate):
                title = _flat_text(candidate) or None
                break
    next_href = None
    for link in history:
        is_pagination = _tag(link) == "a" and "pagination" in _classes(link)
        if is_pagination and _flat_text(link).lower().startswith("next"):
            next_href = link.get("href")
    return _Page(path, history, title, next_href)


def _check_complete(path: Path, text: str) -> None:
    """Refuse a page cut short: an export page always ends with ``</html>``.

    lxml silently closes whatever a truncated file leaves open, so without this a cut inside
    the last post would import half of it.
    """
    if text.rstrip().lower().endswith("</html>"):
        return
    try:
        size = path.stat().st_size
    except OSError:
        size = len(text.encode("utf-8"))
    started = re.findall(r'id="message([0-9]+)"', text)
    where = f"; the last message that starts is {started[-1]}" if started else ""
    raise ParseError(
        str(path), f"byte {size}", f"the file ends before </html> (truncated export?){where}"
    )


def _next_page(page: _Page) -> Path | None:
    """The page the "Next messages" link names, or a numbered sibling that links back here."""
    folder = page.path.parent
    if page.next_href:
        name = page.next_href.split("#", 1)[0]
        target = folder / name
        # Pages of one chat are siblings; a link anywhere else is not Telegram's.
        if _PAGE_NAME.match(name) and target.is_file():
            return target
        # A page copied out of its export folder (or a partial copy): read what is here.
        logger.info("%s: next page %s is missing; reading stops here", page.path, page.next_href)
        page.missing_next = page.next_href
        return None
    match = _PAGE_NAME.match(page.path.name)
    if not match:
        return None
    sibling = folder / f"messages{int(match.group(1) or 1) + 1}.html"
    if not sibling.is_file():
        return None
    try:
        with sibling.open("rb") as handle:
            head = handle.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return None
    if re.search(rf'class="pagination block_link" href="{re.escape(page.path.name)}"', head):
        return sibling
    return None


# --- messages ------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    """What one page's messages inherit from earlier ones."""

    zone: ZoneInfo
    zone_name: str
    title: str | None = None
    announced: bool = False
    zone_noted: bool = False
    sender: str | None = None
    forwarded_from: str | None = None
    repeats: Repeats = field(default_factory=Repeats)  # every page of the chat
    # HTML names no chat type: a chat is a conversation once a page shows a sender other
    # than the chat's name (a personal chat bears the other person's name).
    conversation: bool = False


def _zone(path: Path, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError(str(path), None, f"unknown time zone {name!r}") from None


def _parse_page(page: _Page, state: _State) -> Iterator[Event]:
    if not state.announced:
        state.title = page.title
        state.announced = True
        yield ChannelInfo(title=page.title)
    _check_flat(page)
    state.conversation = state.conversation or _shows_other_senders(page, state.title)
    zone_free_warned = False
    for element in page.history:
        tag = _tag(element)
        if tag is None:
            continue
        classes = _classes(element)
        if tag == "a" and "pagination" in classes:
            continue
        if tag != "div" or "message" not in classes:
            raise ParseError(
                str(page.path), _line(element), f"unexpected <{tag}> in the message history"
            )
        message_id = _message_id(page, element)
        if "service" in classes:
            # Negative ids are the day separators Telegram Desktop draws, not messages.
            if message_id > 0:
                body = _flat_text(element)
                reason = "unsupported" if _UNSUPPORTED_TEXT in body else "service"
                state.sender = state.forwarded_from = None
                skipped = Skipped(message_id, reason)
                if state.repeats.first_time(message_id, skipped, _failure(page, element)):
                    yield skipped
            continue
        if message_id <= 0:
            raise ParseError(str(page.path), _line(element), f"invalid message id {message_id}")
        post, zone_free = _post(page, element, message_id, state)
        if not state.repeats.first_time(message_id, post, _failure(page, element)):
            continue
        if zone_free and not zone_free_warned:
            zone_free_warned = True
            logger.info(
                "%s: dates have no time zone; reading them as %s", page.path, state.zone_name
            )
            if not state.zone_noted:
                state.zone_noted = True
                yield Note(f"dates in this export have no time zone; read as {state.zone_name}")
        yield post


def _failure(page: _Page, element: _Element) -> Callable[[str], ParseError]:
    """The error for the message ``element``: its page, its id and line, and ``reason``."""

    def fail(reason: str) -> ParseError:
        line = _line(element)
        place = f"message {_message_id(page, element)}" + (f", {line}" if line else "")
        return ParseError(str(page.path), place, reason)

    return fail


def _check_flat(page: _Page) -> None:
    """Every message must sit directly in the history; anything nested means broken markup."""
    for element in page.history.xpath(".//*[starts-with(@id, 'message')]"):
        ident = element.get("id") or ""
        if _MESSAGE_ID.match(ident) and element.getparent() is not page.history:
            raise ParseError(
                str(page.path),
                _line(element),
                f"{ident} is nested inside another block (broken markup)",
            )


def _message_id(page: _Page, element: _Element) -> int:
    match = _MESSAGE_ID.match(element.get("id") or "")
    if not match:
        raise ParseError(str(page.path), _line(element), "message block without a valid id")
    return int(match.group(1))


def _post(
    page: _Page, element: _Element, message_id: int, state: _State
) -> tuple[ParsedPost, bool]:
    place = f"message {message_id}"
    body = _child(element, "div", "body")
    if body is None:
        raise ParseError(str(page.path), place, "message without a body")
    date_div = None
    from_name = None
    forwarded = None
    for child in body:
        classes = _classes(child) if _tag(child) else frozenset()
        if "date" in classes and date_div is None:
            date_div = child
        elif "from_name" in classes:
            from_name = child
        elif "forwarded" in classes and "body" in classes:
            forwarded = child
    if date_div is None:
        raise ParseError(str(page.path), place, "message without a date")
    date, zone_free = _date(page, place, date_div.get("title") or "", state.zone)

    # A joined message has no name block: it continues the previous sender.
    if from_name is not None:
        state.sender = _name(from_name)
    container = body
    forwarded_from = None
    if forwarded is not None:
        container = forwarded
        forward_name = _child(forwarded, "div", "from_name")
        if forward_name is not None:
            forwarded_from = _name(forward_name) or None
        else:
            # A forward continuing the previous forward from the same sender omits its name.
            forwarded_from = state.forwarded_from
    state.forwarded_from = forwarded_from

    post = ParsedPost(message_id=message_id, date=date, forwarded_from=forwarded_from)
    signature = None
    for part in (*container, *(body if container is not body else ())):
        tag = _tag(part)
        if tag is None:
            continue
        classes = _classes(part)
        if "reply_to" in classes:
            post.reply_to = _reply_to(part)
        elif "media_wrap" in classes:
            post.media.extend(_media(page, place, part))
        elif "text" in classes and tag == "div":
            post.text, post.entities = _formatted(part)
        elif "signature" in classes:
            signature = _flat_text(part) or None
        elif "reactions" in classes:
            post.reactions = _reactions(page, place, part)
    sender = state.sender
    # A sender named like the chat is the chat itself only in a channel.
    is_the_chat = sender == state.title and not state.conversation
    post.author = signature or (sender if sender and not is_the_chat else None)
    return post, zone_free


def _shows_other_senders(page: _Page, title: str | None) -> bool:
    """Whether a message of the page is sent by someone not named like the chat: then it is a
    conversation (personal chat, group), not a channel, where only the channel posts."""
    for element in page.history:
        if _tag(element) != "div" or "default" not in _classes(element):
            continue
        body = _child(element, "div", "body")
        name = _child(body, "div", "from_name") if body is not None else None
        if name is not None and _name(name) not in ("", title):
            return True
    return False


def _name(element: _Element) -> str:
    """A sender's name: the block's own text, without the forward date or "via @bot"."""
    return _VIA_BOT.sub("", element_line(element, skip=_is_date))


def _is_date(element: _Element) -> bool:
    return "date" in _classes(element)


def _date(page: _Page, place: str, title: str, zone: ZoneInfo) -> tuple[datetime, bool]:
    match = _DATE.match(title)
    if not match:
        raise ParseError(str(page.path), place, f"unreadable date {title!r}")
    day, month, year, hour, minute, second, utc, sign, off_h, off_m = match.groups()
    try:
        tz: tzinfo = zone if utc is None else UTC
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(offset if sign == "+" else -offset)
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
        return local.astimezone(UTC), utc is None
    except (ValueError, OverflowError):
        raise ParseError(str(page.path), place, f"impossible date {title!r}") from None


def _reply_to(element: _Element) -> int | None:
    for link in element.iter("a"):
        match = _GO_TO_MESSAGE.search(link.get("href") or "")
        if match:
            return int(match.group(1))
    return None


# --- text ----------------------------------------------------------------------------------


def _formatted(element: _Element) -> tuple[str, list[Entity]]:
    builder = EntityBuilder()
    _walk(element, builder)
    return builder.build()


def _walk(element: _Element, builder: EntityBuilder) -> None:
    if element.text:
        builder.text(element.text)
    for child in element:
        if _tag(child) is not None:
            _inline(child, builder)
        if child.tail:
            builder.text(child.tail)


def _inline(element: _Element, builder: EntityBuilder) -> None:
    tag = _tag(element)
    if tag == "br":
        builder.text("\n")
        return
    if tag == "img":
        _image(element, builder)
        return
    entity: tuple[str, dict[str, object]] | None = None
    inner = element
    if tag in HTML_FORMAT_TAGS:
        entity = (HTML_FORMAT_TAGS[tag], {})
    elif tag == "pre":
        entity, inner = _pre(element)
    elif tag == "blockquote":
        expandable = element.get("expandable") is not None or bool(
            _classes(element) & {"expandable", "collapsed"}
        )
        entity = ("expandable_blockquote" if expandable else "blockquote", {})
    elif tag == "span" and "spoiler" in _classes(element):
        entity = ("spoiler", {})
    elif tag == "tg-emoji":
        entity = ("custom_emoji", {"custom_emoji_id": element.get("emoji-id") or None})
    elif tag == "a":
        entity = _link(element)
    if entity is None:
        _walk(inner, builder)
        return
    builder.open(entity[0], **entity[1])
    _walk(inner, builder)
    builder.close()


def _pre(element: _Element) -> tuple[tuple[str, dict[str, object]], _Element]:
    """``<pre>``; Bot API style ``<pre><code class="language-x">`` carries the language."""
    children = [child for child in element if _tag(child)]
    if (
        len(children) == 1
        and _tag(children[0]) == "code"
        and not (element.text or "").strip()
        and not (children[0].tail or "").strip()
    ):
        for name in _classes(children[0]):
            if name.startswith("language-"):
                return ("pre", {"language": name[len("language-") :]}), children[0]
    return ("pre", {}), element


def _link(element: _Element) -> tuple[str, dict[str, object]] | None:
    href = (element.get("href") or "").strip()
    onclick = element.get("onclick") or ""
    label = "".join(element.itertext())
    for function, kind in _ONCLICK_ENTITY.items():
        if function in onclick:
            return (kind, {})
    if any(function in onclick for function in _CUSTOM_EMOJI_ONCLICK):
        return ("custom_emoji", {})
    if not href:
        return None
    lowered = href.lower()
    if lowered.startswith("mailto:"):
        return ("email", {}) if href[7:] == label else ("text_link", {"url": href})
    if lowered.startswith("tel:"):
        return ("phone_number", {}) if href[4:] == label else ("text_link", {"url": href})
    if href == label:
        return ("url", {})
    if label.startswith("@") and lowered == _MENTION_BASE + label[1:].lower():
        return ("mention", {})
    if not _SCHEME.match(href):
        # Custom emoji are links to the sticker file (or document id) inside the export;
        # every text link Telegram stores carries a scheme.
        return ("custom_emoji", {"custom_emoji_id": _custom_emoji_id(href)})
    return ("text_link", {"url": href})


def _custom_emoji_id(href: str) -> str:
    """The export writes the emoji's file path (or document id) after a ``../`` prefix."""
    while href.startswith("../"):
        href = href[3:]
    return href


def _image(element: _Element, builder: EntityBuilder) -> None:
    alt = element.get("alt") or ""
    ident = element.get("data-document-id") or element.get("emoji-id")
    if ident:
        builder.add(alt, "custom_emoji", custom_emoji_id=ident)
    else:
        builder.text(alt)


# --- media ---------------------------------------------------------------------------------


def _media(page: _Page, place: str, wrap: _Element) -> list[MediaItem]:
    items = []
    for block in wrap:
        tag = _tag(block)
        if tag is None:
            continue
        item = _media_item(page, place, block, tag, _classes(block))
        if item is not None:
            items.append(item)
    return items


def _media_item(
    page: _Page, place: str, block: _Element, tag: str, classes: frozenset[str]
) -> MediaItem | None:
    href = block.get("href") if tag == "a" else None
    file = href if href and not _SCHEME.match(href) else None
    if "photo_wrap" in classes:
        return MediaItem("photo", file=file)
    if "video_file_wrap" in classes:
        return MediaItem(
            "video", file=file, duration=_duration(_class_text(block, "video_duration"))
        )
    if "animated_wrap" in classes:
        return MediaItem("animation", file=file)
    if "sticker_wrap" in classes:
        return MediaItem("sticker", file=file)
    if "media_poll" in classes:
        return _poll(block)
    if "media_giveaway" in classes:
        return MediaItem("unsupported", extra={"type": "giveaway", "text": element_text(block)})
    if "media" in classes:
        return _generic_media(block, classes, file, href)
    logger.debug("%s: %s: unknown media block %s", page.path, place, sorted(classes))
    return MediaItem("unsupported", extra={"classes": sorted(classes)})


def _generic_media(
    block: _Element, classes: frozenset[str], file: str | None, href: str | None
) -> MediaItem:
    """The icon-with-title blocks; also what photos and videos become when not downloaded."""
    title = _class_text(block, "title")
    # Addresses, game and invoice descriptions may run over several lines.
    description = _class_text(block, "description", lines=True)
    status = _class_text(block, "status")
    extra: dict[str, Any] = {}
    if description:
        # "Not included, change data exporting settings to download." and the like.
        extra["note"] = description
    item = MediaItem("document", file=file, extra=extra)
    if "media_photo" in classes:
        item.kind = "sticker" if title == "Sticker" else "photo"
        if item.kind == "sticker" and status:
            emoji = status.split(",", 1)[0].strip()
            if emoji and not emoji[0].isdigit():
                extra["emoji"] = emoji
        size = _DIMENSIONS.match(status.split(",", 1)[0].strip()) if status else None
        if size:
            item.width, item.height = int(size.group(1)), int(size.group(2))
    elif "media_video" in classes:
        item.kind = {"Animation": "animation", "Video message": "video_note"}.get(title, "video")
        item.duration = _duration(status.split(",", 1)[0].strip())
    elif "media_voice_message" in classes:
        item.kind = "voice"
        item.duration = _duration(status.split(",", 1)[0].strip())
    elif "media_audio_file" in classes:
        item.kind = "audio"
        item.duration = _duration(status.split(",", 1)[0].strip())
        if title and title != "Audio file" and " – " in title:
            performer, song = title.split(" – ", 1)
            extra["performer"], extra["title"] = performer, song
    elif "media_file" in classes:
        item.file_name = title if title and title != "File" else None
    elif "media_contact" in classes:
        item.kind = "contact"
        extra.update(name=title, phone=status)
    elif "media_location" in classes or "media_live_location" in classes:
        item.kind = "location"
        if "media_live_location" in classes:
            extra["live"] = True
        _coordinates(status, extra)
    elif "media_venue" in classes:
        item.kind = "venue"
        extra.update(title=title, address=description)
        extra.pop("note", None)
    elif "media_game" in classes:
        item.kind = "game"
        extra.update(title=title, description=description)
        extra.pop("note", None)
    elif "media_invoice" in classes:
        item.kind = "invoice"
        extra.update(title=title, description=description, amount=status)
        extra.pop("note", None)
    else:
        item.kind = "unsupported"
        extra.update(title=title, status=status)
    if href and _SCHEME.match(href):
        extra["url"] = href
    return item


def _coordinates(status: str, extra: dict[str, Any]) -> None:
    parts = [part.strip() for part in status.split(",")]
    if len(parts) == 2:
        try:
            extra["latitude"], extra["longitude"] = float(parts[0]), float(parts[1])
        except ValueError:
            extra["status"] = status


def _poll(block: _Element) -> MediaItem:
    question = _class_text(block, "question", lines=True)
    answers = []
    closed = False
    total = None
    for child in block:
        classes = _classes(child) if _tag(child) else frozenset()
        if "answer" in classes:
            votes = 0
            chosen = False
            for part in child:
                if _tag(part) and "details" in _classes(part):
                    detail = _flat_text(part)
                    found = _VOTES.search(detail)
                    votes = int(found.group(1)) if found else 0
                    chosen = "chosen" in detail
            label = element_text(child, skip=_is_details)
            label = label[2:] if label.startswith("- ") else label
            answers.append({"text": label, "voters": votes, "chosen": chosen})
        elif "total" in classes:
            found = _VOTES.search(_flat_text(child))
            total = int(found.group(1)) if found else 0
        elif classes == {"details"}:
            closed = _flat_text(child) == "Final results"
    extra: dict[str, Any] = {"question": question, "closed": closed, "answers": answers}
    if total is not None:
        extra["total_voters"] = total
    return MediaItem("poll", extra=extra)


def _duration(text: str) -> int | None:
    match = _DURATION.match(text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)


# --- reactions -----------------------------------------------------------------------------


def _reactions(page: _Page, place: str, block: _Element) -> list[Reaction]:
    reactions = []
    for item in block:
        if not _tag(item) or "reaction" not in _classes(item):
            continue
        key = None
        count = None
        pictures = 0
        for part in item:
            classes = _classes(part) if _tag(part) else frozenset()
            if "emoji" in classes:
                key = _reaction_key(part, "paid" in _classes(item))
            elif "count" in classes:
                text = _flat_text(part)
                if not _COUNT.match(text):
                    raise ParseError(str(page.path), place, f"reaction count {text!r}")
                count = int(text)
            elif "userpics" in classes:
                pictures = sum(1 for pic in part if _tag(pic))
        if count is None:
            # Small reactions list who reacted instead of a number.
            count = pictures
        if not key or count <= 0:
            raise ParseError(str(page.path), place, "reaction without an emoji or a count")
        reactions.append(Reaction(key, count))
    return reactions


def _reaction_key(emoji: _Element, paid: bool) -> str:
    if paid:
        return "paid"
    for element in emoji.iter():
        tag = _tag(element)
        if tag == "a" and element.get("href"):
            return "custom:" + _custom_emoji_id(element.get("href") or "")
        if tag == "img":
            ident = element.get("data-document-id") or element.get("src")
            if ident:
                return "custom:" + _custom_emoji_id(ident)
        if tag == "tg-emoji" and element.get("emoji-id"):
            return "custom:" + (element.get("emoji-id") or "")
    return _flat_text(emoji)


# --- lxml helpers --------------------------------------------------------------------------


def _tag(element: _Element) -> str | None:
    """The lower-case tag name; None for comments and processing instructions."""
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else None


def _classes(element: _Element) -> frozenset[str]:
    return frozenset((element.get("class") or "").split())


def _child(element: _Element, tag: str, name: str) -> _Element | None:
    for child in element:
        if _tag(child) == tag and name in _classes(child):
            return child
    return None


def _find_class(root: _Element, tag: str, name: str) -> list[_Element]:
    found: list[_Element] = root.xpath(
        f"//{tag}[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
    )
    return found


def _class_text(element: _Element, name: str, *, lines: bool = False) -> str:
    """The text of the first element of class ``name``: one line, or its lines kept."""
    for child in element.iter():
        if _tag(child) and name in _classes(child):
            return element_text(child) if lines else _flat_text(child)
    return ""


def _is_details(element: _Element) -> bool:
    return "details" in _classes(element)


def _flat_text(element: _Element) -> str:
    # Not itertext(): a <br> would join the words on either side of it.
    return element_line(element)


def _line(element: _Element) -> str | None:
    line = element.sourceline
    return f"line {line}" if isinstance(line, int) else None
