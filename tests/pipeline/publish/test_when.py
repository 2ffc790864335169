"""Reading `--at WHEN`: every accepted form, zones, the DST gap and the repeated hour."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import TgpipeError
from pipeline.publish.when import (
    WhenError,
    describe_local,
    local_to_utc,
    parse_since,
    parse_when,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
# A winter afternoon: Berlin is UTC+1 (13:00 there), Kolkata UTC+5:30 (17:30).
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def wall(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us)  # noqa: DTZ001 - wall clock


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("now", BERLIN, NOW),
        ("  NOW ", KOLKATA, NOW),
        ("+90s", BERLIN, utc(2026, 1, 15, 12, 1, 30)),
        ("+10m", BERLIN, utc(2026, 1, 15, 12, 10)),
        ("+2h", UTC_ZONE, utc(2026, 1, 15, 14, 0)),
        ("+1d", KOLKATA, utc(2026, 1, 16, 12, 0)),
        ("+1h30m", BERLIN, utc(2026, 1, 15, 13, 30)),
        ("+1d2h", BERLIN, utc(2026, 1, 16, 14, 0)),
        ("+1d2h3m4s", BERLIN, utc(2026, 1, 16, 14, 3, 4)),
        ("+1H30M", BERLIN, utc(2026, 1, 15, 13, 30)),
        ("+3650d", UTC_ZONE, utc(2036, 1, 13, 12, 0)),  # ten years is still allowed
        # An explicit offset or Z is kept as given, whatever the zone.
        ("2026-12-24T09:00+05:30", BERLIN, utc(2026, 12, 24, 3, 30)),
        ("2026-12-24T09:00:00Z", KOLKATA, utc(2026, 12, 24, 9, 0)),
        ("2026-12-24T09:00z", BERLIN, utc(2026, 12, 24, 9, 0)),
        ("2026-07-01T09:00-04:00", UTC_ZONE, utc(2026, 7, 1, 13, 0)),
        ("2026-07-01T09:00+02:00", BERLIN, utc(2026, 7, 1, 7, 0)),
        # Naive ISO is read in the zone, with that date's offset (summer vs winter).
        ("2026-12-24T09:00", BERLIN, utc(2026, 12, 24, 8, 0)),
        ("2026-07-01T09:00", BERLIN, utc(2026, 7, 1, 7, 0)),
        ("2026-12-24T09:00", KOLKATA, utc(2026, 12, 24, 3, 30)),
        ("2026-07-01T09:00", KOLKATA, utc(2026, 7, 1, 3, 30)),  # no DST there
        ("2026-12-24T09:00", UTC_ZONE, utc(2026, 12, 24, 9, 0)),
        ("2026-12-24 09:00", BERLIN, utc(2026, 12, 24, 8, 0)),
        ("2026-12-24T09:00:30", BERLIN, utc(2026, 12, 24, 8, 0, 30)),
        ("2026-12-24 09:00:30", KOLKATA, utc(2026, 12, 24, 3, 30, 30)),
        # HH:MM: today when still ahead (13:00 in Berlin now), else tomorrow.
        ("14:00", BERLIN, utc(2026, 1, 15, 13, 0)),
        ("9:05", BERLIN, utc(2026, 1, 16, 8, 5)),
        ("13:00", BERLIN, utc(2026, 1, 16, 12, 0)),  # exactly now: not ahead, so tomorrow
        ("13:01", BERLIN, utc(2026, 1, 15, 12, 1)),
        ("23:59", KOLKATA, utc(2026, 1, 15, 18, 29)),
        ("17:00", KOLKATA, utc(2026, 1, 16, 11, 30)),  # 17:30 there now
        ("12:00", UTC_ZONE, utc(2026, 1, 16, 12, 0)),
        ("12:01", UTC_ZONE, utc(2026, 1, 15, 12, 1)),
        ("00:00", UTC_ZONE, utc(2026, 1, 16, 0, 0)),
    ],
)
def test_every_form(value: str, tz: ZoneInfo, expected: datetime) -> None:
    when = parse_when(value, tz=tz, now=NOW)
    assert when == expected
    assert when.tzinfo is UTC  # the store keeps UTC


def test_now_may_be_given_in_any_zone() -> None:
    assert parse_when("+1h", tz=BERLIN, now=NOW.astimezone(KOLKATA)) == utc(2026, 1, 15, 13, 0)
    assert parse_when("now", tz=BERLIN, now=NOW.astimezone(KOLKATA)).tzinfo is UTC


def test_clock_time_across_local_midnight() -> None:
    # 23:30 UTC is already the 16th in Kolkata (05:00): "06:00" is that local day's 06:00.
    now = utc(2026, 1, 15, 23, 30)
    assert parse_when("06:00", tz=KOLKATA, now=now) == utc(2026, 1, 16, 0, 30)
    assert parse_when("04:00", tz=KOLKATA, now=now) == utc(2026, 1, 16, 22, 30)


@pytest.mark.parametrize(
    ("naive", "tz", "expected"),
    [
        # Berlin's spring-forward gap (02:00-03:00 skipped): the first instant after it.
        (wall(2026, 3, 29, 2, 30), BERLIN, utc(2026, 3, 29, 1, 0)),
        (wall(2026, 3, 29, 2, 0), BERLIN, utc(2026, 3, 29, 1, 0)),
        (wall(2026, 3, 29, 2, 59, 59), BERLIN, utc(2026, 3, 29, 1, 0)),
        (wall(2026, 3, 29, 2, 30, 0, 123_456), BERLIN, utc(2026, 3, 29, 1, 0)),
        # Either side of the gap is an ordinary time.
        (wall(2026, 3, 29, 1, 59), BERLIN, utc(2026, 3, 29, 0, 59)),
        (wall(2026, 3, 29, 3, 0), BERLIN, utc(2026, 3, 29, 1, 0)),
        # The repeated hour (02:00-03:00 twice): its first occurrence, still summer time.
        (wall(2026, 10, 25, 2, 30), BERLIN, utc(2026, 10, 25, 0, 30)),
        (wall(2026, 10, 25, 2, 0), BERLIN, utc(2026, 10, 25, 0, 0)),
        (wall(2026, 10, 25, 2, 59), BERLIN, utc(2026, 10, 25, 0, 59)),
        (wall(2026, 10, 25, 3, 0), BERLIN, utc(2026, 10, 25, 2, 0)),
        (wall(2026, 10, 25, 1, 59), BERLIN, utc(2026, 10, 24, 23, 59)),
        # New York changes at other dates and from other offsets.
        (wall(2026, 3, 8, 2, 30), NEW_YORK, utc(2026, 3, 8, 7, 0)),  # 03:00 EDT
        (wall(2026, 11, 1, 1, 30), NEW_YORK, utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
        # A half-hour change (Lord Howe, 02:00 -> 02:30) and one at midnight (Santiago).
        (wall(2026, 10, 4, 2, 15), ZoneInfo("Australia/Lord_Howe"), utc(2026, 10, 3, 15, 30)),
        (wall(2026, 9, 6, 0, 30), ZoneInfo("America/Santiago"), utc(2026, 9, 6, 4, 0)),
        # No DST: the same wall time is an ordinary time everywhere else.
        (wall(2026, 3, 29, 2, 30), UTC_ZONE, utc(2026, 3, 29, 2, 30)),
        (wall(2026, 3, 29, 2, 30), KOLKATA, utc(2026, 3, 28, 21, 0)),
        (wall(2026, 10, 25, 2, 30), KOLKATA, utc(2026, 10, 24, 21, 0)),
    ],
)
def test_local_to_utc(naive: datetime, tz: ZoneInfo, expected: datetime) -> None:
    assert local_to_utc(naive, tz) == expected
    assert local_to_utc(naive.replace(fold=1), tz) == expected  # fold is decided here


def test_local_to_utc_takes_wall_clock_times_only() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_to_utc(utc(2026, 1, 1), BERLIN)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-29T02:30", utc(2026, 3, 29, 1, 0)),
        ("2026-03-29 02:30", utc(2026, 3, 29, 1, 0)),
        ("2026-03-29T02:30:45", utc(2026, 3, 29, 1, 0)),
        ("2026-10-25T02:30", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25 02:30:00", utc(2026, 10, 25, 0, 30)),
        # An offset picks the occurrence: the second 02:30 is CET.
        ("2026-10-25T02:30+01:00", utc(2026, 10, 25, 1, 30)),
    ],
)
def test_dst_in_iso_input(value: str, expected: datetime) -> None:
    assert parse_when(value, tz=BERLIN, now=utc(2026, 3, 1)) == expected


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        # The evening before the spring gap: "02:30" tomorrow does not exist, so 03:00 CEST.
        ("02:30", utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 1, 0)),
        # Across the change, 09:00 tomorrow is already summer time (07:00 UTC, not 08:00).
        ("09:00", utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 7, 0)),
        ("09:00", utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 8, 0)),
        # On the spring night itself, at 01:30 CET, the skipped 02:30 is still ahead.
        ("02:30", utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0)),
        # Just after the gap (03:00 CEST) it has passed: tomorrow's, in summer time.
        ("02:30", utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)),
        # The evening before the autumn change: the first 02:30, still CEST.
        ("02:30", utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 0, 30)),
        # At 02:45 CEST the first 02:30 is past; its repeat is not a new one: tomorrow's.
        ("02:30", utc(2026, 10, 25, 0, 45), utc(2026, 10, 26, 1, 30)),
    ],
)
def test_dst_in_clock_input(value: str, now: datetime, expected: datetime) -> None:
    assert parse_when(value, tz=BERLIN, now=now) == expected


@pytest.mark.parametrize(
    ("value", "tz"),
    [
        ("2026-01-15T12:59", BERLIN),  # a minute ago in Berlin
        ("2026-01-15T12:59:59", BERLIN),
        ("2026-01-15T11:00Z", KOLKATA),
        ("2025-12-24 09:00", UTC_ZONE),
        ("2020-01-01T10:00", KOLKATA),
    ],
)
def test_the_past_is_refused(value: str, tz: ZoneInfo) -> None:
    with pytest.raises(WhenError, match="in the past") as refused:
        parse_when(value, tz=tz, now=NOW)
    assert refused.value.exit_code == 2
    assert isinstance(refused.value, TgpipeError)
    # Allowed when the caller says so, as that instant.
    assert parse_when(value, tz=tz, now=NOW, allow_past=True) < NOW


def test_the_past_message_names_both_times_locally() -> None:
    with pytest.raises(WhenError) as refused:
        parse_when("2020-01-01T10:00", tz=BERLIN, now=utc(2026, 12, 2, 12, 5))
    assert str(refused.value) == (
        "'2020-01-01T10:00': that is in the past (2020-01-01 10:00 Europe/Berlin is "
        "before now, 2026-12-02 13:05 Europe/Berlin)"
    )


def test_the_past_message_shows_seconds_when_they_matter() -> None:
    with pytest.raises(
        WhenError, match="13:00:00 Europe/Berlin is before now, 2026-01-15 13:00:30"
    ):
        parse_when("2026-01-15T13:00", tz=BERLIN, now=utc(2026, 1, 15, 12, 0, 30))


def test_now_and_this_very_instant_are_not_the_past() -> None:
    now = utc(2026, 1, 15, 12, 0, 0, 900_000)
    assert parse_when("now", tz=BERLIN, now=now) == now
    assert parse_when("2026-01-15T13:00:00.900000", tz=BERLIN, now=now) == now


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("garbage", "'garbage': not a time (use ISO 8601 such as 2026-12-24T09:00, 'now', "),
        ("", "no time given"),
        ("   ", "no time given"),
        ("tomorrow", "not a time"),
        ("soonish", "not a time"),
        ("+", "not a relative time"),
        ("+0m", "no time from now"),
        ("+0d0h0m0s", "no time from now"),
        ("+10x", "not a relative time (use e.g. +90s"),
        ("+30m1h", "largest first"),
        ("+1.5h", "not a relative time"),
        ("+ 10m", "not a relative time"),
        ("-10m", "count forward from now (write +10m)"),
        ("-1h30m", "count forward from now (write +1h30m)"),
        ("-", "not a time"),
        ("10m", "not a time"),
        ("25:00", "'25:00': not a time (use ISO 8601"),
        ("24:00", "not a time"),
        ("12:60", "not a time"),
        ("12:5", "not a time"),
        ("2026-12-24", "a date without a time (add one, e.g. 2026-12-24T09:00)"),
        ("2026-13-01T09:00", "not a valid date-time (month must be in 1..12"),
        ("2026-02-30T09:00", "not a valid date-time (day is out of range for month"),
        ("2026-12-24T25:00", "not a valid date-time (hour must be in 0..23"),
        ("2026-12-24T09:00 Europe/Berlin", "not a time"),
        ("+99999d", "more than 10 years ahead"),
        ("+" + "9" * 5000 + "s", "more than 10 years ahead"),
        ("+3660d", "more than 10 years ahead"),
        ("2040-01-01T00:00Z", "more than 10 years ahead"),
        ("9999-12-31T23:59", "more than 10 years ahead"),
        ("0001-01-01T00:00+05:00", "out of the range of dates"),
        ("line\nbreak", "'line\\nbreak': not a time"),
    ],
)
def test_refused(value: str, message: str) -> None:
    with pytest.raises(WhenError) as refused:
        parse_when(value, tz=BERLIN, now=NOW)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)  # one line
    assert refused.value.exit_code == 2


def test_beyond_the_dates_a_zone_can_map() -> None:
    # 9999-12-31 in New York is in year 10000 in UTC: refused, not an OverflowError.
    with pytest.raises(WhenError, match="out of the range"):
        parse_when("9999-12-31T23:59", tz=NEW_YORK, now=NOW)


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("now", tz=BERLIN, now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (utc(2026, 12, 24, 8, 0), BERLIN, "2026-12-24 09:00 CET"),
        (utc(2026, 7, 1, 7, 0), BERLIN, "2026-07-01 09:00 CEST"),
        (utc(2026, 10, 25, 0, 30), BERLIN, "2026-10-25 02:30 CEST"),
        (utc(2026, 10, 25, 1, 30), BERLIN, "2026-10-25 02:30 CET"),
        (utc(2026, 12, 24, 3, 30), KOLKATA, "2026-12-24 09:00 IST"),
        (utc(2026, 12, 24, 9, 0), UTC_ZONE, "2026-12-24 09:00 UTC"),
        (utc(2026, 12, 24, 14, 0), NEW_YORK, "2026-12-24 09:00 EST"),
        (utc(2026, 12, 24, 8, 1, 30), BERLIN, "2026-12-24 09:01:30 CET"),
        (utc(2026, 12, 24, 8, 0).astimezone(KOLKATA), BERLIN, "2026-12-24 09:00 CET"),
    ],
)
def test_describe_local(when: datetime, tz: ZoneInfo, expected: str) -> None:
    assert describe_local(when, tz) == expected


def test_describe_local_wants_an_aware_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        describe_local(NOW.replace(tzinfo=None), BERLIN)


# --- --since: how far back -------------------------------------------------------------------

SINCE_NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30d", datetime(2026, 11, 7, 12, 0, tzinfo=UTC)),
        ("-30d", datetime(2026, 11, 7, 12, 0, tzinfo=UTC)),
        ("2w", datetime(2026, 11, 23, 12, 0, tzinfo=UTC)),
        ("48H", datetime(2026, 12, 5, 12, 0, tzinfo=UTC)),
        ("2026-06-01", datetime(2026, 5, 31, 22, 0, tzinfo=UTC)),  # local midnight, CEST
        ("2026-12-01T09:30", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2026-12-01T09:30Z", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_since_forms(value: str, expected: datetime) -> None:
    assert parse_since(value, tz=ZoneInfo("Europe/Berlin"), now=SINCE_NOW) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("yesterday", "not a time: use e.g. 30d"),
        ("30x", "not a time: use e.g. 30d"),
        ("2027-01-01", "that is in the future"),
        ("", "not a time"),
    ],
)
def test_since_refuses(value: str, reason: str) -> None:
    with pytest.raises(WhenError, match=reason):
        parse_since(value, tz=ZoneInfo("UTC"), now=SINCE_NOW)
