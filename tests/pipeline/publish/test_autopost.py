"""Autopost rules: which draft a firing takes, once per slot, never twice to a chat, DST.

Time is passed in (``now``), so days of firings run without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.errors import NotFoundError, UsageError
from pipeline.publish.autopost import (
    Firing,
    add_rule,
    due_slot,
    fire,
    fire_and_refresh,
    list_rules,
    pick_draft,
    refresh_best_hours,
    remove_rule,
    set_enabled,
)
from pipeline.publish.cron import CronError
from pipeline.publish.targets import CheckedChat, record_target
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import (
    AutopostFiring,
    AutopostPolicy,
    AutopostRule,
    Channel,
    Notice,
    Post,
    PostStatus,
    Publication,
    PublicationMode,
    PublicationState,
    ReactionCount,
)
from tests.history import add_history, daily_at
from tests.publishing import add_post

TARGET_ID = -1001234567
# The rule is made an hour before its first 09:00 UTC slot.
T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def slot(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """09:00 UTC on 2026-01-(15 + day): the daily rule's slot."""
    return datetime(2026, 1, 15, hour, minute, tzinfo=UTC) + day * DAY


async def make_target(
    factory: SessionFactory, chat_id: int = TARGET_ID, username: str = "target"
) -> Channel:
    async with unit_of_work(factory) as session:
        return await record_target(
            session,
            CheckedChat(chat_id=chat_id, type="channel", title=username.title(), username=username),
        )


async def make_channel(factory: SessionFactory, title: str, **fields: Any) -> Channel:
    """A channel posts were imported from (not a publishing target)."""
    async with unit_of_work(factory) as session:
        channel = Channel(title=title, **fields)
        session.add(channel)
        await session.flush()
        return channel


async def make_post(
    factory: SessionFactory,
    text: str,
    *,
    day: int,
    channel: Channel | None = None,
    reactions: dict[str, int] | None = None,
    duplicate_of: int | None = None,
    status: PostStatus = PostStatus.DRAFT,
) -> int:
    async with unit_of_work(factory) as session:
        post = Post(
            text=text,
            date=datetime(2025, 6, 1, tzinfo=UTC) + day * DAY,
            channel_id=channel.id if channel else None,
            duplicate_of=duplicate_of,
            status=status,
        )
        session.add(post)
        await session.flush()
        for reaction, count in (reactions or {}).items():
            session.add(ReactionCount(post_id=post.id, reaction=reaction, count=count))
        return post.id


async def make_rule(
    factory: SessionFactory,
    target: Channel,
    cron: str | None = "0 9 * * *",
    *,
    timezone: str = "UTC",
    now: datetime = T0,
    **options: Any,
) -> int:
    async with unit_of_work(factory) as session:
        rule = await add_rule(session, target, cron, timezone=timezone, now=now, **options)
        return rule.id


async def fire_at(factory: SessionFactory, rule_id: int, now: datetime) -> Firing:
    async with unit_of_work(factory) as session:
        return await fire(session, rule_id, now)


async def publications(factory: SessionFactory) -> list[tuple[int | None, int, datetime]]:
    """(post, chat, due) of every publication, in the order they were queued."""
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(Publication.post_id, Publication.channel_id, Publication.due_at).order_by(
                Publication.id
            )
        )
        return [(post_id, chat, due) for post_id, chat, due in rows]


async def queued_posts(factory: SessionFactory) -> list[int | None]:
    return [post_id for post_id, _, _ in await publications(factory)]


async def notices(factory: SessionFactory) -> list[str]:
    async with unit_of_work(factory) as session:
        return list(await session.scalars(select(Notice.key).order_by(Notice.id)))


async def firings(factory: SessionFactory, rule_id: int) -> list[tuple[datetime, str]]:
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(AutopostFiring.fire_at, AutopostFiring.outcome)
            .where(AutopostFiring.rule_id == rule_id)
            .order_by(AutopostFiring.fire_at)
        )
        return [(when, outcome) for when, outcome in rows]


