"""Issue #9's "done when", from a private chat alone: a channel admin uploads exports,
previews a post, schedules it and an autopost rule, sees it published on time, and a day
later gets the chart of its reactions and the channel's best hours — while an outsider,
sending the same commands and pressing the same buttons, can do nothing and learns nothing.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.handlers.autopost import RuleAction
from bot.handlers.queue import PostAction, QueueAction
from bot.handlers.stats import StatsOf
from pipeline.store.db import unit_of_work
from pipeline.store.models import AutopostRule, Publication, PublicationState
from tests.bot.running import ADMIN_A, ALPHA, OUTSIDER, Store, ask, ask_post, press
from tests.bot.test_imports import upload
from tests.fake_telegram.updates import reaction_count_update
from tests.history import BERLIN
from tests.pipeline.dedup.exports import Message

DEMO = Path(__file__).parents[2] / "examples" / "demo-channel" / "result.json"


def alpha_export() -> bytes:
    """@alpha_news's own Desktop export: 40 days, posts at 19:05 Berlin drawing six times
    what those at 08:05 draw."""
    start = datetime(2026, 9, 1, tzinfo=BERLIN)
    messages: list[Message] = []
    for day in range(40):
        for hour, likes in ((8, 5), (19, 30)):
            when = (start + timedelta(days=day)).replace(hour=hour, minute=5).astimezone(UTC)
            text = f"Alpha news of day {day} at {hour}: what happened, and why it matters"
            # Ids clear of the fake's numbering of what tgpipe sends there (1, 2, ...).
            messages.append(Message(1000 + len(messages), text, when, {"👍": likes}))
    export = {
        "name": "Alpha",
        "type": "public_channel",
        "id": 1600000001,  # @alpha_news, -1001600000001 to the Bot API
        "messages": [message.to_json() for message in messages],
    }
    return json.dumps(export, ensure_ascii=False).encode()


async def test_a_channel_admins_day_from_a_private_chat(store: Store) -> None:
    fake = store.fake
    # 1. The channel's history, then content to publish, uploaded as documents.
    history = await upload(store, ADMIN_A, "result.json", alpha_export())
    assert history.startswith("✅ result.json (desktop-json): 80 posts read — 80 new"), history
    content = await upload(store, ADMIN_A, "demo.json", DEMO.read_bytes())
    assert content.startswith("✅ demo.json (desktop-json): "), content

    # 2. Find a post and preview it exactly as it will be published.
    listing = await ask(fake, "/posts Tip 1", ADMIN_A)
    post_id = int(listing.split("<code>#", 1)[1].split("</code>", 1)[0])
    preview, info = await ask_post(fake, post_id, ADMIN_A)
    assert preview[0].startswith("Tip 1: post at the same time every day")
    assert info.startswith(f"<b>#{post_id}</b>")

    # 3. Schedule it a moment ahead, and see it published on time.
    planned_at = time.time()
    planned = await ask(fake, f"/schedule {post_id} +2s", ADMIN_A)
    assert planned.startswith("🗓 Publication <b>1</b>"), planned
    await fake.wait_until(lambda: fake.messages_in(ALPHA), timeout=15, what="the publication")
    (sent,) = fake.messages_in(ALPHA)
    assert sent["text"].startswith("Tip 1: post at the same time every day")
    assert planned_at + 2 - 1 <= sent["date"] <= planned_at + 2 + 3  # on time, not early

    # 4. An autopost rule at the channel's best hours, read from its history.
    rule = await ask(fake, "/autopost add best 2 Europe/Berlin", ADMIN_A)
    assert "<code>0 8,19 * * *</code> (its 2 best hours) (Europe/Berlin)" in rule, rule

    # 5. Telegram reports the publication's reactions over the next day.
    for hours, counts in ((1, {"👍": 12}), (24, {"👍": 40, "🔥": 5})):
        date = int(sent["date"]) + hours * 3600
        fake.push_update(reaction_count_update(ALPHA, sent["message_id"], counts, date=date))
    async with unit_of_work(store.factory) as session:
        (publication,) = (await session.scalars(select(Publication))).all()
    assert publication.state is PublicationState.SENT

    # 6. A day later: the figures, and the chart.
    stats, asked = "", 0
    deadline = time.monotonic() + 10
    while "45 reactions 24 h after it was sent" not in stats and time.monotonic() < deadline:
        stats = await ask(fake, "/stats", ADMIN_A)  # until the reactions are stored
        asked += 1
    assert stats.startswith("📊 <b>@alpha_news (hours in Europe/Berlin)</b>"), stats
    # The channel's history: the export's 80 posts and the one it had before; and ours.
    assert "Messages: 82 (81 from exports, 1 published by tgpipe)" in stats
    assert "Best hours: 19:00" in stats
    assert "45 reactions 24 h after it was sent" in stats
    # Each /stats is followed by its chart.
    await fake.wait_for("sendPhoto", count=asked, timeout=10)
    photo = fake.calls_to("sendPhoto")[-1]
    assert photo.params["chat_id"] == ADMIN_A
    assert photo.params["photo"].content.startswith(b"\x89PNG\r\n\x1a\n")

    # 7. An outsider sends the same commands and presses the same buttons: nothing.
    photos = len(fake.calls_to("sendPhoto"))
    for command in (f"/post {post_id}", "/stats", "/stats @alpha_news", "/queue", "/autopost"):
        reply = await ask(fake, command, OUTSIDER)
        assert "This bot is private" in reply, command
        assert "alpha" not in reply.lower(), command
    for data in (
        StatsOf(chat=store.channels["alpha"]).pack(),
        PostAction(action="now", post=post_id).pack(),
        QueueAction(action="cancel", id=publication.id).pack(),
        RuleAction(action="remove", id=1).pack(),
    ):
        assert "This bot is private" in await press(store, OUTSIDER, data), data
    assert len(fake.calls_to("sendPhoto")) == photos
    assert len(fake.messages_in(ALPHA)) == 1
    async with unit_of_work(store.factory) as session:
        assert len((await session.scalars(select(AutopostRule))).all()) == 1
        assert len((await session.scalars(select(Publication))).all()) == 1
