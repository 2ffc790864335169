"""What a stored post becomes in Telegram: the messages, in order, that publishing sends.

Pure: the publisher (``bot/publisher.py``) turns each :class:`OutMessage` into one Bot API
call, the queue charges the send limits by :attr:`Rendering.size`, and previews show the
same split parts. Text over 4096 characters is split (``pipeline.publish.split``); a caption
over 1024 moves, whole, to text messages after the media; albums go as media groups of at
most 10 items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.publish.split import Part, split_caption, split_text

ALBUM_LIMIT = 10
# Media kinds the Bot API can send from a file; others (polls, locations, previews...) are
# described in the export but not republished from it.
SENDABLE = frozenset({"photo", "video", "animation", "audio", "document", "voice", "video_note"})
# Kinds that may share one media group: photos and videos mix, audio and documents each only
# with their own kind.
_ALBUM_FAMILY = {"photo": "visual", "video": "visual", "audio": "audio", "document": "document"}
_CAPTIONLESS = frozenset({"video_note"})
# Descriptors that are not content of their own (a link preview is drawn from the text).
_NOT_MEDIA = frozenset({"link_preview"})


@dataclass(frozen=True, slots=True)
class MediaFile:
    kind: str
    path: Path
    file_name: str | None = None
    spoiler: bool = False


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One Bot API call: a text message, one media message, or one media group."""

    kind: Literal["text", "media", "album"]
    text: str = ""  # the text, or the caption of the media (of an album's first item)
    entities: list[dict[str, Any]] = field(default_factory=list)
    media: tuple[MediaFile, ...] = ()

    @property
    def size(self) -> int:
        """Messages it makes in the chat (Telegram counts every album item)."""
        return len(self.media) if self.kind == "album" else 1


@dataclass(frozen=True, slots=True)
class Rendering:
    messages: list[OutMessage]
    missing: list[str]  # media that cannot go out, described for the admins

    @property
    def size(self) -> int:
        return sum(message.size for message in self.messages)


def _describe(item: Mapping[str, Any]) -> str:
    name = item.get("file_name") or item.get("file")
    kind = str(item.get("kind", "media"))
    return f"{kind} {name}" if name else kind


def _media_files(media: Sequence[Mapping[str, Any]]) -> tuple[list[MediaFile], list[str]]:
    files: list[MediaFile] = []
    missing: list[str] = []
    for item in media:
        kind = str(item.get("kind", ""))
        if kind in _NOT_MEDIA:
            continue
        path = item.get("path")
        if kind not in SENDABLE:
            missing.append(f"{_describe(item)} (tgpipe cannot republish a {kind})")
        elif not path or not Path(path).is_file():
            reason = "not in the export" if not path else "file no longer there"
            missing.append(f"{_describe(item)} ({reason})")
        else:
            extra = item.get("extra") or {}
            files.append(
                MediaFile(
                    kind=kind,
                    path=Path(path),
                    file_name=item.get("file_name"),
                    spoiler=bool(extra.get("spoiler")),
                )
            )
    return files, missing


def _groups(files: list[MediaFile]) -> list[list[MediaFile]]:
    """Consecutive files that may share a media group, at most 10 each, in order."""
    groups: list[list[MediaFile]] = []
    for file in files:
        family = _ALBUM_FAMILY.get(file.kind)
        last = groups[-1] if groups else None
        if (
            last is not None
            and family is not None
            and _ALBUM_FAMILY.get(last[0].kind) == family
            and len(last) < ALBUM_LIMIT
        ):
            last.append(file)
        else:
            groups.append([file])
    return groups


def _text_messages(parts: list[Part]) -> list[OutMessage]:
    return [OutMessage("text", part.text, part.entities) for part in parts]


def render_post(
    text: str, entities: Sequence[Mapping[str, Any]], media: Sequence[Mapping[str, Any]]
) -> Rendering:
    """The messages publishing a post sends, and the media it has to leave out."""
    files, missing = _media_files(media)
    if not files:
        return Rendering(_text_messages(split_text(text, entities)), missing)
    groups = _groups(files)
    first = groups[0]
    caption, rest = (None, []) if first[0].kind in _CAPTIONLESS else split_caption(text, entities)
    if caption is None and first[0].kind in _CAPTIONLESS:
        rest = split_text(text, entities)
    messages: list[OutMessage] = []
    for index, group in enumerate(groups):
        kind: Literal["media", "album"] = "album" if len(group) > 1 else "media"
        if index == 0 and caption is not None:
            messages.append(OutMessage(kind, caption.text, caption.entities, tuple(group)))
        else:
            messages.append(OutMessage(kind, media=tuple(group)))
    messages.extend(_text_messages(rest))
    return Rendering(messages, missing)
