"""The Telegram Desktop JSON export parser: real exports, every rule on small fixtures of our own,
streaming on a large synthetic file, and mutated inputs that must never escape as anything but
ParseError."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.ingest import desktop_json
from pipeline.ingest.model import (
    ChannelInfo,
    Event,
    MediaItem,
    Note,
    ParsedPost,
    ParseOptions,
    Reaction,
    Skipped,
)
from pipeline.ingest.textutil import utf16_len, utf16_slice

NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
BOT_API_ENTITIES = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "text_link",
    "url",
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "email",
    "phone_number",
    "blockquote",
    "expandable_blockquote",
    "custom_emoji",
    "text_mention",
}
MEDIA_KINDS = {
    "photo",
    "video",
    "animation",
    "audio",
    "voice",
    "video_note",
    "document",
    "sticker",
    "poll",
    "contact",
    "location",
    "venue",
    "game",
    "invoice",
    "unsupported",
}
BASE_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z


# --- helpers ---------------------------------------------------------------------------------


def message(message_id: int, text: Any = "hello", **fields: Any) -> dict[str, Any]:
    """A message as tdesktop writes it (local ``date`` deliberately 8 hours off UTC)."""
    stamp = BASE_TIME + message_id * 60
    local = datetime.fromtimestamp(stamp + 8 * 3600, UTC).replace(tzinfo=None)
    data: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "date": local.isoformat(),
        "date_unixtime": str(stamp),
        "from": "Test channel",
        "from_id": "channel123",
    }
    data.update(fields)
    if "text_entities" not in data:
        data["text"] = text
        if isinstance(text, str):
            data["text_entities"] = [{"type": "plain", "text": text}] if text else []
        else:
            data["text_entities"] = [
                {"type": "plain", "text": part} if isinstance(part, str) else part for part in text
            ]
    return data


def service(message_id: int, action: str = "pin_message") -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "service",
        "date": "2023-11-15T06:00:00",
        "date_unixtime": str(BASE_TIME + message_id * 60),
        "actor": "Test channel",
        "actor_id": "channel123",
        "action": action,
        "text": "",
        "text_entities": [],
    }


def chat(
    messages: list[dict[str, Any]],
    name: str | None = "Test channel",
    type: str = "public_channel",
    id: int = 123,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if name is not None:
        data["name"] = name
    data.update(type=type, id=id, messages=messages)
    return data


def write(path: Path, data: Any, *, sort_keys: bool = False, encoding: str = "utf-8") -> Path:
    """JSON laid out like tdesktop's (one-space indent, non-ASCII kept)."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=sort_keys)
    path.write_bytes(text.encode(encoding))
    return path


def events(path: Path, **options: Any) -> list[Event]:
    return list(desktop_json.parse(path, ParseOptions(**options)))


def unfolded(path: Path, **options: Any) -> list[Event]:
    return list(desktop_json.parse_messages(path, ParseOptions(**options)))


def posts(path: Path, **options: Any) -> dict[int | None, ParsedPost]:
    return {e.message_id: e for e in events(path, **options) if isinstance(e, ParsedPost)}


def one_post(tmp_path: Path, msg: dict[str, Any]) -> ParsedPost:
    found = [
        e
        for e in unfolded(write(tmp_path / "result.json", chat([msg])))
        if isinstance(e, ParsedPost)
    ]
    assert len(found) == 1
    return found[0]


def spans(post: ParsedPost) -> list[tuple[str, str]]:
    return [(e.type, utf16_slice(post.text, e.offset, e.length)) for e in post.entities]


def utc(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def parse_error(path: Path, **options: Any) -> ParseError:
    with pytest.raises(ParseError) as caught:
        events(path, **options)
    return caught.value


def check_well_formed(found: list[Event]) -> None:
    """What any successful parse must look like, whatever the input was."""
    for event in found:
        assert isinstance(event, ChannelInfo | ParsedPost | Skipped | Note)
        if isinstance(event, Skipped):
            assert type(event.message_id) is int
            assert event.reason in {"service", "unsupported", "empty"}
        if not isinstance(event, ParsedPost):
            continue
        assert type(event.message_id) is int
        assert event.date is not None
        offset = event.date.utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 0
        assert event.edited is None or event.edited.utcoffset() is not None
        assert event.text == event.text.strip()
        assert event.text or event.media
        limit = utf16_len(event.text)
        for entity in event.entities:
            assert entity.type in BOT_API_ENTITIES
            assert entity.offset >= 0
            assert entity.length > 0
            assert entity.offset + entity.length <= limit
            if entity.type == "text_link":
                assert isinstance(entity.url, str)
                assert entity.url
        for reaction in event.reactions:
            assert isinstance(reaction.key, str)
            assert reaction.key
            assert type(reaction.count) is int
            assert reaction.count > 0
        for item in event.media:
            assert item.kind in MEDIA_KINDS
            json.dumps(item.to_dict())
        for name in ("author", "forwarded_from"):
            assert getattr(event, name) is None or isinstance(getattr(event, name), str)
        assert event.reply_to is None or type(event.reply_to) is int


# --- real exports ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "title", "telegram_id", "posts_count", "messages_count", "skipped"),
    [
        (
            "trantor_library-result.json",
            "川陀大学图书馆",
            1878264527,
            701,
            908,
            {"service": 16},
        ),
        (
            "uponthepathofsalaf-result.json",
            "\u0639\u064e\u0644\u064e\u0649\u0670 \u0646\u064e\u0647\u062c\u0650 "
            "\u0627\u0644\u0633\u0651\u064e\u0644\u064e\u0641\u0650 || "
            "Upon the path of the Salaf 📚",
            3204528972,
            203,
            208,
            {"service": 5},
        ),
        ("pachum-small-result.json", "ГУЗЕЛЬСКИЕ ПЕРЕЗАЛИВЫ", 2447843635, 1, 6, {}),
    ],
)
def test_real_export_counts(
    exports_dir: Path,
    file: str,
    title: str,
    telegram_id: int,
    posts_count: int,
    messages_count: int,
    skipped: dict[str, int],
) -> None:
    path = exports_dir / "desktop" / file
    assert desktop_json.sniff(path, path.read_text(encoding="utf-8")[:65536])
    found = events(path)
    check_well_formed(found)
    assert found[0] == ChannelInfo(title=title, telegram_id=telegram_id)
    assert sum(isinstance(e, ChannelInfo) for e in found) == 1
    assert sum(isinstance(e, ParsedPost) for e in found) == posts_count
    assert Counter(e.reason for e in found if isinstance(e, Skipped)) == Counter(skipped)
    assert sum(isinstance(e, ParsedPost) for e in unfolded(path)) == messages_count


