"""Recurring rules in a zone: the right local times across DST changes, one computation for
the library and the scheduler's trigger."""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import chain, pairwise
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.base import BaseTrigger

from pipeline.errors import TgpipeError
from pipeline.publish.cron import (
    CronError,
    DstSafeCronTrigger,
    describe_next,
    fire_times,
    make_trigger,
    next_fire,
    validate_cron,
    validate_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
UTC_ZONE = ZoneInfo("UTC")
MICROSECOND = timedelta(microseconds=1)

# 2026's clock changes: the local date whose wall clock skips an hour, and the one that
# repeats an hour.
SPRING = {"Europe/Berlin": date(2026, 3, 29), "America/New_York": date(2026, 3, 8)}
AUTUMN = {"Europe/Berlin": date(2026, 10, 25), "America/New_York": date(2026, 11, 1)}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def between(expr: str, tz: ZoneInfo, first: date, last: date) -> list[datetime]:
    """Firings on the local days ``first``..``last``."""
    end = day_start(last + timedelta(days=1), tz)
    return fire_times(expr, tz, day_start(first, tz) - MICROSECOND, end - MICROSECOND)


def local(times: list[datetime], tz: ZoneInfo) -> list[str]:
    return [f"{when.astimezone(tz):%H:%M %Z}" for when in times]


@pytest.mark.parametrize(
    ("expr", "first", "last", "expected"),
    [
        # The skipped 02:30 fires at the first instant after the gap (03:00 CEST), once.
        (
            "30 2 * * *",
            date(2026, 3, 28),
            date(2026, 3, 30),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
        ),
        # The repeated 02:30 fires at its first occurrence (still CEST) only.
        (
            "30 2 * * *",
            date(2026, 10, 24),
            date(2026, 10, 26),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        # 02:00 (skipped) and 03:00 are the same instant on the spring day: one firing.
        ("0 2,3 * * *", date(2026, 3, 29), date(2026, 3, 29), [utc(2026, 3, 29, 1, 0)]),
        # 02:00 first occurrence (CEST), 03:00 CET: two firings two hours apart.
        (
            "0 2,3 * * *",
            date(2026, 10, 25),
            date(2026, 10, 25),
            [utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0)],
        ),
        ("0 9 * * *", date(2026, 1, 15), date(2026, 1, 15), [utc(2026, 1, 15, 8, 0)]),
        ("0 9 * * *", date(2026, 7, 15), date(2026, 7, 15), [utc(2026, 7, 15, 7, 0)]),
        # Across each change, 09:00 stays 09:00 local.
        (
            "0 9 * * *",
            date(2026, 3, 28),
            date(2026, 3, 29),
            [utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0)],
        ),
        (
            "0 9 * * *",
            date(2026, 10, 24),
            date(2026, 10, 25),
            [utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0)],
        ),
        # Named hours: on the spring day 02:00, 02:30 and 03:00 are one instant; in the
        # repeated hour the second 02:00 and 02:30 (01:00, 01:30 UTC) do not fire again.
        (
            "*/30 1-3 * * *",
            date(2026, 3, 29),
            date(2026, 3, 29),
            [
                utc(2026, 3, 29, 0, 0),
                utc(2026, 3, 29, 0, 30),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 29, 1, 30),
            ],
        ),
        (
            "*/30 1-3 * * *",
            date(2026, 10, 25),
            date(2026, 10, 25),
            [
                utc(2026, 10, 24, 23, 0),
                utc(2026, 10, 24, 23, 30),
                utc(2026, 10, 25, 0, 0),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 25, 2, 0),
                utc(2026, 10, 25, 2, 30),
            ],
        ),
    ],
)
def test_berlin_dst_rules(expr: str, first: date, last: date, expected: list[datetime]) -> None:
    assert between(expr, BERLIN, first, last) == expected


