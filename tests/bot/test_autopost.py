"""/autopost from Telegram: rules listed, added, paused, resumed and removed, each admin's
for their own chats; a channel admin's rule posts that chat's own drafts only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.handlers.autopost import RuleAction, RuleTo
from pipeline.publish.autopost import pick_draft
from pipeline.store.db import unit_of_work
from pipeline.store.models import AutopostRule, Channel, ImportRun, Post, PostSource
from tests.bot.running import ADMIN_A, GLOBAL, OUTSIDER, Store, ask, press


async def rules(store: Store) -> list[tuple[int, int, str, str, bool, bool]]:
    async with unit_of_work(store.factory) as session:
        found = await session.scalars(select(AutopostRule).order_by(AutopostRule.id))
        return [(r.id, r.channel_id, r.cron, r.timezone, r.enabled, r.own_drafts) for r in found]


async def test_adding_rules(store: Store) -> None:
    reply = await ask(store.fake, "/autopost add 0 9 * * * @alpha_news Europe/Berlin", GLOBAL)
    assert reply.startswith("✅ Rule 1 added, posting drafts from the whole store:")
    assert "<code>0 9 * * *</code> (Europe/Berlin)" in reply
    mine = await ask(store.fake, "/autopost add 30 8 * * 1-5", ADMIN_A)  # their one chat
    assert mine.startswith("✅ Rule 2 added, posting its own drafts:")
    alpha = store.channels["alpha"]
    assert await rules(store) == [
        (1, alpha, "0 9 * * *", "Europe/Berlin", True, False),
        (2, alpha, "30 8 * * 1-5", "UTC", True, True),
    ]


async def test_each_admin_sees_and_touches_their_chats_rules(store: Store) -> None:
    await ask(store.fake, "/autopost add 0 9 * * * @beta_news", GLOBAL)
    await ask(store.fake, "/autopost add 0 10 * * * @alpha_news", GLOBAL)
    listing = await ask(store.fake, "/autopost", ADMIN_A)
    assert "<b>2</b> → @alpha_news" in listing
    assert "beta" not in listing
    everything = await ask(store.fake, "/autopost", GLOBAL)
    assert "<b>1</b> → @beta_news" in everything
    for verb in ("pause", "resume", "remove"):
        assert await ask(store.fake, f"/autopost {verb} 1", ADMIN_A) == (
            "⚠️ no autopost rule with id 1"
        )
        data = RuleAction(action=verb, id=1).pack()
        assert await press(store, ADMIN_A, data) == "⚠️ no autopost rule with id 1"
    await ask(store.fake, "/help", OUTSIDER)
    assert "This bot is private" in await press(
        store, OUTSIDER, RuleAction(action="remove", id=1).pack()
    )
    assert [r[0] for r in await rules(store)] == [1, 2]


async def test_pause_resume_remove_by_button_and_command(store: Store) -> None:
    await ask(store.fake, "/autopost add 0 9 * * *", ADMIN_A)
    await ask(store.fake, "/autopost", ADMIN_A)
    assert await press(store, ADMIN_A, RuleAction(action="pause", id=1).pack()) == "Rule 1 paused."
    assert (await rules(store))[0][4] is False
    (edit,) = store.fake.calls_to("editMessageText")
    assert "⏸ paused" in edit.params["text"]
    assert await ask(store.fake, "/autopost resume 1", ADMIN_A) == "Rule 1 resumed."
    assert (await rules(store))[0][4] is True
    await ask(store.fake, "/autopost", ADMIN_A)
    assert await press(store, ADMIN_A, RuleAction(action="remove", id=1).pack()) == (
        "Rule 1 removed."
    )
    assert await rules(store) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/autopost frobnicate", "Usage:\n/autopost"),
        ("/autopost add", "Usage:\n/autopost"),
        ("/autopost add 61 9 * * * @alpha_news", "⚠️ "),
        ("/autopost add 0 9 * * * @alpha_news Mars/Base", "⚠️ "),
        ("/autopost add 0 9 *", "⚠️ "),  # told before any chat is asked for
        ("/autopost pause 99", "⚠️ no autopost rule with id 99"),
    ],
)
async def test_bad_input(store: Store, command: str, expected: str) -> None:
    assert (await ask(store.fake, command, GLOBAL)).startswith(expected)
    assert await rules(store) == []


async def test_a_chats_own_drafts_are_its_posts_and_uploads_for_it(store: Store) -> None:
    async with unit_of_work(store.factory) as session:
        alpha = await session.get_one(Channel, store.channels["alpha"])
        run = ImportRun(requested_by=str(ADMIN_A), into_channel_id=alpha.id)
        elsewhere = Post(text="Somebody else's draft", entities=[], media=[])
        uploaded = Post(text="Uploaded for alpha", entities=[], media=[])
        session.add_all([run, elsewhere, uploaded])
        await session.flush()
        session.add(
            PostSource(
                post_id=uploaded.id,
                import_run_id=run.id,
                file="u.json",
                format="desktop-json",
                fingerprint="f",
            )
        )
        await session.flush()
        assert await pick_draft(session, alpha, own_drafts=True) == uploaded.id
        # The whole store's oldest draft the chat does not have: another channel's.
        assert await pick_draft(session, alpha) == store.posts["beta"]


async def test_a_rule_without_a_chat_asks_which_with_buttons(store: Store) -> None:
    question = await ask(store.fake, "/autopost add 30 8 * * 1-5 Europe/Berlin", GLOBAL)
    assert question == "Which chat should the rule post to?"
    assert await rules(store) == []
    await ask(store.fake, "/help", OUTSIDER)
    beta = RuleTo(chat=store.channels["beta"]).pack()
    assert "This bot is private" in await press(store, OUTSIDER, beta)
    await ask(store.fake, "/autopost add 0 9 * * *", GLOBAL)  # asked again: the last one counts
    await press(store, GLOBAL, beta)
    edit = await store.fake.wait_for("editMessageText")
    assert edit[-1].params["text"].startswith("✅ Rule 1 added, posting drafts from the whole")
    assert "<code>0 9 * * *</code> (UTC)" in edit[-1].params["text"]
    ((_, chat, cron, zone, enabled, _),) = await rules(store)
    assert (chat, cron, zone, enabled) == (store.channels["beta"], "0 9 * * *", "UTC", True)
    assert "no longer waiting" in await press(store, GLOBAL, beta)
    assert len(await rules(store)) == 1
