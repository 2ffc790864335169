"""`tgpipe import` as a user runs it."""

from __future__ import annotations

from pathlib import Path

from bench.page_copy_bench import PAGES as PAGE_COPIES
from bench.page_copy_bench import load
from tests.conftest import REPO_ROOT
from tests.pipeline.dedup.exports import Message, write_export

EXAMPLE = REPO_ROOT / "examples" / "demo-channel"


def test_import_the_example_then_list(tgpipe) -> None:
    result = tgpipe("import", str(EXAMPLE))
    assert result.exit_code == 0, result.stderr
    assert "desktop-json" in result.stdout
    assert result.stderr == ""
    posts = tgpipe("posts", "list", "--json").json()
    # 10 messages: 2 service messages skipped, two photos folded into one album post.
    assert len(posts) == 7
    album = next(p for p in posts if p["title"].startswith("Our workspace"))
    assert [m["kind"] for m in album["media"]] == ["photo", "photo"]
    assert album["reactions"] == {"😍": 17}
    tip = next(p for p in posts if p["title"].startswith("Tip 1"))
    assert tip["reactions"] == {"🔥": 40, "👍": 8, "custom:5368324170671202286": 2}
    assert tip["links"] == ["https://core.telegram.org/api/stats"]
    assert tip["date"] == "2025-03-02T09:00:00Z"
    assert {p["channel"] for p in posts} == {"tgpipe demo"}
    reply = next(p for p in posts if p["title"].startswith("Tip 3"))
    assert reply["reply_to"] == 4  # the message id of "Tip 2" in the export


def test_json_report_and_reimport(tgpipe) -> None:
    first = tgpipe("import", str(EXAMPLE), "--json")
    assert first.exit_code == 0
    report = first.json()
    assert report["totals"] == {
        "files": 1, "parsed": 7, "new": 7, "duplicates": 0, "same_source": 0,
        "same_content": 0, "near_duplicates": 0, "rejected": 0, "skipped": 2,
    }  # fmt: skip
    again = tgpipe("import", str(EXAMPLE), "--json").json()
    assert (again["totals"]["new"], again["totals"]["duplicates"]) == (0, 7)
    assert len(tgpipe("posts", "list", "--json").json()) == 7


def test_a_web_page_copied_as_text_becomes_one_draft(tgpipe, tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(load(PAGE_COPIES / "design" / "zh_tech_blog.txt").text, encoding="utf-8")
    result = tgpipe("import", str(page), "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = result.json()["files"]
    assert (row["format"], row["new"]) == ("article", 1)
    (post,) = tgpipe("posts", "list", "--json").json()
    assert (post["title"], post["status"]) == ("Python 装饰器从入门到实践", "draft")
    shown = tgpipe("posts", "show", str(post["id"])).stdout
    assert "文章目录" in shown
    assert "    def wrapper(*args, **kwargs):" in shown
    assert "业务代码会清爽很多。" in shown
    for chrome in ("会员中心", "阅读量", "上一篇", "最新文章", "京ICP备"):
        assert chrome not in shown


def test_a_text_that_is_neither_is_rejected_with_the_reason(tgpipe, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Buy milk.\n\nCall Anna at five.\n", encoding="utf-8")
    result = tgpipe("import", str(notes))
    assert result.exit_code == 1
    assert "not a channel export or article tgpipe can read (try --format)" in result.stderr


def test_rejected_file_exits_non_zero_and_names_it(tgpipe, tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_text('{"name": "x", "messages": [{"id": 1, ')
    result = tgpipe("import", str(EXAMPLE), str(bad), "--json")
    assert result.exit_code == 1
    report = result.json()  # stdout stays one JSON document
    rejected = report["files"][1]
    assert rejected["rejected"] == 1
    assert rejected["errors"][0].startswith(f"{bad}: ")
    assert report["files"][0]["new"] == 7
    assert result.stderr.startswith(f"tgpipe: error: {bad}: ")
    assert result.stderr.count("\n") == 1
    assert len(tgpipe("posts", "list", "--json").json()) == 7


def test_off_a_terminal_the_report_keeps_every_column(tgpipe, tmp_path: Path) -> None:
    # A path longer than any terminal: nothing of it, nor of the columns after it, is cut.
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 5)
    deep.mkdir(parents=True)
    bad = deep / "result.json"
    bad.write_text("{")
    result = tgpipe("import", str(EXAMPLE), str(bad))
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == [
        "file", "format", "parsed", "new", "dups", "near", "skipped", "result",
    ]  # fmt: skip
    assert [row.split("\t") for row in rows] == [
        [str(EXAMPLE / "result.json"), "desktop-json", "7", "7", "0", "0", "2", "ok"],
        [str(bad), "?", "0", "0", "0", "0", "0", "rejected"],
    ]


def test_album_item_listed_twice(tgpipe, tmp_path: Path) -> None:
    album = [Message(1, "caption", extra={"photo": "photos/1.jpg"})]
    same = write_export(
        tmp_path / "same.json", [*album, *[Message(2, extra={"photo": "2.jpg"})] * 2]
    )
    other = write_export(
        tmp_path / "other.json",
        [*album, Message(2, extra={"photo": "2.jpg"}), Message(2, extra={"photo": "2b.jpg"})],
    )
    folded = tgpipe("import", str(same), "--json")
    assert (folded.exit_code, folded.stderr) == (0, "")
    (report,) = folded.json()["files"]
    assert report["notes"] == ["1 message listed twice, identically (id 2); each was read once"]
    rejected = tgpipe("import", str(other))
    assert rejected.exit_code == 1
    (line,) = rejected.stderr.splitlines()  # one line, no traceback
    assert line.endswith(
        f"error: {other}: message 2: listed twice with different content "
        "(keep one copy and import again)"
    )
    (post,) = tgpipe("posts", "list", "--json").json()
    assert [item["file"] for item in post["media"]] == ["photos/1.jpg", "2.jpg"]


def test_no_progress_bar_when_not_a_terminal(tgpipe) -> None:
    result = tgpipe("import", str(EXAMPLE))
    assert "\x1b[" not in result.stdout
    assert "importing" not in result.stdout


def test_missing_path(tgpipe, tmp_path: Path) -> None:
    result = tgpipe("import", str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert result.stderr == f"tgpipe: error: no such file or folder: {tmp_path / 'nope.json'}\n"


def test_unknown_format(tgpipe) -> None:
    result = tgpipe("import", str(EXAMPLE), "--format", "csv")
    assert result.exit_code == 2  # a usage error
    assert "unknown format 'csv'" in result.stderr
