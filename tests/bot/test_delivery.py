"""Publishing end to end: the real aiogram client sends claims to the fake Bot API."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.delivery import _unreachable
from pipeline.publish import claims
from pipeline.publish.policy import Limits, Policy
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Notice, Post, PostStatus, PublicationState
from pipeline.store.types import now_utc
from tests.fake_telegram.server import FakeTelegram
from tests.publishing import (
    FAST,
    add_post,
    add_target,
    courier,
    plan,
    plan_forward,
    png,
    publication,
)

CHAT = -1001000000001
OTHER = -1001000000002


@pytest.fixture
async def target(session_factory: SessionFactory, fake_telegram: FakeTelegram) -> Channel:
    return await add_target(session_factory, fake_telegram, CHAT, "target_channel")


async def test_a_post_goes_out_once_with_its_formatting(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    text = "Новая модель 🚀 подробнее по ссылке"
    entities = [
        {"type": "bold", "offset": 0, "length": 12},
        {"type": "text_link", "offset": 15, "length": 9, "url": "https://example.org/"},
    ]
    post_id = await add_post(session_factory, text, entities)
    pub_id = await plan(session_factory, post_id, target, silent=True)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert tally.sent == [pub_id]
    (call,) = fake_telegram.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT
    assert call.params["disable_notification"] is True
    (message,) = fake_telegram.messages_in(CHAT)
    assert message["text"] == text
    assert message["entities"] == entities
    stored = await publication(session_factory, pub_id)
    assert stored.state is PublicationState.SENT
    assert stored.message_ids == [message["message_id"]]
    async with unit_of_work(session_factory) as session:
        assert (await session.get_one(Post, post_id)).status is PostStatus.PUBLISHED
    # Nothing is due any more: a second dispatch sends nothing.
    again = await courier(telegram_bot, session_factory).run_due()
    assert again.sent == []
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_a_long_text_is_split_at_paragraphs_and_keeps_its_entities(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    paragraphs = [f"Абзац {i}: " + "слово " * 120 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    # A bold span across the first split point.
    entities = [{"type": "bold", "offset": 3500, "length": 1200}]
    post_id = await add_post(session_factory, text, entities)
    pub_id = await plan(session_factory, post_id, target)
    await courier(telegram_bot, session_factory).run_due()
    messages = fake_telegram.messages_in(CHAT)
    assert len(messages) >= 3
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= 4096 for m in messages)
    assert "\n\n".join(m["text"] for m in messages) == text
    bold = [e for m in messages for e in m.get("entities", []) if e["type"] == "bold"]
    assert len(bold) == 2  # cut in two at the split, nothing lost
    assert sum(e["length"] for e in bold) == 1200 - 2  # the separator "\n\n" is not sent
    stored = await publication(session_factory, pub_id)
    assert stored.message_ids == [m["message_id"] for m in messages]


async def test_a_long_caption_follows_the_photo(
    session_factory: SessionFactory,
    fake_telegram: FakeTelegram,
    telegram_bot: Bot,
    target: Channel,
    tmp_path: Path,
) -> None:
    photo = png(tmp_path / "export/photos/a.png")
    text = "Подпись " * 200  # 1600 characters: too long for a caption
    post_id = await add_post(
        session_factory, text, media=[{"kind": "photo", "file": "photos/a.png", "path": str(photo)}]
    )
    await plan(session_factory, post_id, target)
    await courier(telegram_bot, session_factory).run_due()
    first, second = fake_telegram.messages_in(CHAT)
    assert "photo" in first
    assert "caption" not in first
    assert second["text"] == text.strip()


async def test_an_album_of_twelve_goes_as_two_groups_in_order(
    session_factory: SessionFactory,
    fake_telegram: FakeTelegram,
    telegram_bot: Bot,
    target: Channel,
    tmp_path: Path,
) -> None:
    media = [
        {"kind": "photo", "file": f"p{i}.png", "path": str(png(tmp_path / f"p{i}.png", i + 1, 2))}
        for i in range(12)
    ]
    post_id = await add_post(session_factory, "Альбом недели", media=media)
    pub_id = await plan(session_factory, post_id, target)
    assert (await publication(session_factory, pub_id)).size == 12
    await courier(telegram_bot, session_factory).run_due()
    groups = fake_telegram.calls_to("sendMediaGroup")
    assert [len(call.params["media"]) for call in groups] == [10, 2]
    messages = fake_telegram.messages_in(CHAT)
    widths = [m["photo"][-1]["width"] for m in messages]
    assert widths == list(range(1, 13))  # in order
    assert messages[0]["caption"] == "Альбом недели"
    assert (await publication(session_factory, pub_id)).message_ids == [
        m["message_id"] for m in messages
    ]


async def test_missing_media_goes_out_as_text_and_the_admins_are_told(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    post_id = await add_post(
        session_factory, "Видео недели", media=[{"kind": "video", "file": "video.mp4"}]
    )
    await plan(session_factory, post_id, target)
    await courier(telegram_bot, session_factory).run_due()
    (message,) = fake_telegram.messages_in(CHAT)
    assert message["text"] == "Видео недели"
    async with unit_of_work(session_factory) as session:
        (notice,) = (await session.scalars(select(Notice))).all()
    assert "video video.mp4 (not in the export)" in notice.text


@pytest.mark.parametrize("copy", [False, True])
async def test_an_album_is_forwarded_or_copied_whole(
    session_factory: SessionFactory,
    fake_telegram: FakeTelegram,
    telegram_bot: Bot,
    target: Channel,
    tmp_path: Path,
    copy: bool,
) -> None:
    source = -1001000000099
    fake_telegram.add_chat(source, type="channel", title="Source", username="source_channel")
    await telegram_bot.send_media_group(source, _album(tmp_path))
    ids = [m["message_id"] for m in fake_telegram.messages_in(source)]
    pub_id = await plan_forward(session_factory, "@source_channel", ids, target, copy=copy)
    await courier(telegram_bot, session_factory).run_due()
    method = "copyMessages" if copy else "forwardMessages"
    (call,) = fake_telegram.calls_to(method)
    assert call.params["message_ids"] == ids
    delivered = fake_telegram.messages_in(CHAT)
    assert len(delivered) == 3
    assert len({m.get("media_group_id") for m in delivered}) == 1
    assert ("forward_origin" in delivered[0]) is not copy
    assert (await publication(session_factory, pub_id)).message_ids == [
        m["message_id"] for m in delivered
    ]


def _album(tmp_path: Path) -> list[Any]:
    from aiogram.types import FSInputFile, InputMediaPhoto

    return [InputMediaPhoto(media=FSInputFile(png(tmp_path / f"src{i}.png"))) for i in range(3)]


async def test_a_429_defers_that_chat_only(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    other = await add_target(session_factory, fake_telegram, OTHER, "other_channel")
    first = await plan(
        session_factory, await add_post(session_factory, "первый пост здесь"), target
    )
    second = await plan(session_factory, await add_post(session_factory, "второй пост там"), other)
    fake_telegram.fail("sendMessage", status=429, retry_after=1, chat_id=CHAT)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert sorted(tally.sent) == sorted([first, second])
    assert tally.deferred == 1
    calls = fake_telegram.calls_to("sendMessage")
    assert [c.params["chat_id"] for c in calls] in ([CHAT, OTHER, CHAT], [OTHER, CHAT, CHAT])
    # The retry waited for retry_after; the other chat did not.
    assert calls[-1].at - calls[0].at >= 0.95
    stored = await publication(session_factory, first)
    assert stored.attempts == 1  # a 429 is not the publication's failure


async def test_a_403_fails_that_chats_publications_and_tells_once(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    other = await add_target(session_factory, fake_telegram, OTHER, "other_channel")
    doomed = [
        await plan(
            session_factory, await add_post(session_factory, f"пост номер {i} для канала"), target
        )
        for i in range(3)
    ]
    fine = await plan(
        session_factory, await add_post(session_factory, "пост для другого канала"), other
    )
    fake_telegram.kick_bot(CHAT)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert tally.sent == [fine]
    for pub_id in doomed:
        stored = await publication(session_factory, pub_id)
        assert stored.state is PublicationState.FAILED
        assert "Forbidden" in (stored.last_error or "")
    assert (
        len([c for c in fake_telegram.calls_to("sendMessage") if c.params["chat_id"] == CHAT]) == 1
    )
    async with unit_of_work(session_factory) as session:
        notices = [n.text for n in await session.scalars(select(Notice))]
        channel = await session.get_one(Channel, target.id)
    assert len([n for n in notices if "cannot post to @target_channel" in n]) == 1
    assert channel.blocked_reason is not None


async def test_server_errors_are_retried_then_sent(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    pub_id = await plan(session_factory, await add_post(session_factory, "пост после сбоя"), target)
    fake_telegram.fail("sendMessage", status=502, times=2)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert tally.sent == [pub_id]
    assert tally.retried == 2
    assert len(fake_telegram.messages_in(CHAT)) == 1
    assert (await publication(session_factory, pub_id)).attempts == 3


async def test_server_errors_give_up_after_the_attempts(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    pub_id = await plan(session_factory, await add_post(session_factory, "пост после сбоя"), target)
    fake_telegram.fail("sendMessage", status=500, times=10)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert tally.failed == [pub_id]
    stored = await publication(session_factory, pub_id)
    assert stored.state is PublicationState.FAILED
    assert "gave up after 5 attempts" in (stored.last_error or "")


async def test_a_bad_request_fails_with_telegrams_description(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    pub_id = await plan_forward(session_factory, "@target_channel", [999], target)
    tally = await courier(telegram_bot, session_factory).run_due()
    assert tally.failed == [pub_id]
    stored = await publication(session_factory, pub_id)
    assert "message to forward not found" in (stored.last_error or "").lower() or "not found" in (
        stored.last_error or ""
    )


async def test_a_429_storm_sends_everything_once_and_each_chat_waits_as_told(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot
) -> None:
    # Telegram enforces less than tgpipe was told (4/s, not 30/s): most sends meet a 429.
    chats = [-1001000000100 - n for n in range(6)]
    planned = []
    for n, chat in enumerate(chats):
        target = await add_target(session_factory, fake_telegram, chat, f"storm{n}")
        for i in range(3):
            post = await add_post(session_factory, f"шторм {n}: пост {i} о разном {n * 10 + i}")
            planned.append(await plan(session_factory, post, target))
    fake_telegram.limit_rate(overall_per_second=4, group_per_minute=None)
    tally = await courier(telegram_bot, session_factory).run_due(max_wait=60)
    assert sorted(tally.sent) == sorted(planned)
    assert tally.failed == []
    assert tally.unknown == []
    assert tally.deferred > 0  # there was a storm
    calls = fake_telegram.calls_to("sendMessage")
    for chat in chats:
        delivered = [m["text"] for m in fake_telegram.messages_in(chat)]
        assert len(delivered) == len(set(delivered)) == 3  # each once, none lost
        # After a 429 the chat is left alone for retry_after, in every case.
        mine = [c for c in calls if c.params["chat_id"] == chat]
        for refused, following in itertools.pairwise(mine):
            if refused.status == 429:
                wait = refused.response["parameters"]["retry_after"]
                assert following.at - refused.at >= wait - 0.05
    for pid in planned:
        stored = await publication(session_factory, pid)
        assert stored.state is PublicationState.SENT
        assert stored.attempts == 1  # a 429 is not the publication's failure


async def test_publish_now_leaves_a_publication_another_process_took(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    pid = await plan(session_factory, await add_post(session_factory, "чужой пост"), target)
    (theirs,) = (
        await claims.claim_due(session_factory, owner="other", now=now_utc(), policy=FAST)
    ).claims
    mine = courier(telegram_bot, session_factory)
    assert await mine.publish_now(pid, max_wait=1) is PublicationState.SENDING
    assert await claims.record_sent(session_factory, theirs, [7], now_utc())
    assert await mine.publish_now(pid, max_wait=1) is PublicationState.SENT
    assert fake_telegram.calls_to("sendMessage") == []  # this process sent nothing
    assert mine.tally.sent == []


async def test_publish_now_waits_for_the_chats_spacing_then_sends(
    session_factory: SessionFactory, fake_telegram: FakeTelegram, telegram_bot: Bot, target: Channel
) -> None:
    spaced = Policy(limits=Limits(chat_interval=1.0))
    first = await plan(session_factory, await add_post(session_factory, "первый"), target)
    second = await plan(session_factory, await add_post(session_factory, "второй"), target)
    sender = courier(telegram_bot, session_factory, spaced)
    assert await sender.publish_now(first) is PublicationState.SENT
    assert await sender.publish_now(second) is PublicationState.SENT
    one, two = fake_telegram.calls_to("sendMessage")
    assert two.at - one.at >= 1.0
    assert sender.tally.sent == [first, second]


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "waited_out"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (DBAPIError("UPDATE", {}, _DriverError("57P03")), True),  # starting up / shutting down
        (DBAPIError("UPDATE", {}, _DriverError("57P01")), True),  # admin shutdown
        (DBAPIError("UPDATE", {}, _DriverError("08006")), True),  # connection failure
        (OperationalError("UPDATE", {}, _DriverError(None)), True),  # SQLite: database locked
        (IntegrityError("INSERT", {}, _DriverError("23505")), False),  # a refused statement
        (DBAPIError("UPDATE", {}, _DriverError("42P01")), False),
    ],
)
def test_only_an_unreachable_store_is_waited_out(error: Exception, waited_out: bool) -> None:
    assert _unreachable(error) is waited_out
