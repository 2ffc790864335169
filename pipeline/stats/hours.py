"""The best hours to post: reactions per post by weekday and hour in the channel's zone.

A channel's history spans years in which it grew: a post of last month draws more reactions
than one of three years ago at the same hour. Ranking hours on raw counts would favour the
hours the channel posts at lately, so each message is weighed against the messages of its
own month (its *lift*: 2.0 is twice a typical post of that month), and an hour's score is
the mean lift of its messages (each capped at :data:`LIFT_CAP`), pulled towards 1.0 by
:data:`PRIOR` messages' worth, so that one viral post does not make an hour the best. The
heatmap shows the same score in units an admin reads: reactions per post of a typical post
of the channel's recent history times the score — the colours and the best hours agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Messages with reactions a channel needs before tgpipe names its best hours.
MIN_MESSAGES = 10
# How many typical messages an hour's score is blended with (see the module's docstring).
PRIOR = 10.0
# A message counts as at most this many typical ones: a viral post is luck, not an hour.
LIFT_CAP = 3.0


@dataclass(slots=True)  # not frozen: a long history builds hundreds of thousands
class Item:
    """One message of a channel's history: an imported post or one of tgpipe's publications.
    Its title and reactions by type are read only for the few a report shows."""

    date: datetime  # aware
    total: int  # reactions of every type
    reactions: Mapping[str, int] = field(default_factory=dict)
    title: str = ""
    post_id: int | None = None
    publication_id: int | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """An hour of the day (on one weekday, or on any day) and how its messages did."""

    hour: int
    weekday: int | None  # 0 = Monday; None: every day
    messages: int
    per_post: float  # reactions per message
    score: float  # lift over a typical message of the same month, shrunk towards 1.0

    @property
    def label(self) -> str:
        clock = f"{self.hour:02d}:00"
        return clock if self.weekday is None else f"{WEEKDAYS[self.weekday]} {clock}"

    def to_json(self) -> dict[str, object]:
        return {
            "weekday": None if self.weekday is None else WEEKDAYS[self.weekday],
            "hour": self.hour,
            "messages": self.messages,
            "reactions_per_post": round(self.per_post, 2),
            "score": round(self.score, 3),
        }


def reaction_era(items: Sequence[Item]) -> list[Item]:
    """The items from the first one with reactions on: before it the channel had none
    (Telegram added reactions in 2021, a channel may turn them on later), and those zeros
    say nothing about an hour."""
    dated = sorted(items, key=lambda item: item.date)
    for index, item in enumerate(dated):
        if item.total:
            return dated[index:]
    return []


def _typical(totals: list[int]) -> float:
    """A month's typical reactions per post: the mean, with every post counted as at most
    :data:`LIFT_CAP` times the median, so that one viral post does not lower all others."""
    ordered = sorted(totals)
    median = ordered[len(ordered) // 2]
    cap = LIFT_CAP * median if median > 0 else float("inf")
    return sum(min(total, cap) for total in ordered) / len(ordered)


def _lifts(items: Sequence[Item]) -> list[tuple[Item, float]]:
    by_month: dict[tuple[int, int], list[int]] = defaultdict(list)
    for item in items:
        by_month[item.date.year, item.date.month].append(item.total)
    typical = {month: _typical(totals) for month, totals in by_month.items()}
    lifted = []
    for item in items:
        scale = typical[item.date.year, item.date.month]
        if scale > 0:  # a month without any reaction tells nothing about its hours
            lifted.append((item, min(item.total / scale, LIFT_CAP)))
    return lifted


def typical_per_post(items: Sequence[Item], months: int = 3) -> float:
    """Reactions per post of the last ``months`` calendar months that have messages: the
    scale the heatmap's scores are shown in."""
    by_month: dict[tuple[int, int], list[int]] = defaultdict(list)
    for item in items:
        by_month[item.date.year, item.date.month].append(item.total)
    recent = sorted(by_month)[-months:]
    totals = [total for month in recent for total in by_month[month]]
    return sum(totals) / len(totals) if totals else 0.0


