"""Text helpers shared by every parser: UTF-16 offsets, entity building, hashtags and links."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.ingest.model import Entity

# Telegram hashtags: '#' then letters, digits or underscores (any script), not all digits.
# Patterns start with a literal where they can: the regex engine then skips ahead with a fast
# substring search instead of trying every position (this runs on every imported post).
_HASHTAG = re.compile(r"#(\w*[^\W\d]\w*)")
_URL = re.compile(r"""(?i)(?:https?://|www\.|t\.me/)[^\s<>"'«»]+""")
_URL_HINTS = ("http", "HTTP", "Http", "www.", "WWW.", "t.me/", "T.me/")
_TRAILING = ".,;:!?)]}'\""


# HTML tags that map straight onto a Bot API entity type, as Telegram's own pages write them.
HTML_FORMAT_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "tg-spoiler": "spoiler",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of ``text`` an entity covers."""
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


class EntityBuilder:
    """Accumulates text pieces and the entities covering them, tracking UTF-16 offsets.

    Parsers append pieces in document order; ``open``/``close`` nest, so HTML tags map onto it
    directly and a flat list of JSON pieces uses ``add``.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._offset = 0
        self._entities: list[Entity] = []
        self._stack: list[tuple[int, str, dict[str, object]]] = []

    @property
    def offset(self) -> int:
        return self._offset

    def text(self, piece: str) -> None:
        if piece:
            self._parts.append(piece)
            self._offset += utf16_len(piece)

    def add(self, piece: str, type: str | None = None, **attrs: object) -> None:
        """Append ``piece``, formatted as ``type`` when given (``plain`` means unformatted)."""
        start = self._offset
        self.text(piece)
        if type and type != "plain" and self._offset > start:
            self._entities.append(Entity(type, start, self._offset - start, **attrs))  # type: ignore[arg-type]

    def open(self, type: str, **attrs: object) -> None:
        self._stack.append((self._offset, type, attrs))

    def close(self) -> None:
        start, type, attrs = self._stack.pop()
        if self._offset > start:
            self._entities.append(Entity(type, start, self._offset - start, **attrs))  # type: ignore[arg-type]

    def build(self) -> tuple[str, list[Entity]]:
        """The text and its entities, sorted by offset, trimmed to the stripped text."""
        while self._stack:
            self.close()
        raw = "".join(self._parts)
        text = raw.strip()
        lead = utf16_len(raw[: len(raw) - len(raw.lstrip())])
        limit = utf16_len(text)
        if not lead and all(e.offset + e.length <= limit for e in self._entities):
            # Nothing to trim (the usual case): the entities stand as they are.
            entities = list(self._entities)
            entities.sort(key=lambda e: (e.offset, -e.length))
            return text, entities
        entities = []
        for entity in self._entities:
            start = max(entity.offset - lead, 0)
            end = min(entity.offset + entity.length - lead, limit)
            if end > start:
                entities.append(
                    Entity(
                        entity.type,
                        start,
                        end - start,
                        entity.url,
                        entity.language,
                        entity.custom_emoji_id,
                        entity.user_id,
                    )
                )
        entities.sort(key=lambda e: (e.offset, -e.length))
        return text, entities


def extract_hashtags(text: str) -> list[str]:
    """Hashtags in order of first appearance, without duplicates, as written (with '#')."""
    if "#" not in text:
        return []
    seen: dict[str, None] = {}
    for match in _HASHTAG.finditer(text):
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_#"):
            continue  # part of a word or of '##', not a hashtag
        seen.setdefault("#" + match.group(1), None)
    return list(seen)


def extract_links(text: str, entities: Iterable[Entity] = ()) -> list[str]:
    """Every URL in the text or behind a ``text_link``, in order, without duplicates."""
    seen: dict[str, None] = {}
    for entity in entities:
        if entity.type == "text_link" and entity.url:
            seen.setdefault(entity.url, None)
    if not any(hint in text for hint in _URL_HINTS):
        return list(seen)
    for match in _URL.finditer(text):
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue  # e.g. 'xhttp://' or 'abcwww.' is not the start of a link
        url = match.group(0).rstrip(_TRAILING)
        if not url.lower().startswith(("http://", "https://")):
            url = "https://" + url
        seen.setdefault(url, None)
    return list(seen)
