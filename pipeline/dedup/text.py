"""What dedup compares: a post's text reduced to the words that carry its content.

Folding (for comparison only; the stored text is never changed): Unicode NFKC, case,
combining marks, whitespace and line breaks, punctuation, emoji, links, hashtags, and channel
boilerplate — subscribe footers such as ``Подпишись на @channel``, lines that are only a
signature, a mention, a link or hashtags. Scripts written without spaces (Chinese, Japanese,
Thai, ...) count each character as a word, so "words" mean the same in every language.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from functools import cache

# Below this a text is too short to say two posts are the same content ("👍", ".", "Photo
# of the day"): such posts merge only by source or by their media files' bytes.
MIN_TOKENS = 4
MIN_TOKEN_CHARS = 24

# Han, kana, Thai, Lao, Myanmar, Khmer and the CJK compatibility blocks.
_NO_SPACE = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff"
)  # astral ideographs (rare) stay words: a range outside the BMP slows the engine down
# The standard library's engine: the `regex` module's script classes are several times
# slower here, and this runs on every imported post.
_TOKEN = re.compile(rf"[{_NO_SPACE}]|[^\W_{_NO_SPACE}]+")
_URL = re.compile(r"(?i)(?:https?://|www\.|t\.me/|telegram\.me/)\S+")
_MENTION = re.compile(r"@\w{3,}")
_HASHTAG = re.compile(r"#\w*[^\W\d]\w*")  # as Telegram: "#1234" is not a hashtag
_DIGITS = re.compile(r"\d+")
# Invisible format characters (soft hyphen, zero-width space and joiners, BOM) inside words.
_INVISIBLE_CHARS = "\u00ad\u200b-\u200f\u2060-\u2064\ufeff"
# Words of a subscribe / follow / source line: such a line is boilerplate when it also
# names a channel (a mention or a link) and says nothing else.
_CALL_WORDS = frozenset({
    "подпишись", "подпишитесь", "подписывайтесь", "подписаться", "подписка", "подписывайся",
    "наш", "наша", "наше", "наши", "на", "в", "канал", "канале", "каналу", "телеграм",
    "телеграмм", "телеграме", "telegram", "источник", "источники", "автор", "via", "source",
    "sources", "subscribe", "subscribed", "follow", "join", "our", "us", "to", "the", "on",
    "in", "channel", "more", "news", "and", "и", "мы", "нас", "читайте", "читать", "больше",
    "новостей", "by", "from", "credit", "credits",
    "订", "阅", "关", "注", "频", "道", "来", "源", "我", "们", "的",
})  # fmt: skip


@cache
def _marks() -> re.Pattern[str]:
    """Combining marks (accents written apart, Arabic harakat, Indic vowel signs) and the
    invisible characters: the regex engine ends a word at them, so they are removed to keep
    words whole. Built on first use
    from the Unicode database (one walk over the BMP), as one character class of ranges."""
    ranges: list[list[int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)) in ("Mn", "Me", "Mc"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    body = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    # The invisible characters too: one pass over the text removes both.
    return re.compile(f"[{body}{_INVISIBLE_CHARS}]+")


def _has_link(line: str) -> bool:
    # Spelled out rather than any() over a tuple: this runs on every line of every post.
    return "://" in line or "www." in line or "t.me/" in line or "telegram.me/" in line


def _is_boilerplate(line: str) -> bool:
    """A line that names a channel and says nothing else: a footer or signature."""
    if "@" not in line and "#" not in line and not _has_link(line):
        return False
    named = bool(_MENTION.search(line) or _URL.search(line))
    rest = _HASHTAG.sub(" ", _MENTION.sub(" ", _URL.sub(" ", line)))
    words = _TOKEN.findall(rest)
    if not words:
        return named or "#" in line  # only mentions, links or hashtags
    return named and all(word in _CALL_WORDS for word in words)


def comparable_text(text: str) -> str:
    """The text as dedup sees it: folded, boilerplate lines dropped, links removed."""
    # Checking is some forty times cheaper than normalising, and most text already is NFKC.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    folded = text.casefold()
    if not folded.isascii():
        folded = _marks().sub("", folded)
    kept = [_clean(line) for line in folded.splitlines() if line and not _is_boilerplate(line)]
    return "\n".join(kept)


def _clean(line: str) -> str:
    """Links and hashtags are a channel's own (its tagging, its short links): a copy in
    another channel changes them, so they are not compared."""
    if _has_link(line):
        line = _URL.sub(" ", line)
    if "#" in line:
        line = _HASHTAG.sub(" ", line)
    return line


def tokens(text: str) -> list[str]:
    """The words of ``text`` that dedup compares, in order."""
    return _TOKEN.findall(comparable_text(text))


def numbers(words: list[str]) -> list[str]:
    """The runs of digits among ``words``, in order: ids, versions, dates."""
    return [run for word in words if not word.isalpha() for run in _DIGITS.findall(word)]


def is_comparable(words: list[str]) -> bool:
    """Enough text to compare by content at all."""
    return len(words) >= MIN_TOKENS and sum(map(len, words)) >= MIN_TOKEN_CHARS


def content_hash(words: list[str]) -> str:
    """Equal for texts equal after folding; 128 bits, hex."""
    return hashlib.blake2b("\x1f".join(words).encode(), digest_size=16).hexdigest()


if sys.maxunicode < 0x10FFFF:  # pragma: no cover - every CPython build since 3.3
    raise RuntimeError("tgpipe needs a Python with full Unicode support")
