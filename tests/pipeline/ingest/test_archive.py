"""Unpacking an uploaded export ZIP: hostile archives are refused before anything is written."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import ParseError
from pipeline.ingest.archive import safe_extract


def _zip(path: Path, entries: dict[str, bytes], *, link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, "/etc/passwd")
    return path


def test_an_export_folder_is_unpacked_as_it_was(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "export.zip",
        {"ChatExport/result.json": b'{"messages": []}', "ChatExport/photos/a.jpg": b"\xff\xd8"},
    )
    folder = safe_extract(archive, tmp_path / "out")
    assert (folder / "ChatExport" / "result.json").read_bytes() == b'{"messages": []}'
    assert (folder / "ChatExport" / "photos" / "a.jpg").read_bytes() == b"\xff\xd8"


@pytest.mark.parametrize(
    ("entries", "link", "reason"),
    [
        ({"../evil.json": b"{}"}, None, "../evil.json: the entry would land outside its folder"),
        ({"a/../../evil": b"x"}, None, "outside its folder"),
        ({"/etc/evil": b"x"}, None, "outside its folder"),
        ({"C:/evil": b"x"}, None, "outside its folder"),
        ({"ok.json": b"{}"}, "link", "link: the entry is a link"),
        ({"bomb.json": b"0" * 5_000_000}, None, "refused as a possible zip bomb"),
    ],
)
def test_a_hostile_archive_is_refused_and_nothing_written(
    tmp_path: Path, entries: dict[str, bytes], link: str | None, reason: str
) -> None:
    archive = _zip(tmp_path / "upload.zip", entries, link=link)
    with pytest.raises(ParseError, match=r"upload\.zip") as raised:
        safe_extract(archive, tmp_path / "out")
    assert reason in str(raised.value)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.json").exists()


def test_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ParseError, match="not a readable ZIP archive"):
        safe_extract(path, tmp_path / "out")
