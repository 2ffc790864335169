"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, answers like Telegram.

The real aiogram client talks to it through ``TelegramAPIServer.from_base(fake.base_url)``.  It
records every call, queues updates for getUpdates (or posts them to a webhook), answers errors on
demand, keeps chats, messages and files so copy/forward/edit/getFile behave, and checks both
directions: requests against the Bot API spec, and everything it produces against the spec and
python-telegram-bot.  Anything wrong lands in :attr:`FakeTelegram.problems`.
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import functools
import html
import itertools
import json
import logging
import math
import mimetypes
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tests.fake_telegram.spec import NOT_SENT_BY_DEFAULT, Spec, Upload, load_spec, ptb_check

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
# How long the waits below wait by default. A wait ends as soon as what it waits for is there,
# so only a failing test ever waits this long; it is generous because the suite's workers share
# two cores with whatever else runs (a bot's first reply took over 5 s on a loaded machine).
WAIT_SECONDS = 15.0

Json = dict[str, Any]
Handler = Callable[[Json], Any]


@dataclass
class ApiCall:
    """One HTTP request to the Bot API, as the client made it.

    ``params`` are decoded by the declared parameter types: numbers and booleans typed, JSON
    fields (entities, reply_markup, media...) parsed, uploads as ``{"filename", "size",
    "content_type"}`` (also inside ``media`` items).  ``status`` and ``response`` are the answer.
    """

    method: str
    params: dict[str, Any]
    token: str
    at: float
    http_method: str = "POST"
    status: int = 0
    response: Any = None

    def describe(self) -> str:
        interesting = {k: v for k, v in self.params.items() if k in _DESCRIBE_KEYS}
        shown = ", ".join(f"{k}={_short(v)}" for k, v in interesting.items())
        return f"{self.method}({shown}) -> {self.status or '...'}"


_DESCRIBE_KEYS = ("chat_id", "from_chat_id", "message_id", "text", "caption", "offset", "user_id")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code", "description", "parameters"?}``."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


# -- text: lengths, parse modes, entity detection --------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API offsets and length limits."""
    return len(text.encode("utf-16-le")) // 2


class _TextOut:
    """Plain text being assembled, with its length in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.pos += utf16_len(piece)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class EntityParseError(ValueError):
    """Telegram's "can't parse entities" for text with a parse_mode."""


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _entity(kind: str, start: int, end: int, **extra: Any) -> Json | None:
    if end <= start:
        return None
    return {"type": kind, "offset": start, "length": end - start, **extra}


_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_HTML_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_HTML_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_HTML_CHAR_REF = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def parse_html(source: str) -> tuple[str, list[Json]]:
    """Text and entities of a ``parse_mode=HTML`` string, with Telegram's errors."""
    out = _TextOut()
    entities: list[Json] = []
    stack: list[tuple[str, int, Json]] = []  # (tag, start offset, entity fields)
    index = 0
    while index < len(source):
        char = source[index]
        if char == "<":
            match = _HTML_TAG.match(source, index)
            if match is None:
                raise EntityParseError(
                    f'Unsupported start tag "" at byte offset {_byte_offset(source, index)}'
                )
            closing, tag, attr_text = match.group(1), match.group(2).lower(), match.group(3)
            attrs = {
                m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
                for m in _HTML_ATTR.finditer(attr_text)
            }
            if closing:
                if not stack or stack[-1][0] != tag:
                    expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(source, index)}, "
                        f'expected {expected}, found "</{tag}>"'
                    )
                _, start, fields = stack.pop()
                if fields.get("type") is not None:
                    made = _entity(fields.pop("type"), start, out.pos, **fields)
                    if made is not None:
                        entities.append(made)
            else:
                stack.append((tag, out.pos, _html_entity_fields(tag, attrs, stack, source, index)))
            index = match.end()
        elif char == "&":
            ref = _HTML_CHAR_REF.match(source, index)
            if ref is None:
                out.add("&")
                index += 1
            else:
                out.add(html.unescape(ref.group(0)))
                index = ref.end()
        else:
            end = index
            while end < len(source) and source[end] not in "<&":
                end += 1
            out.add(source[index:end])
            index = end
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text, entities


def _html_entity_fields(
    tag: str, attrs: dict[str, str], stack: list[tuple[str, int, Json]], source: str, index: int
) -> Json:
    if tag == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language[len("language-") :]
        return {"type": None}
    if tag in _HTML_SIMPLE:
        kind = _HTML_SIMPLE[tag]
        if tag == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        return {"type": kind}
    if tag == "span" and attrs.get("class") == "tg-spoiler":
        return {"type": "spoiler"}
    if tag == "a" and "href" in attrs:
        return {"type": "text_link", "url": attrs["href"]}
    if tag == "tg-emoji" and "emoji-id" in attrs:
        return {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
    if tag == "tg-time" and attrs.get("unix", "").isdigit():
        fields: Json = {"type": "date_time", "unix_time": int(attrs["unix"])}
        if attrs.get("format"):
            fields["date_time_format"] = attrs["format"]
        return fields
    raise EntityParseError(
        f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, index)}'
    )


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "link": "TextUrl",
    "emoji": "CustomEmoji",
}


def parse_markdown_v2(source: str) -> tuple[str, list[Json]]:
    """Text and entities of a ``parse_mode=MarkdownV2`` string, with Telegram's errors."""
    parser = _MarkdownV2(source)
    return parser.run()


class _MarkdownV2:
    def __init__(self, source: str) -> None:
        self.src = source
        self.out = _TextOut()
        self.entities: list[Json] = []
        self.stack: list[tuple[str, int, int]] = []  # (kind, start offset, source index)
        self.quote: tuple[str, int] | None = None  # (entity type, start offset)
        self.quote_ends_after_line = False

    def fail_reserved(self, char: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def fail_unclosed(self, kind: str, index: int) -> EntityParseError:
        name = _MDV2_NAMES.get(kind, kind.title())
        return EntityParseError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(self.src, index)}"
        )

    def run(self) -> tuple[str, list[Json]]:
        src, index = self.src, 0
        line_start = True
        while index < len(src):
            if line_start:
                index = self.line_start(index)
                line_start = False
                if index >= len(src):
                    break
            char = src[index]
            if char == "\\":
                if index + 1 < len(src) and 1 <= ord(src[index + 1]) <= 126:
                    self.out.add(src[index + 1])
                    index += 2
                else:
                    self.out.add("\\")
                    index += 1
            elif char == "`":
                index = self.code(index)
            elif char == "*":
                self.toggle("bold", index)
                index += 1
            elif char == "_":
                if src.startswith("__", index):
                    self.toggle("underline", index)
                    index += 2
                else:
                    self.toggle("italic", index)
                    index += 1
            elif char == "~":
                self.toggle("strikethrough", index)
                index += 1
            elif char == "|" and src.startswith("||", index):
                after = index + 2
                at_line_end = after >= len(src) or src[after] == "\n"
                spoiler_open = any(kind == "spoiler" for kind, _, _ in self.stack)
                if (
                    self.quote
                    and self.quote[0] == "expandable_blockquote"
                    and at_line_end
                    and not spoiler_open
                ):
                    self.quote_ends_after_line = True
                else:
                    self.toggle("spoiler", index)
                index = after
            elif char == "[":
                self.stack.append(("link", self.out.pos, index))
                index += 1
            elif char == "!" and src.startswith("![", index):
                self.stack.append(("emoji", self.out.pos, index))
                index += 2
            elif char == "]" and self.stack and self.stack[-1][0] in {"link", "emoji"}:
                index = self.link_target(index)
            elif char == "\n":
                self.out.add("\n")
                index += 1
                line_start = True
                if self.quote_ends_after_line:
                    self.close_quote(self.out.pos - 1)
            elif char in _MDV2_RESERVED:
                raise self.fail_reserved(char)
            else:
                end = index
                while end < len(src) and src[end] not in _MDV2_RESERVED and src[end] not in "\\\n":
                    end += 1
                self.out.add(src[index:end])
                index = end
        if self.stack:
            kind, _, where = self.stack[-1]
            raise self.fail_unclosed(kind, where)
        if self.quote:
            self.close_quote(self.out.pos)
        return self.out.text, self.entities

    def line_start(self, index: int) -> int:
        src = self.src
        if src.startswith("**>", index) and self.quote is None:
            self.quote = ("expandable_blockquote", self.out.pos)
            return index + 3
        if src.startswith(">", index):
            if self.quote is None:
                self.quote = ("blockquote", self.out.pos)
            return index + 1
        if self.quote is not None:
            self.close_quote(self.out.pos - 1)
        return index

    def close_quote(self, end: int) -> None:
        assert self.quote is not None
        made = _entity(self.quote[0], self.quote[1], end)
        if made is not None:
            self.entities.append(made)
        self.quote = None
        self.quote_ends_after_line = False

    def toggle(self, kind: str, index: int) -> None:
        for position, (open_kind, start, _) in enumerate(self.stack):
            if open_kind == kind:
                if position != len(self.stack) - 1:
                    inner_kind, _, inner_where = self.stack[-1]
                    raise self.fail_unclosed(inner_kind, inner_where)
                self.stack.pop()
                made = _entity(kind, start, self.out.pos)
                if made is not None:
                    self.entities.append(made)
                return
        self.stack.append((kind, self.out.pos, index))

    def code(self, index: int) -> int:
        src = self.src
        fence = "```" if src.startswith("```", index) else "`"
        body_start = index + len(fence)
        cursor, pieces = body_start, []
        while cursor < len(src):
            if src[cursor] == "\\" and cursor + 1 < len(src):
                pieces.append(src[cursor + 1])
                cursor += 2
                continue
            if src.startswith(fence, cursor):
                break
            pieces.append(src[cursor])
            cursor += 1
        else:
            raise self.fail_unclosed("pre" if fence == "```" else "code", index)
        body = "".join(pieces)
        extra: Json = {}
        if fence == "```":
            first, newline, rest = body.partition("\n")
            if newline and first and " " not in first:
                extra["language"] = first
                body = rest
            elif newline and not first:
                body = rest
        start = self.out.pos
        self.out.add(body)
        made = _entity("pre" if fence == "```" else "code", start, self.out.pos, **extra)
        if made is not None:
            self.entities.append(made)
        return cursor + len(fence)

    def link_target(self, index: int) -> int:
        src = self.src
        kind, start, where = self.stack.pop()
        if not src.startswith("(", index + 1):
            raise self.fail_unclosed(kind, where)
        cursor, pieces = index + 2, []
        while cursor < len(src) and src[cursor] != ")":
            if src[cursor] == "\\" and cursor + 1 < len(src):
                cursor += 1
            pieces.append(src[cursor])
            cursor += 1
        if cursor >= len(src):
            raise self.fail_unclosed(kind, where)
        target = "".join(pieces)
        if kind == "emoji":
            emoji_id = dict(parse_qsl(urlsplit(target).query)).get("id", "")
            made = _entity("custom_emoji", start, self.out.pos, custom_emoji_id=emoji_id)
        else:
            made = _entity("text_link", start, self.out.pos, url=target)
        if made is not None:
            self.entities.append(made)
        return cursor + 1


