"""How long `tgpipe stats` / `/stats` takes for a channel with a long history.

A SQLite store holds one channel with ``--posts`` imported posts (one to three reaction
types each, spread over years at realistic hours) and ``--publications`` sent publications
with a day of reaction snapshots each.

* tgpipe: :func:`pipeline.stats.report.channel_stats` (every figure, best hours, growth),
  then :func:`pipeline.stats.chart.render_chart` (the PNG);
* baseline: the least work that reads the same history — one ``sqlite3`` query summing
  each post's reactions with its date, and the plain mean per weekday and hour in Python.

Prints both times, and whether an admin gets `/stats` within 2 s.

    python bench/stats_bench.py [--posts 100000] [--publications 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.stats.chart import render_chart
from pipeline.stats.report import channel_stats
from pipeline.store import migrate
from pipeline.store.db import create_engine, create_session_factory, unit_of_work
from pipeline.store.models import (
    Channel,
    Post,
    Publication,
    PublicationMode,
    PublicationState,
    PublishedMessage,
    PublishedSnapshot,
    ReactionCount,
)

CHAT = -1001800000001
EMOJI = ("👍", "🔥", "❤", "😁", "🎉")


async def build(url: str, posts: int, publications: int) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    rng = random.Random(7)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    async with unit_of_work(factory) as session:
        channel = Channel(title="Bench", username="bench", chat_id=CHAT, target_since=start)
        session.add(channel)
        await session.flush()
        rows, counts = [], []
        for number in range(1, posts + 1):
            when = start + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
            rows.append(
                {"id": number, "channel_id": channel.id, "text": f"post {number}", "date": when}
            )
            for emoji in rng.sample(EMOJI, rng.randint(1, 3)):
                counts.append({"post_id": number, "reaction": emoji, "count": rng.randint(0, 90)})
        await session.execute(insert(Post), rows)
        await session.execute(insert(ReactionCount), counts)
        sent = datetime(2026, 1, 1, tzinfo=UTC)
        for number in range(publications):
            at = sent + timedelta(hours=number * 7)
            publication = Publication(
                post_id=number + 1,
                mode=PublicationMode.SEND,
                channel_id=channel.id,
                due_at=at,
                state=PublicationState.SENT,
                message_ids=[number + 1],
                sent_at=at,
            )
            session.add(publication)
            await session.flush()
            session.add(
                PublishedMessage(
                    chat_id=CHAT,
                    message_id=number + 1,
                    publication_id=publication.id,
                    reactions={"👍": 50},
                    total=50,
                    counted_at=at + timedelta(hours=24),
                )
            )
            for hour in range(1, 25):
                session.add(
                    PublishedSnapshot(
                        publication_id=publication.id,
                        chat_id=CHAT,
                        message_id=number + 1,
                        taken_at=at + timedelta(hours=hour),
                        reactions={"👍": 2 * hour},
                        total=2 * hour,
                    )
                )
    await engine.dispose()


async def tgpipe(url: str) -> tuple[float, float, float, int]:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    started = time.perf_counter()
    async with unit_of_work(factory) as session:
        channel = await session.get_one(Channel, 1)
        stats = await channel_stats(session, channel, zone="Europe/Berlin")
    figures = time.perf_counter() - started
    started = time.perf_counter()
    render_chart(stats)
    first = time.perf_counter() - started  # with matplotlib's import and font cache
    started = time.perf_counter()
    png = render_chart(stats)
    chart = time.perf_counter() - started
    await engine.dispose()
    assert stats.best_hours, "the history names best hours"
    return figures, first, chart, len(png)


def baseline(path: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT posts.date, SUM(reaction_counts.count) FROM posts "
        "JOIN reaction_counts ON reaction_counts.post_id = posts.id "
        "WHERE posts.channel_id = 1 GROUP BY posts.id"
    ).fetchall()
    cells: dict[tuple[int, int], list[int]] = defaultdict(list)
    for date, total in rows:
        when = datetime.fromisoformat(date)
        cells[when.weekday(), when.hour].append(total)
    means = {cell: sum(totals) / len(totals) for cell, totals in cells.items()}
    connection.close()
    assert means
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--publications", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tgpipe-stats-bench-") as work:
        path = Path(work) / "stats.db"
        url = f"sqlite+aiosqlite:///{path}"
        print(f"building a store: {args.posts:,} posts, {args.publications} publications…")
        asyncio.run(build(url, args.posts, args.publications))
        base = baseline(path)
        figures, first, chart, size = asyncio.run(tgpipe(url))
    print(f"baseline (one query, plain means)   {base:7.2f} s")
    print(f"tgpipe figures (channel_stats)      {figures:7.2f} s  ({figures / base:.1f}× baseline)")
    print(f"tgpipe chart, first in a process    {first:7.2f} s  (matplotlib's import)")
    print(f"tgpipe chart (render_chart, {size // 1024} KB)  {chart:7.2f} s")
    total = figures + chart  # the bot's process has drawn before
    verdict = "met" if total <= 2.0 else "missed"
    print(f"/stats for {args.posts:,} posts: {total:.2f} s (target ≤ 2 s: {verdict})")


if __name__ == "__main__":
    main()