def test_every_hour_rules_run_by_elapsed_time_through_the_repeated_hour() -> None:
    times = fire_times("*/30 * * * *", BERLIN, utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0))
    # Both passes of 02:00-03:00 fire: every half hour of real time, none skipped.
    assert times == [utc(2026, 10, 24, 23, 30) + timedelta(minutes=30 * n) for n in range(8)]
    assert local(times, BERLIN) == [
        "01:30 CEST",
        "02:00 CEST",
        "02:30 CEST",
        "02:00 CET",
        "02:30 CET",
        "03:00 CET",
        "03:30 CET",
        "04:00 CET",
    ]
    # 0-23 covers every hour just as '*' does.
    assert fire_times("*/30 0-23 * * *", BERLIN, utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0))
    assert len(between("0 * * * *", BERLIN, date(2026, 10, 25), date(2026, 10, 25))) == 25


def test_every_hour_rules_skip_nothing_in_spring() -> None:
    times = fire_times("*/30 * * * *", BERLIN, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 3, 0))
    # The clocks jump from 02:00 to 03:00; the skipped half hours are that instant.
    assert times == [utc(2026, 3, 28, 23, 30) + timedelta(minutes=30 * n) for n in range(8)]
    assert local(times, BERLIN)[2:5] == ["01:30 CET", "03:00 CEST", "03:30 CEST"]
    assert len(between("0 * * * *", BERLIN, date(2026, 3, 29), date(2026, 3, 29))) == 23


def test_half_hour_clock_changes() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 in October.
    october = between("0 * * * *", LORD_HOWE, date(2026, 10, 4), date(2026, 10, 4))
    assert local(october, LORD_HOWE)[1:4] == ["01:00 +1030", "02:30 +11", "03:00 +11"]
    # ... and 02:00 -> 01:30 in April: the repeated 01:30 fires twice for an all-hours rule.
    april = between("*/30 * * * *", LORD_HOWE, date(2026, 4, 5), date(2026, 4, 5))
    assert local(april, LORD_HOWE)[2:6] == ["01:00 +11", "01:30 +11", "01:30 +1030", "02:00 +1030"]
    assert len(april) == 49


@pytest.mark.parametrize(
    ("expr", "first", "expected"),
    [
        ("30 2 * * *", date(2026, 3, 8), [utc(2026, 3, 8, 7, 0)]),  # 03:00 EDT
        ("30 1 * * *", date(2026, 11, 1), [utc(2026, 11, 1, 5, 30)]),  # 01:30 EDT, not EST
        ("0 2,3 * * *", date(2026, 3, 8), [utc(2026, 3, 8, 7, 0)]),
        ("0 2,3 * * *", date(2026, 11, 1), [utc(2026, 11, 1, 7, 0), utc(2026, 11, 1, 8, 0)]),
        ("0 9 * * *", date(2026, 3, 8), [utc(2026, 3, 8, 13, 0)]),
        ("0 9 * * *", date(2026, 11, 1), [utc(2026, 11, 1, 14, 0)]),
    ],
)
def test_new_york_dst_rules(expr: str, first: date, expected: list[datetime]) -> None:
    assert between(expr, NEW_YORK, first, first) == expected


def per_day(
    daily: int, *, spring: int | None = None, autumn: int | None = None
) -> Callable[[date, str], int]:
    """Expected firings on a local day: ``daily``, or another count on a change day."""

    def count(day: date, zone: str) -> int:
        if spring is not None and SPRING.get(zone) == day:
            return spring
        if autumn is not None and AUTUMN.get(zone) == day:
            return autumn
        return daily

    return count


EVERY_DAY = per_day(1)
# expression, firings per local day, total in 2026 (when the same in every zone), and
# whether each local wall-clock time fires at most once (not so for all-hours rules).
YEAR_RULES: list[tuple[str, Callable[[date, str], int], int | None, bool]] = [
    ("0 9 * * *", EVERY_DAY, 365, True),
    ("30 2 * * *", EVERY_DAY, 365, True),
    ("0 2,3 * * *", per_day(2, spring=1), None, True),
    # The 23-hour day has 46 half hours (02:00, 02:30 and 03:00 are one instant there), the
    # 25-hour day 50: a year has 17520 either way.
    ("*/30 * * * *", per_day(48, spring=46, autumn=50), 17520, False),
    ("0 9 * * 1-5", lambda day, zone: int(day.weekday() < 5), 261, True),
    ("0 12 1 * *", lambda day, zone: int(day.day == 1), 12, True),
]


