"""Dedup keys of an import held back from ``post_keys`` and written in large sorted runs.

The key index is ordered by key, and a post's keys are hashes: every batch of new keys
lands all over it. Once the index outgrows the page cache (a store of a million posts holds
ten million key rows), writing a batch touches a page per key, and it was most of what an
import into a large store paid beyond one into an empty store. Held back and written half
a million at a time in key order, the rows go in as a merge: each page is touched once per
run instead of once per batch.

Until then the held keys are looked up here, beside the index (``Clusterer``). They are
kept as a few sorted numpy runs, merged the way a binary counter carries, so a look-up
costs a binary search per run and adding costs O(log n) per key over a whole import.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]

# Rows held before they are written: 8 bytes a row, so this bounds the memory to ~4 MB
# (about twice that while two runs merge); a 200,000-message import writes its keys in four
# runs. (A million rows cost ~10 MB more at the peak and measured no faster.)
LIMIT = 500_000

# A row packed in one integer, key * 2**32 + post id, which sorts as (key, post id) does:
# a run is one sorted array, and two runs merge in linear time (timsort finds the two
# sorted halves). Keys are 32-bit signed (``signature._to_keys``), post ids below 2**32.
_SHIFT = 32
_LOW = (1 << _SHIFT) - 1


def _pack(keys: Ints, owners: Ints) -> Ints:
    if len(owners) and (owners.min() < 0 or owners.max() >= 1 << _SHIFT):
        raise ValueError("post ids must be below 2**32 to be staged")
    return (keys << _SHIFT) | owners


class StagedKeys:
    """(key, post id) rows not yet in ``post_keys``."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = LIMIT if limit is None else limit
        self._runs: list[Ints] = []  # packed rows, each run sorted

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    @property
    def full(self) -> bool:
        return len(self) >= self.limit

    def add(self, keys: Sequence[Sequence[int]], post_ids: Sequence[int]) -> None:
        """The keys of each post, ``keys[i]`` those of ``post_ids[i]``."""
        flat = np.fromiter(chain.from_iterable(keys), np.int64)
        if not len(flat):
            return
        owners = np.repeat(np.array(post_ids, np.int64), [len(row) for row in keys])
        self._runs.append(np.sort(_pack(flat, owners)))
        # Merged like a binary counter carries: the runs stay few (about log2 of the rows)
        # and each row is merged O(log n) times.
        while len(self._runs) > 1 and len(self._runs[-1]) >= len(self._runs[-2]):
            merged = np.concatenate(self._runs[-2:])
            del self._runs[-2:]
            merged.sort(kind="stable")  # in place: no third copy
            self._runs.append(merged)

    def holders(self, wanted: Sequence[int]) -> dict[int, list[int]]:
        """For each of the ``wanted`` keys that is held: its post ids."""
        found: dict[int, list[int]] = {}
        if not self._runs or not len(wanted):
            return found
        first = np.asarray(wanted, np.int64) << _SHIFT
        for run in self._runs:
            low = np.searchsorted(run, first, "left")
            high = np.searchsorted(run, first | _LOW, "right")  # (+ 2**32 overflows)
            hit = high > low
            if not hit.any():
                continue
            # Every matching row's position: the ranges low..high of the keys that matched.
            low, high = low[hit], high[hit]
            counts = high - low
            rows = np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            for packed in run[rows].tolist():
                found.setdefault(packed >> _SHIFT, []).append(packed & _LOW)
        return found

    def discard(self, post_ids: Collection[int]) -> None:
        """Forget the keys of ``post_ids`` (re-keyed posts)."""
        if not post_ids or not self._runs:
            return
        gone = np.fromiter(post_ids, np.int64, len(post_ids))
        self._runs = [kept for run in self._runs if len(kept := run[~np.isin(run & _LOW, gone)])]

    def discard_rows(self, rows: Sequence[tuple[int, int]]) -> None:
        """Forget these (key, post id) rows."""
        if not rows or not self._runs:
            return
        keys, owners = zip(*rows, strict=True)
        gone = _pack(np.array(keys, np.int64), np.array(owners, np.int64))
        self._runs = [kept for run in self._runs if len(kept := run[~np.isin(run, gone)])]

    def drain(self, chunk: int = 20_000) -> Iterator[list[tuple[int, int]]]:
        """Every held row in (key, post id) order, in lists of ``chunk`` rows (as tuples they
        take ten times the memory they take here); nothing is held after."""
        if not self._runs:
            return
        rows = np.concatenate(self._runs)
        self._runs = []
        rows.sort(kind="stable")
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            yield list(zip((part >> _SHIFT).tolist(), (part & _LOW).tolist(), strict=True))