def _slot(hour: int, weekday: int | None, count: int, total: int, lifts: float) -> Slot:
    return Slot(hour, weekday, count, total / count, (lifts + PRIOR) / (count + PRIOR))


@dataclass(frozen=True, slots=True)
class HourTable:
    """A history's hours of the day and weekday hours, scored in one pass over it (a big
    channel has hundreds of thousands of posts, and a report wants both, and the heatmap)."""

    by_hour: list[Slot]  # the hours with messages
    by_weekday: list[Slot]  # the (weekday, hour) cells with messages
    reacted: int  # messages with any reaction, from the first one on
    scale: float  # :func:`typical_per_post` of that era

    @classmethod
    def of(cls, items: Sequence[Item], zone: ZoneInfo) -> HourTable:
        era = reaction_era(items)
        hours: dict[int, list[float]] = defaultdict(lambda: [0, 0, 0.0])
        cells: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0, 0, 0.0])
        local: dict[int, tuple[int, int]] = {}  # UTC quarter hour -> local (weekday, hour)
        for item, lift in _lifts(era):
            # Zones move by whole hours or by 30 or 45 minutes: the local hour is found once
            # per UTC quarter hour, not once per message.
            quarter = int(item.date.timestamp()) // 900
            if (found := local.get(quarter)) is None:
                wall = item.date.astimezone(zone)
                found = local[quarter] = (wall.weekday(), wall.hour)
            weekday, hour = found
            for sums in (hours[hour], cells[weekday, hour]):
                sums[0] += 1
                sums[1] += item.total
                sums[2] += lift
        return cls(
            by_hour=[_slot(h, None, int(c), int(t), lift) for h, (c, t, lift) in hours.items()],
            by_weekday=[
                _slot(h, d, int(c), int(t), lift) for (d, h), (c, t, lift) in cells.items()
            ],
            reacted=sum(1 for item in era if item.total),
            scale=typical_per_post(era),
        )

    def best(self, *, by_weekday: bool = False, count: int = 3) -> list[Slot]:
        """The ``count`` best hours of the day (``by_weekday``: weekday hours), best first;
        none when the history holds fewer than :data:`MIN_MESSAGES` messages with
        reactions."""
        if self.reacted < MIN_MESSAGES:
            return []
        ranked = sorted(
            self.by_weekday if by_weekday else self.by_hour,
            key=lambda s: (-s.score, -s.messages, s.weekday or 0, s.hour),
        )
        return ranked[:count]

    def heatmap(self) -> list[list[float | None]]:
        """``cells[weekday][hour]``: the expected reactions per post at that hour (its score
        times :attr:`scale`), None where nothing was posted."""
        cells: list[list[float | None]] = [[None] * 24 for _ in WEEKDAYS]
        for slot in self.by_weekday:
            assert slot.weekday is not None
            cells[slot.weekday][slot.hour] = slot.score * self.scale
        return cells


def best_slots(
    items: Sequence[Item], zone: ZoneInfo, *, by_weekday: bool = False, count: int = 3
) -> list[Slot]:
    """:meth:`HourTable.best` of ``items``."""
    return HourTable.of(items, zone).best(by_weekday=by_weekday, count=count)


def heatmap(items: Sequence[Item], zone: ZoneInfo) -> list[list[float | None]]:
    """:meth:`HourTable.heatmap` of ``items``."""
    return HourTable.of(items, zone).heatmap()


def cron_for(hours: Iterable[int]) -> str:
    """A daily cron expression firing on the hour at each of ``hours``."""
    wanted = sorted(set(hours))
    if not wanted or not all(0 <= hour <= 23 for hour in wanted):
        raise ValueError(f"hours must be 0..23, got {wanted!r}")
    return f"0 {','.join(str(hour) for hour in wanted)} * * *"
