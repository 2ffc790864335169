"""Text helpers shared by every parser: UTF-16 offsets, entity building, hashtags and links,
and the text of HTML elements."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

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


# --- the text of HTML elements ------------------------------------------------------------

# Elements a browser sets on lines of their own; a <br> ends a line too.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
        "tr", "ul",
    }
)  # fmt: skip
_UNSEEN_TAGS = frozenset({"script", "style", "template"})
_WHITESPACE = re.compile(r"\s+")


class _Lines:
    """Text laid out as lines the way a browser shows it: runs of whitespace in the markup
    are one space, never at the start or end of a line."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.at_line_start = True
        self.space = False

    def add(self, piece: str, verbatim: bool) -> None:
        if verbatim:
            self.verbatim(piece)
        else:
            self.text(piece)

    def text(self, piece: str) -> None:
        if not piece:
            return
        collapsed = _WHITESPACE.sub(" ", piece)
        core = collapsed.strip(" ")
        if not core:
            self.space = True
            return
        if (self.space or collapsed[0] == " ") and not self.at_line_start:
            self.parts.append(" ")
        self.parts.append(core)
        self.at_line_start = False
        self.space = collapsed[-1] == " "

    def verbatim(self, piece: str) -> None:
        if piece:
            self.parts.append(piece)
            self.at_line_start = piece[-1] == "\n"
            self.space = False

    def line_break(self) -> None:
        self.parts.append("\n")
        self.at_line_start = True
        self.space = False

    def end_line(self) -> None:
        """Where a block starts or ends: a new line, unless one has just begun."""
        if not self.at_line_start:
            self.line_break()


def element_text(element: Any, skip: Callable[[Any], bool] | None = None) -> str:
    """The text of an lxml element as lines, as a browser lays it out.

    ``<br>`` and the edges of block elements (``div``, ``p``, ``li``…) end lines, so
    ``a<br><br>b`` keeps its empty line; other whitespace of the markup (the newlines and
    indentation between tags) is one space; ``<pre>`` keeps its own; scripts, styles and
    the elements ``skip`` accepts are left out. Every place an export's markup becomes text
    reads it through here (or :func:`element_line`), so no line break is lost on the way.
    """
    lines = _Lines()
    stack: list[tuple[Any, bool]] = [(element, False)]
    in_pre = 0
    while stack:
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else None
        if closing:
            if tag == "pre":
                in_pre -= 1
            if node is not element:
                if tag in _BLOCK_TAGS:
                    lines.end_line()
                lines.add(node.tail or "", verbatim=in_pre > 0)
            continue
        if tag is None or tag in _UNSEEN_TAGS or (node is not element and skip and skip(node)):
            # Comments and what is not shown: only the text after them is.
            if node is not element:
                lines.add(node.tail or "", verbatim=in_pre > 0)
            continue
        if tag == "br":
            lines.line_break()
            if node is not element:
                lines.add(node.tail or "", verbatim=in_pre > 0)
            continue
        if node is not element and tag in _BLOCK_TAGS:
            lines.end_line()
        if tag == "pre":
            in_pre += 1
        lines.add(node.text or "", verbatim=in_pre > 0)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(lines.parts).strip()


def element_line(element: Any, skip: Callable[[Any], bool] | None = None) -> str:
    """The text of an lxml element on one line (names, titles, counts): where
    :func:`element_text` breaks a line, a space."""
    return _WHITESPACE.sub(" ", element_text(element, skip)).strip()