def test_trantor_samples(exports_dir: Path) -> None:
    path = exports_dir / "desktop" / "trantor_library-result.json"
    by_id = {e.message_id: e for e in unfolded(path) if isinstance(e, ParsedPost)}
    assert sum(1 for p in by_id.values() if p.reactions) == 319
    assert sum(1 for p in by_id.values() if p.author) == 513
    assert sum(1 for p in by_id.values() if p.edited) == 880
    # 84 replies, one of them to another chat (reply_to_peer_id), which names nothing here.
    assert sum(1 for p in by_id.values() if p.reply_to) == 83

    post = by_id[534]
    assert post.text.startswith("Telegram-FOSS： 非官方的、对 FOSS 友好的原始 Telegram Android")
    assert post.author == "goddaneel"
    assert post.reply_to is None
    # date_unixtime, not the exporter's local "2023-11-19T02:08:12".
    assert post.date == datetime(2023, 11, 18, 18, 8, 12, tzinfo=UTC)
    assert post.edited == datetime(2023, 12, 6, 6, 9, 11, tzinfo=UTC)
    assert spans(post)[:4] == [
        ("bold", "Telegram-FOSS： 非官方的、对 FOSS 友好的原始 Telegram Android 客户端分支\n"),
        ("text_link", "原始 Telegram 客户端"),
        (
            "blockquote",
            "警告：本版本完全基于自由开源分支，但初始上游资源库有时无法及时发布最新版本的源码。",
        ),
        ("blockquote", "笔者注：最新版本已完全支持“引用”功能。"),
    ]
    assert post.entities[1].url == "https://github.com/DrKLO/Telegram"

    pres = [e for e in by_id[542].entities if e.type == "pre"]
    assert [(utf16_slice(by_id[542].text, e.offset, e.length), e.language) for e in pres] == [
        ("setTimeout(function(){c();a.resolve(1)},5E3);\n", "js"),
        ("www.youtube.com##+js(nano-stb, resolve(1), *, 0.001)\n", "js"),
    ]
    assert [s for s in spans(by_id[64]) if s[0] == "email"] == [("email", "pingguchu@cac.gov.cn")]
    assert [s for s in spans(by_id[445]) if s[0] == "phone_number"] == [
        ("phone_number", "010-68205241")
    ]
    assert [s for s in spans(by_id[737]) if s[0] == "bot_command"] == [("bot_command", "/Rust")]

    assert by_id[546].media == [
        MediaItem(
            "sticker",
            file="stickers/sticker.webp",
            file_name="sticker.webp",
            mime_type="image/webp",
            size=16886,
            width=512,
            height=512,
            extra={"emoji": "❤"},
        )
    ]
    assert by_id[546].reactions == [Reaction("👍", 12), Reaction("👎", 1)]
    audio = by_id[626].media[0]
    assert (audio.kind, audio.file, audio.duration, audio.size) == (
        "audio",
        "files/Merry Christmas Mr. Lawrence - 坂本龍一.mp3",
        288,
        12094975,
    )
    assert audio.extra == {"performer": "坂本龍一", "title": "Merry Christmas Mr. Lawrence"}
    poll = by_id[1010].media[0]
    assert poll.kind == "poll"
    assert poll.extra["question"] == "请问你是否在频道内看到过广告？"
    assert poll.extra["total_voters"] == 109
    assert [(a["text"], a["voters"]) for a in poll.extra["answers"]] == [
        ("有", 40),
        ("没有", 38),
        ("我不确定那是不是广告", 11),
        ("查看结果", 20),
    ]
    top = by_id[1047]
    assert top.text.startswith("关于无限期“闭馆”的公告")
    assert top.reactions[:3] == [Reaction("😭", 110), Reaction("🫡", 31), Reaction("❤", 17)]

    albums = [p for p in events(path) if isinstance(p, ParsedPost) and p.album_ids]
    assert len(albums) == 106
    assert albums[0].album_ids == [11, 12, 13]


def test_uponthepathofsalaf_samples(exports_dir: Path) -> None:
    path = exports_dir / "desktop" / "uponthepathofsalaf-result.json"
    by_id = {e.message_id: e for e in unfolded(path) if isinstance(e, ParsedPost)}
    forwarded = [p for p in by_id.values() if p.forwarded_from]
    assert len(forwarded) == 27
    assert Counter(p.forwarded_from for p in forwarded)["Gems from the Salaf"] == 4
    assert forwarded[0].message_id == 60
    kinds = Counter(item.kind for p in by_id.values() for item in p.media)
    assert kinds == Counter(sticker=37, photo=16, document=9, audio=6, video=5)
    assert [(p.message_id, p.author) for p in by_id.values() if p.author] == [(78, "أم مصعب")]

    emoji = by_id[4]
    assert emoji.text == "☪☪☪☪☪️"
    assert [(e.type, e.offset, e.length, e.custom_emoji_id) for e in emoji.entities] == [
        ("custom_emoji", 0, 1, "stickers/sticker.webp"),
        ("custom_emoji", 1, 1, "stickers/sticker (1).webp"),
        ("custom_emoji", 2, 1, "stickers/sticker (2).webp"),
        ("custom_emoji", 3, 1, "stickers/sticker (3).webp"),
        ("custom_emoji", 4, 2, "stickers/sticker (4).webp"),
    ]
    quotes = Counter(e.type for p in by_id.values() for e in p.entities if "quote" in e.type)
    assert quotes == Counter(blockquote=126, expandable_blockquote=2)
    assert [s for s in spans(by_id[99]) if s[0] == "expandable_blockquote"] == [
        (
            "expandable_blockquote",
            "- Written by Sheikh Faiṣal al-Ḥāshidī وفقه الله\nTr: Umm Tamīm aṣ-Ṣūmāliyyah",
        )
    ]


def test_pachum_album(exports_dir: Path) -> None:
    path = exports_dir / "desktop" / "pachum-small-result.json"
    (post,) = [e for e in events(path) if isinstance(e, ParsedPost)]
    assert post.album_ids == [3858, 3859, 3860, 3861, 3862, 3863]
    assert post.text.startswith("Очень странные дела (S1 E1-5)")
    assert post.date == datetime(2026, 6, 19, 11, 26, 50, tzinfo=UTC)
    assert post.edited == datetime(2026, 6, 19, 11, 26, 54, tzinfo=UTC)
    assert post.reactions == [Reaction("🔥", 12)]
    assert post.media[0] == MediaItem(
        "photo", size=178051, width=896, height=1200, extra={"not_included": True}
    )
    assert [(m.kind, m.file, m.file_name, m.duration) for m in post.media[1:]] == [
        ("video", None, "1.mp4", 2956),
        ("video", None, "2.mp4", 3540),
        ("video", None, "3.mp4", 3067),
        ("video", None, "4.mp4", 2990),
        ("video", None, "5.mp4", 3472),
    ]
    assert [(e.type, utf16_slice(post.text, e.offset, e.length), e.url) for e in post.entities][
        :2
    ] == [("custom_emoji", "📹", None), ("text_link", "ТВИЧ", "https://www.twitch.tv/guz3lka")]
    assert spans(post)[-2:] == [("hashtag", "#КиноСтрим"), ("hashtag", "#ОСД")]


