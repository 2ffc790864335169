"""The normalised shape every export parser produces.

A parser turns one input file into a stream of :data:`Event` values: a :class:`ChannelInfo`
whenever the chat being read changes (a full-account export holds many), then that chat's
:class:`ParsedPost` values in file order, a :class:`Skipped` for every message that is not
a post (service messages and the like) so the import report can count them, and a
:class:`Note` for anything about the reading itself the admin should be told.

Formatting is kept as Bot API ``MessageEntity`` values with UTF-16 offsets into ``text``, so
a post can be republished exactly as it was written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pipeline.pickling import by_fields

if TYPE_CHECKING:
    from pipeline.dedup.features import Features

# The formats tgpipe reads; their names are part of the CLI (``--format``) and of provenance.
FORMATS = ("desktop-json", "desktop-html", "text", "web-html", "article")


def check_format(format: str) -> str:
    """``format`` if tgpipe reads it (``auto``: detect each file's), else a UsageError."""
    if format != "auto" and format not in FORMATS:
        from pipeline.errors import UsageError

        raise UsageError(f"unknown format {format!r} (known: auto, {', '.join(FORMATS)})")
    return format


@by_fields
@dataclass(slots=True, frozen=True)
class Entity:
    """One formatting span, shaped like Bot API ``MessageEntity`` (offsets in UTF-16 units)."""

    type: str  # bold, italic, underline, strikethrough, spoiler, code, pre, text_link, url,
    # mention, hashtag, cashtag, bot_command, email, phone_number, blockquote,
    # expandable_blockquote, custom_emoji, text_mention
    offset: int
    length: int
    url: str | None = None  # text_link
    language: str | None = None  # pre
    custom_emoji_id: str | None = None  # custom_emoji
    user_id: int | None = None  # text_mention

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        # Spelled out rather than a loop over names: every stored post's entities pass here.
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        if self.user_id is not None:
            data["user_id"] = self.user_id
        return data

    def to_json(self) -> str:
        """``json.dumps(self.to_dict())``."""
        text = f'{{"type": {_quoted(self.type)}, "offset": {self.offset}, "length": {self.length}'
        if self.url is not None:
            text += f', "url": {json.dumps(self.url)}'
        if self.language is not None:
            text += f', "language": {json.dumps(self.language)}'
        if self.custom_emoji_id is not None:
            text += f', "custom_emoji_id": {json.dumps(self.custom_emoji_id)}'
        if self.user_id is not None:
            text += f', "user_id": {self.user_id}'
        return text + "}"


def entities_json(entities: list[Entity]) -> str:
    """``json.dumps([entity.to_dict() ...])``, character for character, at a quarter of the
    cost: an import stores the entities of every post."""
    return "[" + ", ".join([entity.to_json() for entity in entities]) + "]"


@cache
def _quoted(text: str) -> str:
    return json.dumps(text)


@by_fields
@dataclass(slots=True, frozen=True)
class Reaction:
    """A reaction count. ``key`` is the emoji itself, ``custom:<id>`` or ``paid``."""

    key: str
    count: int


@by_fields
@dataclass(slots=True)
class MediaItem:
    """A media attachment as far as the export describes it."""

    kind: str  # photo, video, animation, audio, voice, video_note, document, sticker, poll,
    # contact, location, venue, game, invoice, link_preview, unsupported
    file: str | None = None  # path relative to the export (or URL) when the file is present
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None  # seconds
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. poll question/options, emoji
    hash: str | None = None  # of the file's bytes, when the export holds the file

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in (
            "file", "file_name", "mime_type", "size", "width", "height", "duration", "hash",
        ):  # fmt: skip
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.extra:
            data["extra"] = self.extra
        return data


@by_fields
@dataclass(slots=True)
class LinkPreview:
    """A link-preview block (site, title, description): link metadata, not part of the body."""

    url: str | None = None
    site: str | None = None
    title: str | None = None
    description: str | None = None


@by_fields
@dataclass(slots=True)
class ChannelInfo:
    """The chat the following posts come from, with whatever the export says about it."""

    title: str | None = None
    username: str | None = None  # without the leading @
    telegram_id: int | None = None
    subscribers: int | None = None
    description: str | None = None


@by_fields
@dataclass(slots=True)
class ParsedPost:
    """One post as read from an export, before deduplication."""

    message_id: int | None  # None when the format has no ids (text copies, articles)
    text: str = ""
    entities: list[Entity] = field(default_factory=list)
    date: datetime | None = None  # aware UTC, None when the format has no date
    edited: datetime | None = None  # aware UTC; when only "edited" is known, equal to date
    author: str | None = None  # signature, or the sender when it is not the chat itself
    author_id: str | None = None  # the sender's id as the export writes it ("user123")
    forwarded_from: str | None = None
    reply_to: int | None = None
    media: list[MediaItem] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    views: int | None = None
    link_preview: LinkPreview | None = None
    title: str | None = None  # articles: the headline
    album_ids: list[int] = field(default_factory=list)  # message ids folded into this album
    # Dedup features, computed beside the parser (pipeline.dedup.features.attach).
    features: Features | None = None


@by_fields
@dataclass(slots=True)
class Skipped:
    """A message that is not a post (service message, empty, unsupported), for the report."""

    message_id: int | None
    reason: str  # e.g. "service"


@by_fields
@dataclass(slots=True, frozen=True)
class Note:
    """Something the admin should know about how the file was read (shown in the report),
    e.g. that its dates had no time zone and were read in TGPIPE_TIMEZONE."""

    message: str


Event = ChannelInfo | ParsedPost | Skipped | Note


@dataclass(slots=True, frozen=True)
class ParseOptions:
    """What a parser needs besides the file."""

    timezone: str = "UTC"  # IANA name; for dates an export writes without a zone
    channel: str | None = None  # --channel: pick one chat of a full export / name a text copy
