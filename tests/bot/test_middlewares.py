"""The dispatcher's middlewares on their own: throttling people who flood the bot."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Message, TelegramObject

from bot.middlewares import Throttle
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import private_message

USER = 4004
GROUP = -1001800000001


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def _handled(event: TelegramObject, data: dict[str, Any]) -> str:
    return "handled"


def _message(bot: Bot, chat_id: int | None = None) -> Message:
    payload = private_message("/help", user_id=USER, chat_id=chat_id)["message"]
    return Message.model_validate(payload, context={"bot": bot})


async def _send(throttle: Throttle, bot: Bot, chat_id: int | None = None) -> object:
    message = _message(bot, chat_id)
    return await throttle(_handled, message, {"event_from_user": message.from_user})


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_past_the_limit_one_reply_then_silence_until_the_window_moves(
    fake_telegram: FakeTelegram, telegram_bot: Bot, clock: Clock
) -> None:
    fake_telegram.add_user(USER)
    throttle = Throttle(limit=3, window=10.0, clock=clock)
    results = [await _send(throttle, telegram_bot) for _ in range(6)]
    assert results == ["handled"] * 3 + [None] * 3
    (told,) = fake_telegram.calls_to("sendMessage")
    assert told.params == {"chat_id": USER, "text": Throttle.TEXT}
    clock.now += 10.0  # the first requests leave the window
    assert [await _send(throttle, telegram_bot) for _ in range(4)] == ["handled"] * 3 + [None]
    # A new flood is told again, once.
    assert len(fake_telegram.calls_to("sendMessage")) == 2


async def test_messages_in_groups_are_not_counted(
    fake_telegram: FakeTelegram, telegram_bot: Bot, clock: Clock
) -> None:
    throttle = Throttle(limit=1, window=10.0, clock=clock)
    assert [await _send(throttle, telegram_bot, GROUP) for _ in range(5)] == ["handled"] * 5
    assert await _send(throttle, telegram_bot) == "handled"
    assert fake_telegram.calls_to("sendMessage") == []
