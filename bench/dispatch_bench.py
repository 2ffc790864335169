"""Delivery against Telegram's limits: tgpipe's Courier sending to the fake Bot API server.

The fake (``tests/fake_telegram``) runs in this process with a realistic latency — every
call takes 20-50 ms, half on the way in (before the fake looks at it) and half on the way
back — and with ``limit_rate`` on: more than 30 messages in any second, or more than 20 to
one channel in any minute, are answered 429 as Telegram answers them, so every violation
shows. The Couriers (``bot.delivery.Courier`` with the default ``Policy``: 30/s overall,
20/min and 1 s between messages per chat) run in child processes of their own, each with
its own aiogram Bot, sharing one fresh store (SQLite in a temp dir, or a fresh PostgreSQL
database with ``--database-url``). Scenarios, in one run:

1.  2,000 text posts due within one minute (now+5 s .. now+65 s) over 100 channels (20 each),
    one Courier: total time, sustained throughput against 30/s, lateness, duplicates,
    losses, 429s.
1b. 100 posts over 100 channels at scattered times, one Courier: no limit can bind, so its
    lateness is what tgpipe adds by itself (target p99 < 1 s).
2.  200 posts due at once to one channel (about 9.5 minutes at 20/min; ``--quick``: 45,
    about 2 minutes): rate, most messages in any 60 s, smallest gap between two.
3.  The workload of 1 with two Couriers in two processes sharing the store: duplicates,
    losses, throughput.

The baseline, beside each figure: the limits themselves. An ideal sender is simulated on
the same due times: it sends each message as soon as it is due and the limits allow
(30 in any second, 20 per channel in any minute, 1 s apart per channel), earliest due first;
its time, rate and lateness are what no sender obeying the limits can beat.

Times are the fake's: a message counts when its request reaches the fake (as Telegram
counts it); lateness is the store's ``sent_at - due_at``.

    python bench/dispatch_bench.py [--quick] [--database-url postgresql://USER@HOST/DB]
        [--only 1,1b,2,3] [--seed 1] [--keep DIR]

A full run takes about 15 minutes (scenario 2 alone about 10).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the fake lives in tests/
    sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402
from aiogram import Bot  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.delivery import Courier  # noqa: E402
from bot.publisher import Publisher  # noqa: E402
from config.settings import normalise_database_url  # noqa: E402
from pipeline.publish.policy import Limits, Policy  # noqa: E402
from pipeline.publish.queue import schedule_post  # noqa: E402
from pipeline.store.db import (  # noqa: E402
    SessionFactory,
    create_engine,
    create_session_factory,
    unit_of_work,
)
from pipeline.store.migrate import upgrade  # noqa: E402
from pipeline.store.models import Channel, Lock, Post, Publication, PublicationState  # noqa: E402
from tests.fake_telegram.client import LocalSession  # noqa: E402
from tests.fake_telegram.server import ApiCall, FakeTelegram  # noqa: E402
from tests.fake_telegram.spec import Upload  # noqa: E402
from tests.publishing import add_target  # noqa: E402

LIMITS = Limits()  # what tgpipe keeps by default, and what the fake enforces
FAR = timedelta(days=1)  # publications wait here until the Couriers are up
FIRST_CHAT = -1001700000000
SENDING_METHODS = {"sendMessage", "sendPhoto", "sendMediaGroup", "copyMessage", "forwardMessage"}


# -- the fake, with latency ---------------------------------------------------------------


class SlowTelegram(FakeTelegram):
    """The fake Bot API with 20-50 ms per call: half before the fake sees the request (its
    rate check and ``ApiCall.at`` are then the arrival at "Telegram"), half on the way back."""

    async def _process(
        self,
        raw_method: str,
        fields: dict[str, Any],
        uploads: dict[str, Upload],
        token: str,
        http_method: str,
        request: web.BaseRequest | None,
    ) -> tuple[dict[str, Any], int]:
        latency = random.uniform(0.02, 0.05)
        await asyncio.sleep(latency / 2)
        answer = await super()._process(raw_method, fields, uploads, token, http_method, request)
        await asyncio.sleep(latency / 2)
        return answer


# -- the limits themselves: an ideal sender -------------------------------------------------


def ideal_sends(
    dues: Sequence[float], chats: Sequence[int], limits: Limits = LIMITS
) -> list[float]:
    """When an ideal sender sends each message: as soon as it is due and the limits allow
    (``per_second`` in any second, ``per_chat_per_minute`` per chat in any 60 s,
    ``chat_interval`` apart per chat), the earliest due first among those allowed."""
    order = sorted(range(len(dues)), key=lambda i: (dues[i], i))
    waiting: dict[int, list[int]] = defaultdict(list)  # chat -> due messages, in due order
    sent_at = [0.0] * len(dues)
    recent: list[float] = []  # every send, in time order
    by_chat: dict[int, list[float]] = defaultdict(list)
    arrived = 0
    now = dues[order[0]] if order else 0.0
    left = len(dues)

    def chat_free(chat: int) -> float:
        times = by_chat[chat]
        if not times:
            return -1e18
        free = times[-1] + limits.chat_interval
        if len(times) >= limits.per_chat_per_minute:
            free = max(free, times[-limits.per_chat_per_minute] + 60.0)
        return free

    while left:
        while arrived < len(order) and dues[order[arrived]] <= now:
            index = order[arrived]
            waiting[chats[index]].append(index)
            arrived += 1
        global_free = (
            recent[-limits.per_second] + 1.0 if len(recent) >= limits.per_second else -1e18
        )
        candidates = [
            (dues[queue[0]], queue[0], chat)
            for chat, queue in waiting.items()
            if queue and chat_free(chat) <= now
        ]
        if global_free <= now and candidates:
            _, index, chat = min(candidates)
            waiting[chat].pop(0)
            sent_at[index] = now
            recent.append(now)
            by_chat[chat].append(now)
            left -= 1
            continue
        later = [dues[order[arrived]]] if arrived < len(order) else []
        later += [chat_free(chat) for chat, queue in waiting.items() if queue]
        step = min(t for t in later if t > now) if any(t > now for t in later) else now
        now = max(step, global_free, now)
    return sent_at


# -- figures -----------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def most_in_window(times: Sequence[float], span: float) -> int:
    """The most sends in any window of ``span`` seconds, as Telegram (and the fake) count:
    sends at t and t + span are in different windows."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + span) - i)
    return best


