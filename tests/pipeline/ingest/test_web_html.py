"""The saved ``t.me/s/<channel>`` page parser (format ``web-html``)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.ingest import web_html
from pipeline.ingest.model import (
    ChannelInfo,
    Event,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.textutil import utf16_len, utf16_slice
from tests.pipeline.ingest.mutations import mutated

T = TypeVar("T")

FIXTURES = Path(__file__).parent / "fixtures" / "web_html"
PAGE = FIXTURES / "dev_digest.html"
OLDEST = FIXTURES / "dev_digest_oldest.html"


def events_of(path: Path, **options: str) -> list[Event]:
    return list(web_html.parse(path, ParseOptions(**options)))


@pytest.fixture(scope="module")
def page() -> list[Event]:
    return events_of(PAGE)


@pytest.fixture(scope="module")
def posts(page: list[Event]) -> dict[int, ParsedPost]:
    return {e.message_id: e for e in page if isinstance(e, ParsedPost) and e.message_id}


def spans(post: ParsedPost) -> list[tuple[str, str]]:
    return [(e.type, utf16_slice(post.text, e.offset, e.length)) for e in post.entities]


def check_well_formed(events: list[Event]) -> None:
    """What every consumer of parser output relies on."""
    for item in events:
        assert isinstance(item, ChannelInfo | ParsedPost | Skipped | Note)
        if isinstance(item, Note):
            assert item.message
        elif isinstance(item, ChannelInfo):
            assert item.username is None or isinstance(item.username, str)
            assert item.subscribers is None or item.subscribers >= 0
        elif isinstance(item, Skipped):
            assert isinstance(item.reason, str)
            assert item.reason
        else:
            assert isinstance(item.message_id, int)
            assert item.message_id >= 0
            assert isinstance(item.text, str)
            assert item.text == item.text.strip()
            size = utf16_len(item.text)
            for entity in item.entities:
                assert entity.length > 0
                assert entity.offset >= 0
                assert entity.offset + entity.length <= size
                if entity.type == "text_link":
                    assert (entity.url or "").startswith(("http://", "https://", "tg:"))
            for stamp in (item.date, item.edited):
                if stamp is not None:
                    offset = stamp.utcoffset()
                    assert offset is not None
                    assert offset.total_seconds() == 0
            assert all(isinstance(r.count, int) for r in item.reactions)
            assert all(r.count >= 0 for r in item.reactions)
            assert item.views is None or item.views >= 0


# --- the fixture page, post by post ----------------------------------------------------------


def test_page_starts_with_the_channel_header(page: list[Event]) -> None:
    assert page[0] == ChannelInfo(
        title="Dev Digest 🚀",
        username="dev_digest",
        subscribers=12800,
        description="Разработка, инструменты и немного ИИ. Без воды.\n\nПо вопросам: @dd_editor",
    )
    assert sum(isinstance(e, ChannelInfo) for e in page) == 1


def test_service_message_is_skipped(page: list[Event]) -> None:
    assert page[1] == Skipped(1040, "service")
    assert [e.message_id for e in page if isinstance(e, ParsedPost)] == [
        1041, 1042, 1043, 1047, 1048, 1049, 1050, 1051, 1052, 1053, 1054, 1055, 1056,
    ]  # fmt: skip


def test_formatted_text(posts: dict[int, ParsedPost]) -> None:
    post = posts[1041]
    assert post.text == (
        "Релиз Python 3.13 🐍\n\n"
        "Главное: экспериментальный режим без GIL, новый REPL и JIT. Поддержка 3.8 закончилась.\n"
        "Проверить версию: python -VV\n"
        "import sys\nprint(sys._is_gil_enabled())\n"
        "Подробности в заметках о выпуске и на https://www.python.org/\n"
        "Free-threaded CPython is experimental.\n"
        "Спойлер: 3.14 будет ещё быстрее 👍\n"
        "#python @pythonnews"
    )
    assert spans(post) == [
        ("bold", "Релиз Python 3.13"),
        ("italic", "экспериментальный"),
        ("underline", "новый REPL"),
        ("strikethrough", "Поддержка 3.8"),
        ("code", "python -VV"),
        ("pre", "import sys\nprint(sys._is_gil_enabled())"),
        ("text_link", "заметках о выпуске"),
        ("url", "https://www.python.org/"),
        ("blockquote", "Free-threaded CPython is experimental."),
        ("spoiler", "3.14 будет ещё быстрее"),
        ("custom_emoji", "👍"),
        ("hashtag", "#python"),
        ("mention", "@pythonnews"),
    ]
    by_type = {e.type: e for e in post.entities}
    assert by_type["pre"].language == "python"
    assert by_type["text_link"].url == "https://docs.python.org/3.13/whatsnew/3.13.html"
    assert by_type["custom_emoji"].custom_emoji_id == "5368324170671202286"
    # The emoji images' <b> is not bold: only the headline is.
    assert [e for e in post.entities if e.type == "bold"] == [post.entities[0]]


@pytest.mark.parametrize(
    ("message_id", "views", "date", "edited", "author", "forwarded_from", "reply_to"),
    [
        (1041, 14600, datetime(2024, 5, 1, 9, 15, tzinfo=UTC), True, "Анна К.", None, None),
        (1042, 15300, datetime(2024, 5, 1, 12, 40, 5, tzinfo=UTC), False, None, None, None),
        # +03:00 on the page is 08:05 UTC.
        (1047, 7100, datetime(2024, 5, 3, 8, 5, tzinfo=UTC), False, None, "ML Weekly", None),
        (1048, 6000, datetime(2024, 5, 3, 14, 0, tzinfo=UTC), False, None, None, None),
        (1051, 3200, datetime(2024, 5, 6, 19, 0, tzinfo=UTC), True, None, None, None),
        (1055, 3_000_000, datetime(2024, 5, 8, 12, 0, tzinfo=UTC), False, None, None, 1041),
        (1056, 1200, datetime(2024, 5, 9, 8, 10, tzinfo=UTC), False, None, "Иван Петров", None),
    ],
)
def test_post_metadata(
    posts: dict[int, ParsedPost],
    message_id: int,
    views: int,
    date: datetime,
    edited: bool,
    author: str | None,
    forwarded_from: str | None,
    reply_to: int | None,
) -> None:
    post = posts[message_id]
    assert post.views == views
    assert post.date == date
    assert post.date is not None
    assert post.date.tzinfo is UTC
    assert post.edited == (date if edited else None)
    assert post.author == author
    assert post.forwarded_from == forwarded_from
    assert post.reply_to == reply_to


def test_reply_quote_is_not_part_of_the_text(posts: dict[int, ParsedPost]) -> None:
    post = posts[1055]
    assert post.text == "Обновление: сборка без GIL уже доступна в uv и pyenv."
    assert spans(post) == [("bold", "uv"), ("bold", "pyenv")]
    # The quoted sender's name in the reply is not the post's signature.
    assert post.author is None


@pytest.mark.parametrize(
    ("message_id", "reactions"),
    [
        (
            1041,
            [
                Reaction("👍", 1200),
                Reaction("🔥", 86),
                Reaction("custom:5190660975866437599", 31),
                Reaction("paid", 12),
            ],
        ),
        (1042, [Reaction("❤", 1100), Reaction("😁", 7)]),
        (1043, [Reaction("🔥", 240)]),
        (1050, [Reaction("👍", 58), Reaction("❤\u200d🔥", 4)]),
        (1047, []),
    ],
)
def test_reactions(
    posts: dict[int, ParsedPost], message_id: int, reactions: list[Reaction]
) -> None:
    assert posts[message_id].reactions == reactions


def test_album_is_one_post_with_all_its_media(posts: dict[int, ParsedPost]) -> None:
    post = posts[1043]
    assert post.text == "Фото с PyCon: доклады, стенды и очередь за кофе ☕"
    assert [(m.kind, m.file) for m in post.media] == [
        ("photo", "https://cdn4.telesco.pe/file/AlbumOne.jpg"),
        ("photo", "https://cdn4.telesco.pe/file/AlbumTwo.jpg"),
        ("photo", "https://cdn4.telesco.pe/file/AlbumThree.jpg"),
        ("video", "https://cdn4.telesco.pe/file/album_clip.mp4?token=abc"),
    ]
    assert post.media[3].duration == 27
    assert post.album_ids == [1043, 1044, 1045, 1046]


@pytest.mark.parametrize(
    ("message_id", "kind", "file", "details"),
    [
        (1042, "photo", "https://cdn4.telesco.pe/file/Xq1PhotoA.jpg", {}),
        (1048, "document", None, {"file_name": "python-3.13-cheatsheet.pdf", "size": "2.4 MB"}),
        (1051, "video", None, {"duration": 2537, "notice": "Media is too big"}),
        (1052, "unsupported", None, {"notice": "Please open Telegram to view this post"}),
        (1053, "voice", "https://cdn4.telesco.pe/file/voice_note.ogg?token=v1", {"duration": 65}),
        (1054, "sticker", "https://cdn4.telesco.pe/file/sticker.webp", {}),
    ],
)
def test_single_media(
    posts: dict[int, ParsedPost],
    message_id: int,
    kind: str,
    file: str | None,
    details: dict[str, object],
) -> None:
    [media] = posts[message_id].media
    assert (media.kind, media.file) == (kind, file)
    for key, value in details.items():
        assert getattr(media, key, None) == value or media.extra.get(key) == value


@pytest.mark.parametrize(
    ("markup", "kind", "file", "details"),
    [
        (
            '<a class="tgme_widget_message_roundvideo_player js-message_roundvideo_player" '
            'href="https://t.me/chan/1"><video class="tgme_widget_message_roundvideo" '
            'src="https://cdn4.telesco.pe/file/round.mp4"></video>'
            '<time class="message_video_duration">0:09</time></a>',
            "video_note",
            "https://cdn4.telesco.pe/file/round.mp4",
            {"duration": 9},
        ),
        (
            '<a class="tgme_widget_message_location_wrap" href="https://maps.google.com/maps?q=1,2">'
            '<div class="tgme_widget_message_location"></div></a>',
            "location",
            None,
            {"url": "https://maps.google.com/maps?q=1,2"},
        ),
        (
            '<a class="tgme_widget_message_document_wrap" href="https://t.me/chan/1">'
            '<div class="tgme_widget_message_document">'
            '<div class="tgme_widget_message_document_icon audio accent_bg"></div>'
            '<div class="tgme_widget_message_document_title">Song</div>'
            '<div class="tgme_widget_message_document_extra">Band</div></div></a>',
            "audio",
            None,
            {"file_name": "Song", "performer": "Band"},
        ),
        (
            '<div class="tgme_widget_message_sticker_wrap"><a href="https://t.me/addstickers/x">'
            '<div class="tgme_widget_message_videosticker js-videosticker">'
            '<video src="https://cdn4.telesco.pe/file/s.webm"></video></div></a></div>',
            "sticker",
            "https://cdn4.telesco.pe/file/s.webm",
            {},
        ),
    ],
)
def test_other_media(markup: str, kind: str, file: str | None, details: dict[str, object]) -> None:
    events, _ = web_html.parse_page_html(wrap("chan/1", markup), "media")
    post = events[1]
    assert isinstance(post, ParsedPost)
    [media] = post.media
    assert (media.kind, media.file) == (kind, file)
    for key, value in details.items():
        assert getattr(media, key, None) == value or media.extra.get(key) == value


def test_media_only_posts_have_empty_text(posts: dict[int, ParsedPost]) -> None:
    assert [posts[i].text for i in (1049, 1052, 1053, 1054)] == ["", "", "", ""]


def test_poll(posts: dict[int, ParsedPost]) -> None:
    [poll] = posts[1049].media
    assert poll.kind == "poll"
    assert poll.extra == {
        "question": "На какой версии Python ваш основной проект?",
        "type": "Anonymous poll",
        "options": [
            {"text": "3.12 и новее", "percent": 41.0},
            {"text": "3.10–3.11", "percent": 38.0},
            {"text": "3.9 и старше", "percent": 21.0},
        ],
        "total_voters": 2300,
    }


def test_link_preview_is_metadata_not_body(posts: dict[int, ParsedPost]) -> None:
    post = posts[1050]
    assert post.text == "Видео-разбор: https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert spans(post) == [("url", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")]
    assert post.link_preview is not None
    assert post.link_preview.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert post.link_preview.site == "YouTube"
    assert post.link_preview.title == "Что нового в Python 3.13 — разбор за 20 минут"
    assert post.link_preview.description == (
        "Разбираем free-threading, JIT и новый REPL\nна живых примерах."
    )
    assert post.media == []


def test_oldest_page(tmp_path: Path) -> None:
    events = events_of(OLDEST)
    assert [type(e).__name__ for e in events] == [
        "ChannelInfo",
        "Skipped",
        "ParsedPost",
        "ParsedPost",
    ]
    assert events[1] == Skipped(1, "service")
    post = events[3]
    assert isinstance(post, ParsedPost)
    assert spans(post) == [("code", "git switch -c"), ("code", "git checkout -b")]


def test_everything_is_well_formed(page: list[Event]) -> None:
    check_well_formed(page)
    check_well_formed(events_of(OLDEST))


# --- paging with parse_page_html --------------------------------------------------------------


def test_parse_page_html_returns_the_next_older_page() -> None:
    events, before = web_html.parse_page_html(
        PAGE.read_text(encoding="utf-8"), "https://t.me/s/dev_digest"
    )
    assert before == 1040
    assert events == events_of(PAGE)
    events, before = web_html.parse_page_html(OLDEST.read_text(encoding="utf-8"), "oldest")
    # The oldest page links only to newer posts (data-after): no older page.
    assert before is None
    assert len(events) == 4


def wrap(
    post_id: str, inner: str, *, date: str = "2024-01-02T03:04:05+00:00", cls: str = ""
) -> str:
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message {cls} js-widget_message" data-post="{post_id}">'
        f'<div class="tgme_widget_message_bubble">{inner}'
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        '<span class="tgme_widget_message_meta">'
        f'<a class="tgme_widget_message_date" href="https://t.me/{post_id}">'
        f'<time datetime="{date}" class="time">03:04</time></a>'
        "</span></div></div></div></div></div>"
    )


def text_div(inner: str) -> str:
    return f'<div class="tgme_widget_message_text js-message_text" dir="auto">{inner}</div>'


def test_fragment_without_header_takes_the_channel_from_data_post() -> None:
    fragment = (
        '<a href="/s/other_chan?before=7" class="tme_messages_more js-messages_more"></a>'
        + wrap("other_chan/8", text_div("eight"))
        + wrap("other_chan/9", text_div("nine"))
    )
    events, before = web_html.parse_page_html(fragment, "fragment")
    assert before == 7  # from the href when there is no data-before
    assert events[0] == ChannelInfo(username="other_chan")
    assert [(e.message_id, e.text) for e in events[1:] if isinstance(e, ParsedPost)] == [
        (8, "eight"),
        (9, "nine"),
    ]


def test_a_second_channel_on_one_page_gets_its_own_channel_info() -> None:
    fragment = wrap("first/1", text_div("a")) + wrap("second/5", text_div("b"))
    events, _ = web_html.parse_page_html(fragment, "mixed")
    assert [e for e in events if isinstance(e, ChannelInfo)] == [
        ChannelInfo(username="first"),
        ChannelInfo(username="second"),
    ]


@pytest.mark.parametrize(
    ("inner", "text", "expected"),
    [
        ("a<br/>b<br><br/>c", "a\nb\n\nc", []),
        ("<b>bold <i>both</i></b>", "bold both", [("bold", "bold both"), ("italic", "both")]),
        ('<span class="tg-spoiler">hidden</span>', "hidden", [("spoiler", "hidden")]),
        (
            "<u>u</u> <s>s</s> <del>d</del> <ins>i</ins>",
            "u s d i",
            [
                ("underline", "u"),
                ("strikethrough", "s"),
                ("strikethrough", "d"),
                ("underline", "i"),
            ],
        ),
        (
            '<a href="https://example.com/page">https://example.com/page</a>',
            "https://example.com/page",
            [("url", "https://example.com/page")],
        ),
        (
            '<a href="https://example.com/page">example.com/page</a>',
            "example.com/page",
            [("text_link", "example.com/page")],
        ),
        (
            '<a href="mailto:me@example.com">me@example.com</a>',
            "me@example.com",
            [("email", "me@example.com")],
        ),
        ('<a href="?q=%24TON">$TON</a>', "$TON", [("cashtag", "$TON")]),
        ('<a href="javascript:alert(1)">click</a>', "click", []),
        ('<a href="/s/dev_digest/5">older post</a>', "older post", [("text_link", "older post")]),
        (
            '<blockquote class="expandable">long quote</blockquote>after',
            "long quote\nafter",
            [("expandable_blockquote", "long quote")],
        ),
        ("before<pre>x = 1</pre>after", "before\nx = 1\nafter", [("pre", "x = 1")]),
        (
            "<blockquote>q</blockquote><b>next</b>",
            "q\nnext",
            [("blockquote", "q"), ("bold", "next")],
        ),
        ("<code>a &lt;b&gt; &amp; c</code>", "a <b> & c", [("code", "a <b> & c")]),
        ("𝔘 <b>😀x</b>", "𝔘 😀x", [("bold", "😀x")]),
        ('<tg-emoji emoji-id="42"></tg-emoji>text', "text", []),
        ("<!-- note -->seen<script>hidden()</script>", "seen", []),
    ],
)
def test_text_formatting_rules(inner: str, text: str, expected: list[tuple[str, str]]) -> None:
    events, _ = web_html.parse_page_html(wrap("chan/1", text_div(inner)), "rules")
    post = events[1]
    assert isinstance(post, ParsedPost)
    assert post.text == text
    assert spans(post) == expected


def test_relative_text_link_is_made_absolute() -> None:
    events, _ = web_html.parse_page_html(
        wrap("chan/1", text_div('<a href="/s/dev_digest/5">older post</a>')), "rules"
    )
    post = events[1]
    assert isinstance(post, ParsedPost)
    assert post.entities[0].url == "https://t.me/s/dev_digest/5"


def test_naive_date_uses_the_timezone_option(tmp_path: Path) -> None:
    path = tmp_path / "naive.html"
    path.write_text(wrap("chan/1", text_div("x"), date="2024-01-02T03:04:05"), encoding="utf-8")
    [_, note, post] = events_of(path, timezone="Europe/Moscow")
    assert note == Note("dates on this page have no time zone; read as Europe/Moscow")
    assert isinstance(post, ParsedPost)
    assert post.date == datetime(2024, 1, 2, 0, 4, 5, tzinfo=UTC)


def test_message_with_nothing_in_it_is_skipped_as_empty() -> None:
    events, _ = web_html.parse_page_html(wrap("chan/3", ""), "empty")
    assert events[1] == Skipped(3, "empty")


# --- counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("401", 401),
        ("1.2K", 1200),
        ("12.7K", 12700),
        ("4.62K", 4620),
        ("0.29K", 290),
        ("1.1M", 1_100_000),
        ("3M", 3_000_000),
        ("2B", 2_000_000_000),
        ("1 234", 1234),
        ("1\u202f234", 1234),
        ("1,234", 1234),
        ("1,5K", 1500),
        (" 7 ", 7),
        ("", None),
    ],
)
def test_parse_count(raw: str, value: int | None) -> None:
    assert web_html.parse_count(raw) == value


@pytest.mark.parametrize("raw", ["1.2.3", "K", "lots", "1.2X", "-5"])
def test_parse_count_refuses_garbage(raw: str) -> None:
    with pytest.raises(ValueError, match="unreadable count"):
        web_html.parse_count(raw)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "place", "reason"),
    [
        ("<html><body><p>Just a page</p></body></html>", None, "no Telegram web preview messages"),
        (wrap("nochannel", text_div("x")), "message 1", "no post id"),
        (wrap("chan/1", text_div("x"), date="yesterday"), "post chan/1", "unreadable date"),
        (
            wrap("chan/1", text_div("x") + '<span class="tgme_widget_message_views">many</span>'),
            "post chan/1",
            "views: unreadable count",
        ),
        (
            wrap(
                "chan/1",
                '<div class="tgme_widget_message_reactions"><span class="tgme_reaction">'
                '<i class="emoji"><b>👍</b></i>1.2.3</span></div>',
            ),
            "post chan/1",
            "reaction 👍",
        ),
        (
            '<a class="tme_messages_more" data-before="abc"></a>' + wrap("chan/1", text_div("x")),
            "older-messages link",
            "unreadable message id",
        ),
    ],
)
def test_bad_pages_raise_parse_error_naming_the_place(
    tmp_path: Path, content: str, place: str | None, reason: str
) -> None:
    path = tmp_path / "page.html"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        web_html.parse_page_html(content, str(path))
        events_of(path)
    assert caught.value.file == str(path)
    assert caught.value.place == place
    assert reason in caught.value.reason


def test_empty_and_binary_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ParseError, match="empty file"):
        events_of(empty)
    binary = tmp_path / "page.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ParseError, match="binary"):
        events_of(binary)


def test_unknown_timezone_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unknown time zone"):
        events_of(PAGE, timezone="Mars/Olympus")


# --- sniffing ---------------------------------------------------------------------------------


def head_of(path: Path) -> str:
    return path.read_bytes()[:65536].decode("utf-8", "replace")


@pytest.mark.parametrize("name", ["dev_digest.html", "dev_digest_oldest.html"])
def test_sniff_claims_web_preview_pages(name: str) -> None:
    assert web_html.sniff(FIXTURES / name, head_of(FIXTURES / name))


@pytest.mark.parametrize(
    "head",
    [
        "<html><body><article><p>An ordinary article</p></article></body></html>",
        "Plain text that mentions nothing",
        # A Desktop export quoting the class name in a message is still a Desktop export.
        '<title>Exported Data</title><div class="page_wrap">tgme_widget_message</div>',
    ],
)
def test_sniff_refuses_other_files(head: str) -> None:
    assert not web_html.sniff(Path("x.html"), head)


def test_sniff_refuses_every_real_export(exports_dir: Path) -> None:
    files = sorted(p for p in exports_dir.rglob("*") if p.is_file())
    assert files
    assert [p.name for p in files if web_html.sniff(p, head_of(p))] == []


@pytest.mark.parametrize(
    "name",
    [
        "desktop/trantor_library-messages.html",
        "desktop/uponthepathofsalaf-messages.html",
        "desktop/cybersecnews-2018-messages2.html",
        "text/nn_for_science-compact.txt",
        "desktop/pachum-small-result.json",
    ],
)
def test_forcing_the_format_on_another_export_is_a_parse_error(
    exports_dir: Path, name: str
) -> None:
    with pytest.raises(ParseError, match="no Telegram web preview messages"):
        events_of(exports_dir / name)


# --- real channel data rendered as a web preview page ------------------------------------------

# How the web preview writes each Desktop-export entity type, and the entity it reads back as.
_TAGS = {
    "bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code",
    "spoiler": "tg-spoiler",
}  # fmt: skip


def _esc(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br/>")


def _render_parts(parts: list[Any]) -> tuple[str, list[tuple[str, str]]]:
    out: list[str] = []
    expected: list[tuple[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            out.append(_esc(part))
            continue
        kind, text = part["type"], part["text"]
        body = _esc(text)
        if kind in _TAGS:
            out.append(f"<{_TAGS[kind]}>{body}</{_TAGS[kind]}>")
            expected.append((kind, text))
        elif kind in ("text_link", "link", "mention", "hashtag", "email"):
            href = {
                "text_link": part.get("href", ""),
                "link": text if "://" in text else "https://" + text,
                "mention": "https://t.me/" + text[1:],
                "hashtag": "?q=%23" + text[1:],
                "email": "mailto:" + text,
            }[kind]
            out.append(f'<a href="{html.escape(href)}" target="_blank">{body}</a>')
            shown_as_url = kind == "link" and href == text
            expected.append(
                ("url" if shown_as_url else "text_link" if kind == "link" else kind, text)
            )
        elif kind == "pre":
            language = part.get("language")
            code = f'<code class="language-{language}">' if language else "<code>"
            out.append(f"<pre>{code}{html.escape(text, quote=False)}</code></pre>")
            expected.append(("pre", text))
        elif kind == "blockquote":
            opening = '<blockquote class="expandable">' if part.get("collapsed") else "<blockquote>"
            out.append(f"{opening}{body}</blockquote>")
            expected.append(
                ("expandable_blockquote" if part.get("collapsed") else "blockquote", text)
            )
        else:
            out.append(body)
    return "".join(out), expected


# Media as the web preview shows it, keyed by the Desktop export's media_type.
_MEDIA_MARKUP = {
    "photo": '<a class="tgme_widget_message_photo_wrap" href="{href}" '
    "style=\"width:800px;background-image:url('https://cdn4.telesco.pe/file/x.jpg')\"></a>",
    "video_file": '<a class="tgme_widget_message_video_player" href="{href}">'
    '<video src="https://cdn4.telesco.pe/file/v.mp4" class="tgme_widget_message_video"></video>'
    '<time class="message_video_duration js-message_video_duration">0:12</time></a>',
    "sticker": '<div class="tgme_widget_message_sticker_wrap"><a href="{href}">'
    '<i class="tgme_widget_message_sticker" data-webp="https://cdn4.telesco.pe/file/s.webp">'
    "</i></a></div>",
    "audio_file": '<a class="tgme_widget_message_document_wrap" href="{href}">'
    '<div class="tgme_widget_message_document">'
    '<div class="tgme_widget_message_document_icon audio accent_bg"></div>'
    '<div class="tgme_widget_message_document_title">Track</div>'
    '<div class="tgme_widget_message_document_extra">Artist</div></div></a>',
    "file": '<div class="tgme_widget_message_document_wrap">'
    '<div class="tgme_widget_message_document">'
    '<div class="tgme_widget_message_document_icon accent_bg"></div>'
    '<div class="tgme_widget_message_document_title">file.pdf</div>'
    '<div class="tgme_widget_message_document_extra">1.2 MB</div></div></div>',
    "poll": '<div class="tgme_widget_message_poll js-poll">'
    '<div class="tgme_widget_message_poll_question">Q?</div>'
    '<div class="tgme_widget_message_poll_type">Anonymous poll</div></div>',
}
_MEDIA_KINDS = {
    "photo": "photo", "video_file": "video", "sticker": "sticker", "audio_file": "audio",
    "file": "document", "poll": "poll",
}  # fmt: skip


def _media_kind(message: dict[str, Any]) -> str | None:
    for key in ("photo", "poll"):
        if key in message:
            return key
    if message.get("media_type") in _MEDIA_MARKUP:
        return str(message["media_type"])
    return "file" if "file" in message else None


def _preview_page(
    channel: str, messages: list[dict[str, Any]]
) -> tuple[str, dict[int, dict[str, Any]]]:
    """The export's messages written as t.me/s markup, and what each should parse back to."""
    blocks: list[str] = []
    expect: dict[int, dict[str, Any]] = {}
    for message in messages:
        parts = message["text"] if isinstance(message["text"], list) else [message["text"]]
        body, entities = _render_parts(parts)
        date = datetime.fromtimestamp(int(message["date_unixtime"]), UTC)
        inner = ""
        if message.get("forwarded_from"):
            inner += (
                '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
                '<span class="tgme_widget_message_forwarded_from_name">'
                f"{_esc(message['forwarded_from'])}</span></div>"
            )
        kind = _media_kind(message)
        if kind:
            inner += _MEDIA_MARKUP[kind].format(href=f"https://t.me/{channel}/{message['id']}")
        if body:
            inner += text_div(body)
        reactions = [r for r in message.get("reactions", []) if r["type"] == "emoji"]
        if reactions:
            inner += (
                '<div class="tgme_widget_message_reactions js-message_reactions">'
                + "".join(
                    f'<span class="tgme_reaction"><i class="emoji"><b>{r["emoji"]}</b></i>'
                    f"{r['count']}</span>"
                    for r in reactions
                )
                + "</div>"
            )
        meta = ""
        if message.get("author"):
            meta += (
                '<span class="tgme_widget_message_from_author" dir="auto">'
                f"{_esc(message['author'])}</span>,&nbsp;"
            )
        if message.get("edited"):
            meta += "edited&nbsp;"
        cls = "service_message" if message["type"] == "service" else ""
        block = wrap(f"{channel}/{message['id']}", inner, date=date.isoformat(), cls=cls)
        blocks.append(
            block.replace(
                '<span class="tgme_widget_message_meta">',
                f'<span class="tgme_widget_message_meta">{meta}',
            )
        )
        expect[message["id"]] = {
            "service": message["type"] == "service",
            "text": "".join(p if isinstance(p, str) else p["text"] for p in parts).strip(),
            "entities": entities,
            "date": date,
            "edited": bool(message.get("edited")),
            "author": message.get("author"),
            "forwarded_from": message.get("forwarded_from"),
            "reactions": [Reaction(r["emoji"], r["count"]) for r in reactions],
            "media": [_MEDIA_KINDS[kind]] if kind else [],
        }
    return "<html><body>" + "\n".join(blocks) + "</body></html>", expect


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    ("name", "channel", "posts", "service"),
    [
        ("trantor_library-result.json", "trantor_library", 908, 16),
        ("uponthepathofsalaf-result.json", "uponthepathofsalaf", 208, 5),
        ("pachum-small-result.json", "pachum", 6, 0),
    ],
)
def test_real_exports_rendered_as_web_preview_read_back_the_same(
    exports_dir: Path, tmp_path: Path, name: str, channel: str, posts: int, service: int
) -> None:
    data = json.loads((exports_dir / "desktop" / name).read_text(encoding="utf-8"))
    page_html, expect = _preview_page(channel, data["messages"])
    path = tmp_path / "page.html"
    path.write_text(page_html, encoding="utf-8")
    events = events_of(path)
    check_well_formed(events)
    parsed = {e.message_id: e for e in events if isinstance(e, ParsedPost) and e.message_id}
    skipped = {e.message_id: e.reason for e in events if isinstance(e, Skipped)}
    assert sum(1 for e in expect.values() if e["service"]) == service
    assert [i for i, reason in skipped.items() if reason == "service"] == [
        i for i, e in expect.items() if e["service"]
    ]
    assert len(parsed) == posts
    mismatched_text = []
    for message_id, post in parsed.items():
        want = expect[message_id]
        # Blocks (quotes, code) may gain a line break of their own; nothing else may differ.
        if post.text != want["text"]:
            mismatched_text.append(message_id)
            assert _squash(post.text) == _squash(want["text"]), message_id
        got = spans(post)
        for kind, covered in want["entities"]:
            if covered.strip():
                assert any(k == kind and s.strip() == covered.strip() for k, s in got), (
                    message_id, kind, covered,
                )  # fmt: skip
        assert post.date == want["date"]
        assert (post.edited is not None) == want["edited"]
        assert post.author == want["author"]
        assert post.forwarded_from == want["forwarded_from"]
        assert post.reactions == want["reactions"]
        assert [m.kind for m in post.media] == want["media"]
    # Only posts whose quotes or code blocks sit right against other text differ at all.
    assert len(mismatched_text) <= len(parsed) // 20


