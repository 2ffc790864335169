"""Keys held back from post_keys: found like stored ones, written once, in key order."""

from __future__ import annotations

import pytest

from pipeline.dedup.staging import StagedKeys

LOWEST, HIGHEST = -(2**31), 2**31 - 1  # the key range (signature._to_keys: 32-bit)


def _held(rows: list[tuple[list[int], int]]) -> StagedKeys:
    staged = StagedKeys(limit=10**6)
    for keys, post_id in rows:  # one add per post: many runs, merged as they come
        staged.add([keys], [post_id])
    return staged


def test_each_key_names_every_post_holding_it() -> None:
    staged = _held([([5, LOWEST], 1), ([5, 9], 2), ([HIGHEST, 0], 3), ([5], 2**32 - 1)])
    assert staged.holders([LOWEST, 0, 5, 9, HIGHEST, 7]) == {
        LOWEST: [1],
        0: [3],
        5: [1, 2, 2**32 - 1],
        9: [2],
        HIGHEST: [3],
    }
    assert staged.holders([4, 6]) == {}
    assert StagedKeys().holders([5]) == {}


def test_many_adds_keep_few_runs_and_lose_nothing() -> None:
    staged = StagedKeys(limit=10**6)
    for post_id in range(1, 1001):
        staged.add([[post_id % 97, -post_id]], [post_id])
    assert len(staged) == 2000
    assert len(staged._runs) <= 11  # about log2 of the adds
    found = staged.holders(list(range(97)))
    assert sorted(owner for owners in found.values() for owner in owners) == list(range(1, 1001))
    assert staged.holders([-500]) == {-500: [500]}


def test_drain_gives_every_row_in_key_order_once() -> None:
    staged = _held([([3, -1], 2), ([3, 8], 1), ([-1], 5), ([HIGHEST, LOWEST], 4)])
    chunks = list(staged.drain(chunk=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [row for chunk in chunks for row in chunk] == [
        (LOWEST, 4), (-1, 2), (-1, 5), (3, 1), (3, 2), (8, 1), (HIGHEST, 4),
    ]  # fmt: skip
    assert len(staged) == 0
    assert list(staged.drain()) == []


def test_discard_forgets_only_those_posts() -> None:
    staged = _held([([1, 2], 10), ([2, 3], 11), ([3], 12)])
    staged.discard({11, 99})
    assert staged.holders([1, 2, 3]) == {1: [10], 2: [10], 3: [12]}
    staged.discard({10, 12})
    assert len(staged) == 0


def test_discard_rows_forgets_only_those_rows() -> None:
    # A hot mark's row (post id 0) and refined keys, as a key that stops being hot drops them.
    staged = _held([([1, 2], 10), ([2, LOWEST], 11), ([2], 0)])
    staged.discard_rows([(2, 11), (2, 0), (1, 99)])
    assert staged.holders([1, 2, LOWEST]) == {1: [10], 2: [10], LOWEST: [11]}
    staged.discard_rows([(1, 10), (2, 10), (LOWEST, 11)])
    assert len(staged) == 0
    staged.discard_rows([(5, 5)])  # nothing held: nothing to do


def test_full_at_its_limit() -> None:
    staged = StagedKeys(limit=3)
    staged.add([[1, 2]], [1])
    assert not staged.full
    staged.add([[3]], [2])
    assert staged.full


@pytest.mark.parametrize("post_id", [-1, 2**32])
def test_post_ids_must_fit_in_32_bits(post_id: int) -> None:
    with pytest.raises(ValueError, match="2\\*\\*32"):
        StagedKeys().add([[1]], [post_id])
