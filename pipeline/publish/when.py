"""When to publish: the ``--at`` values an admin types, turned into aware UTC instants.

Accepted forms:

* ``now``;
* relative, counted from now: ``+90s``, ``+10m``, ``+2h``, ``+1d``, combined largest unit
  first as in ``+1h30m`` or ``+1d2h``;
* ISO 8601 with an offset or ``Z`` (``2026-12-24T09:00+01:00``): that instant;
* ISO 8601 without one (``2026-12-24T09:00``, ``2026-12-24 09:00:30``): a local time in the
  configured zone;
* ``HH:MM``: the next such local time, today if it is still ahead, else tomorrow.

Local wall-clock times follow one rule around DST changes (:func:`local_to_utc`): a time
the clocks skip (spring forward) means the first instant after the gap, and a time they
show twice (fall back) means its first occurrence. The cron rules share it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.errors import UsageError

# Further ahead than this is a typo (a year off, seconds taken for minutes), not a plan.
MAX_AHEAD = timedelta(days=3653)

_FORMS = "use ISO 8601 such as 2026-12-24T09:00, 'now', '+10m', or HH:MM"
_RELATIVE = re.compile(r"\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOOKS_DATED = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


class WhenError(UsageError):
    """A publication time the user gave cannot be used."""


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """The aware UTC instant of the wall-clock time ``naive`` in ``tz``.

    A time that does not exist (inside a spring-forward gap, e.g. 2026-03-29 02:30 in
    Europe/Berlin) resolves to the first instant after the gap (03:00 CEST, 01:00 UTC); an
    ambiguous one (fall back, 2026-10-25 02:30 in Europe/Berlin) to its first occurrence
    (fold=0: 02:30 CEST, 00:30 UTC).
    """
    if naive.tzinfo is not None:
        raise ValueError(f"local_to_utc takes a naive wall-clock time, got {naive!r}")
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == naive:
        return first
    # In a gap the two folds read the wall time with the offsets before and after the
    # change, so the change lies between the two instants; zone data is in whole seconds.
    whole = naive.replace(microsecond=0)
    low, high = sorted(whole.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    before = low.astimezone(tz).utcoffset()
    lo, hi = 0, int((high - low).total_seconds())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if (low + timedelta(seconds=middle)).astimezone(tz).utcoffset() == before:
            lo = middle
        else:
            hi = middle
    return low + timedelta(seconds=hi)


def describe_local(when: datetime, tz: ZoneInfo) -> str:
    """``when`` as local time for messages: ``2026-12-24 09:00 CET`` (seconds only when
    there are some, so ``+90s`` does not look like a whole minute)."""
    return f"{_clock(when, tz, when.second != 0)} {when.astimezone(tz).strftime('%Z')}"


def _clock(when: datetime, tz: ZoneInfo, seconds: bool) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: pass an aware time")
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _fail(value: str, reason: str) -> WhenError:
    # repr keeps the message on one line whatever was typed. Where the value came from
    # (an option, a command's argument) the caller adds.
    return WhenError(f"{value!r}: {reason}")


def _relative(value: str, now: datetime) -> datetime:
    match = _RELATIVE.fullmatch(value)
    if match is None or not any(match.groups()):
        raise _fail(
            value,
            "not a relative time (use e.g. +90s, +10m, +2h, +1d or +1h30m: "
            "units d, h, m, s, largest first)",
        )
    too_far = f"that is more than {MAX_AHEAD.days // 365} years ahead"
    if any(len(group or "") > 12 for group in match.groups()):
        raise _fail(value, too_far)  # and int() would refuse thousands of digits
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total == 0:
        raise _fail(value, "that is no time from now (write 'now', or e.g. +10m)")
    if total > MAX_AHEAD.total_seconds():
        raise _fail(value, too_far)
    return now + timedelta(seconds=total)


def _next_clock(value: str, hour: int, minute: int, tz: ZoneInfo, now: datetime) -> datetime:
    if hour > 23 or minute > 59:
        raise _fail(value, f"not a time ({_FORMS})")
    today = now.astimezone(tz).date()
    when = local_to_utc(datetime.combine(today, time(hour, minute)), tz)
    if when > now:
        return when
    # Tomorrow's is always ahead: it is no earlier than tomorrow's first instant.
    return local_to_utc(datetime.combine(today + timedelta(days=1), time(hour, minute)), tz)


def _absolute(value: str, tz: ZoneInfo) -> datetime:
    if _DATE_ONLY.fullmatch(value):
        raise _fail(value, f"a date without a time (add one, e.g. {value}T09:00)")
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        reason = str(exc)
        if _LOOKS_DATED.match(value) and not reason.startswith("Invalid isoformat"):
            raise _fail(value, f"not a valid date-time ({reason}; {_FORMS})") from None
        raise _fail(value, f"not a time ({_FORMS})") from None
    try:
        if parsed.tzinfo is None:
            return local_to_utc(parsed, tz)
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _fail(value, "that is out of the range of dates tgpipe can schedule") from None


def parse_when(value: str, *, tz: ZoneInfo, now: datetime, allow_past: bool = False) -> datetime:
    """The aware UTC instant ``value`` means, read in zone ``tz`` at the moment ``now``.

    Raises :class:`WhenError` for anything else, for a time before ``now`` unless
    ``allow_past`` (``now`` itself never is), and for one more than ~10 years ahead.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: now must be aware")
    now = now.astimezone(UTC)
    text = value.strip()
    if not text:
        raise _fail(value, f"no time given ({_FORMS})")
    if text.lower() == "now":
        return now
    if text.startswith("-") and len(text) > 1 and _RELATIVE.fullmatch("+" + text[1:]):
        raise _fail(value, f"relative times count forward from now (write +{text[1:]})")
    if text.startswith("+"):
        return _relative(text, now)
    if clock := _CLOCK.fullmatch(text):
        return _next_clock(text, int(clock[1]), int(clock[2]), tz, now)
    when = _absolute(text, tz)
    if when < now and not allow_past:
        seconds = when.second != 0 or now.second != 0
        raise _fail(
            text,
            f"that is in the past ({_clock(when, tz, seconds)} {tz.key} is before now, "
            f"{_clock(now, tz, seconds)} {tz.key})",
        )
    if when - now > MAX_AHEAD:
        raise _fail(text, f"that is more than {MAX_AHEAD.days // 365} years ahead")
    return when


