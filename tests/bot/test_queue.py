"""Publishing from a private chat: /channels, /schedule, /now, /queue and its buttons,
/cancel — for a global admin, a channel admin (who touches their chat only), an outsider."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.handlers.queue import ForwardTo, QueueAction
from pipeline.store.db import unit_of_work
from pipeline.store.models import Publication, PublicationState
from tests.bot.running import (
    ADMIN_A,
    ALPHA,
    GLOBAL,
    OUTSIDER,
    Store,
    ask,
    press,
    reply_to,
)
from tests.fake_telegram.updates import private_message


async def publications(store: Store) -> list[tuple[int, int, str]]:
    """(id, channel id, state) of every publication."""
    async with unit_of_work(store.factory) as session:
        rows = await session.execute(
            select(Publication.id, Publication.channel_id, Publication.state).order_by(
                Publication.id
            )
        )
        return [(pid, channel, state.value) for pid, channel, state in rows]


async def test_channels_shows_ones_own_chats(store: Store) -> None:
    everything = await ask(store.fake, "/channels", GLOBAL)
    assert "@alpha_news" in everything
    assert "@beta_news" in everything
    mine = await ask(store.fake, "/channels", ADMIN_A)
    assert "@alpha_news" in mine
    assert "beta" not in mine.lower()


async def test_schedule_plans_a_post_for_the_named_chat(store: Store) -> None:
    post = store.posts["gamma"]
    reply = await ask(store.fake, f"/schedule {post} +1h @alpha_news", GLOBAL)
    assert reply.startswith(f"🗓 Publication <b>1</b>: post {post} to @alpha_news at ")
    assert await publications(store) == [(1, store.channels["alpha"], "scheduled")]


async def test_a_channel_admin_publishes_only_what_they_may_see(store: Store) -> None:
    # Their channel's own post is in that channel already (the guard says so) ...
    reply = await ask(store.fake, f"/schedule {store.posts['alpha']} +1h", ADMIN_A)
    assert reply.startswith(f"⚠️ post {store.posts['alpha']} is already in @alpha_news")
    # ... and posts of other channels are not theirs to see.
    for name in ("beta", "gamma"):
        post = store.posts[name]
        assert await ask(store.fake, f"/schedule {post} +1h", ADMIN_A) == (
            f"⚠️ no post with id {post}"
        )
    assert await publications(store) == []


async def test_with_several_chats_the_bot_asks_which(store: Store) -> None:
    question = await ask(store.fake, f"/schedule {store.posts['gamma']} +1h", GLOBAL)
    assert question == f"Where should post {store.posts['gamma']} go?"
    (call,) = [c for c in store.fake.calls_to("sendMessage") if c.params["text"] == question]
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["@alpha_news", "@beta_news"]
    assert await publications(store) == []
    await press(store, GLOBAL, buttons[1]["callback_data"])
    assert await publications(store) == [(1, store.channels["beta"], "scheduled")]
    (edit,) = store.fake.calls_to("editMessageText")
    assert "to @beta_news at " in edit.params["text"]


async def test_a_forged_chat_button_changes_nothing(store: Store) -> None:
    for user in (ADMIN_A, OUTSIDER):
        await ask(store.fake, "/help", user)  # a message of the bot's to press under
    data = f"plan:{store.posts['alpha']}:{store.channels['beta']}:2000000000"
    assert await press(store, ADMIN_A, data) == "That chat is not one of yours."
    assert await press(store, OUTSIDER, data) == (
        "This bot is private: only the admins of its channels can use it."
    )
    assert await publications(store) == []


async def test_now_publishes_at_once(store: Store) -> None:
    reply = await ask(store.fake, f"/now {store.posts['gamma']} @alpha_news", GLOBAL)
    assert "to @alpha_news now" in reply
    await store.fake.wait_until(lambda: store.fake.messages_in(ALPHA), what="the post sent")
    assert store.fake.messages_in(ALPHA)[-1]["text"].startswith("Gamma secret plans")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/schedule", "Usage: /schedule ID WHEN [CHAT]"),
        ("/schedule abc +1h", "Usage: /schedule ID WHEN [CHAT]"),
        ("/schedule 1", "Usage: /schedule ID WHEN [CHAT]"),
        ("/schedule 1 25:99 @alpha_news", "⚠️ WHEN '25:99': not a time"),
        ("/schedule 1 yesterday @alpha_news", "⚠️ WHEN 'yesterday': not a time"),
        ("/schedule 1 2020-01-01T10:00 @alpha_news", "that is in the past"),
        ("/schedule 999 +1h @alpha_news", "⚠️ no post with id 999"),
        ("/schedule 1 +1h @beta_news", "⚠️ @beta_news is not a publishing target"),
        ("/schedule 2 +1h @alpha_news", "⚠️ no post with id 2"),
        ("/now", "Usage: /now ID [CHAT]"),
        ("/now 1 +1h @alpha_news", "Usage: /now ID [CHAT]"),
        ("/cancel", "Usage: /cancel ID"),
        ("/cancel x", "Usage: /cancel ID"),
        ("/cancel 999", "⚠️ no publication with id 999"),
    ],
)
async def test_bad_input_is_explained_and_changes_nothing(
    store: Store, command: str, expected: str
) -> None:
    reply = await ask(store.fake, command, ADMIN_A)
    assert expected in reply
    assert "Beta" not in reply  # another admin's chat is not named
    assert await publications(store) == []


async def _planned(store: Store, chat: str) -> int:
    """A publication of the source channel's post to ``chat``, planned by a global admin."""
    await ask(store.fake, f"/schedule {store.posts['gamma']} +1h @{chat}", GLOBAL)
    return (await publications(store))[-1][0]


