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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from pipeline.dedup.signature import SHINGLE
from pipeline.dedup.threshold import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD  # re-exported
from pipeline.dedup.threshold import VETO_FROM

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


_DIGITS_PATTERN = (
    # Digit groups standing apart ("10 000", "2018 0723"): one number. Then digits inside a
    # word ("v1", "2fa").
    r"(?<!\S)(?:\d+(?: \d+)*(?!\S)|[^\s\d]*\d\S*)"
)
_NUMBER = re.compile(_DIGITS_PATTERN)
_NUMBER_OR_MONTH = re.compile(
    _DIGITS_PATTERN
    + r"|(?<!\S)(?:"
    + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
    + r")(?!\S)"
)
_DIGIT_RUN = re.compile(r"\d+")


def numbers(words: Sequence[str]) -> tuple[str, ...]:
    """The numbers and month names among ``words``, in order (ids, versions, dates).

    Digit groups written apart ("10 000", "2 5 1") count as one number, so reformatting a
    number does not make a copy look like another post.
    """
    # Month names are rare: the pattern that looks for them at every word only runs then.
    pattern = _NUMBER if _MONTHS.keys().isdisjoint(words) else _NUMBER_OR_MONTH
    found: list[str] = []
    for match in pattern.finditer(" ".join(words)):
        text = match.group()
        month = _MONTHS.get(text)
        if month is not None:
            found.append(month)
        elif " " in text or text.isdigit():
            found.append(text.replace(" ", ""))
        else:
            found.extend(_DIGIT_RUN.findall(text))
    return tuple(found)


def numbers_agree(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether the words ``b`` can be a copy of ``a`` as far as numbers go: a copy may lose
    numbers (a truncated preview, a dropped line) but never change one.

    The two texts are aligned word by word, so each number is compared with the one in the
    same place: where a stretch of words differs and both sides hold numbers, they must be
    the same digits (maybe grouped differently, "10 000" / "10000"), or the last number cut
    short where a text was truncated.
    """
    return numbers(a) == numbers(b) or _aligned_numbers_agree(a, b)


def _aligned_numbers_agree(a: Sequence[str], b: Sequence[str]) -> bool:
    """:func:`numbers_agree` for texts whose numbers are known to differ somewhere."""
    # difflib's alignment depends on which text comes first (it breaks ties between equally
    # long matches by position): always the same order, or the veto, and with it the
    # clusters, would depend on which post was imported first.
    if (len(a), tuple(a)) > (len(b), tuple(b)):
        a, b = b, a
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


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


@dataclass(slots=True)
class Text:
    """A post's comparable words, with what similarity needs of them computed once."""

    words: tuple[str, ...]
    # Its word pairs by Python's own 64-bit hash, as plain ints in a set: a post has tens of
    # them, where numpy's cost per call was most of a comparison. (Never stored, so the
    # hash needs to agree only within one process.)
    ordered: list[int] = field(init=False)  # in text order, for prefixes
    shingles: frozenset[int] = field(init=False)
    _numbers: tuple[str, ...] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        runs = zip(*(self.words[i:] for i in range(SHINGLE)), strict=False)  # tails end it
        self.ordered = list(map(hash, runs))
        self.shingles = frozenset(self.ordered)

    @property
    def numbers(self) -> tuple[str, ...]:
        # On first use: only a pair alike enough for the veto needs them, and most of the
        # candidates a post meets share a key by chance.
        if self._numbers is None:
            self._numbers = numbers(self.words)
        return self._numbers


def similarity(a: Text, b: Text, floor: float = VETO_FROM) -> float:
    """How alike two texts are, 0..1; 0 when their numbers disagree.

    A score below ``floor`` comes back as it is, never vetoed: a caller that keeps only
    scores from ``floor`` on (the clusterer, from its threshold) need not pay for the veto of
    pairs it drops anyway, which were most of the time a template channel took."""
    score = _jaccard(a.shingles, b.shingles)
    short, long = (a, b) if len(a.words) <= len(b.words) else (b, a)
    if len(short.words) < len(long.words) and score < 1.0:
        head = frozenset(long.ordered[: max(len(short.words) - SHINGLE + 1, 0)])
        score = max(score, _jaccard(short.shingles, head))
    # The veto aligns the two texts word by word, the dearest step here: it only matters
    # for texts alike enough to be taken for one another.
    if (
        score >= max(floor, VETO_FROM)
        and a.numbers != b.numbers
        and not _aligned_numbers_agree(a.words, b.words)
    ):
        return 0.0
    return score
