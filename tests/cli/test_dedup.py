"""Duplicates as a user meets them: the import report, `posts show`, `tgpipe dedup rebuild`."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def copies(exports_dir: Path) -> list[str]:
    return [
        str(exports_dir / "text/nn_for_science-compact.txt"),
        str(exports_dir / "text/ai_dlya_vseh-spaced.txt"),
    ]


def test_a_second_channels_reposts_in_the_report_and_in_show(tgpipe, copies: list[str]) -> None:
    first = tgpipe("import", copies[0], "--json")
    assert first.exit_code == 0
    second = tgpipe("import", copies[1])
    assert second.exit_code == 0, second.stderr
    # The table, tab-separated off a terminal: file, format, parsed, new, dups, near, ...
    (row,) = second.stdout.splitlines()[1:]
    assert row.split("\t")[1:7] == ["text", "10", "8", "0", "2", "0"]
    listed = tgpipe("posts", "list", "--json").json()
    assert len(listed) == 11 + 8
    shared = next(p for p in listed if len({s["channel"] for s in p["sources"]}) == 2)
    shown = tgpipe("posts", "show", str(shared["id"]))
    assert shown.exit_code == 0
    assert "duplicates (kept for provenance, not listed):" in shown.stdout
    assert "in AI Для Всех near_duplicate 1.00" in shown.stdout
    assert "@nn_for_science, " in shown.stdout  # every place it was seen, channel first
    detail = tgpipe("posts", "show", str(shared["id"]), "--json").json()
    assert [d["duplicate_reason"] for d in detail["duplicates"]] == ["near_duplicate"]


def test_rebuild_with_another_threshold(
    tgpipe, exports_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        tgpipe("import", str(exports_dir / "desktop/cybersecnews-2018-messages2.html")).exit_code
        == 0
    )
    default = tgpipe("dedup", "rebuild", "--json").json()
    assert default == {"posts": 1000, "duplicates": 17, "threshold": 0.6}
    monkeypatch.setenv("TGPIPE_DEDUP_THRESHOLD", "1")
    strict = tgpipe("dedup", "rebuild")
    assert strict.exit_code == 0
    assert "re-indexed 1000 posts at threshold 1: 12" in strict.stdout  # only equal texts
    assert len(tgpipe("posts", "list", "--json").json()) == 1000 - 12
    monkeypatch.setenv("TGPIPE_DEDUP_THRESHOLD", "1.5")
    bad = tgpipe("dedup", "rebuild")
    assert bad.exit_code == 2
    assert "TGPIPE_DEDUP_THRESHOLD" in bad.stderr
