"""Which parser reads which file: the format registry, detection and folder expansion."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

from pipeline.errors import ParseError
from pipeline.ingest.model import FORMATS, Event, ParseOptions
from pipeline.ingest.source import detect_encoding

_MODULES = {
    "desktop-json": "pipeline.ingest.desktop_json",
    "desktop-html": "pipeline.ingest.desktop_html",
    "web-html": "pipeline.ingest.web_html",
    "text": "pipeline.ingest.text_copy",
    "article": "pipeline.ingest.article",
}
# Most specific first: an article is whatever text or HTML is nothing else.
_SNIFF_ORDER = ("desktop-json", "desktop-html", "web-html", "text", "article")
_HEAD_BYTES = 65536
# Folders of a Telegram Desktop export that hold media, not messages.
_MEDIA_DIRS = frozenset(
    {
        "photos",
        "files",
        "video_files",
        "voice_messages",
        "round_video_messages",
        "stickers",
        "css",
        "js",
        "images",
        "contacts",
        "calls",
    }
)
# Walking a folder takes the files exports come as; a file named explicitly is always read.
_EXPORT_SUFFIXES = frozenset({".json", ".html", ".htm", ".txt"})
_PAGE = re.compile(r"^messages(\d*)\.html$")


class Parser(Protocol):
    FORMAT: str

    def sniff(self, path: Path, head: str) -> bool: ...

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Event]: ...


def parser_for(format: str) -> Parser:
    if format not in _MODULES:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    module: ModuleType = importlib.import_module(_MODULES[format])
    return cast(Parser, module)


def read_head(path: Path) -> str:
    """The first 64 KiB of a file as text, for sniffing."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise ParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    if not head.strip():
        raise ParseError(str(path), None, "empty file")
    return head.decode(detect_encoding(head, path), errors="ignore")


def detect_format(path: Path) -> str:
    """The format of ``path`` from its content (a Desktop HTML folder counts as its first page)."""
    head = read_head(path)
    for format in _SNIFF_ORDER:
        if parser_for(format).sniff(path, head):
            return format
    raise ParseError(
        str(path), None, "not a channel export or article tgpipe can read (try --format)"
    )


def ends_inside_a_character(path: Path) -> bool:
    """Whether a UTF-8 file ends in the middle of a multi-byte character: a file cut short
    (a download or a copy that stopped), whatever its parser then stumbles on."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            handle.seek(max(0, handle.seek(0, 2) - 4))
            tail = handle.read()
        if detect_encoding(head, path) != "utf-8":
            return False
    except (OSError, ParseError):
        return False
    lead = len(tail) - 1
    while lead >= 0 and tail[lead] & 0xC0 == 0x80:  # continuation bytes
        lead -= 1
    if lead < 0:
        return bool(tail)
    first = tail[lead]
    needed = 2 if 0xC0 <= first < 0xE0 else 3 if 0xE0 <= first < 0xF0 else 4 if first >= 0xF0 else 1
    return needed > len(tail) - lead


def truncation_error(path: Path, error: ParseError) -> ParseError:
    """``error``, or, for a file cut inside a character, that it was cut short: the parser's
    own words ("invalid utf-8 text", "invalid JSON") blame the content for a copy that stopped."""
    if not ends_inside_a_character(path):
        return error
    return ParseError(str(path), None, "the file ends inside a character: it was cut short")


def forced_format_error(path: Path, format: str, error: ParseError) -> ParseError:
    """What to say when a file read as ``format`` (forced) fails: when it is not that format
    at all, say so, and what it looks like, rather than what the wrong parser stumbled on
    ("the file ends before </html>" of a JSON file)."""
    try:
        head = read_head(path)
    except ParseError:
        return error
    if parser_for(format).sniff(path, head):
        return error  # a file of that format, and its own fault
    looks = next((other for other in _SNIFF_ORDER if parser_for(other).sniff(path, head)), None)
    reason = f"not a {format} file" + (
        f": it looks like {looks} (leave out --format to read it as that)"
        if looks
        else ", nor of another format tgpipe reads"
    )
    return ParseError(str(path), None, reason)


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files to import, in a stable order: folders are walked (export-like files only: JSON,
    HTML, text), Desktop HTML exports are represented by their first page (the parser follows
    the pagination)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_walk(path))
        else:
            files.append(path)
    return files


def _page_number(name: str) -> int | None:
    match = _PAGE.match(name)
    return (int(match.group(1)) if match.group(1) else 1) if match else None


def _walk(folder: Path) -> Iterator[Path]:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    pages = [n for entry in entries if (n := _page_number(entry.name)) is not None]
    first_page = min(pages, default=None)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in _MEDIA_DIRS:
                yield from _walk(entry)
        elif _page_number(entry.name) not in (None, first_page):
            continue  # read by following the first page's pagination
        elif entry.is_file() and entry.suffix.lower() in _EXPORT_SUFFIXES:
            yield entry