# --- text and entities -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ({"type": "bold", "text": "X"}, ("bold", {})),
        ({"type": "italic", "text": "X"}, ("italic", {})),
        ({"type": "underline", "text": "X"}, ("underline", {})),
        ({"type": "strikethrough", "text": "X"}, ("strikethrough", {})),
        ({"type": "spoiler", "text": "X"}, ("spoiler", {})),
        ({"type": "code", "text": "x = 1"}, ("code", {})),
        (
            {"type": "pre", "text": "print(1)", "language": "python"},
            ("pre", {"language": "python"}),
        ),
        ({"type": "pre", "text": "print(1)", "language": ""}, ("pre", {})),
        (
            {"type": "text_link", "text": "site", "href": "https://example.com/"},
            ("text_link", {"url": "https://example.com/"}),
        ),
        ({"type": "link", "text": "https://example.com"}, ("url", {})),
        ({"type": "mention", "text": "@durov"}, ("mention", {})),
        (
            {"type": "mention_name", "text": "Pavel", "user_id": 42},
            ("text_mention", {"user_id": 42}),
        ),
        (
            {"type": "mention_name", "text": "Pavel", "user_id": "42"},
            ("text_mention", {"user_id": 42}),
        ),
        ({"type": "hashtag", "text": "#news"}, ("hashtag", {})),
        ({"type": "cashtag", "text": "$USD"}, ("cashtag", {})),
        ({"type": "bot_command", "text": "/start"}, ("bot_command", {})),
        ({"type": "email", "text": "a@b.org"}, ("email", {})),
        ({"type": "phone", "text": "+1 555 0100"}, ("phone_number", {})),
        ({"type": "blockquote", "text": "quoted", "collapsed": False}, ("blockquote", {})),
        ({"type": "blockquote", "text": "quoted"}, ("blockquote", {})),
        (
            {"type": "blockquote", "text": "quoted", "collapsed": True},
            ("expandable_blockquote", {}),
        ),
        (
            {"type": "custom_emoji", "text": "🔥", "document_id": "5368324170671202286"},
            ("custom_emoji", {"custom_emoji_id": "5368324170671202286"}),
        ),
        (
            {"type": "custom_emoji", "text": "🔥", "document_id": "stickers/sticker.webp"},
            ("custom_emoji", {"custom_emoji_id": "stickers/sticker.webp"}),
        ),
        # Kept as text, no entity: not Bot API types, or missing what the type needs.
        ({"type": "bank_card", "text": "4242 4242"}, None),
        ({"type": "unknown", "text": "X"}, None),
        ({"type": "something_new", "text": "X"}, None),
        ({"type": "plain", "text": "X"}, None),
        ({"text": "X"}, None),
        ({"type": ["bold"], "text": "X"}, None),
        ({"type": "text_link", "text": "site"}, None),
        ({"type": "mention_name", "text": "Pavel"}, None),
        ({"type": "custom_emoji", "text": "🔥"}, None),
    ],
)
def test_entity_mapping(
    tmp_path: Path, part: dict[str, Any], expected: tuple[str, dict[str, Any]] | None
) -> None:
    post = one_post(tmp_path, message(1, ["Before 🙂 ", part, " after"]))
    assert post.text == f"Before 🙂 {part['text']} after"
    if expected is None:
        assert post.entities == []
        return
    kind, attrs = expected
    (entity,) = post.entities
    assert entity.type == kind
    assert utf16_slice(post.text, entity.offset, entity.length) == part["text"]
    assert entity.offset == utf16_len("Before 🙂 ")
    present = {
        name: getattr(entity, name)
        for name in ("url", "language", "custom_emoji_id", "user_id")
        if getattr(entity, name) is not None
    }
    assert present == attrs


def test_text_entities_preferred_over_text(tmp_path: Path) -> None:
    msg = message(
        1,
        text_entities=[{"type": "bold", "text": "from entities"}],
        text="from text",
    )
    post = one_post(tmp_path, msg)
    assert spans(post) == [("bold", "from entities")]


@pytest.mark.parametrize(
    ("text", "expected_text", "expected_spans"),
    [
        ("  plain string  \n", "plain string", []),
        (["a ", {"type": "italic", "text": "b"}, " c"], "a b c", [("italic", "b")]),
        ([{"type": "bold", "text": "  lead"}, " tail  "], "lead tail", [("bold", "lead")]),
        ([], None, []),
    ],
)
def test_text_without_text_entities(
    tmp_path: Path, text: Any, expected_text: str | None, expected_spans: list[tuple[str, str]]
) -> None:
    # Older exports have only "text": a string or a list of strings and parts.
    msg = message(1, text_entities=None, photo="photos/p.jpg")
    del msg["text_entities"]
    msg["text"] = text
    post = one_post(tmp_path, msg)
    assert post.text == (expected_text or "")
    assert spans(post) == expected_spans


def test_entities_shift_with_stripped_whitespace(tmp_path: Path) -> None:
    post = one_post(
        tmp_path,
        message(
            1,
            [
                "\n\n  ",
                {"type": "bold", "text": "Заголовок"},
                "\n𝔘𝔫𝔦",
                {"type": "code", "text": "x"},
            ],
        ),
    )
    assert post.text == "Заголовок\n𝔘𝔫𝔦x"
    assert spans(post) == [("bold", "Заголовок"), ("code", "x")]
    assert post.entities[1].offset == utf16_len("Заголовок\n𝔘𝔫𝔦")


# --- other message fields --------------------------------------------------------------------


def test_message_fields(tmp_path: Path) -> None:
    msg = message(
        7,
        "body",
        edited="2023-11-15T06:20:00",
        edited_unixtime=str(BASE_TIME + 1000),
        author="Signed Editor",
        forwarded_from="Source channel",
        forwarded_from_id="channel777",
        reply_to_message_id=3,
        views=1500,
    )
    post = one_post(tmp_path, msg)
    assert post.message_id == 7
    assert post.date == utc(BASE_TIME + 7 * 60)
    assert post.edited == utc(BASE_TIME + 1000)
    assert (post.author, post.forwarded_from, post.reply_to, post.views) == (
        "Signed Editor",
        "Source channel",
        3,
        1500,
    )


@pytest.mark.parametrize(
    ("fields", "author", "reply_to", "forwarded_from"),
    [
        ({}, None, None, None),  # the channel itself is not an author
        ({"from": "Alice", "from_id": "user1"}, "Alice", None, None),  # someone else is
        ({"from": None, "from_id": "user1"}, None, None, None),  # deleted account
        ({"from": "Alice", "author": "Sig"}, "Sig", None, None),
        ({"reply_to_message_id": 5, "reply_to_peer_id": "channel9"}, None, None, None),
        ({"reply_to_message_id": "5"}, None, None, None),
        ({"forwarded_from": None, "forwarded_from_id": "user5"}, None, None, None),
    ],
)
def test_author_reply_forward_rules(
    tmp_path: Path,
    fields: dict[str, Any],
    author: str | None,
    reply_to: int | None,
    forwarded_from: str | None,
) -> None:
    post = one_post(tmp_path, message(1, "x", **fields))
    assert (post.author, post.reply_to, post.forwarded_from) == (author, reply_to, forwarded_from)


