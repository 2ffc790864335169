"""Are two posts the same content? An exact score over their shingles, plus one veto.

The score is the larger of the Jaccard similarity of the two shingle sets and the Jaccard
similarity of the shorter text with the beginning of the longer one (a truncated copy, such
as a preview, keeps the beginning). ``bench/dedup_bench.py`` measures it on a labelled set
built from real exports.

The veto: posts of one template (``New - CVE-2018-0723`` / ``New - CVE-2018-0724``,
``Bulletin November`` / ``Bulletin December``) differ only in their numbers or dates, which
is as little as a light edit changes. A copy keeps the numbers of its original in order (a
truncated or edited copy may lose some, never change one), so when a number of one text
stands where the other has a different one, they are different posts however similar the
words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from pipeline.dedup.signature import Hashes, shingles

# From this similarity on, two posts are the same content (TGPIPE_DEDUP_THRESHOLD's default):
# on the labelled set of bench/dedup_bench.py it keeps precision above 0.99 with the best
# recall.
DEFAULT_THRESHOLD = 0.6

# Month names count as numbers: "digest for November" and "for December" are two posts.
_MONTH_STEMS = {
    "en": "january february march april may june july august september october november december",
    "short": "jan feb mar apr may jun jul aug sep oct nov dec",
}
_MONTHS: dict[str, str] = {}
for _names in _MONTH_STEMS.values():
    for _number, _name in enumerate(_names.split(), 1):
        _MONTHS[_name] = f"m{_number}"
_RUSSIAN_STEMS = (
    "январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр", "октябр",
    "ноябр", "декабр",
)  # fmt: skip
for _number, _stem in enumerate(_RUSSIAN_STEMS, 1):
    for _ending in ("ь", "я", "е", "ю", "ем", "а", "") if _stem != "ма" else ("й", "я", "е", "ю"):
        _MONTHS[_stem + _ending] = f"m{_number}"


def numbers(words: Sequence[str]) -> tuple[str, ...]:
    """The numbers and month names among ``words``, in order (ids, versions, dates).

    Digit groups written apart ("10 000", "2 5 1") count as one number, so reformatting a
    number does not make a copy look like another post.
    """
    found: list[str] = []
    joined = False  # whether the last word was a number on its own, to join the next to
    for word in words:
        if word.isdigit():
            if joined:
                found[-1] += word
            else:
                found.append(word)
            joined = True
            continue
        joined = False
        if word.isalpha():
            month = _MONTHS.get(word)
            if month:
                found.append(month)
        else:
            found.extend("".join(c if c.isdigit() else " " for c in word).split())
    return tuple(found)


def numbers_agree(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether the words ``b`` can be a copy of ``a`` as far as numbers go: a copy may lose
    numbers (a truncated preview, a dropped line) but never change one.

    The two texts are aligned word by word, so each number is compared with the one in the
    same place: where a stretch of words differs and both sides hold numbers, they must be
    the same digits (maybe grouped differently, "10 000" / "10000"), or the last number cut
    short where a text was truncated.
    """
    if numbers(a) == numbers(b):
        return True
    matcher = SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag != "replace":
            continue
        left = "".join(numbers(a[a_start:a_end]))
        right = "".join(numbers(b[b_start:b_end]))
        if not left or not right or left == right:
            continue
        at_end = a_end == len(a) or b_end == len(b)
        if at_end and (left.startswith(right) or right.startswith(left)):
            continue
        return False
    return True


def _jaccard(a: Hashes, b: Hashes) -> float:
    if not len(a) or not len(b):
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


@dataclass(slots=True)
class Text:
    """A post's comparable words, with what similarity needs of them computed once."""

    words: tuple[str, ...]
    numbers: tuple[str, ...] = field(init=False)
    shingles: Hashes = field(init=False)

    def __post_init__(self) -> None:
        self.numbers = numbers(self.words)
        self.shingles = shingles(self.words)


def similarity(a: Text, b: Text) -> float:
    """How alike two texts are, 0..1; 0 when their numbers disagree."""
    if a.numbers != b.numbers and not numbers_agree(a.words, b.words):
        return 0.0
    whole = _jaccard(a.shingles, b.shingles)
    short, long = (a, b) if len(a.words) <= len(b.words) else (b, a)
    if len(short.words) == len(long.words) or whole >= 1.0:
        return whole
    head = shingles(long.words[: len(short.words)])
    return max(whole, _jaccard(short.shingles, head))