async def get_rule(factory: SessionFactory, rule_id: int) -> AutopostRule:
    async with unit_of_work(factory) as session:
        return await session.get_one(AutopostRule, rule_id)


async def status_of(factory: SessionFactory, post_id: int) -> PostStatus:
    async with unit_of_work(factory) as session:
        return (await session.get_one(Post, post_id)).status


@pytest.mark.parametrize(
    ("policy", "order"),
    [
        (AutopostPolicy.OLDEST, ["a", "c", "b"]),
        (AutopostPolicy.NEWEST, ["b", "c", "a"]),
        # Most reactions in all first; b has none.
        (AutopostPolicy.TOP, ["c", "a", "b"]),
    ],
)
async def test_each_policy_takes_drafts_in_its_order(
    session_factory: SessionFactory, policy: AutopostPolicy, order: list[str]
) -> None:
    target = await make_target(session_factory)
    ids = {
        "a": await make_post(session_factory, "Post a", day=1, reactions={"👍": 2, "🔥": 1}),
        "b": await make_post(session_factory, "Post b", day=3),
        "c": await make_post(session_factory, "Post c", day=2, reactions={"❤": 5}),
    }
    rule_id = await make_rule(session_factory, target, policy=policy)
    picked = []
    for day in range(3):
        firing = await fire_at(session_factory, rule_id, slot(day))
        assert firing.outcome == "queued"
        assert firing.slot == slot(day)
        picked.append(firing.post_id)
    assert picked == [ids[name] for name in order]
    assert (await fire_at(session_factory, rule_id, slot(3))).outcome == "empty"