def check_firings(
    times: list[datetime],
    tz: ZoneInfo,
    days: list[date],
    expected: Callable[[date, str], int],
    once_per_wall_time: bool,
) -> None:
    assert all(later > earlier for earlier, later in pairwise(times))
    assert all(when.tzinfo is UTC for when in times)
    walls = [when.astimezone(tz).replace(tzinfo=None) for when in times]
    if once_per_wall_time:
        assert len(set(walls)) == len(walls)
    counts = Counter(wall.date() for wall in walls)
    assert set(counts) <= set(days)
    assert {day: counts[day] for day in days} == {day: expected(day, tz.key) for day in days}


def trigger_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """What APScheduler runs, on an injected clock: first asked at ``start`` with no
    previous firing, then at each firing for the one after it."""
    times = []
    when = trigger.get_next_fire_time(None, start)
    while when is not None and when <= end:
        times.append(when)
        when = trigger.get_next_fire_time(when, when)
    return times


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
@pytest.mark.parametrize(("expr", "expected", "total", "once"), YEAR_RULES)
def test_a_whole_year(
    zone: str, expr: str, expected: Callable[[date, str], int], total: int | None, once: bool
) -> None:
    tz = ZoneInfo(zone)
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    times = between(expr, tz, first, last)
    check_firings(times, tz, days_of(first, last), expected, once)
    if total is not None:
        assert len(times) == total
    # The scheduler's trigger fires at exactly the same instants.
    assert trigger_times(make_trigger(expr, tz), day_start(first, tz), times[-1]) == times


def test_the_trigger_agrees_with_fire_times_from_any_moment() -> None:
    trigger = make_trigger("*/30 * * * *", BERLIN)
    start = utc(2026, 10, 25, 0, 10)  # inside the first pass of the repeated hour
    expected = fire_times("*/30 * * * *", BERLIN, start, utc(2026, 10, 25, 6, 0))
    assert trigger_times(trigger, start, expected[-1]) == expected


def test_a_late_scheduler_catches_up_slot_by_slot() -> None:
    # APScheduler asks with the last run time and a later now (after a pause): the next
    # slot after the last run, not after now, so misfires are seen and coalesced.
    trigger = make_trigger("0 9 * * *", BERLIN)
    assert trigger.get_next_fire_time(utc(2026, 3, 27, 8, 0), utc(2026, 3, 30, 12, 0)) == utc(
        2026, 3, 28, 8, 0
    )


