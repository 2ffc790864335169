"""The bot end to end: the real aiogram client polling the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.running import ask as ask_as
from tests.bot.running import bot_running
from tests.conftest import (
    environment_without_settings,
    stderr_on_failure,
    stop_child,
    tgpipe_command,
)
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.updates import channel_post, private_message
from tests.seed import seed_store

ADMIN = 1001
STRANGER = 2002


@pytest.fixture
async def running_bot(
    fake_telegram: FakeTelegram, migrated_database_url: str
) -> AsyncIterator[FakeTelegram]:
    """`run_bot` polling the fake, on a store with three posts."""
    await seed_store(migrated_database_url)
    async with bot_running(fake_telegram, migrated_database_url, {ADMIN}) as task:
        fake_telegram.bot_task = task  # type: ignore[attr-defined]
        yield fake_telegram


async def ask(fake: FakeTelegram, text: str, user_id: int = ADMIN) -> str:
    return await ask_as(fake, text, user_id)


async def test_startup_registers_commands(running_bot: FakeTelegram) -> None:
    (call,) = running_bot.calls_to("setMyCommands")
    names = [command["command"] for command in call.params["commands"]]
    assert names == [
        *("help", "posts", "post", "dup", "channels", "addchannel", "schedule", "now"),
        *("forward", "queue", "cancel", "autopost", "watch", "import", "stats", "tz"),
    ]


async def test_help_for_admins(running_bot: FakeTelegram) -> None:
    for command in ("/start", "/help"):
        text = await ask(running_bot, command)
        assert "/posts" in text
        assert "/post " in text


async def test_strangers_are_refused_with_their_id(running_bot: FakeTelegram) -> None:
    for command in ("/help", "/posts", "hello"):
        text = await ask(running_bot, command, user_id=STRANGER)
        assert "only the admins" in text
        assert str(STRANGER) in text


async def test_unknown_command_from_admin(running_bot: FakeTelegram) -> None:
    assert "Unknown command" in await ask(running_bot, "/frobnicate")


async def test_posts_lists_the_store(running_bot: FakeTelegram) -> None:
    text = await ask(running_bot, "/posts")
    assert "<code>#1</code> 2024-05-01 Новая модель · 55❤" in text
    assert "<code>#2</code> 2024-05-02 (media only)" in text
    assert "#3" not in text  # a duplicate


async def test_post_shows_one_post_and_its_sources(running_bot: FakeTelegram) -> None:
    text = await ask(running_bot, "/post 1")
    assert "<b>#1</b> · @nn_for_science · draft" in text
    assert "forwarded from Other Channel" in text
    assert "• @nn_for_science, export/result.json (desktop-json) #10" in text
    # The seeded third post is its near duplicate: named with why, and its sighting listed.
    assert "duplicates: #3 (near duplicate 0.91)" in text
    assert "• @nn_for_science, export/result.json (desktop-json) #12" in text
    duplicate = await ask(running_bot, "/post 3")
    assert "duplicate of #1 (near duplicate 0.91)" in duplicate


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/post 999", "⚠️ no post with id 999"),
        ("/posts nosuchchannel", "No posts match."),
        ("/post", "Usage: /post ID"),
        ("/schedule 1 +1h", "⚠️ no publishing target yet: make the bot an admin of your"),
        ("/channels", "No publishing targets yet."),
        ("/queue", "The queue is empty."),
        ("/autopost", "No autopost rules."),
    ],
)
async def test_errors_become_replies(
    running_bot: FakeTelegram, command: str, expected: str
) -> None:
    assert (await ask(running_bot, command)).startswith(expected)


async def test_silent_in_channels(running_bot: FakeTelegram) -> None:
    running_bot.push_update(channel_post(-1001234567890, 5, "/help"))
    await ask(running_bot, "/help")  # a later update was handled, so the post was seen
    assert all(call.params["chat_id"] == ADMIN for call in running_bot.calls_to("sendMessage"))


async def test_stopping_lets_commands_in_progress_finish(
    running_bot: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiogram.event")
    running_bot.delay("sendMessage", 1.0)
    update_id = running_bot.push_update(private_message("/help", user_id=ADMIN))
    await running_bot.wait_for("sendMessage")  # the reply is on its way when the stop comes
    task = running_bot.bot_task  # type: ignore[attr-defined]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    handled = [
        r.getMessage() for r in caplog.records if f"Update id={update_id} is" in r.getMessage()
    ]
    assert handled
    assert all(" is handled" in line for line in handled), handled


def test_tgpipe_run_stops_cleanly_on_sigterm(
    fake_telegram_thread: FakeTelegram, tmp_path: Path
) -> None:
    env = environment_without_settings()
    env.update(fake_telegram_thread.env, TGPIPE_ADMIN_IDS=str(ADMIN))
    process = subprocess.Popen(
        tgpipe_command("run"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with stderr_on_failure(process):
        fake_telegram_thread.wait_for_sync("getUpdates", timeout=30)
        fake_telegram_thread.push_update(private_message("/help", user_id=ADMIN))
        (reply,) = fake_telegram_thread.wait_for_sync("sendMessage", timeout=10)
        assert "/posts" in reply.params["text"]
    stderr = stop_child(process, timeout=20)  # SIGTERM
    assert process.returncode == 0, stderr
    assert "tgpipe stopped" in stderr
    assert fake_telegram_thread.token not in stderr
    assert fake_telegram_thread.token.split(":")[1] not in stderr


def test_tgpipe_run_without_token(tmp_path: Path) -> None:
    env = environment_without_settings()
    run = subprocess.run(
        tgpipe_command("run"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        "tgpipe: error: TGPIPE_BOT_TOKEN is not set: `tgpipe run` needs the token from @BotFather"
    )
