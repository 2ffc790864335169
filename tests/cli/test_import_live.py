"""`tgpipe import` of live sources: channels' web previews and articles, from a fake t.me
on 127.0.0.1 (tests/fake_web), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake_web import PreviewSite

ARTICLE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Why we moved our build to Bazel - Example Engineering</title>
<meta property="og:title" content="Why we moved our build to Bazel">
</head><body><nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<article><h1>Why we moved our build to Bazel</h1>
<p>Our monorepo grew to four hundred packages, and a clean build took forty minutes on a
developer laptop. Caching helped, but every cache miss cost a coffee break.</p>
<p>We moved the build to Bazel over six months. Remote caching brought the typical build under
three minutes, and the <a href="/blog/ci">CI pipeline</a> now runs only what changed.</p>
<p>The migration was not free: rules for our code generators took two engineers a quarter.</p>
</article><footer>© 2024 Example Inc. All rights reserved.</footer></body></html>
"""


def _posts(tgpipe) -> list[dict[str, Any]]:
    result = tgpipe("posts", "list", "--json")
    assert result.exit_code == 0, result.stderr
    posts: list[dict[str, Any]] = result.json()
    return posts


def test_a_channel_preview_imports_and_a_second_run_adds_nothing(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", "Dev News", posts=230)

    # TGPIPE_PREVIEW_BASE is the fake: a t.me address is read from there.
    first = tgpipe("import", "https://t.me/s/dev_news", "--limit", "200", "--json")

    assert first.exit_code == 0, first.stderr
    (report,) = first.json()["files"]
    assert (report["format"], report["parsed"], report["new"]) == ("web-html", 200, 200)
    posts = _posts(tgpipe)
    assert len(posts) == 200
    ids = sorted(post["sources"][0]["message_id"] for post in posts)
    assert ids == list(range(31, 231))  # the newest 200
    newest = next(post for post in posts if post["sources"][0]["message_id"] == 230)
    assert newest["channel"] == "@dev_news"
    assert newest["reactions"] == {"👍": 3 + 230 % 40, "🔥": 230 % 7}
    assert newest["views"] == 1000 + 37 * 230
    assert newest["date"] == "2024-04-18T02:00:00Z"
    # Twenty posts a page: the newest page and nine older ones, each asked for once.
    assert [r.query.get("before") for r in site.preview_requests("dev_news")] == [
        None,
        *[str(first_id) for first_id in range(211, 31, -20)],
    ]

    again = tgpipe("import", "https://t.me/s/dev_news", "--limit", "200", "--json")

    assert again.exit_code == 0, again.stderr
    (report,) = again.json()["files"]
    assert (report["new"], report["duplicates"]) == (0, 200)
    assert len(_posts(tgpipe)) == 200


@pytest.mark.parametrize("address", ["https://t.me/s/dev_news", "t.me/dev_news", "@Dev_News"])
def test_a_telegram_address_is_read_from_the_preview_base(
    tgpipe, live_settings, address: str
) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=3)

    result = tgpipe("import", address)

    assert result.exit_code == 0, result.stderr
    assert f"{site.base_url}/s/dev_news" in result.stdout
    assert len(site.preview_requests("dev_news")) == 1
    assert len(_posts(tgpipe)) == 3


