"""Claims: due order, Telegram's limits read from the send log, leases, missed publications.

Time is passed in (``now``), so the limits are checked over minutes without sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.publish import claims
from pipeline.publish.policy import Limits, Policy
from pipeline.publish.queue import resolve_unknown
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import Channel, Notice, Post, Publication, PublicationState
from tests.publishing import add_post, plan

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLICY = Policy(limits=Limits(per_second=30, per_chat_per_minute=20, chat_interval=1.0))


async def target(factory: SessionFactory, n: int) -> Channel:
    async with unit_of_work(factory) as session:
        return await record_target(
            session,
            CheckedChat(
                chat_id=-1001000000000 - n, type="channel", title=f"c{n}", username=f"chan{n}"
            ),
        )


async def queue_posts(
    factory: SessionFactory, channel: Channel, count: int, due: datetime = T0
) -> list[int]:
    ids = []
    for i in range(count):
        post_id = await add_post(factory, f"пост {channel.id}-{i} с уникальным текстом номер {i}")
        ids.append(await plan(factory, post_id, channel, due))
    return ids


async def claim(
    factory: SessionFactory, now: datetime, owner: str = "a", **kw: object
) -> list[claims.Claim]:
    batch = await claims.claim_due(factory, owner=owner, now=now, policy=POLICY, **kw)  # type: ignore[arg-type]
    return batch.claims


async def send_all(factory: SessionFactory, taken: list[claims.Claim], now: datetime) -> None:
    for c in taken:
        assert await claims.record_sent(factory, c, [c.publication_id * 10], now)


async def test_nothing_before_it_is_due(session_factory: SessionFactory) -> None:
    channel = await target(session_factory, 1)
    await queue_posts(session_factory, channel, 1, due=T0 + timedelta(minutes=5))
    assert await claim(session_factory, T0) == []
    assert len(await claim(session_factory, T0 + timedelta(minutes=5))) == 1


async def test_one_chat_gets_at_most_20_a_minute_one_a_second(
    session_factory: SessionFactory,
) -> None:
    channel = await target(session_factory, 1)
    ids = await queue_posts(session_factory, channel, 30)
    sent_at: list[datetime] = []
    now = T0
    while now < T0 + timedelta(minutes=3):
        taken = await claim(session_factory, now)
        assert len(taken) <= 1  # one at a time per chat
        await send_all(session_factory, taken, now)
        sent_at += [now] * len(taken)
        now += timedelta(milliseconds=250)
    assert len(sent_at) == 30
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= 1.0
    for start in sent_at:  # every 60 s window
        assert sum(1 for t in sent_at if start <= t < start + timedelta(seconds=60)) <= 20
    # In due order.
    async with unit_of_work(session_factory) as session:
        order = (
            await session.scalars(
                select(Publication.id).order_by(Publication.sent_at, Publication.id)
            )
        ).all()
    assert list(order) == ids


async def test_the_overall_limit_spreads_many_chats_over_seconds(
    session_factory: SessionFactory,
) -> None:
    for n in range(45):
        await queue_posts(session_factory, await target(session_factory, n), 1)
    first = await claim(session_factory, T0, max_claims=100)
    assert len(first) == 30
    assert len({c.channel_id for c in first}) == 30
    await send_all(session_factory, first, T0)
    assert await claim(session_factory, T0 + timedelta(milliseconds=500), max_claims=100) == []
    later = await claim(session_factory, T0 + timedelta(seconds=1, milliseconds=1), max_claims=100)
    assert len(later) == 15


async def batch_at(factory: SessionFactory, now: datetime) -> claims.Batch:
    return await claims.claim_due(factory, owner="a", now=now, policy=POLICY, max_claims=100)


async def test_a_claim_takes_what_falls_due_within_the_lead_to_start_on_time(
    session_factory: SessionFactory,
) -> None:
    channel = await target(session_factory, 1)
    soon = T0 + claims.LEAD / 2
    await queue_posts(session_factory, channel, 1, due=soon)
    later = await queue_posts(
        session_factory, await target(session_factory, 2), 1, due=T0 + timedelta(seconds=5)
    )
    batch = await batch_at(session_factory, T0)
    assert [c.start_at for c in batch.claims] == [soon]
    # The other is not taken, and the claim says when to look for it: a lead before it.
    assert later[0] not in {c.publication_id for c in batch.claims}
    assert batch.retry_at == T0 + timedelta(seconds=5) - claims.LEAD


@pytest.mark.parametrize(
    ("chats", "why"),
    [(1, "the chat's 1 s spacing"), (31, "the 30 messages a second overall")],
)
async def test_held_by_a_limit_the_claim_says_when_it_may_go(
    session_factory: SessionFactory, chats: int, why: str
) -> None:
    for n in range(chats):
        await queue_posts(session_factory, await target(session_factory, n), 2 if chats == 1 else 1)
    first = await batch_at(session_factory, T0)
    assert len(first.claims) == min(chats, 30), why
    await send_all(session_factory, first.claims, T0)
    held = await batch_at(session_factory, T0 + timedelta(milliseconds=500))
    assert held.claims == []
    # Room comes a second after the deliveries ended; the claim is due a lead before.
    assert held.retry_at == T0 + timedelta(seconds=1) - claims.LEAD, why
    again = await batch_at(session_factory, held.retry_at)
    assert [c.start_at for c in again.claims] == [T0 + timedelta(seconds=1)], why


async def test_an_album_counts_its_items(session_factory: SessionFactory) -> None:
    channel = await target(session_factory, 1)
    ids = await queue_posts(session_factory, channel, 3)
    async with unit_of_work(session_factory) as session:
        for pub_id in ids:
            (await session.get_one(Publication, pub_id)).size = 10
    now = T0
    taken = await claim(session_factory, now)
    await send_all(session_factory, taken, now)
    now += timedelta(seconds=2)
    taken = await claim(session_factory, now)
    await send_all(session_factory, taken, now)
    # 20 items sent in this minute: the third album waits for the window, and the claim
    # says until when: the moment the first album leaves it.
    held = await batch_at(session_factory, now + timedelta(seconds=30))
    assert held.claims == []
    assert held.retry_at == T0 + timedelta(seconds=60)
    assert len(await claim(session_factory, held.retry_at)) == 1


async def test_claims_from_two_processes_never_share_a_publication(
    session_factory: SessionFactory,
) -> None:
    channels = [await target(session_factory, n) for n in range(10)]
    for channel in channels:
        await queue_posts(session_factory, channel, 3)
    seen: list[int] = []
    now = T0
    for _ in range(10):
        results = await asyncio.gather(
            *(claim(session_factory, now, owner=f"p{i}", max_claims=5) for i in range(3))
        )
        for taken in results:
            seen += [c.publication_id for c in taken]
            await send_all(session_factory, taken, now)
        now += timedelta(seconds=1, milliseconds=10)
    assert len(seen) == 30
    assert len(set(seen)) == 30


async def test_a_dead_senders_lease_makes_it_unknown_never_resent(
    session_factory: SessionFactory,
) -> None:
    channel = await target(session_factory, 1)
    (pub_id,) = await queue_posts(session_factory, channel, 1)
    (taken,) = await claim(session_factory, T0, owner="dead")
    # The owner never records anything. Within the lease nobody touches it...
    assert await claim(session_factory, T0 + timedelta(seconds=30), owner="b") == []
    # ... after it, it is unknown, and the admins are told.
    assert await claim(session_factory, T0 + timedelta(seconds=61), owner="b") == []
    async with unit_of_work(session_factory) as session:
        stored = await session.get_one(Publication, pub_id)
        notices = (await session.scalars(select(Notice.text))).all()
    assert stored.state is PublicationState.UNKNOWN
    assert any(f"tgpipe resolve {pub_id}" in text for text in notices)
    # The late owner may still record the truth it knows.
    assert await claims.record_sent(session_factory, taken, [7], T0 + timedelta(seconds=62))
    assert (await session_get(session_factory, pub_id)).state is PublicationState.SENT


async def session_get(factory: SessionFactory, pub_id: int) -> Publication:
    async with unit_of_work(factory) as session:
        return await session.get_one(Publication, pub_id)


@pytest.mark.parametrize(
    ("sent", "state"), [(True, PublicationState.SENT), (False, PublicationState.SCHEDULED)]
)
async def test_a_person_resolves_an_unknown_publication(
    session_factory: SessionFactory, sent: bool, state: PublicationState
) -> None:
    channel = await target(session_factory, 1)
    (pub_id,) = await queue_posts(session_factory, channel, 1)
    await claim(session_factory, T0, owner="dead")
    await claim(session_factory, T0 + timedelta(minutes=5))
    async with unit_of_work(session_factory) as session:
        await resolve_unknown(session, pub_id, sent=sent)
    assert (await session_get(session_factory, pub_id)).state is state
    if not sent:
        assert len(await claim(session_factory, datetime.now(UTC) + timedelta(seconds=1))) == 1


async def test_long_overdue_publications_are_missed_and_reported(
    session_factory: SessionFactory,
) -> None:
    channel = await target(session_factory, 1)
    (old,) = await queue_posts(session_factory, channel, 1, due=T0 - timedelta(hours=2))
    (recent,) = await queue_posts(session_factory, channel, 1, due=T0 - timedelta(minutes=30))
    taken = await claim(session_factory, T0)
    assert [c.publication_id for c in taken] == [recent]  # within the grace period: sent
    stored = await session_get(session_factory, old)
    assert stored.state is PublicationState.MISSED
    async with unit_of_work(session_factory) as session:
        notices = (await session.scalars(select(Notice.key))).all()
        post = await session.get_one(Post, stored.post_id)
    assert f"missed:{old}" in notices
    assert post.status.value == "draft"  # free to be planned again


async def test_a_deferred_chat_waits_while_others_go(session_factory: SessionFactory) -> None:
    slow, fast = await target(session_factory, 1), await target(session_factory, 2)
    await queue_posts(session_factory, slow, 2)
    await queue_posts(session_factory, fast, 2)
    first = await claim(session_factory, T0)
    by_chat = {c.channel_id: c for c in first}
    await claims.record_deferred(session_factory, by_chat[slow.id], 30, T0)
    await claims.record_sent(session_factory, by_chat[fast.id], [1], T0)
    later = await claim(session_factory, T0 + timedelta(seconds=2))
    assert [c.channel_id for c in later] == [fast.id]
    assert {c.channel_id for c in await claim(session_factory, T0 + timedelta(seconds=31))} == {
        slow.id
    }