async def test_random_takes_every_draft_once(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    ids = {await make_post(session_factory, f"Post {n}", day=n) for n in range(4)}
    rule_id = await make_rule(session_factory, target, policy=AutopostPolicy.RANDOM)
    picked = [(await fire_at(session_factory, rule_id, slot(day))).post_id for day in range(4)]
    assert set(picked) == ids
    assert sorted(await queued_posts(session_factory)) == sorted(ids)  # type: ignore[type-var]
    assert (await fire_at(session_factory, rule_id, slot(4))).outcome == "empty"


async def test_from_takes_only_that_channels_drafts(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    source = await make_channel(session_factory, "Source", username="source")
    other = await make_channel(session_factory, "Other", username="other")
    await make_post(session_factory, "From elsewhere, older", day=1, channel=other)
    wanted = await make_post(session_factory, "From the source", day=2, channel=source)
    await make_post(session_factory, "No channel at all", day=0)
    rule_id = await make_rule(session_factory, target, source=source)
    assert (await fire_at(session_factory, rule_id, slot(0))).post_id == wanted
    assert (await fire_at(session_factory, rule_id, slot(1))).outcome == "empty"
    async with unit_of_work(session_factory) as session:
        assert await pick_draft(session, target, source_channel_id=other.id) is not None
        assert await pick_draft(session, target, source_channel_id=source.id) is None


@pytest.mark.parametrize("tag", ["python", "#Python", "  #PYTHON "])
async def test_tag_takes_only_drafts_with_that_hashtag(
    session_factory: SessionFactory, tag: str
) -> None:
    target = await make_target(session_factory)
    # Older, but "#pythonista" and "x#python" are not the hashtag #python.
    await make_post(session_factory, "Meet the #pythonista community", day=0)
    await make_post(session_factory, "mail me at x#python", day=1)
    await make_post(session_factory, "No tag here, python", day=2)
    wanted = await make_post(session_factory, "Release notes #Python 3.14", day=3)
    rule_id = await make_rule(session_factory, target, tag=tag)
    assert (await get_rule(session_factory, rule_id)).tag == "python"
    assert (await fire_at(session_factory, rule_id, slot(0))).post_id == wanted
    assert (await fire_at(session_factory, rule_id, slot(1))).outcome == "empty"


async def test_a_firing_queues_the_draft_due_at_the_slot(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    post_id = await make_post(session_factory, "Hello", day=0)
    rule_id = await make_rule(session_factory, target, silent=True)
    # Before the first slot: nothing to do.
    assert await fire_at(session_factory, rule_id, slot(0) - timedelta(seconds=1)) == Firing(
        rule_id, None, None, None, "not due"
    )
    firing = await fire_at(session_factory, rule_id, slot(0))
    assert firing.outcome == "queued"
    assert firing.slot == slot(0)
    assert firing.post_id == post_id
    assert await publications(session_factory) == [(post_id, target.id, slot(0))]
    async with unit_of_work(session_factory) as session:
        publication = await session.get_one(Publication, firing.publication_id)
        assert publication.autopost_rule_id == rule_id
        assert publication.silent is True
        assert publication.mode is PublicationMode.SEND
        assert publication.state is PublicationState.SCHEDULED
    assert await status_of(session_factory, post_id) is PostStatus.QUEUED
    assert await firings(session_factory, rule_id) == [(slot(0), "queued")]
    assert (await get_rule(session_factory, rule_id)).last_fired_at == slot(0)


async def test_the_same_slot_fired_twice_queues_once(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    first_post = await make_post(session_factory, "First", day=0)
    await make_post(session_factory, "Second", day=1)
    rule_id = await make_rule(session_factory, target)
    first = await fire_at(session_factory, rule_id, slot(0))
    assert first.outcome == "queued"
    again = await fire_at(session_factory, rule_id, slot(0))
    assert again == Firing(rule_id, slot(0), None, None, "fired elsewhere")
    later = await fire_at(session_factory, rule_id, slot(0, minute=30))
    assert later.outcome == "fired elsewhere"
    assert await queued_posts(session_factory) == [first_post]
    assert await firings(session_factory, rule_id) == [(slot(0), "queued")]


async def test_content_the_chat_has_is_never_posted_there_again(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    # The channel an old export came from is the target (its bare id, as exports write it).
    old_import = await make_channel(session_factory, "Old import", telegram_id=1234567)
    from_target = await make_post(
        session_factory, "Imported from the target", day=0, channel=target
    )
    from_old = await make_post(
        session_factory, "Imported from its export", day=1, channel=old_import
    )
    # A draft whose duplicate was already sent to the target.
    canonical = await make_post(session_factory, "Sent before as a duplicate", day=2)
    sent = await make_post(
        session_factory,
        "Sent before as a duplicate!",
        day=3,
        duplicate_of=canonical,
        status=PostStatus.PUBLISHED,
    )
    async with unit_of_work(session_factory) as session:
        session.add(
            Publication(
                post_id=sent,
                mode=PublicationMode.SEND,
                channel_id=target.id,
                due_at=slot(-10),
                state=PublicationState.SENT,
                sent_at=slot(-10),
            )
        )
    fresh = await make_post(session_factory, "Never seen there", day=4)
    rule_id = await make_rule(session_factory, target)
    assert (await fire_at(session_factory, rule_id, slot(0))).post_id == fresh
    assert (await fire_at(session_factory, rule_id, slot(1))).outcome == "empty"
    assert await queued_posts(session_factory) == [sent, fresh]
    for post_id in (from_target, from_old, canonical):
        assert await status_of(session_factory, post_id) is PostStatus.DRAFT
    # Another chat may have them all, oldest first.
    elsewhere = await make_target(session_factory, chat_id=-1009999, username="elsewhere")
    async with unit_of_work(session_factory) as session:
        assert await pick_draft(session, elsewhere) == from_target


async def test_nothing_left_tells_the_admins_once_until_it_posts_again(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    rule_id = await make_rule(session_factory, target)
    for day in range(3):
        firing = await fire_at(session_factory, rule_id, slot(day))
        assert firing == Firing(rule_id, slot(day), None, None, "empty")
    assert await notices(session_factory) == [f"autopost-empty:{rule_id}:{slot(0).isoformat()}"]
    assert (await get_rule(session_factory, rule_id)).empty_since == slot(0)
    async with unit_of_work(session_factory) as session:
        text = (await session.scalars(select(Notice.text))).one()
    assert text.startswith(
        f"📭 Autopost rule {rule_id} for @target had nothing to post: "
        "no draft left that the chat does not have yet."
    )

    post_id = await make_post(session_factory, "A new draft", day=0)
    assert (await fire_at(session_factory, rule_id, slot(3))).post_id == post_id
    assert (await get_rule(session_factory, rule_id)).empty_since is None
    assert (await fire_at(session_factory, rule_id, slot(4))).outcome == "empty"
    assert (await fire_at(session_factory, rule_id, slot(5))).outcome == "empty"
    assert await notices(session_factory) == [
        f"autopost-empty:{rule_id}:{slot(0).isoformat()}",
        f"autopost-empty:{rule_id}:{slot(4).isoformat()}",
    ]
    assert [outcome for _, outcome in await firings(session_factory, rule_id)] == [
        "empty",
        "empty",
        "empty",
        "queued",
        "empty",
        "empty",
    ]


async def test_a_blocked_chat_is_an_empty_firing_that_says_why(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    post_id = await make_post(session_factory, "Waiting", day=0)
    async with unit_of_work(session_factory) as session:
        (await session.get_one(Channel, target.id)).blocked_reason = "the bot was removed"
    rule_id = await make_rule(session_factory, target)
    assert (await fire_at(session_factory, rule_id, slot(0))).outcome == "empty"
    assert await status_of(session_factory, post_id) is PostStatus.DRAFT
    async with unit_of_work(session_factory) as session:
        text = (await session.scalars(select(Notice.text))).one()
    assert "the bot cannot post there (the bot was removed)" in text


async def test_a_draft_with_nothing_to_send_is_archived_and_the_next_taken(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    empty = await make_post(session_factory, "", day=0)
    post_id = await make_post(session_factory, "Text", day=1)
    rule_id = await make_rule(session_factory, target)
    assert (await fire_at(session_factory, rule_id, slot(0))).post_id == post_id
    assert await status_of(session_factory, empty) is PostStatus.ARCHIVED


async def test_a_paused_rule_does_not_fire_and_resuming_skips_missed_slots(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    posts = [await make_post(session_factory, f"Post {n}", day=n) for n in range(3)]
    rule_id = await make_rule(session_factory, target)
    async with unit_of_work(session_factory) as session:
        rule = await set_enabled(session, rule_id, False, slot(0, hour=8))
        assert rule.enabled is False
    for day in range(3):
        assert await fire_at(session_factory, rule_id, slot(day)) == Firing(
            rule_id, None, None, None, "paused"
        )
    # Resumed at 10:00 on day 2: that day's 09:00 and the two before are not owed.
    async with unit_of_work(session_factory) as session:
        assert (await set_enabled(session, rule_id, True, slot(2, hour=10))).enabled is True
    assert (await fire_at(session_factory, rule_id, slot(2, hour=10))).outcome == "not due"
    assert await publications(session_factory) == []
    firing = await fire_at(session_factory, rule_id, slot(3))
    assert (firing.outcome, firing.slot, firing.post_id) == ("queued", slot(3), posts[0])
    # Enabling an enabled rule does not move its clock.
    async with unit_of_work(session_factory) as session:
        await set_enabled(session, rule_id, True, slot(10))
    assert (await get_rule(session_factory, rule_id)).last_fired_at == slot(3)


async def test_slots_missed_while_nothing_ran_fire_only_the_latest(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    for n in range(3):
        await make_post(session_factory, f"Post {n}", day=n)
    rule_id = await make_rule(session_factory, target)
    now = slot(5, hour=12)  # five days and a bit since anything ran
    firing = await fire_at(session_factory, rule_id, now)
    assert (firing.outcome, firing.slot) == ("queued", slot(5))
    # Due just now, not at the past slot, so it is sent rather than counted as missed.
    assert [due for _, _, due in await publications(session_factory)] == [
        now - timedelta(seconds=1)
    ]
    assert await firings(session_factory, rule_id) == [(slot(5), "queued")]
    assert (await fire_at(session_factory, rule_id, now)).outcome == "fired elsewhere"
    assert len(await publications(session_factory)) == 1


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (
            datetime(2026, 3, 28, 0, 0, tzinfo=UTC),
            [
                datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
                datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:30 skipped: 03:00 CEST
                datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
            ],
        ),
        (
            datetime(2026, 10, 24, 0, 0, tzinfo=UTC),
            [
                datetime(2026, 10, 24, 0, 30, tzinfo=UTC),
                datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30 only
                datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
            ],
        ),
    ],
)
async def test_dst_days_post_once_a_day(
    session_factory: SessionFactory, start: datetime, expected: list[datetime]
) -> None:
    target = await make_target(session_factory)
    for n in range(5):
        await make_post(session_factory, f"Post {n}", day=n)
    rule_id = await make_rule(
        session_factory, target, "30 2 * * *", timezone="Europe/Berlin", now=start
    )
    outcomes = []
    now = start
    # Every ten minutes for three days, as a scheduler waking often would.
    while now < start + 3 * DAY:
        outcomes.append((await fire_at(session_factory, rule_id, now)).outcome)
        now += timedelta(minutes=10)
    assert [due for _, _, due in await publications(session_factory)] == expected
    assert [when for when, _ in await firings(session_factory, rule_id)] == expected
    assert outcomes.count("queued") == 3


@pytest.mark.parametrize(
    ("cron", "last_fired_at", "now", "expected"),
    [
        ("0 9 * * *", slot(0, hour=8), slot(0, hour=8, minute=59), None),
        ("0 9 * * *", slot(0, hour=8), slot(0), slot(0)),
        ("0 9 * * *", slot(0), slot(0), None),  # fired already
        ("0 9 * * *", slot(0), slot(1) - timedelta(seconds=1), None),
        ("0 9 * * *", slot(0), slot(3, hour=23), slot(3)),  # only the latest of the missed
        # Over 10,000 missed slots (a minute rule down for nine days): still the latest.
        ("* * * * *", slot(0), slot(9, hour=12, minute=0) + timedelta(seconds=30), slot(9, 12)),
        # A yearly rule missed for over a year.
        ("0 12 1 1 *", slot(-14), datetime(2027, 6, 1, tzinfo=UTC), slot(-14, 12) + 365 * DAY),
        ("0 12 1 1 *", slot(-14, 12), datetime(2026, 12, 31, tzinfo=UTC), None),
    ],
)
def test_due_slot(
    cron: str, last_fired_at: datetime, now: datetime, expected: datetime | None
) -> None:
    rule = AutopostRule(cron=cron, timezone="UTC", last_fired_at=last_fired_at)
    assert due_slot(rule, now) == expected


async def test_list_rules(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    source = await make_channel(session_factory, "Source Title")
    daily = await make_rule(
        session_factory,
        target,
        "0  9 * * 1-5",
        timezone="Europe/Berlin",
        policy=AutopostPolicy.TOP,
        source=source,
        tag="#News",
        created_by=7,
    )
    paused = await make_rule(session_factory, target, "30 2 * * *")
    async with unit_of_work(session_factory) as session:
        await set_enabled(session, paused, False, T0)
    async with unit_of_work(session_factory) as session:
        # A Thursday, at 09:00 in Berlin: the next runs are Friday, Monday, Tuesday.
        views = await list_rules(session, T0)
    assert [view.to_json() for view in views] == [
        {
            "id": daily,
            "chat": "@target",
            "cron": "0 9 * * 1-5",
            "timezone": "Europe/Berlin",
            "policy": "top",
            "from": "Source Title",
            "tag": "news",
            "silent": False,
            "enabled": True,
            "best_hours": None,
            "last_fired_at": "2026-01-15T08:00:00Z",
            "empty_since": None,
            "next_runs": [
                "2026-01-16 09:00 CET",
                "2026-01-19 09:00 CET",
                "2026-01-20 09:00 CET",
            ],
        },
        {
            "id": paused,
            "chat": "@target",
            "cron": "30 2 * * *",
            "timezone": "UTC",
            "policy": "oldest",
            "from": None,
            "tag": None,
            "silent": False,
            "enabled": False,
            "best_hours": None,
            "last_fired_at": "2026-01-15T08:00:00Z",
            "empty_since": None,
            "next_runs": [],
        },
    ]


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("61 * * * *", "UTC", "--cron"),
        ("* * *", "UTC", "--cron"),
        ("0 9 * * *", "Mars/Base", "unknown time zone"),
    ],
)
async def test_add_rule_refuses_bad_rules(
    session_factory: SessionFactory, cron: str, timezone: str, message: str
) -> None:
    target = await make_target(session_factory)
    with pytest.raises(CronError, match=message):
        await make_rule(session_factory, target, cron, timezone=timezone)
    async with unit_of_work(session_factory) as session:
        assert await session.scalar(select(func.count()).select_from(AutopostRule)) == 0


async def test_removed_rules(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    await add_post(session_factory, "Unused")
    rule_id = await make_rule(session_factory, target)
    async with unit_of_work(session_factory) as session:
        await remove_rule(session, rule_id)
    assert (await fire_at(session_factory, rule_id, slot(0))).outcome == "removed"
    async with unit_of_work(session_factory) as session:
        with pytest.raises(NotFoundError, match=f"no autopost rule with id {rule_id}"):
            await set_enabled(session, rule_id, True, T0)


# --- at the best hours ---------------------------------------------------------------------


async def test_a_rule_at_the_best_hours_posts_when_the_channel_does_best(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    start = datetime(2025, 10, 1, tzinfo=UTC)
    await add_history(session_factory, target.id, daily_at(19, 40, 30, start))
    await add_history(session_factory, target.id, daily_at(12, 40, 20, start), 100)
    await add_history(session_factory, target.id, daily_at(7, 40, 5, start), 200)
    async with unit_of_work(session_factory) as session:
        rule = await add_rule(session, target, None, timezone="Europe/Berlin", best_hours=2, now=T0)
        assert (rule.cron, rule.best_hours) == ("0 12,19 * * *", 2)
        (view,) = await list_rules(session, T0)
        assert view.to_json()["best_hours"] == 2
        assert view.next_runs[0] == "2026-01-15 12:00 CET"


async def test_best_hours_need_a_history(session_factory: SessionFactory) -> None:
    target = await make_target(session_factory)
    await add_history(session_factory, target.id, daily_at(19, 5, 30, T0 - 10 * DAY))
    async with unit_of_work(session_factory) as session:
        with pytest.raises(UsageError, match="@target has too little history to tell its best"):
            await add_rule(session, target, None, timezone="UTC", best_hours=3, now=T0)
        with pytest.raises(UsageError, match="a cron expression or at the best hours"):
            await add_rule(session, target, "0 9 * * *", timezone="UTC", best_hours=3, now=T0)
        assert await session.scalar(select(func.count(AutopostRule.id))) == 0


async def test_a_best_hours_rule_follows_its_audience_after_each_firing(
    session_factory: SessionFactory,
) -> None:
    target = await make_target(session_factory)
    await add_history(session_factory, target.id, daily_at(19, 30, 30, T0 - 40 * DAY))
    rule_id = await make_rule(session_factory, target, None, best_hours=1)
    await make_post(session_factory, "a draft", day=1)
    async with unit_of_work(session_factory) as session:
        assert (await session.get_one(AutopostRule, rule_id)).cron == "0 18 * * *"  # UTC
    # The audience moved: the last weeks' posts at 08:05 Berlin draw far more.
    await add_history(session_factory, target.id, daily_at(8, 90, 300, T0 - 35 * DAY), 500)
    assert (await fire_and_refresh(session_factory, rule_id, slot(0, 18))).outcome == "queued"
    async with unit_of_work(session_factory) as session:
        assert (await session.get_one(AutopostRule, rule_id)).cron == "0 7 * * *"
    # Read again with nothing new, the hours stay.
    async with unit_of_work(session_factory) as session:
        assert not await refresh_best_hours(session, rule_id)
