"""Long texts as Telegram-sized messages, with their entities carried into every part.

Telegram counts a message text (4096) and a media caption (1024) in UTF-16 code units after
entity parsing, and trims leading and trailing whitespace of what it receives. So limits here
are UTF-16 units, parts are trimmed before they are measured, and the whitespace where a text
is cut is dropped: Telegram would drop it anyway, and entity offsets must match what it keeps.

Pure: ``render`` and previews call it; no aiogram.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# No-break spaces glue the words on either side: cutting or trimming there would change the
# text's meaning ("10 000", "№ 5"), so they count as content, not as whitespace.
_NO_BREAK = "\u00a0\u2007\u202f"
_SPACE_RUN = re.compile(f"[^\\S{_NO_BREAK}]+")
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
# A Latin-style sentence needs the space after it ("3.5", "e.g.x" are not ends); CJK writes
# no spaces, so its full stops end a sentence wherever they stand. Closing quotes and
# brackets stay with the sentence they close.
_SENTENCE_END = re.compile(
    f"[.!?…]+[\"'’”»)\\]}}]*(?=[^\\S{_NO_BREAK}])|[。！？]+[」』）】〉》”’]*"
)
# Entity types that read badly when split across two messages.
_KEEP_WHOLE = frozenset({"pre", "code"})
_ZWJ = "\u200d"


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    if text.isascii():
        return len(text)
    # surrogatepass: a lone surrogate (possible in JSON input) still counts its one unit.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True, slots=True)
class Part:
    """One message's text and entities; ``start`` is its UTF-16 offset in the original."""

    text: str
    entities: list[dict[str, Any]]
    start: int


