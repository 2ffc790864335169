"""`tgpipe stats` as a user runs it: on real exports, with a chart, and with mistakes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "demo-channel"
PNG = b"\x89PNG\r\n\x1a\n"


def test_stats_of_a_real_export_with_its_chart(tgpipe, exports_dir: Path, tmp_path: Path) -> None:
    assert tgpipe("import", str(exports_dir / "desktop/trantor_library-result.json")).exit_code == 0
    chart = tmp_path / "trantor.png"
    result = tgpipe("stats", "--tz", "Asia/Shanghai", "--chart", str(chart))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "川陀大学图书馆 (hours in Asia/Shanghai)"
    assert lines[1].startswith("Messages: 701 (701 from exports, 0 published by tgpipe), 2023-")
    assert lines[2].startswith("Reactions: 1,852, ")
    assert lines[3].startswith("Best hours: ")
    assert "Top posts:" in lines
    assert lines[-1] == f"chart: {chart}"
    assert chart.read_bytes().startswith(PNG)
    (data,) = tgpipe("stats", "--json").json()
    assert (data["messages"], data["reactions"], data["zone"]) == (701, 1852, "UTC")
    assert data["top"][0]["reactions"] == 170
    assert len(data["best_hours"]) == 3
    # The JSON names the same hours as the text, for the same zone.
    shanghai = tgpipe("stats", "--json", "--tz", "Asia/Shanghai").json()[0]
    best = [f"{slot['hour']:02d}:00" for slot in shanghai["best_hours"]]
    assert re.findall(r"(\d\d:00) \(", lines[3]) == best


def test_since_and_channel(tgpipe) -> None:
    assert tgpipe("import", str(EXAMPLE)).exit_code == 0
    (everything,) = tgpipe("stats", "--json", "--channel", "tgpipe demo").json()
    (later,) = tgpipe("stats", "--json", "--since", "2025-03-03").json()
    assert everything["messages"] > later["messages"] > 0
    assert later["since"] == "2025-03-03T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("--since", "yesterday"), 2, "tgpipe: error: --since: 'yesterday': not a time: use"),
        (("--since", "2999-01-01"), 2, "tgpipe: error: --since: '2999-01-01': that is in the"),
        (("--tz", "Mars/Base"), 2, "tgpipe: error: unknown time zone 'Mars/Base'"),
        (("--channel", "nope"), 1, "tgpipe: error: no channel 'nope' (known channels: "),
    ],
)
def test_mistakes_are_one_line(tgpipe, args: tuple[str, ...], code: int, error: str) -> None:
    assert tgpipe("import", str(EXAMPLE)).exit_code == 0
    result = tgpipe("stats", *args)
    assert (result.exit_code, result.stdout) == (code, "")
    assert result.stderr.startswith(error), result.stderr
    assert result.stderr.count("\n") == 1


def test_an_empty_store_and_a_channel_without_reactions(
    tgpipe, exports_dir: Path, tmp_path: Path
) -> None:
    empty = tgpipe("stats")
    assert empty.exit_code == 1
    assert empty.stderr == (
        "tgpipe: error: no channel has a history yet: import a channel's export, or publish "
        "to one\n"
    )
    assert (
        tgpipe("import", str(exports_dir / "desktop/cybersecnews-2018-messages2.html")).exit_code
        == 0
    )
    text = tgpipe("stats")
    assert "No reactions recorded on them yet" in text.stdout
    chart = tmp_path / "none.png"
    result = tgpipe("stats", "--chart", str(chart))
    assert result.exit_code == 1
    assert result.stderr.endswith("has no reactions recorded yet: nothing to draw.\n")
    assert not chart.exists()


def test_a_chart_needs_one_channel(tgpipe, exports_dir: Path, tmp_path: Path) -> None:
    for name in ("trantor_library-result.json", "uponthepathofsalaf-result.json"):
        assert tgpipe("import", str(exports_dir / "desktop" / name)).exit_code == 0
    result = tgpipe("stats", "--chart", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith("tgpipe: error: --chart draws one channel: name it with")
    missing = tgpipe("stats", "--channel", "川陀大学图书馆", "--chart", str(tmp_path / "no/x.png"))
    assert missing.exit_code == 1
    assert missing.stderr.startswith(
        f"tgpipe: error: cannot write the chart to {tmp_path}/no/x.png"
    )