_AGO = re.compile(r"(\d{1,5})([dwh])", re.IGNORECASE)
_AGO_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(value: str, *, tz: ZoneInfo, now: datetime) -> datetime:
    """The aware UTC instant a ``--since`` value means: ``30d``, ``12w`` or ``48h`` ago, a
    date (its local midnight in ``tz``) or an ISO 8601 time; never one after ``now``."""
    text = value.strip()
    if ago := _AGO.fullmatch(text.lstrip("-")):
        return now - int(ago[1]) * _AGO_UNITS[ago[2].lower()]
    if _DATE_ONLY.fullmatch(text):
        text += "T00:00"
    try:
        since = _absolute(text, tz)
    except WhenError:
        raise _fail(
            value, "not a time: use e.g. 30d, 12w, 48h, 2026-01-31 or 2026-01-31T09:00"
        ) from None
    if since > now:
        raise _fail(value, "that is in the future")
    return since


def parse_duration(value: str) -> timedelta:
    """A length of time as admins write it: ``15m``, ``2h``, ``1h30m``, ``90s``, ``1d``
    (units d, h, m, s, largest first; a leading ``+`` is allowed), or ``0``."""
    text = value.strip()
    if text == "0":
        return timedelta(0)
    match = _RELATIVE.fullmatch(text if text.startswith("+") else f"+{text}")
    if match is None or not any(match.groups()):
        raise _fail(value, "not a length of time (use e.g. 90s, 15m, 2h, 1d or 1h30m)")
    if any(len(group or "") > 6 for group in match.groups()):
        raise _fail(value, "that is too long")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def describe_duration(length: timedelta) -> str:
    """``length`` as :func:`parse_duration` reads it: ``1h30m``, ``15m``, ``0``."""
    seconds = int(length.total_seconds())
    if seconds <= 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
