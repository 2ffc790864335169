"""Web pages copied as plain text: how much of the article is kept and of the chrome dropped.

The pages are in ``tests/pipeline/ingest/fixtures/article/page_copies/``: ``design/`` (written
while the extraction was designed) and ``held_out/`` (written after, never tuned on). Each
line is labelled by construction: ``T|`` the headline, ``B|`` the body, ``C|`` the site's
chrome, then the line as the browser copied it; blank lines carry no label and are not
counted.

Each page is imported as a user would (``tgpipe import page.txt``: format detection, then
the article parser) and its post compared with the labels, line by line as the user sees
them: a body line is kept when it is a line of the post's text, a chrome line is dropped when
it is not (a text shown once counts once, so a menu item equal to a heading is not excused by
the heading), and the title must be the headline. Targets: every body line kept, at least 95 %
of the chrome dropped overall, every title right.

    python bench/page_copy_bench.py [--show NAME]   # --show prints one page's post
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.errors import ParseError
from pipeline.ingest.formats import detect_format, parser_for
from pipeline.ingest.model import ParsedPost, ParseOptions

PAGES = Path(__file__).resolve().parents[1] / "tests/pipeline/ingest/fixtures/article/page_copies"
SETS = ("design", "held_out")
_LABEL = re.compile(r"^([TBC])\|(.*)$")


@dataclass(frozen=True, slots=True)
class Labelled:
    """A page as copied, and what each of its lines is."""

    text: str
    labels: list[str | None]  # "T", "B", "C" per line; None for a blank line


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    format: str
    title: str | None
    headline: str
    body: int
    body_kept: int
    chrome: int
    chrome_dropped: int
    missing: list[str]  # body lines the post lost
    leaked: list[str]  # chrome lines the post kept

    @property
    def title_right(self) -> bool:
        return self.title == self.headline


def load(path: Path) -> Labelled:
    lines: list[str] = []
    labels: list[str | None] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        match = _LABEL.match(line)
        if match is None and line.strip():
            raise ValueError(f"{path}:{number}: a line without a T|, B| or C| label")
        raw = match.group(2) if match else ""
        lines.append(raw)
        labels.append(match.group(1) if match and raw.strip() else None)
    return Labelled("\n".join(lines).rstrip("\n") + "\n", labels)


def _seen(line: str) -> str:
    """A line as compared: spacing and table cell separators do not matter."""
    return " ".join(line.replace("|", " ").split())


def read(path: Path, text: str) -> tuple[str, ParsedPost]:
    """The format detected for ``text`` and the post it imports to."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        copy.write_text(text, encoding="utf-8")
        format = detect_format(copy)
        posts = [
            event
            for event in parser_for(format).parse(copy, ParseOptions())
            if isinstance(event, ParsedPost)
        ]
    if len(posts) != 1:
        raise ParseError(str(path), None, f"{len(posts)} posts instead of one")
    return format, posts[0]


def measure(path: Path) -> Figures:
    """The figures of one page; a page the import refuses keeps nothing (and drops all)."""
    page = load(path)
    try:
        format, post = read(path, page.text)
    except ParseError as exc:
        format, post = "rejected", ParsedPost(message_id=None, title=f"({exc.reason})")
    shown = Counter(_seen(line) for line in post.text.split("\n") if line.strip())
    raws = page.text.split("\n")
    body = [_seen(raws[i]) for i, label in enumerate(page.labels) if label == "B"]
    chrome = [_seen(raws[i]) for i, label in enumerate(page.labels) if label == "C"]
    headline = next(raws[i].strip() for i, label in enumerate(page.labels) if label == "T")
    missing: list[str] = []
    for line in body:
        if shown[line] > 0:
            shown[line] -= 1
        else:
            missing.append(line)
    leaked: list[str] = []
    for line in chrome:
        if shown[line] > 0:
            shown[line] -= 1
            leaked.append(line)
    return Figures(
        path.stem, format, post.title, headline, len(body), len(body) - len(missing),
        len(chrome), len(chrome) - len(leaked), missing, leaked,
    )  # fmt: skip


def pages(set_name: str) -> list[Path]:
    return sorted((PAGES / set_name).glob("*.txt"))


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def report(figures: list[Figures], set_name: str) -> None:
    print(f"\n{set_name}: page, format, body kept, chrome dropped, title")
    for f in figures:
        title = "right" if f.title_right else f"WRONG: {f.title!r}"
        kept = f"{f.body_kept:>3}/{f.body:<3} {_share(f.body_kept, f.body)}"
        dropped = f"{f.chrome_dropped:>3}/{f.chrome:<3} {_share(f.chrome_dropped, f.chrome)}"
        print(f"  {f.name:<22} {f.format:<8} {kept}   {dropped}   {title}")
        for line in f.missing:
            print(f"      lost body:    {line[:90]}")
        for line in f.leaked:
            print(f"      kept chrome:  {line[:90]}")
    body = sum(f.body for f in figures)
    body_kept = sum(f.body_kept for f in figures)
    chrome = sum(f.chrome for f in figures)
    chrome_dropped = sum(f.chrome_dropped for f in figures)
    titles = sum(f.title_right for f in figures)
    print(
        f"  {'overall':<31} {body_kept:>3}/{body:<3} {_share(body_kept, body)}   "
        f"{chrome_dropped:>3}/{chrome:<3} {_share(chrome_dropped, chrome)}   "
        f"{titles}/{len(figures)} titles right"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", help="print the post of this page (a file name without .txt)")
    args = parser.parse_args()
    if args.show:
        path = next(p for s in SETS for p in pages(s) if p.stem == args.show)
        format, post = read(path, load(path).text)
        print(f"format: {format}\ntitle: {post.title}\n\n{post.text}")
        return
    for set_name in SETS:
        found = pages(set_name)
        if found:
            report([measure(path) for path in found], set_name)


if __name__ == "__main__":
    main()
