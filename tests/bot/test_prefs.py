"""/tz: each admin's own time zone for the times they type and read."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from pipeline.store.db import unit_of_work
from pipeline.store.models import Publication
from tests.bot.running import ADMIN_A, GLOBAL, Store, ask


async def test_an_admins_zone_reads_their_times(store: Store) -> None:
    assert (await ask(store.fake, "/tz", GLOBAL)).startswith(
        "🕰 Times are in UTC, the bot's default (TGPIPE_TIMEZONE)"
    )
    assert await ask(store.fake, "/tz Asia/Tokyo", GLOBAL) == (
        "🕰 Your times are now read and shown in Asia/Tokyo."
    )
    assert "Times are in Asia/Tokyo, your own" in await ask(store.fake, "/tz", GLOBAL)
    reply = await ask(store.fake, f"/schedule {store.posts['gamma']} 18:30 @alpha_news", GLOBAL)
    assert " 18:30 JST." in reply
    async with unit_of_work(store.factory) as session:
        (due,) = (await session.scalars(select(Publication.due_at))).all()
    local = due.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (18, 30)
    # Another admin's times are untouched.
    assert "Times are in UTC" in await ask(store.fake, "/tz", ADMIN_A)
    assert await ask(store.fake, "/tz default", GLOBAL) == (
        "🕰 Your times are now read and shown in the bot's default."
    )
    assert "Times are in UTC" in await ask(store.fake, "/tz", GLOBAL)


async def test_an_unknown_zone_is_refused(store: Store) -> None:
    reply = await ask(store.fake, "/tz Mars/Olympus_Mons", GLOBAL)
    assert reply.startswith("⚠️ unknown time zone 'Mars/Olympus_Mons'")
    assert "Times are in UTC" in await ask(store.fake, "/tz", GLOBAL)
