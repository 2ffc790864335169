"""Reading input files: encoding detection and refusing what is not text."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from pipeline.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(head: bytes, path: Path | str) -> str:
    """The encoding of a file from its first bytes; ``ParseError`` for binary files.

    UTF-8 first (exports are UTF-8), then byte-order marks, then cp1251 for old Windows
    copies of Russian channels; anything with NUL bytes and no BOM is binary.
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" in head:
        raise ParseError(str(path), None, "binary file, not a text export")
    try:
        # A multi-byte sequence may be cut at the end of the sample; that is still UTF-8.
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    # A UTF-8 file with a few corrupt bytes is still UTF-8 (Cyrillic UTF-8 read as cp1251
    # also looks Cyrillic): call it UTF-8 so the reader reports the bad byte's place.
    non_ascii = sum(1 for byte in head if byte > 0x7F)
    invalid = head.decode("utf-8", errors="replace").count("\ufffd")
    if non_ascii and invalid * 50 < non_ascii:
        return "utf-8"
    try:
        decoded = head.decode("cp1251")
    except UnicodeDecodeError:
        raise ParseError(
            str(path), None, "unknown text encoding (not UTF-8, UTF-16 or cp1251)"
        ) from None
    if _reads_as_cyrillic(decoded):
        return "cp1251"
    raise ParseError(str(path), None, "unknown text encoding (not UTF-8, UTF-16 or cp1251)")


def _reads_as_cyrillic(text: str) -> bool:
    """Whether the words of ``text`` that hold non-ASCII letters are Cyrillic words.

    Judged on the text content alone: JSON keys and ASCII values (types, ids, paths, links)
    and HTML markup carry no non-ASCII letter, so they neither count for nor against, however
    much of the file they are (short posts of a real export are a small part of it). The
    other single-byte encodings read as cp1251 give Latin words with Cyrillic letters inside
    (cp1252 "café" is "cafй"); single letters are left out, as cp1252 "é" and "à" alone read
    as Cyrillic letters.
    """
    letters = cyrillic = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        letters += len(word)
        if _CYRILLIC_WORD.fullmatch(word):
            cyrillic += len(word)
    return cyrillic * 2 > letters


_WORD = re.compile(r"[^\W\d_]{2,}")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")


def read_text(path: Path) -> str:
    """The whole file as text, with line endings normalised to ``\\n``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise ParseError(str(path), None, "empty file")
    encoding = detect_encoding(data[:65536], path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError(str(path), f"line {line}", f"invalid {encoding} text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