def parse_markdown(source: str) -> tuple[str, list[Json]]:
    """Text and entities of the legacy ``parse_mode=Markdown`` (no nesting)."""
    out = _TextOut()
    entities: list[Json] = []
    index = 0
    kinds = {"*": "bold", "_": "italic"}

    def unclosed(where: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, where)}"
        )

    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source) and source[index + 1] in "_*`[":
            out.add(source[index + 1])
            index += 2
        elif char in kinds:
            end = source.find(char, index + 1)
            if end < 0:
                raise unclosed(index)
            start = out.pos
            out.add(source[index + 1 : end])
            made = _entity(kinds[char], start, out.pos)
            if made:
                entities.append(made)
            index = end + 1
        elif char == "`":
            fence = "```" if source.startswith("```", index) else "`"
            end = source.find(fence, index + len(fence))
            if end < 0:
                raise unclosed(index)
            start = out.pos
            out.add(source[index + len(fence) : end])
            made = _entity("pre" if fence == "```" else "code", start, out.pos)
            if made:
                entities.append(made)
            index = end + len(fence)
        elif char == "[":
            close = source.find("](", index)
            end = source.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise unclosed(index)
            start = out.pos
            out.add(source[index + 1 : close])
            made = _entity("text_link", start, out.pos, url=source[close + 2 : end])
            if made:
                entities.append(made)
            index = end + 1
        else:
            out.add(char)
            index += 1
    return out.text, entities


# Entities Telegram finds in any text by itself; none is detected inside these existing ones.
_NO_DETECTION_INSIDE = frozenset(
    {
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "url",
        "email",
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
    }
)
_TLDS = "com|org|net|ru|me|io|dev|info|app|co|uk|de|ua|by|kz|tv|xyz|site|online|tech|news"
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "url",
        re.compile(
            r"(?<![\w@/.])(?:https?://[^\s<>\"]+|(?:[A-Za-z0-9-]+\.)+(?:"
            + _TLDS
            + r")\b(?:/[^\s<>\"]*)?)",
            re.IGNORECASE,
        ),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{4,31}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#(?=\w*[^\W\d])\w+")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{3,8}(?!\w)")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z]\w{3,31})?(?![\w/])")),
)


def detect_entities(text: str, existing: list[Json] | None = None) -> list[Json]:
    """Entities Telegram adds by itself (urls, mentions, hashtags, commands...), UTF-16 based."""
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e.get("type") in _NO_DETECTION_INSIDE
    ]
    found: list[Json] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            matched = match.group(0)
            if kind == "url":
                matched = matched.rstrip(".,;:!?)'\"")
            if not matched:
                continue
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(matched)
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def sort_entities(entities: list[Json]) -> list[Json]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], e["type"]))


_BLANK = " \t\n\r\f\v"
# Entity types that are meaningless without their extra field.
_ENTITY_NEEDS = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}


def _trim(text: str, entities: list[Json]) -> tuple[str, list[Json]]:
    """Telegram drops leading and trailing whitespace and shifts/clips entities to match."""
    stripped = text.strip(_BLANK)
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip(_BLANK))])
    size = utf16_len(stripped)
    result: list[Json] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


# -- media helpers ---------------------------------------------------------------------------


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None when it is none of these."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return int(width), int(height)
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return 512, 512
    if content.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(content):
            if content[index] != 0xFF:
                index += 1
                continue
            marker = content[index + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", content[index + 5 : index + 9])
                return int(width), int(height)
            (length,) = struct.unpack(">H", content[index + 2 : index + 4])
            index += 2 + int(length)
    return None


_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
}
# file kinds Telegram lets stand in for one another when a file_id is re-sent
_COMPATIBLE_KINDS = {"document": {"document", "animation"}, "animation": {"animation", "document"}}


@dataclass
class _File:
    file_id: str
    unique_id: str
    kind: str
    size: int | None
    content: bytes | None
    file_path: str | None
    meta: Json = field(default_factory=dict)


# -- chats -----------------------------------------------------------------------------------


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    description: str | None = None
    admins: list[int] = field(default_factory=list)
    owner_id: int | None = None
    bot_status: str = "member"
    member_count: int | None = None
    last_message_id: int = 0
    messages: dict[int, Json] = field(default_factory=dict)

    def as_chat(self) -> Json:
        chat: Json = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or f"User {self.id}"
            if self.last_name:
                chat["last_name"] = self.last_name
        else:
            chat["title"] = self.title or f"Chat {self.id}"
        if self.username:
            chat["username"] = self.username
        return chat

    @property
    def kind_name(self) -> str:
        return {"channel": "channel chat", "supergroup": "supergroup chat"}.get(
            self.type, "group chat"
        )


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | str | None


@dataclass
class _Delay:
    method: str
    seconds: float
    times: int


@dataclass
class _Poller:
    request: web.BaseRequest | None
    event: asyncio.Event
    conflict: bool = False

    def client_gone(self) -> bool:
        if self.request is None:
            return False
        transport = self.request.transport
        return transport is None or transport.is_closing()


_CONTENT_KEYS = (
    "text",
    "entities",
    "link_preview_options",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "photo",
    "video",
    "animation",
    "audio",
    "document",
    "voice",
    "video_note",
    "sticker",
    "poll",
    "contact",
    "location",
    "venue",
    "dice",
)
_SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendDocument",
        "sendVoice",
        "sendSticker",
        "sendPoll",
        "sendMediaGroup",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)
_MEDIA_KINDS = ("photo", "video", "animation", "audio", "document", "voice", "sticker")
_TEXTLESS_MEDIA = ("sticker",)


class _Hybrid:
    """``running_in_thread`` works on an instance and on the class (which makes the instance)."""

    def __get__(
        self, obj: FakeTelegram | None, owner: type[FakeTelegram]
    ) -> Callable[..., AbstractContextManager[FakeTelegram]]:
        if obj is None:
            return lambda **kwargs: owner(**kwargs)._in_thread()
        return obj._in_thread