def test_since_stops_at_older_posts(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    channel = site.add_channel("dev_news", posts=100)
    since = channel.posts[57].date

    result = tgpipe("import", "@dev_news", "--since", since.isoformat(), "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["totals"]["new"] == 100 - 57
    assert min(post["sources"][0]["message_id"] for post in _posts(tgpipe)) == 58
    # Pages 100-81, 80-61 and 60-41, where the walk met a post older than --since.
    assert len(site.preview_requests("dev_news")) == 3


def test_a_post_from_a_desktop_export_is_the_same_source(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    channel = site.add_channel("dev_news", "Dev News", posts=30, telegram_id=1500000042)
    export = Path("result.json")
    messages = [
        {
            "id": post.id,
            "type": "message",
            "date": post.date.replace(tzinfo=None).isoformat(),
            "date_unixtime": str(int(post.date.timestamp())),
            "text": post.text,
            "reactions": [{"type": "emoji", "emoji": "👍", "count": 1}],
        }
        for post in channel.posts[:20]
    ]
    export.write_text(
        json.dumps(
            {"name": "Dev News", "type": "public_channel", "id": 1500000042, "messages": messages}
        ),
        encoding="utf-8",
    )
    assert tgpipe("import", str(export)).exit_code == 0

    result = tgpipe("import", "@dev_news", "--json")

    assert result.exit_code == 0, result.stderr
    totals = result.json()["totals"]
    assert (totals["new"], totals["same_source"]) == (10, 20)
    posts = _posts(tgpipe)
    assert len(posts) == 30
    first = next(post for post in posts if post["sources"][0]["message_id"] == 1)
    # The preview is the newer sighting: its counts replace the export's.
    assert first["reactions"] == {"👍": 4, "🔥": 1}
    assert {source["format"] for source in first["sources"]} == {"desktop-json", "web-html"}
    assert len({post["channel"] for post in posts}) == 1


@pytest.mark.parametrize("private", [True, False])
def test_a_channel_without_a_public_preview_is_a_clear_error(
    tgpipe, live_settings, private: bool
) -> None:
    site: PreviewSite = live_settings
    if private:
        site.add_channel("secret_club", posts=5).private = True

    result = tgpipe("import", "@secret_club")

    assert result.exit_code == 1
    assert result.stderr == (
        f"tgpipe: error: {site.base_url}/s/secret_club: @secret_club has no public web preview "
        "(a private channel, or none of that name)\n"
    )
    assert _posts(tgpipe) == []


def test_a_page_whose_markup_changed_writes_nothing(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=50)
    site.page(
        "/s/dev_news?before=31",
        "<html><body><div class='tgme_channel_info'></div>"
        "<div class='post' data-post=\"dev_news/30\">new layout</div></body></html>",
    )

    result = tgpipe("import", "@dev_news", "--json")

    assert result.exit_code == 1
    (report,) = result.json()["files"]
    assert report["new"] == 0
    assert report["errors"] == [
        f"{site.base_url}/s/dev_news?before=31: not a channel preview tgpipe can read "
        "(its markup changed?)"
    ]
    assert _posts(tgpipe) == []


def test_429_slows_the_import_down_instead_of_failing_it(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=60)
    site.fail("/s/dev_news?before=41", 429, times=2, headers={"Retry-After": "1"})

    result = tgpipe("import", "@dev_news", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["totals"]["new"] == 60
    asked = [r for r in site.preview_requests("dev_news") if r.query.get("before") == "41"]
    assert [r.status for r in asked] == [429, 429, 200]
    # Each retry came after the second the server asked for.
    assert asked[1].at - asked[0].at >= 1.0
    assert asked[2].at - asked[1].at >= 1.0


def test_a_server_error_is_retried(tgpipe, live_settings) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=10)
    site.fail("/s/dev_news", 502, times=1)

    result = tgpipe("import", "@dev_news")

    assert result.exit_code == 0, result.stderr
    assert [r.status for r in site.preview_requests("dev_news")] == [502, 200]
    assert len(_posts(tgpipe)) == 10


def test_an_article_by_url_is_one_draft_with_its_url_as_source(tgpipe, live_settings) -> None:
    with PreviewSite() as blog:  # another host: addresses on the preview base are channels
        blog.page("/blog/bazel", ARTICLE)
        url = f"{blog.base_url}/blog/bazel"

        result = tgpipe("import", url, "--json")

    assert result.exit_code == 0, result.stderr
    (report,) = result.json()["files"]
    assert (report["path"], report["format"], report["new"]) == (url, "article", 1)
    (post,) = _posts(tgpipe)
    assert post["status"] == "draft"
    assert post["title"] == "Why we moved our build to Bazel"
    assert "Remote caching brought the typical build" in post["text"]
    assert "All rights reserved" not in post["text"]
    (source,) = post["sources"]
    assert (source["file"], source["format"], source["message_id"]) == (url, "article", None)


def test_files_and_addresses_in_one_command(tgpipe, live_settings, exports_dir: Path) -> None:
    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=5)
    export = exports_dir / "desktop" / "trantor_library-result.json"
    with PreviewSite() as other:
        other.page("/paper", "%PDF-1.7", content_type="application/pdf")
        paper = f"{other.base_url}/paper"

        result = tgpipe("import", "@dev_news", paper, str(export), "--json")

    assert result.exit_code == 1
    channel, pdf, file = result.json()["files"]
    assert (channel["new"], channel["rejected"]) == (5, 0)
    assert (pdf["rejected"], pdf["errors"]) == (1, [f"{paper}: not a web page (application/pdf)"])
    assert (file["path"], file["rejected"]) == (str(export), 0)
    assert file["new"] > 0


def test_proxy_variables_are_honoured(tgpipe, live_settings, monkeypatch) -> None:
    site: PreviewSite = live_settings
    site.page("/blog/bazel", ARTICLE)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", site.base_url)

    # A host that does not resolve: only the proxy can answer for it.
    result = tgpipe("import", "http://blog.invalid/blog/bazel", "--json")

    assert result.exit_code == 0, result.stderr
    (request,) = site.requests_to("/blog/bazel")
    assert request.proxied
    assert request.headers["User-Agent"].startswith("tgpipe/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (
            "t.me/+AbCdEf123",
            "a private chat's link; tgpipe reads only public channels' web "
            "previews (export a private channel with Telegram Desktop)",
        ),
        (
            "https://t.me/joinchat/AbCdEf",
            "a private chat's link; tgpipe reads only public "
            "channels' web previews (export a private channel with Telegram Desktop)",
        ),
        (
            "@ab",
            "'ab' is not a public channel's username (5-32 letters, digits and _, "
            "starting with a letter)",
        ),
        ("t.me/", "names no channel (expected t.me/NAME or @NAME)"),
        ("https://t.me/addstickers/Cats", "not a channel's address (expected t.me/NAME or @NAME)"),
        ("ftp://example.com/file", "not a web address (http:// or https://)"),
    ],
)
def test_an_address_that_names_no_channel_or_page(tgpipe, address: str, reason: str) -> None:
    result = tgpipe("import", address)

    assert result.exit_code == 2
    assert result.stderr == f"tgpipe: error: {address}: {reason}\n"
    assert list(Path().iterdir()) == []


