"""Recurring rules: a standard five-field crontab expression in a named IANA zone, DST-correct.

The fields are ``minute hour day month day-of-week`` as in crontab(5): numbers, ranges
``a-b``, steps ``*/n`` and ``a-b/n`` (``a/n`` runs from ``a`` to the end), lists, month names
jan-dec, day names sun-sat with both 0 and 7 meaning Sunday, and the ``@daily``-style
shorthands. When day and day of week are both restricted (neither starts with ``*``) a day
matching either one fires, as in crontab.

Firings are local wall-clock times in the rule's zone, mapped to instants by
:func:`~pipeline.publish.when.local_to_utc`:

* a time that the spring-forward gap skips fires once, at the first instant after the gap
  (``30 2 * * *`` in Europe/Berlin on 2026-03-29: 03:00 CEST), however many skipped times
  the rule names (``0 2,3 * * *`` fires once that night);
* a time that the fall-back hour repeats fires once, at its first occurrence, when the rule
  names its hours (``30 2 * * *`` on 2026-10-25: 02:30 CEST, not again at 02:30 CET);
* a rule for every hour (hour field ``*``, or any list covering 0-23) runs by elapsed time
  instead: it fires in both passes of the repeated hour, so ``*/15 * * * *`` keeps its
  quarter-hour rhythm through the night the clocks go back, and skips nothing in spring
  (the skipped quarters are the first instant after the gap).

APScheduler 3.11's CronTrigger does none of this: it fires a skipped 02:30 at 03:30, a
repeated 02:30 twice, the skipped 02:00 of ``0 2,3 * * *`` and 03:00 at the same instant
twice, and its ``from_crontab`` reads day of week 0 as Monday and always ANDs day with day
of week. So this module computes the times itself, and :class:`DstSafeCronTrigger` gives
the scheduler that same computation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger

from pipeline.errors import UsageError
from pipeline.publish.when import describe_local, local_to_utc


class CronError(UsageError):
    """A recurring rule's cron expression or time zone cannot be used."""


_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Longest month lengths: a rule for 29 February fires in leap years.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SHAPE = "minute hour day month day-of-week, e.g. '0 9 * * 1-5' for 09:00 on weekdays"
# A valid day and month meets every weekday within the 28-year calendar cycle.
_SEARCH_DAYS = 366 * 29
_TICK = timedelta(microseconds=1)
# Local days whose firings are kept: enough for a year of one rule, or a few rules' weeks.
_CACHED_DAYS = 1024


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0  # the value of names[0]
    note: str = ""
    examples: str = "5, 1-5, */15 or 1,15,30"


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1, " (or jan-dec)", "6, 1-6, */3 or jan,jul"),
    _Field(
        "day of week", 0, 7, _WEEKDAYS, 0, " (0 and 7 are Sunday; or sun-sat)", "1-5 or mon-fri"
    ),
)


@dataclass(frozen=True, slots=True)
class _Rule:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    either_day: bool  # day and day of week both restricted: either one matching will do

    @property
    def every_hour(self) -> bool:
        return len(self.hours) == 24

    def on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        return by_date or by_weekday if self.either_day else by_date and by_weekday


def _parse_field(field: _Field, text: str, fail: Callable[[str], CronError]) -> frozenset[int]:
    def number(token: str, item: str) -> int:
        if token.isascii() and token.isdigit():
            value = int(token)
        elif token.lower() in field.names:
            return field.names.index(token.lower()) + field.first_name
        else:
            kind = "a number or name" if field.names else "a number"
            raise fail(
                f"{field.name} {item!r} is not {kind}, range or step (use e.g. {field.examples})"
            )
        if not field.low <= value <= field.high:
            raise fail(f"{field.name} {value} is out of range {field.low}-{field.high}{field.note}")
        return value

    values: set[int] = set()
    for item in text.split(","):
        span, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise fail(f"{field.name} step in {item!r} must be a whole number from 1 up")
            step = int(step_text)
        if span == "*":
            first, last = field.low, field.high
        elif "-" in span:
            low, _, high = span.partition("-")
            first, last = number(low, item), number(high, item)
            if first > last:
                raise fail(
                    f"{field.name} range {span!r} runs backwards (write the smaller one first)"
                )
        else:
            first = number(span, item)
            last = field.high if slash else first
        values.update(range(first, last + 1, step))
    if field.name == "day of week":
        values = {value % 7 for value in values}  # 7 is Sunday too
    return frozenset(values)


