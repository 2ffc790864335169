"""A post's dedup features: text posts are keyed by their words, short ones by media bytes."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from pipeline.dedup.features import (
    NONE,
    Features,
    attach,
    compute,
    compute_one,
    file_hash,
    is_text_hash,
    media_content_hash,
    words_of,
)
from pipeline.dedup.signature import BANDS, exact_key, lsh_keys
from pipeline.dedup.text import content_hash, tokens
from pipeline.ingest.formats import detect_format, parser_for
from pipeline.ingest.model import MediaItem, ParsedPost, ParseOptions

ENGLISH = (
    "Researchers at the university have discovered a new method for recycling plastic waste "
    "into fuel using a cheap catalyst made from iron and clay."
)
RUSSIAN = (
    "Учёные из Новосибирска разработали новый способ очистки воды от микропластика с помощью "
    "магнитных наночастиц."
)
CHINESE = "科学家们发现了一种利用廉价催化剂将塑料垃圾转化为燃料的新方法，该过程在室温下即可进行。"
ARABIC = (
    "أعلن الباحثون في الجامعة عن طريقة جديدة لإعادة تدوير النفايات البلاستيكية وتحويلها إلى وقود."
)

SHORT = [
    "👍",
    ".",
    "",
    "   \n\t",
    "Photo of the day",
    "Фото дня",
    "今日图片",
    "صورة اليوم",
    "🔥🔥🔥 !!! ???",
    "Подпишись на @channel",  # all boilerplate
    "https://t.me/channel/123",
    "#news #photo",
]


# --- text posts ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", SHORT)
def test_short_text_has_no_features(source: str) -> None:
    assert compute_one(source) == Features(0, None, ())
    assert compute_one(source) is NONE


@pytest.mark.parametrize("source", [ENGLISH, RUSSIAN, CHINESE, ARABIC])
def test_comparable_text_features(source: str) -> None:
    words = tokens(source)
    found = compute_one(source)
    assert found.word_count == len(words)
    assert words_of(source, found.content_hash) == tuple(words)
    assert found.content_hash == content_hash(words)
    assert found.keys == tuple(lsh_keys([words])[0])
    assert len(found.keys) >= BANDS  # a key per band at least
    assert is_text_hash(found.content_hash)


def test_batch_equals_one_by_one() -> None:
    sources = [ENGLISH, "👍", RUSSIAN, "", CHINESE, "Photo of the day", ARABIC, ENGLISH]
    batch = compute(sources)
    assert batch == [compute_one(source) for source in sources]
    assert [f.content_hash is None for f in batch] == [
        False, True, False, True, False, True, False, False,
    ]  # fmt: skip
    assert batch[0] == batch[-1]


def test_empty_batch() -> None:
    assert compute([]) == []


@pytest.mark.parametrize(
    "variant",
    [
        "🚀 {} 🚀",
        "{}\n\nПодпишись на @channel",
        "{}\n\nSource: https://example.com/article",
        "  {}\n\n#science #ecology",
    ],
)
@pytest.mark.parametrize("source", [ENGLISH, RUSSIAN, CHINESE, ARABIC])
def test_folded_copies_have_equal_features(source: str, variant: str) -> None:
    assert compute_one(variant.format(source)) == compute_one(source)
    assert compute_one(variant.format(source).upper()) == compute_one(source)


def test_different_texts_have_different_hashes() -> None:
    hashes = [compute_one(s).content_hash for s in (ENGLISH, RUSSIAN, CHINESE, ARABIC)]
    assert len(set(hashes)) == 4


def test_comparable_text_ignores_media_hashes() -> None:
    # Text decides for posts with enough of it; media matters only without text.
    assert compute_one(ENGLISH, ["abc123"]) == compute_one(ENGLISH)
    assert compute([ENGLISH, RUSSIAN], [["abc"], []]) == compute([ENGLISH, RUSSIAN])


def test_short_text_without_media_files_has_no_features() -> None:
    # Media whose files the export lacks give no hashes: the post merges with nothing.
    assert compute(["👍", "Photo of the day"], [[], []]) == [NONE, NONE]


# --- media-only posts ----------------------------------------------------------------------


@pytest.mark.parametrize("caption", ["", "👍", ".", "Photo of the day", "今日图片"])
def test_media_only_post_is_keyed_by_its_files(caption: str) -> None:
    found = compute_one(caption, ["h1", "h2"])
    assert found.word_count == 0
    assert words_of(caption, found.content_hash) == ()
    assert found.content_hash == media_content_hash(["h1", "h2"], tokens(caption))
    assert not is_text_hash(found.content_hash)
    assert found.keys == (exact_key(found.content_hash),)  # one exact key, no LSH keys


def test_same_media_is_the_same_post() -> None:
    first, again, reordered, other, fewer = compute(
        ["", "", "", "", ""], [["h1", "h2"], ["h1", "h2"], ["h2", "h1"], ["h1", "h3"], ["h1"]]
    )
    assert first == again == reordered  # an album's file order does not matter
    assert other.content_hash != first.content_hash
    assert fewer.content_hash != first.content_hash
    assert len({first.keys, other.keys, fewer.keys}) == 3


def test_same_media_with_another_caption_is_another_post() -> None:
    day, day_again, week = compute(
        ["Photo of the day", "PHOTO OF THE DAY!", "Photo of the week"], [["h1"]] * 3
    )
    assert day == day_again  # the caption is folded like any text
    assert week.content_hash != day.content_hash
    assert week.keys != day.keys


def test_media_only_batch_equals_one_by_one() -> None:
    sources = ["", ENGLISH, "👍", "", "Photo of the day"]
    media: list[list[str]] = [["h1"], ["h1"], [], ["h1"], ["h2"]]
    batch = compute(sources, media)
    assert batch == [compute_one(s, m) for s, m in zip(sources, media, strict=True)]
    assert batch[0] == batch[3]
    assert batch[1] == compute_one(ENGLISH)
    assert batch[2] is NONE


# --- media content hashes ------------------------------------------------------------------


def test_media_content_hash() -> None:
    same = media_content_hash(["h1", "h2"], [])
    assert same.startswith("m")
    assert len(same) == 33
    assert not is_text_hash(same)
    assert media_content_hash(["h2", "h1"], []) == same  # album order does not matter
    assert media_content_hash(["h1", "h3"], []) != same
    assert media_content_hash(["h1"], []) != same
    # The short caption is part of it: two pictures captioned alike are still two posts,
    # and one picture captioned differently is two.
    day = media_content_hash(["h1"], tokens("Photo of the day"))
    assert day == media_content_hash(["h1"], tokens("PHOTO of the day!"))
    assert day != media_content_hash(["h1"], tokens("Photo of the week"))
    assert day != media_content_hash(["h2"], tokens("Photo of the day"))
    # Hash and word boundaries are kept apart.
    assert media_content_hash(["ab"], ["c"]) != media_content_hash(["a"], ["bc"])
    assert media_content_hash(["a", "b"], []) != media_content_hash(["a"], ["b"])


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        (None, False),
        (content_hash(["hello", "world"]), True),
        ("0" * 32, True),
        (media_content_hash(["h1"], []), False),
    ],
)
def test_is_text_hash(digest: str | None, expected: bool) -> None:
    assert is_text_hash(digest) is expected


# --- media files ---------------------------------------------------------------------------


def test_file_hash_of_a_small_file_is_of_its_bytes(tmp_path: Path) -> None:
    one, two, other = tmp_path / "1.jpg", tmp_path / "2.jpg", tmp_path / "3.jpg"
    one.write_bytes(b"\xff\xd8picture")
    two.write_bytes(b"\xff\xd8picture")
    other.write_bytes(b"\xff\xd8picturf")
    assert file_hash(one) == hashlib.blake2b(b"\xff\xd8picture", digest_size=16).hexdigest()
    assert file_hash(two) == file_hash(one)
    assert file_hash(other) != file_hash(one)


def test_file_hash_of_a_large_file_samples_its_ends(tmp_path: Path) -> None:
    size = 65 * 1024 * 1024  # above the whole-file limit; sparse, so cheap to write

    def video(name: str, patch_at: int | None, length: int = size) -> Path:
        path = tmp_path / name
        with path.open("wb") as file:
            file.truncate(length)
            if patch_at is not None:
                file.seek(patch_at)
                file.write(b"x")
        return path

    plain = file_hash(video("plain.mp4", None))
    assert file_hash(video("middle.mp4", size // 2)) == plain  # not read
    assert file_hash(video("head.mp4", 10)) != plain
    assert file_hash(video("tail.mp4", size - 10)) != plain
    assert file_hash(video("longer.mp4", None, size + 1)) != plain  # the size counts


def test_attach_hashes_media_inside_the_export_only(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "a.jpg").write_bytes(b"picture")
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    inside = MediaItem(kind="photo", file="photos/a.jpg")
    outside = MediaItem(kind="photo", file="../secret.jpg")
    absolute = MediaItem(kind="photo", file=str(tmp_path / "secret.jpg"))
    missing = MediaItem(kind="photo", file="photos/missing.jpg")
    remote = MediaItem(kind="photo", file="https://example.com/a.jpg")
    post = ParsedPost(
        message_id=1, text=ENGLISH, media=[inside, outside, absolute, missing, remote]
    )
    attach([post], export)
    assert inside.hash == hashlib.blake2b(b"picture", digest_size=16).hexdigest()
    assert [outside.hash, absolute.hash, missing.hash, remote.hash] == [None] * 4
    assert post.features == compute_one(ENGLISH)


def test_attach_merges_media_only_posts_by_file_bytes(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"the same picture")
    (tmp_path / "photos" / "b.jpg").write_bytes(b"the same picture")
    (tmp_path / "photos" / "c.jpg").write_bytes(b"another picture")
    posts = [
        ParsedPost(message_id=n, media=[MediaItem(kind="photo", file=f"photos/{name}.jpg")])
        for n, name in enumerate("abc", 1)
    ]
    absent = ParsedPost(message_id=4, media=[MediaItem(kind="photo", file="photos/gone.jpg")])
    attach([*posts, absent], tmp_path)
    a, b, c = (post.features for post in posts)
    assert a is not None
    assert c is not None
    assert a == b
    assert a.content_hash == media_content_hash([file_hash(tmp_path / "photos/a.jpg")], [])
    assert c.content_hash != a.content_hash
    assert absent.features is NONE  # no file, no text: merges with nothing


def test_attach_keeps_features_already_computed(tmp_path: Path) -> None:
    done = ParsedPost(message_id=1, text=ENGLISH, features=NONE)
    todo = ParsedPost(message_id=2, text=RUSSIAN)
    short = ParsedPost(message_id=3, text="👍")
    attach([done, todo, short], None)
    assert done.features is NONE
    assert todo.features == compute_one(RUSSIAN)
    assert short.features is NONE


# --- real exports --------------------------------------------------------------------------


def read_posts(path: Path) -> list[ParsedPost]:
    parser = parser_for(detect_format(path))
    return [event for event in parser.parse(path, ParseOptions()) if isinstance(event, ParsedPost)]


@pytest.mark.parametrize(
    "title",
    [
        "Explainable AI для self-supervised learning",
        "RELAX: Representation Learning Explainability",
    ],
)
def test_real_post_copied_between_channels_has_one_hash(exports_dir: Path, title: str) -> None:
    # The same post in two web-preview copies, laid out differently (blank lines).
    found = []
    for name in ("ai_dlya_vseh-spaced.txt", "nn_for_science-compact.txt"):
        posts = [p for p in read_posts(exports_dir / "text" / name) if p.text.startswith(title)]
        assert len(posts) == 1
        found.append(compute_one(posts[0].text))
    assert found[0].content_hash is not None
    assert found[0] == found[1]


@pytest.mark.parametrize("name", ["uponthepathofsalaf-result.json", "trantor_library-result.json"])
def test_real_export_batch_equals_one_by_one(exports_dir: Path, name: str) -> None:
    texts = [post.text for post in read_posts(exports_dir / "desktop" / name)]
    batch = compute(texts)
    # Every third post one by one: enough to catch a batch mixing texts, and fast.
    assert batch[::3] == [compute_one(text) for text in texts[::3]]
    comparable = [f for f in batch if f.content_hash is not None]
    assert len(comparable) > len(batch) // 2  # most posts of these channels have text
    assert all(len(f.keys) >= BANDS for f in comparable)


def test_features_survive_the_parser_process_pipe() -> None:
    post = ParsedPost(message_id=7, text=ENGLISH, media=[MediaItem("photo", file="a.jpg")])
    attach([post], None)
    copy = pickle.loads(pickle.dumps(post))
    assert copy == post
    assert copy.features == compute_one(ENGLISH)
    assert copy.features is not None
    assert copy.features.word_count == len(tokens(ENGLISH))