def test_since_and_limit_need_a_channel(tgpipe, tmp_path: Path) -> None:
    result = tgpipe("import", "some.json", "--limit", "5")

    assert result.exit_code == 2
    assert result.stderr == (
        "tgpipe: error: --since and --limit are for channels (@NAME, t.me/NAME); none given\n"
    )


def test_with_redis_every_process_shares_the_pace(tgpipe, live_settings, monkeypatch) -> None:
    import redis

    from tests.bot.running import REDIS_URL

    site: PreviewSite = live_settings
    site.add_channel("dev_news", posts=3)
    client = redis.Redis.from_url(REDIS_URL)
    client.delete("tgpipe:pace:127.0.0.1")
    monkeypatch.setenv("TGPIPE_REDIS_URL", REDIS_URL)

    result = tgpipe("import", "@dev_news")

    assert result.exit_code == 0, result.stderr
    # The host's next turn is in Redis, for the next process to honour.
    assert client.exists("tgpipe:pace:127.0.0.1")
    client.close()


def test_an_unreachable_redis_is_one_line(tgpipe, live_settings, monkeypatch) -> None:
    live_settings.add_channel("dev_news", posts=3)
    monkeypatch.setenv("TGPIPE_REDIS_URL", "redis://127.0.0.1:1/0")

    result = tgpipe("import", "@dev_news")

    assert result.exit_code == 2
    assert result.stderr.startswith("tgpipe: error: cannot reach Redis at TGPIPE_REDIS_URL: ")
    assert result.stderr.count("\n") == 1


def test_files_alone_need_no_redis(tgpipe, monkeypatch, exports_dir) -> None:
    monkeypatch.setenv("TGPIPE_REDIS_URL", "redis://127.0.0.1:1/0")

    result = tgpipe("import", str(exports_dir / "desktop" / "trantor_library-result.json"))

    assert result.exit_code == 0, result.stderr
