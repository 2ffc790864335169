"""Autopost rules: recurring posting of drafts to one chat, on a cron expression in a zone.

The store decides what a firing does, so a rule fires once per slot however many processes
run it: :func:`fire` takes the dispatch lock, works out the rule's latest slot not yet fired,
records it (unique per rule and slot), and queues the next draft by the rule's policy, never
content already planned for or sent to that chat. A firing with nothing left is recorded
and told to the admins once, until the rule posts again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.errors import NotFoundError, UsageError
from pipeline.ingest.textutil import extract_hashtags
from pipeline.posts import in_scope, iso_utc
from pipeline.publish.cron import describe_next, next_fire, validate_cron, validate_timezone
from pipeline.publish.guard import DuplicatePublicationError, check_publishable
from pipeline.publish.notices import tell
from pipeline.publish.queue import QueueError, schedule_post
from pipeline.stats.hours import MIN_MESSAGES, cron_for
from pipeline.stats.report import best_hours_of
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.locks import DISPATCH, take_lock
from pipeline.store.models import (
    AutopostFiring,
    AutopostPolicy,
    AutopostRule,
    Channel,
    Post,
    PostStatus,
    Publication,
    ReactionCount,
)

log = logging.getLogger(__name__)

# A rule at the best hours posts this many times a day unless told otherwise.
BEST_PER_DAY = 3

# Drafts looked at per firing before it counts as "nothing left" (each is checked against
# what the chat already has).
_CANDIDATES = 200


def _normalise_tag(tag: str | None) -> str | None:
    if tag is None:
        return None
    tag = tag.strip().lstrip("#").casefold()
    return tag or None


async def best_cron(session: AsyncSession, target: Channel, zone: str, per_day: int) -> str:
    """A daily cron at the ``per_day`` best hours of ``target`` in ``zone``."""
    if not 1 <= per_day <= 12:
        raise UsageError(f"posts a day at the best hours: 1 to 12, not {per_day}")
    slots = await best_hours_of(session, target, zone, per_day)
    if not slots:
        raise UsageError(
            f"{target.display_name} has too little history to tell its best hours (fewer "
            f"than {MIN_MESSAGES} posts with reactions): import its export, or give a cron"
        )
    return cron_for(slot.hour for slot in slots)


async def add_rule(
    session: AsyncSession,
    target: Channel,
    cron: str | None,
    *,
    timezone: str,
    best_hours: int | None = None,
    policy: AutopostPolicy = AutopostPolicy.OLDEST,
    source: Channel | None = None,
    tag: str | None = None,
    silent: bool = False,
    own_drafts: bool = False,
    created_by: int | None = None,
    now: datetime,
) -> AutopostRule:
    """A rule posting drafts to ``target`` on ``cron`` in ``timezone`` (``cron`` None and
    ``best_hours`` N: at the target's N best hours a day); ``own_drafts``: only the chat's
    own (its posts and the uploads for it)."""
    validate_timezone(timezone)
    if (cron is None) == (best_hours is None):
        raise UsageError("a rule posts on a cron expression or at the best hours: give one")
    if best_hours is not None:
        cron = await best_cron(session, target, timezone, best_hours)
    assert cron is not None
    rule = AutopostRule(
        channel_id=target.id,
        cron=validate_cron(cron),
        timezone=timezone,
        best_hours=best_hours,
        policy=policy,
        source_channel_id=source.id if source else None,
        tag=_normalise_tag(tag),
        silent=silent,
        own_drafts=own_drafts,
        created_by=created_by,
        # Slots before the rule existed are not owed.
        last_fired_at=now,
    )
    session.add(rule)
    await session.flush()
    return rule


async def get_rule(
    session: AsyncSession, rule_id: int, scope: Collection[int] | None = None
) -> AutopostRule:
    """The rule ``rule_id``; with ``scope`` (store channel ids), one for another chat is not
    found."""
    rule = await session.get(AutopostRule, rule_id)
    if rule is None or (scope is not None and rule.channel_id not in scope):
        raise NotFoundError(f"no autopost rule with id {rule_id}")
    return rule


async def set_enabled(
    session: AsyncSession,
    rule_id: int,
    enabled: bool,
    now: datetime,
    scope: Collection[int] | None = None,
) -> AutopostRule:
    rule = await get_rule(session, rule_id, scope)
    if enabled and not rule.enabled:
        rule.last_fired_at = now  # slots missed while paused are not owed
    rule.enabled = enabled
    await session.flush()
    return rule


async def remove_rule(
    session: AsyncSession, rule_id: int, scope: Collection[int] | None = None
) -> None:
    rule = await get_rule(session, rule_id, scope)
    await session.delete(rule)
    await session.flush()


@dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    chat: str
    cron: str
    timezone: str
    policy: str
    source: str | None
    tag: str | None
    silent: bool
    enabled: bool
    best_hours: int | None
    last_fired_at: datetime | None
    empty_since: datetime | None
    next_runs: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chat": self.chat,
            "cron": self.cron,
            "timezone": self.timezone,
            "policy": self.policy,
            "from": self.source,
            "tag": self.tag,
            "silent": self.silent,
            "enabled": self.enabled,
            "best_hours": self.best_hours,
            "last_fired_at": iso_utc(self.last_fired_at),
            "empty_since": iso_utc(self.empty_since),
            "next_runs": self.next_runs,
        }


async def list_rules(
    session: AsyncSession, now: datetime, scope: Collection[int] | None = None
) -> list[RuleView]:
    query = select(AutopostRule).order_by(AutopostRule.id)
    if scope is not None:
        query = query.where(AutopostRule.channel_id.in_(scope))
    rules = list(await session.scalars(query))
    channels = {c.id: c for c in await session.scalars(select(Channel))}
    views = []
    for rule in rules:
        source = channels.get(rule.source_channel_id) if rule.source_channel_id else None
        views.append(
            RuleView(
                id=rule.id,
                chat=channels[rule.channel_id].display_name,
                cron=rule.cron,
                timezone=rule.timezone,
                policy=rule.policy.value,
                source=source.display_name if source else None,
                tag=rule.tag,
                silent=rule.silent,
                enabled=rule.enabled,
                best_hours=rule.best_hours,
                last_fired_at=rule.last_fired_at,
                empty_since=rule.empty_since,
                next_runs=(
                    describe_next(rule.cron, ZoneInfo(rule.timezone), now) if rule.enabled else []
                ),
            )
        )
    return views


def due_slot(rule: AutopostRule, now: datetime) -> datetime | None:
    """The latest slot of ``rule`` at or before ``now`` not fired yet (older ones, missed
    while nothing ran, are skipped: a rule posts once, not a backlog)."""
    zone = ZoneInfo(rule.timezone)
    after = rule.last_fired_at or rule.created_at
    # Walk forward from a little before now, not from the last firing: after a long outage
    # that walk would be long (a week of a minute rule) when only its end is wanted. The
    # window grows until it holds a slot or reaches back to the last firing.
    window = timedelta(hours=1)
    while True:
        start = max(after, now - window)
        slot = None
        candidate = next_fire(rule.cron, zone, start)
        while candidate <= now:
            slot = candidate
            candidate = next_fire(rule.cron, zone, candidate)
        if slot is not None or start == after:
            return slot
        window *= 4


@dataclass(frozen=True, slots=True)
class Firing:
    rule_id: int
    slot: datetime | None
    publication_id: int | None
    post_id: int | None
    outcome: str  # 'queued', 'empty', 'not due', 'fired elsewhere', 'paused'


async def pick_draft(
    session: AsyncSession,
    target: Channel,
    *,
    policy: AutopostPolicy = AutopostPolicy.OLDEST,
    source_channel_id: int | None = None,
    tag: str | None = None,
    own_drafts: bool = False,
) -> int | None:
    """The next draft by ``policy`` (from that source, with that hashtag; with
    ``own_drafts``, of the target's own) that ``target`` does not have yet."""
    tag = _normalise_tag(tag)
    query = select(Post).where(Post.status == PostStatus.DRAFT, Post.duplicate_of.is_(None))
    if own_drafts:
        query = query.where(in_scope([target.id], include_duplicates=False))
    if source_channel_id is not None:
        query = query.where(Post.channel_id == source_channel_id)
    if tag:
        query = query.where(func.lower(Post.text).contains(f"#{tag}"))
    match policy:
        case AutopostPolicy.OLDEST:
            query = query.order_by(Post.date.asc().nulls_last(), Post.id)
        case AutopostPolicy.NEWEST:
            query = query.order_by(Post.date.desc().nulls_last(), Post.id.desc())
        case AutopostPolicy.RANDOM:
            query = query.order_by(func.random())
        case AutopostPolicy.TOP:
            total = (
                select(func.coalesce(func.sum(ReactionCount.count), 0))
                .where(ReactionCount.post_id == Post.id)
                .scalar_subquery()
            )
            query = query.order_by(total.desc(), Post.date.desc().nulls_last(), Post.id)
    for post in await session.scalars(query.limit(_CANDIDATES)):
        if tag and tag not in {t.lstrip("#").casefold() for t in extract_hashtags(post.text)}:
            continue
        try:
            await check_publishable(session, post.id, target)
        except DuplicatePublicationError:
            continue
        return post.id
    return None


async def fire(session: AsyncSession, rule_id: int, now: datetime) -> Firing:
    """Fire ``rule_id``'s due slot, if any, in the caller's unit of work."""
    await take_lock(session, DISPATCH)
    rule = await session.get(AutopostRule, rule_id, populate_existing=True)
    if rule is None:
        return Firing(rule_id, None, None, None, "removed")
    if not rule.enabled:
        return Firing(rule_id, None, None, None, "paused")
    slot = due_slot(rule, now)
    if slot is None:
        # The latest slot is the one last fired: a second call for it (another process, or
        # this one again) reports that it was done rather than that nothing was due.
        fired = rule.last_fired_at is not None and await session.scalar(
            select(AutopostFiring.id).where(
                AutopostFiring.rule_id == rule.id, AutopostFiring.fire_at == rule.last_fired_at
            )
        )
        if fired:
            return Firing(rule_id, rule.last_fired_at, None, None, "fired elsewhere")
        return Firing(rule_id, None, None, None, "not due")
    done = await session.scalar(
        select(AutopostFiring.id).where(
            AutopostFiring.rule_id == rule.id, AutopostFiring.fire_at == slot
        )
    )
    rule.last_fired_at = slot
    if done is not None:
        return Firing(rule_id, slot, None, None, "fired elsewhere")
    target = await session.get_one(Channel, rule.channel_id)
    firing = AutopostFiring(rule_id=rule.id, fire_at=slot, outcome="empty")
    session.add(firing)
    publication: Publication | None = None
    post_id = None
    if target.blocked_reason is None:
        while (
            post_id := await pick_draft(
                session,
                target,
                policy=rule.policy,
                source_channel_id=rule.source_channel_id,
                tag=rule.tag,
                own_drafts=rule.own_drafts,
            )
        ) is not None:
            try:
                publication = await schedule_post(
                    session,
                    post_id,
                    target,
                    max(slot, now - timedelta(seconds=1)),
                    silent=rule.silent,
                    autopost_rule_id=rule.id,
                )
                break
            except QueueError:
                # Nothing sendable in it (media the export did not include): skip it for good.
                post = await session.get_one(Post, post_id)
                post.status = PostStatus.ARCHIVED
    if publication is not None:
        firing.outcome = "queued"
        firing.publication_id = publication.id
        rule.empty_since = None
        await session.flush()
        return Firing(rule_id, slot, publication.id, post_id, "queued")
    if rule.empty_since is None:
        rule.empty_since = slot
        why = (
            f"the bot cannot post there ({target.blocked_reason})"
            if target.blocked_reason
            else "no draft left that the chat does not have yet"
        )
        await tell(
            session,
            f"autopost-empty:{rule.id}:{slot.isoformat()}",
            f"📭 Autopost rule {rule.id} for {target.display_name} had nothing to post: {why}. "
            "Import more, or change the rule (`tgpipe autopost list`). You are told once "
            "until it posts again.",
        )
    await session.flush()
    return Firing(rule_id, slot, None, None, "empty")


async def refresh_best_hours(session: AsyncSession, rule_id: int) -> bool:
    """A best-hours rule's cron read again from its channel's history; whether it changed.
    Outside the dispatch lock: reading a long history must not hold up sending."""
    rule = await session.get(AutopostRule, rule_id)
    if rule is None or rule.best_hours is None:
        return False
    target = await session.get_one(Channel, rule.channel_id)
    try:
        cron = await best_cron(session, target, rule.timezone, rule.best_hours)
    except UsageError:
        return False  # the history it was made from is gone: keep the hours it has
    if cron == rule.cron:
        return False
    log.info("autopost rule %d: best hours now %s", rule.id, cron)
    rule.cron = cron
    await session.flush()
    return True


async def fire_and_refresh(factory: SessionFactory, rule_id: int, now: datetime) -> Firing:
    """:func:`fire` in a unit of work; a best-hours rule that fired then reads its hours
    again (:func:`refresh_best_hours`) in another."""
    async with unit_of_work(factory) as session:
        firing = await fire(session, rule_id, now)
    if firing.outcome in ("queued", "empty"):
        async with unit_of_work(factory) as session:
            await refresh_best_hours(session, rule_id)
    return firing


async def enabled_rule_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(AutopostRule.id).where(AutopostRule.enabled.is_(True)).order_by(AutopostRule.id)
        )
    )
