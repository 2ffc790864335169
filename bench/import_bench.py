"""Import speed: `tgpipe import` of a generated Telegram Desktop JSON export.

Generates an export of N messages (default 200,000) with a realistic mix — formatted text
with entities, reactions, forwards, media descriptors, albums, service messages — then,
each in a fresh process and a fresh store:

* tgpipe: `tgpipe import FILE --json` end to end (parse, dedup, write), on SQLite and, with
  ``--postgresql URL`` (a server where the benchmark may create databases), on PostgreSQL;
* baseline: the same file loaded with the standard `json` module and its id/text/date rows
  inserted with `sqlite3` `executemany` — the least work that still stores the posts;
* template: a channel whose posts share one layout and differ in their numbers and a few
  words (the worst case for dedup: every post resembles every other), imported alone, at
  ``--template`` posts and at ten times as many; its cost per post (start-up apart, timed on
  a ten-post file) must stay bounded, not grow with the channel;
* a full store: with ``--prefill N``, the same export imported into a store that already
  holds N posts of another channel (imported first, not timed).

Prints messages/s, wall and CPU time of each process (the parser process apart), peak RSS,
the ratios, and whether the targets of issue #11 are met. CPU seconds are the steadier
figure on a busy machine; the targets are on wall time.

    python bench/import_bench.py [--messages 200000] [--template 3000] [--prefill 0]
        [--postgresql URL] [--keep DIR]

With ``--keep DIR`` the generated exports stay there and are reused by later runs, and so
does the prefilled store (while the schema and the dedup features stay the same).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

# Vocabulary of the generated posts: one Russian and one English channel voice, each a few
# thousand words used with Zipf's law frequencies, as real text is. (With a few dozen words
# every post would share half its word pairs with every other, which no channel does and
# which makes any near-duplicate index compare everything with everything.)
SYLLABLES_RU = "ма ко ли не ра то ве да ни по сте ло ру ка ми ва зо пре ден гра тор ность ция"
SYLLABLES_EN = "ma ko li ne ra to ve da ni po ste lo ru ka mi va zo pre den gra tion ing er"
VOCABULARY_SIZE = 4000


def _vocabulary(syllables: str, seed: int) -> tuple[list[str], list[float]]:
    rng = random.Random(seed)
    parts = syllables.split()
    words: dict[str, None] = {}
    while len(words) < VOCABULARY_SIZE:
        words["".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))] = None
    weights = [1 / rank**1.1 for rank in range(1, VOCABULARY_SIZE + 1)]
    return list(words), weights


WORDS_RU = _vocabulary(SYLLABLES_RU, 1)
WORDS_EN = _vocabulary(SYLLABLES_EN, 2)
EMOJI = ["👍", "🔥", "❤", "🤔", "😁", "🎉", "👏", "❤‍🔥", "🤯", "💯"]
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"


def _sentence(rng: random.Random) -> str:
    words, weights = rng.choice((WORDS_RU, WORDS_EN))
    chosen = rng.choices(words, weights, k=rng.randint(6, 18))
    return " ".join(chosen).capitalize() + "."


def _text(rng: random.Random) -> list[Any]:
    parts: list[Any] = []
    for paragraph in range(rng.randint(1, 6)):
        if paragraph:
            parts.append("\n\n")
        if rng.random() < 0.3:
            parts.append({"type": "bold", "text": _sentence(rng)})
        else:
            parts.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))))
        if rng.random() < 0.25:
            parts.append(" ")
            parts.append(
                {
                    "type": "text_link",
                    "text": "link",
                    "href": f"https://example.org/{rng.randint(1, 10**6)}",
                }
            )
    if rng.random() < 0.5:
        parts.append("\n\n")
        parts.append({"type": "hashtag", "text": "#" + rng.choice(WORDS_EN[0][:50])})
    return parts


def _entities(parts: list[Any]) -> list[dict[str, Any]]:
    return [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts]


def generate(
    path: Path, count: int, seed: int = 7, channel: tuple[str, int] = ("Bench Channel", 1777000001)
) -> None:
    """Write the export incrementally, so generating never needs it all in memory."""
    rng = random.Random(seed)
    start = 1_600_000_000
    name, chat_id = channel
    with path.open("w", encoding="utf-8") as out:
        header = {"name": name, "type": "public_channel", "id": chat_id}
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "messages": [\n')
        when = start
        album_left = 0
        for index in range(count):
            message_id = index + 1
            if album_left == 0:
                when += rng.randint(60, 7200)
            message: dict[str, Any] = {
                "id": message_id,
                "type": "message",
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)),
                "date_unixtime": str(when),
                "from": name,
                "from_id": f"channel{chat_id}",
            }
            roll = rng.random()
            if album_left:
                album_left -= 1
                parts: list[Any] = []
                message.update(
                    photo=NOT_INCLUDED,
                    photo_file_size=rng.randint(10**4, 10**6),
                    width=1280,
                    height=720,
                )
            elif roll < 0.02:
                message = {
                    "id": message_id,
                    "type": "service",
                    "date": message["date"],
                    "date_unixtime": str(when),
                    "actor": name,
                    "actor_id": f"channel{chat_id}",
                    "action": "pin_message",
                    "message_id": max(1, message_id - 1),
                    "text": "",
                    "text_entities": [],
                }
                parts = []
            else:
                parts = _text(rng)
                if roll < 0.12:
                    message["forwarded_from"] = rng.choice(
                        ["Other Channel", "Новости науки", "AI Digest"]
                    )
                if rng.random() < 0.35:
                    message.update(
                        photo=NOT_INCLUDED,
                        photo_file_size=rng.randint(10**4, 10**6),
                        width=1280,
                        height=720,
                    )
                    if rng.random() < 0.1:
                        album_left = rng.randint(1, 4)
                elif rng.random() < 0.08:
                    message.update(
                        file=NOT_INCLUDED,
                        file_name=f"doc{message_id}.pdf",
                        file_size=rng.randint(10**4, 10**7),
                        mime_type="application/pdf",
                    )
                if rng.random() < 0.4:
                    message["reactions"] = [
                        {"type": "emoji", "count": rng.randint(1, 500), "emoji": emoji}
                        for emoji in rng.sample(EMOJI, rng.randint(1, 4))
                    ]
                if rng.random() < 0.3:
                    message["edited"] = message["date"]
                    message["edited_unixtime"] = str(when + 60)
            if message["type"] == "message":
                message["text"] = (
                    parts if any(isinstance(p, dict) for p in parts) else "".join(parts)
                )
                message["text_entities"] = _entities(parts)
            out.write("  " + json.dumps(message, ensure_ascii=False))
            out.write(",\n" if index < count - 1 else "\n")
        out.write("]}\n")


_PRODUCTS = (
    "Apache Struts", "Microsoft Exchange Server", "Cisco IOS XE", "Oracle WebLogic", "OpenSSL",
    "Google Chrome", "Mozilla Firefox", "Linux kernel", "WordPress plugin", "Jenkins", "GitLab",
    "Drupal core", "nginx", "PHP", "Node.js", "Samba", "VMware ESXi", "Fortinet FortiOS",
)  # fmt: skip
_ACTIONS = (
    "execute arbitrary code", "cause a denial of service", "read arbitrary files",
    "bypass authentication", "escalate privileges", "inject SQL commands",
    "obtain sensitive information", "write arbitrary files", "hijack sessions",
)  # fmt: skip
_VECTORS = ("request", "URL", "packet", "file", "header", "cookie", "parameter", "archive")


def generate_template(path: Path, count: int, seed: int = 3) -> None:
    """A vulnerability feed: every post one layout, told apart by its numbers (the CVE id,
    versions, a score, a date) and a few words — distinct posts that all resemble each other."""
    rng = random.Random(seed)
    when = 1_514_764_800
    messages = []
    for index in range(count):
        when += rng.randint(300, 5000)
        version = f"{rng.randint(1, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        body = (
            f"🔴 New - CVE-2018-{1000 + index}\n\n{rng.choice(_PRODUCTS)} before {version} "
            f"allows remote attackers to {rng.choice(_ACTIONS)} via a crafted "
            f"{rng.choice(_VECTORS)}. Severity: {rng.choice(['LOW', 'MEDIUM', 'HIGH'])} "
            f"({rng.randint(10, 100) / 10}). Published "
            f"{time.strftime('%d %B %Y', time.gmtime(when))}.\n\n#cve #security"
        )
        messages.append(
            {
                "id": index + 1,
                "type": "message",
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)),
                "date_unixtime": str(when),
                "from": "CVE Feed",
                "from_id": "channel1777000042",
                "text": body,
                "text_entities": [{"type": "plain", "text": body}],
            }
        )
    chat = {"name": "CVE Feed", "type": "public_channel", "id": 1777000042, "messages": messages}
    path.write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")


def _plain_text(message: dict[str, Any]) -> str:
    text = message.get("text", "")
    if isinstance(text, str):
        return text
    return "".join(part if isinstance(part, str) else part.get("text", "") for part in text)


def child_baseline(export: str, database: str) -> dict[str, Any]:
    """The least work that still stores the posts: json.load + sqlite3 executemany."""
    with open(export, encoding="utf-8") as handle:
        data = json.load(handle)
    rows = [
        (m["id"], _plain_text(m), int(m["date_unixtime"]))
        for m in data["messages"]
        if m.get("type") == "message"
    ]
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, text TEXT, date INTEGER)")
    db.executemany("INSERT INTO posts VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    return {"rows": len(rows)}


def child_tgpipe(export: str) -> dict[str, Any]:
    """`tgpipe import FILE --json`, in-process so the figures are the command's own."""
    from cli.main import main as tgpipe

    out = io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out):
        try:
            tgpipe(["import", export, "--json"])
        except SystemExit as exc:
            code = exc.code or 0
    return {"exit": code, "totals": json.loads(out.getvalue())["totals"]}


