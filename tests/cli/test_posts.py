"""`tgpipe posts list/show` on a store filled through the library's writer."""

from __future__ import annotations

import pytest

from tests.seed import seed


@pytest.fixture
def seeded(tgpipe, monkeypatch: pytest.MonkeyPatch, database_url: str):
    monkeypatch.setenv("TGPIPE_DATABASE_URL", database_url)
    seed(database_url)
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
                "channel": "@nn_for_science",
                "post_id": 1,
            },
            {
                "file": "export/result.json",
                "format": "desktop-json",
                "message_id": 12,
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
    assert "2 post(s)" in result.stdout


def test_show_missing_post(seeded) -> None:
    result = seeded("posts", "show", "999")
    assert result.exit_code == 1
    assert result.stderr == "tgpipe: error: no post with id 999\n"
