"""A channel's figures, read from the store: what it published, the reactions it drew, its
best hours, and how the reactions of its latest publications grew.

A channel's history is every dated post the store holds from it (imported exports carry
dates and reaction counts) and every publication tgpipe sent to it (their counts arrive
with Telegram's reaction updates). A message tgpipe sent and a later export of the channel
brought back is counted once, as the publication: its counts are the live ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.channels import find_channel
from pipeline.errors import NotFoundError
from pipeline.posts import first_line, iso_utc
from pipeline.stats.hours import MIN_MESSAGES, HourTable, Item, Slot, best_slots, reaction_era
from pipeline.store.enums import PublicationState
from pipeline.store.models import (
    AutopostRule,
    Channel,
    ChannelMessage,
    Post,
    Publication,
    PublishedMessage,
    PublishedSnapshot,
    ReactionCount,
)

TOP = 5  # top posts shown
GROWING = 5  # recent publications whose reactions are drawn over time


@dataclass(frozen=True, slots=True)
class Growth:
    """The reactions of one publication, as its updates reported them over time."""

    publication_id: int
    post_id: int | None
    title: str
    sent_at: datetime
    points: list[tuple[datetime, int]]  # (moment, total reactions), oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "publication_id": self.publication_id,
            "post_id": self.post_id,
            "title": self.title,
            "sent_at": iso_utc(self.sent_at),
            "points": [{"at": iso_utc(at), "reactions": total} for at, total in self.points],
        }


@dataclass(frozen=True, slots=True)
class ChannelStats:
    channel_id: int
    channel: str  # its display name
    zone: str
    since: datetime | None
    imported: int  # dated posts from the channel's exports
    published: int  # publications tgpipe sent there
    first: datetime | None
    last: datetime | None
    reactions: int
    reacted_from: datetime | None  # the first message with reactions
    era_messages: int  # messages from then on: what reactions per post divides by
    reacted: int  # messages with any reaction
    by_reaction: list[tuple[str, int]]
    top: list[Item]
    growth: list[Growth]
    # [weekday][hour]: expected reactions per post there (hours.heatmap), None: no message
    cells: list[list[float | None]]
    best_hours: list[Slot]
    best_slots: list[Slot]

    @property
    def messages(self) -> int:
        return self.imported + self.published

    @property
    def per_post(self) -> float:
        return self.reactions / self.era_messages if self.era_messages else 0.0

    @property
    def has_chart(self) -> bool:
        """Anything to draw: reactions on some message, or a publication's growth."""
        return self.reactions > 0 or bool(self.growth)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "zone": self.zone,
            "since": iso_utc(self.since),
            "messages": self.messages,
            "imported": self.imported,
            "published": self.published,
            "first": iso_utc(self.first),
            "last": iso_utc(self.last),
            "reactions": self.reactions,
            "reactions_per_post": round(self.per_post, 2),
            "reactions_from": iso_utc(self.reacted_from),
            "by_reaction": dict(self.by_reaction),
            "top": [
                {
                    "post_id": item.post_id,
                    "publication_id": item.publication_id,
                    "title": item.title,
                    "date": iso_utc(item.date),
                    "reactions": item.total,
                    "by_reaction": dict(item.reactions),
                }
                for item in self.top
            ],
            "best_hours": [slot.to_json() for slot in self.best_hours],
            "best_slots": [slot.to_json() for slot in self.best_slots],
            "heatmap": [
                [None if value is None else round(value, 2) for value in row] for row in self.cells
            ],
            "growth": [growth.to_json() for growth in self.growth],
        }


async def channel_zone(session: AsyncSession, channel_id: int, default: str) -> str:
    """The zone a channel's hours are read in: that of its newest autopost rule (the admin
    chose it for that channel), else ``default``."""
    zone = await session.scalar(
        select(AutopostRule.timezone)
        .where(AutopostRule.channel_id == channel_id)
        .order_by(AutopostRule.id.desc())
        .limit(1)
    )
    return zone or default