async def test_queue_lists_ones_own_publications_with_buttons(store: Store) -> None:
    mine = await _planned(store, "alpha_news")
    theirs = await _planned(store, "beta_news")
    text = await ask(store.fake, "/queue", ADMIN_A)
    assert f"<b>{mine}</b>" in text
    assert f"<b>{theirs}</b>" not in text
    assert "beta" not in text.lower()
    markup = store.fake.calls_to("sendMessage")[-1].params["reply_markup"]
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert labels == [f"✖ Cancel {mine}", f"🕑 Move {mine}", f"🚀 Now {mine}"]
    everything = await ask(store.fake, "/queue", GLOBAL)
    assert f"<b>{mine}</b>" in everything
    assert f"<b>{theirs}</b>" in everything


async def test_the_cancel_button_cancels_and_redraws_the_queue(store: Store) -> None:
    pid = await _planned(store, "alpha_news")
    await ask(store.fake, "/queue", ADMIN_A)
    assert await press(store, ADMIN_A, QueueAction(action="cancel", id=pid).pack()) == (
        f"Publication {pid} cancelled."
    )
    assert (await publications(store))[0][2] == "cancelled"
    (edit,) = store.fake.calls_to("editMessageText")
    assert edit.params["text"].startswith("The queue is empty")


async def test_another_chats_publication_cannot_be_touched(store: Store) -> None:
    theirs = await _planned(store, "beta_news")
    await ask(store.fake, "/queue", ADMIN_A)
    await ask(store.fake, "/help", OUTSIDER)  # a message of the bot's to press under
    for action in ("cancel", "now", "move", "sent", "again"):
        data = QueueAction(action=action, id=theirs).pack()
        assert await press(store, ADMIN_A, data) == f"⚠️ no publication with id {theirs}"
        assert await press(store, OUTSIDER, data) == (
            "This bot is private: only the admins of its channels can use it."
        )
    assert "⚠️ no publication with id" in await ask(store.fake, f"/cancel {theirs}", ADMIN_A)
    assert (await publications(store))[0][2] == "scheduled"


async def test_move_asks_for_a_time_and_moves(store: Store) -> None:
    pid = await _planned(store, "alpha_news")
    await ask(store.fake, "/queue", ADMIN_A)
    await press(store, ADMIN_A, QueueAction(action="move", id=pid).pack())
    assert store.fake.messages_in(ADMIN_A)[-1]["text"].startswith(
        f"When should publication {pid} go out instead?"
    )
    assert "⚠️ WHEN '25:99'" in await ask(store.fake, "25:99", ADMIN_A)  # asked again
    reply = await ask(store.fake, "+3h", ADMIN_A)
    assert reply.startswith(f"🕑 Publication {pid} moved to ")
    # Answered: plain text is no longer taken for a time.
    assert "Unknown command" in await ask(store.fake, "+4h", ADMIN_A)


async def test_the_now_button_sends_at_once(store: Store) -> None:
    pid = await _planned(store, "alpha_news")
    await ask(store.fake, "/queue", ADMIN_A)
    assert await press(store, ADMIN_A, QueueAction(action="now", id=pid).pack()) == (
        f"Publication {pid} is being sent."
    )
    await store.fake.wait_until(lambda: store.fake.messages_in(ALPHA), what="the post sent")


@pytest.mark.parametrize(("action", "state"), [("sent", "sent"), ("again", None)])
async def test_an_unknown_delivery_is_settled_by_a_button(
    store: Store, action: str, state: str | None
) -> None:
    pid = await _planned(store, "alpha_news")
    async with unit_of_work(store.factory) as session:
        publication = await session.get_one(Publication, pid)
        publication.state = PublicationState.UNKNOWN
    text = await ask(store.fake, "/queue", ADMIN_A)
    assert "sent or not?" in text
    markup = store.fake.calls_to("sendMessage")[-1].params["reply_markup"]
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert labels == [f"✔ It was sent {pid}", f"↻ Send again {pid}"]
    await press(store, ADMIN_A, QueueAction(action=action, id=pid).pack())
    if state is not None:
        assert (await publications(store))[0][2] == state
    else:  # sent again: due now, so the courier sends it
        await store.fake.wait_until(lambda: store.fake.messages_in(ALPHA), what="sent again")


DELTA = -1001600000004


