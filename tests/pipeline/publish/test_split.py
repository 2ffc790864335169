"""Splitting texts into Telegram-sized parts: boundaries, UTF-16 arithmetic, entities."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.publish.split import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Part,
    split_caption,
    split_text,
    utf16_len,
)

FAMILY = "👨\u200d👩\u200d👧"  # 8 UTF-16 units, one grapheme cluster
FLAG = "🇺🇦"
THUMB = "👍🏽"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
NO_BREAK = "\u00a0\u2007\u202f"
LINK = "https://example.com/a?b=c"
USER = {"id": 42, "is_bot": False, "first_name": "Ann"}


def ent(type: str, offset: int, length: int, **attrs: Any) -> dict[str, Any]:
    return {"type": type, "offset": offset, "length": length, **attrs}


def texts(parts: Sequence[Part]) -> list[str]:
    return [part.text for part in parts]


def units(text: str) -> bytes:
    return text.encode("utf-16-le")


def between(encoded: bytes, start: int, stop: int) -> str:
    """The original text between two UTF-16 offsets (strict: a cut pair raises)."""
    return encoded[2 * start : 2 * stop].decode("utf-16-le")


def code_point_offsets(text: str) -> set[int]:
    """UTF-16 offsets that fall between code points of ``text``."""
    offsets, at = {0}, 0
    for char in text:
        at += utf16_len(char)
        offsets.add(at)
    return offsets


def is_dropped_space(char: str) -> bool:
    # What the splitter may drop: whitespace, except no-break spaces, which are content.
    return char.isspace() and char not in NO_BREAK


def rejoin(text: str, parts: Sequence[Part]) -> tuple[str, list[dict[str, Any]]]:
    """The original rebuilt from the parts at their ``start``, and their entities re-based.

    Asserts on the way that the parts lie in order, do not overlap, match the original where
    they claim to be, and that everything around them is whitespace the splitter may drop.
    The entities come back with original offsets, one per fragment (merging is left to
    :func:`coverage`, which also catches a fragment counted twice).
    """
    encoded = units(text)
    pieces: list[str] = []
    fragments: list[dict[str, Any]] = []
    at = 0
    for part in parts:
        assert part.start >= at, "parts overlap or are out of order"
        gap = between(encoded, at, part.start)
        assert all(is_dropped_space(char) for char in gap), f"dropped content {gap!r}"
        size = utf16_len(part.text)
        assert between(encoded, part.start, part.start + size) == part.text
        pieces += [gap, part.text]
        for entity in part.entities:
            fragments.append({**entity, "offset": entity["offset"] + part.start})
        at = part.start + size
    tail = between(encoded, at, len(encoded) // 2)
    assert all(is_dropped_space(char) for char in tail), f"dropped content {tail!r}"
    pieces.append(tail)
    return "".join(pieces), fragments


def coverage(fragments: Sequence[Mapping[str, Any]]) -> set[int]:
    """UTF-16 positions the fragments cover; a position covered twice fails the test."""
    covered: set[int] = set()
    for fragment in fragments:
        span = set(range(fragment["offset"], fragment["offset"] + fragment["length"]))
        assert not covered & span, f"fragment {fragment} duplicates a position"
        covered |= span
    return covered


def check_split(
    text: str, entities: Sequence[Mapping[str, Any]], limit: int, parts: Sequence[Part]
) -> None:
    """Every invariant of a split; entities must carry a unique ``tag`` to be told apart."""
    for part in parts:
        assert 0 < utf16_len(part.text) <= limit
        units(part.text)  # strict UTF-16: raises on a lone surrogate
        assert not is_dropped_space(part.text[0])
        assert not is_dropped_space(part.text[-1])
        boundaries = code_point_offsets(part.text)
        tags = [fragment["tag"] for fragment in part.entities]
        assert tags == sorted(set(tags)), "an entity is repeated or reordered within a part"
        for fragment in part.entities:
            assert fragment["length"] > 0
            assert fragment["offset"] >= 0
            assert fragment["offset"] + fragment["length"] <= utf16_len(part.text)
            assert {fragment["offset"], fragment["offset"] + fragment["length"]} <= boundaries
    rebuilt, fragments = rejoin(text, parts)
    assert rebuilt == text
    assert bool(parts) == any(not is_dropped_space(char) for char in text)
    in_parts = coverage([{"offset": part.start, "length": utf16_len(part.text)} for part in parts])
    for entity in entities:
        own = [fragment for fragment in fragments if fragment["tag"] == entity["tag"]]
        for fragment in own:  # type and every attribute travel with each fragment
            assert {k: v for k, v in fragment.items() if k not in ("offset", "length")} == {
                k: v for k, v in entity.items() if k not in ("offset", "length")
            }
        span = set(range(entity["offset"], entity["offset"] + entity["length"]))
        assert coverage(own) == span & in_parts, f"entity {entity} lost or moved"


# -- example cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        ("жёлтый", 6),
        ("😀", 2),
        (FAMILY, 8),
        (FLAG, 4),
        ("a😀b", 4),
        ("\ud83d", 1),  # a lone surrogate from JSON still counts its unit
    ],
)
def test_utf16_len(text: str, expected: int) -> None:
    assert utf16_len(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("hello world", 11, ["hello world"], id="exactly-at-limit"),
        pytest.param("  hello world \n", 11, ["hello world"], id="fits-once-trimmed"),
        pytest.param("hello world!", 11, ["hello", "world!"], id="limit-plus-one"),
        pytest.param(" \n\t ", 10, [], id="whitespace-only"),
        pytest.param("", 10, [], id="empty"),
        pytest.param(
            "aaaa bbbb\n\ncccc dddd", 15, ["aaaa bbbb", "cccc dddd"], id="paragraph-over-space"
        ),
        pytest.param(
            "aaaa bbbb\ncccc dddd eeee", 16, ["aaaa bbbb", "cccc dddd eeee"], id="line-break"
        ),
        pytest.param(
            "aa\n\nbbbb cccc dddd eeee",
            16,
            ["aa\n\nbbbb cccc", "dddd eeee"],
            id="paragraph-in-first-half-loses",
        ),
        pytest.param(
            "One two three. Four five six",
            20,
            ["One two three.", "Four five six"],
            id="sentence-end",
        ),
        pytest.param(
            "Is it? «Yes!» she said, loudly",
            16,
            ["Is it? «Yes!»", "she said, loudly"],
            id="sentence-with-closing-quote",
        ),
        pytest.param("3.5 and 4.5 and so on", 12, ["3.5 and 4.5", "and so on"], id="decimals"),
        pytest.param(
            "abcdefghijklmnopqrstuvwxyz",
            10,
            ["abcdefghij", "klmnopqrst", "uvwxyz"],
            id="hard-cut-in-word",
        ),
        pytest.param(
            "今天天气很好。我们去公园散步吧！然后回家吃饭。",
            10,
            ["今天天气很好。", "我们去公园散步吧！", "然后回家吃饭。"],
            id="cjk-after-full-stop",
        ),
        pytest.param(
            "一二三四五六七八九十一二", 5, ["一二三四五", "六七八九十", "一二"], id="cjk-hard-cut"
        ),
        pytest.param("a" + "😀" * 5, 10, ["a" + "😀" * 4, "😀"], id="emoji-at-cut"),
        pytest.param("ab" + FAMILY * 3, 12, ["ab" + FAMILY, FAMILY, FAMILY], id="zwj-family"),
        pytest.param(FLAG * 3, 6, [FLAG] * 3, id="flags"),
        pytest.param(THUMB * 3, 6, [THUMB] * 3, id="skin-tone"),
        pytest.param(SCOTLAND * 2, 16, [SCOTLAND] * 2, id="tag-sequence-flag"),
        pytest.param("e\u0301" * 6, 5, ["e\u0301" * 2] * 3, id="combining-accent"),
        pytest.param("1\ufe0f\u20e3" * 3, 4, ["1\ufe0f\u20e3"] * 3, id="keycap"),
        pytest.param(FAMILY, 4, ["👨\u200d", "👩\u200d", "👧"], id="cluster-longer-than-limit"),
        pytest.param(
            "aaaa\u00a0bbbbbb", 8, ["aaaa\u00a0bbb", "bbb"], id="no-break-space-is-content"
        ),
        pytest.param("aaaa\r\n\r\nbbbb cc", 10, ["aaaa", "bbbb cc"], id="crlf-paragraph-dropped"),
    ],
)
def test_boundaries(text: str, limit: int, expected: list[str]) -> None:
    parts = split_text(text, [], limit)
    assert texts(parts) == expected
    check_split(text, [], limit, parts)


def _words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(["alpha", "бета", "gamma", "δέλτα", "😀ok"]) for _ in range(count))


PARA_ONE = _words(600, 1)[:3000].rstrip()
PARA_TWO = _words(600, 2)[:3000].rstrip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("x" * TEXT_LIMIT, [(0, TEXT_LIMIT)], id="exactly-4096"),
        pytest.param("x" * (TEXT_LIMIT + 1), [(0, TEXT_LIMIT), (TEXT_LIMIT, 1)], id="4097"),
        pytest.param(" " + "x" * TEXT_LIMIT + "\n", [(1, TEXT_LIMIT)], id="4096-once-trimmed"),
        pytest.param("😀" * 2048, [(0, TEXT_LIMIT)], id="2048-emoji"),
        pytest.param("😀" * 2048 + "a", [(0, TEXT_LIMIT), (TEXT_LIMIT, 1)], id="emoji-then-a"),
        pytest.param(
            "a" + "😀" * 2048, [(0, TEXT_LIMIT - 1), (TEXT_LIMIT - 1, 2)], id="surrogate-at-cut"
        ),
        pytest.param(
            PARA_ONE + "\n\n" + PARA_TWO,
            [(0, utf16_len(PARA_ONE)), (utf16_len(PARA_ONE) + 2, utf16_len(PARA_TWO))],
            id="paragraphs",
        ),
        pytest.param("w" * 9000, [(0, 4096), (4096, 4096), (8192, 808)], id="one-9000-char-word"),
    ],
)
def test_real_limit(text: str, expected: list[tuple[int, int]]) -> None:
    parts = split_text(text, [])
    assert [(part.start, utf16_len(part.text)) for part in parts] == expected
    check_split(text, [], TEXT_LIMIT, parts)


@pytest.mark.parametrize(
    ("text", "entities", "limit", "expected"),
    [
        pytest.param(
            "aaaa bbbb cccc",
            [ent("bold", 5, 7)],
            9,
            [("aaaa bbbb", [ent("bold", 5, 4)]), ("cccc", [ent("bold", 0, 2)])],
            id="bold-across-split",
        ),
        pytest.param(
            "aaaa bbbb cccc",
            [ent("text_link", 0, 14, url=LINK)],
            9,
            [
                ("aaaa bbbb", [ent("text_link", 0, 9, url=LINK)]),
                ("cccc", [ent("text_link", 0, 4, url=LINK)]),
            ],
            id="text-link-keeps-url",
        ),
        pytest.param(
            "aaaa bbbb cccc",
            [ent("text_link", 0, 14, url=LINK), ent("bold", 7, 5)],
            9,
            [
                ("aaaa bbbb", [ent("text_link", 0, 9, url=LINK), ent("bold", 7, 2)]),
                ("cccc", [ent("text_link", 0, 4, url=LINK), ent("bold", 0, 2)]),
            ],
            id="bold-inside-link",
        ),
        pytest.param(
            "quote one\nquote two",
            [ent("blockquote", 0, 19), ent("italic", 6, 9)],
            12,
            [
                ("quote one", [ent("blockquote", 0, 9), ent("italic", 6, 3)]),
                ("quote two", [ent("blockquote", 0, 9), ent("italic", 0, 5)]),
            ],
            id="italic-in-blockquote",
        ),
        pytest.param(
            "aaaa bbbb cccc",
            [ent("underline", 9, 1)],
            9,
            [("aaaa bbbb", []), ("cccc", [])],
            id="entity-in-separator-dropped",
        ),
        pytest.param(
            "aaaa bbbb cccc",
            [ent("italic", 5, 5)],
            9,
            [("aaaa bbbb", [ent("italic", 5, 4)]), ("cccc", [])],
            id="entity-ending-in-separator",
        ),
        pytest.param(
            "  hi  ",
            [ent("bold", 0, 6), ent("italic", 0, 1)],
            10,
            [("hi", [ent("bold", 0, 2)])],
            id="trimmed-edges",
        ),
        pytest.param(
            "😀 aaaa bbbb",
            [ent("bold", 8, 4), ent("custom_emoji", 0, 2, custom_emoji_id="5368")],
            7,
            [
                ("😀 aaaa", [ent("custom_emoji", 0, 2, custom_emoji_id="5368")]),
                ("bbbb", [ent("bold", 0, 4)]),
            ],
            id="utf16-rebasing",
        ),
        pytest.param(
            "ab cd ef",
            [ent("text_mention", 0, 8, user=USER)],
            5,
            [
                ("ab cd", [ent("text_mention", 0, 5, user=USER)]),
                ("ef", [ent("text_mention", 0, 2, user=USER)]),
            ],
            id="text-mention-keeps-user",
        ),
        pytest.param(
            "Some words before it\nx = 1\ny = 2",
            [ent("pre", 21, 11, language="python")],
            30,
            [
                ("Some words before it", []),
                ("x = 1\ny = 2", [ent("pre", 0, 11, language="python")]),
            ],
            id="cut-before-pre",
        ),
        pytest.param(
            "aaaa bbbb cc\n\ndd ee ff",
            [ent("pre", 10, 6)],
            18,
            [("aaaa bbbb cc\n\ndd", [ent("pre", 10, 6)]), ("ee ff", [])],
            id="cut-after-pre",
        ),
        pytest.param(
            "run `a b c` now",
            [ent("code", 4, 7)],
            9,
            [("run", []), ("`a b c`", [ent("code", 0, 7)]), ("now", [])],
            id="inline-code-whole",
        ),
        pytest.param(
            "l1\nl2\nl3\nl4\nl5\nl6",
            [ent("pre", 0, 17)],
            8,
            [("l1\nl2\nl3", [ent("pre", 0, 8)]), ("l4\nl5\nl6", [ent("pre", 0, 8)])],
            id="pre-longer-than-limit-split-at-lines",
        ),
    ],
)
def test_entities(
    text: str,
    entities: list[dict[str, Any]],
    limit: int,
    expected: list[tuple[str, list[dict[str, Any]]]],
) -> None:
    parts = split_text(text, entities, limit)
    assert [(part.text, part.entities) for part in parts] == expected
    tagged = [{**entity, "tag": index} for index, entity in enumerate(entities)]
    check_split(text, tagged, limit, split_text(text, tagged, limit))


def test_parts_own_their_entities() -> None:
    entities = [ent("text_mention", 0, 8, user={"id": 1, "first_name": "A"})]
    before = copy.deepcopy(entities)
    first, second = split_text("ab cd ef", entities, 5)
    first.entities[0]["user"]["first_name"] = "changed"
    assert entities == before
    assert second.entities[0]["user"]["first_name"] == "A"


@pytest.mark.parametrize("limit", [-1, 0, 1])
def test_limit_below_one_emoji_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_text("abc", [], limit)


@pytest.mark.parametrize(
    ("text", "limit", "caption", "messages"),
    [
        pytest.param("", CAPTION_LIMIT, None, [], id="empty"),
        pytest.param(" \n ", CAPTION_LIMIT, None, [], id="whitespace"),
        pytest.param("hi", CAPTION_LIMIT, "hi", [], id="short"),
        pytest.param("c" * 1024, CAPTION_LIMIT, "c" * 1024, [], id="exactly-1024"),
        pytest.param("\n" + "c" * 1024 + " ", CAPTION_LIMIT, "c" * 1024, [], id="1024-trimmed"),
        pytest.param("😀" * 512, CAPTION_LIMIT, "😀" * 512, [], id="512-emoji"),
        pytest.param("c" * 1025, CAPTION_LIMIT, None, ["c" * 1025], id="1025-moves-whole"),
        pytest.param("😀" * 512 + "!", CAPTION_LIMIT, None, ["😀" * 512 + "!"], id="1025-units"),
        pytest.param("c" * 5000, CAPTION_LIMIT, None, ["c" * 4096, "c" * 904], id="long"),
        pytest.param("hello world", 5, None, ["hello world"], id="text-limit-after-media"),
    ],
)
def test_split_caption(text: str, limit: int, caption: str | None, messages: list[str]) -> None:
    entities = [ent("bold", 0, utf16_len(text))] if text else []
    head, rest = split_caption(text, entities, limit)
    assert (head.text if head else None) == caption
    assert texts(rest) == messages
    if head is not None:
        assert head.entities == [ent("bold", 0, utf16_len(caption or ""))]
        assert head.start == utf16_len(text) - utf16_len(text.lstrip())
    for part in rest:
        assert part.entities == [ent("bold", 0, utf16_len(part.text))]


# -- properties ------------------------------------------------------------------------------

CHUNKS = [
    "word",
    "слово",
    "كلمة",
    "पढ़ाई",
    "e\u0301",
    "😀",
    FAMILY,
    FLAG,
    THUMB,
    SCOTLAND,
    "1\ufe0f\u20e3",
    "今天天气很好",
    "。",
    "！",
    "？",
    ".",
    "!",
    "?",
    "…",
    "»",
    ",",
    " ",
    "  ",
    "\n",
    "\n\n",
    " \n \n",
    "\t",
    "\r\n",
    "\u00a0",
    "\u3000",
]
LONG_WORDS = st.lists(
    st.sampled_from([*"abcxyzжюλ字", "😀", "e\u0301", FLAG]), min_size=10, max_size=120
).map("".join)
TEXTS = st.lists(
    st.one_of(
        st.sampled_from(CHUNKS),
        LONG_WORDS,
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=60,
).map("".join)
KINDS: list[tuple[str, dict[str, Any]]] = [
    ("bold", {}),
    ("italic", {}),
    ("spoiler", {}),
    ("blockquote", {}),
    ("code", {}),
    ("pre", {"language": "python"}),
    ("text_link", {"url": LINK}),
    ("custom_emoji", {"custom_emoji_id": "5368324170671202286"}),
    ("text_mention", {"user": USER}),
]


def entities_for(text: str, bounds: Sequence[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Entities over code point ranges ``(a, b, kind)``, in UTF-16 units, uniquely tagged."""
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + utf16_len(char))
    entities = []
    for tag, (a, b, kind) in enumerate(bounds):
        low, high = sorted((a, b))
        if low < high:
            name, attrs = KINDS[kind]
            entity = ent(name, offsets[low], offsets[high] - offsets[low], **attrs)
            entities.append({**copy.deepcopy(entity), "tag": tag})
    return entities