@pytest.mark.parametrize(
    ("chat_type", "sender", "sender_id", "fields", "author", "author_id"),
    [
        # In a conversation every sender is an author, whatever the chat is called: a
        # personal chat bears the other person's name.
        ("personal_chat", "Alice", "user4444", {}, "Alice", "user4444"),
        ("personal_chat", "Me", "user99", {}, "Me", "user99"),
        ("bot_chat", "Alice", "user4444", {}, "Alice", "user4444"),
        ("private_group", "Alice", "user5", {}, "Alice", "user5"),
        ("public_supergroup", "Alice", "channel123", {}, "Alice", "channel123"),
        ("saved_messages", "Me", "user99", {}, "Me", "user99"),
        ("private_supergroup", "Alice", "user5", {"author": "Admin"}, "Admin", None),
        # A channel's own posts have no author but their signature.
        ("public_channel", "Alice", "channel123", {}, None, None),
        ("private_channel", "Alice", "channel123", {}, None, None),
        ("public_channel", "Alice", "channel123", {"author": "Ed"}, "Ed", None),
        ("public_channel", "Bob", "user7", {}, "Bob", "user7"),
        # An export without the chat's type or the sender's id: only the name can tell.
        (None, "Alice", None, {}, None, None),
        (None, "Bob", None, {}, "Bob", None),
    ],
)
def test_senders_are_authors_unless_the_chat_itself(
    tmp_path: Path,
    chat_type: str | None,
    sender: str,
    sender_id: str | None,
    fields: dict[str, Any],
    author: str | None,
    author_id: str | None,
) -> None:
    msg = message(1, "x", **{"from": sender, "from_id": sender_id}, **fields)
    if sender_id is None:
        del msg["from_id"]
    data = chat([msg], name="Alice", type=chat_type or "public_channel", id=123)
    if chat_type is None:
        del data["type"]
    (post,) = [
        e for e in events(write(tmp_path / "result.json", data)) if isinstance(e, ParsedPost)
    ]
    assert (post.author, post.author_id) == (author, author_id)


def test_reactions(tmp_path: Path) -> None:
    msg = message(
        1,
        "x",
        reactions=[
            {"type": "emoji", "count": 12, "emoji": "👍"},
            {"type": "custom_emoji", "count": 3, "document_id": "5368324170671202286"},
            {"type": "paid", "count": 40},
            {"type": "empty", "count": 2},
            {"type": "emoji", "count": 0, "emoji": "🔥"},
            {"emoji": "❤", "count": 1},  # exports before typed reactions
            {
                "type": "emoji",
                "count": 2,
                "emoji": "😁",
                "recent": [{"from": "A", "from_id": "user1", "date": "2024-01-01T00:00:00"}],
            },
        ],
    )
    assert one_post(tmp_path, msg).reactions == [
        Reaction("👍", 12),
        Reaction("custom:5368324170671202286", 3),
        Reaction("paid", 40),
        Reaction("❤", 1),
        Reaction("😁", 2),
    ]


def test_old_export_dates_read_in_the_given_zone(tmp_path: Path) -> None:
    first = message(1, "a", date="2019-05-01T12:00:00", edited="2019-05-01T12:30:00")
    second = message(2, "b", date="2019-05-01T13:00:00")
    for msg in (first, second):
        del msg["date_unixtime"]
    path = write(tmp_path / "result.json", chat([first, second]))
    found = events(path, timezone="Europe/Moscow")
    notes = [e for e in found if isinstance(e, Note)]
    assert len(notes) == 1
    assert "Europe/Moscow" in notes[0].message
    assert isinstance(found[1], Note)  # before the first post it concerns
    by_id = {e.message_id: e for e in found if isinstance(e, ParsedPost)}
    assert by_id[1].date == datetime(2019, 5, 1, 9, 0, tzinfo=UTC)
    assert by_id[1].edited == datetime(2019, 5, 1, 9, 30, tzinfo=UTC)
    assert by_id[2].date == datetime(2019, 5, 1, 10, 0, tzinfo=UTC)
    error = parse_error(path, timezone="Mars/Olympus")
    assert "unknown time zone" in error.reason


def test_unixtime_wins_over_local_date(tmp_path: Path) -> None:
    post = one_post(tmp_path, message(1, "x", date="1999-01-01T00:00:00"))
    assert post.date == utc(BASE_TIME + 60)


