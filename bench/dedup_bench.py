"""Dedup quality and speed: precision and recall on a labelled set, time per post checked.

Quality. A labelled set is built from the real exports in ``../shared/exports/``: every
post with enough text to compare is an original, and gets two perturbed copies of random
kinds (truncated by 10-40 %, whitespace and line breaks changed, a footer added or the last
line removed, emoji stripped or added, about 5 % of the words edited, and combinations of
these), some originals also get a *template* sibling — the same text with one number
changed, which is another post of the same template (``CVE-2018-0723`` / ``-0724``) and
labelled distinct. Originals equal after folding, and the real duplicates among them found
by reading the exports, are one group; every other pair of originals is distinct (many share
a topic or a template). Word edits never touch digits or month names: tgpipe deliberately
treats a changed number as different content.

The set is written as Telegram Desktop JSON exports (originals in one file per source
channel, copies in files of synthetic re-poster channels, with later dates), imported with
``import_paths`` into a fresh SQLite store, and the clusters read back give pairwise
precision and recall (over every pair of labelled posts: predicted in one cluster vs. in one
group), the recall per perturbation kind and the false merges. The store is then
re-clustered at other thresholds (``pipeline.dedup.index.rebuild``) to show why the default
is where it is.

Speed. Stores of 10k, 100k and 1M posts (one store that grows) of filler posts: 20-150 words
drawn from a Zipf-like distribution over one real export's vocabulary, over 50 channels,
imported from generated exports. At each size a file of query posts (half perturbed copies
of stored posts, half new ones) is imported, ``--rounds`` times; the median wall time per
query post of that import (parse, features, key look-ups, verification, clustering, writing)
is tgpipe's time per post checked. Beside it, the check alone, without the writing: the
same features, key look-ups and exact similarity of the candidates, read only. The baseline,
in the same run: the same queries (the first ``--brute-queries``) compared with every stored
post by the same exact similarity, the stored posts' shingles precomputed in memory
(generous to it), up to ``--brute-max`` stored posts and extrapolated linearly beyond.
Targets: precision >= 0.99, recall >= 0.98, and time per post within 30 % from the smallest
to the largest store.

    python bench/dedup_bench.py [--quality-only | --scale-only] [--sizes 10000,100000,1000000]
        [--queries 500] [--rounds 5] [--brute-queries 20] [--brute-max 100000]
        [--thresholds 0.5,0.55,0.6,0.65,0.7,0.75] [--exports DIR] [--keep DIR] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from pipeline.dedup.cluster import Node, find_candidates, load_nodes
from pipeline.dedup.features import compute, words_of
from pipeline.dedup.index import rebuild
from pipeline.dedup.similarity import DEFAULT_THRESHOLD, Text, numbers, numbers_agree, similarity
from pipeline.dedup.text import is_comparable, tokens
from pipeline.ingest.formats import detect_format, parser_for
from pipeline.ingest.importer import ImportOptions, import_paths
from pipeline.ingest.model import ParsedPost, ParseOptions
from pipeline.ingest.report import FileReport
from pipeline.store.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from pipeline.store.migrate import upgrade
from pipeline.store.models import Channel, ChannelMessage, Post, PostKey

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EXPORTS = REPO / ".." / "shared" / "exports"
SOURCES = (
    "desktop/trantor_library-result.json",
    "desktop/uponthepathofsalaf-result.json",
    "desktop/cybersecnews-2018-messages2.html",
    "desktop/pachum-small-result.json",
)
TEXT_SOURCES = "text/*.txt"

# Pairs of real posts (file, message id) read and judged by hand. Posts equal after folding
# need no entry: they are one group anyway. Everything not listed is distinct.
TRUE_PAIRS = (
    ("uponthepathofsalaf-result.json", 12, 137),
    ("cybersecnews-2018-messages2.html", 1955, 1970),
    ("cybersecnews-2018-messages2.html", 1962, 2039),
    ("cybersecnews-2018-messages2.html", 1738, 1760),
    ("cybersecnews-2018-messages2.html", 1242, 1243),
    ("cybersecnews-2018-messages2.html", 1133, 1139),
    ("cybersecnews-2018-messages2.html", 1528, 1529),
)
# Could be read either way: left out of the set, with their copies.
AMBIGUOUS = (("cybersecnews-2018-messages2.html", 1547, 1548),)

REPOSTERS = 12
FILLER_CHANNELS = 50
MESSAGES_PER_FILE = 50_000
MIN_VOCABULARY = 2000  # distinct words of one filler vocabulary
FIRST_DATE = datetime(2022, 1, 1, tzinfo=UTC)

# --- the labelled set ----------------------------------------------------------------------


@dataclass(slots=True)
class Original:
    source: str  # the export's file name
    message_id: int | None  # None: the format has no ids (text copies)
    text: str
    date: datetime | None


@dataclass(slots=True)
class Item:
    """One labelled post: an original, a perturbed copy of one, or a template sibling."""

    group: int  # posts of one group are the same content
    kind: str  # "original", a perturbation kind, or "template"
    text: str
    date: datetime
    origin: int  # index of the original it is (or derives from)
    channel: int = -1  # index into the set's channels
    message_id: int = 0


@dataclass(slots=True)
class ExportChannel:
    name: str
    telegram_id: int
    items: list[int] = field(default_factory=list)


@dataclass(slots=True)
class LabelledSet:
    originals: list[Original]
    items: list[Item]
    channels: list[ExportChannel]
    scripts: list[str]  # the script of each original (script_of)


# Unicode names' first word -> the script reported. Han and kana are written without spaces
# (tgpipe counts each character as a word), as are Thai, Lao, Myanmar and Khmer.
_SCRIPTS = {
    "LATIN": "Latin",
    "CYRILLIC": "Cyrillic",
    "ARABIC": "Arabic",
    "GREEK": "Greek",
    "HEBREW": "Hebrew",
    "CJK": "CJK",
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "HANGUL": "Hangul",
    "THAI": "SE Asian",
    "LAO": "SE Asian",
    "MYANMAR": "SE Asian",
    "KHMER": "SE Asian",
}


def script_of(text: str) -> str:
    """The script most of a post's words are written in, each word counting for the script
    of its first letter (a character of Chinese or Japanese is a word, as it is to tgpipe)."""
    counts: Counter[str] = Counter()
    for word in tokens(text):
        letter = next((c for c in word if c.isalpha()), None)
        if letter is not None:
            name = unicodedata.name(letter, "").split(" ", 1)[0]
            counts[_SCRIPTS.get(name, "other")] += 1
    return counts.most_common(1)[0][0] if counts else "other"


def load_originals(exports: Path) -> list[Original]:
    """The posts of the real exports that have enough text to compare at all."""
    paths = [exports / name for name in SOURCES] + sorted(exports.glob(TEXT_SOURCES))
    originals = []
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"missing export {path} (give the folder with --exports)")
        for event in parser_for(detect_format(path)).parse(path, ParseOptions()):
            if isinstance(event, ParsedPost) and is_comparable(tokens(event.text)):
                originals.append(Original(path.name, event.message_id, event.text, event.date))
    return originals


# Pictographs; the dingbat digits among them (❶) are kept, as tgpipe reads them as numbers.
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]")
_DECORATIONS = ("🔥", "👉", "✅", "⚡️", "📌", "🚀")
_FOOTERS = (
    "Подписывайтесь на @tech_digest_ru",
    "Source: t.me/ainews",
    "👉 @ml_channel",
    "via @cyber_feed",
    "Источник: https://t.me/s/news",
    "Подпишись на наш канал @daily_it",
)
# Letters only (a changed number is a different post to tgpipe, on purpose); a character of
# a script written without spaces is a word of its own, as it is to tgpipe.
_NO_SPACE = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
_EDITABLE = re.compile(rf"[{_NO_SPACE}]|[^\W\d_{_NO_SPACE}]{{3,}}")
_WORD = re.compile(rf"[{_NO_SPACE}]|[^\W{_NO_SPACE}]+")
# Editing a word inside these would change nothing tgpipe compares.
_PROTECTED = re.compile(r"(?i)(?:https?://|www\.|t\.me/)\S+|[@#]\w+")


def truncate(text: str, rng: random.Random) -> str:
    """A preview: the first 60-90 % of the characters, maybe with an ellipsis."""
    cut = int(len(text) * rng.uniform(0.6, 0.9))
    return text[:cut].rstrip() + rng.choice(("…", "", "..."))


def whitespace(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    mode = rng.randrange(3)
    if mode == 0:
        return " ".join(lines)
    if mode == 1:
        return "\n\n".join(line for line in lines if line.strip())
    return "\n".join("  " + line.replace(" ", "   ") + " " for line in lines)


def footer(text: str, rng: random.Random) -> str:
    """A re-poster's footer added, or the post's own footer (a short last line) removed."""
    lines = text.rstrip().splitlines()
    last = lines[-1] if lines else ""
    # A long last line is the body itself (a post of a title and one paragraph), not a footer.
    if len(lines) > 2 and len(last) <= min(120, len(text) // 4) and rng.random() < 0.5:
        return "\n".join(lines[:-1])
    return text.rstrip() + "\n\n" + rng.choice(_FOOTERS)


def emoji(text: str, rng: random.Random) -> str:
    """Emoji stripped; a post without any gets some instead, so the copy is not identical."""
    if _EMOJI.search(text):
        return _EMOJI.sub(lambda match: match.group() if match.group().isalnum() else "", text)
    return "\n".join(
        f"{rng.choice(_DECORATIONS)} {line}" if line.strip() and rng.random() < 0.5 else line
        for line in text.splitlines()
    )


def _editable(text: str, match: re.Match[str]) -> bool:
    """Whether changing this word leaves the post's numbers as they were: it is no month name
    (tgpipe counts those as numbers), holds no digit (``¹`` is one after NFKC), and does not
    stand between digits (deleting 年 from 2023年6月 would make the number 20236)."""
    word = match.group()
    if numbers((word.casefold(),)) or any(c.isnumeric() for c in word):
        return False
    before = text[match.start() - 1] if match.start() else " "
    after = text[match.end()] if match.end() < len(text) else " "
    return not (before.isnumeric() or after.isnumeric())


def edit(text: str, rng: random.Random) -> str:
    """About 5 % of the words replaced, deleted or doubled by an inserted one."""
    protected = [match.span() for match in _PROTECTED.finditer(text)]
    words = [
        match
        for match in _EDITABLE.finditer(text)
        if _editable(text, match) and not any(a <= match.start() < b for a, b in protected)
    ]
    if not words:
        return text
    count = min(len(words), max(1, round(0.05 * len(_WORD.findall(text)))))
    vocabulary = [match.group() for match in words]
    for match in sorted(rng.sample(words, count), key=lambda m: m.start(), reverse=True):
        operation = rng.randrange(3)
        if operation == 0:
            replacement = rng.choice(vocabulary)
        elif operation == 1:
            replacement = ""
        else:
            replacement = f"{match.group()} {rng.choice(vocabulary)}"
        text = text[: match.start()] + replacement + text[match.end() :]
    return text


Perturbation = Callable[[str, random.Random], str]
KINDS: dict[str, tuple[Perturbation, ...]] = {
    "truncate": (truncate,),
    "whitespace": (whitespace,),
    "footer": (footer,),
    "emoji": (emoji,),
    "edit": (edit,),
    "truncate+edit": (truncate, edit),
    "edit+footer": (edit, footer),
    "repost": (whitespace, footer, emoji),  # another channel's copy-paste
}
TEMPLATE_SHARE = 0.3
_NUMBER = re.compile(r"(?<![\w#])\d+")


def template(text: str, rng: random.Random) -> str | None:
    """Another post of the same template: the first number tgpipe compares, in the first half
    of the text, changed. None when there is no such number."""
    lines = text.splitlines(keepends=True)
    position = 0
    for index, line in enumerate(lines):
        if position >= len(text) // 2:
            break
        position += len(line)
        if not tokens(line):
            continue  # a line dedup ignores (a link, a footer, hashtags)
        protected = [match.span() for match in _PROTECTED.finditer(line)]
        for match in _NUMBER.finditer(line):
            if any(start <= match.start() < end for start, end in protected):
                continue
            changed = str(int(match.group()) + rng.randint(1, 9))
            lines[index] = line[: match.start()] + changed + line[match.end() :]
            sibling = "".join(lines)
            return sibling if tokens(sibling) != tokens(text) else None
    return None


def _groups(originals: list[Original]) -> list[int]:
    """Union of originals equal after folding and of the pairs judged true duplicates."""
    parent = list(range(len(originals)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_with: dict[tuple[str, ...], int] = {}
    for index, original in enumerate(originals):
        words = tuple(tokens(original.text))
        parent[find(index)] = find(first_with.setdefault(words, index))
    where = {(o.source, o.message_id): i for i, o in enumerate(originals)}
    for source, a, b in TRUE_PAIRS:
        parent[find(where[(source, a)])] = find(where[(source, b)])
    return [find(index) for index in range(len(originals))]


def _synthetic_dates(originals: list[Original]) -> list[datetime]:
    """Real dates where the export has them; otherwise increasing ones, a day apart."""
    return [
        o.date if o.date is not None else FIRST_DATE - timedelta(days=len(originals) - index)
        for index, o in enumerate(originals)
    ]


def build_labelled_set(originals: list[Original], seed: int) -> LabelledSet:
    rng = random.Random(seed)
    groups = _groups(originals)
    group_sizes = Counter(groups)
    where = {(o.source, o.message_id): i for i, o in enumerate(originals)}
    excluded = {where[(s, m)] for s, a, b in AMBIGUOUS for m in (a, b)}
    dates = _synthetic_dates(originals)
    sources = sorted({o.source for o in originals})
    channels = [
        ExportChannel(f"Original {Path(name).stem}", 1_700_000_001 + n)
        for n, name in enumerate(sources)
    ]
    channels += [
        ExportChannel(f"Repost Digest {n + 1}", 1_800_000_001 + n) for n in range(REPOSTERS)
    ]
    channel_of_source = {name: n for n, name in enumerate(sources)}
    items: list[Item] = []
    next_group = len(originals)
    for index, original in enumerate(originals):
        if index in excluded:
            continue
        items.append(Item(groups[index], "original", original.text, dates[index], index))
        channels[channel_of_source[original.source]].items.append(len(items) - 1)
        kinds = rng.sample(sorted(KINDS), 2)
        # Only of a post without real duplicates: a real duplicate that lacks the changed
        # number ("CES 2021: How Winston…" / "How Winston…") would match the sibling as well.
        alone = group_sizes[groups[index]] == 1
        sibling = template(original.text, rng) if alone and rng.random() < TEMPLATE_SHARE else None
        for kind in kinds:
            text = original.text
            for perturb in KINDS[kind]:
                text = perturb(text, rng)
            later = dates[index] + timedelta(hours=rng.uniform(1, 24 * 60))
            items.append(Item(groups[index], kind, text, later, index))
            channels[len(sources) + rng.randrange(REPOSTERS)].items.append(len(items) - 1)
        if sibling is not None:
            later = dates[index] + timedelta(hours=rng.uniform(1, 24 * 60))
            items.append(Item(next_group, "template", sibling, later, index))
            next_group += 1
            channels[len(sources) + rng.randrange(REPOSTERS)].items.append(len(items) - 1)
    for channel_index, channel in enumerate(channels):
        # Message ids grow with the date, as Telegram's do.
        channel.items.sort(key=lambda i: (items[i].date, i))
        for number, item_index in enumerate(channel.items, 1):
            items[item_index].channel = channel_index
            items[item_index].message_id = number
    return LabelledSet(originals, items, channels, [script_of(o.text) for o in originals])


# --- exports ---------------------------------------------------------------------------------


def _message(message_id: int, date: datetime, text: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "date": date.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(date.timestamp())),
        "text": text,
        "text_entities": [{"type": "plain", "text": text}],
    }


def write_export(
    path: Path, name: str, telegram_id: int, messages: Iterable[tuple[int, datetime, str]]
) -> None:
    """A one-channel Telegram Desktop JSON export, written as a stream."""
    with path.open("w", encoding="utf-8") as out:
        header = {"name": name, "type": "public_channel", "id": telegram_id}
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "messages": [\n')
        for number, (message_id, date, text) in enumerate(messages):
            out.write(",\n" if number else "")
            out.write(json.dumps(_message(message_id, date, text), ensure_ascii=False))
        out.write("\n]}\n")


def write_labelled_set(labelled: LabelledSet, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    # Originals first: the usual order (a re-post is seen after its source), though the
    # clusters must not depend on it.
    for number, channel in enumerate(labelled.channels):
        path = folder / f"{number:02d}-{channel.telegram_id}.json"
        items = [labelled.items[i] for i in channel.items]
        write_export(
            path, channel.name, channel.telegram_id, ((i.message_id, i.date, i.text) for i in items)
        )
        paths.append(path)
    return paths


# --- stores ----------------------------------------------------------------------------------


async def open_store(path: Path) -> tuple[AsyncEngine, SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    return engine, create_session_factory(engine)


@dataclass(slots=True, frozen=True)
class Row:
    post_id: int
    duplicate_of: int | None
    similarity: float | None


async def read_posts(
    factory: SessionFactory, telegram_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], Row]:
    """(channel's export id, message id) -> its post's dedup standing."""
    query = (
        select(
            Channel.telegram_id,
            ChannelMessage.message_id,
            Post.id,
            Post.duplicate_of,
            Post.similarity,
        )
        .join(Channel, Channel.id == ChannelMessage.channel_id)
        .join(Post, Post.id == ChannelMessage.post_id)
    )
    if telegram_ids is not None:
        query = query.where(Channel.telegram_id.in_(list(telegram_ids)))
    async with unit_of_work(factory) as session:
        rows = await session.execute(query)
        return {(int(tid or 0), int(mid)): Row(pid, dup, sim) for tid, mid, pid, dup, sim in rows}


IMPORT_OPTIONS = ImportOptions(dedup_threshold=DEFAULT_THRESHOLD, requested_by="bench")


def _print(line: str) -> None:
    print(line, flush=True)


# --- quality ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Quality:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    false_pairs: int
    missed_pairs: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (copies with their original, copies)
    # (script of the original, kind) -> the same; kind "all" for every copy of that script
    by_script: dict[tuple[str, str], tuple[int, int]]
    pairs_by_script: dict[str, tuple[int, int]]  # script -> (pairs found, duplicate pairs)
    wrong_links: list[tuple[int, int, float | None]]  # (item, its canonical item, similarity)
    missed: list[int]  # copies not in their original's cluster


def _pairs(counts: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in counts)


def evaluate(labelled: LabelledSet, rows: dict[tuple[int, int], Row]) -> Quality:
    items = labelled.items
    keyed = [rows[(labelled.channels[i.channel].telegram_id, i.message_id)] for i in items]
    predicted = [row.duplicate_of or row.post_id for row in keyed]
    truth = [item.group for item in items]
    true_pairs = _pairs(Counter(truth).values())
    predicted_pairs = _pairs(Counter(predicted).values())
    correct = _pairs(Counter(zip(truth, predicted, strict=True)).values())
    original_item = {item.origin: n for n, item in enumerate(items) if item.kind == "original"}
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_script: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    missed = []
    for n, item in enumerate(items):
        if item.kind != "original":
            together = predicted[n] == predicted[original_item[item.origin]]
            by_kind[item.kind][0] += together
            by_kind[item.kind][1] += 1
            script = labelled.scripts[item.origin]
            for kind in (item.kind, "all") if item.kind != "template" else (item.kind,):
                by_script[(script, kind)][0] += together
                by_script[(script, kind)][1] += 1
            if not together and item.kind != "template":
                missed.append(n)
    # A group's script is its first original's (a group of real duplicates is of one script).
    group_script: dict[int, str] = {}
    for item in items:
        group_script.setdefault(item.group, labelled.scripts[item.origin])
    script_pairs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (group, _), count in Counter(zip(truth, predicted, strict=True)).items():
        script_pairs[group_script[group]][0] += count * (count - 1) // 2
    for group, count in Counter(truth).items():
        script_pairs[group_script[group]][1] += count * (count - 1) // 2
    item_of_post = {row.post_id: n for n, row in enumerate(keyed)}
    wrong = [
        (n, item_of_post[row.duplicate_of], row.similarity)
        for n, row in enumerate(keyed)
        if row.duplicate_of is not None and truth[item_of_post[row.duplicate_of]] != truth[n]
    ]
    return Quality(
        precision=correct / predicted_pairs if predicted_pairs else 1.0,
        recall=correct / true_pairs if true_pairs else 1.0,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        false_pairs=predicted_pairs - correct,
        missed_pairs=true_pairs - correct,
        by_kind={kind: (found, total) for kind, (found, total) in by_kind.items()},
        by_script={key: (found, total) for key, (found, total) in by_script.items()},
        pairs_by_script={key: (found, total) for key, (found, total) in script_pairs.items()},
        wrong_links=wrong,
        missed=missed,
    )


def miss_causes(
    labelled: LabelledSet, missed: list[int], threshold: float
) -> list[tuple[int, str, float]]:
    """Why each missed copy is apart from its original, by tgpipe's own parts: too little
    text, the number veto, the exact similarity, the index keys, or else the clustering (the
    copy was compared with another version of the post, which had become the canonical one)."""
    items = labelled.items
    original_item = {item.origin: n for n, item in enumerate(items) if item.kind == "original"}
    causes = []
    for n in missed:
        copy, original = items[n], items[original_item[items[n].origin]]
        a, b = Text(tuple(tokens(original.text))), Text(tuple(tokens(copy.text)))
        keys = compute([original.text, copy.text])
        score = similarity(a, b)
        if not (is_comparable(list(a.words)) and is_comparable(list(b.words))):
            cause = "too short to compare by text"
        elif not numbers_agree(a.numbers, b.numbers):
            cause = "numbers disagree (veto)"
        elif score < threshold:
            cause = "similarity below the threshold"
        elif not set(keys[0].keys) & set(keys[1].keys):
            cause = "no index key in common"
        else:
            cause = "clustered with another version"
        causes.append((n, cause, score))
    return causes


def _describe(labelled: LabelledSet, index: int) -> str:
    item = labelled.items[index]
    origin = labelled.originals[item.origin]
    where = f"{origin.source}#{origin.message_id}" if origin.message_id else origin.source
    snippet = " ".join(item.text.split())[:70]
    return f"{item.kind} of {where}: {snippet!r}"


def report_quality(labelled: LabelledSet, quality: Quality, threshold: float) -> None:
    def mark(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    _print(f"threshold {threshold:g} (the default)")
    _print(
        f"precision {quality.precision:.4f} ({mark(quality.precision >= 0.99)}, target >= 0.99)"
        f"   recall {quality.recall:.4f} ({mark(quality.recall >= 0.98)}, target >= 0.98)"
    )
    _print(
        f"  pairs: {quality.true_pairs:,} duplicate pairs in the set, "
        f"{quality.predicted_pairs:,} predicted, {quality.false_pairs:,} false, "
        f"{quality.missed_pairs:,} missed"
    )
    scripts = Counter(labelled.scripts[i.origin] for i in labelled.items if i.kind == "original")
    names = [script for script, _ in scripts.most_common()]
    _print(
        "  pair recall by script of the original: "
        + ", ".join(
            f"{script} {found / total if total else 1.0:.4f} ({found:,}/{total:,} pairs, "
            f"{scripts[script]:,} originals)"
            for script in names
            for found, total in [quality.pairs_by_script.get(script, (0, 0))]
        )
    )
    _print("  copies in their original's cluster, by kind and by script of the original:")
    _print(f"    {'':22} {'all':>16}" + "".join(f" {script:>16}" for script in names))

    def cell(found: int, total: int) -> str:
        return f"{found / total:.4f} {f'{found}/{total}':>9}" if total else f"{'-':>16}"

    for kind in [*KINDS, "all", "template"]:
        if kind == "all":
            found = sum(f for k, (f, _) in quality.by_kind.items() if k != "template")
            total = sum(t for k, (_, t) in quality.by_kind.items() if k != "template")
        else:
            found, total = quality.by_kind.get(kind, (0, 0))
        cells = [quality.by_script.get((script, kind), (0, 0)) for script in names]
        if kind == "template":  # kept apart, not joined
            total_cell = cell(total - found, total)
            row = "".join(f" {cell(t - f, t)}" for f, t in cells)
            _print(f"    {'template (kept apart)':22} {total_cell}{row}")
        elif total:
            _print(f"    {kind:22} {cell(found, total)}" + "".join(f" {cell(*c)}" for c in cells))
    causes = miss_causes(labelled, quality.missed, threshold)
    counts = Counter(cause for _, cause, _ in causes)
    by_cause: dict[str, Counter[str]] = defaultdict(Counter)
    for missed, cause, _ in causes:
        by_cause[cause][labelled.scripts[labelled.items[missed].origin]] += 1
    _print(
        f"  copies apart from their original: {len(quality.missed)}: "
        + ", ".join(
            f"{cause} {count} ("
            + ", ".join(f"{script} {n}" for script, n in by_cause[cause].most_common())
            + ")"
            for cause, count in counts.most_common()
        )
    )
    shown: set[str] = set()
    for missed, cause, exact in causes:
        if cause not in shown:  # one example of each cause
            shown.add(cause)
            _print(f"    {cause}, similarity {exact:.2f}: {_describe(labelled, missed)}")
    _print(
        f"  false merges (a post linked to a canonical post of another group): "
        f"{len(quality.wrong_links)}"
    )
    for item, canonical, score in quality.wrong_links[:5]:
        _print(f"    similarity {score or 0:.2f}: {_describe(labelled, item)}")
        _print(f"        joined {_describe(labelled, canonical)}")


async def run_quality(args: argparse.Namespace, work: Path) -> None:
    _print("== quality: labelled set from real exports ==")
    started = time.perf_counter()
    originals = load_originals(args.exports)
    labelled = build_labelled_set(originals, args.seed)
    kinds = Counter(item.kind for item in labelled.items)
    groups = Counter(item.group for item in labelled.items if item.kind == "original")
    _print(
        f"{len(originals):,} comparable originals from {len({o.source for o in originals})} "
        f"exports ({sum(n > 1 for n in groups.values())} groups of real duplicates among them, "
        f"{2 * len(AMBIGUOUS)} ambiguous left out); {len(labelled.items):,} labelled posts: "
        + ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    )
    _print(
        "  word edits never change digits or month names: tgpipe deliberately treats a changed "
        "number as different content (the template siblings test that); a truncation cuts "
        "anywhere, even inside a word or a number, as a preview does"
    )
    paths = write_labelled_set(labelled, work / "labelled")
    store = work / "quality.db"
    engine, factory = await open_store(store)
    try:
        began = time.perf_counter()
        report = await import_paths(factory, paths, IMPORT_OPTIONS)
        took = time.perf_counter() - began
        totals = report.totals()
        _print(
            f"imported {totals['parsed']:,} posts from {len(paths)} exports in {took:.1f}s: "
            f"{totals['new']:,} new, {totals['near_duplicates']:,} near duplicates, "
            f"{totals['duplicates']:,} duplicates"
        )
        imported = await read_posts(factory)
        quality = evaluate(labelled, imported)
        report_quality(labelled, quality, DEFAULT_THRESHOLD)

        _print("threshold sweep (the same store re-clustered with rebuild()):")
        _print(
            f"  {'threshold':>9} {'precision':>9} {'recall':>8} {'false pairs':>11} "
            f"{'missed pairs':>12} {'false links':>11} {'seconds':>7}"
        )
        same_as_import: bool | None = None
        for threshold in args.thresholds:
            began = time.perf_counter()
            async with unit_of_work(factory) as session:
                await rebuild(session, threshold, "threshold sweep")
            took = time.perf_counter() - began
            rows = await read_posts(factory)
            swept = evaluate(labelled, rows)
            if threshold == DEFAULT_THRESHOLD:
                same_as_import = rows == imported
            default = "  (default)" if threshold == DEFAULT_THRESHOLD else ""
            _print(
                f"  {threshold:9.2f} {swept.precision:9.4f} {swept.recall:8.4f} "
                f"{swept.false_pairs:11,} {swept.missed_pairs:12,} {len(swept.wrong_links):11,} "
                f"{took:7.1f}{default}"
            )
        if same_as_import is not None:
            verdict = "yes" if same_as_import else "NO (import order changed the result)"
            _print(
                f"  rebuild at {DEFAULT_THRESHOLD:g} gives the import's clusters exactly: {verdict}"
            )
        if args.thresholds and args.thresholds[-1] != DEFAULT_THRESHOLD:
            # Leave a kept store as an import would have.
            async with unit_of_work(factory) as session:
                await rebuild(session, DEFAULT_THRESHOLD, "back to the default")
    finally:
        await engine.dispose()
    _print(f"quality part took {time.perf_counter() - started:.0f}s")


# --- scale -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Vocabulary:
    words: list[str]
    probabilities: np.ndarray[Any, np.dtype[np.float64]]


def vocabularies(originals: list[Original]) -> list[Vocabulary]:
    """One per export (the small ones pooled): its words by frequency, drawn with
    Zipf-like probabilities 1/rank, so frequent words and word pairs recur as in text."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for original in originals:
        counts[original.source].update(tokens(original.text))
    # A small export alone would make a tiny vocabulary, whose posts all look alike.
    pooled: Counter[str] = Counter()
    for source in [s for s, words in counts.items() if len(words) < MIN_VOCABULARY]:
        pooled.update(counts.pop(source))
    if pooled:
        counts["small exports"] = pooled
    result = []
    for source in sorted(counts):
        words = [word for word, _ in counts[source].most_common()]
        weights = 1.0 / np.arange(1, len(words) + 1, dtype=np.float64)
        result.append(Vocabulary(words, weights / weights.sum()))
    return result


def filler_texts(vocabulary: Vocabulary, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` posts of 20-150 words, in one to three paragraphs."""
    lengths = rng.integers(20, 151, size=count)
    drawn = rng.choice(len(vocabulary.words), size=int(lengths.sum()), p=vocabulary.probabilities)
    words = vocabulary.words
    texts = []
    start = 0
    for length in lengths.tolist():
        post = [words[i] for i in drawn[start : start + length].tolist()]
        start += length
        cuts = sorted(rng.integers(1, length, size=int(rng.integers(0, 3))).tolist())
        paragraphs = [post[a:b] for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
        texts.append("\n\n".join(" ".join(p) for p in paragraphs if p))
    return texts


@dataclass(slots=True)
class Filler:
    """The filler channels and how many messages each holds so far."""

    vocabularies: list[Vocabulary]
    rng: np.random.Generator
    counts: list[int] = field(default_factory=lambda: [0] * FILLER_CHANNELS)

    @staticmethod
    def telegram_id(channel: int) -> int:
        return 1_900_000_001 + channel

    @staticmethod
    def date(message_id: int) -> datetime:
        return FIRST_DATE + timedelta(minutes=10 * message_id)

    @property
    def total(self) -> int:
        return sum(self.counts)

    def write(self, folder: Path, count: int) -> list[Path]:
        """Export files with ``count`` more posts, spread evenly over the channels."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for channel in range(FILLER_CHANNELS):
            share = count // FILLER_CHANNELS + (channel < count % FILLER_CHANNELS)
            vocabulary = self.vocabularies[channel % len(self.vocabularies)]
            for first in range(0, share, MESSAGES_PER_FILE):
                size = min(MESSAGES_PER_FILE, share - first)
                start = self.counts[channel] + 1
                texts = filler_texts(vocabulary, size, self.rng)
                path = folder / f"filler-{channel:02d}-{start:07d}.json"
                write_export(
                    path,
                    f"Filler {channel + 1}",
                    self.telegram_id(channel),
                    ((start + n, self.date(start + n), t) for n, t in enumerate(texts)),
                )
                self.counts[channel] += size
                paths.append(path)
        return paths


@dataclass(slots=True)
class Query:
    text: str
    source: tuple[int, int] | None  # the stored (channel, message id) it copies; None: new


async def make_queries(
    factory: SessionFactory, filler: Filler, count: int, rng: random.Random
) -> list[Query]:
    """Half perturbed copies of random stored filler posts, half new posts, shuffled."""
    picks: set[tuple[int, int]] = set()
    while len(picks) < count // 2:
        channel = rng.randrange(FILLER_CHANNELS)
        if filler.counts[channel]:
            picks.add((filler.telegram_id(channel), rng.randint(1, filler.counts[channel])))
    texts: dict[tuple[int, int], str] = {}
    async with unit_of_work(factory) as session:
        for telegram_id in {tid for tid, _ in picks}:
            ids = [mid for tid, mid in picks if tid == telegram_id]
            rows = await session.execute(
                select(ChannelMessage.message_id, Post.text)
                .join(Post, Post.id == ChannelMessage.post_id)
                .join(Channel, Channel.id == ChannelMessage.channel_id)
                .where(Channel.telegram_id == telegram_id, ChannelMessage.message_id.in_(ids))
            )
            texts.update({(telegram_id, mid): text for mid, text in rows})
    queries = []
    for pick in sorted(picks):
        text = texts[pick]
        for perturb in KINDS[rng.choice(sorted(KINDS))]:
            text = perturb(text, rng)
        queries.append(Query(text, pick))
    vocabulary_rng = np.random.Generator(np.random.PCG64(rng.randrange(2**32)))
    new = count - len(queries)
    for n in range(new):
        vocabulary = filler.vocabularies[n % len(filler.vocabularies)]
        queries.append(Query(filler_texts(vocabulary, 1, vocabulary_rng)[0], None))
    rng.shuffle(queries)
    return queries


@dataclass(slots=True)
class Checked:
    seconds: float
    copies_found: int  # copies in their source's cluster
    copies: int
    new_merged: int  # new posts that joined anything (false merges)
    new: int


async def check_queries(
    factory: SessionFactory, queries: list[Query], path: Path, telegram_id: int
) -> Checked:
    """Import the queries as one export and see where each ended up."""
    date = datetime.now(UTC) - timedelta(days=1)
    write_export(
        path,
        f"Query Probe {telegram_id}",
        telegram_id,
        ((n, date + timedelta(seconds=n), q.text) for n, q in enumerate(queries, 1)),
    )
    began = time.perf_counter()
    await import_paths(factory, [path], IMPORT_OPTIONS)
    seconds = time.perf_counter() - began
    sources = {q.source for q in queries if q.source is not None}
    rows = await read_posts(factory, [telegram_id, *{tid for tid, _ in sources}])
    async with unit_of_work(factory) as session:
        query_posts = [rows[(telegram_id, n)].post_id for n in range(1, len(queries) + 1)]
        linked = set(
            await session.scalars(
                select(Post.duplicate_of).where(Post.duplicate_of.in_(query_posts))
            )
        )
    found = merged = 0
    for n, query in enumerate(queries, 1):
        row = rows[(telegram_id, n)]
        if query.source is None:
            merged += row.duplicate_of is not None or row.post_id in linked
        else:
            source = rows[query.source]
            found += (row.duplicate_of or row.post_id) == (source.duplicate_of or source.post_id)
    copies = sum(q.source is not None for q in queries)
    return Checked(seconds, found, copies, merged, len(queries) - copies)


@dataclass(slots=True)
class CheckOnly:
    milliseconds: float  # per query post: key look-ups, loading candidates, their similarity
    features_milliseconds: float  # per query post: its words and keys (the parser process's)
    candidates: float  # stored posts sharing an index key with a query post, per query post
    copies_found: int
    new_merged: int


async def check_only(factory: SessionFactory, queries: list[Query], threshold: float) -> CheckOnly:
    """The check without the writing, read only: the look-up of the queries' index keys,
    loading the stored posts found (``load_nodes``) and their exact similarity, as the
    clusterer finds a new post's neighbours (``find_candidates`` is its own search). The
    queries' features (their words and keys) are timed apart: an import computes them in
    its parser process, beside the writer. (The clusterer itself cannot run on posts that
    are not stored: the stored posts it re-decides find their neighbours through
    ``post_keys``.)"""
    began = time.perf_counter()
    features = compute([q.text for q in queries])
    query_words = [words_of(q.text, f.content_hash) for q, f in zip(queries, features, strict=True)]
    featured = time.perf_counter()
    async with factory() as session:
        candidates = await find_candidates(session, [(None, f.keys) for f in features])
        wanted = sorted(set().union(*candidates))
        nodes: dict[int, Node] = {}
        for node in await load_nodes(session, wanted):
            nodes[node.id] = node
        await session.rollback()
    found = merged = 0
    for query, f, words, near in zip(queries, features, query_words, candidates, strict=True):
        text = Text(words)
        matched = any(
            (f.content_hash is not None and f.content_hash == nodes[i].content_hash)
            or (
                words
                and nodes[i].words
                and similarity(text, nodes[i].text, floor=threshold) >= threshold
            )
            for i in near
            if i in nodes
        )
        if query.source is None:
            merged += matched
        else:
            found += matched
    took = time.perf_counter() - featured
    per_post = sum(len(near) for near in candidates) / len(queries)
    return CheckOnly(
        1000 * took / len(queries),
        1000 * (featured - began) / len(queries),
        per_post,
        found,
        merged,
    )


@dataclass(slots=True)
class Brute:
    milliseconds: float  # per query post
    copies_found: int
    copies: int
    new_merged: int
    new: int
    prepare_seconds: float


async def brute_force(factory: SessionFactory, queries: list[Query], threshold: float) -> Brute:
    """Each query against every stored post, by the exact similarity tgpipe verifies with."""
    began = time.perf_counter()
    stored: list[Text] = []
    async with unit_of_work(factory) as session:
        result = await session.stream(select(Post.text).execution_options(yield_per=10_000))
        async for (text,) in result:
            words = tokens(text)
            if is_comparable(words):
                stored.append(Text(tuple(words)))
    prepared = time.perf_counter() - began
    found = merged = 0
    began = time.perf_counter()
    for query in queries:
        checked = Text(tuple(tokens(query.text)))
        best = max((similarity(checked, other, threshold) for other in stored), default=0.0)
        if query.source is None:
            merged += best >= threshold
        else:
            found += best >= threshold
    took = time.perf_counter() - began
    copies = sum(q.source is not None for q in queries)
    return Brute(1000 * took / len(queries), found, copies, merged, len(queries) - copies, prepared)


async def store_figures(factory: SessionFactory) -> tuple[int, int, int]:
    """(posts, index keys, filler posts that are duplicates of other filler posts)."""
    fillers = select(Channel.id).where(
        Channel.telegram_id.in_([Filler.telegram_id(n) for n in range(FILLER_CHANNELS)])
    )
    canonical = aliased(Post)
    async with unit_of_work(factory) as session:
        posts = await session.scalar(select(func.count()).select_from(Post)) or 0
        keys = await session.scalar(select(func.count()).select_from(PostKey)) or 0
        duplicates = (
            await session.scalar(
                select(func.count())
                .select_from(Post)
                .join(canonical, canonical.id == Post.duplicate_of)
                .where(Post.channel_id.in_(fillers), canonical.channel_id.in_(fillers))
            )
            or 0
        )
    return posts, keys, duplicates


def _disk_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))


@dataclass(slots=True)
class SizeResult:
    posts: int  # stored when the queries were checked
    import_ms: list[float]  # per query post, each round
    found: int
    copies: int
    new_merged: int
    new: int
    check: CheckOnly
    brute: Brute | None
    disk_bytes: int
    keys: int

    @property
    def tgpipe_ms(self) -> float:
        return statistics.median(self.import_ms)


async def grow(
    factory: SessionFactory, filler: Filler, size: int, folder: Path, keep: bool
) -> None:
    count = size - filler.total
    if count <= 0:
        return
    began = time.perf_counter()
    paths = filler.write(folder, count)
    written = time.perf_counter() - began
    _print(
        f"  generated {count:,} filler posts in {len(paths)} exports in {written:.0f}s; importing"
    )
    began = time.perf_counter()
    last = [0]

    def progress(_report: FileReport, done: int, total: int) -> None:
        # Every tenth file, so a long build shows it is alive without flooding the log.
        if done != last[0] and (done % 10 == 0 or done == total):
            last[0] = done
            _print(f"    {done}/{total} files, {time.perf_counter() - began:.0f}s")

    report = await import_paths(factory, paths, IMPORT_OPTIONS, progress)
    took = time.perf_counter() - began
    parsed = report.totals()["parsed"]
    _print(f"  imported {parsed:,} posts in {took:.0f}s ({parsed / took:,.0f} posts/s)")
    if not keep:
        for path in paths:
            path.unlink()


async def measure_size(
    args: argparse.Namespace,
    factory: SessionFactory,
    filler: Filler,
    work: Path,
    rng: random.Random,
    probe: list[int],
) -> SizeResult:
    posts, keys, duplicates = await store_figures(factory)
    _print(
        f"  {posts:,} posts stored ({posts - filler.total:,} of them query posts of smaller "
        f"stores); {duplicates:,} filler posts are duplicates of other filler posts"
    )
    # Timings mean little on a busy machine: say how busy it was.
    _print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    first = await make_queries(factory, filler, args.queries, rng)
    # Brute force and check-only see the store the first round of queries is imported into.
    brute = None
    if filler.total <= args.brute_max:
        sample = first[: args.brute_queries]
        brute = await brute_force(factory, sample, DEFAULT_THRESHOLD)
        _print(
            f"  brute force: {len(sample)} of the query posts against every stored post: "
            f"{brute.milliseconds:.1f} ms/post (the store's shingles precomputed in "
            f"{brute.prepare_seconds:.0f}s, not counted); copies found "
            f"{brute.copies_found}/{brute.copies}, new posts matched {brute.new_merged}/{brute.new}"
        )
    check = await check_only(factory, first, DEFAULT_THRESHOLD)
    _print(
        f"  check only (key look-ups, loading candidates, their exact similarity; read only): "
        f"{check.milliseconds:.3f} ms/post (and {check.features_milliseconds:.3f} ms/post for "
        f"the posts' features), {check.candidates:.1f} candidates/post; copies "
        f"found {check.copies_found}, new posts matched {check.new_merged}"
    )
    result = SizeResult(posts, [], 0, 0, 0, 0, check, brute, 0, keys)
    for round_number in range(args.rounds):
        queries = (
            first if not round_number else await make_queries(factory, filler, args.queries, rng)
        )
        probe[0] += 1
        path = work / f"query-{posts}-{round_number}.json"
        checked = await check_queries(factory, queries, path, 1_950_000_000 + probe[0])
        if not args.keep:
            path.unlink()
        result.import_ms.append(1000 * checked.seconds / len(queries))
        result.found += checked.copies_found
        result.copies += checked.copies
        result.new_merged += checked.new_merged
        result.new += checked.new
        _print(
            f"  round {round_number + 1}: {len(queries)} query posts imported in "
            f"{checked.seconds:.2f}s = {result.import_ms[-1]:.2f} ms/post; copies found "
            f"{checked.copies_found}/{checked.copies}, new posts merged "
            f"{checked.new_merged}/{checked.new}"
        )
    return result


def _flatness(name: str, small: float, large: float, sizes: tuple[int, int]) -> None:
    change = 100 * (large / small - 1)
    verdict = "ok" if abs(change) <= 30 else "OUTSIDE TARGET"
    _print(
        f"flatness of {name}: {sizes[1]:,} vs {sizes[0]:,} stored posts = {change:+.0f} % "
        f"({verdict}, target within 30 %)"
    )


def report_scale(results: list[SizeResult], brute_max: int) -> None:
    _print("")
    _print(
        f"{'stored posts':>12} | {'tgpipe ms/post':>14} | {'check only':>10} | "
        f"{'brute force ms/post':>19} | {'duplicates found':>16} | {'new merged':>10} | "
        f"{'candidates':>10} | {'on disk':>8} | {'keys/post':>9}"
    )
    measured = [r for r in results if r.brute is not None]

    def estimate(result: SizeResult) -> float:
        basis = measured[-1]
        assert basis.brute is not None
        return basis.brute.milliseconds * result.posts / basis.posts

    for result in results:
        if result.brute is not None:
            brute = f"{result.brute.milliseconds:.1f}"
        else:
            brute = f"~{estimate(result):.0f} (est.)" if measured else "skipped"
        _print(
            f"{result.posts:12,} | {result.tgpipe_ms:14.2f} | {result.check.milliseconds:10.2f} | "
            f"{brute:>19} | {f'{result.found}/{result.copies}':>16} | "
            f"{f'{result.new_merged}/{result.new}':>10} | {result.check.candidates:10.1f} | "
            f"{result.disk_bytes / 1e6:5.0f} MB | {result.keys / result.posts:9.1f}"
        )
    if measured:
        for result in results:
            if result.brute is None:
                _print(
                    f"brute force: skipped above {brute_max:,} stored posts, est. "
                    f"{estimate(result):.0f} ms/post at {result.posts:,} by linear extrapolation"
                )
    if len(results) > 1:
        small, large = results[0], results[-1]
        sizes = (small.posts, large.posts)
        _flatness("tgpipe ms/post (import)", small.tgpipe_ms, large.tgpipe_ms, sizes)
        _flatness("the check alone", small.check.milliseconds, large.check.milliseconds, sizes)
    slowest = max(result.check.milliseconds for result in results)
    verdict = "ok" if slowest <= 0.15 else "OUTSIDE TARGET"
    _print(f"the check at its slowest: {1000 * slowest:.0f} µs/post ({verdict}, target 150 µs)")


def _remove_store(store: Path) -> None:
    """The sizes grow from an empty store: one kept from an earlier run (--keep) would start
    the smallest size at the largest."""
    for stale in store.parent.glob(f"{store.name}*"):
        stale.unlink()


async def run_scale(args: argparse.Namespace, work: Path) -> None:
    _print("== speed: time per post checked against growing stores ==")
    started = time.perf_counter()
    originals = load_originals(args.exports)
    filler = Filler(vocabularies(originals), np.random.Generator(np.random.PCG64(args.seed)))
    rng = random.Random(args.seed)
    store = work / "scale.db"
    _remove_store(store)
    engine, factory = await open_store(store)
    results: list[SizeResult] = []
    probe = [0]
    try:
        for size in args.sizes:
            _print(f"store of {size:,} posts:")
            await grow(factory, filler, size, work / "filler", bool(args.keep))
            result = await measure_size(args, factory, filler, work, rng, probe)
            result.disk_bytes = _disk_bytes(store)
            results.append(result)
            _print(f"  ({time.perf_counter() - started:.0f}s so far)")
    finally:
        await engine.dispose()
    report_scale(results, args.brute_max)
    _print(
        f"tgpipe ms/post is the median of {args.rounds} imports of {args.queries} query posts "
        "(half perturbed copies of stored posts, half new), wall time of the whole import"
    )
    _print(f"speed part took {time.perf_counter() - started:.0f}s")


# --- main ------------------------------------------------------------------------------------


def _numbers(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(value: str) -> list[Any]:
        return [kind(part) for part in value.split(",") if part.strip()]

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--quality-only", action="store_true", help="only precision and recall")
    parts.add_argument("--scale-only", action="store_true", help="only the time per post")
    parser.add_argument(
        "--sizes",
        type=_numbers(int),
        default=[10_000, 100_000, 1_000_000],
        help="store sizes, ascending (default 10000,100000,1000000)",
    )
    parser.add_argument("--queries", type=int, default=500, help="query posts per round")
    parser.add_argument("--rounds", type=int, default=5, help="query imports per store size")
    parser.add_argument(
        "--brute-queries", type=int, default=20, help="query posts the brute force checks"
    )
    parser.add_argument(
        "--brute-max", type=int, default=100_000, help="largest store the brute force scans"
    )
    parser.add_argument(
        "--thresholds",
        type=_numbers(float),
        default=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75],
        help="thresholds of the sweep",
    )
    parser.add_argument("--exports", type=Path, default=DEFAULT_EXPORTS)
    parser.add_argument("--keep", type=Path, help="keep the generated exports and stores here")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.sizes != sorted(args.sizes):
        parser.error("--sizes must be ascending (one store grows through them)")
    if args.queries < 2:
        parser.error("--queries must be at least 2")
    return args


async def run(args: argparse.Namespace) -> None:
    work = args.keep or Path(tempfile.mkdtemp(prefix="tgpipe-dedup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not args.scale_only:
            await run_quality(args, work)
        if not args.quality_only:
            await run_scale(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    args = parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