async def channels_with_history(
    session: AsyncSession, scope: Collection[int] | None = None
) -> list[Channel]:
    """Channels with dated posts or sent publications (within ``scope``), by name."""
    posted = select(Post.channel_id).where(Post.date.is_not(None), Post.channel_id.is_not(None))
    sent = select(Publication.channel_id).where(Publication.state == PublicationState.SENT)
    query = select(Channel).where(Channel.id.in_(posted.union(sent)))
    if scope is not None:
        query = query.where(Channel.id.in_(scope))
    channels = list(await session.scalars(query))
    return sorted(channels, key=lambda c: c.display_name.casefold())


@dataclass(slots=True)
class _Imported:
    items: list[Item]  # without titles or reactions by type (see _with_details)
    by_reaction: Counter[str]


async def _imported(
    session: AsyncSession,
    channel: Channel,
    since: datetime | None,
    sent_ids: set[int],
    kinds: bool,
) -> _Imported:
    """The channel's dated posts; with ``kinds``, its reactions summed by type too."""
    condition = and_(Post.channel_id == channel.id, Post.date.is_not(None))
    if since is not None:
        condition = and_(condition, Post.date >= since)
    if sent_ids:
        # Messages tgpipe sent that an export of this channel brought back in: counted as
        # the publications they are.
        sightings = await session.execute(
            select(ChannelMessage.post_id, ChannelMessage.message_id).where(
                ChannelMessage.channel_id == channel.id
            )
        )
        brought_back = [post_id for post_id, message_id in sightings if message_id in sent_ids]
        if brought_back:
            condition = and_(condition, Post.id.not_in(brought_back))
    # Summed in the database: a channel's history is up to millions of reaction rows.
    total = func.coalesce(func.sum(ReactionCount.count), 0)
    rows = await session.execute(
        select(Post.id, Post.date, total)
        .outerjoin(ReactionCount, ReactionCount.post_id == Post.id)
        .where(condition)
        .group_by(Post.id, Post.date)
    )
    items = [
        Item(date=date, total=int(count), post_id=post_id)
        for post_id, date, count in rows
        if date is not None
    ]
    by_reaction: Counter[str] = Counter()
    if kinds:
        for reaction, count in await session.execute(
            select(ReactionCount.reaction, func.sum(ReactionCount.count))
            .join(Post, Post.id == ReactionCount.post_id)
            .where(condition)
            .group_by(ReactionCount.reaction)
        ):
            by_reaction[reaction] = int(count)
    return _Imported(items, by_reaction)


async def _with_details(session: AsyncSession, items: list[Item]) -> list[Item]:
    """``items`` with the titles and reactions by type of the imported posts among them."""
    wanted = [item.post_id for item in items if item.publication_id is None and item.post_id]
    if not wanted:
        return items
    titles = {
        post_id: title or first_line(text, 80) or "(media only)"
        for post_id, text, title in await session.execute(
            select(Post.id, Post.text, Post.title).where(Post.id.in_(wanted))
        )
    }
    kinds: dict[int, dict[str, int]] = defaultdict(dict)
    for post_id, reaction, count in await session.execute(
        select(ReactionCount.post_id, ReactionCount.reaction, ReactionCount.count).where(
            ReactionCount.post_id.in_(wanted)
        )
    ):
        kinds[post_id][reaction] = count
    return [
        replace(item, title=titles[item.post_id], reactions=kinds.get(item.post_id, {}))
        if item.publication_id is None and item.post_id in titles
        else item
        for item in items
    ]


