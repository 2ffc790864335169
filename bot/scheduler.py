"""APScheduler wiring for `tgpipe run`: autopost rules on their cron triggers, watched
channels when they are due, and the housekeeping that keeps the bot in step with the store.

The database is the source of truth. The job store is in memory and rebuilt from the
database at start (and re-synced every few seconds, so rules added by the CLI or another
instance are picked up); no job is ever pickled. Jobs are module-level functions taking
plain values: the runtime they act on is found by its key in :data:`_RUNTIMES`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.delivery import Courier
from bot.notify import send_notices
from pipeline.publish import autopost
from pipeline.publish.cron import make_trigger
from pipeline.sources.watches import WatchContext, check_due
from pipeline.store.db import SessionFactory, unit_of_work
from pipeline.store.models import AutopostRule

log = logging.getLogger(__name__)

SYNC_SECONDS = 5.0
NOTIFY_SECONDS = 2.0
WATCH_JOB = "watches"
WATCH_SECONDS = 2.0  # how often the store is asked which watches are due (one indexed query)


@dataclass(slots=True)
class Runtime:
    """What the jobs of one running instance act on."""

    key: str
    bot: Bot
    factory: SessionFactory
    courier: Courier
    admin_ids: frozenset[int]
    watching: WatchContext | None = None
    rules: dict[int, str] = field(default_factory=dict)  # rule id -> "cron|zone" scheduled


_RUNTIMES: dict[str, Runtime] = {}


def _job_id(rule_id: int) -> str:
    return f"autopost-{rule_id}"


async def fire_rule(runtime_key: str, rule_id: int) -> None:
    """An autopost rule's trigger fired: let the store decide what that means."""
    runtime = _RUNTIMES.get(runtime_key)
    if runtime is None:
        return
    firing = await autopost.fire_and_refresh(runtime.factory, rule_id, runtime.courier.clock())
    log.info("autopost rule %d: %s", rule_id, firing.outcome)
    if firing.publication_id is not None:
        runtime.courier.wake.set()


async def sync_rules(runtime_key: str, scheduler: AsyncIOScheduler) -> None:
    """Make the scheduler's jobs match the enabled rules in the store."""
    runtime = _RUNTIMES.get(runtime_key)
    if runtime is None:
        return
    async with unit_of_work(runtime.factory) as session:
        rules = list(await session.scalars(select(AutopostRule).where(AutopostRule.enabled)))
    wanted = {rule.id: f"{rule.cron}|{rule.timezone}" for rule in rules}
    for rule_id in set(runtime.rules) - set(wanted):
        if scheduler.get_job(_job_id(rule_id)):
            scheduler.remove_job(_job_id(rule_id))
        del runtime.rules[rule_id]
    for rule in rules:
        if runtime.rules.get(rule.id) == wanted[rule.id]:
            continue
        scheduler.add_job(
            fire_rule,
            make_trigger(rule.cron, ZoneInfo(rule.timezone)),
            args=(runtime_key, rule.id),
            id=_job_id(rule.id),
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        runtime.rules[rule.id] = wanted[rule.id]
        # A slot that came while nothing ran is owed once (the store knows which).
        await fire_rule(runtime_key, rule.id)


async def check_watches(runtime_key: str) -> None:
    """Check the watches that are due; wake the courier for what they queued."""
    runtime = _RUNTIMES.get(runtime_key)
    if runtime is None or runtime.watching is None:
        return
    results = await check_due(runtime.factory, runtime.watching, runtime.courier.clock())
    for result in results:
        log.info(
            "watch %d (%s): %s, %d new, %d queued",
            result.watch_id,
            result.channel,
            result.outcome,
            result.new,
            len(result.queued),
        )
    if any(result.queued for result in results):
        runtime.courier.wake.set()


def look_now(scheduler: AsyncIOScheduler | None) -> None:
    """Run the watches' job at once (a watch was just added or resumed in this process)."""
    job = scheduler.get_job(WATCH_JOB) if scheduler is not None else None
    if job is not None:
        job.modify(next_run_time=datetime.now(UTC))


async def notify(runtime_key: str) -> None:
    runtime = _RUNTIMES.get(runtime_key)
    if runtime is not None:
        await send_notices(runtime.bot, runtime.factory, runtime.admin_ids)


def start_scheduler(runtime: Runtime) -> AsyncIOScheduler:
    """A started scheduler (on the running loop) with the housekeeping jobs."""
    _RUNTIMES[runtime.key] = runtime
    # Its per-run INFO lines (every housekeeping job, every second) would drown tgpipe's own.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        sync_rules,
        IntervalTrigger(seconds=SYNC_SECONDS),
        args=(runtime.key, scheduler),
        id="sync-rules",
        next_run_time=datetime.now(UTC),  # rebuild the rules' jobs from the store at start
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        check_watches,
        IntervalTrigger(seconds=WATCH_SECONDS),
        args=(runtime.key,),
        id=WATCH_JOB,
        next_run_time=datetime.now(UTC),
        max_instances=1,  # a long check (a host's Retry-After) delays the next, never doubles
        coalesce=True,
    )
    scheduler.add_job(
        notify,
        IntervalTrigger(seconds=NOTIFY_SECONDS),
        args=(runtime.key,),
        id="notify",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def stop_scheduler(runtime: Runtime, scheduler: AsyncIOScheduler) -> None:
    scheduler.shutdown(wait=False)
    _RUNTIMES.pop(runtime.key, None)
