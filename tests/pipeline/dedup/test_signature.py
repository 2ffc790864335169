"""Shingles and the persisted LSH keys: stable, batch-independent, and finding near copies."""

from __future__ import annotations

import pytest

from pipeline.dedup import signature
from pipeline.dedup.signature import exact_key, hot_mark, lsh_keys, refined_key
from pipeline.dedup.text import content_hash, tokens
from tests.pipeline.dedup.samples import ARABIC, CHINESE, ENGLISH, RUSSIAN, SPORTS

INT32 = (-(2**31), 2**31 - 1)

LONG_TEXTS = [ENGLISH, RUSSIAN, CHINESE, ARABIC, SPORTS]
LONG_IDS = ["en", "ru", "zh", "ar", "en-sports"]


def keys_of(source: str) -> list[int]:
    return lsh_keys([tokens(source)])[0]


# --- lsh_keys: shape and stability ---------------------------------------------------------


def test_features_version() -> None:
    # The golden keys below belong to this version; changing the hashing must bump it.
    assert signature.FEATURES_VERSION == 4


def test_keys_are_stable() -> None:
    words = tokens(
        "The quick brown fox jumps over the lazy dog while the cat watches from a sunny "
        "windowsill nearby and yawns"
    )
    assert len(words) == 20
    assert lsh_keys([words, ["hello", "big", "world"]]) == [
        [
            -1887322538, -1677873774, -1279382846, 653184850, 851139208, 1189728274,
            1561838586, 1654736658, 1773817094, 1973687980,
        ],
        [
            -1739698992, -1738988819, -1069368524, -842891121, -779351504, 433092057,
            503042439, 1095272752,
        ],
    ]  # fmt: skip


def test_refined_keys_and_hot_marks_are_stable_and_apart() -> None:
    key = -1887322538
    refined, without_numbers, mark = -148390062, 2068936919, -1983270671
    assert refined_key(key, ("2018", "1234")) == refined
    assert refined_key(key, ()) == without_numbers
    assert hot_mark(key) == mark
    # Numbers are told apart wherever their digits are split.
    assert refined_key(key, ("20", "181234")) != refined
    assert len({refined, without_numbers, mark, key}) == 4
    assert all(INT32[0] <= k <= INT32[1] for k in (refined, without_numbers, mark))


@pytest.mark.parametrize(
    ("length", "count"),
    [(3, 8), (4, 8), (5, 9), (9, 9), (10, 10), (200, 10)],
)
def test_band_keys_plus_one_key_per_covered_prefix_window(length: int, count: int) -> None:
    words = [f"w{i}" for i in range(length)]
    keys = lsh_keys([words])[0]
    assert len(keys) == count  # BANDS, plus windows 0-5, 5-10 the text covers
    assert signature.BANDS + len(signature.PREFIX_WINDOWS) == 10  # key rows of a long post
    assert keys == sorted(set(keys))
    assert all(INT32[0] <= key <= INT32[1] for key in keys)
    assert all(type(key) is int for key in keys)


def test_empty_batch() -> None:
    assert lsh_keys([]) == []


@pytest.mark.parametrize("short", [[], ["alone"], ["two", "words"]])
def test_fewer_words_than_a_shingle_is_refused(short: list[str]) -> None:
    with pytest.raises(ValueError, match="at least 3 words"):
        lsh_keys([short])
    # Also inside a batch, wherever it stands.
    with pytest.raises(ValueError, match="at least 3 words"):
        lsh_keys([["a", "b", "c"], short, ["d", "e", "f"]])


def test_repeated_calls_agree() -> None:
    # The word-hash cache is filled by the first call and read by the second.
    words = tokens(RUSSIAN)
    assert lsh_keys([words]) == lsh_keys([list(words)])


# --- lsh_keys: batches ---------------------------------------------------------------------


def test_batch_equals_one_by_one() -> None:
    texts = [tokens(source) for source in LONG_TEXTS]
    # Very short texts next to each other: shingles must never span two texts.
    texts[1:1] = [["a", "b", "x"], ["c", "d", "e"], ["a", "b", "x"]]
    texts.append(["w"] * 30)
    batch = lsh_keys(texts)
    assert batch == [lsh_keys([words])[0] for words in texts]
    assert batch[1] == batch[3]  # equal texts in one batch: equal keys


