"""Cutting a post into messages Telegram accepts, keeping its formatting.

Telegram limits a message to 4096 and a caption to 1024 characters, counted in UTF-16 code
units, and trims whitespace around each message. Entities are UTF-16 offsets, so all the
arithmetic here is in UTF-16 units. A text is cut at the last paragraph break that fits,
else the last line break, sentence end or space in the second half of the window, and
only as a last resort inside a word (never inside a surrogate pair or an emoji sequence);
an entity that spans a cut continues, with the same attributes, in the next part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_WHITESPACE = frozenset(" \t\n\r\f\v\u00a0\u2028\u2029")
# Cut preferences, best first: a blank line, a line break, a sentence end, a space.
_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"(?<=[.!?…。！？])\s+|(?<=[。！？])"),
    re.compile(r"\s+"),
)
# Code points that glue to the one before them (combining marks, ZWJ sequences, variation
# selectors, skin tones, flags' second half): never cut just before them.
_GLUE = re.compile("[\u0300-\u036f\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Part:
    """One message: its text, its entities (offsets within it), and where it starts in the
    original text (UTF-16 units)."""

    text: str
    entities: list[dict[str, Any]]
    start: int


class _Text:
    """The text with a map from code point index to UTF-16 offset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets = [0]
        for char in text:
            self.offsets.append(self.offsets[-1] + (2 if ord(char) > 0xFFFF else 1))

    def index_at(self, unit: int) -> int:
        """The code point index whose UTF-16 offset is the largest <= ``unit``."""
        lo, hi = 0, len(self.text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.offsets[mid] <= unit:
                lo = mid
            else:
                hi = mid - 1
        return lo


def _is_space(char: str) -> bool:
    return char in _WHITESPACE or char.isspace()


def _cut(text: _Text, start: int, limit: int) -> tuple[int, int]:
    """Where the part starting at code point ``start`` ends, and where the next begins."""
    s = text.text
    end_max = text.index_at(text.offsets[start] + limit)  # furthest end that fits
    if end_max >= len(s):
        return len(s), len(s)
    window = s[start : end_max + 1]  # +1: a boundary right after the last fitting character
    half = (end_max - start) // 2
    for pattern in _BOUNDARIES:
        best: tuple[int, int] | None = None
        for match in pattern.finditer(window):
            if match.start() == 0:
                continue
            if match.start() > end_max - start:
                break
            best = (start + match.start(), start + match.end())
        if best is not None and best[0] - start >= half:
            return best
    # Inside a word: not inside an emoji sequence or before a combining mark.
    end = end_max
    while end > start + 1 and _GLUE.match(s[end]):
        end -= 1
    return end, end


def split_text(
    text: str, entities: Sequence[Mapping[str, Any]], limit: int = TEXT_LIMIT
) -> list[Part]:
    """Parts of ``text`` of at most ``limit`` UTF-16 units each, entities cut to each part."""
    if limit < 2:
        raise ValueError("limit must be at least 2 (one character outside the BMP)")
    body = _Text(text)
    spans: list[tuple[int, int]] = []  # code point ranges of the parts
    start = 0
    n = len(text)
    while start < n:
        while start < n and _is_space(text[start]):
            start += 1
        if start >= n:
            break
        end, after = _cut(body, start, limit)
        stripped = end
        while stripped > start and _is_space(text[stripped - 1]):
            stripped -= 1
        if stripped > start:
            spans.append((start, stripped))
        start = max(after, end, start + 1)
    parts = []
    for first, last in spans:
        unit_start, unit_end = body.offsets[first], body.offsets[last]
        parts.append(
            Part(
                text[first:last],
                _clip_entities(entities, unit_start, unit_end),
                unit_start,
            )
        )
    return parts


def _clip_entities(
    entities: Sequence[Mapping[str, Any]], start: int, end: int
) -> list[dict[str, Any]]:
    clipped = []
    for entity in entities:
        e_start = int(entity["offset"])
        e_end = e_start + int(entity["length"])
        lo, hi = max(e_start, start), min(e_end, end)
        if hi > lo:
            piece = dict(entity)
            piece["offset"] = lo - start
            piece["length"] = hi - lo
            clipped.append(piece)
    return clipped


def split_caption(
    text: str, entities: Sequence[Mapping[str, Any]], limit: int = CAPTION_LIMIT
) -> tuple[Part | None, list[Part]]:
    """``(caption, [])`` when the text fits a caption; else ``(None, text parts)``: the media
    goes without a caption and the whole text follows it (a caption cut mid-thought reads
    worse than media followed by the full text)."""
    parts = split_text(text, entities, max(limit, TEXT_LIMIT))
    if not parts:
        return None, []
    if len(parts) == 1 and utf16_len(parts[0].text) <= limit:
        return parts[0], []
    return None, parts


def rejoin(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """The parts' entities in the original's offsets, fragments of one entity cut at a
    split merged back (for tests and previews)."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        for entity in part.entities:
            absolute = dict(entity)
            absolute["offset"] = entity["offset"] + part.start
            merged.append(absolute)
    return merged
