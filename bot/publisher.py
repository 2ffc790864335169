"""Sending a claimed publication through aiogram, and turning Telegram's answer into an
outcome the queue records (``pipeline.publish.claims``).

The publisher decides nothing about what is due; it sends what it is handed, message by
message, reports progress after each one (so a retry never repeats a part that is out),
and classifies failures:

- 429 ``retry_after``: that chat waits (:class:`Deferred`);
- 403: the bot cannot post there (:class:`ChatBlocked`);
- 400 and other client errors: this publication fails with Telegram's description;
- 5xx, or no connection at all: a temporary failure, retried with backoff;
- a timeout or a connection lost after the request went out: Telegram may have delivered
  it, so it is :class:`Ambiguous` and a person settles it (never resent by itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    FSInputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    MessageEntity,
    MessageId,
)
from aiohttp import ClientConnectorError

from pipeline.publish.claims import Claim, render_claim
from pipeline.publish.render import MediaFile, OutMessage, Rendering
from pipeline.store.models import PublicationMode

log = logging.getLogger(__name__)

# Bot API MessageEntity fields; the store may hold more (e.g. text_mention's user_id).
_ENTITY_FIELDS = ("type", "offset", "length", "url", "language", "custom_emoji_id")


@dataclass(frozen=True, slots=True)
class Sent:
    message_ids: list[int]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class Deferred:
    retry_after: float
    message_ids: list[int]
    parts_done: int


@dataclass(frozen=True, slots=True)
class ChatBlocked:
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str


@dataclass(frozen=True, slots=True)
class Ambiguous:
    reason: str


Outcome = Sent | Deferred | ChatBlocked | Failed | Retry | Ambiguous
Progress = Callable[[list[int], int], Awaitable[None]]


def entities_for(items: Sequence[dict[str, Any]]) -> list[MessageEntity] | None:
    entities = [
        MessageEntity(**{k: item[k] for k in _ENTITY_FIELDS if item.get(k) is not None})
        for item in items
        # A mention of a user by id needs the whole User object, which exports do not have.
        if item.get("type") != "text_mention"
    ]
    return entities or None


def classify(error: Exception) -> Outcome:
    """What an exception from aiogram means for the publication."""
    if isinstance(error, TelegramRetryAfter):
        return Deferred(float(error.retry_after), [], 0)
    if isinstance(error, TelegramForbiddenError):
        return ChatBlocked(f"Telegram refused: {error.message}")
    if isinstance(error, TelegramServerError):
        return Retry(f"Telegram server error: {error.message}")
    if isinstance(error, TelegramNetworkError):
        if isinstance(error.__cause__, ClientConnectorError):
            return Retry(f"cannot reach the Bot API: {error.message}")
        return Ambiguous(f"no answer from Telegram ({error.message})")
    if isinstance(error, TelegramBadRequest | TelegramAPIError):
        return Failed(f"Telegram refused: {error.message}")
    raise error


class Publisher:
    """Sends claims through one aiogram ``Bot``."""

    def __init__(self, bot: Bot, *, chat_interval: float = 1.0) -> None:
        self._bot = bot
        self._interval = chat_interval

    async def deliver(self, claim: Claim, progress: Progress) -> Outcome:
        ids = list(claim.message_ids)
        done = claim.parts_done
        try:
            if claim.mode is PublicationMode.SEND:
                rendering = render_claim(claim)
                messages = rendering.messages
                notes = list(rendering.missing)
                for index, message in enumerate(messages):
                    if index < done:
                        continue  # sent by an earlier attempt
                    if index > claim.parts_done:
                        await asyncio.sleep(self._interval)  # at least 1 s apart in one chat
                    ids.extend(await self.send(claim.chat_id, message, silent=claim.silent))
                    done = index + 1
                    if done < len(messages):
                        await progress(ids, done)
                return Sent(ids, notes)
            return Sent(await self._forward(claim), [])
        except Exception as error:  # classified below; anything else propagates
            outcome = classify(error)
            if isinstance(outcome, Deferred):
                return Deferred(outcome.retry_after, ids, done)
            if done and isinstance(outcome, Retry | Failed | ChatBlocked):
                log.warning(
                    "publication %d: %d message(s) out before: %s",
                    claim.publication_id,
                    done,
                    outcome,
                )
            return outcome

    async def _forward(self, claim: Claim) -> list[int]:
        assert claim.from_chat is not None
        source: int | str = (
            int(claim.from_chat) if claim.from_chat.lstrip("-").isdigit() else claim.from_chat
        )
        ids = claim.from_message_ids
        copy = claim.mode is PublicationMode.COPY
        common: dict[str, Any] = {
            "chat_id": claim.chat_id,
            "from_chat_id": source,
            "disable_notification": claim.silent or None,
        }
        if len(ids) == 1:
            if copy:
                result: MessageId | Message = await self._bot.copy_message(
                    message_id=ids[0], **common
                )
            else:
                result = await self._bot.forward_message(message_id=ids[0], **common)
            return [result.message_id]
        # The plural methods keep albums grouped and skip nothing silently: they return the
        # ids of what was sent.
        method = self._bot.copy_messages if copy else self._bot.forward_messages
        results = await method(message_ids=list(ids), **common)
        return [item.message_id for item in results]

    async def preview(self, chat_id: int, rendering: Rendering) -> list[int]:
        """Send a post's messages to ``chat_id`` (an admin's chat) exactly as publishing
        would send them to a channel: the same parts, formatting and albums."""
        ids: list[int] = []
        for index, message in enumerate(rendering.messages):
            if index:
                await asyncio.sleep(self._interval)
            ids.extend(await self.send(chat_id, message, silent=True))
        return ids

    async def send(self, chat: int, message: OutMessage, *, silent: bool = False) -> list[int]:
        """One message of a rendering (an album: its items); Telegram's message ids."""
        silent_or_none = silent or None
        caption = message.text or None
        caption_entities = entities_for(message.entities) if caption else None
        if message.kind == "text":
            sent = await self._bot.send_message(
                chat,
                message.text,
                entities=entities_for(message.entities),
                parse_mode=None,
                disable_notification=silent_or_none,
            )
            return [sent.message_id]
        if message.kind == "album":
            media: list[Any] = [
                _input_media(
                    file, caption if i == 0 else None, caption_entities if i == 0 else None
                )
                for i, file in enumerate(message.media)
            ]
            group = await self._bot.send_media_group(
                chat, media, disable_notification=silent_or_none
            )
            return [item.message_id for item in group]
        (file,) = message.media
        upload = FSInputFile(file.path, filename=file.file_name)
        options: dict[str, Any] = {"disable_notification": silent_or_none}
        if file.kind != "video_note":
            options.update(caption=caption, caption_entities=caption_entities, parse_mode=None)
        if file.kind in {"photo", "video", "animation"} and file.spoiler:
            options["has_spoiler"] = True
        senders: dict[str, Callable[..., Awaitable[Message]]] = {
            "photo": self._bot.send_photo,
            "video": self._bot.send_video,
            "animation": self._bot.send_animation,
            "audio": self._bot.send_audio,
            "document": self._bot.send_document,
            "voice": self._bot.send_voice,
            "video_note": self._bot.send_video_note,
        }
        sent = await senders[file.kind](chat, upload, **options)
        return [sent.message_id]


def _input_media(
    file: MediaFile, caption: str | None, entities: list[MessageEntity] | None
) -> InputMediaPhoto | InputMediaVideo | InputMediaAudio | InputMediaDocument:
    upload = FSInputFile(file.path, filename=file.file_name)
    common: dict[str, Any] = {"caption": caption, "caption_entities": entities, "parse_mode": None}
    if file.kind == "photo":
        return InputMediaPhoto(media=upload, has_spoiler=file.spoiler or None, **common)
    if file.kind == "video":
        return InputMediaVideo(media=upload, has_spoiler=file.spoiler or None, **common)
    if file.kind == "audio":
        return InputMediaAudio(media=upload, **common)
    return InputMediaDocument(media=upload, **common)
