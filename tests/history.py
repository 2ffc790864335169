"""A channel's history in a real store, for the stats tests: imported posts with dates and
reaction counts, and sent publications whose reactions arrive as Telegram's updates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.reactions import CountUpdate, record, remember_sent
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    ChannelMessage,
    Post,
    Publication,
    PublicationMode,
    PublicationState,
    ReactionCount,
)

BERLIN = ZoneInfo("Europe/Berlin")


async def add_history(
    factory: SessionFactory,
    channel_id: int,
    posts: Iterable[tuple[datetime, Mapping[str, int]]],
    first_message_id: int = 1,
) -> list[int]:
    """Imported posts of ``channel_id`` (date, reaction counts), as an export leaves them:
    with their message ids in the channel. Their post ids."""
    ids = []
    async with unit_of_work(factory) as session:
        for message_id, (date, reactions) in enumerate(posts, start=first_message_id):
            post = Post(
                text=f"Post {message_id} of the channel\nbody",
                entities=[],
                media=[],
                channel_id=channel_id,
                date=date,
            )
            session.add(post)
            await session.flush()
            session.add(
                ChannelMessage(channel_id=channel_id, message_id=message_id, post_id=post.id)
            )
            for reaction, count in reactions.items():
                session.add(ReactionCount(post_id=post.id, reaction=reaction, count=count))
            ids.append(post.id)
    return ids


def daily_at(
    hour: int, days: int, reactions: int, start: datetime, zone: ZoneInfo = BERLIN
) -> list[tuple[datetime, Mapping[str, int]]]:
    """One post a day for ``days`` days at local ``hour`` in ``zone``, each with
    ``reactions`` 👍."""
    first = start.astimezone(zone).replace(hour=hour, minute=5, second=0, microsecond=0)
    return [
        ((first + timedelta(days=day)).astimezone(UTC), {"👍": reactions}) for day in range(days)
    ]


async def add_sent(
    factory: SessionFactory,
    channel_id: int,
    chat_id: int,
    sent_at: datetime,
    message_id: int,
    counts: Iterable[tuple[timedelta, Mapping[str, int]]] = (),
    text: str = "A published post\nbody",
) -> int:
    """A publication sent to ``chat_id`` at ``sent_at`` as ``message_id``, then Telegram's
    reaction counts for it after each delay; its id."""
    async with unit_of_work(factory) as session:
        post = Post(text=text, entities=[], media=[])
        session.add(post)
        await session.flush()
        publication = Publication(
            post_id=post.id,
            mode=PublicationMode.SEND,
            channel_id=channel_id,
            due_at=sent_at,
            state=PublicationState.SENT,
            message_ids=[message_id],
            sent_at=sent_at,
        )
        session.add(publication)
        await session.flush()
        await remember_sent(session, publication.id, chat_id, [message_id])
    for delay, reactions in counts:
        async with unit_of_work(factory) as session:
            await record(session, [CountUpdate(chat_id, message_id, sent_at + delay, reactions)])
    return publication.id
