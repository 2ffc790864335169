"""Shingles, MinHash signatures and the LSH keys persisted for them.

A post's words become overlapping runs of words (shingles), each a 64-bit hash. A MinHash
signature over the runs of three words estimates how much of two texts is the same; cut
into bands, it gives keys that two posts share with a probability that rises steeply with
their similarity. Runs of three, not two: unrelated posts share many word pairs ("of the",
"в этом") but few triples, so they rarely share a key by chance, and checking a post stays
as cheap in a store of a million as in one of ten thousand. Similarity itself is measured
on word pairs (``similarity.py``), which a light edit disturbs less. The
keys are stored (``post_keys``), so the posts similar to a new one are found by looking its
keys up, not by scanning the store. Two more keys, of windows of the first words, find
truncated copies, whose Jaccard similarity to the whole post can be low.

Eight bands of three values and two windows of five words: ten key rows per post (13
before: ten bands, three windows of eight words), most of the index's share of the store.
Two posts with half of their runs of three in common share a band key with probability
1 - (1 - 0.5³)⁸ = 0.66. On the labelled set of ``bench/dedup_bench.py`` this keeps precision
and recall where thirteen rows had them. Bands of two values found more copies still with
fewer rows, but unrelated posts then share a band by chance often enough that the
candidates per post grew with the store (0.5 at 10k posts, 0.8 at 100k), which a store of
a million would pay for every post.

This is about forty lines of numpy rather than a dependency on purpose: the keys are stored,
so the hashing must never change under tgpipe's feet with a library upgrade. Any change to
the constants or the hashing must bump :data:`FEATURES_VERSION`, which makes tgpipe rebuild
the index.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

# 4: hot keys refined by numbers; 3: 8 bands x 3 values, 2 windows of 5 words (2: 10 x 3, 3
# windows of 8)
FEATURES_VERSION = 4

SHINGLE = 2  # words per shingle, when comparing two texts
KEY_SHINGLE = 3  # words per shingle, in the signatures behind the keys
BANDS = 8
ROWS = 3  # MinHash values per band
PERMUTATIONS = BANDS * ROWS
# A truncated copy keeps the beginning; an edit may touch either window of it. Short
# windows, so that a light edit (one word in twenty) more often leaves one of them whole.
PREFIX_WINDOWS = ((0, 5), (5, 10))

# A key held by more posts than this is hot: posts of one layout share it by the thousand
# (a feed of CVE notices, daily rates), so through it they meet only posts with the same
# numbers (:func:`refined_key`). No key of a real channel's store came near it except those
# of one text repeated; the labelled set of bench/dedup_bench.py has none.
HOT_KEY = 32

U64 = np.uint64
Hashes = npt.NDArray[np.uint64]
# Shingles per MinHash step: bounds the (permutations x shingles) matrix and its temporaries
# to ~5 MB each (at 100,000 they were most of the parser process's peak memory).
_CHUNK = 20_000


def _fixed_odd_constants(count: int, seed: int) -> Hashes:
    # A fixed generator, not numpy's default one: these numbers are part of the stored index.
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(1, 2**62, size=count, dtype=np.uint64) * U64(2) + U64(1)


_A = _fixed_odd_constants(PERMUTATIONS, 20261123)[:, None]
_B = _fixed_odd_constants(PERMUTATIONS, 1123)[:, None]
_SHINGLE_MULTIPLIERS = _fixed_odd_constants(max(SHINGLE, KEY_SHINGLE), 7)
_BAND_MULTIPLIERS = _fixed_odd_constants(ROWS + 1, 11)


def _mix(values: Hashes) -> Hashes:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the whole word."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> U64(33))
        values = values * U64(0xFF51AFD7ED558CCD)
        values = values ^ (values >> U64(33))
        values = values * U64(0xC4CEB9FE1A85EC53)
        return values ^ (values >> U64(33))


# Words repeat across posts far more than they vary: remembering their hashes is a large part
# of a signature's cost. Bounded, and simply started afresh when full.
_WORD_CACHE: dict[str, int] = {}
_WORD_CACHE_LIMIT = 1 << 18


def _word_hash(word: str) -> int:
    value = zlib.crc32(word.encode())
    if len(_WORD_CACHE) >= _WORD_CACHE_LIMIT:
        _WORD_CACHE.clear()
    _WORD_CACHE[word] = value
    return value


def _word_hashes(words: Sequence[str]) -> list[int | None]:
    hashes: list[int | None] = list(map(_WORD_CACHE.get, words))
    if None in hashes:
        hashes = [h if h is not None else _word_hash(w) for h, w in zip(hashes, words, strict=True)]
    return hashes


def _shingle_hashes(word_hashes: Hashes, size: int) -> Hashes:
    """Every run of ``size`` consecutive words, hashed (one value per starting position)."""
    count = len(word_hashes) - size + 1
    combined = np.zeros(max(count, 0), U64)
    with np.errstate(over="ignore"):
        for offset in range(size):
            combined = (
                combined * U64(31)
                + word_hashes[offset : offset + count] * (_SHINGLE_MULTIPLIERS[offset])
            )
    return _mix(combined)


def _to_keys(values: Hashes) -> npt.NDArray[np.int32]:
    """Signed 32-bit keys: small in both databases' indexes, yet unrelated posts share one
    by chance only about once in four billion comparisons."""
    return (_mix(values) >> U64(32)).astype(np.uint32).view(np.int32)


def _band_keys(signatures: Hashes) -> npt.NDArray[np.int32]:
    """Keys of (posts x permutations) signatures: (posts x bands)."""
    bands = signatures.reshape(len(signatures), BANDS, ROWS)
    with np.errstate(over="ignore"):
        combined = np.broadcast_to(
            np.arange(BANDS, dtype=U64) * _BAND_MULTIPLIERS[ROWS], bands.shape[:2]
        ).copy()
        for row in range(ROWS):
            combined = combined * U64(31) + bands[:, :, row] * _BAND_MULTIPLIERS[row]
    return _to_keys(combined)


def _minhashes(all_shingles: Hashes, starts: npt.NDArray[np.intp]) -> Hashes:
    """MinHash signatures of consecutive runs of ``all_shingles`` beginning at ``starts``."""
    result = np.empty((len(starts), PERMUTATIONS), U64)
    ends = np.append(starts[1:], len(all_shingles))
    first = 0
    while first < len(starts):
        last = int(np.searchsorted(ends, ends[first] + _CHUNK - 1, side="right"))
        last = max(last, first + 1)
        lo, hi = int(starts[first]), int(ends[last - 1])
        with np.errstate(over="ignore"):
            permuted = (_A * all_shingles[None, lo:hi] + _B) >> U64(32)
        result[first:last] = np.minimum.reduceat(permuted, starts[first:last] - lo, axis=1).T
        first = last
    return result


def _prefix_keys(texts: Sequence[Sequence[str]]) -> list[list[int]]:
    """Keys of the windows of each text's first words that the text covers."""
    heads = [
        [
            # The window number (bits 40+) sets the windows, and all of them apart from the
            # band keys, before mixing.
            zlib.crc32("\x1f".join(words[start:end]).encode()) | ((number + 1) << 40)
            for number, (start, end) in enumerate(PREFIX_WINDOWS)
            if len(words) >= end
        ]
        for words in texts
    ]
    flat = _to_keys(np.array([h for row in heads for h in row], U64)).tolist()
    result, position = [], 0
    for row in heads:
        result.append(flat[position : position + len(row)])
        position += len(row)
    return result