@pytest.mark.parametrize(
    ("user", "bot_is_admin", "user_is_admin", "expected"),
    [
        (GLOBAL, True, False, "✅ @delta_news (channel, Delta) is a publishing target."),
        (ADMIN_A, True, True, "✅ @delta_news (channel, Delta) is a publishing target."),
        (ADMIN_A, True, False, "⚠️ you are not an administrator of @delta_news"),
        (GLOBAL, False, False, "⚠️ cannot post to @delta_news: the bot is not a member there"),
    ],
)
async def test_addchannel_checks_the_chat_and_who_asks(
    store: Store, user: int, bot_is_admin: bool, user_is_admin: bool, expected: str
) -> None:
    store.fake.add_chat(
        DELTA, type="channel", title="Delta", username="delta_news", bot_is_admin=bot_is_admin
    )
    store.fake.set_chat_admins(
        DELTA, [9999, *([user] if user_is_admin else [])], bot_is_admin=bot_is_admin
    )
    reply = await ask(store.fake, "/addchannel @delta_news", user)
    assert reply.startswith(expected)
    listing = await ask(store.fake, "/channels", user)
    assert ("@delta_news" in listing) == expected.startswith("✅")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/addchannel", "Usage: /addchannel CHAT"),
        ("/addchannel @nowhere_at_all", "⚠️ cannot post to @nowhere_at_all: Telegram does not"),
    ],
)
async def test_addchannel_bad_input(store: Store, command: str, expected: str) -> None:
    assert (await ask(store.fake, command, GLOBAL)).startswith(expected)


async def _forwards(store: Store) -> list[tuple[str, list[int], int, str]]:
    async with unit_of_work(store.factory) as session:
        rows = await session.scalars(select(Publication).order_by(Publication.id))
        return [
            (p.from_chat or "", list(p.from_message_ids), p.channel_id, p.mode.value) for p in rows
        ]


async def test_forward_a_message_by_its_link(store: Store) -> None:
    reply = await ask(store.fake, "/forward https://t.me/SomeChannel/123 +1h @alpha_news", GLOBAL)
    assert reply.startswith(
        "↪️ Publication <b>1</b>: forward of @somechannel #123 to @alpha_news at "
    )
    mine = await ask(store.fake, "/forward t.me/c/1234567890/45 +2h", ADMIN_A)  # their one chat
    assert "forward of -1001234567890 #45 to @alpha_news" in mine
    alpha = store.channels["alpha"]
    assert await _forwards(store) == [
        ("@somechannel", [123], alpha, "forward"),
        ("-1001234567890", [45], alpha, "forward"),
    ]


async def test_forward_in_reply_to_a_forwarded_message(store: Store) -> None:
    update = private_message("/forward +2h @alpha_news", user_id=GLOBAL)
    update["message"]["reply_to_message"] = {
        "message_id": 5,
        "from": {"id": GLOBAL, "is_bot": False, "first_name": "Admin"},
        "chat": update["message"]["chat"],
        "date": update["message"]["date"] - 60,
        "text": "Breaking news",
        "forward_origin": {
            "type": "channel",
            "chat": {
                "id": -1001777000001,
                "type": "channel",
                "title": "Newsy",
                "username": "newsy",
            },
            "message_id": 77,
            "date": update["message"]["date"] - 3600,
        },
    }
    before = len(store.fake.calls_to("sendMessage"))
    store.fake.push_update(update)
    reply = (await reply_to(store.fake, GLOBAL, before)).params["text"]
    assert "forward of @newsy #77 to @alpha_news" in reply
    assert await _forwards(store) == [("@newsy", [77], store.channels["alpha"], "forward")]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/forward", "Usage: /forward LINK WHEN [CHAT]"),
        ("/forward +1h", "Usage: /forward LINK WHEN [CHAT]"),
        ("/forward https://t.me/somechannel/1", "Usage: /forward LINK WHEN [CHAT]"),
        ("/forward t.me/durov +1h", "⚠️ 't.me/durov' is not a message link"),
        ("/forward https://t.me/somechannel/1 25:99", "⚠️ WHEN '25:99': not a time"),
        (
            "/forward https://t.me/somechannel/1 +1h @beta_news",
            "⚠️ @beta_news is not a publishing target",
        ),
    ],
)
async def test_forward_bad_input(store: Store, command: str, expected: str) -> None:
    assert expected in await ask(store.fake, command, ADMIN_A)
    assert await _forwards(store) == []


async def test_a_forward_without_a_chat_asks_which_with_buttons(store: Store) -> None:
    question = await ask(store.fake, "/forward https://t.me/SomeChannel/123 +1h", GLOBAL)
    assert question == "Where should @somechannel #123 be forwarded?"
    assert await _forwards(store) == []
    await ask(store.fake, "/help", ADMIN_A)
    beta = ForwardTo(chat=store.channels["beta"]).pack()
    assert await press(store, ADMIN_A, beta) == "⚠️ no such chat"  # not theirs
    await press(store, GLOBAL, beta)  # under the question
    edit = await store.fake.wait_for("editMessageText")
    assert (
        edit[-1]
        .params["text"]
        .startswith("↪️ Publication <b>1</b>: forward of @somechannel #123 to @beta_news at ")
    )
    assert await _forwards(store) == [("@somechannel", [123], store.channels["beta"], "forward")]
    assert "no longer waiting" in await press(store, GLOBAL, beta)
