"""Who may do what: global admins, admins of one target channel, outsiders, floods."""

from __future__ import annotations

import pytest
from aiogram import Bot

from bot.access import ChatAdmins
from bot.handlers.help import COMMANDS
from bot.middlewares import Throttle
from tests.bot.running import (
    ADMIN_A,
    ALPHA,
    BETA,
    GLOBAL,
    OUTSIDER,
    OWNER_B,
    Store,
    ask,
    ask_post,
    two_channels,
)
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import private_message

SECRETS = ("Alpha", "Beta", "Gamma", "alpha_news", "beta_news", "gamma_source", "secret")


# Every command the bot registers, bare and with arguments, and what it does not know.
OUTSIDERS_TRY = (
    *(f"/{name}" for name in COMMANDS),
    *("/start", "/posts alpha_news", "/post 1", "/dup 1", "/nope", "hi"),
    *("/schedule 3 +1h @alpha_news", "/now 3", "/cancel 1", "/addchannel @alpha_news"),
    *("/forward https://t.me/alpha_news/5 +1h", "/autopost add 0 9 * * *", "/tz UTC"),
    *("/autopost add best @alpha_news", "/stats @alpha_news", "/stats alpha_news"),
)


async def test_an_outsider_is_refused_and_learns_nothing(
    fake_telegram: FakeTelegram, migrated_database_url: str
) -> None:
    # One bot for all of them (starting one per command would be most of the suite's time),
    # with throttling loose enough for the lot.
    async with two_channels(fake_telegram, migrated_database_url, throttle_limit=1000) as store:
        await _outsider_tries_everything(store)


async def _outsider_tries_everything(store: Store) -> None:
    for command in OUTSIDERS_TRY:
        text = await ask(store.fake, command, OUTSIDER)
        assert "This bot is private" in text, command
        assert str(OUTSIDER) in text, command
        assert not [secret for secret in SECRETS if secret in text], command
    assert not store.fake.calls_to("sendPhoto")


async def test_a_global_admin_sees_every_channel(store: Store) -> None:
    text = await ask(store.fake, "/posts", GLOBAL)
    assert all(f"{name.title()} secret plans" in text for name in ("alpha", "beta", "gamma"))
    preview, _ = await ask_post(store.fake, store.posts["beta"], GLOBAL)
    assert preview == ["Beta secret plans\nbody"]


@pytest.mark.parametrize(
    ("user", "mine", "theirs"), [(ADMIN_A, "alpha", "beta"), (OWNER_B, "beta", "alpha")]
)
async def test_a_channel_admin_sees_their_channel_only(
    store: Store, user: int, mine: str, theirs: str
) -> None:
    listing = await ask(store.fake, "/posts", user)
    assert f"{mine.title()} secret plans" in listing
    assert f"{theirs.title()} secret plans" not in listing
    assert "Gamma" not in listing
    preview, _ = await ask_post(store.fake, store.posts[mine], user)
    assert preview == [f"{mine.title()} secret plans\nbody"]
    # Another channel's post, and a post of no target, are answered as if they did not exist.
    for name in (theirs, "gamma"):
        other = store.posts[name]
        assert await ask(store.fake, f"/post {other}", user) == f"⚠️ no post with id {other}"
    # Another channel's name finds nothing (it is looked for as words, in one's own posts).
    assert await ask(store.fake, f"/posts {theirs}_news", user) == "No posts match."
    assert "Usage" in await ask(store.fake, "/post", user)


async def test_who_administers_a_channel_is_asked_once_per_few_minutes(store: Store) -> None:
    for _ in range(3):
        await ask(store.fake, "/posts", ADMIN_A)
    asked = [call.params for call in store.fake.calls_to("getChatMember")]
    assert sorted((p["chat_id"], p["user_id"]) for p in asked) == sorted(
        [(ALPHA, ADMIN_A), (BETA, ADMIN_A)]
    )
    await ask(store.fake, "/posts", GLOBAL)  # a global admin needs no asking
    assert len(store.fake.calls_to("getChatMember")) == 2


async def test_a_flood_is_throttled_with_one_reply(store: Store) -> None:
    fake = store.fake

    def to_flooder() -> list[str]:
        calls = fake.calls_to("sendMessage")
        return [c.params["text"] for c in calls if c.params["chat_id"] == GLOBAL]

    for _ in range(25):
        fake.push_update(private_message("/help", user_id=GLOBAL))
    await fake.wait_until(lambda: len(to_flooder()) >= 11, what="the flood answered")
    # Someone else is still answered at once; by their answer the flood was all handled.
    before = len(fake.calls_to("sendMessage"))
    fake.push_update(private_message("/help", user_id=ADMIN_A))
    await fake.wait_until(
        lambda: any(c.params["chat_id"] == ADMIN_A for c in fake.calls_to("sendMessage")[before:]),
        what="the next person answered",
    )
    assert len(to_flooder()) == 11
    assert to_flooder().count(Throttle.TEXT) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_chat_admins_are_remembered_for_the_ttl_then_asked_again(
    fake_telegram: FakeTelegram, telegram_bot: Bot
) -> None:
    fake_telegram.add_chat(ALPHA, type="channel", title="Alpha")
    fake_telegram.set_chat_admins(ALPHA, [ADMIN_A])
    clock = Clock()
    admins = ChatAdmins(ttl=300, clock=clock)
    assert await admins.is_admin(telegram_bot, ALPHA, ADMIN_A)
    assert not await admins.is_admin(telegram_bot, ALPHA, OUTSIDER)
    fake_telegram.set_chat_admins(ALPHA, [OUTSIDER])  # ADMIN_A was demoted
    clock.now += 299
    assert await admins.is_admin(telegram_bot, ALPHA, ADMIN_A)  # still remembered
    clock.now += 2
    assert not await admins.is_admin(telegram_bot, ALPHA, ADMIN_A)
    assert await admins.is_admin(telegram_bot, ALPHA, OUTSIDER)
    assert len(fake_telegram.calls_to("getChatMember")) == 4


async def test_a_chat_the_bot_was_removed_from_has_no_admins(
    fake_telegram: FakeTelegram, telegram_bot: Bot
) -> None:
    fake_telegram.add_chat(ALPHA, type="channel", title="Alpha")
    fake_telegram.set_chat_admins(ALPHA, [ADMIN_A])
    fake_telegram.kick_bot(ALPHA)
    assert not await ChatAdmins().is_admin(telegram_bot, ALPHA, ADMIN_A)
