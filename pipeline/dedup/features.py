"""A post's dedup features: its comparable words, content hash and index keys.

Posts with enough text are compared by text. Posts with little or none (media-only posts,
a sticker, ".") are compared only by their media files' bytes, when the export holds the
files: the same picture posted twice is one post, but two different photos captioned
"Photo of the day" are two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import pickling
from pipeline.dedup.signature import exact_key, lsh_keys
from pipeline.dedup.text import content_hash, is_comparable, tokens

if TYPE_CHECKING:
    from pipeline.ingest.model import ParsedPost

# Files up to this size are hashed whole; of a larger one (a video), its size and its first
# and last parts: the same upload has the same bytes there, and reading gigabytes would not
# tell more.
_WHOLE_FILE = 64 * 1024 * 1024
_PART = 8 * 1024 * 1024


@pickling.by_fields
@dataclass(slots=True, frozen=True)
class Features:
    """What the writer needs of a post to store and place it. The comparable words
    themselves are not kept: they are most of a parsed post's size, so carrying them from
    the parser process cost more than recomputing them (``words_of``) for the few posts that
    meet a candidate."""

    word_count: int  # comparable words; 0 when the text is too short to compare
    content_hash: str | None  # None: this post merges with no other by content
    keys: tuple[int, ...]  # its rows in post_keys


NONE = Features(0, None, ())


def media_content_hash(media_hashes: Sequence[str], words: Sequence[str]) -> str:
    """Equal for posts with the same media files and the same (short) text."""
    raw = "\x1e".join(sorted(media_hashes)) + "\x1d" + "\x1f".join(words)
    return "m" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def is_text_hash(content_hash: str | None) -> bool:
    """Whether a stored content hash is of text (rather than of media files)."""
    return content_hash is not None and not content_hash.startswith("m")


def words_of(text: str, content_hash: str | None) -> tuple[str, ...]:
    """The words a post with this text and content hash is compared by; () for a post
    compared only by its media files or not at all."""
    return tuple(tokens(text)) if is_text_hash(content_hash) else ()


def compute(texts: Sequence[str], media_hashes: Sequence[Sequence[str]] = ()) -> list[Features]:
    """Features of many posts at once (one vectorised pass: far cheaper than one by one).

    ``media_hashes[i]`` are the hashes of post i's media files present in its export.
    """
    words = [tokens(text) for text in texts]
    comparable = [index for index, w in enumerate(words) if is_comparable(w)]
    keys = lsh_keys([words[index] for index in comparable])
    result = [NONE] * len(texts)
    for index, row in zip(comparable, keys, strict=True):
        w = words[index]
        result[index] = Features(len(w), content_hash(w), tuple(row))
    for index, hashes in enumerate(media_hashes):
        if hashes and result[index] is NONE:
            digest = media_content_hash(hashes, words[index])
            result[index] = Features(0, digest, (exact_key(digest),))
    return result


def compute_one(text: str, media_hashes: Sequence[str] = ()) -> Features:
    return compute([text], [media_hashes])[0]


def file_hash(path: Path) -> str:
    """A hash of a media file's bytes (sampled for very large files)."""
    digest = hashlib.blake2b(digest_size=16)
    size = path.stat().st_size
    with path.open("rb") as file:
        if size <= _WHOLE_FILE:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        else:
            digest.update(str(size).encode())
            digest.update(file.read(_PART))
            file.seek(size - _PART)
            digest.update(file.read(_PART))
    return digest.hexdigest()


def _media_hashes(post: ParsedPost, base: Path | None) -> list[str]:
    """Hash the post's media files that are present beside its export (never outside it)."""
    hashes = []
    for item in post.media:
        if item.hash is None and item.file and base is not None and "://" not in item.file:
            path = (base / item.file).resolve()
            if path.is_relative_to(base) and path.is_file():
                try:
                    item.hash = file_hash(path)
                except OSError:
                    continue  # unreadable: the post is compared as if the file were absent
        if item.hash:
            hashes.append(item.hash)
    return hashes


def attach(posts: Sequence[ParsedPost], base: Path | None) -> None:
    """Compute the features of ``posts`` (read from an export in folder ``base``) in place."""
    todo = [post for post in posts if post.features is None]
    if not todo:
        return
    resolved = base.resolve() if base is not None else None
    media = [_media_hashes(post, resolved) for post in todo]
    for post, features in zip(todo, compute([p.text for p in todo], media), strict=True):
        post.features = features
