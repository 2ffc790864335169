"""Plain-text copies of a channel's web preview (``t.me/s/<channel>`` selected and pasted).

Such a copy keeps no markup, message ids or dates: posts are found from layout alone.

* A reaction line (``👍38🔥22❤2``) closes the post above it.
* ``Forwarded from X`` opens a post (``X`` is kept whole, ``|`` included).
* ``This media is not supported in your browser`` (and a lone ``VIEW IN TELEGRAM``) opens the
  post it belongs to, which is the NEXT one: the web preview draws media above the text.
* ``Please open Telegram to view this post`` marks content of the post it stands in that the
  preview could not show; it never opens a post by itself unless the post has nothing else.
* Site / title / description lines between the end of a post's text and its reactions are its
  link preview, kept apart from the body.
* A body often appears twice: the full text, then a preview copy that drops the first line,
  link-only lines and the tails of some lines. The copy is known to have begun when a long line
  repeats one of the first lines of the post; from then on, a text line that matches nothing of
  the full text starts the next post (questions with hashtag lines and no reactions).
* A footer — a signature ``@karray``, ``Подпишись на @...``, a hashtag line, or a link label
  such as ``📖 Статья`` or ``Статья | Код | Демо`` — followed directly (no blank line) by a line
  that is neither a footer nor the start of the preview copy ends the post, and that line (the
  next post's title) starts the next one. After a label alone (weaker: labels also head lists)
  the title must be followed by a blank line, as in the blank-line style.
* A channel header (name, ``12.8K subscribers``, counters, description, ``Download Telegram``)
  at the top names the channel; one further down starts a new section (copies pasted together).

The body of each post is then folded: when it holds a copy of itself, the two copies are merged
line by line, keeping the longer of two matching lines and every line only one copy has.
"""

from __future__ import annotations

