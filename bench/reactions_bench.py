"""Reaction updates recorded per second: the bot's whole path, against the least store work.

A store holds ``--messages`` published messages (one channel, one group). ``--updates``
reaction updates arrive as Telegram sends them (raw Bot API JSON): mostly a channel's
``message_reaction_count`` totals, a tenth a group's ``message_reaction`` changes, and among
them repeats, late (older) ones and updates for messages tgpipe did not publish.

* tgpipe: each update fed to the real dispatcher (``feed_raw_update``: parsing into aiogram
  types, middlewares, the reactions router) and recorded by its ReactionRecorder, until the
  recorder has stored them all; the store's counts are then checked against the expected;
* baseline: the same channel counts written with the bare driver (``sqlite3`` /
  asyncpg ``executemany``: one UPDATE of the latest counts and one INSERT of a snapshot per
  update, one transaction) — the least work that still stores them.

Prints updates/s for both on SQLite and, with ``--postgresql URL``, on PostgreSQL, and
whether the target of issue #9 (>= 2,000 updates/s) is met.

    python bench/reactions_bench.py [--updates 100000] [--messages 10000] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot

from bot.app import create_dispatcher
from config.settings import Settings
from pipeline.reactions import ReactionRecorder
from pipeline.store import migrate
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import (
    Channel,
    Post,
    Publication,
    PublicationMode,
    PublicationState,
    PublishedMessage,
)

CHANNEL = -1001700000001
GROUP = -1001700000002
EMOJI = ["👍", "🔥", "❤", "🤔", "🎉", "👏"]
START = 1_764_000_000  # a Unix time: the first update's date
TARGET = 2000.0


@dataclass
class Workload:
    updates: list[dict[str, Any]]
    # The channel counts a correct recorder ends with: per message, the newest update's.
    expected: dict[int, dict[str, int]]
    # For the baseline: (message id, date, counts) of every channel update, as they arrived.
    channel_rows: list[tuple[int, int, dict[str, int]]]


def workload(updates: int, messages: int, seed: int = 5) -> Workload:
    rng = random.Random(seed)
    channel_ids = list(range(1, messages // 2 + 1))
    group_ids = list(range(1, messages - len(channel_ids) + 1))
    clock = {m: START for m in channel_ids}
    totals: dict[int, dict[str, int]] = {m: {} for m in channel_ids}
    expected: dict[int, tuple[int, dict[str, int]]] = {}
    sent: list[dict[str, Any]] = []
    rows: list[tuple[int, int, dict[str, int]]] = []
    update_id = 0
    chat = {"id": CHANNEL, "type": "channel", "title": "Bench"}
    group = {"id": GROUP, "type": "supergroup", "title": "Bench group"}
    for _ in range(updates):
        update_id += 1
        kind = rng.random()
        if kind < 0.10:  # a group member changes their reactions
            chosen = rng.sample(EMOJI, rng.randint(0, 2))
            sent.append(
                {
                    "update_id": update_id,
                    "message_reaction": {
                        "chat": group,
                        "message_id": rng.choice(group_ids),
                        "date": START + update_id,
                        "user": {"id": rng.randint(1, 5000), "is_bot": False, "first_name": "U"},
                        "old_reaction": [],
                        "new_reaction": [{"type": "emoji", "emoji": e} for e in chosen],
                    },
                }
            )
            continue
        if kind < 0.12:  # a message tgpipe did not publish
            message_id, date, counts = messages + rng.randint(1, 1000), START, {"👍": 1}
        elif kind < 0.17 and sent and rows:  # a repeat, or one delivered late
            message_id, date, counts = rng.choice(rows[-500:])
            date -= rng.choice((0, 0, 30))
        else:
            message_id = rng.choice(channel_ids)
            clock[message_id] += rng.randint(1, 120)
            date = clock[message_id]
            counts = dict(totals[message_id])
            emoji = rng.choice(EMOJI)
            counts[emoji] = counts.get(emoji, 0) + 1
            totals[message_id] = counts
            expected[message_id] = (date, counts)
        if message_id <= messages:
            rows.append((message_id, date, counts))
        sent.append(
            {
                "update_id": update_id,
                "message_reaction_count": {
                    "chat": chat,
                    "message_id": message_id,
                    "date": date,
                    "reactions": [
                        {"type": {"type": "emoji", "emoji": e}, "total_count": n}
                        for e, n in counts.items()
                    ],
                },
            }
        )
    return Workload(sent, {m: counts for m, (_, counts) in expected.items()}, rows)


async def prepare(url: str, messages: int) -> None:
    """A migrated store whose publications sent ``messages`` messages (half to each chat)."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    now = datetime.now(UTC)
    async with unit_of_work(factory) as session:
        channel = Channel(title="Bench", chat_id=CHANNEL, chat_type="channel")
        group = Channel(title="Bench group", chat_id=GROUP, chat_type="supergroup")
        post = Post(text="bench", entities=[], media=[])
        session.add_all([channel, group, post])
        await session.flush()
        half = messages // 2
        targets = [(channel.id, CHANNEL, m) for m in range(1, half + 1)]
        targets += [(group.id, GROUP, m) for m in range(1, messages - half + 1)]
        await session.execute(
            insert(Publication),
            [
                {
                    "post_id": post.id,
                    "mode": PublicationMode.SEND,
                    "channel_id": channel_id,
                    "due_at": now,
                    "state": PublicationState.SENT,
                    "message_ids": [m],
                    "sent_at": now,
                }
                for channel_id, _, m in targets
            ],
        )
        ids = (await session.scalars(select(Publication.id).order_by(Publication.id))).all()
        await session.execute(
            insert(PublishedMessage),
            [
                {"chat_id": chat, "message_id": m, "publication_id": pid, "reactions": {}}
                for pid, (_, chat, m) in zip(ids, targets, strict=True)
            ],
        )
    await engine.dispose()