def split_text(
    text: str, entities: Sequence[Mapping[str, Any]], limit: int = TEXT_LIMIT
) -> list[Part]:
    """``text`` as parts of at most ``limit`` UTF-16 units, cut at the best boundary that fits.

    Boundaries, best first: a blank line, a line break (each only in the second half of the
    window, so a part is not left nearly empty), a sentence end, any whitespace, and last a
    cut between grapheme clusters (between code points only when one cluster is longer than
    the limit). ``pre``/``code`` entities are kept in one part when they can be. Entities are
    clipped to each part and re-based to it; one cut by a split continues in the next part.
    Whitespace-only text gives no parts.
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2 UTF-16 units (one emoji), not {limit}")
    splitter = _Splitter(text, entities, limit)
    return [splitter.part(low, high) for low, high in splitter.spans()]


def split_caption(
    text: str, entities: Sequence[Mapping[str, Any]], limit: int = CAPTION_LIMIT
) -> tuple[Part | None, list[Part]]:
    """``(caption, [])`` when the trimmed text fits a caption, else ``(None, text parts)``.

    A caption is never split: media followed by the whole text reads better than a caption
    cut mid-thought with the rest trailing after it.
    """
    low, high = _content_bounds(text)
    if low == high:
        return None, []
    if utf16_len(text[low:high]) <= limit:
        return split_text(text, entities, max(limit, 2))[0], []
    return None, split_text(text, entities, TEXT_LIMIT)


def _is_space(char: str) -> bool:
    return char.isspace() and char not in _NO_BREAK


def _content_bounds(text: str) -> tuple[int, int]:
    """Code point bounds of ``text`` without leading and trailing whitespace."""
    low, high = 0, len(text)
    while low < high and _is_space(text[low]):
        low += 1
    while high > low and _is_space(text[high - 1]):
        high -= 1
    return low, high


def _attaches(char: str) -> bool:
    """Whether ``char`` belongs to the grapheme cluster of the character before it."""
    code = ord(char)
    return (
        char == _ZWJ
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
        or 0xDC00 <= code <= 0xDFFF  # a low surrogate held as its own code point
        or unicodedata.category(char) in ("Mn", "Me", "Mc")  # marks, variation selectors
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _cluster_break(text: str, index: int) -> bool:
    """Whether a cut between ``text[index - 1]`` and ``text[index]`` keeps clusters whole.

    An approximation of UAX #29 covering what posts contain: combining marks, ZWJ emoji
    sequences, skin tones, keycaps, flags and Indic conjuncts; Hangul jamo are not handled.
    """
    before, after = text[index - 1], text[index]
    if _attaches(after) or before == _ZWJ:
        return False
    if unicodedata.combining(before) == 9 and unicodedata.category(after) == "Lo":
        return False  # a virama joins the next consonant into one conjunct
    if _is_regional(before) and _is_regional(after):
        count = 0
        while index - 1 - count >= 0 and _is_regional(text[index - 1 - count]):
            count += 1
        return count % 2 == 0  # flags are pairs: break only after a complete one
    return True


def _last(candidates: list[int], low: int, high: int) -> int | None:
    """The last candidate ``c`` with ``low < c <= high``."""
    index = bisect_right(candidates, high)
    if index and candidates[index - 1] > low:
        return candidates[index - 1]
    return None


class _Splitter:
    """The text's boundary candidates, in code point indices, and the cutting that uses them."""

    def __init__(self, text: str, entities: Sequence[Mapping[str, Any]], limit: int) -> None:
        self.text = text
        self.limit = limit
        # offsets[i] is the UTF-16 offset of code point i: every bound is chosen in code
        # points, so a surrogate pair can never be cut, and converted through this table.
        if text.isascii():
            self.offsets = list(range(len(text) + 1))
        else:
            widths = (2 if ord(char) > 0xFFFF else 1 for char in text)
            self.offsets = list(accumulate(widths, initial=0))
        self.entities = [
            (int(entity["offset"]), int(entity["offset"]) + int(entity["length"]), entity)
            for entity in entities
        ]
        self.paragraphs: list[int] = []
        self.lines: list[int] = []
        self.spaces: list[int] = []
        for run in _SPACE_RUN.finditer(text):
            breaks = _LINE_BREAK.findall(run.group())
            if len(breaks) >= 2 or "\u2029" in breaks:
                self.paragraphs.append(run.start())
            if breaks:
                self.lines.append(run.start())
            self.spaces.append(run.start())
        self.sentences = [match.end() for match in _SENTENCE_END.finditer(text)]
        # Only blocks that fit one message can be kept whole; longer ones are split anyway.
        self.keep_whole = sorted(
            (start, stop)
            for start, stop, entity in self.entities
            if entity.get("type") in _KEEP_WHOLE and 0 < stop - start <= limit
        )

    def spans(self) -> Iterator[tuple[int, int]]:
        """Code point bounds of each part, in order."""
        position, end = _content_bounds(self.text)
        offsets = self.offsets
        while position < end:
            if offsets[end] - offsets[position] <= self.limit:
                yield position, end
                return
            window = bisect_right(offsets, offsets[position] + self.limit) - 1
            cut = self._keep_blocks(position, window, self._choose(position, window))
            part_end, following = self._around(position, cut)
            yield position, part_end
            position = following

    def part(self, low: int, high: int) -> Part:
        start, stop = self.offsets[low], self.offsets[high]
        fragments = []
        for offset, entity_stop, entity in self.entities:
            first, last = max(offset, start), min(entity_stop, stop)
            if first < last:
                # A deep copy: parts are edited and sent independently (a text_mention's user).
                fragment = copy.deepcopy(dict(entity))
                fragment["offset"], fragment["length"] = first - start, last - first
                fragments.append(fragment)
        return Part(self.text[low:high], fragments, start)

    def _around(self, position: int, cut: int) -> tuple[int, int]:
        """Where the part cut at ``cut`` ends and the next begins, the separator dropped."""
        text = self.text
        part_end = cut
        while part_end > position and _is_space(text[part_end - 1]):
            part_end -= 1
        following = cut
        while following < len(text) and _is_space(text[following]):
            following += 1
        return part_end, following

    def _choose(self, position: int, window: int) -> int:
        """The best cut ``c`` with ``position < c <= window`` (the part is ``[position, c)``)."""
        offsets = self.offsets
        size = offsets[window] - offsets[position]
        for candidates in (self.paragraphs, self.lines, self.sentences):
            cut = _last(candidates, position, window)
            if cut is not None and 2 * (offsets[cut] - offsets[position]) >= size:
                return cut
        # In the first half they still beat a cut inside a word.
        for candidates in (self.spaces, self.sentences):
            cut = _last(candidates, position, window)
            if cut is not None:
                return cut
        return self._hard_cut(position, window)

    def _hard_cut(self, position: int, window: int) -> int:
        cut = window
        while cut > position + 1 and not _cluster_break(self.text, cut):
            cut -= 1
        if _cluster_break(self.text, cut):
            return cut
        # One cluster is longer than the limit: it has to be cut, but never between the
        # halves of a surrogate pair that the string holds as two code points.
        if window - 1 > position and 0xDC00 <= ord(self.text[window]) <= 0xDFFF:
            return window - 1
        return window

    def _split_block(self, position: int, cut: int) -> tuple[int, int] | None:
        """The first keep-whole block with text on both sides of ``cut``, if any."""
        part_end, following = self._around(position, cut)
        for start, stop in self.keep_whole:
            if start >= self.offsets[part_end]:
                break
            if stop > self.offsets[following]:
                return start, stop
        return None

    def _keep_blocks(self, position: int, window: int, cut: int) -> int:
        """``cut``, moved past or before a ``pre``/``code`` block it would split, if it can be."""
        block = self._split_block(position, cut)
        if block is None:
            return cut
        offsets, text = self.offsets, self.text
        after = bisect_left(offsets, block[1])
        # Ending the part right after the block keeps it fuller than cutting before it.
        if (
            after <= window
            and _is_space(text[after])
            and self._split_block(position, after) is None
        ):
            return after
        moved = cut
        while block is not None and block[0] > offsets[position]:
            moved = self._choose(position, bisect_left(offsets, block[0]))
            block = self._split_block(position, moved)
        # A block starting the part cannot be helped: keep the fullest cut then.
        return moved if block is None else cut