class FakeTelegram:
    """A Bot API server on 127.0.0.1 for one bot (``bot_id``/``username``; use :attr:`token`).

    Recorded: :attr:`calls` (every request, in order, with the answer), :attr:`sent` (every
    Message the fake sent, as returned), :attr:`problems` (spec/python-telegram-bot violations:
    tests assert it is empty), :attr:`allowed_updates` (last value a client sent),
    :attr:`filtered_updates` (updates dropped because the bot did not ask for their kind),
    :attr:`delivered_updates`, :attr:`commands`, :attr:`reactions`, :attr:`chat_actions`.

    The world: chats are known from :meth:`add_chat`, :meth:`add_user` and from pushed updates
    (a chat that sent the bot an update exists); anything else is "chat not found", as for a
    user who never started the bot.  The bot is an admin of channels unless told otherwise
    (:meth:`set_chat_admins`, :meth:`kick_bot`).  Messages (sent or pushed) are kept per chat
    with increasing ids, so copy/forward/edit/delete/reply work on them; files sent or pushed
    are known by file_id, and their bytes (uploads, :meth:`add_file`) are served by getFile and
    ``GET /file/bot<token>/<file_path>``.

    Telegram behaviour reproduced: text/caption limits in UTF-16 units after entity parsing
    (HTML, MarkdownV2, Markdown), leading/trailing whitespace trimmed, entities Telegram detects
    by itself (urls, mentions, hashtags, cashtags, commands, emails) added to sent texts,
    album rules, "message is not modified", 403s for kicked/absent bots, getUpdates offset,
    long poll, allowed_updates (default excludes reaction counts) and a 409 for a second
    poller or while a webhook is set; webhooks get updates POSTed (with the secret token
    header) and a method in the webhook's response body is executed.
    """

    def __init__(
        self,
        *,
        bot_id: int = 123456,
        username: str = "tgpipe_test_bot",
        first_name: str = "tgpipe test bot",
    ) -> None:
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.token = f"{bot_id}:AAFakeTelegramTokenForTests-0123456789"
        self.spec: Spec = load_spec()
        self.base_url = ""
        self.calls: list[ApiCall] = []
        self.sent: list[Json] = []
        self.problems: list[str] = []
        self.allowed_updates: list[str] | None = None
        self.filtered_updates: list[Json] = []
        self.delivered_updates: list[Json] = []
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.reactions: dict[tuple[int, int], list[Json]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_last_error: str | None = None
        # Replace to move the fake's clock (message dates); seconds since the epoch.
        self.clock: Callable[[], float] = time.time
        self._lock = threading.RLock()
        self._queue: list[Json] = []
        self._next_update_id = 700_000_001
        self._allowed = frozenset(self.spec.update_kinds) - NOT_SENT_BY_DEFAULT
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, Json] = {}
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._callback_queries: dict[str, bool] = {}
        self._pollers: list[_Poller] = []
        self._serial = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wake: asyncio.Event | None = None
        self._rate_overall: int | None = None
        self._rate_group: int | None = None
        self._sent_times: list[float] = []
        self._sent_by_chat: dict[int, list[float]] = {}
        self._handlers: dict[str, Handler] = self._build_handlers()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1; :attr:`base_url` is set afterwards."""
        if self._runner is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._closing = asyncio.Event()
        self._webhook_wake = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        logger.debug("fake Telegram listening on %s", self.base_url)

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery and close the server."""
        if self._runner is None:
            return
        assert self._closing is not None
        self._closing.set()
        self._wake_pollers()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            await asyncio.gather(self._webhook_task, return_exceptions=True)
            self._webhook_task = None
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    running_in_thread = _Hybrid()

    @contextmanager
    def _in_thread(self) -> Iterator[FakeTelegram]:
        """Serve from a background thread with its own loop (for subprocess tests)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:  # reported to the caller's thread below
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    @property
    def env(self) -> dict[str, str]:
        """Environment for a ``tgpipe`` process that should talk to this fake."""
        return {"TGPIPE_BOT_TOKEN": self.token, "TGPIPE_API_BASE": self.base_url}

    # -- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        name = self.spec.method_name(method) or method
        with self._lock:
            return [call for call in self.calls if call.method == name]

    def describe_calls(self) -> str:
        with self._lock:
            return "\n".join(f"  {call.describe()}" for call in self.calls) or "  (none)"

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = WAIT_SECONDS,  # noqa: ASYNC109 - the documented interface of the fake
    ) -> list[ApiCall]:
        """All calls of ``method`` once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._wait_message(method, count, len(found), timeout))
            await asyncio.sleep(0.01)

    async def wait_until(
        self,
        condition: Callable[[], object],
        timeout: float = WAIT_SECONDS,  # noqa: ASYNC109 - same interface as wait_for
        what: str = "the condition",
    ) -> None:
        """Wait until ``condition()`` is true, e.g. ``lambda: fake.sent`` after a slow call."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout:g} s for {what}; calls so far:\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.01)

    def wait_for_sync(
        self, method: str, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[ApiCall]:
        """:meth:`wait_for` for plain (non-async) tests using :meth:`running_in_thread`."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._wait_message(method, count, len(found), timeout))
            time.sleep(0.01)

    def _wait_message(self, method: str, count: int, seen: int, timeout: float) -> str:
        return (
            f"waited {timeout:g} s for {count} {method} call(s), saw {seen}; calls so far:\n"
            f"{self.describe_calls()}"
        )

    def message(self, chat_id: int | str, message_id: int) -> Json | None:
        """The current state of a message the fake knows (sent, pushed, edited)."""
        with self._lock:
            chat = self._find_chat(chat_id)
            found = chat.messages.get(message_id) if chat else None
            return copy.deepcopy(found)

    def messages_in(self, chat_id: int | str) -> list[Json]:
        """Messages currently in a chat (deleted ones are gone), by message id."""
        with self._lock:
            chat = self._find_chat(chat_id)
            if chat is None:
                return []
            return [copy.deepcopy(chat.messages[k]) for k in sorted(chat.messages)]

    def chat(self, chat_id: int | str) -> Json | None:
        with self._lock:
            found = self._find_chat(chat_id)
            return found.as_chat() if found else None

    @property
    def pending_updates(self) -> list[Json]:
        with self._lock:
            return copy.deepcopy(self._queue)

    # -- world setup -----------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str = "channel",
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        description: str | None = None,
        member_count: int | None = None,
        bot_is_admin: bool = True,
    ) -> Json:
        """Make a chat known; returns its Chat object.  The bot is an admin there by default."""
        if type not in {"private", "group", "supergroup", "channel"}:
            raise ValueError(f"unknown chat type {type!r}")
        if (type == "private" and chat_id <= 0) or (type != "private" and chat_id >= 0):
            raise ValueError(f"chat id {chat_id} does not fit a {type} chat")
        with self._lock:
            chat = self._chats.get(chat_id) or _Chat(id=chat_id, type=type)
            chat.type = type
            chat.title = title if title is not None else chat.title
            chat.username = username.lstrip("@") if username else chat.username
            chat.first_name = first_name or chat.first_name
            chat.last_name = last_name or chat.last_name
            chat.description = description or chat.description
            chat.member_count = member_count if member_count is not None else chat.member_count
            if type == "private":
                chat.bot_status = "member"
                self._users.setdefault(chat_id, _user_object(chat_id, chat.first_name, None))
            else:
                chat.bot_status = "administrator" if bot_is_admin else "left"
                if type in {"group", "supergroup"} and not bot_is_admin:
                    chat.bot_status = "member"
            self._chats[chat_id] = chat
            return chat.as_chat()

    def set_chat_admins(
        self,
        chat_id: int,
        user_ids: list[int],
        *,
        bot_is_admin: bool = True,
        owner_id: int | None = None,
    ) -> None:
        """Admins of a chat for getChatMember/getChatAdministrators.

        ``owner_id`` (default: the first of ``user_ids``) is reported as the creator.  With
        ``bot_is_admin=False`` the bot is not in a channel at all (sending there is a 403) and a
        plain member of a group.
        """
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                kind = "channel" if chat_id < 0 else "private"
                self.add_chat(chat_id, type=kind)
                chat = self._chats[chat_id]
            chat.admins = list(user_ids)
            chat.owner_id = (
                owner_id if owner_id is not None else (user_ids[0] if user_ids else None)
            )
            if chat.type == "channel":
                chat.bot_status = "administrator" if bot_is_admin else "left"
            elif chat.type != "private":
                chat.bot_status = "administrator" if bot_is_admin else "member"

    def kick_bot(self, chat_id: int) -> None:
        """The bot was removed from (or, for a private chat, blocked in) the chat: sends get 403."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                raise ValueError(f"chat {chat_id} is not known to the fake")
            chat.bot_status = "kicked"

    def add_user(
        self, user_id: int, *, first_name: str = "Test", username: str | None = None
    ) -> Json:
        """A user the bot has talked to: known for getChatMember and as a private chat."""
        user = _user_object(user_id, first_name, username)
        with self._lock:
            self._users[user_id] = user
            if user_id not in self._chats:
                self._chats[user_id] = _Chat(
                    id=user_id, type="private", first_name=first_name, username=username
                )
        return user

    def add_file(
        self,
        file_id: str,
        content: bytes,
        file_path: str | None = None,
        *,
        file_unique_id: str | None = None,
        kind: str = "document",
    ) -> Json:
        """Register file bytes so getFile and ``GET /file/bot<token>/<path>`` serve them."""
        with self._lock:
            serial = next(self._serial)
            known = self._files.get(file_id)
            if known is not None and known.file_path:
                self._files_by_path.pop(known.file_path, None)
            path = file_path or f"{_folder(kind)}/file_{serial}{_extension(file_id)}"
            record = _File(
                file_id=file_id,
                unique_id=file_unique_id or (known.unique_id if known else f"AQAD{serial:06d}fake"),
                kind=known.kind if known else kind,
                size=len(content),
                content=content,
                file_path=path,
                meta=known.meta if known else {},
            )
            self._files[file_id] = record
            self._files_by_path[path] = record
            return _file_object(record)

    # -- fault injection -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (for ``chat_id`` only, if given) with an
        error; nothing happens for those calls.  ``retry_after`` adds ``parameters.retry_after``.
        """
        name = self._canonical(method)
        if description is None:
            description = _default_description(status, retry_after)
        with self._lock:
            self._failures.append(_Failure(name, status, description, retry_after, times, chat_id))

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` answers of ``method`` for ``seconds``.

        The call still takes effect after the delay, as a slow Telegram would: a client that
        timed out meanwhile does not know whether its message was sent.
        """
        name = self._canonical(method)
        with self._lock:
            self._delays.append(_Delay(name, seconds, times))

    def limit_rate(
        self, *, overall_per_second: int | None = 30, group_per_minute: int | None = 20
    ) -> None:
        """Answer 429 (with retry_after) like Telegram when messages come too fast.

        Off by default.  Counts every message-sending call that reaches the fake: at most
        ``overall_per_second`` in any second, and ``group_per_minute`` per group/channel in any
        minute (Telegram's documented broadcasting limits).
        """
        with self._lock:
            self._rate_overall = overall_per_second
            self._rate_group = group_per_minute

    def _check_rate(self, method: str, params: Json) -> None:
        if method not in _SENDING_METHODS or (
            self._rate_overall is None and self._rate_group is None
        ):
            return
        now = time.monotonic()
        with self._lock:
            chat = self._find_chat(params.get("chat_id"))
            windows: list[tuple[list[float], int, float]] = []
            if self._rate_overall is not None:
                windows.append((self._sent_times, self._rate_overall, 1.0))
            if self._rate_group is not None and chat is not None and chat.type != "private":
                windows.append((self._sent_by_chat.setdefault(chat.id, []), self._rate_group, 60.0))
            wait = 0.0
            for times, limit, span in windows:
                times[:] = [t for t in times if t > now - span]
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + span - now)
            if wait > 0:
                retry_after = max(math.ceil(wait), 1)
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )
            for times, _, _ in windows:
                times.append(now)

    def _canonical(self, method: str) -> str:
        name = self.spec.method_name(method)
        if name is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return name

    # -- updates ---------------------------------------------------------------------------

    def push_update(self, update: Json) -> int:
        """Queue an update for getUpdates (or the webhook); returns its update_id.

        The update is checked against the spec and python-telegram-bot first; a problem raises
        ValueError here (and is also recorded in :attr:`problems`).
        """
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            elif update["update_id"] < self._next_update_id:
                raise ValueError(
                    f"update_id {update['update_id']} does not increase "
                    f"(the next free one is {self._next_update_id})"
                )
            kinds = [key for key in update if key != "update_id"]
            problems = self.spec.check(update, ["Update"], "update")
            if len(kinds) != 1:
                problems.append(f"update: exactly one update kind expected, got {kinds}")
            problems += ptb_check(update, ["Update"], "update")
            if problems:
                self.problems.extend(f"push_update: {p}" for p in problems)
                raise ValueError("invalid update:\n" + "\n".join(problems))
            self._next_update_id = update["update_id"] + 1
            self._absorb(update)
            self._queue.append(update)
        self._wake_pollers()
        return int(update["update_id"])

    def _absorb(self, update: Json) -> None:
        """Learn chats, users, messages and files from an update, as Telegram knows them."""
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if kind in update:
                self._remember_message(update[kind])
        query = update.get("callback_query")
        if query:
            self._callback_queries[query["id"]] = False
            self._remember_user(query["from"])
            if isinstance(query.get("message"), dict) and query["message"].get("date"):
                self._remember_message(query["message"])
        for kind in ("message_reaction_count", "message_reaction", "chat_join_request"):
            if kind in update:
                self._remember_chat(update[kind]["chat"])
        for kind in ("my_chat_member", "chat_member"):
            member_update = update.get(kind)
            if member_update:
                chat = self._remember_chat(member_update["chat"])
                self._remember_user(member_update["from"])
                new = member_update["new_chat_member"]
                if new["user"]["id"] == self.bot_id:
                    chat.bot_status = new["status"]

    def _remember_user(self, user: Json) -> None:
        if not user.get("is_bot"):
            self._users[user["id"]] = {k: user[k] for k in user if k in _USER_KEYS}

    def _remember_chat(self, chat_object: Json) -> _Chat:
        chat = self._chats.get(chat_object["id"])
        if chat is None:
            chat = _Chat(id=chat_object["id"], type=chat_object["type"])
            chat.bot_status = "administrator" if chat.type == "channel" else "member"
            self._chats[chat.id] = chat
        chat.title = chat_object.get("title", chat.title)
        chat.username = chat_object.get("username", chat.username)
        chat.first_name = chat_object.get("first_name", chat.first_name)
        chat.last_name = chat_object.get("last_name", chat.last_name)
        return chat

    def _remember_message(self, message: Json) -> None:
        chat = self._remember_chat(message["chat"])
        if "from" in message:
            self._remember_user(message["from"])
        chat.messages[message["message_id"]] = copy.deepcopy(message)
        chat.last_message_id = max(chat.last_message_id, message["message_id"])
        for kind in _MEDIA_KINDS:
            media = message.get(kind)
            if kind == "photo" and media:
                for size in media:
                    self._register_known_file(size, "photo", {"sizes": media})
            elif isinstance(media, dict):
                self._register_known_file(media, kind, {"object": media})

    def _register_known_file(self, obj: Json, kind: str, meta: Json) -> None:
        record = self._files.get(obj["file_id"])
        if record is None:
            path = (
                f"{_folder(kind)}/file_{next(self._serial)}{_extension(obj.get('file_name', ''))}"
            )
            record = _File(
                obj["file_id"], obj["file_unique_id"], kind, obj.get("file_size"), None, path
            )
            self._files[record.file_id] = record
            self._files_by_path[path] = record
        record.kind = kind
        record.unique_id = obj["file_unique_id"]
        record.meta.update(meta)

    def _wake_pollers(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._wake_now()
        else:
            loop.call_soon_threadsafe(self._wake_now)

    def _wake_now(self) -> None:
        for poller in self._pollers:
            poller.event.set()
        if self._webhook_wake is not None:
            self._webhook_wake.set()

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle_file(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        path = request.match_info["path"]
        with self._lock:
            record = self._files_by_path.get(path)
        if self._token_ok(token) and record is not None and record.content is None:
            self._problem(
                f"download of {path}: file {record.file_id} has no bytes; register them with "
                "add_file(file_id, content)"
            )
        if not self._token_ok(token) or record is None or record.content is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return web.Response(body=record.content, content_type=content_type)

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            body = await request.read()
            fields, uploads = _parse_body(request.headers.get("Content-Type", ""), body)
        except ValueError as error:
            fields, uploads = {}, {}
            self._problem(f"{request.match_info['method']}: unreadable request body: {error}")
        fields = {**dict(request.query), **fields}
        answer, status = await self._process(
            request.match_info["method"], fields, uploads, token, request.method, request
        )
        return web.json_response(answer, status=status, dumps=_dumps)

    async def _process(
        self,
        raw_method: str,
        fields: dict[str, Any],
        uploads: dict[str, Upload],
        token: str,
        http_method: str,
        request: web.BaseRequest | None,
    ) -> tuple[Json, int]:
        assert self._loop is not None
        method = self.spec.method_name(raw_method)
        params, decode_problems = self._decode(method, fields, uploads)
        call = ApiCall(method or raw_method, params, token, self._loop.time(), http_method)
        with self._lock:
            self.calls.append(call)
        try:
            result = await self._answer(call, method, decode_problems, request)
            self._check_result(call.method, result)
            answer: Json = {"ok": True, "result": result}
            status = 200
        except ApiError as error:
            answer, status = error.body(), error.status
        call.status, call.response = status, answer
        logger.debug("%s -> %s", call.describe(), status)
        return answer, status

    async def _answer(
        self,
        call: ApiCall,
        method: str | None,
        decode_problems: list[str],
        request: web.BaseRequest | None,
    ) -> Any:
        self._check_token(call.token)
        if method is None:
            raise ApiError(404, "Not Found")
        problems = decode_problems
        if problems:
            for problem in problems:
                self._problem(problem)
            raise ApiError(400, f"Bad Request: {problems[0]}")
        seconds = self._take_delay(method)
        if seconds:
            assert self._closing is not None
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
        failure = self._take_failure(method, call.params)
        if failure is not None:
            raise ApiError(failure.status, failure.description, retry_after=failure.retry_after)
        self._check_rate(method, call.params)
        if method == "getUpdates":
            return await self._get_updates(call.params, request)
        handler = self._handlers.get(method)
        if handler is None:
            self._problem(f"{method}: the client called a method the fake does not implement")
            raise ApiError(400, "Bad Request: method not supported by the fake")
        with self._lock:
            return handler(call.params)

    def _token_ok(self, token: str) -> bool:
        match = TOKEN_RE.match(token)
        return match is not None and int(match.group(1)) == self.bot_id

    def _check_token(self, token: str) -> None:
        match = TOKEN_RE.match(token)
        if match is None:
            raise ApiError(401, "Unauthorized")
        if int(match.group(1)) != self.bot_id:
            self._problem(
                f"token {token!r} belongs to bot {match.group(1)}, not to this fake's bot "
                f"{self.bot_id} (use fake.token)"
            )
            raise ApiError(401, "Unauthorized")

    def _decode(
        self, method: str | None, fields: dict[str, Any], uploads: dict[str, Upload]
    ) -> tuple[Json, list[str]]:
        """Typed parameters from form/query/JSON fields, uploads put where they are referenced.

        Also returns the problems of the call against the spec (for a known method), checked
        before nested ``attach://`` references are replaced (the spec types them as String).
        """
        declared = self.spec.fields(method) if method else {}
        params: Json = {}
        used: set[str] = set()
        problems: list[str] = []
        for name, value in fields.items():
            types = declared[name].types if name in declared else ()
            if isinstance(value, str) and value.startswith("attach://") and "InputFile" in types:
                part = value[len("attach://") :]
                if part in uploads:
                    used.add(part)
                    params[name] = uploads[part]
                    continue
                problems.append(f"{method}.{name}: {value} names no uploaded file part")
            if isinstance(value, str):
                value = self.spec.decode(value, types)
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and "String" in types
                and not {"Integer", "Float"} & set(types)
            ):
                value = str(value)  # Telegram reads JSON numbers given for strings as text
            params[name] = value
        for part, upload in uploads.items():
            if part in declared and part not in params:
                params[part] = upload
                used.add(part)
        if method == "sendPoll" and isinstance(params.get("options"), list):
            # Telegram still accepts bare strings as options; aiogram sends them when given str.
            params["options"] = [
                {"text": option} if isinstance(option, str) else option
                for option in params["options"]
            ]
        if method:
            problems += self.spec.check_params(method, params)
        params = _resolve_attachments(params, uploads, used)
        for part in uploads:
            if part not in used:
                problems.append(f"{method}: uploaded file part {part!r} is never referenced")
        return params, problems

    def _check_result(self, method: str, result: Any) -> None:
        returns = self.spec.returns(method) if self.spec.method_name(method) else ()
        if not returns:
            return
        if isinstance(result, bool) and "Boolean" in returns:
            returns = ("Boolean",)
        problems = self.spec.check(result, returns, f"{method} result")
        problems += ptb_check(result, returns, f"{method} result")
        for problem in problems:
            self._problem(f"the fake produced invalid data: {problem}")

    def _problem(self, text: str) -> None:
        logger.warning("fake Telegram problem: %s", text)
        with self._lock:
            self.problems.append(text)

    def _take_delay(self, method: str) -> float:
        with self._lock:
            for delay in self._delays:
                if delay.method == method and delay.times > 0:
                    delay.times -= 1
                    return delay.seconds
        return 0.0

    def _take_failure(self, method: str, params: Json) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method != method or failure.times <= 0:
                    continue
                if failure.chat_id is not None and str(params.get("chat_id")) != str(
                    failure.chat_id
                ):
                    continue
                failure.times -= 1
                return failure
        return None

    # -- getUpdates and webhooks -----------------------------------------------------------

    async def _get_updates(self, params: Json, request: web.BaseRequest | None) -> list[Json]:
        assert self._loop is not None
        assert self._closing is not None
        # A client that just gave up a long poll (stop_polling, restart) closed its connection;
        # give the server a moment to notice before calling the new poll a second instance.
        settle = self._loop.time() + 0.3
        while True:
            if all(p.client_gone() for p in self._pollers) or self._loop.time() >= settle:
                break
            await asyncio.sleep(0.02)
        with self._lock:
            if self.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if "allowed_updates" in params:
                self._set_allowed(params["allowed_updates"])
            self._confirm(params.get("offset"))
            for other in self._pollers:
                if not other.client_gone():
                    self._problem(
                        "getUpdates: a second long poll started while another was waiting "
                        "(two bot instances polling?)"
                    )
                other.conflict = True
                other.event.set()
            poller = _Poller(request, asyncio.Event())
            self._pollers.append(poller)
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        deadline = self._loop.time() + max(int(params.get("timeout", 0)), 0)
        try:
            while True:
                poller.event.clear()
                with self._lock:
                    if poller.conflict:
                        raise ApiError(
                            409,
                            "Conflict: terminated by other getUpdates request; make sure that "
                            "only one bot instance is running",
                        )
                    batch = self._take_updates(limit)
                remaining = deadline - self._loop.time()
                if batch or remaining <= 0 or self._closing.is_set() or poller.client_gone():
                    return batch
                with suppress(TimeoutError):
                    await asyncio.wait_for(poller.event.wait(), min(remaining, 0.25))
        finally:
            with self._lock:
                self._pollers.remove(poller)

    def _set_allowed(self, allowed: Any) -> None:
        kinds = list(allowed or [])
        unknown = [kind for kind in kinds if kind not in self.spec.update_kinds]
        if unknown:
            self._problem(f"allowed_updates names update kinds that do not exist: {unknown}")
        self.allowed_updates = kinds
        if kinds:
            self._allowed = frozenset(kinds)
        else:
            self._allowed = frozenset(self.spec.update_kinds) - NOT_SENT_BY_DEFAULT

    def _confirm(self, offset: Any) -> None:
        if not isinstance(offset, int) or offset == 0:
            return
        if offset < 0:
            del self._queue[: max(len(self._queue) + offset, 0)]
        else:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]

    def _take_updates(self, limit: int) -> list[Json]:
        batch: list[Json] = []
        kept: list[Json] = []
        for update in self._queue:
            kind = next(key for key in update if key != "update_id")
            if kind not in self._allowed:
                # Telegram never produces updates a bot did not ask for.
                self.filtered_updates.append(update)
                continue
            kept.append(update)
            if len(batch) < limit:
                batch.append(copy.deepcopy(update))
        self._queue = kept
        self.delivered_updates.extend(batch)
        return batch

    def _ensure_webhook_task(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    async def _deliver_webhook(self) -> None:
        """POST queued updates to the webhook one at a time, as Telegram does, until removed."""
        assert self._webhook_wake is not None
        assert self._closing is not None
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while not self._closing.is_set():
                self._webhook_wake.clear()
                with self._lock:
                    url, secret = self.webhook_url, self.webhook_secret
                    batch = self._take_updates(1) if url else []
                if not url:
                    return
                if not batch:
                    await self._webhook_wake.wait()
                    continue
                update = batch[0]
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        reply = await response.read()
                        ok = 200 <= response.status < 300
                        reply_type = response.headers.get("Content-Type", "")
                        error = f"Wrong response from the webhook: {response.status}"
                except (ClientError, TimeoutError) as exc:
                    ok, reply, reply_type, error = False, b"", "", f"Connection failed: {exc!r}"
                with self._lock:
                    if ok:
                        self._queue = [
                            u for u in self._queue if u["update_id"] != update["update_id"]
                        ]
                    else:
                        self.webhook_last_error = error
                        self.delivered_updates.remove(update)
                if ok and reply.strip() not in (b"", b"{}"):
                    await self._webhook_reply(reply_type, reply)
                if not ok:
                    await asyncio.sleep(0.2)

    async def _webhook_reply(self, content_type: str, body: bytes) -> None:
        """A method call sent back in the webhook response body is executed like a request."""
        try:
            fields, uploads = _parse_body(content_type, body)
        except ValueError as error:
            self._problem(f"webhook reply: unreadable body: {error}")
            return
        method = fields.pop("method", None)
        if not isinstance(method, str):
            self._problem(f"webhook reply without a method: {body[:80]!r}")
            return
        await self._process(method, fields, uploads, self.token, "WEBHOOK-REPLY", None)

    # -- method handlers -------------------------------------------------------------------

    def _build_handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": _true,
            "close": _true,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPoll": self._send_poll,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "copyMessages": self._copy_messages,
            "forwardMessage": self._forward_message,
            "forwardMessages": self._forward_messages,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "setMessageReaction": self._set_message_reaction,
            "getFile": self._get_file,
        }
        for kind in _MEDIA_KINDS:
            handlers["send" + kind.title()] = functools.partial(self._send_media, kind)
        return handlers

    @property
    def bot_user(self) -> Json:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def _get_me(self, params: Json) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: Json) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        self._wake_now()
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _set_webhook(self, params: Json) -> bool:
        url = params["url"]
        if not url:
            return self._delete_webhook(params)
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token")
        self.webhook_last_error = None
        if "allowed_updates" in params:
            self._set_allowed(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._ensure_webhook_task()
        return True

    def _get_webhook_info(self, params: Json) -> Json:
        info: Json = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self.allowed_updates is not None:
                info["allowed_updates"] = self.allowed_updates
            if self.webhook_last_error:
                info["last_error_date"] = int(self.clock())
                info["last_error_message"] = self.webhook_last_error
        return info

    @staticmethod
    def _commands_key(params: Json) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    def _set_my_commands(self, params: Json) -> bool:
        commands = params["commands"]
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(description) <= 256:
                self._problem(f"setMyCommands: invalid command {command!r}")
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[self._commands_key(params)] = copy.deepcopy(commands)
        return True

    def _get_my_commands(self, params: Json) -> list[Json]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: Json) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    # chats

    def _find_chat(self, chat_id: Any) -> _Chat | None:
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):
                wanted = chat_id[1:].lower()
                return next(
                    (c for c in self._chats.values() if (c.username or "").lower() == wanted), None
                )
            if re.fullmatch(r"-?\d+", chat_id):
                chat_id = int(chat_id)
        return self._chats.get(chat_id) if isinstance(chat_id, int) else None

    def _chat(self, chat_id: Any, *, write: bool = True) -> _Chat:
        """The chat a call targets, or Telegram's error when the bot cannot reach it."""
        chat = self._find_chat(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.bot_status == "kicked":
            if chat.type == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.kind_name}")
        if chat.bot_status == "left" or (
            write and chat.type == "channel" and chat.bot_status != "administrator"
        ):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.kind_name}")
        return chat

    def _get_chat(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"], write=False)
        info: Json = {
            **chat.as_chat(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.description:
            info["description"] = chat.description
        return info

    def _member(self, chat: _Chat, user_id: int) -> Json:
        if user_id == self.bot_id:
            user = self.bot_user
            status = chat.bot_status
        else:
            user = self._users.get(user_id) or _user_object(user_id, None, None)
            if user_id == chat.owner_id:
                status = "creator"
            elif user_id in chat.admins:
                status = "administrator"
            else:
                status = "member"
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            return _administrator(user, chat.type, is_bot=user_id == self.bot_id)
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}

    def _get_chat_member(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"], write=False)
        return self._member(chat, params["user_id"])

    def _get_chat_administrators(self, params: Json) -> list[Json]:
        chat = self._chat(params["chat_id"], write=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = list(dict.fromkeys([*([chat.owner_id] if chat.owner_id else []), *chat.admins]))
        if chat.bot_status == "administrator":
            ids.append(self.bot_id)
        return [self._member(chat, user_id) for user_id in ids]

    def _get_chat_member_count(self, params: Json) -> int:
        chat = self._chat(params["chat_id"], write=False)
        if chat.type == "private":
            return 2
        counted = len(set(chat.admins)) + (chat.bot_status == "administrator")
        return max(chat.member_count or 0, counted)

    def _send_chat_action(self, params: Json) -> bool:
        chat = self._chat(params["chat_id"])
        self.chat_actions.append((chat.id, params["action"]))
        return True

    def _answer_callback_query(self, params: Json) -> bool:
        query_id = params["callback_query_id"]
        if self._callback_queries.get(query_id, True):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callback_queries[query_id] = True
        return True

    def _set_message_reaction(self, params: Json) -> bool:
        chat = self._chat(params["chat_id"], write=False)
        if params["message_id"] not in chat.messages:
            raise ApiError(400, "Bad Request: message to react not found")
        self.reactions[chat.id, params["message_id"]] = copy.deepcopy(params.get("reaction", []))
        return True

    # sending

    def _formatted(
        self, params: Json, text_key: str, entities_key: str, mode_key: str, *, caption: bool
    ) -> tuple[str, list[Json]]:
        """Text and entities as Telegram stores them, with its length and parsing errors."""
        source = params.get(text_key, "")
        given = params.get(entities_key)
        mode = (params.get(mode_key) or "").lower()
        if given is None and mode:
            parser = {
                "html": parse_html,
                "markdownv2": parse_markdown_v2,
                "markdown": parse_markdown,
            }
            if mode not in parser:
                raise ApiError(400, f"Bad Request: unsupported parse_mode {params[mode_key]!r}")
            try:
                text, entities = parser[mode](source)
            except EntityParseError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        else:
            text, entities = source, copy.deepcopy(given or [])
            size = utf16_len(text)
            for index, entity in enumerate(entities):
                offset, length = entity.get("offset", -1), entity.get("length", 0)
                needs = _ENTITY_NEEDS.get(entity.get("type", ""))
                if needs and not entity.get(needs):
                    self._problem(f"{entities_key}[{index}] {entity} has no {needs}")
                    raise ApiError(
                        400, f"Bad Request: can't parse entities: entity {index} lacks {needs}"
                    )
                if offset < 0 or length <= 0 or offset + length > size:
                    self._problem(
                        f"{entities_key}[{index}] {entity} does not fit the {size} UTF-16 code "
                        f"units of {text_key} {_short(text)}"
                    )
                    raise ApiError(
                        400, f"Bad Request: can't parse entities: entity {index} is out of the text"
                    )
        text, entities = _trim(text, entities)
        limit = MAX_CAPTION if caption else MAX_TEXT
        if not text and not caption:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > limit:
            raise ApiError(
                400,
                "Bad Request: message caption is too long"
                if caption
                else "Bad Request: message is too long",
            )
        entities = sort_entities(entities + detect_entities(text, entities))
        return text, entities

    def _text_content(self, params: Json) -> Json:
        text, entities = self._formatted(params, "text", "entities", "parse_mode", caption=False)
        content: Json = {"text": text}
        if entities:
            content["entities"] = entities
        preview = params.get("link_preview_options")
        if preview:
            content["link_preview_options"] = preview
        return content

    def _caption_content(self, params: Json) -> Json:
        if not params.get("caption"):
            return {}
        caption, entities = self._formatted(
            params, "caption", "caption_entities", "parse_mode", caption=True
        )
        content: Json = {"caption": caption} if caption else {}
        if entities:
            content["caption_entities"] = entities
        if params.get("show_caption_above_media"):
            content["show_caption_above_media"] = True
        return content

    def _new_message(self, chat: _Chat, content: Json, params: Json) -> Json:
        reply = self._reply_to(chat, params.get("reply_parameters"))
        chat.last_message_id += 1
        message: Json = {"message_id": chat.last_message_id}
        if chat.type == "channel":
            message["sender_chat"] = chat.as_chat()
        else:
            message["from"] = self.bot_user
        message["chat"] = chat.as_chat()
        message["date"] = int(self.clock())
        if reply is not None:
            message["reply_to_message"] = reply
        message.update(content)
        if params.get("protect_content"):
            message["has_protected_content"] = True
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = message
        self.sent.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _reply_to(self, chat: _Chat, reply: Json | None) -> Json | None:
        if not reply:
            return None
        source = self._find_chat(reply.get("chat_id", chat.id)) or chat
        found = source.messages.get(reply["message_id"])
        if found is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in copy.deepcopy(found).items() if k != "reply_to_message"}

    def _send_message(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        return self._new_message(chat, self._text_content(params), params)

    def _send_media(self, kind: str, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        content = self._media_content(kind, params[kind], params)
        if kind not in _TEXTLESS_MEDIA:
            content.update(self._caption_content(params))
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._new_message(chat, content, params)

    def _media_content(self, kind: str, value: Any, params: Json) -> Json:
        record = self._input_file(kind, value)
        if kind == "photo":
            return {"photo": copy.deepcopy(record.meta["sizes"])}
        obj = copy.deepcopy(record.meta.get("object")) or {
            "file_id": record.file_id,
            "file_unique_id": record.unique_id,
        }
        obj["file_id"], obj["file_unique_id"] = record.file_id, record.unique_id
        if kind in {"video", "animation"}:
            obj.setdefault("width", params.get("width", 640))
            obj.setdefault("height", params.get("height", 360))
        if kind in {"video", "animation", "audio", "voice"}:
            obj.setdefault("duration", params.get("duration", 1))
        if kind == "audio":
            for key in ("performer", "title"):
                if key in params:
                    obj[key] = params[key]
        if kind == "sticker":
            obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            if "emoji" in params:
                obj["emoji"] = params["emoji"]
        if kind in {"video", "animation", "audio", "document"} and record.meta.get("file_name"):
            obj.setdefault("file_name", record.meta["file_name"])
        if kind not in {"sticker"} and record.meta.get("mime_type"):
            obj.setdefault("mime_type", record.meta["mime_type"])
        if record.size is not None:
            obj.setdefault("file_size", record.size)
        record.meta["object"] = obj
        content: Json = {kind: obj}
        if kind == "animation":
            # Telegram still mirrors animations into "document" for old clients.
            content["document"] = {
                k: obj[k]
                for k in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
                if k in obj
            }
        return content

    def _input_file(self, kind: str, value: Any) -> _File:
        """The file a send refers to: a fresh upload, a URL, or a file_id Telegram knows."""
        if isinstance(value, Upload):
            return self._store_upload(kind, value)
        if not isinstance(value, str):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if value.startswith("attach://"):
            self._problem(f"{value} names no uploaded file part")
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if urlsplit(value).scheme in {"http", "https"}:
            name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
            return self._new_file(kind, None, name, mimetypes.guess_type(name)[0], (800, 600))
        record = self._files.get(value)
        if record is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if record.kind != kind and kind not in _COMPATIBLE_KINDS.get(record.kind, set()):
            raise ApiError(
                400, f"Bad Request: can't use file of type {record.kind.title()} as {kind.title()}"
            )
        if kind == "photo" and "sizes" not in record.meta:
            record.meta["sizes"] = [_photo_size(record, 800, 600)]
        return record

    def _store_upload(self, kind: str, upload: Upload) -> _File:
        content = upload.content
        if kind == "photo":
            if len(content) > MAX_PHOTO_UPLOAD:
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            dimensions = image_size(content)
            if dimensions is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        elif len(content) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        else:
            dimensions = image_size(content)
        content_type = upload["content_type"]
        mime = mimetypes.guess_type(upload["filename"])[0]
        if content_type and content_type != "application/octet-stream":
            mime = content_type
        return self._new_file(kind, content, upload["filename"], mime, dimensions)

    def _new_file(
        self,
        kind: str,
        content: bytes | None,
        name: str,
        mime: str | None,
        dimensions: tuple[int, int] | None,
    ) -> _File:
        serial = next(self._serial)
        meta: Json = {"file_name": name}
        if mime:
            meta["mime_type"] = mime
        path = f"{_folder(kind)}/file_{serial}{_extension(name)}"
        record = _File(
            file_id=f"{_FILE_ID_PREFIX[kind]}{serial:06d}fake{self.bot_id}",
            unique_id=f"AgAD{serial:06d}",
            kind=kind,
            size=len(content) if content is not None else None,
            content=content,
            file_path=path,
            meta=meta,
        )
        self._files[record.file_id] = record
        self._files_by_path[path] = record
        if kind == "photo":
            record.meta["sizes"] = self._photo_sizes(record, dimensions or (800, 600))
        elif dimensions and kind in {"video", "animation", "sticker"}:
            meta["object"] = {"width": dimensions[0], "height": dimensions[1]}
        return record

    def _photo_sizes(self, original: _File, dimensions: tuple[int, int]) -> list[Json]:
        """Telegram's ladder of scaled copies: 90, 320, 800, 1280 px and the original (<= 2560)."""
        width, height = dimensions
        longest = max(width, height, 1)
        sizes: list[Json] = []
        for bound in (90, 320, 800, 1280, 2560):
            scale = min(bound / longest, 1.0)
            size = (max(round(width * scale), 1), max(round(height * scale), 1))
            if scale >= 1.0 or bound == 2560:
                sizes.append(_photo_size(original, *size))
                break
            copy_record = _File(
                file_id=f"{original.file_id}_{bound}",
                unique_id=f"{original.unique_id}{bound}",
                kind="photo",
                size=None if original.size is None else max(original.size * bound // longest, 1),
                content=original.content,
                file_path=original.file_path,
                meta=original.meta,
            )
            self._files[copy_record.file_id] = copy_record
            sizes.append(_photo_size(copy_record, *size))
        return sizes

    def _send_media_group(self, params: Json) -> list[Json]:
        chat = self._chat(params["chat_id"])
        media = params["media"]
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album: must be 2-10")
        kinds = {item.get("type") for item in media}
        for solitary in ("document", "audio"):
            if solitary in kinds and len(kinds) > 1:
                raise ApiError(
                    400,
                    f"Bad Request: {solitary}s can't be mixed with other media types in an album",
                )
        group_id = str(13_000_000_000_000_000 + next(self._serial))
        contents: list[Json] = []
        for item in media:
            kind = item["type"]
            if kind not in {"photo", "video", "document", "audio"}:
                raise ApiError(
                    400, f"Bad Request: media of type {kind!r} can't be sent in an album"
                )
            content = self._media_content(kind, item["media"], item)
            content.update(self._caption_content(item))
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            contents.append(content)
        messages = []
        for content in contents:
            messages.append(
                self._new_message(chat, {"media_group_id": group_id, **content}, params)
            )
            params = {k: v for k, v in params.items() if k != "reply_markup"}
        return messages

    def _send_poll(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        options = params["options"]
        if not 2 <= len(options) <= 12:
            raise ApiError(400, "Bad Request: poll must have 2-12 options")
        quiz = params.get("type") == "quiz"
        poll: Json = {
            "id": str(5_000_000_000_000_000_000 + next(self._serial)),
            "question": params["question"],
            "options": [
                {"persistent_id": str(index), "text": option["text"], "voter_count": 0}
                for index, option in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": "quiz" if quiz else "regular",
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", not quiz)),
            "members_only": bool(params.get("members_only", False)),
        }
        if quiz and "correct_option_ids" in params:
            poll["correct_option_ids"] = params["correct_option_ids"]
        return self._new_message(chat, {"poll": poll}, params)

    # copy / forward / edit / delete

    def _source_message(self, params: Json, message_id: int, verb: str) -> tuple[_Chat, Json]:
        source = self._chat(params["from_chat_id"], write=False)
        found = source.messages.get(message_id)
        if found is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return source, found

    def _copied_content(self, original: Json, params: Json) -> Json:
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in _CONTENT_KEYS}
        if not content:
            raise ApiError(400, "Bad Request: message can't be copied")
        if "poll" in content:
            content["poll"]["id"] = str(5_000_000_000_000_000_000 + next(self._serial))
        has_media = any(kind in content for kind in _MEDIA_KINDS)
        if has_media and (params.get("caption") is not None or params.get("remove_caption")):
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.pop("show_caption_above_media", None)
            if params.get("caption") is not None:
                content.update(self._caption_content(params))
        return content

    def _copy_message(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        _, original = self._source_message(params, params["message_id"], "copy")
        content = self._copied_content(original, params)
        sent = self._new_message(chat, content, params)
        return {"message_id": sent["message_id"]}

    def _copy_messages(self, params: Json) -> list[Json]:
        return self._many(params, forward=False)

    def _forwarded(self, source: _Chat, original: Json) -> Json:
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in _CONTENT_KEYS}
        if not content:
            raise ApiError(400, "Bad Request: message can't be forwarded")
        origin = original.get("forward_origin")
        if origin is None and source.type == "channel":
            origin = {
                "type": "channel",
                "date": original["date"],
                "chat": source.as_chat(),
                "message_id": original["message_id"],
            }
            if original.get("author_signature"):
                origin["author_signature"] = original["author_signature"]
        elif origin is None and "from" in original:
            origin = {"type": "user", "date": original["date"], "sender_user": original["from"]}
        elif origin is None:
            origin = {
                "type": "chat",
                "date": original["date"],
                "sender_chat": original.get("sender_chat", source.as_chat()),
            }
        return {"forward_origin": copy.deepcopy(origin), **content}

    def _forward_message(self, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        source, original = self._source_message(params, params["message_id"], "forward")
        return self._new_message(chat, self._forwarded(source, original), params)

    def _forward_messages(self, params: Json) -> list[Json]:
        return self._many(params, forward=True)

    def _many(self, params: Json, *, forward: bool) -> list[Json]:
        chat = self._chat(params["chat_id"])
        source = self._chat(params["from_chat_id"], write=False)
        ids = params["message_ids"]
        if not 1 <= len(ids) <= 100 or any(a >= b for a, b in itertools.pairwise(ids)):
            self._problem(f"message_ids must be 1-100 strictly increasing ids, got {ids}")
            raise ApiError(400, "Bad Request: message identifiers must be strictly increasing")
        groups: dict[str, str] = {}
        result = []
        for message_id in ids:
            original = source.messages.get(message_id)
            if original is None:
                continue  # documented: messages that cannot be found are skipped
            if forward:
                content = self._forwarded(source, original)
            else:
                content = self._copied_content(original, params)
            if "media_group_id" in original:
                old = original["media_group_id"]
                groups.setdefault(old, str(13_000_000_000_000_000 + next(self._serial)))
                content["media_group_id"] = groups[old]
            sent = self._new_message(chat, content, {})
            result.append({"message_id": sent["message_id"]})
        if not result:
            raise ApiError(
                400, f"Bad Request: messages to {'forward' if forward else 'copy'} not found"
            )
        return result

    def _editable(self, params: Json) -> tuple[_Chat, Json] | None:
        if params.get("inline_message_id"):
            return None
        if "chat_id" not in params or "message_id" not in params:
            self._problem("edit without inline_message_id needs chat_id and message_id")
            raise ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._chat(params["chat_id"])
        message = chat.messages.get(params["message_id"])
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if chat.type != "channel" and message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _finish_edit(self, chat: _Chat, message: Json, changes: Json, params: Json) -> Json:
        """Apply an edit (None removes a field); without reply_markup the keyboard goes."""
        new = copy.deepcopy(message)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        new.pop("reply_markup", None)
        if params.get("reply_markup") is not None:
            new["reply_markup"] = params["reply_markup"]
        before = {k: v for k, v in message.items() if k != "edit_date"}
        if before == {k: v for k, v in new.items() if k != "edit_date"}:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        new["edit_date"] = int(self.clock())
        chat.messages[message["message_id"]] = new
        return copy.deepcopy(new)

    def _edit_message_text(self, params: Json) -> Json | bool:
        if "text" not in params:
            self._problem("editMessageText: text is missing")
            raise ApiError(400, "Bad Request: text must be non-empty")
        target = self._editable(params)
        if target is None:
            self._text_content(params)
            return True
        chat, message = target
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        content = self._text_content(params)
        changes = {"text": content["text"], "entities": content.get("entities")}
        return self._finish_edit(chat, message, changes, params)

    def _edit_message_reply_markup(self, params: Json) -> Json | bool:
        """Only the inline keyboard changes (none given: it is removed)."""
        target = self._editable(params)
        if target is None:
            return True
        chat, message = target
        return self._finish_edit(chat, message, {}, params)

    def _edit_message_caption(self, params: Json) -> Json | bool:
        target = self._editable(params)
        caption = self._caption_content(params)
        if target is None:
            return True
        chat, message = target
        if not any(kind in message for kind in _MEDIA_KINDS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        changes: Json = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
            "show_caption_above_media": caption.get("show_caption_above_media"),
        }
        return self._finish_edit(chat, message, changes, params)

    def _delete_message(self, params: Json) -> bool:
        chat = self._chat(params["chat_id"])
        if chat.messages.pop(params["message_id"], None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _delete_messages(self, params: Json) -> bool:
        chat = self._chat(params["chat_id"])
        ids = params["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise ApiError(400, "Bad Request: too many messages to delete")
        for message_id in ids:
            chat.messages.pop(message_id, None)  # documented: missing ones are skipped
        return True

    def _get_file(self, params: Json) -> Json:
        record = self._files.get(params["file_id"])
        if record is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if record.size is not None and record.size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return _file_object(record)


# -- helpers ---------------------------------------------------------------------------------

_USER_KEYS = ("id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium")


def _true(params: Json) -> bool:
    return True


def _user_object(user_id: int, first_name: str | None, username: str | None) -> Json:
    user: Json = {"id": user_id, "is_bot": False, "first_name": first_name or f"User {user_id}"}
    if username:
        user["username"] = username
    return user


def _administrator(user: Json, chat_type: str, *, is_bot: bool) -> Json:
    member: Json = {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": not is_bot,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": True,
        "can_edit_stories": True,
        "can_delete_stories": True,
        "can_send_welcome_messages": False,
    }
    if chat_type == "channel":
        member.update(can_post_messages=True, can_edit_messages=True)
    else:
        member["can_pin_messages"] = True
    return member


def _photo_size(record: _File, width: int, height: int) -> Json:
    size: Json = {
        "file_id": record.file_id,
        "file_unique_id": record.unique_id,
        "width": width,
        "height": height,
    }
    if record.size is not None:
        size["file_size"] = record.size
    return size


def _file_object(record: _File) -> Json:
    obj: Json = {"file_id": record.file_id, "file_unique_id": record.unique_id}
    if record.size is not None:
        obj["file_size"] = record.size
    if record.file_path is not None:
        obj["file_path"] = record.file_path
    return obj


def _folder(kind: str) -> str:
    return {"photo": "photos", "voice": "voice", "sticker": "stickers"}.get(kind, kind + "s")


def _extension(name: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]{1,8}$", name)
    return match.group(0).lower() if match else ""


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after or 1}"
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was kicked from the channel chat",
        404: "Not Found",
        409: "Conflict",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(status, "Error")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _resolve_attachments(value: Any, uploads: dict[str, Upload], used: set[str]) -> Any:
    """Replace ``attach://name`` strings inside JSON parameters with the uploaded files."""
    if isinstance(value, Upload):
        return value
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, uploads, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attachments(v, uploads, used) for v in value]
    if isinstance(value, str) and value.startswith("attach://"):
        name = value[len("attach://") :]
        if name in uploads:
            used.add(name)
            return uploads[name]
    return value


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Fields and uploaded files of a request body (multipart, urlencoded or JSON)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, {}
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True)), {}
    if kind == "application/json":
        try:
            value = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(value, dict):
            raise ValueError("the JSON body is not an object")
        return value, {}
    raise ValueError(f"unsupported Content-Type {content_type!r}")


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not parsed.is_multipart():
        raise ValueError("multipart body without parts")
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a multipart part has no name")
        payload = cast(bytes, part.get_payload(decode=True) or b"")
        filename = part.get_filename()
        if filename is not None:
            part_type = part.get_content_type() if part.get("Content-Type") else ""
            uploads[name] = Upload(filename, payload, part_type or "application/octet-stream")
        else:
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
    return fields, uploads
