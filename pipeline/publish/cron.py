"""Recurring rules: a five-field crontab expression in a named IANA zone, DST-correct.

Each local wall-clock time the expression names fires once: a time the spring-forward gap
skips fires at the first instant after the gap (once, however many of the skipped times
the rule names), and a time the fall-back hour repeats fires at its first occurrence only.
APScheduler 3.11's own CronTrigger does neither (it fires a skipped 02:30 at 03:30 and a
repeated one twice), so :class:`DstSafeCronTrigger` gives the scheduler the same
computation as :func:`next_fire`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from pipeline.errors import TgpipeError
from pipeline.publish.when import describe_local, local_to_utc

_EPSILON = timedelta(microseconds=1)


class CronError(TgpipeError):
    exit_code = 2


def _wall_trigger(expr: str) -> CronTrigger:
    # Wall-clock times are computed as if the zone were UTC (no DST), then mapped.
    try:
        return CronTrigger.from_crontab(expr, timezone=UTC)
    except ValueError as error:
        raise CronError(
            f"--cron {expr!r}: {error} (five fields: minute hour day month day-of-week, "
            "e.g. '0 9 * * *' for 09:00 every day)"
        ) from None


def validate_cron(expr: str) -> str:
    normalised = " ".join(expr.split())
    _wall_trigger(normalised)
    return normalised


def validate_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def next_fire(expr: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first firing strictly after ``after``, as aware UTC."""
    trigger = _wall_trigger(expr)
    local = after.astimezone(tz)
    # Start one hour of wall clock early: the repeated hour maps back before ``after``.
    wall = local.replace(tzinfo=None) - timedelta(hours=1)
    for _ in range(100_000):
        candidate = trigger.get_next_fire_time(None, (wall + _EPSILON).replace(tzinfo=UTC))
        if candidate is None:
            break
        wall = candidate.replace(tzinfo=None)
        when = local_to_utc(wall, tz)
        if when > after:
            return when
    raise CronError(f"--cron {expr!r}: never fires")


def fire_times(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every firing in (start, end]."""
    times = []
    when = next_fire(expr, tz, start)
    while when <= end:
        times.append(when)
        when = next_fire(expr, tz, when)
    return times


def describe_next(expr: str, tz: ZoneInfo, now: datetime, count: int = 3) -> list[str]:
    out, when = [], now
    for _ in range(count):
        when = next_fire(expr, tz, when)
        out.append(describe_local(when, tz))
    return out


class DstSafeCronTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler 3 is untyped
    """An APScheduler trigger firing as :func:`next_fire` says."""

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr = validate_cron(expr)
        self.tz = tz

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = previous_fire_time if previous_fire_time is not None else now - _EPSILON
        return next_fire(self.expr, self.tz, after)

    def __str__(self) -> str:
        return f"cron[{self.expr} {self.tz.key}]"


def make_trigger(expr: str, tz: ZoneInfo | tzinfo) -> BaseTrigger:
    assert isinstance(tz, ZoneInfo)
    return DstSafeCronTrigger(expr, tz)
