"""A channel's figures from a real store: imports and publications, growth, scope, charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import NotFoundError
from pipeline.publish.autopost import add_rule
from pipeline.stats.chart import no_chart_reason, render_chart
from pipeline.stats.report import (
    ChannelStats,
    channel_stats,
    channel_zone,
    stats_for,
    summary_lines,
)
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel
from tests.history import BERLIN, add_history, add_sent, daily_at

CHAT = -1001700000001
START = datetime(2026, 9, 1, tzinfo=UTC)


async def channels(factory: SessionFactory) -> dict[str, int]:
    async with unit_of_work(factory) as session:
        found = {
            "news": Channel(title="News", username="news", chat_id=CHAT, target_since=START),
            "other": Channel(title="Other", username="other"),
            "empty": Channel(title="Empty", username="empty"),
        }
        session.add_all(found.values())
        await session.flush()
        return {name: channel.id for name, channel in found.items()}


async def stats_of(
    factory: SessionFactory, channel_id: int, since: datetime | None = None
) -> ChannelStats:
    async with unit_of_work(factory) as session:
        channel = await session.get_one(Channel, channel_id)
        return await channel_stats(session, channel, zone="Europe/Berlin", since=since)


async def test_imports_and_publications_make_one_history(session_factory: SessionFactory) -> None:
    ids = await channels(session_factory)
    # 60 days at 19:05 Berlin with 30 👍 each, 60 days at 09:05 with 10.
    await add_history(session_factory, ids["news"], daily_at(19, 60, 30, START))
    await add_history(session_factory, ids["news"], daily_at(9, 60, 10, START), 1000)
    sent_at = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    growth = [(timedelta(hours=1), {"👍": 40}), (timedelta(hours=6), {"👍": 90, "🔥": 10})]
    publication = await add_sent(session_factory, ids["news"], CHAT, sent_at, 5000, growth)

    stats = await stats_of(session_factory, ids["news"])
    assert (stats.imported, stats.published, stats.messages) == (120, 1, 121)
    assert stats.reactions == 60 * 30 + 60 * 10 + 100
    assert stats.per_post == pytest.approx(stats.reactions / 121)
    assert stats.by_reaction[0] == ("👍", 60 * 30 + 60 * 10 + 90)
    assert stats.top[0].publication_id == publication
    assert stats.top[0].total == 100
    assert [slot.hour for slot in stats.best_hours][:2] == [19, 9]
    (line,) = stats.growth
    assert line.publication_id == publication
    assert [(at - sent_at, total) for at, total in line.points] == [
        (timedelta(0), 0),
        (timedelta(hours=1), 40),
        (timedelta(hours=6), 100),
    ]
    text = "\n".join(summary_lines(stats))
    assert "Messages: 121 (120 from exports, 1 published by tgpipe)" in text
    assert "Best hours: 19:00" in text
    assert "100 reactions 6 h after it was sent" in text
    data = stats.to_json()
    assert data["best_hours"][0]["hour"] == 19
    assert [len(row) for row in data["heatmap"]] == [24] * 7
    assert render_chart(stats).startswith(b"\x89PNG\r\n\x1a\n")


async def test_a_message_an_export_brought_back_counts_once(
    session_factory: SessionFactory,
) -> None:
    ids = await channels(session_factory)
    sent_at = START + timedelta(days=3)
    await add_sent(
        session_factory, ids["news"], CHAT, sent_at, 77, [(timedelta(hours=1), {"👍": 9})]
    )
    # A later export of the channel holds message 77 too, with older counts.
    await add_history(session_factory, ids["news"], [(sent_at, {"👍": 5})], first_message_id=77)
    await add_history(session_factory, ids["news"], [(sent_at, {"👍": 1})], first_message_id=78)
    stats = await stats_of(session_factory, ids["news"])
    assert (stats.imported, stats.published, stats.reactions) == (1, 1, 10)


async def test_since_keeps_the_later_messages(session_factory: SessionFactory) -> None:
    ids = await channels(session_factory)
    await add_history(session_factory, ids["news"], daily_at(19, 30, 3, START))
    stats = await stats_of(session_factory, ids["news"], since=START + timedelta(days=20))
    assert stats.imported == 10
    assert stats.since == START + timedelta(days=20)


async def test_a_channel_without_data_gets_a_sentence_not_a_chart(
    session_factory: SessionFactory,
) -> None:
    ids = await channels(session_factory)
    await add_history(session_factory, ids["other"], daily_at(10, 5, 0, START))
    empty = await stats_of(session_factory, ids["empty"])
    assert summary_lines(empty)[1] == "No dated posts or publications here yet: nothing to count."
    assert (
        no_chart_reason(empty) == "@empty has no dated posts or publications yet: nothing to draw."
    )
    quiet = await stats_of(session_factory, ids["other"])
    assert "No reactions recorded on them yet" in summary_lines(quiet)[2]
    with pytest.raises(NotFoundError, match="@other has no reactions recorded yet"):
        render_chart(quiet)


async def test_stats_for_lists_the_channels_with_a_history_in_scope(
    session_factory: SessionFactory,
) -> None:
    ids = await channels(session_factory)
    async with unit_of_work(session_factory) as session:
        with pytest.raises(NotFoundError, match="no channel has a history yet"):
            await stats_for(session, channel=None, default_zone="UTC")
    await add_history(session_factory, ids["news"], daily_at(19, 3, 1, START))
    await add_history(session_factory, ids["other"], daily_at(19, 3, 1, START), 100)
    async with unit_of_work(session_factory) as session:
        everything = await stats_for(session, channel=None, default_zone="UTC")
        assert [s.channel for s in everything] == ["@news", "@other"]
        mine = await stats_for(session, channel=None, default_zone="UTC", scope=[ids["news"]])
        assert [s.channel for s in mine] == ["@news"]
        with pytest.raises(NotFoundError, match="no channel 'other'"):
            await stats_for(session, channel="other", default_zone="UTC", scope=[ids["news"]])


async def test_a_channels_zone_is_that_of_its_autopost_rule(
    session_factory: SessionFactory,
) -> None:
    ids = await channels(session_factory)
    async with unit_of_work(session_factory) as session:
        assert await channel_zone(session, ids["news"], "UTC") == "UTC"
        news = await session.get_one(Channel, ids["news"])
        await add_rule(session, news, "0 9 * * *", timezone="Asia/Tokyo", now=START)
        assert await channel_zone(session, ids["news"], "UTC") == "Asia/Tokyo"
    assert BERLIN.key == "Europe/Berlin"