# --- media -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "photo": "photos/photo_1@14-11-2023_22-13-20.jpg",
                "photo_file_size": 1000,
                "width": 800,
                "height": 600,
            },
            MediaItem(
                "photo",
                file="photos/photo_1@14-11-2023_22-13-20.jpg",
                size=1000,
                width=800,
                height=600,
            ),
        ),
        (
            {
                "photo": NOT_INCLUDED,
                "photo_file_size": 1000,
                "width": 800,
                "height": 600,
                "media_spoiler": True,
            },
            MediaItem(
                "photo",
                size=1000,
                width=800,
                height=600,
                extra={"not_included": True, "spoiler": True},
            ),
        ),
        (
            {"photo": "(File unavailable, please try again later)"},
            MediaItem("photo", extra={"not_included": True}),
        ),
        (
            {
                "file": "video_files/v.mp4",
                "file_name": "v.mp4",
                "file_size": 5000,
                "thumbnail": "video_files/v.mp4_thumb.jpg",
                "media_type": "video_file",
                "mime_type": "video/mp4",
                "duration_seconds": 61,
                "width": 1280,
                "height": 720,
            },
            MediaItem(
                "video",
                file="video_files/v.mp4",
                file_name="v.mp4",
                mime_type="video/mp4",
                size=5000,
                width=1280,
                height=720,
                duration=61,
            ),
        ),
        (
            {
                "file": NOT_INCLUDED,
                "media_type": "animation",
                "mime_type": "video/mp4",
                "width": 320,
                "height": 240,
            },
            MediaItem(
                "animation",
                mime_type="video/mp4",
                width=320,
                height=240,
                extra={"not_included": True},
            ),
        ),
        (
            {
                "file": "voice_messages/a.ogg",
                "media_type": "voice_message",
                "mime_type": "audio/ogg",
                "duration_seconds": 4,
            },
            MediaItem("voice", file="voice_messages/a.ogg", mime_type="audio/ogg", duration=4),
        ),
        (
            {
                "file": "round_video_messages/r.mp4",
                "media_type": "video_message",
                "duration_seconds": 9,
                "width": 384,
                "height": 384,
            },
            MediaItem(
                "video_note", file="round_video_messages/r.mp4", width=384, height=384, duration=9
            ),
        ),
        (
            {
                "file": "files/s.mp3",
                "media_type": "audio_file",
                "performer": "Band",
                "title": "Song",
                "duration_seconds": 200,
            },
            MediaItem(
                "audio",
                file="files/s.mp3",
                duration=200,
                extra={"performer": "Band", "title": "Song"},
            ),
        ),
        (
            {
                "file": "stickers/s.webp",
                "media_type": "sticker",
                "sticker_emoji": "😀",
                "width": 512,
                "height": 512,
            },
            MediaItem(
                "sticker", file="stickers/s.webp", width=512, height=512, extra={"emoji": "😀"}
            ),
        ),
        (
            {
                "file": "files/report.pdf",
                "file_name": "report.pdf",
                "file_size": 999,
                "mime_type": "application/pdf",
            },
            MediaItem(
                "document",
                file="files/report.pdf",
                file_name="report.pdf",
                mime_type="application/pdf",
                size=999,
            ),
        ),
        (
            {
                "poll": {
                    "question": [{"type": "bold", "text": "Best"}, " option?"],
                    "closed": True,
                    "total_voters": 3,
                    "answers": [
                        {"text": "A", "voters": 2, "chosen": True},
                        {"text": ["B"], "voters": 1, "chosen": False},
                    ],
                }
            },
            MediaItem(
                "poll",
                extra={
                    "question": "Best option?",
                    "closed": True,
                    "total_voters": 3,
                    "answers": [
                        {"text": "A", "voters": 2, "chosen": True},
                        {"text": "B", "voters": 1, "chosen": False},
                    ],
                },
            ),
        ),
        (
            {
                "contact_information": {
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "phone_number": "+1 555 0100",
                },
                "contact_vcard": "contacts/contact_1.vcard",
            },
            MediaItem(
                "contact",
                file="contacts/contact_1.vcard",
                extra={"name": "Ann Lee", "phone": "+1 555 0100"},
            ),
        ),
        (
            {"location_information": {"latitude": 55.75, "longitude": 37.62}},
            MediaItem("location", extra={"latitude": 55.75, "longitude": 37.62}),
        ),
        (
            {
                "location_information": {"latitude": 1.5, "longitude": 2},
                "live_location_period_seconds": 900,
            },
            MediaItem(
                "location",
                extra={"latitude": 1.5, "longitude": 2.0, "live": True, "live_period": 900},
            ),
        ),
        ({"location_information": None}, MediaItem("location")),
        (
            {
                "place_name": "Cafe",
                "address": "Main st 1",
                "location_information": {"latitude": 1.0, "longitude": 2.0},
            },
            MediaItem(
                "venue",
                extra={"title": "Cafe", "address": "Main st 1", "latitude": 1.0, "longitude": 2.0},
            ),
        ),
        (
            {
                "game_title": "Lumberjack",
                "game_description": "Chop",
                "game_link": "https://t.me/gamebot?game=lumber",
            },
            MediaItem(
                "game",
                extra={
                    "title": "Lumberjack",
                    "description": "Chop",
                    "url": "https://t.me/gamebot?game=lumber",
                },
            ),
        ),
        (
            # tdesktop writes the invoice object a second time as a string.
            {
                "invoice_information": '{"title": "Pro", "description": "1 month", "amount": 500, '
                '"currency": "USD"}'
            },
            MediaItem(
                "invoice",
                extra={"title": "Pro", "description": "1 month", "amount": 500, "currency": "USD"},
            ),
        ),
        (
            {
                "todo_list": {
                    "title": "Plan",
                    "answers": [
                        {"text": "one", "id": 1},
                        {"text": [{"type": "bold", "text": "two"}], "id": 2},
                    ],
                }
            },
            MediaItem(
                "unsupported", extra={"type": "todo_list", "title": "Plan", "items": ["one", "two"]}
            ),
        ),
        (
            {"giveaway_information": {"quantity": 3, "months": 1}},
            MediaItem(
                "unsupported", extra={"type": "giveaway", "details": {"quantity": 3, "months": 1}}
            ),
        ),
        (
            {"paid_stars_amount": 50},
            MediaItem("unsupported", extra={"type": "paid_media", "details": 50}),
        ),
    ],
)
def test_media(tmp_path: Path, fields: dict[str, Any], expected: MediaItem) -> None:
    post = one_post(tmp_path, message(1, "", **fields))
    assert post.media == [expected]


# --- skipped messages and albums -------------------------------------------------------------


def test_skipped_messages(tmp_path: Path) -> None:
    msgs = [
        service(1, "create_channel"),
        message(2, "post"),
        {"id": 3, "type": "unsupported"},
        message(4, "   "),
        message(5, ""),
        service(6),
    ]
    found = events(write(tmp_path / "result.json", chat(msgs)))
    assert found == [
        ChannelInfo(title="Test channel", telegram_id=123),
        Skipped(1, "service"),
        found[2],
        Skipped(3, "unsupported"),
        Skipped(4, "empty"),
        Skipped(5, "empty"),
        Skipped(6, "service"),
    ]
    assert isinstance(found[2], ParsedPost)
    assert found[2].text == "post"


def test_albums_are_folded(tmp_path: Path) -> None:
    same_second = {"date_unixtime": str(BASE_TIME), "author": "Ed"}
    msgs = [
        message(1, "caption", photo="photos/1.jpg", **same_second),
        message(
            2,
            "",
            photo="photos/2.jpg",
            reactions=[{"type": "emoji", "count": 2, "emoji": "👍"}],
            **same_second,
        ),
        message(3, "", file="files/3.pdf", **same_second),
        message(4, "", photo="photos/4.jpg", date_unixtime=str(BASE_TIME + 1), author="Ed"),
        message(5, "text only", date_unixtime=str(BASE_TIME + 1), author="Ed"),
    ]
    found = [
        e for e in events(write(tmp_path / "result.json", chat(msgs))) if isinstance(e, ParsedPost)
    ]
    assert [(p.message_id, p.album_ids, len(p.media)) for p in found] == [
        (1, [1, 2, 3], 3),
        (4, [], 1),
        (5, [], 0),
    ]
    assert found[0].text == "caption"
    assert found[0].reactions == [Reaction("👍", 2)]


# --- full-account exports --------------------------------------------------------------------


