"""/stats from Telegram: the figures, the chart as a photo, the choice of channel, scope."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.handlers.stats import StatsOf
from pipeline.store.db import unit_of_work
from pipeline.store.models import AutopostRule
from tests.bot.running import ADMIN_A, GLOBAL, OUTSIDER, Store, ask, press
from tests.fake_telegram.server import ApiCall
from tests.history import add_history, daily_at

START = datetime(2026, 9, 1, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


async def alpha_history(store: Store) -> None:
    alpha = store.channels["alpha"]
    await add_history(store.factory, alpha, daily_at(19, 40, 30, START), 100)
    await add_history(store.factory, alpha, daily_at(8, 40, 4, START), 200)


async def photo_to(store: Store, user_id: int, count: int = 1) -> ApiCall:
    calls = await store.fake.wait_for("sendPhoto", count=count)
    call = calls[count - 1]
    assert call.params["chat_id"] == user_id
    return call


async def test_a_channel_admin_gets_their_channels_figures_and_chart(store: Store) -> None:
    await alpha_history(store)
    text = await ask(store.fake, "/stats", ADMIN_A)  # one channel of theirs: no question
    assert text.startswith("📊 <b>@alpha_news (hours in UTC)</b>\nMessages: 81 (81 from exports")
    assert "Best hours: 17:00" in text  # 19:05 in Berlin is 17:05 UTC in its summer time
    photo = await photo_to(store, ADMIN_A)
    assert photo.params["photo"].content.startswith(PNG)
    assert photo.params["caption"] == "📈 @alpha_news: best hours and recent reactions"
    # Their /tz is the zone the hours are read in.
    await ask(store.fake, "/tz Europe/Berlin", ADMIN_A)
    assert "Best hours: 19:00" in await ask(store.fake, "/stats @alpha_news", ADMIN_A)


async def test_another_admins_channel_is_not_found(store: Store) -> None:
    await alpha_history(store)
    reply = await ask(store.fake, "/stats @beta_news", ADMIN_A)
    assert reply.startswith("⚠️ no channel '@beta_news' (known channels: @alpha_news)")
    await ask(store.fake, "/help", ADMIN_A)
    alert = await press(store, ADMIN_A, StatsOf(chat=store.channels["beta"]).pack())
    assert alert == "⚠️ no such channel"
    await ask(store.fake, "/help", OUTSIDER)
    for chat in store.channels.values():
        assert "This bot is private" in await press(store, OUTSIDER, StatsOf(chat=chat).pack())
    assert not store.fake.calls_to("sendPhoto")


async def test_a_global_admin_chooses_the_channel_with_a_button(store: Store) -> None:
    await alpha_history(store)
    question = await ask(store.fake, "/stats", GLOBAL)
    assert question == "📊 Stats of which channel?"
    (message,) = [m for m in store.fake.messages_in(GLOBAL) if m.get("text") == question]
    buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["@alpha_news", "@beta_news", "@gamma_source"]
    await press(store, GLOBAL, StatsOf(chat=store.channels["alpha"]).pack())
    photo = await photo_to(store, GLOBAL)
    assert photo.params["photo"].content.startswith(PNG)
    # A channel with a post but no reactions: the figures, and a sentence instead of a chart.
    text = await ask(store.fake, "/stats @beta_news", GLOBAL)
    assert "No reactions recorded on them yet" in text
    assert len(store.fake.calls_to("sendPhoto")) == 1


async def test_an_autopost_rule_at_the_best_hours(store: Store) -> None:
    await alpha_history(store)
    reply = await ask(store.fake, "/autopost add best 2 Europe/Berlin", ADMIN_A)
    assert reply.startswith("✅ Rule 1 added, posting its own drafts:")
    assert "<code>0 8,19 * * *</code> (its 2 best hours) (Europe/Berlin)" in reply
    async with unit_of_work(store.factory) as session:
        (rule,) = (await session.scalars(select(AutopostRule))).all()
    assert (rule.cron, rule.best_hours) == ("0 8,19 * * *", 2)
    refused = await ask(store.fake, "/autopost add best @beta_news", GLOBAL)
    assert refused.startswith("⚠️ @beta_news has too little history to tell its best hours")