@pytest.mark.parametrize(
    ("field", "weekdays"),
    [
        # Crontab numbering: 0 and 7 are Sunday (APScheduler 3 alone would read 0 as Monday).
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("6,0", ["Sun", "Sat"]),
        ("5-7", ["Sun", "Fri", "Sat"]),
        ("0-7", ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),
        ("1-5/2", ["Mon", "Wed", "Fri"]),
        ("5/1", ["Sun", "Fri", "Sat"]),  # 5-7
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("MON,Wed", ["Mon", "Wed"]),
        ("sun", ["Sun"]),
        ("fri-sat", ["Fri", "Sat"]),
        ("*", ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]),
    ],
)
def test_day_of_week_numbers_as_in_crontab(field: str, weekdays: list[str]) -> None:
    # 2026-01-04 is a Sunday: one week from it.
    times = between(f"0 9 * * {field}", UTC_ZONE, date(2026, 1, 4), date(2026, 1, 10))
    assert [f"{when:%a}" for when in times] == weekdays


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # Both restricted: either matching will do (the 13th, and every Friday).
        ("0 9 13 * 5", [2, 9, 13, 16, 23, 30]),
        # A field starting with '*' does not widen: both must match (odd Fridays).
        ("0 9 */2 * 5", [9, 23]),
        ("0 9 1,15 * *", [1, 15]),
        ("0 9 */10 * *", [1, 11, 21, 31]),
        ("0 9 28-31 jan *", [28, 29, 30, 31]),
    ],
)
def test_day_and_day_of_week_as_in_crontab(expr: str, days: list[int]) -> None:
    times = between(expr, UTC_ZONE, date(2026, 1, 1), date(2026, 1, 31))
    assert [when.day for when in times] == days


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 9 * * *", utc(2026, 1, 15, 7, 59), utc(2026, 1, 15, 8, 0)),
        ("0 9 * * *", utc(2026, 1, 15, 8, 0), utc(2026, 1, 16, 8, 0)),  # strictly after
        ("0 9 * * *", utc(2026, 1, 15, 7, 59, 59, 999_999), utc(2026, 1, 15, 8, 0)),
        # In the repeated hour's second pass (02:15 CET): all-hours rules fire at 02:30 CET.
        ("*/30 * * * *", utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 1, 30)),
        # Named hours already fired 02:30 in the first pass: next is 03:00 CET.
        ("*/30 1-3 * * *", utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 2, 0)),
        ("30 2 * * *", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),
        ("0 12 1 * *", utc(2026, 1, 15), utc(2026, 2, 1, 11, 0)),
        ("0 0 1 1 *", utc(2026, 1, 15), utc(2026, 12, 31, 23, 0)),  # midnight CET, 2027
        # Leap days, and leap days that are also Sundays (AND: '*/7' starts with '*').
        ("0 0 29 2 *", utc(2026, 1, 1), utc(2028, 2, 28, 23, 0)),
        ("0 0 29 2 */7", utc(2026, 1, 1), utc(2032, 2, 28, 23, 0)),
    ],
)
def test_next_fire(expr: str, after: datetime, expected: datetime) -> None:
    when = next_fire(expr, BERLIN, after)
    assert when == expected
    assert when.tzinfo is UTC


def test_next_fire_takes_any_aware_time_but_not_a_naive_one() -> None:
    after = utc(2026, 1, 15, 7, 59).astimezone(NEW_YORK)
    assert next_fire("0 9 * * *", BERLIN, after) == utc(2026, 1, 15, 8, 0)
    with pytest.raises(ValueError, match="aware"):
        next_fire("0 9 * * *", BERLIN, after.replace(tzinfo=None))


def test_fire_times_ranges_join_without_repeats_or_gaps() -> None:
    bounds = [utc(2026, 3, 1), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30), utc(2026, 4, 1)]
    pieces = [fire_times("*/30 * * * *", BERLIN, a, b) for a, b in pairwise(bounds)]
    assert list(chain.from_iterable(pieces)) == fire_times(
        "*/30 * * * *", BERLIN, bounds[0], bounds[-1]
    )
    assert pieces[0][-1] == utc(2026, 3, 29, 1, 0)  # the end is included, the start not
    assert fire_times("0 9 * * *", BERLIN, utc(2026, 1, 2), utc(2026, 1, 1)) == []


def test_describe_next() -> None:
    assert describe_next("30 2 * * *", BERLIN, utc(2026, 3, 27, 12, 0)) == [
        "2026-03-28 02:30 CET",
        "2026-03-29 03:00 CEST",
        "2026-03-30 02:30 CEST",
    ]
    assert describe_next("0 9 * * *", UTC_ZONE, utc(2026, 1, 1), count=1) == [
        "2026-01-01 09:00 UTC"
    ]
    assert describe_next("0 9 * * 1-5", BERLIN, utc(2026, 12, 2, 13, 5), count=4) == [
        "2026-12-03 09:00 CET",
        "2026-12-04 09:00 CET",
        "2026-12-07 09:00 CET",
        "2026-12-08 09:00 CET",
    ]