async def run_tgpipe(url: str, work: Workload) -> float:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    settings = Settings(database_url=url, bot_token="123456:" + "A" * 35, admin_ids=frozenset())
    dispatcher = create_dispatcher(settings, factory)
    recorder: ReactionRecorder = dispatcher["reactions"]
    bot = Bot(settings.bot_token.get_secret_value())  # type: ignore[union-attr]
    start = time.perf_counter()
    for update in work.updates:
        await dispatcher.feed_raw_update(bot, update)
    await recorder.flushed()
    seconds = time.perf_counter() - start
    await recorder.close()
    async with unit_of_work(factory) as session:
        rows = await session.execute(
            select(PublishedMessage.message_id, PublishedMessage.reactions).where(
                PublishedMessage.chat_id == CHANNEL
            )
        )
        stored = {m: r for m, r in rows if r}
    await bot.session.close()
    await engine.dispose()
    if stored != work.expected:
        wrong = sorted(
            m for m in set(stored) | set(work.expected) if stored.get(m) != work.expected.get(m)
        )
        raise SystemExit(f"tgpipe stored wrong counts for {len(wrong)} messages, e.g. {wrong[:5]}")
    if recorder.totals.total != len(work.updates):
        raise SystemExit(f"recorded {recorder.totals.total} of {len(work.updates)} updates")
    return seconds


def _baseline_rows(work: Workload) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    latest = [
        (json.dumps(c), sum(c.values()), datetime.fromtimestamp(d, UTC), CHANNEL, m)
        for m, d, c in work.channel_rows
    ]
    snapshots = [
        (m, CHANNEL, m, datetime.fromtimestamp(d, UTC), json.dumps(c), sum(c.values()))
        for m, d, c in work.channel_rows
    ]
    return latest, snapshots


def baseline_sqlite(path: Path, work: Workload) -> float:
    start = time.perf_counter()
    latest, snapshots = _baseline_rows(work)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    with connection:
        connection.executemany(
            "UPDATE published_messages SET reactions = ?, total = ?, counted_at = ? "
            "WHERE chat_id = ? AND message_id = ?",
            [(r, t, d.isoformat(" "), c, m) for r, t, d, c, m in latest],
        )
        connection.executemany(
            "INSERT OR IGNORE INTO published_snapshots "
            "(publication_id, chat_id, message_id, taken_at, reactions, total) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(p, c, m, d.isoformat(" "), r, t) for p, c, m, d, r, t in snapshots],
        )
    connection.close()
    return time.perf_counter() - start


async def baseline_postgres(url: str, work: Workload) -> float:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    start = time.perf_counter()
    latest, snapshots = _baseline_rows(work)
    async with connection.transaction():
        await connection.executemany(
            "UPDATE published_messages SET reactions = $1::json, total = $2, counted_at = $3 "
            "WHERE chat_id = $4 AND message_id = $5",
            latest,
        )
        await connection.executemany(
            "INSERT INTO published_snapshots "
            "(publication_id, chat_id, message_id, taken_at, reactions, total) "
            "VALUES ($1, $2, $3, $4, $5::json, $6) ON CONFLICT DO NOTHING",
            snapshots,
        )
    seconds = time.perf_counter() - start
    await connection.close()
    return seconds


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    import asyncpg

    base = make_url(server).set(drivername="postgresql")
    admin = base.render_as_string(hide_password=False)
    name = f"tgpipe_reactions_bench_{random.randrange(10**9)}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(backend: str, updates: int, tgpipe: float, baseline: float) -> bool:
    rate, base = updates / tgpipe, updates / baseline
    print(
        f"{backend:<11} tgpipe {rate:>8,.0f} updates/s ({tgpipe:.2f} s)   "
        f"baseline {base:>8,.0f} updates/s ({baseline:.2f} s)   {tgpipe / baseline:.1f}x"
    )
    return rate >= TARGET


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgresql", metavar="URL", help="also measure on PostgreSQL there")
    args = parser.parse_args()
    work = workload(args.updates, args.messages)
    print(f"{len(work.updates):,} updates for {args.messages:,} published messages")
    results: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="tgpipe-reactions-") as folder:
        ours, bare = Path(folder, "tgpipe.db"), Path(folder, "baseline.db")
        for path in (ours, bare):
            asyncio.run(prepare(f"sqlite+aiosqlite:///{path}", args.messages))
        seconds = asyncio.run(run_tgpipe(f"sqlite+aiosqlite:///{ours}", work))
        results["SQLite"] = report("SQLite", args.updates, seconds, baseline_sqlite(bare, work))
    if args.postgresql:
        with (
            postgres_database(args.postgresql) as ours_url,
            postgres_database(args.postgresql) as bare_url,
        ):
            for url in (ours_url, bare_url):
                asyncio.run(prepare(url, args.messages))
            seconds = asyncio.run(run_tgpipe(ours_url, work))
            baseline = asyncio.run(baseline_postgres(bare_url, work))
            results["PostgreSQL"] = report("PostgreSQL", args.updates, seconds, baseline)
    for backend, ok in results.items():
        print(f"  {'met ' if ok else 'MISSED'} >= {TARGET:,.0f} updates/s on {backend}")


if __name__ == "__main__":
    main()
