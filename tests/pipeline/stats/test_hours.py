"""Ranking the hours: local time, a channel's growth, viral posts, too little history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.stats.hours import (
    MIN_MESSAGES,
    Item,
    best_slots,
    cron_for,
    heatmap,
    reaction_era,
)

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def item(when: datetime, reactions: int) -> Item:
    return Item(date=when, total=reactions, reactions={"👍": reactions} if reactions else {})


def local(day: int, hour: int, zone: ZoneInfo = BERLIN) -> datetime:
    """Day ``day`` after START at ``hour``:05 local time in ``zone``, as UTC."""
    wall = (START + timedelta(days=day)).replace(tzinfo=None, hour=hour, minute=5)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def test_the_best_hour_is_found_in_the_channels_zone_across_dst() -> None:
    # Every day from January to July (DST starts on 29 March): 19:05 in Berlin does well.
    items = [item(local(day, 19), 40) for day in range(200)]
    items += [item(local(day, 9), 10) for day in range(200)]
    best = best_slots(items, BERLIN, count=2)
    assert [slot.hour for slot in best] == [19, 9]
    assert best[0].messages == 200
    assert best[0].per_post == 40
    # In UTC the same posts sit at 18:05 in winter and 17:05 in summer.
    assert {slot.hour for slot in best_slots(items, ZoneInfo("UTC"), count=4)} == {7, 8, 17, 18}


def test_a_channels_growth_does_not_make_its_recent_hours_look_best() -> None:
    # Reactions grow tenfold over the year; the channel moved its posts from 20:00 to 08:00,
    # but within each month both hours do equally well.
    items = []
    for day in range(360):
        scale = 10 + day  # grows every day
        hour = 20 if day < 300 else 8
        items.append(item(local(day, hour), scale))
        items.append(item(local(day, 14), scale))
    by_hour = {slot.hour: slot for slot in best_slots(items, BERLIN, count=3)}
    assert by_hour[8].per_post > 2 * by_hour[20].per_post  # raw counts would favour 08:00
    assert by_hour[8].score == pytest.approx(by_hour[20].score, abs=0.06)


def test_one_viral_post_does_not_make_its_hour_the_best() -> None:
    items = [item(local(day, 18), 20) for day in range(60)]
    items += [item(local(day, 10), 10) for day in range(60)]
    items.append(item(local(30, 3), 5000))  # once, at 03:00
    assert best_slots(items, BERLIN, count=1)[0].hour == 18


def test_too_little_history_names_no_hours() -> None:
    items = [item(local(day, 19), 5) for day in range(MIN_MESSAGES - 1)]
    items += [item(local(day, 10), 0) for day in range(50)]
    assert best_slots(items, BERLIN) == []
    assert best_slots([*items, item(local(99, 19), 5)], BERLIN) != []


def test_the_years_before_the_first_reaction_do_not_count() -> None:
    before = [item(local(day, 10), 0) for day in range(100)]
    after = [item(local(day, 19), 3) for day in range(100, 130)]
    era = reaction_era([*after, *before])
    assert era == sorted(after, key=lambda i: i.date)
    assert reaction_era(before) == []


def test_the_heatmap_shows_expected_reactions_per_post_where_posts_were() -> None:
    items = [item(local(day, 19), 30) for day in range(0, 28)]
    cells = heatmap(items, BERLIN)
    weekdays = {local(day, 19).astimezone(BERLIN).weekday() for day in range(28)}
    assert weekdays == set(range(7))
    assert all(cells[weekday][19] == pytest.approx(30) for weekday in weekdays)
    assert all(cells[weekday][hour] is None for weekday in range(7) for hour in range(19))


@pytest.mark.parametrize(
    ("hours", "cron"),
    [([19], "0 19 * * *"), ([19, 9, 13], "0 9,13,19 * * *"), ([0, 0, 23], "0 0,23 * * *")],
)
def test_cron_for_best_hours(hours: list[int], cron: str) -> None:
    assert cron_for(hours) == cron


@pytest.mark.parametrize("hours", [[], [24], [-1]])
def test_cron_for_refuses_hours_that_are_not(hours: list[int]) -> None:
    with pytest.raises(ValueError, match="hours must be"):
        cron_for(hours)