def full_export() -> dict[str, Any]:
    news = [
        message(1, "first news", photo="photos/a.jpg", **{"from": "News channel"}),
        message(2, ["second ", {"type": "bold", "text": "news"}], **{"from": "News channel"}),
        service(3),
    ]
    group = [
        message(10, "hi", **{"from": "Alice", "from_id": "user1"}),
        message(11, "hey", **{"from": "Bob", "from_id": "user2"}),
    ]
    return {
        "about": "Here is the data you requested. Remember: Telegram is ad free.",
        "personal_information": {
            "user_id": 99,
            "first_name": "Me",
            "last_name": "",
            "phone_number": "+1 555 0199",
            "bio": "x",
        },
        "contacts": {
            "about": "contacts",
            "list": [{"first_name": "A", "last_name": "", "phone_number": "1", "date": "x"}],
        },
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                chat(news, "News channel", "public_channel", 1111),
                chat(group, "Friends", "private_supergroup", 2222),
                chat([message(20, "note", **{"from": "Me"})], None, "saved_messages", 3333),
                chat([], "Nobody", "personal_chat", 4444),
            ],
        },
        "left_chats": {
            "about": "Chats you have left.",
            "list": [
                chat(
                    [message(30, "old", **{"from": "Old channel"})], "Old", "private_channel", 5555
                )
            ],
        },
    }


def summary(found: list[Event]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for event in found:
        if isinstance(event, ChannelInfo):
            rows.append(("chat", event.title, event.telegram_id))
        elif isinstance(event, ParsedPost):
            rows.append(("post", event.message_id, event.text, event.author))
        elif isinstance(event, Skipped):
            rows.append(("skip", event.message_id, event.reason))
    return rows


FULL_SUMMARY = [
    ("chat", "News channel", 1111),
    ("post", 1, "first news", None),
    ("post", 2, "second news", None),
    ("skip", 3, "service"),
    ("chat", "Friends", 2222),
    ("post", 10, "hi", "Alice"),
    ("post", 11, "hey", "Bob"),
    ("chat", "Saved Messages", 3333),
    ("post", 20, "note", "Me"),  # the sender, as in any chat where it is not the chat itself
    ("chat", "Old", 5555),
    ("post", 30, "old", "Old channel"),
]


@pytest.mark.parametrize("sort_keys", [False, True])
def test_full_export_every_chat(tmp_path: Path, sort_keys: bool) -> None:
    # sort_keys is what `jq -S` does: every chat's name and type then follow its messages.
    path = write(tmp_path / "result.json", full_export(), sort_keys=sort_keys)
    assert desktop_json.sniff(path, path.read_text(encoding="utf-8"))
    found = events(path)
    check_well_formed(found)
    assert summary(found) == FULL_SUMMARY
    news = next(e for e in found if isinstance(e, ParsedPost) and e.message_id == 2)
    assert spans(news) == [("bold", "news")]


@pytest.mark.parametrize("sort_keys", [False, True])
def test_full_export_message_ids_repeat_per_chat(tmp_path: Path, sort_keys: bool) -> None:
    # Ids are numbered per chat: message 1 of two chats is two messages; within one chat an
    # exact repeat is read once and the note names that chat.
    data = full_export()
    data["chats"]["list"][1]["messages"] = [message(1, "hi"), message(1, "hi"), message(2, "yo")]
    found = events(write(tmp_path / "result.json", data, sort_keys=sort_keys))
    rows = summary(found)
    assert rows[: rows.index(("chat", "Saved Messages", 3333))] == [
        *FULL_SUMMARY[:4],
        ("chat", "Friends", 2222),
        ("post", 1, "hi", "Test channel"),
        ("post", 2, "yo", "Test channel"),
    ]
    notes = [e.message for e in found if isinstance(e, Note)]
    assert notes == [
        "chat 'Friends': 1 message listed twice, identically (id 1); each was read once"
    ]
    data["chats"]["list"][1]["messages"][1] = message(1, "hi!")
    error = parse_error(write(tmp_path / "result.json", data, sort_keys=sort_keys))
    assert (error.place, error.reason) == (
        "chat 'Friends', message 1",
        "listed twice with different content (keep one copy and import again)",
    )


@pytest.mark.parametrize(
    ("channel", "expected_title"),
    [
        ("News channel", "News channel"),
        ("  news CHANNEL ", "News channel"),
        ("2222", "Friends"),
        ("-1001111", "News channel"),
        ("-2222", "Friends"),
        ("@friends", "Friends"),
        ("https://t.me/friends", "Friends"),
        ("Saved Messages", "Saved Messages"),
        ("old", "Old"),
    ],
)
def test_full_export_channel_option(tmp_path: Path, channel: str, expected_title: str) -> None:
    path = write(tmp_path / "result.json", full_export())
    found = summary(events(path, channel=channel))
    expected = []
    taking = False
    for row in FULL_SUMMARY:
        if row[0] == "chat":
            taking = row[1] == expected_title
        if taking:
            expected.append(row)
    assert found == expected


def test_full_export_unknown_channel_lists_the_chats(tmp_path: Path) -> None:
    path = write(tmp_path / "result.json", full_export())
    error = parse_error(path, channel="Nope")
    assert error.place is None
    assert "no chat 'Nope'" in error.reason
    for described in (
        "News channel (id 1111, public_channel)",
        "Friends (id 2222, private_supergroup)",
        "Saved Messages (id 3333, saved_messages)",
        "Nobody (id 4444, personal_chat)",
        "Old (id 5555, private_channel)",
    ):
        assert described in error.reason


def test_full_export_ambiguous_channel(tmp_path: Path) -> None:
    data = full_export()
    twin = chat(
        [message(40, "x", **{"from": "News channel"})], "News channel", "public_channel", 6666
    )
    data["chats"]["list"].append(twin)
    path = write(tmp_path / "result.json", data)
    error = parse_error(path, channel="news channel")
    assert "several chats" in error.reason
    assert "6666" in error.reason
    assert summary(events(path, channel="6666")) == [
        ("chat", "News channel", 6666),
        ("post", 40, "x", None),
    ]


def test_single_chat_ignores_channel_option(tmp_path: Path) -> None:
    # --channel names unnamed text copies; a one-chat export names itself.
    path = write(tmp_path / "result.json", chat([message(1, "x")]))
    assert summary(events(path, channel="Something else"))[0] == ("chat", "Test channel", 123)


def test_single_chat_with_keys_after_messages(tmp_path: Path) -> None:
    msgs = [message(1, "a"), service(2), message(3, "b")]
    plain = events(write(tmp_path / "a.json", chat(msgs)))
    reordered = events(write(tmp_path / "b.json", chat(msgs), sort_keys=True))
    assert reordered == plain
    assert reordered[0] == ChannelInfo(title="Test channel", telegram_id=123)


def test_single_chat_without_a_name(tmp_path: Path) -> None:
    path = write(tmp_path / "result.json", {"messages": [message(1, "x")]})
    assert summary(events(path)) == [("chat", None, None), ("post", 1, "x", "Test channel")]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_other_encodings(tmp_path: Path, encoding: str) -> None:
    data = chat([message(1, ["Привет, ", {"type": "bold", "text": "мир 🌍"}])])
    expected = events(write(tmp_path / "utf8.json", data))
    assert events(write(tmp_path / "other.json", data, encoding=encoding)) == expected


# --- errors ----------------------------------------------------------------------------------


def valid_bytes() -> bytes:
    data = chat(
        [
            message(1, ["Текст ", {"type": "bold", "text": "поста"}]),
            service(2),
            message(3, "третий", photo=NOT_INCLUDED),
        ]
    )
    return json.dumps(data, ensure_ascii=False, indent=1).encode()


@pytest.mark.parametrize(
    ("content", "place", "reason"),
    [
        (b"", None, "empty file"),
        (b"  \n", None, "empty file"),
        (b"\x00\x01\x02\x03binary", None, "binary file"),
        (b"[1, 2]", "byte 0", "not a JSON object"),
        (b'{"name": "x", "type": "t", "id": 1, "messages": {}}', None, '"messages" is not a list'),
        (b'{"about": "x"}', None, "not a Telegram chat export"),
        (b'{"chats": {"list": [1]}}', None, "is not an object"),
        (b'{"chats": {"list": {}}}', None, "is not a list"),
        (b'{"chats": []}', None, '"chats" is not an object'),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [1]}',
            "message #1",
            "not a JSON object",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"type": "message"}]}',
            "message #1",
            "numeric id",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message"}]}',
            "message 5",
            "without a date",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message", '
            b'"date_unixtime": "soon"}]}',
            "message 5",
            "invalid date_unixtime",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message", '
            b'"date_unixtime": "99999999999999999999"}]}',
            "message 5",
            "invalid date_unixtime",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message", '
            b'"date_unixtime": "1", "text_entities": 5}]}',
            "message 5",
            "neither a string",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message", '
            b'"date_unixtime": "1", "text": "x", "reactions": [{"count": "many"}]}]}',
            "message 5",
            "reaction count",
        ),
        (
            b'{"name": "x", "type": "t", "id": 1, "messages": [{"id": 5, "type": "message", '
            b'"date_unixtime": "1", "poll": "yes"}]}',
            "message 5",
            "poll is not an object",
        ),
    ],
)
def test_bad_input(tmp_path: Path, content: bytes, place: str | None, reason: str) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(content)
    error = parse_error(path)
    assert error.file == str(path)
    assert error.place == place
    assert reason in error.reason