@st.composite
def posts(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    text = draw(TEXTS)
    point = st.integers(0, len(text))
    bounds = draw(st.lists(st.tuples(point, point, st.integers(0, len(KINDS) - 1)), max_size=8))
    return text, entities_for(text, bounds)


@settings(max_examples=200, deadline=None)
@given(post=posts(), limit=st.integers(10, 200))
@example(post=("a" * 30 + "😀" + "b" * 30, []), limit=31)
@example(post=(FAMILY * 10, [{**ent("bold", 3, 69), "tag": 0}]), limit=10)
def test_split_invariants(post: tuple[str, list[dict[str, Any]]], limit: int) -> None:
    text, entities = post
    check_split(text, entities, limit, split_text(text, entities, limit))


@settings(max_examples=200, deadline=None)
@given(post=posts(), limit=st.integers(2, 9))
def test_split_invariants_tiny_limits(post: tuple[str, list[dict[str, Any]]], limit: int) -> None:
    text, entities = post
    check_split(text, entities, limit, split_text(text, entities, limit))


@settings(max_examples=100, deadline=None)
@given(post=posts(), limit=st.integers(10, 200))
def test_caption_is_whole_or_moves_to_text(
    post: tuple[str, list[dict[str, Any]]], limit: int
) -> None:
    text, entities = post
    caption, rest = split_caption(text, entities, limit)
    whole = split_text(text, entities, TEXT_LIMIT)
    if caption is not None:
        assert rest == []
        assert [caption] == whole == split_text(text, entities, limit)
        assert utf16_len(caption.text) <= limit
    else:
        assert rest == whole
        assert not whole or len(split_text(text, entities, limit)) > 1


def long_post(seed: int) -> tuple[str, list[dict[str, Any]]]:
    """A 10,000+ character post built from ``CHUNKS`` and long words, with entities."""
    rng = random.Random(seed)
    pieces: list[str] = []
    size = 0
    while size < 10_000:
        if rng.random() < 0.05:
            piece = "".join(rng.choice("abcжλ字😀") for _ in range(rng.randint(50, 5000)))
        else:
            piece = rng.choice(CHUNKS)
        pieces.append(piece)
        size += len(piece)
    text = "".join(pieces)
    bounds = [
        (rng.randint(0, len(text)), rng.randint(0, len(text)), rng.randrange(len(KINDS)))
        for _ in range(rng.randint(0, 40))
    ]
    return text, entities_for(text, bounds)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_split_invariants_at_real_limit(seed: int) -> None:
    text, entities = long_post(seed)
    parts = split_text(text, entities)
    assert len(parts) >= 2
    check_split(text, entities, TEXT_LIMIT, parts)


@pytest.mark.parametrize("limit", [10, 11, 13, 17])
def test_check_split_catches_bugs(limit: int) -> None:
    """The property check itself: a shifted offset, a lost entity, a duplicated character."""
    text = "alpha beta gamma delta epsilon"
    entities = [{**ent("bold", 3, 20), "tag": 0}, {**ent("italic", 8, 1), "tag": 1}]
    parts = split_text(text, entities, limit)
    check_split(text, entities, limit, parts)
    second = parts[1]
    shifted = [{**fragment, "offset": fragment["offset"] + 1} for fragment in second.entities]
    broken = [
        [parts[0], Part(second.text, shifted, second.start), *parts[2:]],
        [parts[0], Part(second.text, [], second.start), *parts[2:]],
        [parts[0], Part(second.text, second.entities, second.start - 1), *parts[2:]],
        [Part(parts[0].text + second.text[0], parts[0].entities, parts[0].start), *parts[1:]],
    ]
    for wrong in broken:
        with pytest.raises(AssertionError):
            check_split(text, entities, limit, wrong)
