"""Import speed: `tgpipe import` of a generated Telegram Desktop JSON export.

Generates an export of N messages (default 200,000) with a realistic mix — formatted text
with entities, reactions, forwards, media descriptors, albums, service messages — then,
each in a fresh process and a fresh SQLite store:

* tgpipe: `tgpipe import FILE --json` end to end (parse, dedup, write);
* baseline: the same file loaded with the standard `json` module and its id/text/date rows
  inserted with `sqlite3` `executemany` — the least work that still stores the posts.

Prints messages/s, wall time and peak RSS of each, and the ratio.

    python bench/import_bench.py [--messages 200000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def generate(path: Path, count: int, seed: int = 7) -> None:
    """Write the export incrementally, so generating never needs it all in memory."""
    rng = random.Random(seed)
    start = 1_600_000_000
    with path.open("w", encoding="utf-8") as out:
        header = {"name": "Bench Channel", "type": "public_channel", "id": 1777000001}
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
                "from": "Bench Channel",
                "from_id": "channel1777000001",
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
                    "actor": "Bench Channel",
                    "actor_id": "channel1777000001",
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
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # tgpipe parses large files in a worker process: count its peak too.
    result["worker_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="keep the generated export and stores here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tgpipe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / "result.json"
    started = time.perf_counter()
    generate(export, args.messages)
    size_mb = export.stat().st_size / 1e6
    took = time.perf_counter() - started
    print(f"generated {args.messages:,} messages, {size_mb:.1f} MB in {took:.1f}s")

    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGPIPE_")}
    env["PYTHONPATH"] = str(repo)
    env["TGPIPE_DATABASE_URL"] = f"sqlite:///{work / 'tgpipe.db'}"
    for stale in work.glob("*.db*"):
        stale.unlink()
    ours = _measure("tgpipe", [str(export)], work, env)
    base = _measure("baseline", [str(export), str(work / "baseline.db")], work, env)

    print(f"{'':10} {'seconds':>9} {'msgs/s':>10} {'peak RSS':>10}")
    for name, result in (("tgpipe", ours), ("baseline", base)):
        rss = f"{result['maxrss_kb'] / 1024:8.0f} MB"
        if result["worker_maxrss_kb"]:
            rss += f" (+ parser process {result['worker_maxrss_kb'] / 1024:.0f} MB)"
        print(
            f"{name:10} {result['seconds']:9.2f} {args.messages / result['seconds']:10,.0f} {rss}"
        )
    totals = ours["totals"]
    print(
        f"tgpipe stored {totals['new']:,} posts from {totals['parsed']:,} parsed "
        f"({totals['skipped']:,} service messages skipped), exit {ours['exit']}"
    )
    print(f"time ratio tgpipe/baseline: {ours['seconds'] / base['seconds']:.2f}x")
    if not args.keep:
        for item in work.iterdir():
            item.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