def test_error_in_a_full_export_names_the_chat(tmp_path: Path) -> None:
    data = full_export()
    data["chats"]["list"][1]["messages"][1]["date_unixtime"] = "later"
    error = parse_error(write(tmp_path / "result.json", data))
    assert error.place == "chat 'Friends', message 11"


def test_syntax_error_names_its_byte(tmp_path: Path) -> None:
    # Far past the first 64 KiB chunk, so the position is not the chunk's.
    msgs = [message(i, "x" * 200) for i in range(1, 600)]
    content = json.dumps(chat(msgs), indent=1).encode()
    broken = content.replace(b'"id": 500,', b'"id": 500', 1)
    assert len(broken) > 100_000
    path = tmp_path / "result.json"
    path.write_bytes(broken)
    error = parse_error(path)
    after = broken.index(b'"id": 500') + len(b'"id": 500')
    # The parser gives up on the token where a comma should have been: the "type" key.
    next_key = broken.index(b'"type"', after)
    assert error.place in {f"byte {at}" for at in range(next_key, next_key + len('"type"'))}
    assert "invalid JSON" in error.reason


def test_truncated_file(tmp_path: Path) -> None:
    content = valid_bytes()
    path = tmp_path / "result.json"
    path.write_bytes(content[:-40])
    error = parse_error(path)
    assert error.place == f"byte {len(content) - 40}"
    assert "truncated" in error.reason


RUSSIAN = "Длинный русский текст поста, в котором почти все буквы кириллические. " * 8


def test_invalid_utf8_inside_a_russian_export(tmp_path: Path) -> None:
    # UTF-8 Cyrillic read as cp1251 is still Cyrillic: a corrupt byte must not make the whole
    # file "cp1251" and import as mojibake.
    content = json.dumps(
        chat([message(1, RUSSIAN), message(2, "ещё " + RUSSIAN)]), ensure_ascii=False, indent=1
    ).encode()
    at = content.index("ещё".encode())
    path = tmp_path / "result.json"
    path.write_bytes(content[:at] + b"\xff" + content[at + 1 :])
    error = parse_error(path)
    assert error.place == f"byte {at}"
    assert "invalid JSON" in error.reason


def test_cp1251_copy(tmp_path: Path) -> None:
    data = chat([message(1, RUSSIAN)], name="Канал")
    expected = events(write(tmp_path / "utf8.json", data))
    assert events(write(tmp_path / "cp1251.json", data, encoding="cp1251")) == expected


def test_parse_is_lazy(tmp_path: Path) -> None:
    generator = desktop_json.parse(tmp_path / "missing.json", ParseOptions())
    with pytest.raises(ParseError, match="cannot read"):
        next(generator)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('{\n "name": "x",\n "type": "public_channel",\n "id": 1,\n "messages": [\n', True),
        ('\ufeff{"about": "Here is the data", "personal_information": {', True),
        ('{"chats": {"about": "", "list": [', True),
        ('{"id": 5, "type": "message", "date_unixtime": "1700000000"', True),
        ('{"foo": [1, 2, 3]}', False),
        ("<!DOCTYPE html><html><head>", False),
        ('Forwarded from X\nsome text with "messages": [', False),
    ],
)
def test_sniff(head: str, expected: bool) -> None:
    assert desktop_json.sniff(Path("result.json"), head) is expected


# --- streaming -------------------------------------------------------------------------------

_BIG_MESSAGE = (
    '{{\n   "id": {id},\n   "type": "message",\n   "date": "2024-01-01T03:00:00",\n'
    '   "date_unixtime": "{stamp}",\n   "from": "Big",\n   "from_id": "channel1",\n'
    '   "text": "Пост {id}: {body}",\n   "text_entities": [\n    {{\n     "type": "plain",\n'
    '     "text": "Пост {id}: {body}"\n    }}\n   ],\n   "reactions": [\n    {{\n'
    '     "type": "emoji",\n     "count": {count},\n     "emoji": "👍"\n    }}\n   ]\n  }}'
)
_BIG_BODY = "длинный текст о том, как устроены экспорты Telegram и почему их читают потоком. " * 3