async def _published(
    session: AsyncSession, channel: Channel, since: datetime | None
) -> tuple[list[Item], dict[int, list[int]]]:
    """The publications sent to ``channel``, and the message ids of each."""
    condition = and_(
        Publication.channel_id == channel.id,
        Publication.state == PublicationState.SENT,
        Publication.sent_at.is_not(None),
    )
    if since is not None:
        condition = and_(condition, Publication.sent_at >= since)
    reactions: dict[int, Counter[str]] = defaultdict(Counter)
    messages: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(
            PublishedMessage.publication_id, PublishedMessage.message_id, PublishedMessage.reactions
        )
        .join(Publication, Publication.id == PublishedMessage.publication_id)
        .where(condition)
    )
    for publication_id, message_id, counts in rows:
        reactions[publication_id].update(counts)
        messages[publication_id].append(message_id)
    items = []
    rows = await session.execute(
        select(
            Publication.id,
            Publication.post_id,
            Publication.sent_at,
            Publication.from_chat,
            Post.text,
            Post.title,
        )
        .outerjoin(Post, Post.id == Publication.post_id)
        .where(condition)
    )
    for publication_id, post_id, sent_at, from_chat, text, title in rows:
        name = (
            title
            or (first_line(text, 80) if text else "")
            or (f"forward from {from_chat}" if from_chat else "(media only)")
        )
        counts = dict(reactions.get(publication_id, {}))
        items.append(
            Item(
                date=sent_at,
                total=sum(counts.values()),
                reactions=counts,
                title=name,
                post_id=post_id,
                publication_id=publication_id,
            )
        )
    return items, messages


async def _growth(session: AsyncSession, published: Sequence[Item]) -> list[Growth]:
    """The reactions over time of the latest publications that received any updates."""
    recent = sorted(published, key=lambda item: item.date, reverse=True)
    by_id = {item.publication_id: item for item in recent if item.publication_id is not None}
    wanted = [item.publication_id for item in recent if item.publication_id is not None]
    snapshots: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    # In slices: a channel may have thousands of publications, few of them recent.
    for start in range(0, len(wanted), 200):
        if len(snapshots) >= GROWING:
            break
        rows = await session.execute(
            select(
                PublishedSnapshot.publication_id,
                PublishedSnapshot.taken_at,
                PublishedSnapshot.message_id,
                PublishedSnapshot.total,
            )
            .where(PublishedSnapshot.publication_id.in_(wanted[start : start + 200]))
            .order_by(PublishedSnapshot.taken_at)
        )
        for publication_id, taken_at, message_id, total in rows:
            snapshots[publication_id].append((taken_at, message_id, total))
    growth = []
    for publication_id in wanted:
        if publication_id not in snapshots:
            continue
        item = by_id[publication_id]
        latest: dict[int, int] = {}  # an album: the latest total of each of its messages
        points = [(item.date, 0)]
        for taken_at, message_id, total in snapshots[publication_id]:
            latest[message_id] = total
            points.append((max(taken_at, item.date), sum(latest.values())))
        growth.append(Growth(publication_id, item.post_id, item.title, item.date, points))
        if len(growth) == GROWING:
            break
    return growth


async def channel_stats(
    session: AsyncSession, channel: Channel, *, zone: str, since: datetime | None = None
) -> ChannelStats:
    """The figures of ``channel``, its hours read in ``zone``, from ``since`` on (aware)."""
    imported, published = await _history(session, channel, since, kinds=True)
    growth = await _growth(session, published)
    everything = imported.items + published
    by_reaction = imported.by_reaction
    for item in published:
        by_reaction.update(item.reactions)
    top = sorted(
        (item for item in everything if item.total),
        key=lambda item: (-item.total, -item.date.timestamp()),
    )[:TOP]
    era = reaction_era(everything)
    table = HourTable.of(era, ZoneInfo(zone))
    return ChannelStats(
        channel_id=channel.id,
        channel=channel.display_name,
        zone=zone,
        since=since,
        imported=len(imported.items),
        published=len(published),
        first=min((item.date for item in everything), default=None),
        last=max((item.date for item in everything), default=None),
        reactions=sum(item.total for item in everything),
        reacted_from=era[0].date if era else None,
        era_messages=len(era),
        reacted=table.reacted,
        by_reaction=by_reaction.most_common(5),
        top=await _with_details(session, top),
        growth=growth,
        cells=table.heatmap(),
        best_hours=table.best(),
        best_slots=table.best(by_weekday=True),
    )


