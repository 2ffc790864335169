"""Telegram Desktop HTML export parser: real exports (JSON parity), own fixtures, bad input."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.ingest import desktop_html
from pipeline.ingest.model import (
    FORMATS,
    ChannelInfo,
    Event,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.textutil import utf16_len, utf16_slice
from tests.pipeline.dedup.exports import desktop_html_page as page

FIXTURES = Path(__file__).parent / "fixtures" / "desktop_html"
CHAT = FIXTURES / "chat"
UTC_OPTIONS = ParseOptions()

MEDIA_KINDS = {
    "photo", "video", "animation", "audio", "voice", "video_note", "document", "sticker",
    "poll", "contact", "location", "venue", "game", "invoice", "link_preview", "unsupported",
}  # fmt: skip


# --- helpers -------------------------------------------------------------------------------


def message(
    ident: int,
    inner: str = "",
    *,
    date: str = "01.06.2024 12:00:00 UTC+00:00",
    sender: str | None = "Chat",
) -> str:
    """One ``message default`` block; ``sender=None`` makes it a joined message."""
    classes = "message default clearfix" + (" joined" if sender is None else "")
    name = f'<div class="from_name">\n{sender} \n</div>' if sender is not None else ""
    return f"""<div class="{classes}" id="message{ident}">