def write_big(path: Path, messages: int, chats: int | None) -> None:
    """A synthetic export written message by message, never held in memory."""

    def write_messages(handle: Any, count: int) -> None:
        for i in range(1, count + 1):
            handle.write(",\n  " if i > 1 else "  ")
            handle.write(
                _BIG_MESSAGE.format(id=i, stamp=BASE_TIME + i, body=_BIG_BODY, count=i % 90 + 1)
            )

    with path.open("w", encoding="utf-8") as handle:
        if chats is None:
            handle.write('{\n "name": "Big",\n "type": "public_channel",\n "id": 1,\n')
            handle.write(' "messages": [\n')
            write_messages(handle, messages)
            handle.write("\n ]\n}\n")
            return
        handle.write('{\n "about": "x",\n "chats": {\n  "about": "y",\n  "list": [\n')
        for c in range(chats):
            handle.write(",\n" if c else "")
            handle.write(f'   {{\n    "name": "Chat {c}",\n    "type": "public_channel",\n')
            handle.write(f'    "id": {c + 1},\n    "messages": [\n')
            write_messages(handle, messages // chats)
            handle.write("\n    ]\n   }")
        handle.write("\n  ]\n }\n}\n")


@pytest.mark.parametrize(("messages", "chats"), [(50_000, None), (8_000, 2)])
def test_memory_stays_flat(tmp_path: Path, messages: int, chats: int | None) -> None:
    path = tmp_path / "big.json"
    write_big(path, messages, chats)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        found = Counter(type(event).__name__ for event in desktop_json.parse(path, ParseOptions()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found["ParsedPost"] == messages
    assert found["ChannelInfo"] == (chats or 1)
    assert peak < size / 5, (peak, size)


# --- mutated inputs --------------------------------------------------------------------------


def rich_fixture() -> bytes:
    msgs = [
        service(1, "create_channel"),
        message(
            2,
            [
                "Заголовок\n",
                {"type": "bold", "text": "жирный"},
                " ",
                {"type": "text_link", "text": "ссылка", "href": "https://example.com"},
                " ",
                {"type": "custom_emoji", "text": "🔥", "document_id": "123"},
                {"type": "blockquote", "text": "цитата", "collapsed": True},
                {"type": "pre", "text": "code()", "language": "py"},
            ],
            reactions=[
                {"type": "emoji", "count": 5, "emoji": "👍"},
                {"type": "custom_emoji", "count": 2, "document_id": "77"},
            ],
            author="Ed",
            edited="x",
            edited_unixtime=str(BASE_TIME + 5),
        ),
        message(3, "", photo="photos/1.jpg", width=10, height=10, date_unixtime=str(BASE_TIME)),
        message(4, "", photo=NOT_INCLUDED, date_unixtime=str(BASE_TIME)),
        message(
            5,
            "опрос",
            poll={
                "question": "?",
                "closed": False,
                "total_voters": 1,
                "answers": [{"text": "a", "voters": 1, "chosen": True}],
            },
        ),
        message(6, "", file="stickers/s.webp", media_type="sticker", sticker_emoji="😀"),
        message(
            7,
            "reply",
            reply_to_message_id=2,
            forwarded_from="Src",
            location_information={"latitude": 1.0, "longitude": 2.0},
        ),
    ]
    return json.dumps(chat(msgs), ensure_ascii=False, indent=1).encode()


RICH = rich_fixture()


def mutations(content: bytes) -> st.SearchStrategy[bytes]:
    size = len(content)
    position = st.integers(0, size - 1)

    def delete(args: tuple[int, int]) -> bytes:
        start, length = args
        return content[:start] + content[start + length :]

    def duplicate(args: tuple[int, int]) -> bytes:
        start, length = args
        return (
            content[: start + length] + content[start : start + length] + content[start + length :]
        )

    def flip(args: tuple[int, int]) -> bytes:
        at, mask = args
        return content[:at] + bytes([content[at] ^ mask]) + content[at + 1 :]

    def shuffle(seed: int) -> bytes:
        lines = content.split(b"\n")
        random.Random(seed).shuffle(lines)
        return b"\n".join(lines)

    return st.one_of(
        position.map(lambda at: content[:at]),
        st.tuples(position, st.integers(1, 64)).map(delete),
        st.tuples(position, st.integers(1, 64)).map(duplicate),
        st.tuples(position, st.integers(1, 255)).map(flip),
        st.integers(0, 2**32).map(shuffle),
    )


def outcome(path: Path, content: bytes) -> list[Event] | ParseError:
    path.write_bytes(content)
    try:
        return list(desktop_json.parse(path, ParseOptions()))
    except ParseError as error:
        return error


def parse_or_reject(path: Path, content: bytes) -> None:
    result = outcome(path, content)
    if isinstance(result, ParseError):
        assert result.file == str(path)
        assert result.reason
    else:
        check_well_formed(result)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("desktop-json-fuzz") / "result.json"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=mutations(RICH))
def test_mutated_fixture(scratch: Path, content: bytes) -> None:
    parse_or_reject(scratch, content)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_export(scratch: Path, exports_dir: Path, data: st.DataObject) -> None:
    content = (exports_dir / "desktop" / "pachum-small-result.json").read_bytes()
    parse_or_reject(scratch, data.draw(mutations(content)))


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(RICH)))
def test_truncation_is_placed_at_the_cut(scratch: Path, cut: int) -> None:
    result = outcome(scratch, RICH[:cut])
    if not isinstance(result, ParseError):
        assert RICH[:cut].rstrip() == RICH.rstrip()
    elif RICH[:cut].strip():
        assert result.place == f"byte {cut}"


# Keys the parser looks for inside nested objects, so that random objects can contain them.
NESTED_KEYS = [
    "answers",
    "text",
    "voters",
    "chosen",
    "question",
    "closed",
    "total_voters",
    "latitude",
    "longitude",
    "first_name",
    "last_name",
    "phone_number",
    "title",
    "type",
    "count",
    "emoji",
    "document_id",
    "href",
    "language",
    "user_id",
    "collapsed",
    "id",
    "description",
    "amount",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(NESTED_KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
MESSAGE_KEYS = [
    "id",
    "type",
    "date",
    "date_unixtime",
    "edited",
    "edited_unixtime",
    "from",
    "author",
    "forwarded_from",
    "reply_to_message_id",
    "reply_to_peer_id",
    "views",
    "text",
    "text_entities",
    "reactions",
    "photo",
    "photo_file_size",
    "file",
    "file_name",
    "file_size",
    "media_type",
    "mime_type",
    "duration_seconds",
    "width",
    "height",
    "sticker_emoji",
    "performer",
    "title",
    "poll",
    "contact_information",
    "contact_vcard",
    "location_information",
    "place_name",
    "address",
    "live_location_period_seconds",
    "game_title",
    "game_link",
    "invoice_information",
    "todo_list",
    "giveaway_information",
    "media_spoiler",
    "self_destruct_period_seconds",
]
entity_parts = st.fixed_dictionaries(
    {
        "type": st.sampled_from([*desktop_json._ENTITY_TYPES, "plain", "bank_card"]) | json_values,
        "text": st.text(max_size=6) | json_values,
    },
    optional={
        "href": json_values,
        "language": json_values,
        "user_id": json_values,
        "document_id": json_values,
        "collapsed": json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    overrides=st.dictionaries(st.sampled_from(MESSAGE_KEYS), json_values, max_size=5),
    parts=st.lists(entity_parts | st.text(max_size=6), max_size=5),
)
def test_arbitrary_field_values(scratch: Path, overrides: dict[str, Any], parts: list[Any]) -> None:
    msg = message(1, "base", text_entities=parts)
    msg.update(overrides)
    parse_or_reject(scratch, json.dumps(chat([msg, message(2, "next")])).encode())
