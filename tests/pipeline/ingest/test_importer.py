"""The import pipeline end to end: files through their parsers into a real store."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.errors import TgpipeError
from pipeline.ingest import worker
from pipeline.ingest.importer import ImportOptions, import_paths
from pipeline.posts import list_posts
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    Channel,
    ChannelMessage,
    ImportRun,
    ImportStatus,
    Post,
    PostSource,
)
from tests.pipeline.dedup.exports import Message, write_export, write_html_export

# (file, format, parsed posts, skipped service messages, new posts) for every shared export.
# Fewer new than parsed: the channel posted the same content more than once. cybersecnews
# re-posted 12 news items word for word and 5 with a changed headline or blurb; trantor one
# text with and without its picture; uponthepathofsalaf one article without its credit line.
REAL_EXPORTS = [
    ("desktop/cybersecnews-2018-messages2.html", "desktop-html", 1000, 0, 983),
    ("desktop/pachum-small-result.json", "desktop-json", 1, 0, 1),
    ("desktop/trantor_library-messages.html", "desktop-html", 701, 16, 700),
    ("desktop/trantor_library-result.json", "desktop-json", 701, 16, 700),
    ("desktop/uponthepathofsalaf-messages.html", "desktop-html", 203, 5, 202),
    ("desktop/uponthepathofsalaf-result.json", "desktop-json", 203, 5, 202),
    ("text/ai_dlya_vseh-spaced.txt", "text", 10, 0, 10),
    ("text/dl_interview-qa.txt", "text", 6, 0, 6),
    ("text/nn_for_science-compact.txt", "text", 11, 0, 11),
]


async def count(factory: SessionFactory, model: type) -> int:
    async with unit_of_work(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(("name", "format", "parsed", "skipped", "new"), REAL_EXPORTS)
async def test_real_export_imports_once(
    session_factory: SessionFactory,
    exports_dir: Path,
    name: str,
    format: str,
    parsed: int,
    skipped: int,
    new: int,
) -> None:
    path = exports_dir / name
    first = await import_paths(session_factory, [path])
    (report,) = first.files
    assert (report.format, report.parsed, report.new, report.skipped) == (
        format,
        parsed,
        new,
        skipped,
    )
    assert report.duplicates + report.near_duplicates == parsed - new
    async with unit_of_work(session_factory) as session:
        assert len(await list_posts(session)) == new  # duplicates are kept, not listed
    assert report.rejected == 0
    assert report.errors == []
    assert await count(session_factory, Post) == parsed

    again = await import_paths(session_factory, [path])
    assert (again.files[0].new, again.files[0].duplicates) == (0, parsed)
    assert await count(session_factory, Post) == parsed
    # A second sighting of the same file refreshes its provenance rows, never adds to them.
    assert await count(session_factory, PostSource) == parsed


@pytest.mark.parametrize("chat", ["trantor_library", "uponthepathofsalaf"])
@pytest.mark.parametrize("order", ["json-first", "html-first"])
async def test_json_and_html_of_one_chat_give_the_same_posts(
    session_factory: SessionFactory, exports_dir: Path, chat: str, order: str
) -> None:
    files = [
        exports_dir / f"desktop/{chat}-result.json",
        exports_dir / f"desktop/{chat}-messages.html",
    ]
    if order == "html-first":
        files.reverse()
    report = await import_paths(session_factory, files)
    first, second = report.files
    assert second.new == 0
    assert second.duplicates == first.parsed
    assert await count(session_factory, Channel) == 1
    async with unit_of_work(session_factory) as session:
        posts = await list_posts(session)
    # Every post was seen in both files, under the same message id (a canonical post also
    # lists where its duplicates were seen, under their own post ids).
    for post in posts:
        own = [s for s in post.sources if s.post_id == post.id]
        assert sorted(s.format for s in own) == ["desktop-html", "desktop-json"]
        assert len({s.message_id for s in own}) == 1


async def test_every_shared_export_in_one_run(
    session_factory: SessionFactory, exports_dir: Path
) -> None:
    report = await import_paths(session_factory, [exports_dir])
    assert report.ok
    # Folders are walked in name order; README.md is not an export and is passed over.
    assert [Path(f.path).name for f in report.files] == [Path(n).name for n, *_ in REAL_EXPORTS]
    totals = report.totals()
    assert totals["parsed"] == sum(parsed for _, _, parsed, _, _ in REAL_EXPORTS)
    # The JSON and HTML exports of two chats hold the same 904 messages: found by source.
    assert totals["same_source"] == 701 + 203
    assert await count(session_factory, Post) == totals["parsed"] - 701 - 203
    # Each chat's own repeats once (the second export of a chat adds none), and the two posts
    # ai_dlya_vseh re-posted from nn_for_science.
    assert totals["new"] == 983 + 1 + 700 + 202 + 8 + 6 + 11
    assert totals["near_duplicates"] == 5 + 1 + 2
    async with unit_of_work(session_factory) as session:
        run = await session.get_one(ImportRun, report.run_id)
        assert run.status is ImportStatus.DONE
        assert (run.parsed, run.new, run.rejected) == (totals["parsed"], totals["new"], 0)
        assert len(run.files) == len(REAL_EXPORTS)
        assert run.finished_at is not None


def _export(messages: int) -> bytes:
    """A Desktop JSON export of ``messages`` short posts of a channel of its own."""
    return json.dumps(
        {
            "name": "Generated",
            "type": "public_channel",
            "id": 4242,
            "messages": [
                {
                    "id": i,
                    "type": "message",
                    "date": "2024-01-01T00:00:00",
                    "date_unixtime": str(1704067200 + 60 * i),
                    "text": f"post number {i}",
                    "text_entities": [{"type": "plain", "text": f"post number {i}"}],
                }
                for i in range(1, messages + 1)
            ],
        },
        indent=1,
    ).encode()


def _bad_files(folder: Path, good: Path) -> dict[str, str]:
    """Broken inputs beside a good one; value: what the error line must say."""
    data = good.read_bytes()
    (folder / "empty.json").write_bytes(b"")
    (folder / "binary.json").write_bytes(bytes(range(256)) * 8)
    (folder / "truncated-result.json").write_bytes(data[: len(data) * 2 // 3])
    # Broken near its end: thousands of good messages are written before the error shows.
    big = _export(5000)
    cut = big.index(b'"id": 4900,')
    (folder / "broken-result.json").write_bytes(big[:cut] + b",," + big[cut:])
    (folder / "login.html").write_text(
        "<html><head><title>Sign in</title></head><body><form><input name=user>"
        "<input type=password></form></body></html>"
    )
    (folder / "notes.txt").write_text("shopping: milk, bread\n")
    return {
        "empty.json": "empty file",
        "binary.json": "binary file",
        "truncated-result.json": "byte",
        "broken-result.json": "byte",
        "login.html": "not",
        "notes.txt": "",
    }


async def test_bad_files_are_rejected_whole_and_the_rest_imports(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = exports_dir / "desktop/uponthepathofsalaf-result.json"
    shutil.copy(good, folder / "good-result.json")
    expected = _bad_files(folder, exports_dir / "desktop/trantor_library-result.json")

    report = await import_paths(session_factory, [folder])

    assert not report.ok
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["good-result.json"].new == 202  # and one near duplicate
    assert by_name["good-result.json"].rejected == 0
    for name, reason in expected.items():
        item = by_name[name]
        assert item.rejected == 1, name
        assert item.new == 0
        (error,) = item.errors
        assert error.startswith(str(folder / name)), error
        assert reason in error
    # The broken file gave thousands of posts before its error: none of them was kept.
    assert by_name["broken-result.json"].parsed >= 3000
    assert await count(session_factory, Post) == 203
    async with unit_of_work(session_factory) as session:
        run = await session.get_one(ImportRun, report.run_id)
        assert run.status is ImportStatus.FAILED
        assert run.rejected == len(expected)
        assert len(run.errors) == len(expected)


async def test_nothing_already_stored_is_lost_by_a_bad_file(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    good = exports_dir / "desktop/trantor_library-result.json"
    await import_paths(session_factory, [good])
    data = good.read_bytes()
    broken = tmp_path / "result.json"
    broken.write_bytes(data[: len(data) // 2])  # the same chat, cut in the middle
    report = await import_paths(session_factory, [broken])
    assert report.files[0].rejected == 1
    assert await count(session_factory, Post) == 701
    assert await count(session_factory, PostSource) == 701


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("cp1251", b""), ("utf-16", b""), ("utf-8", b"\xef\xbb\xbf")],
)
async def test_text_copies_in_other_encodings(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path, encoding: str, prefix: bytes
) -> None:
    text = (exports_dir / "text/dl_interview-qa.txt").read_text(encoding="utf-8")
    # cp1251 has no emoji: keep the Cyrillic text, drop what it cannot encode.
    data = text.encode(encoding, errors="ignore" if encoding == "cp1251" else "strict")
    path = tmp_path / f"copy-{encoding}.txt"
    path.write_bytes(prefix + data)
    # Without its emoji a cp1251 copy has lost the reaction lines that identify the format.
    forced = ImportOptions(format="text" if encoding == "cp1251" else "auto")
    report = await import_paths(session_factory, [path], forced)
    (item,) = report.files
    assert item.errors == []
    assert item.format == "text"
    async with unit_of_work(session_factory) as session:
        posts = await list_posts(session)
    assert any("глубокое" in post.text or "#" in post.text for post in posts)
    assert not any("Ð" in post.text or "\ufffd" in post.text for post in posts)


# A message a Desktop export lists twice: the same in either format.
WRITERS = [
    pytest.param(lambda path, messages: write_export(path / "result.json", messages), id="json"),
    pytest.param(
        lambda path, messages: write_html_export(path / "messages.html", messages), id="html"
    ),
]
CAPTION = Message(1, "album caption", extra={"photo": "photos/1.jpg"})
SECOND_PHOTO = Message(2, extra={"photo": "photos/2.jpg"})
TEXT = Message(5, "a text post", date=datetime(2024, 1, 1, 0, 5, tzinfo=UTC))


async def stored(factory: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """What the store holds, row by row, to compare before and after an import."""
    async with unit_of_work(factory) as session:
        posts = await session.execute(select(Post.id, Post.text, Post.media).order_by(Post.id))
        sources = await session.execute(
            select(PostSource.post_id, PostSource.message_id, PostSource.file).order_by(
                PostSource.id
            )
        )
        identities = await session.execute(
            select(ChannelMessage.message_id, ChannelMessage.post_id).order_by(
                ChannelMessage.message_id
            )
        )
        return {
            "posts": [tuple(row) for row in posts],
            "sources": [tuple(row) for row in sources],
            "identities": [tuple(row) for row in identities],
        }


@pytest.mark.parametrize("write", WRITERS)
@pytest.mark.parametrize(
    ("messages", "posts", "listed_twice"),
    [
        ([CAPTION, SECOND_PHOTO, SECOND_PHOTO, TEXT], {1: [1, 2], 5: [5]}, "id 2"),
        ([CAPTION, SECOND_PHOTO, TEXT, TEXT], {1: [1, 2], 5: [5]}, "id 5"),
        ([CAPTION, CAPTION, SECOND_PHOTO, TEXT, TEXT], {1: [1, 2], 5: [5]}, "ids 1, 5"),
    ],
    ids=["album-item", "text", "both"],
)
async def test_a_message_listed_twice_identically_is_read_once(
    session_factory: SessionFactory,
    tmp_path: Path,
    write: Any,
    messages: list[Message],
    posts: dict[int, list[int]],
    listed_twice: str,
) -> None:
    path = write(tmp_path, messages)
    report = await import_paths(session_factory, [path])
    (item,) = report.files
    assert (item.rejected, item.errors) == (0, [])
    assert (item.parsed, item.new, item.duplicates) == (len(posts), len(posts), 0)
    (note,) = item.notes
    assert f"listed twice, identically ({listed_twice})" in note
    rows = await stored(session_factory)
    by_message = {message_id: post_id for message_id, post_id in rows["identities"]}
    assert {
        first: [m for m, post_id in by_message.items() if post_id == by_message[first]]
        for first in posts
    } == posts
    album = next(media for post_id, _, media in rows["posts"] if post_id == by_message[1])
    assert [m["file"] for m in album] == ["photos/1.jpg", "photos/2.jpg"]
    assert len(rows["sources"]) == len(posts)


@pytest.mark.parametrize("write", WRITERS)
@pytest.mark.parametrize(
    ("messages", "message_id"),
    [
        ([CAPTION, SECOND_PHOTO, Message(2, extra={"photo": "photos/2b.jpg"})], 2),
        ([CAPTION, SECOND_PHOTO, TEXT, Message(5, "a text post, edited", date=TEXT.date)], 5),
        ([CAPTION, SECOND_PHOTO, TEXT, Message(1, "a text post", date=TEXT.date)], 1),
    ],
    ids=["album-item", "text", "out-of-order"],
)
async def test_a_message_id_listed_twice_with_different_content_rejects_the_file(
    session_factory: SessionFactory,
    tmp_path: Path,
    write: Any,
    messages: list[Message],
    message_id: int,
) -> None:
    # The same chat imported before, from a file of its own: none of it may be lost.
    await import_paths(session_factory, [write(tmp_path / "earlier", [CAPTION, SECOND_PHOTO])])
    before = await stored(session_factory)
    path = write(tmp_path, messages)
    report = await import_paths(session_factory, [path])
    (item,) = report.files
    assert (item.rejected, item.new, item.duplicates) == (1, 0, 0)
    (error,) = item.errors
    assert error.startswith(f"{path}: message {message_id}")
    assert error.endswith(": listed twice with different content (keep one copy and import again)")
    assert await stored(session_factory) == before


@pytest.mark.parametrize("order", ["json-first", "html-first"])
async def test_every_sender_of_a_personal_chat_is_an_author(
    session_factory: SessionFactory, tmp_path: Path, order: str
) -> None:
    # A personal chat bears the other person's name: her messages are hers all the same.
    alice = {"from": "Alice", "from_id": "user4444"}
    me = {"from": "Me", "from_id": "user99"}
    day = datetime(2024, 1, 1, tzinfo=UTC)
    messages = [
        Message(1, "hi, are you coming?", date=day, extra=alice),
        Message(2, "yes, at six", date=day.replace(minute=1), extra=me),
        Message(3, "see you then", date=day.replace(minute=2), extra=alice),
    ]
    json_export = write_export(
        tmp_path / "result.json", messages, chat_id=4444, name="Alice", chat_type="personal_chat"
    )
    html_export = write_html_export(tmp_path / "html" / "messages.html", messages, name="Alice")
    files = [json_export, html_export] if order == "json-first" else [html_export, json_export]
    report = await import_paths(session_factory, files)
    assert [item.new for item in report.files] == [3, 0]
    async with unit_of_work(session_factory) as session:
        posts = await list_posts(session)
    assert sorted((post.text, post.author, post.author_id) for post in posts) == [
        ("hi, are you coming?", "Alice", "user4444"),
        ("see you then", "Alice", "user4444"),
        ("yes, at six", "Me", "user99"),
    ]


RUSSIAN = Path(__file__).parent / "fixtures" / "russian"  # one chat, as JSON and as HTML
RUSSIAN_TEXTS = [
    "Сегодня открылся новый парк.",
    "Фото с открытия",
    "Расписание автобусов на сайте",
    "Ремонт моста продлится до мая.",
    "Завтра отключат воду.\nС 10 до 14 часов.",
    "Видео: #парк https://example.org/park",
    "Спасибо!",
]


@pytest.mark.parametrize(
    ("name", "format"), [("result.json", "desktop-json"), ("messages.html", "desktop-html")]
)
async def test_russian_exports_in_cp1251(
    session_factory: SessionFactory, tmp_path: Path, name: str, format: str
) -> None:
    # Short posts: most letters of the file are JSON keys or HTML markup, not the text.
    path = tmp_path / name
    path.write_bytes((RUSSIAN / name).read_text(encoding="utf-8").encode("cp1251"))
    report = await import_paths(session_factory, [path])
    (item,) = report.files
    assert (item.format, item.errors, item.new, item.skipped) == (format, [], 7, 1)
    async with unit_of_work(session_factory) as session:
        posts = await list_posts(session)
    assert sorted(post.text for post in posts) == sorted(RUSSIAN_TEXTS)
    assert {post.channel for post in posts} == {"Новости района"}
    assert {post.forwarded_from for post in posts} == {None, "Городская газета"}


async def test_a_real_russian_export_in_cp1251(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    text = (exports_dir / "desktop/pachum-small-result.json").read_text(encoding="utf-8")
    path = tmp_path / "result.json"
    # cp1251 has no emoji: a Windows tool writes "?" in their place.
    path.write_bytes(text.encode("cp1251", errors="replace"))
    report = await import_paths(session_factory, [path])
    assert report.files[0].errors == []
    async with unit_of_work(session_factory) as session:
        (post,) = await list_posts(session)
    assert post.channel == "ГУЗЕЛЬСКИЕ ПЕРЕЗАЛИВЫ"
    assert post.text.startswith("Очень странные дела (S1 E1-5)\n\n? ТВИЧ | ? БУСТИ")


async def test_forced_format(session_factory: SessionFactory, exports_dir: Path) -> None:
    path = exports_dir / "text/nn_for_science-compact.txt"
    forced = await import_paths(session_factory, [path], ImportOptions(format="text"))
    assert forced.files[0].new == 11


@pytest.mark.parametrize(
    ("export", "forced", "error"),
    [
        ("text/nn_for_science-compact.txt", "desktop-json", "not a desktop-json file: it looks "
         "like text (leave out --format to read it as that)"),
        ("desktop/trantor_library-result.json", "desktop-html", "not a desktop-html file: it "
         "looks like desktop-json"),
        ("desktop/trantor_library-messages.html", "web-html", "not a web-html file: it looks "
         "like desktop-html"),
    ],
)  # fmt: skip
async def test_a_forced_format_that_does_not_fit_says_so(
    session_factory: SessionFactory, exports_dir: Path, export: str, forced: str, error: str
) -> None:
    path = exports_dir / export
    wrong = await import_paths(session_factory, [path], ImportOptions(format=forced))
    assert wrong.files[0].rejected == 1
    assert wrong.files[0].errors[0].startswith(f"{path}: {error}")


async def test_a_forced_format_of_a_file_tgpipe_cannot_tell(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    path = tmp_path / "table.csv"
    path.write_text("id,name\n1,milk\n2,bread\n", encoding="utf-8")
    wrong = await import_paths(session_factory, [path], ImportOptions(format="desktop-html"))
    assert wrong.files[0].errors == [
        f"{path}: not a desktop-html file, nor of another format tgpipe reads"
    ]
    # A file of the forced format keeps its own error: the place and what is wrong there.
    cut = tmp_path / "result.json"
    cut.write_text('{"name": "x", "messages": [{"id": 1, ', encoding="utf-8")
    right = await import_paths(session_factory, [cut], ImportOptions(format="desktop-json"))
    assert right.files[0].errors[0].startswith(f"{cut}: ")
    assert "not a desktop-json file" not in right.files[0].errors[0]


async def test_unknown_format_and_missing_path_are_errors(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    with pytest.raises(TgpipeError, match="unknown format 'xml'"):
        await import_paths(session_factory, [tmp_path], ImportOptions(format="xml"))
    with pytest.raises(TgpipeError, match=r"no such file or folder: .*nope"):
        await import_paths(session_factory, [tmp_path / "nope"])


async def test_channel_option_names_a_text_copy(
    session_factory: SessionFactory, exports_dir: Path
) -> None:
    path = exports_dir / "text/dl_interview-qa.txt"
    await import_paths(session_factory, [path], ImportOptions(channel="@dl_interview"))
    async with unit_of_work(session_factory) as session:
        posts = await list_posts(session, channel="dl_interview")
    assert len(posts) == 6
    assert {post.channel for post in posts} == {"@dl_interview"}


@pytest.fixture
def worker_for_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every file through the parser process, as large exports go."""
    monkeypatch.setattr("pipeline.ingest.importer.PROCESS_THRESHOLD_BYTES", 0)
    assert worker.PROCESS_THRESHOLD_BYTES > 0