<div class="body">
<div class="pull_right date details" title="{date}">
12:00
</div>
{name}
{inner}
</div>
</div>
"""


def text_block(markup: str) -> str:
    return f'<div class="text">\n{markup}\n       </div>'


def write(tmp_path: Path, html: str, name: str = "messages.html") -> Path:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def events(path: Path, options: ParseOptions = UTC_OPTIONS) -> list[Event]:
    return list(desktop_html.parse_messages(path, options))


def posts(path: Path, options: ParseOptions = UTC_OPTIONS) -> dict[int, ParsedPost]:
    found = {}
    for event in events(path, options):
        if isinstance(event, ParsedPost):
            assert event.message_id is not None
            found[event.message_id] = event
    return found


def only_post(tmp_path: Path, inner: str, **kwargs: Any) -> ParsedPost:
    path = write(tmp_path, page(message(7, inner, **kwargs)))
    return posts(path)[7]


def message_ids(found: list[Event]) -> list[int | None]:
    """Ids of posts and skipped messages, in stream order."""
    return [e.message_id for e in found if isinstance(e, ParsedPost | Skipped)]


def spans(post: ParsedPost) -> list[tuple[str, str]]:
    return [(e.type, utf16_slice(post.text, e.offset, e.length)) for e in post.entities]


def normalise(text: str) -> str:
    return " ".join(text.split())


def json_reaction_key(reaction: dict[str, Any]) -> str:
    if reaction["type"] == "emoji":
        return str(reaction["emoji"])
    if reaction["type"] == "paid":
        return "paid"
    return "custom:" + str(reaction["document_id"])


def assert_well_formed(found: list[Event]) -> None:
    """What the importer may rely on from any event stream."""
    ids: set[int] = set()
    for event in found:
        if isinstance(event, ChannelInfo):
            assert event.title is None or isinstance(event.title, str)
        elif isinstance(event, Note):
            assert event.message.startswith("dates in this export have no time zone") or (
                event.message.endswith(("the pages after it were not read", "was read once"))
            )
        elif isinstance(event, Skipped):
            assert isinstance(event.message_id, int)
            assert event.message_id > 0
            assert event.reason in {"service", "unsupported"}
        else:
            assert isinstance(event, ParsedPost)
            for ident in [event.message_id, *event.album_ids]:
                assert isinstance(ident, int)
                assert ident > 0
            assert event.message_id not in ids
            ids.add(event.message_id)  # type: ignore[arg-type]
            assert event.date is not None
            assert event.date.utcoffset() == timedelta(0)
            assert event.text == event.text.strip()
            limit = utf16_len(event.text)
            for entity in event.entities:
                assert entity.length > 0
                assert entity.offset >= 0
                assert entity.offset + entity.length <= limit
            for reaction in event.reactions:
                assert reaction.key
                assert reaction.count > 0
            assert all(item.kind in MEDIA_KINDS for item in event.media)
            assert event.reply_to is None or event.reply_to > 0


# --- module contract -----------------------------------------------------------------------


def test_format_name_is_registered() -> None:
    assert desktop_html.FORMAT == "desktop-html"
    assert desktop_html.FORMAT in FORMATS


def test_parse_is_lazy(tmp_path: Path) -> None:
    # A missing file only fails when the generator runs: the importer drives it.
    stream = desktop_html.parse(tmp_path / "absent.html", UTC_OPTIONS)
    with pytest.raises(ParseError, match="cannot read"):
        next(stream)


# --- real exports: parity with the JSON export of the same chat ----------------------------


@pytest.mark.parametrize(
    ("name", "posts_count", "service_count", "title"),
    [
        ("trantor_library", 908, 16, "川陀大学图书馆"),
        ("uponthepathofsalaf", 208, 5, "عَلَىٰ"),
    ],
)
def test_html_and_json_exports_agree(
    exports_dir: Path, name: str, posts_count: int, service_count: int, title: str
) -> None:
    desktop = exports_dir / "desktop"
    found = events(desktop / f"{name}-messages.html")
    html_posts = {e.message_id: e for e in found if isinstance(e, ParsedPost)}
    skipped = [e for e in found if isinstance(e, Skipped)]

    with (desktop / f"{name}-result.json").open(encoding="utf-8") as handle:
        export = json.load(handle)
    messages = {m["id"]: m for m in export["messages"] if m["type"] == "message"}
    services = {m["id"] for m in export["messages"] if m["type"] == "service"}
    assert found[0] == ChannelInfo(title=export["name"])
    assert export["name"].startswith(title)

    assert len(html_posts) == posts_count
    assert set(html_posts) == set(messages)
    assert {e.message_id for e in skipped} == services
    assert not any(isinstance(e, Note) for e in found)  # dates carry their zone
    assert len(skipped) == service_count
    for ident, source in messages.items():
        post = html_posts[ident]
        expected_text = "".join(part["text"] for part in source["text_entities"])
        assert normalise(post.text) == normalise(expected_text), ident
        expected_reactions = [
            Reaction(json_reaction_key(r), r["count"]) for r in source.get("reactions", [])
        ]
        assert post.reactions == expected_reactions, ident
        assert post.date == datetime.fromtimestamp(int(source["date_unixtime"]), UTC), ident
        assert post.forwarded_from == source.get("forwarded_from"), ident
        assert post.author == source.get("author"), ident
        if "reply_to_peer_id" not in source:
            assert post.reply_to == source.get("reply_to_message_id"), ident
    assert_well_formed(found)


@pytest.mark.parametrize("name", ["trantor_library", "uponthepathofsalaf"])
def test_albums_fold_without_losing_messages(exports_dir: Path, name: str) -> None:
    path = exports_dir / "desktop" / f"{name}-messages.html"
    single = [e.message_id for e in events(path) if isinstance(e, ParsedPost)]
    grouped = [e for e in desktop_html.parse(path, UTC_OPTIONS) if isinstance(e, ParsedPost)]
    covered: list[int | None] = []
    for post in grouped:
        covered.extend(post.album_ids or [post.message_id])
    assert covered == single  # same messages, same order
    assert len(grouped) < len(single)
    assert all(len(post.album_ids) <= 10 for post in grouped)


def test_trantor_rich_post(exports_dir: Path) -> None:
    found = posts(exports_dir / "desktop" / "trantor_library-messages.html")
    post = found[542]
    assert post.author == "goddaneel"
    assert post.date == datetime(2023, 11, 20, 15, 8, 5, tzinfo=UTC)
    assert post.reactions == [Reaction("🤬", 4), Reaction("👍", 1)]
    assert ("pre", "setTimeout(function(){c();a.resolve(1)},5E3);\n") in spans(post)
    assert ("bold", "Firefox 用户报告称访问 YouTube 时人为加入了 5 秒加载延迟") in spans(post)
    assert ("hashtag", "#A_报道") in spans(post)

    reply = found[641]
    assert reply.reply_to == 505
    assert reply.media[0].kind == "photo"
    assert reply.media[0].file == "photos/photo_230@01-01-2024_14-18-39.jpg"
    assert ("blockquote", "该项目仍处于早期开发阶段，存在不稳定和不可用情况。") in spans(reply)

    poll = found[1010].media[0]
    assert poll.kind == "poll"
    assert poll.extra["question"] == "请问你是否在频道内看到过广告？"
    assert [(a["text"], a["voters"]) for a in poll.extra["answers"]] == [
        ("有", 40),
        ("没有", 38),
        ("我不确定那是不是广告", 11),
        ("查看结果", 20),
    ]
    assert poll.extra["total_voters"] == 109

    audio = found[626].media[0]
    assert (audio.kind, audio.duration) == ("audio", 288)
    assert audio.extra == {"performer": "坂本龍一", "title": "Merry Christmas Mr. Lawrence"}
    assert found[546].media[0].kind == "sticker"


def test_salaf_forwards_and_custom_emoji(exports_dir: Path) -> None:
    found = posts(exports_dir / "desktop" / "uponthepathofsalaf-messages.html")
    assert found[60].forwarded_from == "The Scourge Of Photography"
    assert found[60].text.startswith("A Piece Of Advice regarding the issue of taswīr\n\n")
    assert found[61].forwarded_from == "Khazīnatul ʾIlm | خزينة العلم"
    emoji = found[4]
    assert emoji.text == "☪☪☪☪☪️"
    assert [(e.type, e.custom_emoji_id) for e in emoji.entities][:2] == [
        ("custom_emoji", "stickers/sticker.webp"),
        ("custom_emoji", "stickers/sticker (1).webp"),
    ]
    not_included = [m for p in found.values() for m in p.media if m.file is None]
    assert len(not_included) == 73
    assert all("Not included" in m.extra["note"] for m in not_included)


def test_2018_second_page_without_zone(exports_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = exports_dir / "desktop" / "cybersecnews-2018-messages2.html"
    with caplog.at_level(logging.INFO, logger="pipeline.ingest.desktop_html"):
        found = events(path, ParseOptions(timezone="Europe/Moscow"))
    assert found[0] == ChannelInfo(title="🛡 Cybersecurity & Privacy news 🛡")
    found_posts = [e for e in found if isinstance(e, ParsedPost)]
    assert len(found_posts) == 1000
    assert (found_posts[0].message_id, found_posts[-1].message_id) == (1056, 2059)
    assert not any(p.reactions for p in found_posts)
    assert not any(isinstance(e, Skipped) for e in found)  # only day separators
    # "06.11.2018 10:35:21" in Moscow (UTC+3).
    assert found_posts[0].date == datetime(2018, 11, 6, 7, 35, 21, tzinfo=UTC)
    assert found_posts[0].text.startswith("❌ Apache Struts Warns Users")
    # The assumed zone is reported to the admin, before the first post it applies to.
    assert found[1] == Note("dates in this export have no time zone; read as Europe/Moscow")
    assert found[-1] == Note(
        "cybersecnews-2018-messages2.html links to messages3.html, which is not beside it; "
        "the pages after it were not read"
    )
    assert [e for e in found if isinstance(e, Note)] == [found[1], found[-1]]
    zone_warnings = [r for r in caplog.records if "no time zone" in r.getMessage()]
    assert len(zone_warnings) == 1
    # Its "Next messages" page is not beside it: read this page, say so.
    assert any("messages3.html is missing" in r.getMessage() for r in caplog.records)
    assert_well_formed(found)


# --- own fixture: a three-page channel export ----------------------------------------------


def test_folder_reads_every_page_in_order() -> None:
    found = events(CHAT)
    assert found[0] == ChannelInfo(title="Test & Channel")
    assert message_ids(found) == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    assert found[1:] == events(CHAT / "messages.html")[1:]
    assert [type(e).__name__ for e in found].count("ChannelInfo") == 1
    assert_well_formed(found)


def test_later_page_reads_from_there_on() -> None:
    found = events(CHAT / "messages2.html")
    assert found[0] == ChannelInfo(title="Test & Channel")
    assert message_ids(found) == [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]


def test_later_page_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(CHAT / "messages2.html", tmp_path / "messages2.html")
    with caplog.at_level(logging.INFO):
        found = events(tmp_path / "messages2.html")
    assert message_ids(found) == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert "messages3.html is missing" in caplog.text
    assert isinstance(found[-1], Note)
    assert "messages3.html, which is not beside it" in found[-1].message


@pytest.mark.parametrize(
    ("ident", "field", "expected"),
    [
        (2, "text", "Morning photo"),
        (2, "date", datetime(2024, 6, 1, 9, 0, 5, tzinfo=UTC)),
        (2, "author", "Alice"),
        (
            2,
            "reactions",
            [
                Reaction("👍", 5),
                Reaction("❤", 2),
                Reaction("custom:5368324170671202286", 4),
                Reaction("paid", 30),
            ],
        ),
        (3, "reply_to", 2),
        (3, "author", None),  # joined, unsigned channel post
        (4, "author", "Alice"),
        (7, "forwarded_from", "Bob Smith"),
        (7, "text", "Forwarded report"),
        (8, "forwarded_from", "Bob Smith"),  # joined forward continues the previous one
        (8, "text", "Second forwarded part"),
        (9, "forwarded_from", None),
        (16, "author", "Carol Danvers"),  # group-style sender, "via @bot" dropped
        (16, "reactions", [Reaction("🔥", 2)]),  # counted from the userpics shown
        (17, "author", "Carol Danvers"),  # joined: same sender as the previous message
        (17, "text", "Carol again"),
    ],
)
def test_fixture_post_fields(ident: int, field: str, expected: object) -> None:
    assert getattr(posts(CHAT)[ident], field) == expected


@pytest.mark.parametrize(
    ("ident", "kind", "file", "details"),
    [
        (2, "photo", "photos/photo_1@01-06-2024_12-00-05.jpg", {}),
        (5, "video", "video_files/clip.mp4", {"duration": 65}),
        (
            7,
            "document",
            None,
            {
                "file_name": "report (1).pdf",
                "extra": {"note": "Not included, change data exporting settings to download."},
            },
        ),
        (11, "sticker", "stickers/sticker (2).webp", {}),
        (12, "voice", "voice_messages/audio_1@02-06-2024_11-01-00.ogg", {"duration": 42}),
        (13, "audio", None, {"duration": 3792}),
        (14, "location", None, {}),
        (16, "photo", None, {"width": 1174, "height": 973}),
    ],
)
def test_fixture_media(ident: int, kind: str, file: str | None, details: dict[str, Any]) -> None:
    (item,) = posts(CHAT)[ident].media
    assert (item.kind, item.file) == (kind, file)
    for name, value in details.items():
        assert getattr(item, name) == value


def test_fixture_poll_and_location_details() -> None:
    found = posts(CHAT)
    assert found[9].media[0].extra == {
        "question": "Tea or coffee?",
        "closed": True,
        "answers": [
            {"text": "Tea", "voters": 3, "chosen": False},
            {"text": "Coffee", "voters": 1, "chosen": True},
            {"text": "Water", "voters": 0, "chosen": False},
        ],
        "total_voters": 4,
    }
    location = found[14].media[0].extra
    assert (location["latitude"], location["longitude"]) == (55.75, 37.61)
    assert location["url"].startswith("https://maps.google.com/maps?q=55.75,37.61")
    assert found[13].media[0].extra["performer"] == "Artist"


def test_fixture_service_messages() -> None:
    skipped = [e for e in events(CHAT) if isinstance(e, Skipped)]
    assert skipped == [Skipped(1, "service"), Skipped(10, "service"), Skipped(15, "unsupported")]


def test_fixture_formatting_entities() -> None:
    post = posts(CHAT)[3]
    assert post.text == (
        "Bold italic under strike code\nline 1\nline 2a link https://example.com @durov #news "
        "$USD /start a@b.io +100200\nsecret quoted bold 😀🙂 <tag> \"q\" 'a' &"
    )
    assert spans(post) == [
        ("bold", "Bold"),
        ("italic", "italic"),
        ("underline", "under"),
        ("strikethrough", "strike"),
        ("code", "code"),
        ("pre", "line 1\nline 2"),
        ("text_link", "a link"),
        ("url", "https://example.com"),
        ("mention", "@durov"),
        ("hashtag", "#news"),
        ("cashtag", "$USD"),
        ("bot_command", "/start"),
        ("email", "a@b.io"),
        ("phone_number", "+100200"),
        ("spoiler", "secret"),
        ("blockquote", "quoted bold 😀"),
        ("bold", "bold 😀"),
        ("custom_emoji", "🙂"),
    ]
    links = {e.type: e for e in post.entities if e.type in {"text_link", "custom_emoji"}}
    assert links["text_link"].url == "https://example.com/page"
    assert links["custom_emoji"].custom_emoji_id == "stickers/sticker.webp"


def test_fixture_album_folds_into_one_post() -> None:
    grouped = [e for e in desktop_html.parse(CHAT, UTC_OPTIONS) if isinstance(e, ParsedPost)]
    album = next(p for p in grouped if p.album_ids)
    assert album.album_ids == [4, 5]
    assert album.message_id == 4
    assert album.text == "Album caption"
    assert [m.kind for m in album.media] == ["photo", "video"]
    assert len(grouped) == len(posts(CHAT)) - 1


# --- pagination rules ----------------------------------------------------------------------


def _numbered_pages(tmp_path: Path, *, next_link: bool, back_link: bool) -> None:
    nav = '<a class="pagination block_link" href="messages2.html">\nNext messages\n</a>'
    back = '<a class="pagination block_link" href="messages.html">\nPrevious messages\n</a>'
    write(tmp_path, page(message(1, text_block("one")) + (nav if next_link else "")))
    write(
        tmp_path,
        page((back if back_link else "") + message(2, text_block("two"))),
        "messages2.html",
    )


@pytest.mark.parametrize(
    ("next_link", "back_link", "expected"),
    [
        (True, True, [1, 2]),
        (False, True, [1, 2]),  # no "Next" link, but the sibling links back: same chat
        (False, False, [1]),  # an unrelated file that only happens to be numbered
    ],
)
def test_numbered_siblings(
    tmp_path: Path, next_link: bool, back_link: bool, expected: list[int]
) -> None:
    _numbered_pages(tmp_path, next_link=next_link, back_link=back_link)
    assert list(posts(tmp_path / "messages.html")) == expected


def test_folder_without_first_page_starts_at_lowest(tmp_path: Path) -> None:
    write(tmp_path, page(message(5, text_block("five"))), "messages4.html")
    write(tmp_path, page(message(9, text_block("nine"))), "messages7.html")
    assert list(posts(tmp_path)) == [5]


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"no messages\.html"):
        events(tmp_path)


def test_pagination_loop(tmp_path: Path) -> None:
    nav = '<a class="pagination block_link" href="messages.html">\nNext messages\n</a>'
    path = write(tmp_path, page(message(1, text_block("one")) + nav))
    with pytest.raises(ParseError, match="loop") as error:
        events(path)
    assert error.value.place == "messages.html"


def test_next_link_outside_the_export_is_not_followed(tmp_path: Path) -> None:
    nav = '<a class="pagination block_link" href="../other/secret.html">\nNext messages\n</a>'
    path = write(tmp_path, page(message(1, text_block("one")) + nav))
    assert list(posts(path)) == [1]


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "zone", "expected"),
    [
        ("19.06.2026 15:26:50 UTC+03:00", "UTC", datetime(2026, 6, 19, 12, 26, 50, tzinfo=UTC)),
        ("19.06.2026 15:26:50 UTC-05:30", "Asia/Tokyo",
         datetime(2026, 6, 19, 20, 56, 50, tzinfo=UTC)),
        ("01.01.2020 00:30:00 UTC+01:00", "UTC", datetime(2019, 12, 31, 23, 30, tzinfo=UTC)),
        ("19.06.2026 15:26:50 UTC", "Europe/Berlin", datetime(2026, 6, 19, 15, 26, 50, tzinfo=UTC)),
        # No zone written: read in the configured zone, daylight saving included.
        ("18.07.2023 01:18:56", "UTC", datetime(2023, 7, 18, 1, 18, 56, tzinfo=UTC)),
        ("18.07.2023 01:18:56", "Europe/Berlin", datetime(2023, 7, 17, 23, 18, 56, tzinfo=UTC)),
        ("18.01.2023 01:18:56", "Europe/Berlin", datetime(2023, 1, 18, 0, 18, 56, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_dates(tmp_path: Path, title: str, zone: str, expected: datetime) -> None:
    path = write(tmp_path, page(message(7, text_block("x"), date=title)))
    found = events(path, ParseOptions(timezone=zone))
    (post,) = [e for e in found if isinstance(e, ParsedPost)]
    assert post.date == expected
    assert post.date.tzinfo is UTC
    notes = [e.message for e in found if isinstance(e, Note)]
    assert notes == (
        [] if "UTC" in title else [f"dates in this export have no time zone; read as {zone}"]
    )


def test_zone_note_once_logged_per_page(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    nav = '<a class="pagination block_link" href="messages2.html">\nNext messages\n</a>'
    old = "18.07.2023 01:18:56"
    write(tmp_path, page("".join(message(i, "", date=old) for i in (1, 2, 3)) + nav))
    write(tmp_path, page(message(4, "", date=old)), "messages2.html")
    with caplog.at_level(logging.INFO, logger="pipeline.ingest.desktop_html"):
        found = list(desktop_html.parse(tmp_path / "messages.html", ParseOptions("Asia/Shanghai")))
    assert [e for e in found if isinstance(e, Note)] == [
        Note("dates in this export have no time zone; read as Asia/Shanghai")
    ]
    pages = [r.getMessage().split(":")[0] for r in caplog.records]
    assert pages == [str(tmp_path / "messages.html"), str(tmp_path / "messages2.html")]


@pytest.mark.parametrize(
    "title",
    ["", "yesterday", "31.02.2024 10:00:00 UTC+00:00", "01.13.2024 10:00:00", "01.01.2024 25:00:00",
     "01.01.2024 10:00:00 UTC+99:00", "٠١.٠١.٢٠٢٤ 10:00:00"],
)  # fmt: skip
def test_bad_dates(tmp_path: Path, title: str) -> None:
    path = write(tmp_path, page(message(7, text_block("x"), date=title)))
    with pytest.raises(ParseError) as error:
        events(path)
    assert error.value.place == "message 7"
    assert "date" in error.value.reason


def test_unknown_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path, page(message(7, text_block("x"))))
    with pytest.raises(ParseError, match="unknown time zone 'Mars/Olympus'"):
        events(path, ParseOptions(timezone="Mars/Olympus"))


# --- text, media and reactions markup ------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text", "expected"),
    [
        ("a<br>b<br><br>c", "a\nb\n\nc", []),
        ("<b>b</b><i>i</i><strike>s</strike><del>d</del><ins>u</ins>", "bisdu",
         [("bold", "b"), ("italic", "i"), ("strikethrough", "s"), ("strikethrough", "d"),
          ("underline", "u")]),
        ("<tg-spoiler>hidden</tg-spoiler>", "hidden", [("spoiler", "hidden")]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", "x = 1")]),
        ("<blockquote expandable>long</blockquote>", "long",
         [("expandable_blockquote", "long")]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>!', "👍!",
         [("custom_emoji", "👍")]),
        ('<a href="" onclick="return ShowNotLoadedEmoji();">🙂</a>', "🙂",
         [("custom_emoji", "🙂")]),
        ('<a href="" onclick="return ShowMentionName()">Ann</a>', "Ann", [("text_mention", "Ann")]),
        ('<a href="https://t.me/other">@durov</a>', "@durov", [("text_link", "@durov")]),
        ('<a href="tg://resolve?domain=x">x</a>', "x", [("text_link", "x")]),
        ('<a href="www.example.com">www.example.com</a>', "www.example.com",
         [("url", "www.example.com")]),
        ('<img class="emoji" alt="😀" data-document-id="42"> ok', "😀 ok",
         [("custom_emoji", "😀")]),
        ("<strong>𝐀<em>𝐁</em></strong>𝐂", "𝐀𝐁𝐂", [("bold", "𝐀𝐁"), ("italic", "𝐁")]),
        ("<span>plain</span> <unknown>tag</unknown>", "plain tag", []),
        ("  <strong> padded </strong>  ", "padded", [("bold", "padded")]),
    ],
)  # fmt: skip
def test_formatting(
    tmp_path: Path, markup: str, text: str, expected: list[tuple[str, str]]
) -> None:
    post = only_post(tmp_path, text_block(markup))
    assert post.text == text
    assert spans(post) == expected


def test_entity_attributes(tmp_path: Path) -> None:
    post = only_post(
        tmp_path,
        text_block(
            '<pre><code class="language-python">x</code></pre>'
            '<tg-emoji emoji-id="77">🙂</tg-emoji>'
            '<img alt="😀" data-document-id="42">'
        ),
    )
    assert [(e.type, e.language, e.custom_emoji_id) for e in post.entities] == [
        ("pre", "python", None),
        ("custom_emoji", None, "77"),
        ("custom_emoji", None, "42"),
    ]


def _generic(classes: str, title: str, status: str, href: str | None = None, note: str = "") -> str:
    tag = (
        f'a class="media clearfix pull_left block_link {classes}" href="{href}"'
        if href
        else (f'div class="media clearfix pull_left {classes}"')
    )
    end = "a" if href else "div"
    description = f'<div class="description">\n{note}\n</div>' if note else ""
    return f"""<div class="media_wrap clearfix">