def min_gap(times: Sequence[float]) -> float:
    ordered = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return min(gaps) if gaps else float("inf")


def saturated_rate(dues: Sequence[float], sends: Sequence[float], backlog: int) -> float:
    """Messages per second while at least ``backlog`` messages were due and not yet sent:
    the rate a sender sustains when it has work waiting."""
    events = sorted([(t, 1) for t in dues] + [(t, -1) for t in sends], key=lambda e: (e[0], -e[1]))
    waiting, busy_time, busy_sends = 0, 0.0, 0
    previous = events[0][0] if events else 0.0
    for moment, change in events:
        if waiting >= backlog:
            busy_time += moment - previous
            if change < 0:
                busy_sends += 1
        waiting += change
        previous = moment
    return busy_sends / busy_time if busy_time > 0 else float("nan")


def classify_429s(calls: Sequence[ApiCall]) -> tuple[int, int]:
    """How many 429s the overall limit caused, and how many a chat's limit (both may)."""
    sends = sorted(c.at for c in calls if c.status == 200)
    by_chat: dict[int, list[float]] = defaultdict(list)
    for call in calls:
        if call.status == 200:
            by_chat[int(call.params["chat_id"])].append(call.at)
    overall = chat = 0
    for call in calls:
        if call.status != 429:
            continue
        in_second = bisect.bisect_right(sends, call.at) - bisect.bisect_right(sends, call.at - 1)
        overall += in_second >= LIMITS.per_second
        times = sorted(by_chat[int(call.params["chat_id"])])
        in_minute = bisect.bisect_right(times, call.at) - bisect.bisect_right(times, call.at - 60)
        chat += in_minute >= LIMITS.per_chat_per_minute
    return overall, chat