import bisect
import difflib
import enum
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ParseError
from pipeline.ingest.model import (
    ChannelInfo,
    Event,
    LinkPreview,
    MediaItem,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.source import read_text
from pipeline.ingest.textutil import extract_links
from pipeline.usernames import normalise_username

FORMAT = "text"

log = logging.getLogger(__name__)

# --- emoji and reaction lines -------------------------------------------------------------

# Python's ``re`` has no emoji property, so pictographs are listed by block: the ranges below
# cover Extended_Pictographic as used by Telegram's reaction set (and much more).
_PICTO = (
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328"
    "\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff]"
)
# Variation selectors, skin tones and tag characters (subdivision flags) follow their base.
_MODS = "[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]*"
_EMOJI = (
    "(?:[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    "|[0-9#*]\ufe0f?\u20e3"  # a keycap
    f"|{_PICTO}{_MODS}(?:\u200d{_PICTO}{_MODS})*)"  # a pictograph or a ZWJ sequence
)
_EMOJI_RE = re.compile(_EMOJI)
# A count: 38, 1,234, 1.2K, 12K, 3M. The look-ahead keeps "👍381️⃣2" from eating the keycap's
# digit: the count backs off to 38 and 1️⃣ becomes the next emoji.
_PAIR_RE = re.compile(
    rf"\s*(?P<emoji>{_EMOJI})\s*"
    r"(?P<number>[0-9]{1,3}(?:[.,][0-9]{3})+|[0-9]+(?:[.,][0-9]+)?)(?![\ufe0f\u20e3])"
    r"(?:\s?(?P<suffix>[KkMmКкМм])(?![^\W\d_]))?\s*"
)
_MULTIPLIERS = {"k": 1000, "к": 1000, "m": 1_000_000, "м": 1_000_000}
# Lines longer than this are never reaction lines; the bound also keeps matching linear.
_MAX_REACTION_LINE = 300


def parse_count(number: str, suffix: str | None = None) -> int | None:
    """``"38"`` -> 38, ``"1,234"`` -> 1234, ``"1.2", "K"`` -> 1200; None when not a count."""
    number = number.strip().replace("\u00a0", "").replace(" ", "")
    if not number:
        return None
    if suffix:
        multiplier = _MULTIPLIERS.get(suffix.strip().lower())
        if multiplier is None:
            return None
        if number.count(",") + number.count(".") > 1:
            return None
        if not re.fullmatch(r"[0-9]+(?:[.,][0-9]+)?", number):
            return None
        try:
            value = Decimal(number.replace(",", ".")) * multiplier
        except InvalidOperation:
            return None
        return int(value)
    if re.fullmatch(r"[0-9]+", number):
        return int(number)
    if re.fullmatch(r"[0-9]{1,3}(?:[.,][0-9]{3})+", number):
        return int(re.sub(r"[.,]", "", number))
    return None  # a decimal without K/M is not a reaction count


def parse_reaction_line(line: str) -> list[Reaction] | None:
    """The reactions of a line made only of emoji+count pairs, else None.

    Keys are the emoji exactly as written (``❤`` and ``❤️`` stay distinct). A key written twice
    in one line (two custom emoji flattened to the same fallback) has its counts added.
    """
    text = line.strip()
    if not text or len(text) > _MAX_REACTION_LINE:
        return None
    counts: dict[str, int] = {}
    position = 0
    while position < len(text):
        match = _PAIR_RE.match(text, position)
        if match is None or match.end() == position:
            return None
        count = parse_count(match["number"], match["suffix"])
        if count is None:
            return None
        counts[match["emoji"]] = counts.get(match["emoji"], 0) + count
        position = match.end()
    return [Reaction(key, count) for key, count in counts.items()] or None


# --- line classes ---------------------------------------------------------------------------


class _Kind(enum.Enum):
    BLANK = "blank"
    TEXT = "text"
    LABEL = "label"  # a link label: "📖 Статья", "Статья | Код | Демо"
    SIGNATURE = "signature"  # "@karray", "Подпишись на @nn_for_science"
    HASHTAGS = "hashtags"  # a line of hashtags only
    REACTIONS = "reactions"
    FORWARD = "forward"
    MEDIA_NOTICE = "media notice"  # "This media is not supported in your browser"
    OPEN_NOTICE = "open notice"  # "Please open Telegram to view this post"
    VIEW = "view"  # "VIEW IN TELEGRAM", the button under a notice
    CHROME = "chrome"  # "Download Telegram": page furniture, never content


_FOOTERS = frozenset({_Kind.LABEL, _Kind.SIGNATURE, _Kind.HASHTAGS})
_STRONG_FOOTERS = frozenset({_Kind.SIGNATURE, _Kind.HASHTAGS})
_CONTENT = frozenset({_Kind.TEXT}) | _FOOTERS
_NOTICES = frozenset({_Kind.MEDIA_NOTICE, _Kind.OPEN_NOTICE, _Kind.VIEW})

_MEDIA_NOTICE = "this media is not supported in your browser"
_OPEN_NOTICE = "please open telegram to view this post"
_VIEW = "view in telegram"
_CHROME = frozenset({"download telegram"})
_FORWARD_RE = re.compile(r"^forwarded from\s+(\S.*)$", re.IGNORECASE)
_USERNAME = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_SUBSCRIBE_RE = re.compile(
    rf"^(?:подпиш\w*|подписыва\w*|subscribe\w*|follow\w*|join\w*)\b[^@\n]{{0,40}}"
    rf"@({_USERNAME})\W{{0,3}}$",
    re.IGNORECASE,
)
_MENTIONS_RE = re.compile(rf"^@{_USERNAME}(?:[\s,]+@{_USERNAME})*$")
_HASHTAGS_RE = re.compile(r"^#\w+(?:[\s,]+#\w+)*$")
_LABEL_WORDS = 3
_LABEL_CHARS = 32
_SENTENCE_END = ".!?:;,…"


def _is_label(text: str) -> bool:
    """A short link label: an emoji and at most three words, or labels joined by ``|``."""
    match = _EMOJI_RE.match(text)
    if match and match.start() == 0:
        rest = text[match.end() :].strip()
        return (
            bool(rest)
            and len(text) <= _LABEL_CHARS
            and len(rest.split()) <= _LABEL_WORDS
            and rest[-1] not in _SENTENCE_END
            and any(ch.isalpha() for ch in rest)
        )
    parts = [part.strip() for part in text.split(" | ")]
    return len(parts) >= 2 and all(
        part and len(part) <= 25 and len(part.split()) <= _LABEL_WORDS for part in parts
    )


@dataclass(slots=True)
class _Line:
    number: int  # 1-based, in the file
    text: str  # right-stripped
    kind: _Kind
    reactions: list[Reaction] | None = None
    forwarded: str | None = None

    @property
    def stripped(self) -> str:
        return self.text.strip()


def _classify(number: int, raw: str) -> _Line:
    text = raw.rstrip()
    stripped = text.strip()
    folded = " ".join(stripped.split()).casefold()
    if not stripped:
        return _Line(number, "", _Kind.BLANK)
    if folded == _MEDIA_NOTICE:
        return _Line(number, stripped, _Kind.MEDIA_NOTICE)
    if folded == _OPEN_NOTICE:
        return _Line(number, stripped, _Kind.OPEN_NOTICE)
    if folded == _VIEW:
        return _Line(number, stripped, _Kind.VIEW)
    if folded in _CHROME:
        return _Line(number, stripped, _Kind.CHROME)
    forward = _FORWARD_RE.match(stripped)
    if forward:
        return _Line(number, text, _Kind.FORWARD, forwarded=forward.group(1).strip())
    reactions = parse_reaction_line(stripped)
    if reactions is not None:
        return _Line(number, text, _Kind.REACTIONS, reactions=reactions)
    if _HASHTAGS_RE.match(stripped):
        return _Line(number, text, _Kind.HASHTAGS)
    if _MENTIONS_RE.match(stripped) or _SUBSCRIBE_RE.match(stripped):
        return _Line(number, text, _Kind.SIGNATURE)
    if _is_label(stripped):
        return _Line(number, text, _Kind.LABEL)
    return _Line(number, text, _Kind.TEXT)


# --- comparing lines of the two copies ------------------------------------------------------

_KEY_DROP = dict.fromkeys(map(ord, "\u200d\ufe0f\ufe0e"), None)
_WHITESPACE = re.compile(r"\s+")
# Only a line at least this long (in key characters) can mark where a preview copy begins;
# shorter ones ("Коротко:", "#NLP") repeat inside posts too often.
_SUBSTANTIAL = 16
# Shortest common start that makes two lines one line cut at different places: strict when
# looking for the copy's first line, loose once the copy has begun ("- Meta" for "- Metaхва...").
_PREFIX_START = 12
_PREFIX_GAP = 4


def _key(text: str) -> str:
    return _WHITESPACE.sub("", text.translate(_KEY_DROP)).casefold()


def _related(a: str, b: str, minimum: int) -> bool:
    """Same line, or one is the other cut short (the preview copy loses line tails)."""
    if a == b:
        return True
    if min(len(a), len(b)) < minimum:
        return False
    return a.startswith(b) or b.startswith(a)


class _KeyIndex:
    """The lines of a post's full text, for asking whether a later line repeats one.

    Sorted keys answer "is this line the start of a stored one" by bisection, and the stored
    lengths answer the reverse, so a post that runs on for thousands of lines (a copy whose
    boundaries are lost) is not compared line against line.
    """

    def __init__(self) -> None:
        self._exact: set[str] = set()
        self._sorted: list[str] = []
        self._lengths: set[int] = set()

    def add(self, key: str) -> None:
        if key not in self._exact:
            self._exact.add(key)
            bisect.insort(self._sorted, key)
            self._lengths.add(len(key))

    def has(self, key: str, minimum: int) -> bool:
        if key in self._exact:
            return True
        if len(key) < minimum:
            return False
        at = bisect.bisect_left(self._sorted, key)
        if at < len(self._sorted) and self._sorted[at].startswith(key):
            return True
        return any(
            key[:length] in self._exact for length in self._lengths if minimum <= length < len(key)
        )


# --- channel header -------------------------------------------------------------------------

_SUBSCRIBERS_RE = re.compile(
    r"^(?P<number>[0-9][0-9\s.,]*?)\s*(?P<suffix>[KkMmКкМм])?\s+"
    r"(?:subscribers?|members?|подписчик\w*|участник\w*)$",
    re.IGNORECASE,
)
_COUNTER_RE = re.compile(
    r"^[0-9][0-9\s.,]*\s*[KkMmКкМм]?\s+(?:photos?|videos?|files?|links?|audios?|music|voices?|"
    r"gifs?|polls?|фото\w*|видео\w*|файл\w*|ссыл\w*|аудио\w*)$",
    re.IGNORECASE,
)
_HEADER_USERNAME_RE = re.compile(
    rf"^(?:@|(?:https?://)?(?:t\.me|telegram\.me)/(?:s/)?)({_USERNAME})/?$", re.IGNORECASE
)
# How far "Download Telegram" may be from the counters and still end the header.
_HEADER_SPAN = 80
# Lines (an @username, a t.me link) allowed between the channel name and its subscriber count:
# at the top of the file, and where a second copy pasted below the first begins.
_TOP_LEAD = 2
_MIDDLE_LEAD = 1


@dataclass(slots=True)
class _Header:
    info: ChannelInfo
    end: int  # index of the first line after the header


def _read_header(lines: Sequence[_Line], at: int, lead: int) -> _Header | None:
    """A channel header (name, subscribers, counters, description) starting at ``at``.

    The name is the first non-blank line; at most ``lead`` lines (an ``@username``) may stand
    between it and the subscriber count. The description is only taken when ``Download
    Telegram`` closes it: without that line there is no telling where the description ends and
    the first post begins.
    """
    filled: list[int] = []
    index = at
    while index < len(lines) and len(filled) < lead + 2:
        if lines[index].kind is not _Kind.BLANK:
            filled.append(index)
        index += 1
    if not filled or lines[filled[0]].kind not in _CONTENT:
        return None
    for position, index in enumerate(filled):
        match = _SUBSCRIBERS_RE.match(lines[index].stripped)
        if position == 0 or match is None:
            continue
        names = [
            _HEADER_USERNAME_RE.match(lines[between].stripped) for between in filled[1:position]
        ]
        if not all(names):
            return None  # a post's lines, not a header, stand above this count
        subscribers = parse_count(match["number"], match["suffix"])
        info = ChannelInfo(title=lines[filled[0]].stripped, subscribers=subscribers)
        for named in names:
            if named:
                info.username = named.group(1).lower()
        end = index + 1
        while end < len(lines) and (
            lines[end].kind is _Kind.BLANK or _COUNTER_RE.match(lines[end].stripped)
        ):
            end += 1
        for closing in range(end, min(len(lines), end + _HEADER_SPAN)):
            if lines[closing].kind is _Kind.CHROME:
                description = _join_paragraphs(lines[end:closing])
                info.description = description or None
                end = closing + 1
                break
            if lines[closing].kind in _NOTICES | {_Kind.REACTIONS, _Kind.FORWARD}:
                break
        return _Header(info, end)
    return None


def _later_headers(lines: Sequence[_Line], start: int) -> list[tuple[int, _Header]]:
    """Channel headers below the top one, with the index of their name line: where a copy of
    another channel (or another copy of this one) was pasted below the first."""
    found: list[tuple[int, _Header]] = []
    for index in range(start, len(lines)):
        line = lines[index]
        if line.kind is not _Kind.TEXT or not _SUBSCRIBERS_RE.match(line.stripped):
            continue
        name = _previous_filled(lines, index)
        if name is not None and _HEADER_USERNAME_RE.match(lines[name].stripped):
            name = _previous_filled(lines, name)
        if name is None or name < start or (found and name < found[-1][1].end):
            continue
        header = _read_header(lines, name, _MIDDLE_LEAD)
        if header is not None:
            found.append((name, header))
    return found


def _previous_filled(lines: Sequence[_Line], index: int) -> int | None:
    index -= 1
    while index >= 0 and lines[index].kind is _Kind.BLANK:
        index -= 1
    return index if index >= 0 else None


def _join_paragraphs(lines: Sequence[_Line]) -> str:
    parts: list[str] = []
    blank = False
    for line in lines:
        if line.kind is _Kind.BLANK:
            blank = bool(parts)
            continue
        if parts:
            parts.append("\n\n" if blank else "\n")
        parts.append(line.stripped)
        blank = False
    return "".join(parts)


# --- cutting the file into posts ------------------------------------------------------------


@dataclass(slots=True)
class _Segment:
    first_line: int
    lines: list[_Line] = field(default_factory=list)  # content lines and blanks between them
    media: list[MediaItem] = field(default_factory=list)
    forwarded: str | None = None
    reactions: list[Reaction] = field(default_factory=list)
    preview: LinkPreview | None = None
    # The full text seen so far, its first lines, and whether the preview copy has begun.
    original: _KeyIndex = field(default_factory=_KeyIndex)
    head: list[str] = field(default_factory=list)
    copy_started: bool = False

    @property
    def has_body(self) -> bool:
        return any(line.kind is not _Kind.BLANK for line in self.lines)

    @property
    def has_anything(self) -> bool:
        return self.has_body or bool(self.media) or self.forwarded is not None


_SITE_CHARS = 40
_SITE_WORDS = 4
_PREVIEW_TITLE_CHARS = 300
# A preview copy begins by repeating one of this many first lines of the full text.
_COPY_HEAD = 4


def _site_like(text: str) -> bool:
    """The first line of a link preview: a site name such as ``YouTube`` or ``arXiv.org``."""
    return (
        0 < len(text) <= _SITE_CHARS
        and len(text.split()) <= _SITE_WORDS
        and text[-1] not in _SENTENCE_END
        and text[0] not in "#@-–—•*>([«\"'"
        and not text[0].isdigit()
        and "/" not in text
        and _EMOJI_RE.match(text) is None
    )


class _Segmenter:
    """Walks the classified lines of one section once, cutting them into post segments."""

    def __init__(self, lines: Sequence[_Line], start: int, end: int) -> None:
        self.lines = lines[:end]
        self.start = start
        self.out: list[_Segment | Skipped] = []

    def run(self) -> list[_Segment | Skipped]:
        lines = self.lines
        current = _Segment(self._number(self.start))
        after_footer = False  # the last content line was a footer
        strong = False  # ... and the footer block holds a signature or hashtags
        gap = False  # a blank line since the last non-blank line
        previous: _Kind | None = None  # kind of the last non-blank line
        index = self.start
        while index < len(lines):
            line = lines[index]
            kind = line.kind
            if kind is _Kind.BLANK:
                if current.has_body:
                    current.lines.append(line)
                gap = True
                index += 1
                continue
            if kind is _Kind.CHROME:
                pass
            elif kind is _Kind.REACTIONS:
                if current.has_anything:
                    current.reactions = line.reactions or []
                    self._close(current)
                else:
                    # Nothing above it since the last post closed: a post the copy lost.
                    reason = f"reaction line without a post (line {line.number})"
                    self.out.append(Skipped(None, reason))
                current = _Segment(line.number + 1)
                after_footer = strong = False
            elif kind is _Kind.FORWARD:
                if current.has_anything:
                    self._close(current)
                    current = _Segment(line.number)
                current.forwarded = line.forwarded
                after_footer = strong = False
            elif kind is _Kind.MEDIA_NOTICE or (
                kind is _Kind.VIEW and previous not in (_Kind.MEDIA_NOTICE, _Kind.OPEN_NOTICE)
            ):
                if current.has_body:
                    self._close(current)
                    current = _Segment(line.number)
                    after_footer = strong = False
                current.media.append(_unsupported(line.stripped))
            elif kind is _Kind.VIEW:
                pass  # the button under the notice just read
            elif kind is _Kind.OPEN_NOTICE:
                current.media.append(_unsupported(line.stripped))
            else:
                taken = 0
                if current.has_body:
                    # Once the preview copy has begun, a link preview's lines (which repeat
                    # nothing) must be taken before they read as the next post; before that, a
                    # footer boundary wins over a preview.
                    if current.copy_started:
                        taken = self._preview(current, index, previous)
                    if not taken and self._starts_post(current, index, after_footer, strong, gap):
                        self._close(current)
                        current = _Segment(line.number)
                    elif not taken and not current.copy_started:
                        taken = self._preview(current, index, previous)
                if taken:
                    index += taken
                    previous = _Kind.TEXT
                    gap = False
                    after_footer = strong = False
                    continue
                self._add(current, line)
                if kind in _FOOTERS:
                    strong = (strong and after_footer) or kind in _STRONG_FOOTERS
                    after_footer = True
                else:
                    after_footer = strong = False
            previous = kind
            gap = False
            index += 1
        if current.has_anything:
            self._close(current)
        return self.out

    def _number(self, index: int) -> int:
        return self.lines[index].number if index < len(self.lines) else len(self.lines) + 1

    def _close(self, segment: _Segment) -> None:
        while segment.lines and segment.lines[-1].kind is _Kind.BLANK:
            segment.lines.pop()
        self.out.append(segment)

    def _add(self, segment: _Segment, line: _Line) -> None:
        segment.lines.append(line)
        if segment.copy_started:
            return
        key = _key(line.text)
        if _repeats_head(segment, key):
            segment.copy_started = True
            return
        segment.original.add(key)
        if len(segment.head) < _COPY_HEAD:
            segment.head.append(key)

    def _starts_post(
        self, segment: _Segment, index: int, after_footer: bool, strong: bool, gap: bool
    ) -> bool:
        line = self.lines[index]
        key = _key(line.text)
        if segment.copy_started:
            # The preview copy only repeats the full text: a text line it lacks is a new post.
            return line.kind is _Kind.TEXT and not segment.original.has(key, _PREFIX_GAP)
        if not after_footer or line.kind in _FOOTERS or gap or _repeats_head(segment, key):
            return False
        return strong or self._followed_by_blank(index)

    def _followed_by_blank(self, index: int) -> bool:
        following = index + 1
        return following >= len(self.lines) or self.lines[following].kind is _Kind.BLANK

    def _preview(self, segment: _Segment, index: int, previous: _Kind | None) -> int:
        """How many lines from ``index`` form a link preview (0 when they do not)."""
        lines = self.lines
        if previous not in _NOTICES | _FOOTERS and not segment.copy_started:
            return 0
        if lines[index].kind is not _Kind.TEXT or not _site_like(lines[index].stripped):
            return 0
        for size in (3, 2):
            block = lines[index : index + size]
            if len(block) < size or any(line.kind is not _Kind.TEXT for line in block):
                continue
            after = index + size
            if after < len(lines):
                if lines[after].kind is not _Kind.REACTIONS:
                    continue
            elif previous not in _NOTICES:
                continue  # at the end of the file only a notice above marks the body's end
            if len(block[1].stripped) > _PREVIEW_TITLE_CHARS:
                continue
            if any(segment.original.has(_key(line.text), _PREFIX_GAP) for line in block):
                continue  # lines of the body, not of a preview
            segment.preview = LinkPreview(
                site=block[0].stripped,
                title=block[1].stripped,
                description=block[2].stripped if size == 3 else None,
            )
            return size
        return 0


def _repeats_head(segment: _Segment, key: str) -> bool:
    """Whether a line starts the preview copy: a long line repeating one of the first lines of
    the full text (the copy drops the title, so it begins at the second line or soon after)."""
    return len(key) >= _SUBSTANTIAL and any(
        _related(key, head, _PREFIX_START) for head in segment.head
    )


def _unsupported(notice: str) -> MediaItem:
    return MediaItem(kind="unsupported", extra={"notice": notice})


# --- folding the two copies of a body -------------------------------------------------------

# Copy starts tried per post; the first few repeats are where a preview copy can begin.
_MAX_CANDIDATES = 8
# Pairing cut-short lines is quadratic in the size of a gap between matched runs.
_MAX_GAP_PAIRS = 250_000


@dataclass(slots=True)
class _Piece:
    text: str
    blank_before: bool


def _pieces(lines: Sequence[_Line]) -> list[_Piece]:
    pieces: list[_Piece] = []
    blank = False
    for line in lines:
        if line.kind is _Kind.BLANK:
            blank = True
            continue
        pieces.append(_Piece(line.text, blank))
        blank = False
    return pieces


def _copy_starts(keys: Sequence[str]) -> list[int]:
    """Where a second copy may begin: a long line that repeats an earlier one, moved back over
    the short lines that repeat too (``Коротко:`` before the list it introduces)."""
    first_seen: dict[str, int] = {}
    by_head: dict[str, list[int]] = {}
    starts: list[int] = []
    for index, key in enumerate(keys):
        earlier: int | None = first_seen.get(key)
        if earlier is None and len(key) >= _SUBSTANTIAL:
            for other in by_head.get(key[:_PREFIX_START], ()):
                if _related(key, keys[other], _PREFIX_START):
                    earlier = other
                    break
        if earlier is not None and len(key) >= _SUBSTANTIAL:
            start, match = index, earlier
            while match > 0 and start - 1 > match and keys[start - 1] == keys[match - 1]:
                start, match = start - 1, match - 1
            if start not in starts:
                starts.append(start)
                if len(starts) >= _MAX_CANDIDATES:
                    break
        first_seen.setdefault(key, index)
        by_head.setdefault(key[:_PREFIX_START], []).append(index)
    return starts


def _longer(kept: _Piece, other: _Piece) -> _Piece:
    if len(other.text.strip()) > len(kept.text.strip()):
        return _Piece(other.text, kept.blank_before)
    return kept


def _merge_gap(
    a_gap: Sequence[_Piece], b_gap: Sequence[_Piece], a_keys: Sequence[str], b_keys: Sequence[str]
) -> tuple[list[_Piece], int]:
    """Lines between two matched runs: B's lines cut short pair with A's, the rest are kept."""
    merged = list(a_gap)
    if len(a_gap) * len(b_gap) > _MAX_GAP_PAIRS:
        return merged + list(b_gap), 0  # no copy has gaps this large: keep every line
    used = [False] * len(a_gap)
    extra: list[_Piece] = []
    paired = 0
    for b_index, piece in enumerate(b_gap):
        for a_index in range(len(a_gap)):
            if not used[a_index] and _related(a_keys[a_index], b_keys[b_index], _PREFIX_GAP):
                used[a_index] = True
                merged[a_index] = _longer(merged[a_index], piece)
                paired += 1
                break
        else:
            extra.append(piece)
    return merged + extra, paired


def _merge(pieces: Sequence[_Piece], keys: Sequence[str], start: int) -> tuple[list[_Piece], int]:
    a_pieces, b_pieces = pieces[:start], pieces[start:]
    a_keys, b_keys = keys[:start], keys[start:]
    matcher = difflib.SequenceMatcher(None, a_keys, b_keys, autojunk=False)
    merged: list[_Piece] = []
    absorbed = 0
    a_at = b_at = 0
    for block in matcher.get_matching_blocks():
        gap, paired = _merge_gap(
            a_pieces[a_at : block.a],
            b_pieces[b_at : block.b],
            a_keys[a_at : block.a],
            b_keys[b_at : block.b],
        )
        merged.extend(gap)
        absorbed += paired
        for offset in range(block.size):
            merged.append(_longer(a_pieces[block.a + offset], b_pieces[block.b + offset]))
        absorbed += block.size
        a_at, b_at = block.a + block.size, block.b + block.size
    return merged, absorbed


def _fold(pieces: list[_Piece], copied: bool) -> list[_Piece]:
    """One body from a full text followed by its (possibly lossy) preview copy; ``copied``
    when cutting the posts already saw the copy begin."""
    keys = [_key(piece.text) for piece in pieces]
    best: tuple[int, list[_Piece]] | None = None
    for start in _copy_starts(keys):
        copy_size = len(pieces) - start
        # Without a copy seen, a single repeated line is more likely a refrain than a copy.
        if copy_size < (1 if copied else 2):
            continue
        merged, absorbed = _merge(pieces, keys, start)
        if absorbed * 2 < copy_size:
            continue
        if best is None or absorbed > best[0]:
            best = (absorbed, merged)
    return best[1] if best else pieces


def _body(pieces: Sequence[_Piece]) -> str:
    parts: list[str] = []
    for piece in pieces:
        if parts:
            parts.append("\n\n" if piece.blank_before else "\n")
        parts.append(piece.text)
    return "".join(parts).strip()


def _preview_url(preview: LinkPreview, text: str) -> str | None:
    """The link in the body the preview most likely shows: one on the preview's site."""
    site = re.sub(r"\W", "", (preview.site or "").casefold())
    if not site:
        return None
    found = None
    for url in extract_links(text):
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        if site in host.replace(".", "") or host.split(".")[0] == site:
            found = url
    return found


# --- the module API -------------------------------------------------------------------------

_HTML_RE = re.compile(
    r"<(?:!doctype|html|head|body|div|p|span|a|meta|br|table|section|article)\b", re.I
)
_JSON_RE = re.compile(r"^\s*[\[{]\s*[\"\[{\]}]")
_SNIFF_HEADER_LINES = 15


def _markup(text: str) -> str | None:
    """Why ``text`` is not a plain-text copy, when it is HTML or JSON."""
    head = text[:4096].lstrip("\ufeff")
    if head.lstrip().startswith("<") and _HTML_RE.search(head):
        return "this is HTML, not a plain-text copy (try --format web-html or desktop-html)"
    if _JSON_RE.match(head):
        return "this is JSON, not a plain-text copy (try --format desktop-json)"
    return None


def _cues(lines: Sequence[_Line]) -> bool:
    """Whether the text shows anything only a web-preview copy has."""
    kinds = {
        _Kind.REACTIONS,
        _Kind.FORWARD,
        _Kind.MEDIA_NOTICE,
        _Kind.OPEN_NOTICE,
        _Kind.VIEW,
    }
    if any(line.kind in kinds for line in lines):
        return True
    return any(_SUBSCRIBERS_RE.match(line.stripped) for line in lines[:_SNIFF_HEADER_LINES])


def sniff(path: Path, head: str) -> bool:
    """True for plain text with web-preview cues: reaction lines, ``Forwarded from``, media
    notices, ``VIEW IN TELEGRAM`` or a ``N subscribers`` header. Text without any of these is
    left to the article parser."""
    if not head.strip() or _markup(head):
        return False
    lines = [_classify(number, raw) for number, raw in enumerate(head.split("\n"), start=1)]
    return _cues(lines)


def parse(path: Path, options: ParseOptions) -> Iterator[Event]:
    """The channel, then its posts in file order (no ids, no dates: the copy has neither)."""
    text = read_text(path)
    problem = _markup(text)
    if problem:
        raise ParseError(str(path), "line 1", problem)
    lines = [_classify(number, raw) for number, raw in enumerate(text.split("\n"), start=1)]
    header = _read_header(lines, 0, _TOP_LEAD)
    start = header.end if header else 0
    # One section per channel header: copies of several channels (or two copies of one, in
    # different styles) may be pasted one after another; each is cut with its own style.
    later = _later_headers(lines, start)
    bounds = [(header, start)] + [(found, found.end) for _, found in later]
    ends = [name for name, _ in later] + [len(lines)]
    sections: list[tuple[_Header | None, list[Event], list[ParsedPost]]] = []
    for (section_header, begin), end in zip(bounds, ends, strict=True):
        events: list[Event] = []
        posts: list[ParsedPost] = []
        for item in _Segmenter(lines, begin, end).run():
            if isinstance(item, Skipped):
                events.append(item)
                continue
            post = _post(item)
            if post is None:
                events.append(Skipped(None, f"post without content (line {item.first_line})"))
                continue
            posts.append(post)
            events.append(post)
        sections.append((section_header, events, posts))

    total = sum(len(posts) for _, _, posts in sections)
    if not total:
        raise ParseError(str(path), None, "no posts found: the text holds no post body")
    if total == 1 and len(sections) == 1 and header is None and not _cues(lines):
        # One block of text with no reaction line, notice, forward or header is an article
        # (or a note), not a copy of a channel: refuse rather than invent a post.
        raise ParseError(
            str(path),
            None,
            "no posts found: no reaction lines, 'Forwarded from' headers, media notices or "
            "channel header (a plain article? try --format article)",
        )
    log.debug("%s: %d posts in %d section(s)", path, total, len(sections))

    shown: ChannelInfo | None = None
    for section_header, events, posts in sections:
        if not events:
            continue  # a header with no posts below it (the file ends, or another header)
        # --channel names a copy without a header; a header always names itself.
        info, notes = _channel(section_header, posts, None if section_header else options)
        if info != shown:
            yield info
            shown = info
        for note in notes:
            yield Note(note)
        yield from events


def _post(segment: _Segment) -> ParsedPost | None:
    pieces = _fold(_pieces(segment.lines), segment.copy_started)
    body = _body(pieces)
    if not body and not segment.media:
        return None
    preview = segment.preview
    if preview is not None:
        preview.url = _preview_url(preview, body)
    return ParsedPost(
        message_id=None,
        text=body,
        forwarded_from=segment.forwarded,
        media=segment.media,
        reactions=segment.reactions,
        link_preview=preview,
    )


def _channel(
    header: _Header | None, posts: Sequence[ParsedPost], options: ParseOptions | None
) -> tuple[ChannelInfo, list[str]]:
    """The channel the copy comes from: its header, else ``--channel``, plus a username read
    from a signature most of the channel's own posts carry (``Подпишись на @name``)."""
    info = header.info if header else ChannelInfo()
    notes: list[str] = []
    if options and options.channel and options.channel.strip():
        given = options.channel.strip()
        # The importer's convention: "@name" and t.me links are usernames, anything else a title.
        if given.startswith(("@", "t.me/", "http://", "https://", "telegram.me/")):
            info.username = info.username or normalise_username(given)
        elif info.title is None:
            info.title = given
    if info.username is None:
        own = [post for post in posts if post.forwarded_from is None]
        signed: Counter[str] = Counter()
        for post in own:
            names = {
                match.group(1).lower()
                for line in post.text.split("\n")
                if (match := _SUBSCRIBE_RE.match(line.strip()))
            }
            signed.update(names)
        if signed:
            name, count = signed.most_common(1)[0]
            # Reposts from other channels carry their signature too; only a majority names us.
            if count >= 2 and count * 2 >= len(own):
                info.username = name
                notes.append(
                    f"channel username @{name} read from the signature of {count} of "
                    f"{len(own)} posts"
                )
    return info, notes