@lru_cache(maxsize=256)
def _compile(expr: str) -> tuple[str, _Rule]:
    def fail(reason: str) -> CronError:
        return CronError(f"--cron {expr!r}: {reason}")

    fields = expr.split()
    if len(fields) == 1 and fields[0].startswith("@"):
        if fields[0].lower() not in _MACROS:
            shorthands = ", ".join(_MACROS)
            raise fail(
                f"{fields[0]} is not a schedule here (use five fields, {_SHAPE}; or {shorthands})"
            )
        fields = _MACROS[fields[0].lower()].split()
    if len(fields) != 5:
        raise fail(f"{len(fields)} fields where a cron expression has 5 ({_SHAPE})")
    minutes, hours, days, months, weekdays = (
        _parse_field(field, part, fail) for field, part in zip(_FIELDS, fields, strict=True)
    )
    either_day = not fields[2].startswith("*") and not fields[4].startswith("*")
    if not either_day and not any(
        day <= _MONTH_DAYS[month - 1] for month in months for day in days
    ):
        raise fail(f"day {fields[2]} never comes in month {fields[3]}, so it would never fire")
    rule = _Rule(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
        either_day=either_day,
    )
    return " ".join(fields).lower(), rule


def validate_cron(expr: str) -> str:
    """``expr`` normalised (single spaces, lower case, shorthands spelled out); raises
    :class:`CronError` saying what is wrong."""
    return _compile(expr)[0]


def validate_timezone(name: str) -> ZoneInfo:
    """The zone called ``name``; raises :class:`CronError` for anything but an IANA name."""
    refused = CronError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
    # Those two name whatever zone the machine is set to, not a place.
    if name in ("localtime", "posixrules"):
        raise refused
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory such as 'Europe'; ValueError: '', absolute or '..' paths.
        raise refused from None


@lru_cache(maxsize=_CACHED_DAYS)
def _day_fires(expr: str, tz: ZoneInfo, day: date) -> tuple[datetime, ...]:
    """The firings of normalised ``expr`` on local date ``day``, sorted, each once."""
    rule = _compile(expr)[1]
    if not rule.on(day):
        return ()
    fires: set[datetime] = set()
    for hour in rule.hours:
        for minute in rule.minutes:
            wall = datetime.combine(day, time(hour, minute))
            fires.add(local_to_utc(wall, tz))  # a set: skipped times meet after the gap
            if rule.every_hour:
                again = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
                if again.astimezone(tz).replace(tzinfo=None) == wall:
                    fires.add(again)  # the repeated hour's second pass
    return tuple(sorted(fires))


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: {what} must be aware")
    return value.astimezone(UTC)


def next_fire(expr: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first firing of ``expr`` in ``tz`` strictly after ``after``, as aware UTC."""
    text = validate_cron(expr)
    after = _aware(after, "after")
    # Local days only move forward with time, and no day's firings fall before its start.
    day = after.astimezone(tz).date()
    for _ in range(_SEARCH_DAYS):
        fires = _day_fires(text, tz, day)
        index = bisect_right(fires, after)
        if index < len(fires):
            return fires[index]
        day += timedelta(days=1)
    raise CronError(f"--cron {expr!r}: never fires in the next {_SEARCH_DAYS // 366} years")


def fire_times(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every firing of ``expr`` in ``tz`` strictly after ``start`` and at or before ``end``
    (so consecutive ranges neither repeat nor miss one), as aware UTC in order."""
    text = validate_cron(expr)
    start, end = _aware(start, "start"), _aware(end, "end")
    times: list[datetime] = []
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        for when in _day_fires(text, tz, day):
            # A gap across midnight can give a day's last firing the next day's first instant.
            if start < when <= end and (not times or when > times[-1]):
                times.append(when)
        day += timedelta(days=1)
    return times


def describe_next(expr: str, tz: ZoneInfo, now: datetime, count: int = 3) -> list[str]:
    """The next ``count`` firings after ``now`` as local times: ``2026-12-03 09:00 CET``."""
    described = []
    when = now
    for _ in range(count):
        when = next_fire(expr, tz, when)
        described.append(describe_local(when, tz))
    return described


class DstSafeCronTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """An APScheduler trigger that fires when :func:`next_fire` says, so the scheduler and
    the store (which works out due slots with :func:`next_fire`) agree on every slot."""

    __slots__ = ("expr", "tz")

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr = validate_cron(expr)
        self.tz = tz

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # As APScheduler's own triggers: with no previous firing, a slot at ``now`` counts.
        after = previous_fire_time if previous_fire_time is not None else now - _TICK
        try:
            return next_fire(self.expr, self.tz, after)
        except CronError:
            return None  # APScheduler's way of saying the job is finished

    def __str__(self) -> str:
        return f"cron[{self.expr} {self.tz.key}]"

    def __repr__(self) -> str:
        return f"<DstSafeCronTrigger ({self.expr!r}, timezone={self.tz.key!r})>"


def make_trigger(expr: str, tz: ZoneInfo) -> DstSafeCronTrigger:
    """The scheduler's trigger for a rule (a :class:`BaseTrigger`)."""
    return DstSafeCronTrigger(expr, tz)