@dataclass
class Result:
    name: str
    planned: int
    chats: int = 0
    sent: int = 0
    duplicates: int = 0
    lost: int = 0
    too_many: int = 0  # 429 answers
    first_due: float = 0.0
    first_send: float = 0.0
    last_send: float = 0.0
    rate: float = 0.0  # first to last send, msgs/s
    sustained: float = float("nan")  # while a second's worth was waiting
    late_p50: float = float("nan")
    late_p99: float = float("nan")
    chat_window_max: int = 0  # most messages to one chat in any 60 s
    chat_gap_min: float = float("inf")
    global_window_max: int = 0  # most messages in any 1 s
    ideal_last: float = 0.0
    ideal_rate: float = 0.0
    ideal_sustained: float = float("nan")
    ideal_p50: float = 0.0
    ideal_p99: float = 0.0
    too_many_global: int = 0  # 429s when the fake already had 30 in the last second
    too_many_chat: int = 0  # 429s when that chat already had 20 in the last minute
    claims: int = 0  # claim transactions (the dispatch lock's counter)
    states: dict[str, int] = field(default_factory=dict)
    per_courier: list[int] = field(default_factory=list)
    problems: int = 0
    courier_warnings: int = 0
    timed_out: bool = False

    @property
    def took(self) -> float:
        return self.last_send - self.first_due

    @property
    def ideal_took(self) -> float:
        return self.ideal_last - self.first_due


# -- the store ----------------------------------------------------------------------------


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(server_url: str | None, work: Path, name: str) -> AsyncIterator[str]:
    """A new, empty, migrated store: a SQLite file in ``work``, or a PostgreSQL database
    created on ``server_url``'s server (and dropped afterwards)."""
    if server_url is None:
        url = f"sqlite+aiosqlite:///{work / (name + '.db')}"
        dropped: str | None = None
    else:
        base = normalise_database_url(server_url)
        dropped = f"tgpipe_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_admin_dsn(base))
        try:
            await admin.execute(f'CREATE DATABASE "{dropped}"')
        finally:
            await admin.close()
        url = make_url(base).set(database=dropped).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    try:
        yield url
    finally:
        if server_url is not None and dropped is not None:
            admin = await asyncpg.connect(_admin_dsn(normalise_database_url(server_url)))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
            finally:
                await admin.close()


async def plan_workload(
    factory: SessionFactory, fake: FakeTelegram, chats: int, per_chat: int, tag: str
) -> dict[int, int]:
    """``chats`` target channels with ``per_chat`` distinct text posts planned for each, due
    far ahead; publication id -> chat id."""
    targets: list[tuple[int, Channel]] = []
    for n in range(chats):
        chat_id = FIRST_CHAT - n
        targets.append((chat_id, await add_target(factory, fake, chat_id, f"bench{tag}{n}")))
    placed: dict[int, int] = {}
    later = datetime.now(UTC) + FAR
    async with unit_of_work(factory) as session:
        for round_ in range(per_chat):
            for n, (chat_id, target) in enumerate(targets):
                post = Post(
                    text=f"Bench {tag} post {round_ * chats + n}: to channel {n}, number {round_}.",
                    entities=[],
                    media=[],
                )
                session.add(post)
                await session.flush()
                publication = await schedule_post(session, post.id, target, later)
                placed[publication.id] = chat_id
    return placed


async def set_due(factory: SessionFactory, due: dict[int, datetime]) -> None:
    async with unit_of_work(factory) as session:
        await session.execute(
            update(Publication), [{"id": pid, "due_at": when} for pid, when in due.items()]
        )


async def unsettled(factory: SessionFactory) -> int:
    async with unit_of_work(factory) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Publication)
            .where(Publication.state.in_((PublicationState.SCHEDULED, PublicationState.SENDING)))
        )
        return int(count or 0)


# -- Couriers in processes of their own -------------------------------------------------------


