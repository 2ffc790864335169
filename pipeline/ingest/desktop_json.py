"""Telegram Desktop JSON exports (``result.json``), read as a stream.

Two layouts, both written by ``export_output_json.cpp`` in tdesktop:

* "Export chat history" of one chat: ``{"name", "type", "id", "messages": [...]}``;
* a full account export: ``{"about", "personal_information", …, "chats": {"about", "list": [chat,
  …]}, "left_chats": {…}}`` where every chat has the single-chat shape (Saved Messages and Replies
  have no ``name``).

The file can be far larger than memory, so it is never loaded whole. ijson's C backend builds one
message at a time (``ijson.items`` on the messages prefix), which keeps memory flat and is several
times faster than building messages from the raw parse events in Python. ``ijson.items`` cannot
say which chat a message belongs to, so a survey pass reads the chat-level events first: for a
one-chat export it stops at the start of ``messages`` (tdesktop writes name, type and id first),
so it costs nothing; for a full export, or a one-chat file whose keys were reordered
(``jq -S``), it reads the whole file once to learn every chat's metadata and message count, and
the second pass hands the messages out to the chats by those counts. ``ParseOptions.channel``
picks one chat of a full export (by name, @name or id); a one-chat export names itself and
ignores it.

ijson reports a syntax error with the text around it, not its offset; the error is placed by
parsing again, one byte at a time from the chunk that failed (only ever on the error path).

Conventions of the format that matter here:

* ``date_unixtime`` is the true UTC time; ``date`` is the exporter's local wall-clock time and is
  used only when an old export has no ``date_unixtime`` (read in ``ParseOptions.timezone``).
* ``text_entities`` is always a list of ``{"type", "text", …}`` parts; ``text`` is a string or a
  list of strings and parts. tdesktop flattens nested formatting, so parts never overlap.
* Files the export did not download are written as ``"(File not included. Change data exporting
  settings to download.)"`` (or "exceeds maximum size" / "unavailable") instead of a path.
* ``author`` is the post's signature. Without one, the sender (``from``, ``from_id``) is the
  author unless it is the chat itself: a channel's own posts (``from_id`` ``channel<id>``) have
  none, while in a personal chat or a group every sender is an author, even one named like the
  chat (a personal chat bears the other person's name).
* A channel's export ``id`` is the bare channel id; the Bot API calls the same chat
  ``-100<id>``. :class:`ChannelInfo` keeps the positive export id, which is what
  ``pipeline.channels.find_channel`` compares after stripping ``-100``.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import json
import logging
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ijson

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
from pipeline.ingest.source import detect_encoding
from pipeline.ingest.textutil import EntityBuilder
from pipeline.usernames import normalise_username

FORMAT = "desktop-json"

logger = logging.getLogger(__name__)

_BUF = 65536
_SECTIONS = ("chats", "left_chats")
# Chat types tdesktop writes without a "name".
_UNNAMED = {"saved_messages": "Saved Messages", "replies": "Replies"}
# Chats where only the chat itself posts; every other known type is a conversation.
_CHANNEL_TYPES = frozenset({"public_channel", "private_channel"})
# ijson events that start a value (as opposed to map keys and container ends).
_VALUE_STARTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})
_SNIFF = re.compile(
    r'"(?:messages"\s*:\s*\[|chats"\s*:\s*\{|left_chats"\s*:\s*\{|personal_information"\s*:'
    r'|date_unixtime"\s*:)'
)

# Export part type -> Bot API entity type; anything else (plain, bank_card, unknown, types a
# newer tdesktop invents) keeps its text and gets no entity.
_ENTITY_TYPES = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "strikethrough": "strikethrough",
    "spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "text_link": "text_link",
    "link": "url",
    "url": "url",
    "mention": "mention",
    "mention_name": "text_mention",
    "text_mention": "text_mention",
    "hashtag": "hashtag",
    "cashtag": "cashtag",
    "bot_command": "bot_command",
    "email": "email",
    "phone": "phone_number",
    "phone_number": "phone_number",
    "blockquote": "blockquote",
    "expandable_blockquote": "expandable_blockquote",
    "custom_emoji": "custom_emoji",
}
# Entity types that carry nothing but their span.
_SIMPLE_ENTITIES = frozenset(_ENTITY_TYPES.values()) - {
    "text_link",
    "pre",
    "blockquote",
    "custom_emoji",
    "text_mention",
}
_MEDIA_TYPES = {
    "sticker": "sticker",
    "video_file": "video",
    "video_message": "video_note",
    "voice_message": "voice",
    "audio_file": "audio",
    "animation": "animation",
}


def sniff(path: Path, head: str) -> bool:
    """A JSON object with the keys of a Telegram Desktop export near its start."""
    text = head.lstrip("\ufeff \t\r\n")
    return text.startswith("{") and _SNIFF.search(text) is not None


def parse(path: Path, options: ParseOptions) -> Iterator[Event]:
    """Every chat (or the one ``options.channel`` names), then its posts with albums folded."""
    # Desktop JSON has no grouped_id: album items are separate messages sharing a second.
    yield from group_albums(parse_messages(path, options))


def parse_messages(path: Path, options: ParseOptions) -> Iterator[Event]:
    """Like :func:`parse` but one post per exported message (album items not folded)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    with handle:
        source = _Source(path, handle)
        survey = source.survey()
        if survey.single is not None:
            if survey.chats:
                logger.warning("%s: a one-chat export with a chat list too; reading the chat", path)
            yield from source.single_chat(survey.single, options)
            return
        wanted = _select(path, survey.chats, options.channel)
        for section in dict.fromkeys(chat.section for chat in survey.chats):
            yield from source.section(section, survey.chats, wanted, options)


