"""ZIP archives of export folders (an upload to the bot), unpacked only when safe.

Everything is checked before a byte is written: an entry that would land outside the target
folder (an absolute path, ``..``), a link, or a total unpacked size far beyond the archive's
own (a zip bomb) refuses the whole archive.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from pipeline.errors import ParseError

# Exports compress well (JSON, HTML: 5-10x), media hardly at all; far beyond this is a bomb.
MAX_RATIO = 100
MAX_TOTAL = 4 * 1024**3
MAX_ENTRIES = 200_000


def safe_extract(archive: Path, into: Path, *, name: str | None = None) -> Path:
    """Unpack ``archive`` into the folder ``into`` (created); ``name``: how the user calls
    the archive, for messages. Raises :class:`ParseError`, before writing anything, if the
    archive is not a ZIP or any entry is unsafe; an entry whose data turns out longer than
    its stated size stops the unpacking half-way (give a fresh folder, and drop it then)."""
    shown = name or archive.name
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(shown, None, f"not a readable ZIP archive ({exc})") from None
    with bundle:
        entries = bundle.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ParseError(shown, None, f"{len(entries):,} entries: more than an export has")
        total = 0
        for entry in entries:
            _check_entry(shown, entry)
            total += entry.file_size
        own = max(archive.stat().st_size, 1)
        if total > MAX_TOTAL or total > own * MAX_RATIO:
            raise ParseError(
                shown,
                None,
                f"it would unpack to {total:,} bytes from {own:,} "
                f"(more than {MAX_RATIO}x its size): refused as a possible zip bomb",
            )
        into.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            target = into.joinpath(*PurePosixPath(entry.filename).parts)
            if entry.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Sizes are checked above from the directory; the stream is cut at the stated
            # size too, so an entry that lies about it cannot write more.
            with bundle.open(entry) as source, target.open("wb") as sink:
                _copy_at_most(source, sink, entry.file_size, shown, entry.filename)
    return into


def _check_entry(shown: str, entry: zipfile.ZipInfo) -> None:
    path = PurePosixPath(entry.filename.replace("\\", "/"))
    drive = bool(path.parts) and ":" in path.parts[0]  # C:/... from an archive made on Windows
    if path.is_absolute() or ".." in path.parts or drive:
        raise ParseError(shown, entry.filename, "the entry would land outside its folder")
    mode = entry.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ParseError(shown, entry.filename, "the entry is a link: links are not unpacked")
    if entry.flag_bits & 0x1:
        raise ParseError(shown, entry.filename, "the entry is encrypted")


def _copy_at_most(source: IO[bytes], sink: IO[bytes], limit: int, shown: str, entry: str) -> None:
    written = 0
    while chunk := source.read(1 << 20):
        written += len(chunk)
        if written > limit:
            raise ParseError(shown, entry, "the entry is larger than the archive says")
        sink.write(chunk)