async def stats_for(
    session: AsyncSession,
    *,
    channel: str | None,
    default_zone: str,
    zone: str | None = None,
    since: datetime | None = None,
    scope: Collection[int] | None = None,
) -> list[ChannelStats]:
    """The figures of the channel named, or of every channel with a history (in ``scope``);
    hours read in ``zone``, else in each channel's own (:func:`channel_zone`)."""
    if channel is not None:
        channels = [await find_channel(session, channel, scope)]
    else:
        channels = await channels_with_history(session, scope)
        if not channels:
            raise NotFoundError(
                "no channel has a history yet: import a channel's export, or publish to one"
            )
    return [
        await channel_stats(
            session, c, zone=zone or await channel_zone(session, c.id, default_zone), since=since
        )
        for c in channels
    ]


async def best_hours_of(
    session: AsyncSession, channel: Channel, zone: str, count: int
) -> list[Slot]:
    """The ``count`` best hours of day of ``channel``'s whole history in ``zone``."""
    imported, published = await _history(session, channel, None, kinds=False)
    return best_slots(imported.items + published, ZoneInfo(zone), count=count)


async def _history(
    session: AsyncSession, channel: Channel, since: datetime | None, *, kinds: bool
) -> tuple[_Imported, list[Item]]:
    """The channel's imported posts and its publications; a message tgpipe sent that an
    export brought back is among the publications only."""
    published, messages = await _published(session, channel, since)
    sent_ids = {message_id for ids in messages.values() for message_id in ids}
    return await _imported(session, channel, since, sent_ids, kinds), published


def _posts(count: int) -> str:
    return f"{count:,} post" if count == 1 else f"{count:,} posts"


def summary_lines(stats: ChannelStats) -> list[str]:
    """The figures as plain lines, for the CLI and (quoted) for the bot."""
    since = f" since {stats.since:%Y-%m-%d}" if stats.since else ""
    head = f"{stats.channel} (hours in {stats.zone}){since}"
    if not stats.messages:
        return [head, "No dated posts or publications here yet: nothing to count."]
    span = f"{stats.first:%Y-%m-%d} to {stats.last:%Y-%m-%d}" if stats.first and stats.last else ""
    lines = [
        head,
        f"Messages: {stats.messages:,} ({stats.imported:,} from exports, "
        f"{stats.published:,} published by tgpipe), {span}",
    ]
    if not stats.reactions:
        lines.append("No reactions recorded on them yet: there are no best hours to tell.")
        return lines
    kinds = " ".join(f"{reaction} {count:,}" for reaction, count in stats.by_reaction)
    lines.append(
        f"Reactions: {stats.reactions:,}, {stats.per_post:.1f} per post "
        f"(counted from {stats.reacted_from:%Y-%m-%d}): {kinds}"
    )
    if stats.best_hours:
        hours = ", ".join(
            f"{slot.label} ({slot.score:.1f}× a typical post, {_posts(slot.messages)})"
            for slot in stats.best_hours
        )
        days = ", ".join(slot.label for slot in stats.best_slots)
        lines.append(f"Best hours: {hours}")
        lines.append(f"Best weekday hours: {days}")
    else:
        lines.append(
            f"Best hours: not enough history yet ({_posts(stats.reacted)} with reactions "
            f"counted; {MIN_MESSAGES} needed)."
        )
    lines.append("Top posts:")
    for item in stats.top:
        ref = f"#{item.post_id}" if item.post_id else f"publication {item.publication_id}"
        lines.append(f"  {ref} {item.date:%Y-%m-%d}: {item.total:,} reactions, {item.title}")
    for growth in stats.growth:
        age = (growth.points[-1][0] - growth.sent_at) / timedelta(hours=1)
        lines.append(
            f"Publication {growth.publication_id} ({growth.title}): "
            f"{growth.points[-1][1]:,} reactions {age:.0f} h after it was sent"
        )
    return lines