# --- the file --------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Chat:
    section: str  # "" for a one-chat export, else "chats" / "left_chats"
    name: str | None = None
    type: str | None = None
    id: int | None = None
    count: int = 0  # message items; known when the survey read the whole chat
    has_messages: bool = False

    @property
    def title(self) -> str | None:
        return self.name if self.name is not None else _UNNAMED.get(self.type or "")

    def describe(self) -> str:
        return f"{self.title or '(unnamed)'} (id {self.id}, {self.type or 'unknown type'})"

    def info(self) -> ChannelInfo:
        return ChannelInfo(title=self.title, telegram_id=self.id)


@dataclass(slots=True)
class _Survey:
    single: _Chat | None  # the chat of a one-chat export
    chats: list[_Chat]  # the chats of a full export, in file order
    complete: bool  # False when it stopped at the start of a one-chat export's messages


class _Reader:
    """What ijson reads from: the file as UTF-8, remembering where each chunk started.

    ``exact_from`` makes it hand out single bytes from that offset on, so a second parse can
    find the exact byte a syntax error is at (ijson only shows the text around it).
    """

    def __init__(self, handle: IO[bytes], encoding: str, exact_from: int | None = None) -> None:
        handle.seek(0)
        if encoding == "utf-8-sig":
            handle.read(len(codecs.BOM_UTF8))
        self._handle = handle
        self._decoder = (
            None if encoding in ("utf-8", "utf-8-sig") else codecs.getincrementaldecoder(encoding)()
        )
        self._pending = b""
        self._exact_from = exact_from
        self.chunk_start = 0  # offset of the chunk handed out last
        self.position = 0  # offset of the next chunk

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson's probe for bytes versus str
        if size < 0:
            size = _BUF
        if self._exact_from is not None:
            size = max(1, min(size, self._exact_from - self.position))
        data = self._transcode(size) if self._decoder else self._handle.read(size)
        self.chunk_start = self.position
        self.position += len(data)
        return data

    def _transcode(self, size: int) -> bytes:
        # UTF-16/32 (a file re-saved by an editor) or cp1251: ijson only reads UTF-8.
        assert self._decoder is not None
        while len(self._pending) < size:
            block = self._handle.read(_BUF)
            self._pending += self._decoder.decode(block, final=not block).encode("utf-8")
            if not block:
                break
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