# --- robustness -------------------------------------------------------------------------------

_SEED_PAGES = {
    "page": PAGE.read_bytes(),
    "oldest": OLDEST.read_bytes(),
}


def outcome(run: Callable[[], T]) -> tuple[T, None] | tuple[None, ParseError]:
    """What ``run`` returned, or the ParseError it raised (any other exception propagates)."""
    try:
        return run(), None
    except ParseError as exc:
        return None, exc


_INSERTS = [
    b"<",
    b">",
    b'"',
    b"</div>",
    b'<div class="tgme_widget_message">',
    b'data-post="x/y"',
    b"<br/>",
    b"&amp",
    b"\xd0",
    b"K",
    b"<blockquote>",
    b"<pre>",
    b"\xf0\x9f\x98\x80",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(_SEED_PAGES, _INSERTS))
def test_mutated_pages_give_events_or_parse_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("mutated") / "page.html"
    path.write_bytes(data)
    events, error = outcome(lambda: events_of(path))
    if error is not None:
        assert error.file == str(path)
        event("ParseError")
        return
    event("events")
    assert events is not None
    check_well_formed(events)


_TOKENS = [
    *"<>/=\"' abcdK1.&;#\n",
    '<div class="tgme_widget_message" data-post="chan/1">',
    '<div class="tgme_widget_message_text">',
    "data-post=", "chan/1", "<br/>", "<b>", "</b>", "</div>", '<span class="tgme_reaction">',
    '<span class="tgme_widget_message_views">', '<time datetime="2024-01-01T00:00:00+00:00">',
    '<a class="tme_messages_more" data-before="', '<a href="', "<pre>", "<blockquote>",
    '<tg-emoji emoji-id="5">', 'class="', '<div class="tgme_channel_info">', "service_message",
    '<div class="tgme_widget_message_grouped_wrap">', '<a class="grouped_media_wrap" href="',
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(text=st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_random_markup_in_memory_gives_events_or_parse_error(text: str) -> None:
    result, error = outcome(lambda: web_html.parse_page_html(text, "memory"))
    if error is not None:
        assert error.file == "memory"
        event("ParseError")
        return
    event("events")
    assert result is not None
    events, before = result
    check_well_formed(events)
    assert before is None or before >= 0