def test_batch_bigger_than_one_minhash_chunk() -> None:
    # More shingles than signature._CHUNK, and one text longer than a chunk by itself.
    texts = [[f"t{t}w{i % 97}" for i in range(5000)] for t in range(25)]
    texts.insert(7, ["x", "y", "z"])
    texts.append([f"long{i % 1013}" for i in range(signature._CHUNK + 5000)])
    assert sum(map(len, texts)) > 2 * signature._CHUNK
    assert lsh_keys(texts) == [lsh_keys([words])[0] for words in texts]


def test_batch_order_does_not_matter() -> None:
    texts = [tokens(source) for source in LONG_TEXTS]
    forward = lsh_keys(texts)
    backward = lsh_keys(texts[::-1])
    assert forward == backward[::-1]


# --- lsh_keys: what shares a key -----------------------------------------------------------


@pytest.mark.parametrize("source", LONG_TEXTS, ids=LONG_IDS)
@pytest.mark.parametrize(
    "variant",
    [
        "{}\n\nПодпишись на @channel",
        "{}\nhttps://t.me/channel",
        "🔥🔥 {} 🚀",
        "  {}  ",
        "{}\n#news #science",
    ],
    ids=["ru-footer", "link-footer", "emoji", "spaces", "hashtags"],
)
def test_folded_variants_have_identical_keys(source: str, variant: str) -> None:
    assert keys_of(variant.format(source)) == keys_of(source)


@pytest.mark.parametrize("source", LONG_TEXTS, ids=LONG_IDS)
def test_case_and_whitespace_variants_have_identical_keys(source: str) -> None:
    assert keys_of(source.upper().replace(" ", "\n")) == keys_of(source)


@pytest.mark.parametrize("source", LONG_TEXTS, ids=LONG_IDS)
@pytest.mark.parametrize("kept", [0.7, 0.5])
def test_truncated_copy_shares_a_key(source: str, kept: float) -> None:
    words = tokens(source)
    cut = words[: int(len(words) * kept)]
    assert len(cut) >= signature.PREFIX_WINDOWS[0][1]  # covers the first prefix window
    assert set(lsh_keys([cut])[0]) & set(lsh_keys([words])[0])


def test_truncated_copy_with_an_edit_at_the_start_shares_a_later_window() -> None:
    words = tokens(ENGLISH)
    edited = ["Scientists", *words[1:]]
    cut = edited[: int(len(words) * 0.7)]
    assert len(cut) >= signature.PREFIX_WINDOWS[-1][1]
    # The first window differs now; the second still matches the original's.
    assert set(lsh_keys([cut])[0]) & set(lsh_keys([words])[0])


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (ENGLISH, SPORTS),
        (ENGLISH, RUSSIAN),
        (RUSSIAN, CHINESE),
        (CHINESE, ARABIC),
        (ARABIC, SPORTS),
        (RUSSIAN, ARABIC),
    ],
)
def test_unrelated_texts_share_no_key(left: str, right: str) -> None:
    assert not set(keys_of(left)) & set(keys_of(right))


def test_light_edit_shares_a_key() -> None:
    words = tokens(ENGLISH)
    edited = list(words)
    edited[10] = "novel"  # 2 of 44 words changed
    edited[30] = "villages"
    assert set(lsh_keys([edited])[0]) & set(lsh_keys([words])[0])


# --- exact_key -----------------------------------------------------------------------------


def test_exact_key_is_stable_int32() -> None:
    digest = content_hash(["hello", "world"])
    assert exact_key(digest) == 616666382


@pytest.mark.parametrize(
    "digest",
    [
        "0" * 32,
        "f" * 32,
        "0123456789abcdef" * 2,
        content_hash(tokens(RUSSIAN)),
        "m" + "0" * 32,  # media content hashes are keyed too
        "m8fc642348ab471391413b355217b710a",
    ],
)
def test_exact_key_range(digest: str) -> None:
    key = exact_key(digest)
    assert type(key) is int
    assert INT32[0] <= key <= INT32[1]


def test_exact_keys_differ_between_hashes() -> None:
    digests = [content_hash(tokens(source)) for source in LONG_TEXTS]
    digests += ["m" + digest for digest in digests]
    assert len({exact_key(digest) for digest in digests}) == len(digests)
    # The whole hash counts, not a prefix of it.
    assert exact_key("0" * 31 + "1") != exact_key("0" * 32)
