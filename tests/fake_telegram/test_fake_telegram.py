"""The fake Telegram Bot API, driven by the real aiogram client (and httpx) over HTTP."""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    MediaUnion,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageReactionCountUpdated,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    ReactionTypePaid,
)
from aiohttp import web

from tests.fake_telegram import client, fixtures, updates
from tests.fake_telegram.server import (
    FakeTelegram,
    detect_entities,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)
from tests.fake_telegram.spec import load_spec, ptb_check

# The documented fixtures, used here the way tests/conftest.py will expose them.
fake_telegram = fixtures.fake_telegram
telegram_bot = fixtures.telegram_bot

CHANNEL = -1001234567890
OTHER_CHANNEL = -1009876543210
ADMIN = 4242


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake with one channel; problems are asserted by each test (some provoke them)."""
    async with FakeTelegram() as tg:
        tg.add_chat(CHANNEL, title="Pipeline test", username="pipeline_test")
        yield tg


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = client.bot_for(fake)
    yield bot
    await bot.session.close()


async def raw_post(fake: FakeTelegram, method: str, token: str | None = None, **data: Any):
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        return await client.post(f"/bot{token or fake.token}/{method}", data=data)


# -- basic methods -------------------------------------------------------------------------


async def test_get_me_through_the_documented_fixtures(
    fake_telegram: FakeTelegram, telegram_bot: Bot
) -> None:
    me = await telegram_bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "tgpipe_test_bot")
    assert [call.method for call in fake_telegram.calls] == ["getMe"]
    assert fake_telegram.calls[0].token == fake_telegram.token


async def test_send_message_keeps_entities_and_adds_the_ones_telegram_detects(
    fake: FakeTelegram, bot: Bot
) -> None:
    text = "Привет 👍 мир #новости https://example.com/a."
    bold = MessageEntity(type="bold", offset=7, length=2)  # the emoji: two UTF-16 units
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="x")]]
    )
    message = await bot.send_message(CHANNEL, text, entities=[bold], reply_markup=markup)

    assert message.chat.id == CHANNEL
    assert message.chat.type == "channel"
    assert message.sender_chat is not None
    assert message.sender_chat.username == "pipeline_test"
    assert message.from_user is None
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [
        ("bold", 7, 2),
        ("hashtag", 14, 8),
        ("url", 23, 21),
    ]
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "x"
    call = fake.calls_to("sendmessage")[0]  # method names are case-insensitive
    assert call.params["chat_id"] == CHANNEL
    assert call.params["entities"] == [{"type": "bold", "offset": 7, "length": 2}]
    assert fake.sent[-1]["text"] == text
    assert fake.message(CHANNEL, message.message_id) == fake.sent[-1]
    assert fake.problems == []


async def test_message_ids_increase_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(OTHER_CHANNEL, title="Other")
    fake.push_update(updates.channel_post(CHANNEL, 41, "old post"))
    ids = [
        (await bot.send_message(chat, "x")).message_id for chat in (CHANNEL, OTHER_CHANNEL, CHANNEL)
    ]
    assert ids == [42, 1, 43]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "😀" * 2048 + "a"}, "message is too long"),
        ({"text": " \n "}, "message text is empty"),
        ({"text": "<b>unclosed", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "1.5 *bold*", "parse_mode": "MarkdownV2"}, "Character '.' is reserved"),
    ],
)
async def test_text_rules_answer_bad_request(
    fake: FakeTelegram, bot: Bot, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=error):
        await bot.send_message(CHANNEL, **kwargs)
    assert fake.sent == []
    assert fake.problems == []


async def test_limits_count_utf16_code_units(fake: FakeTelegram, bot: Bot) -> None:
    longest = await bot.send_message(CHANNEL, "😀" * 2048)
    assert utf16_len(longest.text or "") == 4096
    photo = BufferedInputFile(png(10, 10), "p.png")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(CHANNEL, photo, caption="x" * 1025)
    ok = await bot.send_photo(CHANNEL, photo, caption="x" * 1024)
    assert ok.caption == "x" * 1024
    assert fake.problems == []


async def test_entity_outside_the_text_is_a_problem(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(
            CHANNEL, "😀", entities=[MessageEntity(type="bold", offset=1, length=2)]
        )
    assert len(fake.problems) == 1
    assert "does not fit the 2 UTF-16 code units" in fake.problems[0]


async def test_send_media_group_uploads_and_groups(fake: FakeTelegram, bot: Bot) -> None:
    media: list[MediaUnion] = [
        InputMediaPhoto(
            media=BufferedInputFile(png(1600, 900), "one.png"),
            caption="<b>Album</b>",
            parse_mode="HTML",
        ),
        InputMediaPhoto(media=BufferedInputFile(png(300, 300), "two.png")),
    ]
    sent = await bot.send_media_group(CHANNEL, media)

    assert len(sent) == 2
    assert sent[0].media_group_id is not None
    assert sent[0].media_group_id == sent[1].media_group_id
    assert sent[1].message_id == sent[0].message_id + 1
    assert sent[0].caption == "Album"
    assert [(e.type, e.offset, e.length) for e in sent[0].caption_entities or []] == [
        ("bold", 0, 5)
    ]
    first = sent[0].photo or []
    assert (first[-1].width, first[-1].height) == (1600, 900)
    assert all(size.width <= 1600 for size in first)
    assert first[0].width == 90
    items = fake.calls_to("sendMediaGroup")[0].params["media"]
    assert items[1]["media"] == {
        "filename": "two.png",
        "size": len(png(300, 300)),
        "content_type": "application/octet-stream",
    }
    assert fake.problems == []


async def test_media_group_rules(fake: FakeTelegram, bot: Bot) -> None:
    photo = InputMediaPhoto(media=BufferedInputFile(png(5, 5), "a.png"))
    document = InputMediaDocument(media=BufferedInputFile(b"text", "a.txt"))
    with pytest.raises(TelegramBadRequest, match="2-10"):
        await bot.send_media_group(CHANNEL, [photo])
    with pytest.raises(TelegramBadRequest, match="can't be mixed"):
        await bot.send_media_group(CHANNEL, [photo, document])
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CHANNEL, BufferedInputFile(b"not an image", "x.png"))
    assert fake.sent == []
    assert fake.problems == []


async def test_copy_and_forward_a_channel_post(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(OTHER_CHANNEL, title="Target")
    fake.push_update(updates.channel_post(CHANNEL, 7, "Original #post", author_signature="Ann"))

    copied = await bot.copy_message(OTHER_CHANNEL, CHANNEL, 7)
    forwarded = await bot.forward_message(OTHER_CHANNEL, CHANNEL, 7)

    copy_message = fake.message(OTHER_CHANNEL, copied.message_id)
    assert copy_message is not None
    assert copy_message["text"] == "Original #post"
    assert copy_message["entities"] == [{"type": "hashtag", "offset": 9, "length": 5}]
    assert "forward_origin" not in copy_message
    origin = forwarded.forward_origin
    assert isinstance(origin, MessageOriginChannel)
    assert (origin.chat.id, origin.message_id, origin.author_signature) == (CHANNEL, 7, "Ann")
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(OTHER_CHANNEL, CHANNEL, 999)
    assert [m["message_id"] for m in fake.sent] == [1, 2]
    assert fake.problems == []


async def test_copy_messages_keeps_albums_together(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(OTHER_CHANNEL, title="Target")
    for message_id in (10, 11):
        fake.push_update(
            updates.channel_post(
                CHANNEL,
                message_id,
                "",
                photo_file_id=f"AgACphoto{message_id}",
                media_group_id="777",
            )
        )
    ids = await bot.copy_messages(OTHER_CHANNEL, CHANNEL, [10, 11, 12])
    assert [i.message_id for i in ids] == [1, 2]  # 12 does not exist: skipped, as documented
    groups = {m["media_group_id"] for m in fake.sent}
    assert len(groups) == 1
    assert groups != {"777"}
    assert fake.problems == []


async def test_edit_and_delete(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(CHANNEL, "draft")
    edited = await bot.edit_message_text("final", chat_id=CHANNEL, message_id=message.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "final"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("final", chat_id=CHANNEL, message_id=message.message_id)
    with pytest.raises(TelegramBadRequest, match="there is no caption"):
        await bot.edit_message_caption(chat_id=CHANNEL, message_id=message.message_id, caption="c")
    assert await bot.delete_message(CHANNEL, message.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(CHANNEL, message.message_id)
    assert fake.messages_in(CHANNEL) == []
    assert fake.problems == []


async def test_chats_admins_and_membership(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_chat_admins(CHANNEL, [ADMIN, 77])
    chat = await bot.get_chat(CHANNEL)
    assert (chat.title, chat.username, chat.type) == ("Pipeline test", "pipeline_test", "channel")
    admins = await bot.get_chat_administrators(CHANNEL)
    assert [(a.user.id, a.status) for a in admins] == [
        (ADMIN, "creator"),
        (77, "administrator"),
        (123456, "administrator"),
    ]
    assert (await bot.get_chat_member(CHANNEL, 5)).status == "member"
    assert await bot.get_chat_member_count(CHANNEL) == 3
    assert (await bot.get_chat("@Pipeline_Test")).id == CHANNEL
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-100555)
    fake.kick_bot(CHANNEL)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the channel chat"):
        await bot.send_message(CHANNEL, "hello?")
    fake.add_chat(OTHER_CHANNEL, title="Not ours", bot_is_admin=False)
    with pytest.raises(TelegramForbiddenError, match="not a member of the channel chat"):
        await bot.send_message(OTHER_CHANNEL, "hello?")
    assert fake.problems == []


async def test_polls_actions_commands_and_reactions(fake: FakeTelegram, bot: Bot) -> None:
    poll = await bot.send_poll(CHANNEL, "Which?", ["a", "b"])
    assert poll.poll is not None
    assert [o.text for o in poll.poll.options] == ["a", "b"]
    assert await bot.send_chat_action(CHANNEL, "typing") is True
    assert fake.chat_actions == [(CHANNEL, "typing")]
    await bot.set_message_reaction(CHANNEL, poll.message_id, [ReactionTypeEmoji(emoji="👍")])
    assert fake.reactions[CHANNEL, poll.message_id] == [{"type": "emoji", "emoji": "👍"}]
    from aiogram.types import BotCommand

    await bot.set_my_commands([BotCommand(command="help", description="Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert fake.problems == []


# -- errors on demand ----------------------------------------------------------------------


async def test_429_surfaces_as_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail(
        "sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(CHANNEL, "one")
    assert caught.value.retry_after == 7
    assert (await bot.send_message(CHANNEL, "two")).text == "two"  # only the next call failed
    assert [m["text"] for m in fake.sent] == ["two"]
    assert fake.calls_to("sendMessage")[0].response["parameters"] == {"retry_after": 7}


async def test_403_and_500_and_per_chat_failures(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_chat(OTHER_CHANNEL, title="Other")
    fake.fail(
        "sendMessage",
        status=403,
        description="Forbidden: bot was kicked from the channel chat",
        chat_id=OTHER_CHANNEL,
    )
    fake.fail("sendmessage", status=500, description="Internal Server Error", times=2)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(OTHER_CHANNEL, "x")
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(CHANNEL, "x")
    assert (await bot.send_message(OTHER_CHANNEL, "y")).text == "y"
    assert [call.status for call in fake.calls_to("sendMessage")] == [403, 500, 500, 200]
    assert fake.problems == []


async def test_delay_makes_the_client_time_out_but_the_message_is_sent(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.delay("sendMessage", 0.6)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot(SendMessage(chat_id=CHANNEL, text="slow"), request_timeout=0.2)  # type: ignore[arg-type]
    assert fake.sent == []
    await fake.wait_until(lambda: fake.sent, timeout=3, what="the slow message")
    assert [m["text"] for m in fake.sent] == ["slow"]
    assert fake.problems == []


async def test_spec_violations_in_requests_are_problems(fake: FakeTelegram) -> None:
    unknown = await raw_post(fake, "sendMessage", chat_id=str(CHANNEL), text="x", colour="red")
    missing = await raw_post(fake, "sendMessage", chat_id=str(CHANNEL))
    not_json = await raw_post(fake, "sendMessage", chat_id=str(CHANNEL), text="x", entities="[{")
    unsupported = await raw_post(fake, "sendDice", chat_id=str(CHANNEL))

    for response in (unknown, missing, not_json, unsupported):
        assert response.status_code == 400
        assert response.json()["description"].startswith("Bad Request: ")
    assert unsupported.json()["description"] == "Bad Request: method not supported by the fake"
    assert fake.problems == [
        "sendMessage: unknown parameter 'colour' (not in Bot API 10.1)",
        "sendMessage: required parameter 'text' is missing",
        'sendMessage.entities: expected Array of MessageEntity, got str "[{"',
        "sendDice: the client called a method the fake does not implement",
    ]
    assert fake.sent == []


async def test_unknown_method_and_bad_tokens(fake: FakeTelegram) -> None:
    unknown = await raw_post(fake, "sendTelepathy", chat_id="1")
    malformed = await raw_post(fake, "getMe", token="not-a-token")
    foreign = await raw_post(fake, "getMe", token="999:AAother")
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (malformed.status_code, malformed.json()["description"]) == (401, "Unauthorized")
    assert foreign.status_code == 401
    assert len(fake.problems) == 1
    assert "use fake.token" in fake.problems[0]
    assert [call.method for call in fake.calls] == ["sendTelepathy", "getMe", "getMe"]


async def test_json_and_query_string_requests(fake: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        by_json = await client.post(
            f"/bot{fake.token}/SENDMESSAGE",
            json={
                "chat_id": CHANNEL,
                "text": "j",
                "entities": [{"type": "italic", "offset": 0, "length": 1}],
            },
        )
        by_query = await client.get(f"/bot{fake.token}/getChat", params={"chat_id": str(CHANNEL)})
    assert by_json.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 1}]
    assert by_query.json()["result"]["id"] == CHANNEL
    assert fake.calls[1].http_method == "GET"
    assert fake.problems == []


async def test_wait_for_reports_what_it_saw(fake: FakeTelegram, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(TimeoutError, match=r"(?s)1 sendMessage call\(s\), saw 0.*getMe\(\) -> 200"):
        await fake.wait_for("sendMessage", timeout=0.05)


# -- updates -------------------------------------------------------------------------------


async def run_polling(dp: Dispatcher, bot: Bot, **kwargs: Any) -> asyncio.Task[None]:
    task = asyncio.create_task(
        dp.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=2, **kwargs
        )
    )
    await asyncio.sleep(0)
    return task


async def test_polling_delivers_a_command_to_a_handler(fake: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()
    seen: list[Message] = []

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        seen.append(message)
        await message.answer("Hello, admin")

    task = await run_polling(dp, bot)
    await fake.wait_for("getUpdates")
    fake.push_update(updates.private_message("/start", user_id=ADMIN, username="boss"))
    await fake.wait_for("sendMessage", timeout=3)
    await dp.stop_polling()
    await task

    assert [(m.from_user.id if m.from_user else None, m.text) for m in seen] == [(ADMIN, "/start")]
    reply = fake.sent[-1]
    assert reply["chat"] == {
        "id": ADMIN,
        "type": "private",
        "first_name": "Admin",
        "username": "boss",
    }
    assert reply["from"]["id"] == fake.bot_id
    assert reply["text"] == "Hello, admin"
    assert fake.allowed_updates == ["message"]
    assert fake.problems == []


@pytest.mark.parametrize("ask_for_reactions", [True, False])
async def test_reaction_counts_arrive_only_when_asked_for(
    fake: FakeTelegram, bot: Bot, ask_for_reactions: bool
) -> None:
    dp = Dispatcher()
    counts: list[MessageReactionCountUpdated] = []
    texts: list[str | None] = []

    @dp.message_reaction_count()
    async def on_counts(update: MessageReactionCountUpdated) -> None:
        counts.append(update)

    @dp.message()
    async def on_message(message: Message) -> None:
        texts.append(message.text)

    fake.push_update(
        updates.reaction_count_update(
            CHANNEL, 5, {"👍": 50, "custom:5368324170671202286": 3, "paid": 2, "🔥": 0}
        )
    )
    fake.push_update(updates.private_message("after", user_id=ADMIN))
    allowed = ["message", "message_reaction_count"] if ask_for_reactions else ["message"]
    task = await run_polling(dp, bot, allowed_updates=allowed)
    await fake.wait_until(lambda: texts, what="the message handler")
    await dp.stop_polling()
    await task

    assert texts == ["after"]
    assert fake.allowed_updates == allowed
    if ask_for_reactions:
        assert len(counts) == 1
        assert counts[0].chat.id == CHANNEL
        assert counts[0].message_id == 5
        reactions = counts[0].reactions
        assert [type(r.type) for r in reactions] == [
            ReactionTypeEmoji,
            ReactionTypeCustomEmoji,
            ReactionTypePaid,
        ]
        assert [(r.type.model_dump(mode="json"), r.total_count) for r in reactions] == [
            ({"type": "emoji", "emoji": "👍"}, 50),
            ({"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}, 3),
            ({"type": "paid"}, 2),
        ]
    else:
        assert counts == []
        assert [next(iter(u.keys() - {"update_id"})) for u in fake.filtered_updates] == [
            "message_reaction_count"
        ]
    assert fake.problems == []


async def test_long_poll_wakes_up_on_push_and_offset_confirms(fake: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=10) as client:
        started = time.monotonic()
        poll = asyncio.create_task(
            client.post(f"/bot{fake.token}/getUpdates", data={"timeout": "5"})
        )
        await fake.wait_for("getUpdates")
        first = fake.push_update(updates.private_message("hi", user_id=ADMIN))
        batch = (await poll).json()["result"]
        assert time.monotonic() - started < 2
        assert [u["update_id"] for u in batch] == [first]
        again = (
            await client.post(f"/bot{fake.token}/getUpdates", data={"offset": str(first)})
        ).json()
        assert [u["update_id"] for u in again["result"]] == [first]  # not confirmed yet
        confirmed = await client.post(
            f"/bot{fake.token}/getUpdates", data={"offset": str(first + 1)}
        )
        assert confirmed.json()["result"] == []
    assert fake.pending_updates == []
    assert fake.problems == []


async def test_a_second_poller_conflicts_with_the_first(fake: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=10) as client:
        first = asyncio.create_task(
            client.post(f"/bot{fake.token}/getUpdates", data={"timeout": "5"})
        )
        await fake.wait_for("getUpdates")
        second = await client.post(f"/bot{fake.token}/getUpdates", data={"timeout": "0"})
        answer = await first
    assert second.status_code == 200
    assert answer.status_code == 409
    assert "only one bot instance" in answer.json()["description"]
    assert len(fake.problems) == 1
    assert "second long poll" in fake.problems[0]


async def test_invalid_updates_are_refused_at_once(fake: FakeTelegram) -> None:
    bad = updates.reaction_count_update(CHANNEL, 1, {"🥔": 1})  # not an allowed reaction emoji
    with pytest.raises(ValueError, match="not one of the values the spec allows"):
        fake.push_update(bad)
    with pytest.raises(ValueError, match="lacks required field 'date'"):
        fake.push_update({"message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}})
    assert fake.pending_updates == []
    assert len(fake.problems) >= 2


async def test_callback_query_answer(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(ADMIN, first_name="Admin")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )
    await bot.send_message(ADMIN, "Publish?", reply_markup=markup)
    update = updates.callback_query("go", user_id=ADMIN, message=fake.sent[-1], query_id="q1")
    fake.push_update(update)
    assert await bot.answer_callback_query("q1", text="Done") is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("q1")
    assert fake.problems == []


async def test_uploaded_export_can_be_downloaded(fake: FakeTelegram, bot: Bot) -> None:
    content = b'{"name": "Channel", "messages": []}'
    fake.add_file("BQACexport1", content)
    update = updates.document_message(
        ADMIN, "result.json", "BQACexport1", "application/json", len(content), caption="/import"
    )
    fake.push_update(update)

    document = update["message"]["document"]
    info = await bot.get_file(document["file_id"])
    assert info.file_size == len(content)
    assert info.file_path
    downloaded = await bot.download_file(info.file_path)
    assert downloaded is not None
    assert downloaded.read() == content
    assert update["message"]["caption_entities"] == [
        {"type": "bot_command", "offset": 0, "length": 7}
    ]
    # Files the bot sent are downloadable too, with their bytes.
    binary = bytes(range(256)) * 40 + b"\r\n--boundary\r\n"
    sent = await bot.send_document(CHANNEL, BufferedInputFile(binary, "report.bin"))
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("report.bin", len(binary))
    again = await bot.download(sent.document.file_id)
    assert again is not None
    assert again.read() == binary
    assert fake.problems == []


async def test_webhook_delivery_and_reply_in_response(fake: FakeTelegram) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
        update = await request.json()
        received.append(update)
        reply = {
            "method": "sendMessage",
            "chat_id": update["message"]["chat"]["id"],
            "text": "pong",
        }
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with client.bot_for(fake) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
            with pytest.raises(Exception, match="webhook is active"):
                await bot.get_updates()
            fake.push_update(updates.private_message("ping", user_id=ADMIN))
            await fake.wait_for("sendMessage")
            info = await bot.get_webhook_info()
            assert info.url.endswith("/hook")
            assert info.pending_update_count == 0
            await bot.delete_webhook()
    finally:
        await runner.cleanup()
    assert [u["message"]["text"] for u in received] == ["ping"]
    assert fake.sent[-1]["text"] == "pong"
    assert fake.sent[-1]["chat"]["id"] == ADMIN
    assert fake.calls_to("sendMessage")[0].http_method == "WEBHOOK-REPLY"
    assert fake.problems == []


def test_running_in_thread_with_a_plain_httpx_client() -> None:
    with FakeTelegram.running_in_thread(bot_id=777) as fake:
        assert fake.env["TGPIPE_BOT_TOKEN"].startswith("777:")
        with httpx.Client(base_url=fake.base_url, timeout=10) as client:
            me = client.get(f"/bot{fake.token}/getMe").json()
            assert me["result"]["id"] == 777
            # pushed from this thread while the server's thread holds a long poll open
            update = updates.private_message("/help", user_id=ADMIN)
            timer = threading.Timer(0.2, fake.push_update, [update])
            timer.start()
            started = time.monotonic()
            got = client.post(f"/bot{fake.token}/getUpdates", data={"timeout": "5"}).json()
            timer.join()
            assert time.monotonic() - started < 2
            assert got["result"][0]["message"]["entities"][0]["type"] == "bot_command"
        assert len(fake.wait_for_sync("getUpdates")) == 1
        assert fake.problems == []
    with FakeTelegram().running_in_thread() as other:
        assert other.base_url.startswith("http://127.0.0.1:")


# -- the checks themselves ------------------------------------------------------------------


def test_spec_resolves_abstract_types_by_discriminator() -> None:
    spec = load_spec()
    member = {
        "status": "kicked",
        "user": {"id": 1, "is_bot": False, "first_name": "A"},
        "until_date": 0,
    }
    assert spec.check(member, ["ChatMember"], "m") == []
    assert spec.check({**member, "status": "banned"}, ["ChatMember"], "m") == [
        "m: ChatMember.status is 'banned', expected one of "
        "['administrator', 'creator', 'kicked', 'left', 'member', 'restricted']"
    ]
    origin = {"type": "channel", "date": 1, "chat": {"id": -1, "type": "channel", "title": "t"}}
    assert spec.check(origin, ["MessageOrigin"], "o") == [
        "o: MessageOriginChannel lacks required field 'message_id'"
    ]
    assert spec.check({"type": "paid", "extra": 1}, ["ReactionType"], "r") == [
        "r: ReactionTypePaid has no field 'extra'"
    ]
    assert spec.check(True, ["Integer"], "i") == ["i: expected Integer, got bool true"]


def test_python_telegram_bot_is_the_second_opinion() -> None:
    good = updates.channel_post(CHANNEL, 3, "hello")
    assert ptb_check({"update_id": 1, **good}, ["Update"], "u") == []
    broken = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}
    assert any(
        "python-telegram-bot cannot parse Update" in p for p in ptb_check(broken, ["Update"], "u")
    )


@pytest.mark.parametrize(
    ("parser", "source", "text", "entities"),
    [
        (parse_html, "<b>a</b> &lt;<i>b</i>&gt;", "a <b>", [("bold", 0, 1), ("italic", 3, 1)]),
        (parse_html, '<pre><code class="language-py">x</code></pre>', "x", [("pre", 0, 1)]),
        (
            parse_html,
            '<a href="https://t.me">t</a><tg-spoiler>s</tg-spoiler>',
            "ts",
            [("text_link", 0, 1), ("spoiler", 1, 1)],
        ),
        (
            parse_markdown_v2,
            r"*b _i_*\. __u__ ||s|| `c\`` [l](https://x.y)",
            "b i. u s c` l",
            [
                ("bold", 0, 3),
                ("italic", 2, 1),
                ("underline", 5, 1),
                ("spoiler", 7, 1),
                ("code", 9, 2),
                ("text_link", 12, 1),
            ],
        ),
        (parse_markdown_v2, ">quote\n>more\nafter", "quote\nmore\nafter", [("blockquote", 0, 10)]),
        (parse_markdown_v2, "😀*x*", "😀x", [("bold", 2, 1)]),
        (
            parse_markdown,
            "*b* _i_ [l](https://x.y)",
            "b i l",
            [("bold", 0, 1), ("italic", 2, 1), ("text_link", 4, 1)],
        ),
    ],
)
def test_parse_modes(
    parser: Any, source: str, text: str, entities: list[tuple[str, int, int]]
) -> None:
    parsed_text, parsed = parser(source)
    assert parsed_text == text
    assert sorted((e["type"], e["offset"], e["length"]) for e in parsed) == sorted(entities)


def test_detected_entities() -> None:
    found = detect_entities("/start@tgpipe_test_bot see t.me/x, mail a@b.io #тег $USD @someone")
    assert [e["type"] for e in found] == [
        "email",
        "url",
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
    ]


@pytest.mark.parametrize(
    ("method", "field", "content", "name"),
    [
        ("send_video", "video", b"\x00\x00\x00\x18ftypmp42", "clip.mp4"),
        ("send_animation", "animation", b"GIF89a\x10\x00\x10\x00", "loop.gif"),
        ("send_audio", "audio", b"ID3\x03\x00", "song.mp3"),
        ("send_voice", "voice", b"OggS\x00", "note.ogg"),
        ("send_sticker", "sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "s.webp"),
        ("send_document", "document", b"%PDF-1.4", "doc.pdf"),
    ],
)
async def test_every_media_kind_round_trips(
    fake: FakeTelegram, bot: Bot, method: str, field: str, content: bytes, name: str
) -> None:
    sent = await getattr(bot, method)(CHANNEL, BufferedInputFile(content, name))
    media = getattr(sent, field)
    assert media is not None
    assert media.file_size == len(content)
    again = await getattr(bot, method)(CHANNEL, media.file_id)  # a known file_id is reusable
    assert getattr(again, field).file_id == media.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await getattr(bot, method)(CHANNEL, "made-up-file-id")
    assert fake.problems == []


async def test_bot_membership_follows_my_chat_member_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.push_update(updates.my_chat_member(OTHER_CHANNEL, by_user_id=ADMIN, title="New"))
    assert (await bot.send_message(OTHER_CHANNEL, "hi")).chat.title == "New"
    removed = updates.my_chat_member(
        OTHER_CHANNEL, by_user_id=ADMIN, old_status="administrator", new_status="kicked"
    )
    fake.push_update(removed)
    with pytest.raises(TelegramForbiddenError, match="kicked"):
        await bot.send_message(OTHER_CHANNEL, "still there?")
    assert fake.problems == []


async def test_rate_limits_on_request(fake: FakeTelegram, bot: Bot) -> None:
    fake.limit_rate(overall_per_second=None, group_per_minute=3)
    for index in range(3):
        await bot.send_message(CHANNEL, f"post {index}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(CHANNEL, "one too many")
    assert 58 <= caught.value.retry_after <= 60
    fake.add_user(ADMIN)
    assert (await bot.send_message(ADMIN, "private chats are not counted")).chat.id == ADMIN
    assert len(fake.sent) == 4
    assert fake.problems == []