async def courier_process(url: str, base_url: str, token: str) -> None:
    """A child: one Courier serving until its stdin closes; prints its tally as JSON."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if os.environ.get("BENCH_DEBUG"):
        logging.getLogger("bot.delivery").setLevel(logging.DEBUG)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    bot = Bot(token, session=LocalSession(api=TelegramAPIServer.from_base(base_url)))
    policy = Policy()
    courier = Courier(Publisher(bot, chat_interval=policy.limits.chat_interval), factory, policy)
    stop = asyncio.Event()

    async def until_told() -> None:
        await asyncio.to_thread(sys.stdin.readline)
        stop.set()

    told = asyncio.create_task(until_told())
    print(json.dumps({"ready": courier.owner}), flush=True)
    try:
        await courier.serve(stop)
    finally:
        await told
        await bot.session.close()
        await engine.dispose()
    tally = courier.tally
    summary = {
        "owner": courier.owner,
        "sent": len(tally.sent),
        "failed": len(tally.failed),
        "unknown": len(tally.unknown),
        "retried": tally.retried,
        "deferred": tally.deferred,
    }
    print(json.dumps(summary), flush=True)


@dataclass
class Child:
    process: asyncio.subprocess.Process
    log: Path
    owner: str = ""


async def start_couriers(count: int, url: str, fake: FakeTelegram, work: Path) -> list[Child]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGPIPE_")}
    env["PYTHONPATH"] = str(REPO)
    children = []
    for n in range(count):
        log = work / f"courier-{uuid.uuid4().hex[:6]}-{n}.log"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child-courier",
            url,
            fake.base_url,
            fake.token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("w"),
            env=env,
            cwd=REPO,
        )
        children.append(Child(process, log))
    for child in children:
        assert child.process.stdout is not None
        line = await asyncio.wait_for(child.process.stdout.readline(), 60)
        if not line:
            raise SystemExit(f"a courier did not start:\n{child.log.read_text()[-4000:]}")
        child.owner = json.loads(line)["ready"]
    return children


async def stop_couriers(children: list[Child]) -> list[dict[str, Any]]:
    tallies = []
    for child in children:
        assert child.process.stdin is not None
        child.process.stdin.write(b"stop\n")
        await child.process.stdin.drain()
        child.process.stdin.close()
    for child in children:
        assert child.process.stdout is not None
        out = await asyncio.wait_for(child.process.stdout.read(), 120)
        await child.process.wait()
        if child.process.returncode != 0:
            raise SystemExit(f"a courier failed:\n{child.log.read_text()[-4000:]}")
        tallies.append(json.loads(out.decode().strip().splitlines()[-1]))
    return tallies


def warnings_of(children: list[Child]) -> int:
    return sum(
        1
        for child in children
        for line in child.log.read_text().splitlines()
        if " WARNING " in line or " ERROR " in line
    )


# -- one scenario ----------------------------------------------------------------------------


async def run_scenario(
    name: str,
    *,
    chats: int,
    per_chat: int,
    offsets: list[float],
    couriers: int,
    server_url: str | None,
    work: Path,
    keep: Path | None = None,
    deadline_slack: float = 60.0,
) -> Result:
    """Plan ``chats * per_chat`` posts, start the Couriers, make the posts due at start +
    ``offsets`` (seconds, in publication order), wait until all are settled, measure."""
    tag = name.split(":")[0]
    async with (
        fresh_database(server_url, work, f"store{tag}") as url,
        SlowTelegram() as fake,
    ):
        fake.limit_rate(
            overall_per_second=LIMITS.per_second, group_per_minute=LIMITS.per_chat_per_minute
        )
        engine = create_engine(url)
        factory = create_session_factory(engine)
        try:
            chat_of = await plan_workload(factory, fake, chats, per_chat, tag)
            children = await start_couriers(couriers, url, fake, work)
            ids = sorted(chat_of)
            random.shuffle(offsets)
            # One instant in both clocks: due times are wall-clock, the fake's are monotonic.
            wall, mono = datetime.now(UTC), time.monotonic()
            due = {pid: wall + timedelta(seconds=o) for pid, o in zip(ids, offsets, strict=True)}
            due_mono = {pid: mono + o for pid, o in zip(ids, offsets, strict=True)}
            await set_due(factory, due)
            ideal = ideal_sends([due_mono[p] for p in ids], [chat_of[p] for p in ids])
            deadline = max(ideal) + (max(ideal) - mono) + deadline_slack  # twice the ideal
            timed_out = False
            while await unsettled(factory):
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                await asyncio.sleep(0.5)
            tallies = await stop_couriers(children)
            result = await measure(name, factory, fake, ids, due_mono, ideal)
            if keep:
                await dump(keep / f"events-{tag}.json", factory, fake, wall, mono)
            result.timed_out = timed_out
            result.chats = chats
            result.courier_warnings = warnings_of(children)
            result.per_courier = [int(t["sent"]) for t in tallies]
            return result
        finally:
            await engine.dispose()


async def measure(
    name: str,
    factory: SessionFactory,
    fake: FakeTelegram,
    ids: list[int],
    due_mono: dict[int, float],
    ideal: list[float],
) -> Result:
    async with unit_of_work(factory) as session:
        rows = (
            await session.execute(
                select(Publication.id, Publication.state, Publication.due_at, Publication.sent_at)
            )
        ).all()
        texts = dict((await session.execute(select(Publication.id, Post.text).join(Post))).all())
        claims = await session.scalar(select(Lock.counter).where(Lock.name == "dispatch"))
    result = Result(name, planned=len(ids), claims=int(claims or 0))
    result.states = dict(Counter(str(row.state.value) for row in rows))
    result.problems = len(fake.problems)
    calls = [c for c in fake.calls if c.method in SENDING_METHODS]
    result.too_many = sum(1 for c in calls if c.status == 429)
    ok = [c for c in calls if c.status == 200]
    result.too_many_global, result.too_many_chat = classify_429s(calls)
    per_text = Counter(str(c.params.get("text")) for c in ok)
    result.sent = len(ok)
    result.duplicates = sum(n - 1 for n in per_text.values() if n > 1)
    sent_ids = {row.id for row in rows if row.state is PublicationState.SENT}
    result.lost = sum(1 for pid in ids if pid not in sent_ids or per_text[texts[pid]] == 0)
    lateness = [
        (row.sent_at - row.due_at).total_seconds()
        for row in rows
        if row.state is PublicationState.SENT and row.sent_at is not None
    ]
    result.late_p50, result.late_p99 = percentile(lateness, 50), percentile(lateness, 99)
    times = sorted(c.at for c in ok)
    dues = [due_mono[p] for p in ids]
    result.first_due = min(dues)
    if times:
        result.first_send, result.last_send = times[0], times[-1]
        span = times[-1] - times[0]
        result.rate = (len(times) - 1) / span if span > 0 else float("nan")
        result.sustained = saturated_rate(dues, times, LIMITS.per_second)
        result.global_window_max = most_in_window(times, 1.0)
    by_chat: dict[int, list[float]] = defaultdict(list)
    for call in ok:
        by_chat[int(call.params["chat_id"])].append(call.at)
    result.chat_window_max = max((most_in_window(t, 60.0) for t in by_chat.values()), default=0)
    result.chat_gap_min = min((min_gap(t) for t in by_chat.values()), default=float("inf"))
    result.ideal_last = max(ideal)
    ideal_span = max(ideal) - min(ideal)
    result.ideal_rate = (len(ideal) - 1) / ideal_span if ideal_span > 0 else float("nan")
    result.ideal_sustained = saturated_rate(dues, ideal, LIMITS.per_second)
    ideal_late = [s - d for s, d in zip(ideal, dues, strict=True)]
    result.ideal_p50, result.ideal_p99 = percentile(ideal_late, 50), percentile(ideal_late, 99)
    return result


async def dump(
    path: Path, factory: SessionFactory, fake: FakeTelegram, wall: datetime, mono: float
) -> None:
    """The raw events, for a closer look: the fake's calls (monotonic times) and the
    publications (wall-clock times), with one instant in both clocks."""
    async with unit_of_work(factory) as session:
        rows = (
            await session.execute(
                select(
                    Publication.id,
                    Post.text,
                    Publication.state,
                    Publication.attempts,
                    Publication.due_at,
                    Publication.claimed_at,
                    Publication.sent_at,
                    Publication.claimed_by,
                ).join(Post)
            )
        ).all()

    def stamp(value: datetime | None) -> float | None:
        return value.timestamp() if value is not None else None

    events = {
        "clock": {"wall": wall.timestamp(), "monotonic": mono},
        "calls": [
            {
                "at": c.at,
                "method": c.method,
                "status": c.status,
                "chat_id": c.params.get("chat_id"),
                "text": c.params.get("text"),
            }
            for c in fake.calls
        ],
        "publications": [
            {
                "id": r.id,
                "text": r.text,
                "state": r.state.value,
                "attempts": r.attempts,
                "due_at": stamp(r.due_at),
                "claimed_at": stamp(r.claimed_at),
                "sent_at": stamp(r.sent_at),
                "claimed_by": r.claimed_by,
            }
            for r in rows
        ],
    }
    await asyncio.to_thread(path.write_text, json.dumps(events))


# -- the report ------------------------------------------------------------------------------


def _pct(value: float, limit: float) -> str:
    return f"{100 * value / limit:.0f} %" if value == value else "n/a"


def describe(result: Result) -> list[str]:
    lines = [f"== {result.name}"]
    lines.append(
        f"   {result.sent} msgs ({result.planned} planned) in {result.took:.1f} s from the first "
        f"due time to the last send; ideal {result.ideal_took:.1f} s"
        + ("  [TIMED OUT]" if result.timed_out else "")
    )
    busy = result.last_send - result.first_send
    lines.append(
        f"   first to last send {busy:.1f} s = {result.rate:.2f}/s, "
        f"{_pct(result.rate, LIMITS.per_second)} of the {LIMITS.per_second}/s limit; "
        f"ideal {result.ideal_rate:.2f}/s ({_pct(result.ideal_rate, LIMITS.per_second)})"
    )
    if result.chats == 1:
        lines.append(
            f"   one chat: {60 * result.rate:.1f} msgs/min first to last send (limit "
            f"{LIMITS.per_chat_per_minute} in any 60 s); ideal {60 * result.ideal_rate:.1f}/min"
        )
    elif result.sustained == result.sustained:
        lines.append(
            f"   sustained while >= {LIMITS.per_second} msgs were waiting: "
            f"{result.sustained:.2f}/s = {_pct(result.sustained, LIMITS.per_second)} of the "
            f"limit; ideal {result.ideal_sustained:.2f}/s "
            f"({_pct(result.ideal_sustained, LIMITS.per_second)})"
        )
    lines.append(
        f"   lateness (sent_at - due_at) p50 {result.late_p50:.3f} s, p99 {result.late_p99:.3f} s;"
        f" ideal p50 {result.ideal_p50:.3f} s, p99 {result.ideal_p99:.3f} s"
    )
    lines.append(
        f"   duplicates {result.duplicates}, lost {result.lost}, 429s {result.too_many} "
        f"({result.too_many_global} over {LIMITS.per_second}/s, {result.too_many_chat} over "
        f"{LIMITS.per_chat_per_minute}/min in a chat), "
        f"states {result.states}"
    )
    lines.append(
        f"   most in any 1 s: {result.global_window_max} (limit {LIMITS.per_second}); most to one "
        f"chat in any 60 s: {result.chat_window_max} (limit {LIMITS.per_chat_per_minute}); "
        f"smallest gap in one chat {result.chat_gap_min:.3f} s (limit {LIMITS.chat_interval:g})"
    )
    split = " / ".join(str(n) for n in result.per_courier)
    lines.append(
        f"   claim transactions {result.claims} ({result.claims / max(result.sent, 1):.1f} per "
        f"message); sent per courier {split}; courier warnings {result.courier_warnings}; "
        f"fake problems {result.problems}"
    )
    return lines


def table(results: list[Result]) -> list[str]:
    head = (
        f"{'scenario':30} {'msgs':>5} {'dup':>4} {'lost':>4} {'429':>4} {'time s':>7} "
        f"{'ideal s':>7} {'msg/s':>6} {'ideal':>6} {'sust.':>6} {'p50 s':>6} {'p99 s':>6} "
        f"{'max60':>5} {'gap s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.name[:30]:30} {r.sent:5d} {r.duplicates:4d} {r.lost:4d} {r.too_many:4d} "
            f"{r.took:7.1f} {r.ideal_took:7.1f} {r.rate:6.2f} {r.ideal_rate:6.2f} "
            f"{r.sustained:6.2f} {r.late_p50:6.3f} {r.late_p99:6.3f} {r.chat_window_max:5d} "
            f"{r.chat_gap_min:6.3f}"
        )
    return lines


def targets(results: dict[str, Result]) -> list[str]:
    lines = []

    def check(what: str, met: bool, figure: str) -> None:
        lines.append(f"  [{'met' if met else 'NOT MET'}] {what}: {figure}")

    everything = list(results.values())
    check(
        "0 duplicates and 0 losses",
        all(r.duplicates == 0 and r.lost == 0 for r in everything),
        ", ".join(f"{k}: {r.duplicates} dup / {r.lost} lost" for k, r in results.items()),
    )
    for key in ("1", "3"):
        if key in results:
            r = results[key]
            check(
                f"scenario {key}: sustained throughput >= 95 % of {LIMITS.per_second}/s",
                r.sustained >= 0.95 * LIMITS.per_second,
                f"{r.sustained:.2f}/s = {_pct(r.sustained, LIMITS.per_second)} "
                f"(ideal {_pct(r.ideal_sustained, LIMITS.per_second)})",
            )
    if "1b" in results:
        r = results["1b"]
        check(
            "p99 lateness < 1 s where no limit applies (1b)",
            r.late_p99 < 1.0,
            f"{r.late_p99:.3f} s",
        )
    check(
        f"per-chat rate never above {LIMITS.per_chat_per_minute} in any 60 s, gaps >= "
        f"{LIMITS.chat_interval:g} s",
        all(
            r.chat_window_max <= LIMITS.per_chat_per_minute
            and r.chat_gap_min >= LIMITS.chat_interval
            for r in everything
        ),
        ", ".join(
            f"{k}: max {r.chat_window_max}, gap {r.chat_gap_min:.2f} s" for k, r in results.items()
        ),
    )
    check(
        "no 429 from the fake (the limits were kept before Telegram enforced them)",
        all(r.too_many == 0 for r in everything),
        ", ".join(f"{k}: {r.too_many}" for k, r in results.items()),
    )
    return lines


async def run_all(args: argparse.Namespace) -> None:
    random.seed(args.seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="tgpipe-dispatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(","))
    one_chat = 45 if args.quick else 200
    results: dict[str, Result] = {}
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"store: {store}; fake latency 20-50 ms per call; fake limit_rate on")
    scenarios: list[tuple[str, str, dict[str, Any]]] = [
        (
            "1",
            "1: 2000 over 100 ch, 1 courier",
            {"chats": 100, "per_chat": 20, "couriers": 1, "spread": (5.0, 65.0)},
        ),
        (
            "1b",
            "1b: 100 over 100 ch, scattered",
            {"chats": 100, "per_chat": 1, "couriers": 1, "spread": (3.0, 33.0)},
        ),
        (
            "2",
            f"2: {one_chat} at once to 1 chat",
            {"chats": 1, "per_chat": one_chat, "couriers": 1, "spread": (2.0, 2.0)},
        ),
        (
            "3",
            "3: 2000 over 100 ch, 2 couriers",
            {"chats": 100, "per_chat": 20, "couriers": 2, "spread": (5.0, 65.0)},
        ),
    ]
    try:
        for key, name, spec in scenarios:
            if key not in wanted:
                continue
            low, high = spec["spread"]
            count = spec["chats"] * spec["per_chat"]
            offsets = [random.uniform(low, high) for _ in range(count)]
            started = time.perf_counter()
            print(f"running {name} ...", flush=True)
            result = await run_scenario(
                name,
                chats=spec["chats"],
                per_chat=spec["per_chat"],
                offsets=offsets,
                couriers=spec["couriers"],
                server_url=args.database_url,
                work=work,
                keep=args.keep,
            )
            results[key] = result
            print("\n".join(describe(result)))
            print(f"   (scenario wall time {time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("\n".join(table(list(results.values()))))
    print()
    print("targets:")
    print("\n".join(targets(results)))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child-courier":
        profile = os.environ.get("BENCH_PROFILE")
        if not profile:
            asyncio.run(courier_process(*sys.argv[2:]))
            return
        # Where a courier's time goes: one cProfile file per child, for pstats.
        import cProfile

        with cProfile.Profile() as profiler:
            asyncio.run(courier_process(*sys.argv[2:]))
        profiler.dump_stats(f"{profile}.{os.getpid()}")
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="scenario 2 with 45 publications (~2 min, not ~10)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql://USER@HOST/DB): each scenario gets a fresh "
        "database created on it, dropped afterwards; default: SQLite files in a temp dir",
    )
    parser.add_argument("--only", default="1,1b,2,3", help="scenarios to run, e.g. 1,3")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, help="keep the stores, courier logs and raw events (JSON) here"
    )
    args = parser.parse_args()
    asyncio.run(run_all(args))


if __name__ == "__main__":
    main()
