"""Reading the times admins write (``--at WHEN``) and local wall-clock times in a zone.

Admins speak local time; the store keeps UTC. A naive local time that does not exist (the
hour skipped when clocks go forward) means the first instant after the gap; one that exists
twice (clocks go back) means its first occurrence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.errors import TgpipeError

HOW = "use ISO 8601 such as 2026-12-24T09:00, 'now', '+10m', '+2h30m', '+1d' or HH:MM"
_RELATIVE = re.compile(r"^\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_FAR = timedelta(days=3660)


class WhenError(TgpipeError):
    """A time the admin wrote cannot be read, or is not allowed (in the past)."""

    exit_code = 2


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time ``naive`` in ``tz`` (gap: first instant after it;
    repeated hour: first occurrence)."""
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return first.astimezone(UTC)
    # In a gap: fold=0 reads it with the offset before the change (a later instant), fold=1
    # with the one after (an earlier instant); the change itself lies between the two.
    late = first.astimezone(UTC)
    early = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early
    after = late.astimezone(tz).utcoffset()
    while (late - early) > timedelta(seconds=1):
        middle = early + (late - early) / 2
        if middle.astimezone(tz).utcoffset() == after:
            late = middle
        else:
            early = middle
    return late.replace(microsecond=0) if late.microsecond else late


def describe_local(when: datetime, tz: ZoneInfo) -> str:
    """'2026-12-24 09:00 CET' for messages."""
    local = when.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def parse_when(value: str, *, tz: ZoneInfo, now: datetime, allow_past: bool = False) -> datetime:
    """``value`` as an aware UTC time; naive times are read in ``tz``."""
    text = value.strip()
    if text.lower() == "now":
        return now.astimezone(UTC)
    when = _relative(text, now) or _clock(text, tz, now) or _iso(text, tz)
    if when is None:
        raise WhenError(f"--at {value!r}: not a time ({HOW})")
    if when < now - timedelta(seconds=1) and not allow_past:
        raise WhenError(
            f"--at {value}: that is in the past ({describe_local(when, tz)} is before now, "
            f"{describe_local(now, tz)})"
        )
    if when > now + _FAR:
        raise WhenError(f"--at {value}: more than ten years ahead")
    return when


def _relative(text: str, now: datetime) -> datetime | None:
    match = _RELATIVE.match(text)
    if match is None or text == "+":
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta <= timedelta(0):
        raise WhenError(f"--at {text}: a relative time must be ahead of now ({HOW})")
    if delta > _FAR:
        raise WhenError(f"--at {text}: more than ten years ahead")
    return (now + delta).astimezone(UTC)


def _clock(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    match = _CLOCK.match(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise WhenError(f"--at {text!r}: not a time of day ({HOW})")
    today = now.astimezone(tz).date()
    for day in (today, today + timedelta(days=1)):
        when = local_to_utc(datetime(day.year, day.month, day.day, hour, minute), tz)  # noqa: DTZ001 - wall clock, mapped next
        if when > now:
            return when
    return None


def _iso(text: str, tz: ZoneInfo) -> datetime | None:
    candidate = text.replace(" ", "T", 1)
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if "T" not in candidate and ":" not in candidate:
        return None  # a bare date is too vague for a publication
    if parsed.tzinfo is None:
        return local_to_utc(parsed, tz)
    return parsed.astimezone(UTC)