@pytest.mark.usefixtures("worker_for_every_file")
async def test_large_file_path_gives_the_same_posts(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    report = await import_paths(
        session_factory, [exports_dir / "desktop/trantor_library-result.json"]
    )
    assert (report.files[0].parsed, report.files[0].new, report.files[0].skipped) == (701, 700, 16)
    data = (exports_dir / "desktop/uponthepathofsalaf-result.json").read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[:300_000])
    broken = await import_paths(session_factory, [cut])
    (error,) = broken.files[0].errors
    assert error.startswith(f"{cut}: byte ")
    assert await count(session_factory, Post) == 701


async def test_report_json_shape(session_factory: SessionFactory, exports_dir: Path) -> None:
    report = await import_paths(session_factory, [exports_dir / "text/dl_interview-qa.txt"])
    data = json.loads(json.dumps(report.to_json()))
    assert set(data) == {"run_id", "notes", "files", "totals"}
    assert set(data["files"][0]) == {
        "path", "format", "parsed", "new", "duplicates", "same_source", "same_content",
        "near_duplicates", "rejected", "skipped", "errors", "notes",
    }  # fmt: skip
    assert data["totals"]["files"] == 1


async def test_an_unexpected_failure_still_closes_the_run(
    session_factory: SessionFactory, exports_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("pipeline.ingest.writer.PostWriter.flush", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_paths(session_factory, [exports_dir / "text/dl_interview-qa.txt"])
    assert await count(session_factory, Post) == 0
    async with unit_of_work(session_factory) as session:
        run = (await session.scalars(select(ImportRun))).one()
        assert run.status is ImportStatus.FAILED
        assert run.finished_at is not None


def _cut_inside_a_character(data: bytes, at: int) -> bytes:
    """``data`` cut after the first byte of the next multi-byte character from ``at`` on."""
    while data[at] < 0xC0:
        at += 1
    return data[: at + 1]


@pytest.mark.parametrize(
    ("export", "where"),
    [
        ("text/nn_for_science-compact.txt", 0.9),
        ("desktop/trantor_library-result.json", 0.5),
        ("desktop/uponthepathofsalaf-messages.html", 0.3),
        ("desktop/trantor_library-result.json", 0.0),  # cut in its first character
    ],
)
async def test_a_file_cut_inside_a_character_is_reported_as_cut_short(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path, export: str, where: float
) -> None:
    data = (exports_dir / export).read_bytes()
    path = tmp_path / Path(export).name
    path.write_bytes(_cut_inside_a_character(data, int(len(data) * where)))
    report = await import_paths(session_factory, [path])
    assert report.files[0].errors == [f"{path}: the file ends inside a character: it was cut short"]


async def test_a_cp1251_file_ending_in_a_cyrillic_letter_is_not_cut_short(
    session_factory: SessionFactory, exports_dir: Path, tmp_path: Path
) -> None:
    text = (exports_dir / "text/nn_for_science-compact.txt").read_text(encoding="utf-8")
    path = tmp_path / "copy.txt"
    path.write_bytes(text.rstrip().encode("cp1251", errors="replace") + "я".encode("cp1251"))
    report = await import_paths(session_factory, [path])
    assert not report.files[0].errors
    assert report.files[0].new > 0