class _Source:
    """One export file: the survey, the message passes, and errors placed at their byte."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.handle = handle
        head = handle.read(_BUF)
        if not head.strip():
            raise ParseError(str(path), None, "empty file")
        self.encoding = _encoding(head, path)
        self.zone_used = False
        self.zone_noted = False
        self._zone: tzinfo | None = None

    def reader(self, exact_from: int | None = None) -> _Reader:
        return _Reader(self.handle, self.encoding, exact_from)

    def survey(self) -> _Survey:
        reader = self.reader()
        try:
            survey = _survey(self.path, ijson.parse(reader, buf_size=_BUF, use_float=True))
        except (ijson.JSONError, UnicodeError) as exc:
            raise self.error(exc, reader) from None
        logger.debug("%s: survey %s", self.path, "complete" if survey.complete else "stopped early")
        return survey

    def single_chat(self, chat: _Chat, options: ParseOptions) -> Iterator[Event]:
        """The posts of a one-chat export."""
        yield chat.info()
        context = _Context(self, chat, options, None)
        reader = self.reader()
        try:
            for raw in ijson.items(reader, "messages.item", buf_size=_BUF, use_float=True):
                yield from self.converted(context, raw, options)
        except (ijson.JSONError, UnicodeError) as exc:
            raise self.error(exc, reader) from None
        if note := context.repeats.note():
            yield note

    def section(
        self, section: str, chats: list[_Chat], wanted: list[_Chat], options: ParseOptions
    ) -> Iterator[Event]:
        """The posts of the wanted chats of one section of a full export, shared out by count."""
        plan = [chat for chat in chats if chat.section == section]
        take = [any(chat is other for other in wanted) and chat.count > 0 for chat in plan]
        if not any(take):
            return
        # Chats after the last wanted one need not be read at all.
        plan = plan[: max(i for i, flag in enumerate(take) if flag) + 1]
        reader = self.reader()
        items = ijson.items(
            reader, f"{section}.list.item.messages.item", buf_size=_BUF, use_float=True
        )
        try:
            for chat, flag in zip(plan, take, strict=False):
                context = _Context(self, chat, options, f"chat {chat.title!r}")
                if flag:
                    yield chat.info()
                for _ in range(chat.count):
                    raw = next(items, _END)
                    if raw is _END:
                        raise ParseError(str(self.path), None, "the file changed while reading it")
                    if flag:
                        yield from self.converted(context, raw, options)
                if flag and (note := context.repeats.note(context.where)):
                    yield note
        except (ijson.JSONError, UnicodeError) as exc:
            raise self.error(exc, reader) from None

    def converted(self, context: _Context, raw: Any, options: ParseOptions) -> Iterator[Event]:
        """One message's event, preceded by the time-zone note the first time it applies;
        nothing for a message listed again exactly as before."""
        event = context.convert(raw)
        message_id = event.message_id
        assert message_id is not None  # convert refuses a message without an id
        if not context.repeats.first_time(
            message_id, event, lambda reason: context.fail(message_id, reason)
        ):
            return
        if self.zone_used and not self.zone_noted:
            yield self.zone_note(options)
        yield event

    def zone(self, name: str) -> tzinfo:
        if self._zone is None:
            try:
                self._zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ParseError(str(self.path), None, f"unknown time zone {name!r}") from None
        self.zone_used = True
        return self._zone

    def zone_note(self, options: ParseOptions) -> Note:
        self.zone_noted = True
        logger.info("%s: dates have no time zone; reading them as %s", self.path, options.timezone)
        return Note(
            f"{self.path.name}: an old export without UTC times; its dates were read as "
            f"{options.timezone} local time"
        )

    def error(self, exc: Exception, reader: _Reader) -> ParseError:
        """A ParseError naming the byte the JSON breaks at."""
        return ParseError(str(self.path), f"byte {self._locate(reader.chunk_start)}", _reason(exc))

    def _locate(self, chunk_start: int) -> int:
        """Parse again, one byte at a time from the failing chunk on, to find the exact byte."""
        reader = self.reader(exact_from=chunk_start)
        try:
            deque(ijson.basic_parse(reader, buf_size=_BUF), maxlen=0)
        except (ijson.JSONError, UnicodeError):
            return reader.chunk_start
        return chunk_start


_END: Any = object()


def _encoding(head: bytes, path: Path) -> str:
    """UTF-8 unless a BOM says otherwise or the file really is cp1251.

    JSON is UTF-8, and Telegram writes nothing else; ``detect_encoding`` would call a UTF-8 export
    with one corrupt byte "unknown" or, when its text is Russian, cp1251 (UTF-8 Cyrillic read as
    cp1251 is still Cyrillic) and import mojibake. When nearly all of the non-ASCII text decodes
    as UTF-8 it is UTF-8, and the parser then names the corrupt byte.
    """
    try:
        encoding = detect_encoding(head, path)
    except ParseError:
        if b"\x00" in head or not _mostly_utf8(head):
            raise
        return "utf-8"
    return "utf-8" if encoding == "cp1251" and _mostly_utf8(head) else encoding


def _mostly_utf8(head: bytes) -> bool:
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - bad >= 4 * bad


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeError):
        return f"invalid text encoding ({exc})"
    message = str(exc)
    if message.startswith(("b'", 'b"')):
        # ijson shows raw bytes when the text around the error is not valid UTF-8.
        with contextlib.suppress(ValueError, SyntaxError, AttributeError):
            message = ast.literal_eval(message).decode("utf-8", "replace")
    first = message.strip().split("\n", 1)[0]
    for prefix in ("parse error: ", "lexical error: "):
        first = first.removeprefix(prefix)
    if first.startswith("premature EOF"):
        return "the file ends in the middle of the JSON (truncated export?)"
    return f"invalid JSON ({first.rstrip('.')})"


def _survey(path: Path, events: Iterator[tuple[str, str, Any]]) -> _Survey:
    """Read the chat-level events: which chats there are, their metadata and message counts.

    Only a few prefixes matter, so each event costs one dict lookup; a one-chat export whose
    header came first is done as soon as its ``messages`` list starts.
    """
    single: _Chat | None = None
    chats: list[_Chat] = []
    current: _Chat | None = None
    first = True
    for prefix, event, value in events:
        if first:
            if prefix != "" or event != "start_map":
                raise ParseError(str(path), "byte 0", "not a JSON object, so not a Telegram export")
            first = False
            continue
        where = _PREFIXES.get(prefix)
        if where is None:
            continue
        role, section = where
        is_value = event in _VALUE_STARTS
        if role == "meta":
            if event not in ("string", "number"):
                continue
            if section:
                if current is not None:
                    _set_meta(current, prefix.rpartition(".")[2], value)
            else:
                single = single or _Chat("")
                _set_meta(single, prefix, value)
        elif role == "messages":
            if not section and single is None:
                single = _Chat("")
            owner = current if section else single
            if event == "start_array":
                if owner is None:
                    continue
                owner.has_messages = True
                if owner is single and not chats and _header_known(owner):
                    return _Survey(owner, [], complete=False)
            elif is_value:
                raise ParseError(str(path), None, f'"{prefix}" is not a list')
        elif role == "item":
            owner = current if section else single
            if is_value and owner is not None:
                owner.count += 1
        elif role == "chat":
            if event == "start_map":
                current = _Chat(section)
                chats.append(current)
            elif is_value:
                raise ParseError(str(path), None, f"an entry of {section}.list is not an object")
        elif role == "list":
            if is_value and event != "start_array":
                raise ParseError(str(path), None, f'"{prefix}" is not a list')
        elif role == "section" and is_value and event != "start_map":
            raise ParseError(str(path), None, f'"{prefix}" is not an object')
    if single is not None and single.has_messages:
        return _Survey(single, chats, complete=True)
    if not chats:
        raise ParseError(
            str(path), None, 'no "messages" list and no "chats": not a Telegram chat export'
        )
    return _Survey(None, chats, complete=True)


def _prefixes() -> dict[str, tuple[str, str]]:
    table = {
        "name": ("meta", ""),
        "type": ("meta", ""),
        "id": ("meta", ""),
        "messages": ("messages", ""),
        "messages.item": ("item", ""),
    }
    for section in _SECTIONS:
        table[section] = ("section", section)
        table[f"{section}.list"] = ("list", section)
        table[f"{section}.list.item"] = ("chat", section)
        for key in ("name", "type", "id"):
            table[f"{section}.list.item.{key}"] = ("meta", section)
        table[f"{section}.list.item.messages"] = ("messages", section)
        table[f"{section}.list.item.messages.item"] = ("item", section)
    return table


_PREFIXES = _prefixes()


def _set_meta(chat: _Chat, key: str, value: Any) -> None:
    if key == "name" and type(value) is str:
        chat.name = value
    elif key == "type" and type(value) is str:
        chat.type = value
    elif key == "id" and type(value) is int:
        chat.id = value


def _header_known(chat: _Chat) -> bool:
    return chat.id is not None and chat.type is not None and chat.title is not None


def _select(path: Path, chats: list[_Chat], wanted: str | None) -> list[_Chat]:
    """The chats of a full export to import: all, or the one ``wanted`` names (name, @name, id)."""
    if not wanted or not wanted.strip():
        return chats
    needle = wanted.strip()
    names = {needle.casefold(), normalise_username(needle).casefold()}
    digits = needle.removeprefix("-100") if needle.startswith("-100") else needle.lstrip("-")
    number = int(digits) if digits.isdigit() else None
    matches = [
        chat
        for chat in chats
        if (number is not None and chat.id == number)
        or (chat.title is not None and chat.title.casefold() in names)
    ]
    if len(matches) == 1:
        return matches
    if matches:
        listed = "; ".join(chat.describe() for chat in matches)
        raise ParseError(
            str(path), None, f"{needle!r} matches several chats ({listed}); give its id instead"
        )
    listed = "; ".join(chat.describe() for chat in chats[:40])
    more = f"; and {len(chats) - 40} more" if len(chats) > 40 else ""
    raise ParseError(
        str(path), None, f"no chat {needle!r} in this export; it holds: {listed}{more}"
    )


# --- one message -----------------------------------------------------------------------------


class _Context:
    """Converts the message objects of one chat."""

    def __init__(
        self, source: _Source, chat: _Chat, options: ParseOptions, where: str | None
    ) -> None:
        self.source = source
        self.path = str(source.path)
        self.title = chat.title
        # tdesktop writes a channel's (or a group's own) sender id as "channel<id>".
        self.own_id = f"channel{chat.id}" if chat.id is not None else None
        self.conversation = chat.type is not None and chat.type not in _CHANNEL_TYPES
        self.options = options
        self.where = where
        self.ordinal = 0
        self.repeats = Repeats()  # message ids are per chat

    def is_the_chat(self, sender: str, sender_id: str | None) -> bool:
        """Whether a message's sender is the chat itself (a channel's own post), which is no
        author. In a conversation (a personal chat bears the other person's name, a group
        member may share the group's) every sender is one."""
        if self.conversation:
            return False
        return sender == self.title or (sender_id is not None and sender_id == self.own_id)

    def fail(self, message_id: object, reason: str) -> ParseError:
        place = f"message {message_id}"
        return ParseError(self.path, f"{self.where}, {place}" if self.where else place, reason)

    def convert(self, raw: Any) -> ParsedPost | Skipped:
        self.ordinal += 1
        if type(raw) is not dict:
            raise self.fail(f"#{self.ordinal}", "a message that is not a JSON object")
        message_id = raw.get("id")
        if type(message_id) is not int:
            raise self.fail(f"#{self.ordinal}", "a message without a numeric id")
        kind = raw.get("type")
        if kind != "message":
            return Skipped(message_id, "service" if kind == "service" else "unsupported")
        date = self.date(raw, message_id, "date")
        if date is None:
            raise self.fail(message_id, "a message without a date")
        text, entities = self.text(raw, message_id)
        media = self.media(raw, message_id)
        if not text and not media:
            return Skipped(message_id, "empty")
        author = raw.get("author")
        author_id = None
        if type(author) is not str or not author:
            author = None
            sender = raw.get("from")
            sender_id = raw.get("from_id")
            sender_id = sender_id if type(sender_id) is str and sender_id else None
            if type(sender) is str and sender and not self.is_the_chat(sender, sender_id):
                author, author_id = sender, sender_id
        forwarded = raw.get("forwarded_from")
        reply_to = raw.get("reply_to_message_id")
        if type(reply_to) is not int or "reply_to_peer_id" in raw:
            # A reply to a message of another chat names nothing in this one.
            reply_to = None
        views = raw.get("views")
        reactions = raw.get("reactions")
        return ParsedPost(
            message_id=message_id,
            text=text,
            entities=entities,
            date=date,
            edited=self.date(raw, message_id, "edited")
            if "edited_unixtime" in raw or "edited" in raw
            else None,
            author=author,
            author_id=author_id,
            forwarded_from=forwarded if type(forwarded) is str and forwarded else None,
            reply_to=reply_to,
            media=media,
            reactions=self.reactions(reactions, message_id) if reactions else [],
            views=views if type(views) is int and views >= 0 else None,
        )

    # --- dates -------------------------------------------------------------------------------

    def date(self, raw: dict[str, Any], message_id: int, key: str) -> datetime | None:
        stamp = raw.get(key + "_unixtime")
        if stamp is not None:
            try:
                return datetime.fromtimestamp(int(stamp), UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                raise self.fail(message_id, f"invalid {key}_unixtime {stamp!r}") from None
        local = raw.get(key)
        if local is None:
            return None
        # Exports older than 2022 have no unixtime: the local time of the exporting machine.
        if type(local) is not str:
            raise self.fail(message_id, f"invalid {key} {local!r}")
        try:
            value = datetime.fromisoformat(local)
        except ValueError:
            raise self.fail(message_id, f"invalid {key} {local!r}") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.source.zone(self.options.timezone))
        try:
            return value.astimezone(UTC)
        except (ValueError, OverflowError):
            raise self.fail(message_id, f"invalid {key} {local!r}") from None

    # --- text --------------------------------------------------------------------------------

    def text(self, raw: dict[str, Any], message_id: int) -> tuple[str, list[Entity]]:
        parts = raw.get("text_entities")
        if parts is None:
            parts = raw.get("text", "")
        if type(parts) is str:
            return parts.strip(), []
        if type(parts) is not list:
            raise self.fail(message_id, "text is neither a string nor a list")
        # Unformatted runs are collected and handed to the builder in one piece: most parts
        # are plain, and a post without entities never needs the builder at all.
        plain: list[str] = []
        builder: EntityBuilder | None = None
        for part in parts:
            if type(part) is str:
                plain.append(part)
                continue
            if type(part) is not dict:
                raise self.fail(message_id, "a text part that is neither a string nor an object")
            piece = part.get("text")
            if type(piece) is not str:
                raise self.fail(message_id, "a text part without text")
            name = part.get("type")
            kind = _ENTITY_TYPES.get(name) if type(name) is str else None
            if kind is None or not piece:
                plain.append(piece)
                continue
            if builder is None:
                builder = EntityBuilder()
            if plain:
                builder.text("".join(plain))
                plain.clear()
            if kind in _SIMPLE_ENTITIES:
                builder.add(piece, kind)
            elif kind == "text_link":
                href = part.get("href")
                if type(href) is str and href:
                    builder.add(piece, kind, url=href)
                else:
                    builder.text(piece)
            elif kind == "pre":
                language = part.get("language")
                if type(language) is str and language:
                    builder.add(piece, kind, language=language)
                else:
                    builder.add(piece, kind)
            elif kind == "blockquote":
                collapsed = part.get("collapsed") is True
                builder.add(piece, "expandable_blockquote" if collapsed else kind)
            elif kind == "custom_emoji":
                document = part.get("document_id")
                if type(document) in (str, int) and document != "":
                    builder.add(piece, kind, custom_emoji_id=str(document))
                else:
                    builder.text(piece)
            else:  # text_mention
                user = _user_id(part.get("user_id"))
                if user is not None:
                    builder.add(piece, kind, user_id=user)
                else:
                    builder.text(piece)
        if builder is None:
            return "".join(plain).strip(), []
        if plain:
            builder.text("".join(plain))
        return builder.build()

    # --- reactions ---------------------------------------------------------------------------

    def reactions(self, raw: Any, message_id: int) -> list[Reaction]:
        if type(raw) is not list:
            raise self.fail(message_id, "reactions is not a list")
        reactions = []
        for item in raw:
            if type(item) is not dict:
                raise self.fail(message_id, "a reaction that is not an object")
            count = item.get("count")
            if type(count) is not int or count < 0:
                raise self.fail(message_id, f"reaction count {count!r}")
            kind = item.get("type", "emoji")
            if kind == "emoji":
                emoji = item.get("emoji")
                if type(emoji) is not str or not emoji:
                    raise self.fail(message_id, "an emoji reaction without its emoji")
                key = emoji
            elif kind == "custom_emoji":
                document = item.get("document_id")
                if type(document) not in (str, int) or document == "":
                    raise self.fail(message_id, "a custom emoji reaction without its document")
                key = f"custom:{document}"
            elif kind == "paid":
                key = "paid"
            else:
                continue  # "empty" and reaction kinds a newer tdesktop may add
            if count:
                reactions.append(Reaction(key, count))
        return reactions

    # --- media -------------------------------------------------------------------------------

    def media(self, raw: dict[str, Any], message_id: int) -> list[MediaItem]:
        if "photo" in raw:
            item = MediaItem("photo")
            _attach_file(item, raw.get("photo"))
            item.size = _count(raw.get("photo_file_size"))
        elif "file" in raw or "media_type" in raw:
            media_type = raw.get("media_type")
            kind = _MEDIA_TYPES.get(media_type) if type(media_type) is str else None
            item = MediaItem(kind or "document")
            _attach_file(item, raw.get("file"))
            item.file_name = _text_or_none(raw.get("file_name"))
            item.mime_type = _text_or_none(raw.get("mime_type"))
            item.size = _count(raw.get("file_size"))
            item.duration = _count(raw.get("duration_seconds"))
            if item.kind == "sticker" and type(raw.get("sticker_emoji")) is str:
                item.extra["emoji"] = raw["sticker_emoji"]
            elif item.kind == "audio":
                for key in ("performer", "title"):
                    if type(raw.get(key)) is str and raw[key]:
                        item.extra[key] = raw[key]
            elif item.kind == "document" and type(media_type) is str:
                item.extra["media_type"] = media_type
        else:
            special = self.special_media(raw, message_id)
            return [special] if special is not None else []
        item.width = _count(raw.get("width"))
        item.height = _count(raw.get("height"))
        if raw.get("media_spoiler") is True:
            item.extra["spoiler"] = True
        ttl = _count(raw.get("self_destruct_period_seconds"))
        if ttl:
            item.extra["self_destruct_seconds"] = ttl
        return [item]

    def special_media(self, raw: dict[str, Any], message_id: int) -> MediaItem | None:
        if "poll" in raw:
            return self.poll(raw["poll"], message_id)
        if "contact_information" in raw:
            contact = raw["contact_information"]
            if type(contact) is not dict:
                raise self.fail(message_id, "contact_information is not an object")
            first = _text_or_none(contact.get("first_name")) or ""
            last = _text_or_none(contact.get("last_name")) or ""
            item = MediaItem(
                "contact",
                extra={"name": f"{first} {last}".strip(), "phone": contact.get("phone_number")},
            )
            _attach_file(item, raw.get("contact_vcard"))
            return item
        if "place_name" in raw or "address" in raw:
            extra = {"title": raw.get("place_name"), "address": raw.get("address")}
            extra.update(self.point(raw.get("location_information"), message_id))
            return MediaItem("venue", extra=extra)
        if "location_information" in raw:
            extra = self.point(raw["location_information"], message_id)
            period = _count(raw.get("live_location_period_seconds"))
            if period:
                extra.update(live=True, live_period=period)
            return MediaItem("location", extra=extra)
        if "game_title" in raw:
            extra = {"title": raw.get("game_title"), "description": raw.get("game_description")}
            if type(raw.get("game_link")) is str:
                extra["url"] = raw["game_link"]
            return MediaItem("game", extra=extra)
        if "invoice_information" in raw:
            return MediaItem("invoice", extra=_invoice(raw["invoice_information"]))
        if "todo_list" in raw:
            todo = raw["todo_list"]
            if type(todo) is not dict:
                raise self.fail(message_id, "todo_list is not an object")
            tasks = todo.get("answers")
            items = [
                _plain(task.get("text"), self, message_id)
                for task in (tasks if type(tasks) is list else [])
                if type(task) is dict
            ]
            title = _plain(todo.get("title"), self, message_id)
            return MediaItem(
                "unsupported", extra={"type": "todo_list", "title": title, "items": items}
            )
        for key, label in (
            ("giveaway_information", "giveaway"),
            ("giveaway_results", "giveaway_results"),
            ("paid_stars_amount", "paid_media"),
        ):
            if key in raw:
                return MediaItem("unsupported", extra={"type": label, "details": raw[key]})
        return None

    def poll(self, poll: Any, message_id: int) -> MediaItem:
        if type(poll) is not dict:
            raise self.fail(message_id, "poll is not an object")
        answers = []
        listed = poll.get("answers")
        for answer in listed if type(listed) is list else []:
            if type(answer) is not dict:
                raise self.fail(message_id, "a poll answer that is not an object")
            answers.append(
                {
                    "text": _plain(answer.get("text"), self, message_id),
                    "voters": _count(answer.get("voters")) or 0,
                    "chosen": answer.get("chosen") is True,
                }
            )
        extra: dict[str, Any] = {
            "question": _plain(poll.get("question"), self, message_id),
            "closed": poll.get("closed") is True,
            "answers": answers,
        }
        total = _count(poll.get("total_voters"))
        if total is not None:
            extra["total_voters"] = total
        return MediaItem("poll", extra=extra)

    def point(self, value: Any, message_id: int) -> dict[str, Any]:
        if value is None:
            return {}
        if type(value) is not dict:
            raise self.fail(message_id, "location_information is not an object")
        latitude, longitude = value.get("latitude"), value.get("longitude")
        if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
            return {}
        return {"latitude": float(latitude), "longitude": float(longitude)}


def _plain(value: Any, context: _Context, message_id: int) -> str:
    """The text of a string-or-parts value (poll questions, todo items), formatting dropped."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is not list:
        raise context.fail(message_id, "a text that is neither a string nor a list")
    pieces = []
    for part in value:
        if type(part) is str:
            pieces.append(part)
        elif type(part) is dict and type(part.get("text")) is str:
            pieces.append(part["text"])
        else:
            raise context.fail(message_id, "a text part without text")
    return "".join(pieces)


def _attach_file(item: MediaItem, value: Any) -> None:
    """The file's path in the export, or the note that the export left it out."""
    if type(value) is not str or not value:
        return
    if value.startswith("(") and value.endswith(")"):
        # "(File not included. Change data exporting settings to download.)" and kin.
        item.extra["not_included"] = True
        return
    item.file = value


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _text_or_none(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _user_id(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def _invoice(value: Any) -> dict[str, Any]:
    # tdesktop serialises the invoice object a second time, as a string holding its JSON.
    if type(value) is str:
        try:
            value = json.loads(value)
        except ValueError:
            return {"text": value}
    if type(value) is not dict:
        return {}
    return {
        key: value[key]
        for key in ("title", "description", "amount", "currency", "receipt_message_id")
        if key in value
    }
