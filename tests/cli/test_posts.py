"""`tgpipe posts list/show` on a store filled through the library's writer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.pipeline.dedup.exports import Message, write_export, write_html_export
from tests.seed import seed


@pytest.fixture
def seeded(tgpipe, monkeypatch: pytest.MonkeyPatch, migrated_database_url: str):
    monkeypatch.setenv("TGPIPE_DATABASE_URL", migrated_database_url)
    seed(migrated_database_url)
    return tgpipe


def test_list_json_shape(seeded) -> None:
    posts = seeded("posts", "list", "--json").json()
    assert [p["id"] for p in posts] == [2, 1]  # newest first, duplicates hidden
    first = posts[1]
    assert first == {
        "id": 1,
        "channel": "@nn_for_science",
        "title": "Новая модель",
        "text": "Новая модель\nподробности по ссылке https://example.org #ml #новости",
        "forwarded_from": "Other Channel",
        "reply_to": None,
        "author": None,
        "author_id": None,
        "reactions": {"custom:5368": 3, "paid": 2, "👍": 50},
        "views": None,
        "hashtags": ["#ml", "#новости"],
        "links": ["https://example.org"],
        "media": [],
        "date": "2024-05-01T09:30:00Z",
        "status": "draft",
        "duplicate_of": None,
        "duplicate_reason": None,
        "similarity": None,
        # Every place the content was seen: its own message and its duplicate's.
        "sources": [
            {
                "file": "export/result.json",
                "format": "desktop-json",
                "message_id": 10,
                "message_ids": [10],
                "channel": "@nn_for_science",
                "post_id": 1,
            },
            {
                "file": "export/result.json",
                "format": "desktop-json",
                "message_id": 12,
                "message_ids": [12],
                "channel": "@nn_for_science",
                "post_id": 3,
            },
        ],
    }
    media_only = posts[0]
    assert media_only["title"] == ""
    assert media_only["media"] == [{"kind": "photo", "width": 800, "height": 600}]


def test_list_filters(seeded) -> None:
    with_duplicates = seeded("posts", "list", "--json", "--include-duplicates").json()
    assert [p["id"] for p in with_duplicates] == [3, 2, 1]
    assert with_duplicates[0]["duplicate_of"] == 1
    by_channel = seeded("posts", "list", "--json", "--channel", "@NN_for_science").json()
    assert len(by_channel) == 2
    assert seeded("posts", "list", "--json", "--status", "published").json() == []
    assert len(seeded("posts", "list", "--json", "--limit", "1").json()) == 1


def test_unknown_channel_is_a_clear_error(seeded) -> None:
    result = seeded("posts", "list", "--channel", "nope")
    assert result.exit_code == 1
    assert "no channel 'nope' (known channels: @nn_for_science)" in result.stderr


def test_bad_status_is_a_usage_error(seeded) -> None:
    result = seeded("posts", "list", "--status", "flying")
    assert result.exit_code == 2
    assert "flying" in result.stderr


def test_show_json_includes_duplicates_and_formatting(seeded) -> None:
    post = seeded("posts", "show", "1", "--json").json()
    assert post["entities"] == [{"type": "bold", "offset": 0, "length": 12}]
    assert [(d["id"], d["duplicate_reason"], d["similarity"]) for d in post["duplicates"]] == [
        (3, "near_duplicate", 0.91)
    ]


def test_show_human(seeded) -> None:
    result = seeded("posts", "show", "3")
    assert result.exit_code == 0
    assert "duplicate of: #1 (near_duplicate, similarity 0.91)" in result.stdout
    assert "export/result.json (desktop-json) message 12" in result.stdout


def test_list_human(seeded) -> None:
    result = seeded("posts", "list")
    assert result.exit_code == 0
    assert "Новая модель" in result.stdout
    assert result.stderr == "2 post(s)\n"  # off a terminal: out of the rows' way


def test_show_missing_post(seeded) -> None:
    result = seeded("posts", "show", "999")
    assert result.exit_code == 1
    assert result.stderr == "tgpipe: error: no post with id 999\n"


@pytest.fixture
def sixty(tgpipe, monkeypatch: pytest.MonkeyPatch, migrated_database_url: str, tmp_path: Path):
    """A store of 60 posts, one a day; post N of the export is dated day N."""
    monkeypatch.setenv("TGPIPE_DATABASE_URL", migrated_database_url)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    messages = [Message(n, f"Post {n}", start + timedelta(days=n)) for n in range(1, 61)]
    assert tgpipe("import", str(write_export(tmp_path / "result.json", messages))).exit_code == 0
    return tgpipe


@pytest.mark.parametrize(
    ("args", "rows", "footer"),
    [
        ((), 50, "the newest 50 of 60 posts (--limit N or --all for more)"),
        (("--limit", "55"), 55, "the newest 55 of 60 posts (--all for more)"),
        (("--limit", "60"), 60, "60 post(s)"),
        (("--all",), 60, "60 post(s)"),
    ],
)
def test_a_long_table_shows_the_newest_and_says_so(sixty, args, rows, footer) -> None:
    result = sixty("posts", "list", *args)
    assert result.exit_code == 0, result.stderr
    shown = [int(n) for n in re.findall(r"^\s*(\d+)\s+2024-", result.stdout, re.MULTILINE)]
    dates = re.findall(r"2024-\d\d-\d\d", result.stdout)
    assert len(shown) == rows
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == "2024-03-01"  # the newest: post 60, day 60
    assert result.stderr == footer + "\n"


def test_json_lists_every_post_unless_limited(sixty) -> None:
    assert len(sixty("posts", "list", "--json").json()) == 60
    assert [p["text"] for p in sixty("posts", "list", "--json", "--limit", "2").json()] == [
        "Post 60",
        "Post 59",
    ]


def test_a_filter_that_matches_nothing_says_so(seeded) -> None:
    result = seeded("posts", "list", "--status", "published")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No posts match."


def test_off_a_terminal_long_lines_stay_whole(sixty) -> None:
    long = " ".join(["Каждая строка поста остаётся целой в файле и в конвейере"] * 4)
    assert len(long) > 200
    path = write_export(
        Path("long/result.json"), [Message(99, long, datetime(2024, 6, 1, tzinfo=UTC))]
    )
    assert sixty("import", str(path)).exit_code == 0
    (post,) = [p for p in sixty("posts", "list", "--json").json() if p["text"] == long]
    shown = sixty("posts", "show", str(post["id"]))
    assert long in shown.stdout.splitlines()
    listed = sixty("posts", "list", "--limit", "1")
    assert listed.stdout.splitlines()[1].split("\t")[3] == post["title"]  # not clipped to 40


@pytest.fixture
def album(tgpipe, monkeypatch: pytest.MonkeyPatch, migrated_database_url: str, tmp_path: Path):
    """An album of three photos and a text post, imported from the JSON and the HTML export
    of the channel; returns the command and the two files."""
    monkeypatch.setenv("TGPIPE_DATABASE_URL", migrated_database_url)
    day = datetime(2024, 1, 1, tzinfo=UTC)
    messages = [
        Message(1, "Our three photos", day, extra={"photo": "photos/1.jpg"}),
        Message(2, date=day, extra={"photo": "photos/2.jpg"}),
        Message(3, date=day, extra={"photo": "photos/3.jpg"}),
        Message(4, "And a text post", day + timedelta(hours=1)),
    ]
    files = [
        write_export(tmp_path / "result.json", messages),
        write_html_export(tmp_path / "html" / "messages.html", messages),
    ]
    assert tgpipe("import", *map(str, files)).exit_code == 0
    return tgpipe, files


def source(file: Path, format: str, message_ids: list[int], post_id: int) -> dict[str, object]:
    return {
        "file": str(file),
        "format": format,
        "message_id": message_ids[0],
        "message_ids": message_ids,
        "channel": "Test Channel",
        "post_id": post_id,
    }


def test_an_albums_sources_list_every_message_of_it(album) -> None:
    tgpipe, (json_file, html_file) = album
    text_post, album_post = tgpipe("posts", "list", "--json").json()
    expected = [
        source(json_file, "desktop-json", [1, 2, 3], album_post["id"]),
        source(html_file, "desktop-html", [1, 2, 3], album_post["id"]),
    ]
    assert album_post["sources"] == expected
    assert tgpipe("posts", "show", str(album_post["id"]), "--json").json()["sources"] == expected
    assert [s["message_ids"] for s in text_post["sources"]] == [[4], [4]]
    shown = " ".join(tgpipe("posts", "show", str(album_post["id"])).stdout.split())
    assert "(desktop-json) messages 1, 2, 3" in shown
    assert "(desktop-html) messages 1, 2, 3" in shown