def exact_key(content_hash: str) -> int:
    """The key of a content hash: finds posts equal by content (media-keyed posts)."""
    digest = int.from_bytes(hashlib.blake2b(content_hash.encode(), digest_size=8).digest())
    # Bit 63 sets exact keys apart from band and prefix keys before mixing.
    return int(_to_keys(np.array([digest | (1 << 63)], U64))[0])


def refined_key(key: int, numbers: Sequence[str]) -> int:
    """The key under which posts holding the hot ``key`` meet: only with equal numbers, as
    posts of one template differ in their numbers and the similarity's veto keeps them apart
    anyway. A copy keeps its original's numbers; one that lost some (truncated) meets it
    through the key's other, rarer keys, or not at all when all of them are hot."""
    return _small_hash("\x1e".join((str(key), *numbers)))


def hot_mark(key: int) -> int:
    """The key of the row (post id 0) that says ``key`` is hot and its holders are refined."""
    return _small_hash(f"hot\x1e{key}")


def _small_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), signed=True)


def lsh_keys(texts: Sequence[Sequence[str]]) -> list[list[int]]:
    """The band and prefix keys of each word list (each at least ``KEY_SHINGLE`` words)."""
    if not texts:
        return []
    lengths = np.fromiter((len(words) for words in texts), np.intp, len(texts))
    if (lengths < KEY_SHINGLE).any():
        raise ValueError(f"every text needs at least {KEY_SHINGLE} words")
    word_hashes = np.fromiter(
        chain.from_iterable(map(_word_hashes, texts)), U64, int(lengths.sum())
    )
    shingled = _shingle_hashes(word_hashes, KEY_SHINGLE)
    # A shingle starting in the last KEY_SHINGLE-1 words of a text would span two texts.
    ends = np.cumsum(lengths)
    valid = np.ones(len(shingled), bool)
    for tail in range(1, KEY_SHINGLE):
        tails = ends[:-1] - tail
        valid[tails] = False
    shingled = shingled[valid]
    counts = lengths - KEY_SHINGLE + 1
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
    keys = _band_keys(_minhashes(shingled, starts)).tolist()
    for row, prefixes in zip(keys, _prefix_keys(texts), strict=True):
        row.extend(prefixes)
    return [sorted(set(row)) for row in keys]