@pytest.mark.parametrize(
    ("expr", "normalised"),
    [
        ("0 9 * * *", "0 9 * * *"),
        ("  0   9 *\t* 1-5 ", "0 9 * * 1-5"),
        ("*/30 * * * *", "*/30 * * * *"),
        ("0 9 * JAN-Mar MON-FRI", "0 9 * jan-mar mon-fri"),
        ("@daily", "0 0 * * *"),
        (" @Hourly ", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("0 0 31 2,3 *", "0 0 31 2,3 *"),  # March has a 31st
    ],
)
def test_validate_cron(expr: str, normalised: str) -> None:
    assert validate_cron(expr) == normalised
    assert validate_cron(normalised) == normalised


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "--cron '61 * * * *': minute 61 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 9 0 * *", "day 0 is out of range 1-31"),
        ("0 9 * 13 *", "month 13 is out of range 1-12 (or jan-dec)"),
        ("0 9 * * 8", "day of week 8 is out of range 0-7 (0 and 7 are Sunday; or sun-sat)"),
        ("0 9 * * 5-1", "day of week range '5-1' runs backwards (write the smaller one first)"),
        ("0 9 * * x", "day of week 'x' is not a number or name, range or step"),
        ("x 9 * * *", "minute 'x' is not a number, range or step (use e.g. 5, 1-5, */15"),
        ("0 9 * * monday", "not a number or name"),
        ("*/0 * * * *", "minute step in '*/0' must be a whole number from 1 up"),
        ("*/x * * * *", "minute step in '*/x' must be a whole number from 1 up"),
        ("1-2-3 * * * *", "minute '1-2-3' is not a number"),
        ("0,,5 * * * *", "minute '' is not a number"),
        ("0 9 L * *", "day 'L' is not a number"),
        ("0 9 ? * *", "day '?' is not a number"),
        ("-1 * * * *", "minute '-1' is not a number"),
        ("a b c", "3 fields where a cron expression has 5 (minute hour day month day-of-week"),
        ("* * *", "3 fields"),
        ("* * * * * *", "6 fields"),
        ("", "0 fields"),
        ("@reboot", "@reboot is not a schedule here"),
        ("0 0 30 2 *", "day 30 never comes in month 2, so it would never fire"),
        ("0 0 31 4,6,9,11 *", "never fire"),
    ],
)
def test_bad_expressions(expr: str, message: str) -> None:
    with pytest.raises(CronError) as refused:
        validate_cron(expr)
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"--cron {expr!r}: ")
    assert refused.value.exit_code == 2
    assert isinstance(refused.value, TgpipeError)
    with pytest.raises(CronError):
        make_trigger(expr, UTC_ZONE)
    with pytest.raises(CronError):
        next_fire(expr, UTC_ZONE, utc(2026, 1, 1))


@pytest.mark.parametrize(
    "name", ["Mars/Base", "", "Europe", "Europe/", "../etc/passwd", "/etc/localtime", "berlin"]
)
def test_bad_zones(name: str) -> None:
    with pytest.raises(CronError) as refused:
        validate_timezone(name)
    assert str(refused.value) == (
        f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
    )
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("name", ["localtime", "Europe/Berlin "])
def test_zones_that_are_not_iana_names(name: str) -> None:
    # 'localtime' is the machine's zone, whatever that is; stored names must be exact.
    with pytest.raises(CronError, match="unknown time zone"):
        validate_timezone(name)


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_good_zones(name: str) -> None:
    assert validate_timezone(name) == ZoneInfo(name)


def test_make_trigger() -> None:
    trigger = make_trigger(" 30 2  * * * ", BERLIN)
    assert isinstance(trigger, DstSafeCronTrigger)
    assert isinstance(trigger, BaseTrigger)
    assert str(trigger) == "cron[30 2 * * * Europe/Berlin]"
    assert repr(trigger) == "<DstSafeCronTrigger ('30 2 * * *', timezone='Europe/Berlin')>"
    # Asked at a slot instant with no previous firing, that slot itself is next.
    assert trigger.get_next_fire_time(None, utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 1, 0)
    assert trigger.get_next_fire_time(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 0)) == utc(
        2026, 3, 30, 0, 30
    )
    copy = pickle.loads(pickle.dumps(trigger))
    assert (copy.expr, copy.tz) == (trigger.expr, trigger.tz)
