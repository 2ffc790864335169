"""The import's collector settings are its own: the process gets its own back afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.ingest.collector import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)
    gc.unfreeze()


def test_an_import_collects_rarely_and_sets_aside_what_was_alive(
    thresholds: tuple[int, int, int],
) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, thresholds[1], thresholds[2])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_the_settings_come_back_when_the_import_fails(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the file was unreadable")
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_what_the_process_froze_itself_stays_frozen(thresholds: tuple[int, int, int]) -> None:
    gc.freeze()
    with fewer_collections():
        pass
    assert gc.get_freeze_count() > 0