<{tag}>
<div class="fill pull_left"></div>
<div class="body">
<div class="title bold">
{title}
</div>
{description}
<div class="status details">
{status}
</div>
</div>
</{end}>
</div>"""


@pytest.mark.parametrize(
    ("block", "kind", "file", "duration", "extra"),
    [
        (_generic("media_video", "Video file", "00:12, 1.2 MB", note="Exceeds maximum size, "
                  "change data exporting settings to download."),
         "video", None, 12,
         {"note": "Exceeds maximum size, change data exporting settings to download."}),
        (_generic("media_video", "Animation", "1.2 MB", "video_files/a.gif.mp4"),
         "animation", "video_files/a.gif.mp4", None, {}),
        (_generic("media_video", "Video message", "00:07", "round_video_messages/r.mp4"),
         "video_note", "round_video_messages/r.mp4", 7, {}),
        (_generic("media_photo", "Sticker", "😀, 12.0 KB"), "sticker", None, None,
         {"emoji": "😀"}),
        (_generic("media_contact", "Ann Lee", "+1 555 0100"), "contact", None, None,
         {"name": "Ann Lee", "phone": "+1 555 0100"}),
        (_generic("media_live_location", "Live location", ""), "location", None, None,
         {"live": True}),
        (_generic("media_venue", "Cafe", "", note="Main st. 1"), "venue", None, None,
         {"title": "Cafe", "address": "Main st. 1"}),
        (_generic("media_invoice", "Book", "$5.00"), "invoice", None, None,
         {"title": "Book", "description": "", "amount": "$5.00"}),
        (_generic("media_call", "Ann", "Missed"), "unsupported", None, None,
         {"title": "Ann", "status": "Missed"}),
        ('<div class="media_wrap clearfix"><a class="animated_wrap clearfix pull_left" '
         'href="video_files/g.mp4"><div class="video_play_bg"><div class="gif_play">GIF</div>'
         "</div></a></div>", "animation", "video_files/g.mp4", None, {}),
        ('<div class="media_wrap clearfix"><div class="media_giveaway"><div class="section_title'
         ' bold">Giveaway Prize</div></div></div>', "unsupported", None, None,
         {"type": "giveaway", "text": "Giveaway Prize"}),
    ],
)  # fmt: skip
def test_generic_media(
    tmp_path: Path,
    block: str,
    kind: str,
    file: str | None,
    duration: int | None,
    extra: dict[str, Any],
) -> None:
    (item,) = only_post(tmp_path, block).media
    assert (item.kind, item.file, item.duration, item.extra) == (kind, file, duration, extra)


@pytest.mark.parametrize(
    ("reactions", "expected"),
    [
        ('<span class="reaction"><span class="emoji">\n😁\n</span>'
         '<span class="count">\n12\n</span></span>', [Reaction("😁", 12)]),
        ('<span class="reaction"><span class="emoji"><a href = "../../5000">👋</a></span>'
         '<span class="count">3</span></span>', [Reaction("custom:5000", 3)]),
        ('<span class="reaction"><span class="emoji"><img src="stickers/s.webp"></span>'
         '<span class="count">2</span></span>', [Reaction("custom:stickers/s.webp", 2)]),
        ('<span class="reaction paid"><span class="emoji">⭐</span>'
         '<span class="count">100</span></span>', [Reaction("paid", 100)]),
    ],
)  # fmt: skip
def test_reactions(tmp_path: Path, reactions: str, expected: list[Reaction]) -> None:
    post = only_post(tmp_path, text_block("x") + f'<span class="reactions">{reactions}</span>')
    assert post.reactions == expected


@pytest.mark.parametrize(
    "reaction",
    [
        '<span class="emoji">😁</span><span class="count">lots</span>',
        '<span class="emoji">😁</span><span class="count">²</span>',
        '<span class="emoji">😁</span>',
        '<span class="count">3</span>',
    ],
)
def test_bad_reactions(tmp_path: Path, reaction: str) -> None:
    markup = f'<span class="reactions"><span class="reaction">{reaction}</span></span>'
    path = write(tmp_path, page(message(7, markup)))
    with pytest.raises(ParseError) as error:
        events(path)
    assert error.value.place == "message 7"


@pytest.mark.parametrize(
    ("title", "senders", "authors"),
    [
        # A personal chat bears the other person's name: she is still the author.
        ("Alice", ["Alice", None, "Me", "Alice"], ["Alice", "Alice", "Me", "Alice"]),
        # Her messages first, yours further down the page: the whole page tells.
        ("Alice", ["Alice", None, None, "Me"], ["Alice", "Alice", "Alice", "Me"]),
        # A group member named like the group.
        ("Friends", ["Bob", "Friends", None], ["Bob", "Friends", "Friends"]),
        # A channel: every post is the channel's own.
        ("Chat", ["Chat", None, "Chat"], [None, None, None]),
    ],
)
def test_senders_are_authors_unless_the_chat_itself(
    tmp_path: Path, title: str, senders: list[str | None], authors: list[str | None]
) -> None:
    history = "".join(
        message(number, text_block(f"post {number}"), sender=sender)
        for number, sender in enumerate(senders, 1)
    )
    found = posts(write(tmp_path, page(history, title=title)))
    assert [found[number].author for number in range(1, len(senders) + 1)] == authors


def test_reply_into_another_page_and_another_chat(tmp_path: Path) -> None:
    other_page = (
        '<div class="reply_to details">\nIn reply to '
        '<a href="messages3.html#go_to_message2500">this message</a>\n</div>'
    )
    other_chat = '<div class="reply_to details">\nIn reply to a message in another chat\n</div>'
    path = write(tmp_path, page(message(7, other_page) + message(8, other_chat, sender=None)))
    found = posts(path)
    assert (found[7].reply_to, found[8].reply_to) == (2500, None)


# --- malformed input -----------------------------------------------------------------------

ARTICLE = "<!DOCTYPE html><html><head><title>News</title></head><body><article><h1>Hi</h1>" \
    "<p>Body text.</p></article></body></html>"  # fmt: skip
WEB_PREVIEW = (
    '<html><body><div class="tgme_widget_message_wrap"><div class="tgme_widget_message" '
    'data-post="chan/1"><div class="tgme_widget_message_text">Hi</div></div></div></body></html>'
)
CONTACTS = (
    '<html><body><div class="page_wrap"><div class="page_body list_page">'
    '<div class="entry_list"></div></div></div></body></html>'
)


@pytest.mark.parametrize("content", [ARTICLE, WEB_PREVIEW, CONTACTS, "<html></html>"])
def test_not_a_telegram_export(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ParseError, match="not a Telegram Desktop chat export"):
        events(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"\x00\x01\x02binary\x00", "binary"), (b"   \n\n", "empty file")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "messages.html"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        events(path)


@pytest.mark.parametrize(
    ("history", "place", "reason"),
    [
        (message(3, "") + message(3, text_block("x")), "message 3, line", "different content"),
        ('<div class="message default clearfix" id="messageX"><div class="body"></div></div>',
         "line", "without a valid id"),
        ('<div class="message default clearfix" id="message3"></div>', "message 3", "body"),
        ('<div class="message default clearfix" id="message3"><div class="body">'
         '<div class="text">x</div></div></div>', "message 3", "without a date"),
        ('<div class="message default clearfix" id="message-3"><div class="body"></div></div>',
         "line", "invalid message id"),
        ("<p>stray</p>" + message(3, ""), "line", "unexpected <p>"),
        ('<div class="message default clearfix" id="message3"><div class="body">'
         + message(4, "") + "</div></div>", "line", "message4 is nested"),
    ],
)  # fmt: skip
def test_broken_markup(tmp_path: Path, history: str, place: str, reason: str) -> None:
    path = write(tmp_path, page(history))
    with pytest.raises(ParseError) as error:
        events(path)
    assert reason in error.value.reason
    assert (error.value.place or "").startswith(place)


def test_huge_ids_and_counts_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, page(message(7, "").replace("message7", "message" + "9" * 5000)))
    with pytest.raises(ParseError, match="valid id"):
        events(path)


@pytest.mark.parametrize("cut", [200, 1500, 3000, 4900, -20, -8, -2])
def test_truncated_page(tmp_path: Path, cut: int) -> None:
    data = (CHAT / "messages.html").read_bytes()
    path = tmp_path / "messages.html"
    path.write_bytes(data[:cut])
    with pytest.raises(ParseError) as error:
        events(path)
    assert error.value.place == f"byte {len(data[:cut])}"
    assert "truncated" in error.value.reason


def test_truncated_later_page_stops_the_import(tmp_path: Path) -> None:
    for name in ("messages.html", "messages2.html", "messages3.html"):
        shutil.copy(CHAT / name, tmp_path / name)
    data = (tmp_path / "messages2.html").read_bytes()
    (tmp_path / "messages2.html").write_bytes(data[: len(data) // 2])
    stream = desktop_html.parse(tmp_path, UTC_OPTIONS)
    with pytest.raises(ParseError) as error:
        list(stream)
    assert error.value.file.endswith("messages2.html")
    assert "the last message that starts is" in error.value.reason


def test_trailing_whitespace_after_html_is_complete(tmp_path: Path) -> None:
    data = (CHAT / "messages3.html").read_bytes()
    path = tmp_path / "messages3.html"
    path.write_bytes(data + b"\n\n  \n")
    assert list(posts(path)) == [16, 17]


# --- sniff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ((CHAT / "messages.html").read_text(encoding="utf-8"), True),
        ((CHAT / "messages3.html").read_text(encoding="utf-8"), True),
        (page(""), True),
        (ARTICLE, False),
        (WEB_PREVIEW, False),
        (CONTACTS, False),
        ('{"name": "chat", "messages": []}', False),
        ("👍50🔥8❤2\nForwarded from X", False),
    ],
)
def test_sniff(content: str, expected: bool) -> None:
    assert desktop_html.sniff(Path("messages.html"), content[:65536]) is expected


@pytest.mark.parametrize(
    "name",
    ["trantor_library-messages.html", "uponthepathofsalaf-messages.html",
     "cybersecnews-2018-messages2.html"],
)  # fmt: skip
def test_sniff_real_exports(exports_dir: Path, name: str) -> None:
    path = exports_dir / "desktop" / name
    head = path.read_bytes()[:65536].decode("utf-8", errors="ignore")
    assert desktop_html.sniff(path, head)


@pytest.mark.parametrize("name", ["trantor_library-result.json", "pachum-small-result.json"])
def test_sniff_refuses_json_export(exports_dir: Path, name: str) -> None:
    path = exports_dir / "desktop" / name
    assert not desktop_html.sniff(path, path.read_text(encoding="utf-8")[:65536])


# --- mutated input: well-formed events or ParseError, nothing else -------------------------

FIXTURE_PAGE = (CHAT / "messages.html").read_bytes()
FIXTURE_LAST = (CHAT / "messages3.html").read_bytes()


def _outcome(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        found = list(desktop_html.parse(path, UTC_OPTIONS))
    except ParseError as error:
        problem = error
    else:
        assert_well_formed(found)
        return
    assert problem.file == str(path)
    assert problem.reason


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["delete", "duplicate", "flip", "insert"]))
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 200)))
    if kind == "delete":
        return data[:start] + data[end:]
    if kind == "duplicate":
        return data[:end] + data[start:end] + data[end:]
    if kind == "flip":
        return data[:start] + bytes([data[start] ^ draw(st.integers(1, 255))]) + data[start + 1 :]
    fragment = draw(
        st.sampled_from([b"<div>", b"</div>", b"<br>", b'"', b"<", b"&", b"\xff", b"\x00",
                         b'id="message3"', b'<div class="message default">', b"</html>"])
    )  # fmt: skip
    return data[:start] + fragment + data[start:]


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from([FIXTURE_PAGE, FIXTURE_LAST]))
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate(data, draw)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_pages())
def test_mutated_fixture_pages(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    _outcome(tmp_path_factory.mktemp("mutated") / "messages.html", data)


@settings(max_examples=100, deadline=None)
@given(seed=st.randoms(use_true_random=False))
def test_shuffled_lines(tmp_path_factory: pytest.TempPathFactory, seed: Any) -> None:
    lines = FIXTURE_LAST.split(b"\n")
    seed.shuffle(lines)
    _outcome(tmp_path_factory.mktemp("shuffled") / "messages.html", b"\n".join(lines))


@settings(max_examples=150, deadline=None)
@given(fraction=st.floats(0, 1))
def test_truncated_real_export(
    tmp_path_factory: pytest.TempPathFactory, exports_dir: Path, fraction: float
) -> None:
    data = (exports_dir / "desktop" / "uponthepathofsalaf-messages.html").read_bytes()
    complete = data.rstrip()
    cut = int(len(complete) * fraction)
    path = tmp_path_factory.mktemp("cut") / "messages.html"
    path.write_bytes(data[:cut])
    if cut == len(complete):
        assert len(posts(path)) == 208
        return
    with pytest.raises(ParseError) as error:
        list(desktop_html.parse(path, UTC_OPTIONS))
    # Clean cuts name the byte; a cut inside a UTF-8 sequence is refused by the decoder.
    assert error.value.place in {f"byte {cut}", None} or error.value.place.startswith("line")
