"""Admin notices carry buttons to act on them: settle an unknown delivery, send a failed
or missed one now, pause an autopost rule with nothing left."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import scheduler
from pipeline.publish.notices import tell
from pipeline.store.db import unit_of_work
from pipeline.store.models import Publication, PublicationState
from tests.bot.running import ALPHA, GLOBAL, Store, ask, press


@pytest.fixture(autouse=True)
def notices_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot sends notices every 2 s; here every 0.05 s, so tests wait on them less."""
    monkeypatch.setattr(scheduler, "NOTIFY_SECONDS", 0.05)


async def _notice(store: Store, key: str, text: str) -> list[tuple[str, str]]:
    """Tell the admins ``text``; the buttons under it as GLOBAL got it."""
    async with unit_of_work(store.factory) as session:
        await tell(session, key, text)

    def told() -> list[object]:
        calls = store.fake.calls_to("sendMessage")
        return [c for c in calls if c.params["chat_id"] == GLOBAL and c.params["text"] == text]

    await store.fake.wait_until(lambda: told(), timeout=10, what="the notice sent")
    (call,) = told()
    rows = call.params.get("reply_markup", {}).get("inline_keyboard", [])  # type: ignore[attr-defined]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def _state(store: Store, pid: int) -> PublicationState:
    async with unit_of_work(store.factory) as session:
        return (await session.scalars(select(Publication.state).where(Publication.id == pid))).one()


async def test_an_unknown_delivery_is_settled_from_its_notice(store: Store) -> None:
    await ask(store.fake, f"/schedule {store.posts['gamma']} +1h @alpha_news", GLOBAL)
    async with unit_of_work(store.factory) as session:
        publication = await session.get_one(Publication, 1)
        publication.state = PublicationState.UNKNOWN
    buttons = await _notice(store, "unknown:1", "❓ Publication 1: sent or not?")
    assert [label for label, _ in buttons] == ["✔ It was sent", "↻ Send again"]
    assert await press(store, GLOBAL, buttons[0][1]) == "Publication 1 marked sent."
    assert await _state(store, 1) is PublicationState.SENT
    (edit,) = store.fake.calls_to("editMessageReplyMarkup")  # the buttons are gone
    assert "reply_markup" not in edit.params or not edit.params["reply_markup"]


async def test_a_failed_publication_is_sent_again_from_its_notice(store: Store) -> None:
    await ask(store.fake, f"/schedule {store.posts['gamma']} +1h @alpha_news", GLOBAL)
    async with unit_of_work(store.factory) as session:
        (await session.get_one(Publication, 1)).state = PublicationState.FAILED
    buttons = await _notice(store, "failed:1", "⚠️ Publication 1 failed.")
    assert [label for label, _ in buttons] == ["🚀 Send now"]
    await press(store, GLOBAL, buttons[0][1])
    await store.fake.wait_until(lambda: store.fake.messages_in(ALPHA), what="sent again")


async def test_an_empty_rule_is_paused_from_its_notice(store: Store) -> None:
    await ask(store.fake, "/autopost add 0 9 * * * @alpha_news", GLOBAL)
    buttons = await _notice(store, "autopost-empty:1:2026-12-05T09:00", "📭 Rule 1: nothing left.")
    assert [label for label, _ in buttons] == ["⏸ Pause the rule"]
    assert await press(store, GLOBAL, buttons[0][1]) == "Rule 1 paused."
    assert "⏸ paused" in await ask(store.fake, "/autopost", GLOBAL)


async def test_notices_without_an_action_have_no_buttons(store: Store) -> None:
    assert await _notice(store, "rights:1:2026-12-05T09:00", "🚫 the bot was removed") == []