def child(kind: str, argv: list[str]) -> None:
    start = time.perf_counter()
    result = child_baseline(*argv) if kind == "baseline" else child_tgpipe(*argv)
    result["seconds"] = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    # tgpipe parses large files in a worker process: count it too.
    worker = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["maxrss_kb"] = own.ru_maxrss
    result["worker_maxrss_kb"] = worker.ru_maxrss
    result["cpu"] = own.ru_utime + own.ru_stime
    result["worker_cpu"] = worker.ru_utime + worker.ru_stime
    print(json.dumps(result))


def _measure(kind: str, args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one side in a fresh process, so its peak RSS is its own."""
    run = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{run.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


async def _admin(url: str, sql: str) -> None:
    import asyncpg  # only for --postgresql

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def _postgres_database(server: str) -> Iterator[str]:
    """A new database on ``server`` (a postgresql:// URL) for one run; dropped afterwards."""
    base = make_url(server).set(drivername="postgresql")
    name = f"tgpipe_bench_{os.getpid()}"
    admin = base.render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Run:
    name: str
    messages: int
    result: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.result["seconds"])

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def rss_mb(self) -> float:
        """Peak RSS of the run's processes together (each at its own peak)."""
        return float(self.result["maxrss_kb"] + self.result["worker_maxrss_kb"]) / 1024

    def line(self) -> str:
        cpu = f"{self.result['cpu']:7.1f}"
        cpu += f" + {self.result['worker_cpu']:5.1f}" if self.result["worker_cpu"] else " " * 8
        rss = f"{self.result['maxrss_kb'] / 1024:5.0f}"
        if self.result["worker_maxrss_kb"]:
            rss += f" + {self.result['worker_maxrss_kb'] / 1024:4.0f}"
        return (
            f"{self.name:22} {self.messages:9,} {self.seconds:8.2f} {self.rate:9,.0f} "
            f"{1e6 / self.rate:8.0f} {cpu:>15} {rss:>12} MB"
        )


def _export(work: Path, name: str, make: Callable[[Path], None]) -> Path:
    path = work / name
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_name(path.name + ".partial")  # a stopped run leaves no half export
        make(partial)
        partial.rename(path)
        took = time.perf_counter() - started
        print(f"generated {name}: {path.stat().st_size / 1e6:.1f} MB in {took:.1f}s")
    return path


def _revision() -> str:
    """What a filled store depends on: the schema's revision and the dedup features'."""
    from pipeline.dedup.signature import FEATURES_VERSION
    from pipeline.store.revision import HEAD

    return f"r{HEAD}-f{FEATURES_VERSION}"


def _copy_store(source: Path, target: Path) -> None:
    """A whole SQLite store, through SQLite's backup API (its WAL included)."""
    for stale in target.parent.glob(f"{target.name}*"):
        stale.unlink()
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _check(label: str, ok: bool, figure: str) -> None:
    print(f"  {'met ' if ok else 'MISSED'} {label}: {figure}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--template", type=int, default=3000, help="posts of the template channel")
    parser.add_argument("--prefill", type=int, default=0, help="posts stored before the import")
    parser.add_argument("--postgresql", metavar="URL", help="also import into PostgreSQL there")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated exports here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tgpipe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export = _export(work, f"export-{args.messages}.json", lambda p: generate(p, args.messages))

    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGPIPE_")}
    env["PYTHONPATH"] = str(repo)

    def tgpipe(name: str, path: Path, messages: int, database: str) -> Run:
        result = _measure("tgpipe", [str(path)], work, env | {"TGPIPE_DATABASE_URL": database})
        if result["exit"] != 0:
            raise SystemExit(f"{name}: tgpipe import exited {result['exit']}")
        return Run(name, messages, result)

    def sqlite(name: str) -> str:
        for stale in work.glob(f"{name}.db*"):
            stale.unlink()
        return f"sqlite:///{work / name}.db"

    runs = [tgpipe("tgpipe (SQLite)", export, args.messages, sqlite("tgpipe"))]
    base_db = work / "baseline.db"
    base_db.unlink(missing_ok=True)
    base = Run(
        "baseline", args.messages, _measure("baseline", [str(export), str(base_db)], work, env)
    )
    runs.append(base)
    templates: list[Run] = []
    if args.template:  # 0 leaves it out
        for count in (10, args.template, 10 * args.template):
            template = _export(
                work, f"template-{count}.json", partial(generate_template, count=count)
            )
            templates.append(tgpipe("template channel", template, count, sqlite("template")))
        runs.extend(templates[1:])
    full: Run | None = None
    if args.prefill:
        filler = _export(
            work,
            f"prefill-{args.prefill}.json",
            lambda p: generate(p, args.prefill, seed=11, channel=("Filler Channel", 1777000002)),
        )
        store = sqlite("full")
        # With --keep the filled store is kept too, for later runs (filling a million posts
        # takes minutes); one of another schema or dedup features version is refilled.
        kept = work / f"prefill-{args.prefill}-{_revision()}.db"
        if not kept.exists():
            runs.append(tgpipe("prefill (untimed)", filler, args.prefill, store))
            if args.keep:
                _copy_store(work / "full.db", kept)
        else:
            _copy_store(kept, work / "full.db")
        full = tgpipe(f"into {args.prefill:,} posts", export, args.messages, store)
        runs.append(full)
    postgres: Run | None = None
    if args.postgresql:
        with _postgres_database(args.postgresql) as url:
            # A PostgreSQL store is migrated by its admin first (`tgpipe db upgrade`).
            upgrade = "from cli.main import main; main(['db', 'upgrade'])"
            migrated = env | {"TGPIPE_DATABASE_URL": url}
            subprocess.run([sys.executable, "-c", upgrade], env=migrated, check=True)
            postgres = tgpipe("tgpipe (PostgreSQL)", export, args.messages, url)
        runs.append(postgres)

    print(
        f"{'':22} {'messages':>9} {'seconds':>8} {'msgs/s':>9} {'µs/msg':>8} "
        f"{'CPU s (+ parser)':>15} {'peak RSS':>15}"
    )
    for run in runs:
        print(run.line())
    ours = runs[0]
    totals = ours.result["totals"]
    print(
        f"tgpipe stored {totals['new']:,} posts from {totals['parsed']:,} parsed "
        f"({totals['skipped']:,} service messages skipped)"
    )
    ratio = ours.seconds / base.seconds
    print("targets (issue #11):")
    _check("time within 3x the baseline", ratio <= 3.0, f"{ratio:.2f}x")
    _check("at least 5,000 messages/s", ours.rate >= 5000, f"{ours.rate:,.0f}/s")
    _check("peak RSS under 300 MB, all processes", ours.rss_mb < 300, f"{ours.rss_mb:.0f} MB")
    if full is not None:
        slower = ours.rate / full.rate - 1
        _check(
            f"into a store of {args.prefill:,} posts within 30 %", slower <= 0.3, f"{slower:+.0%}"
        )
    if templates:
        start_up, small, large = templates
        cost = [(run.seconds - start_up.seconds) / run.messages * 1e6 for run in (small, large)]
        _check(
            f"template channel: cost per post bounded, {small.messages:,} → "
            f"{large.messages:,} posts within 2x",
            cost[1] <= 2 * cost[0],
            f"{cost[0]:.0f} → {cost[1]:.0f} µs per post ({start_up.seconds:.2f} s start-up)",
        )
    if postgres is not None:
        _check(
            "PostgreSQL at least the SQLite rate",
            postgres.rate >= ours.rate,
            f"{postgres.rate:,.0f}/s vs {ours.rate:,.0f}/s",
        )
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
