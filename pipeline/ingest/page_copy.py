"""A web page copied as plain text (select all, copy, save as ``.txt``): where its article is.

A browser copy keeps no markup, only lines, and the site's chrome comes with the article:
rows of menu words, promo lines, breadcrumbs, bylines and dates, share rows, "latest
articles" lists, prev/next links, contact and copyright footers. The article is found from
the shape of the lines alone, never from words of particular sites:

1. Every line is measured: its size in characters with CJK characters counted as more than
   one (Chinese and Japanese have no spaces, so words cannot be counted), its sentence
   punctuation, whether it looks like code, and whether it is evidence of chrome: a date or a
   time, a counter (``阅读量 3.2k``, ``128``), a copyright or legal line, a phone number or an
   e-mail address, a bare link, a breadcrumb or a row of menu items, ``label: value`` pairs.
2. Each line is scored (prose by its size, code a little, short lines a little below zero,
   evidence well below) and the stretch with the highest sum is the core of the article, from
   its first paragraph to its last.
3. The headline is a title-like line before the core: the one that opens what follows the
   site's header (its breadcrumb, else its top menu), the one a breadcrumb names, then the
   longest and nearest to the core. Items of a list or a menu, and lines that come again
   under the article (buttons, section and author names), are not headlines; over a longer
   standfirst, the headline is the line above it.
4. Between the headline and the core only a table of contents (a block of lines that come
   back as the article's headings) and those headings, a standfirst, paragraphs and code are
   kept; bylines, dates and counters go. After the core everything goes, except a block the
   last paragraph announces with a colon and a short closing sentence ("Thanks for
   reading!"). Inside the core, legal notices go, and lines repeating the chrome around it:
   an ad label or a button that recurs and heads nothing, "read also: <a title listed
   outside>" on one line or two.

A text with no evidence of chrome before (after) the core is a clean article: its first line
is the headline and everything after it is kept (to the end). Short lines in a run count as
evidence above the core (a menu) but not below it (an article may end with a list).
"""

from __future__ import annotations

import enum
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# CJK ideographs say about as much as a short word each; kana and Hangul a little less.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_OTHER_WIDE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u3000-\u303f\uff00-\uffef]")

_TERMINAL = re.compile(r"[.!?…][\"'»”’)\]]*(?=\s|$)|[。！？][」』”）)]*")
_ENDS = re.compile(r"(?:[.!?…:;]|[。！？：；])[\"'»”’)\]」』）]*$")
_CLAUSE = re.compile(r"[,;:，、；：]")

# --- chrome evidence ----------------------------------------------------------------------

_WORD = r"[^\W\d_]{3,}\.?"
_DATE = re.compile(
    r"\d{4}\s?[-/.年]\s?\d{1,2}\s?[-/.月]\s?\d{1,2}\s?日?"  # 2024-03-12, 2024年03月08日
    r"|(?<!\d)(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-](?:\d{4}|\d{2})(?!\d)"
    r"|(?<!\d)(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:\d{4}|\d{2})(?!\d)"  # 3/25/24
    rf"|\d{{1,2}}\.?\s(?:de\s)?{_WORD},?\s(?:de\s)?\d{{4}}"  # 14 марта 2024, 3 de marzo de 2024
    rf"|{_WORD}\s\d{{1,2}}(?:st|nd|rd|th)?,?\s\d{{4}}"  # November 5, 2023
    r"|\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?"  # 09:30, 9:30 pm
    r"|\d+\s?[^\W\d_]{1,12}\.?\s(?:ago|назад)"  # 3 hours ago, 5 минут назад
    r"|(?:vor|hace|il y a)\s\d+\s[^\W\d_]+"
    r"|\d+\s?(?:分钟|小时|天|周|个月|年|分|時間|日|週間|か月)前",
    re.IGNORECASE,
)
# A count, not the digits of a name ("Python3", "Web3").
_NUMBER = re.compile(r"(?<![^\W\d_])[+\-−]?\d[\d\s.,]*[kKmMкКмМ万千]?\+?%?")
# A footer's notice; a paragraph about copyright only names the word (see _legal).
_LEGAL = re.compile(
    r"©|\(c\)\s*\d|all rights reserved|все права защищены|права защищены|版权所有"
    r"|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados"
    r"|tutti i diritti riservati|icp备|icp证|公网安备|备案号",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"\bcopyright\b|版权声明|著作権|авторское право", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s()\-]{7,}\d(?![\w.])")
_LINK = re.compile(r"^(?:[^\s:：]{1,12}[:：]\s*)?(?:https?://|www\.)\S+$", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*(?:->|=>|→|›|»|>|\|)\s*|\s+(?:/|·|•|-|–)\s+")
_COLUMNS = re.compile(r"\S {2,}\S")
_LABEL = re.compile(r"(?:^|\s)[^\s:：]{1,12}[:：](?!//)")

# --- code ---------------------------------------------------------------------------------

_CODE_START = re.compile(
    r"^(?:def|class|fn|func|function|import|package|return|elif|except|struct|impl|pub"
    r"|async def|#include|sudo|npx|npm|pip3?|yarn|docker|kubectl|cargo|git|apt(?:-get)?"
    r"|brew|curl|wget|cd|mkdir|chmod|export)\s"
)
_CODE_BLOCK_HEADER = re.compile(
    r"^(?:if|for|while|with|try|else|elif|except|finally|def|class|async def)\b.*:$"
)
_CODE_SHAPES = re.compile(
    r"^(?:\$|>>>|PS>)\s"  # a shell or REPL prompt
    r"|[{(\[]$"  # opens a block
    r"|^[}\])]+[;,)]*$"  # closes one
    r"|^\[[\w .:-]+\]$"  # an INI section
    r"|^[\w.\[\]\"'-]+\s*[:+\-*/]?=\s*\S"  # NAME=value, x += 1
    r"|^(?:let|const|var|val|auto|int)\s+\w+.*=.*"
    r"|(?:^|\s)--[a-z][\w-]*"  # a command-line flag
    r"|\w\((?!\s*\d+\s*\)\s*$).*\)\s*[:;{]?$"  # a call or a signature, not "Go(31)"
)
_CODE_SYMBOLS = re.compile(r"[{}\[\]()<>=;$\\|&*/_#\"'`]")

# --- lines --------------------------------------------------------------------------------


class Kind(enum.Enum):
    BLANK = "blank"
    PROSE = "prose"
    CODE = "code"
    TABLE = "table"  # cells separated by tabs
    TEXT = "text"  # anything else: headings, menu items, titles, list items
    DATE = "date"
    COUNTER = "counter"
    LEGAL = "legal"
    CONTACT = "contact"
    LINK = "link"
    MENU = "menu"  # a breadcrumb or a row of menu items
    META = "meta"  # label: value pairs
    RULE = "rule"  # no letters or digits at all


# A rule (``---``, ``·``) is no evidence: clean texts draw them too.
EVIDENCE = frozenset(
    {Kind.DATE, Kind.COUNTER, Kind.LEGAL, Kind.CONTACT, Kind.LINK, Kind.MENU, Kind.META}
)

# A line this long (in size units) with sentence punctuation is prose.
_PROSE = 60
_SHORT = 25
_NAV = 15
# A standfirst under the headline is at least this long.
_DECK = 40
# A page copy is read as an article only with this much prose in its core.
MIN_CORE_PROSE = 400


def size(text: str) -> int:
    """Characters, a CJK ideograph counted as three and kana or Hangul as two."""
    if text.isascii():
        return len(text)
    return len(text) + 2 * len(_HAN.findall(text)) + len(_OTHER_WIDE.findall(text))


def _words(text: str) -> int:
    """Words for spaced scripts; a run of CJK characters counts one per two characters."""
    count = 0
    for token in text.split():
        wide = len(_HAN.findall(token)) + len(_OTHER_WIDE.findall(token))
        count += max(1, (wide + 1) // 2) if wide else 1
    return count


def key(text: str) -> str:
    """A line as compared with others: numbering, bullets, case and spacing left out."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = re.sub(
        r"^\s*(?:[\d.]+[.)、]?|[一二三四五六七八九十]+、|[ivx]+\.|[-•*·▪●◦])\s*", "", folded
    )
    folded = re.sub(r"[\s:：>»→\-–—|·.,。]+$", "", folded)
    return " ".join(folded.split())


@dataclass(slots=True)
class Line:
    index: int
    raw: str
    text: str  # stripped
    kind: Kind
    size: int = 0
    key: str = ""


def _is_code(raw: str, text: str) -> bool:
    """Indented, or shaped as code is (a prompt, a block, an assignment, a call, a flag)."""
    if raw[:1] == "\t" or raw.startswith("  "):
        return True
    if _CODE_START.match(text) or _CODE_BLOCK_HEADER.match(text) or _CODE_SHAPES.search(text):
        return not _HAN.search(text) or bool(re.search(r"[=(){};]", text))
    return False


def _dense_in_symbols(text: str) -> bool:
    """Code's symbols in numbers no text has: weaker than a date ("3/12(火) 10:45")."""
    # Separators of a breadcrumb or a menu row (" > ", " | ") are not code's symbols.
    bare = _SEPARATOR.sub(" ", text)
    symbols = len(_CODE_SYMBOLS.findall(bare))
    return len(bare) >= 6 and symbols >= 3 and symbols >= 0.15 * len(bare)


def _menu(text: str) -> bool:
    parts = [part for part in _SEPARATOR.split(text) if part and part.strip()]
    separators = len(_SEPARATOR.findall(text))
    if separators >= 2 and len(parts) >= 2:
        return all(size(part) <= 80 and _words(part) <= 10 for part in parts)
    columns = re.split(r" {2,}", text)
    return len(columns) >= 3 and all(_words(column) <= 3 for column in columns)


def _date(text: str) -> bool:
    if not _DATE.search(text):
        return False
    rest = _DATE.sub(" ", text)
    letters = re.sub(r"[^\w\s]|\d|_", " ", rest)
    return _words(letters) <= 6 and size(letters.replace(" ", "")) <= 40


def _legal(text: str, measured: int) -> bool:
    if _LEGAL.search(text):
        return measured < 300
    found = _COPYRIGHT.search(text)
    return found is not None and (found.start() == 0 or measured < 160)


def _counter(text: str) -> bool:
    # "1) first" is an item of a numbered list, not a count.
    text = re.sub(r"^\d{1,3}[.)]\s+(?=\D)", "", text)
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return False
    # "阅读量 3.2k", "23 篇文章", "(48)": the count opens or closes the line.
    bare = text.strip("()[]（）+-−·•: ")
    if not (_NUMBER.match(bare) or re.search(r"\d[kKmMкКмМ万千+%]?\W*$", bare)):
        return False
    rest = re.sub(r"[^\w\s]|_", " ", _NUMBER.sub(" ", text))
    return _words(rest) <= 2 and size(rest.replace(" ", "")) <= 12


def classify(index: int, raw: str) -> Line:
    raw = raw.rstrip()
    text = raw.strip()
    if not text:
        return Line(index, raw, "", Kind.BLANK)
    measured = size(text)
    line = Line(index, raw, text, Kind.TEXT, measured, key(text))
    terminal = len(_TERMINAL.findall(text))
    if _legal(text, measured):
        line.kind = Kind.LEGAL
    elif (measured >= _PROSE and (_ENDS.search(text) or terminal >= 2)) or (
        measured >= 2 * _PROSE
        and (terminal or len(_CLAUSE.findall(text)) >= 2)
        and not _is_code(raw, text)
    ):
        line.kind = Kind.PROSE
    elif _LINK.match(text):
        line.kind = Kind.LINK
    elif _is_code(raw, text):
        line.kind = Kind.CODE
    elif not re.search(r"[^\W_]", text):
        line.kind = Kind.RULE
    elif "\t" in text and len(text.split("\t")) >= 2:
        line.kind = Kind.TABLE
    elif _date(text):
        line.kind = Kind.DATE
    elif _counter(text):
        line.kind = Kind.COUNTER
    elif _EMAIL.search(text) or (_PHONE.search(text) and measured < _PROSE):
        line.kind = Kind.CONTACT
    elif _menu(text):
        line.kind = Kind.MENU
    elif _dense_in_symbols(text):
        line.kind = Kind.CODE
    elif len(_LABEL.findall(text)) >= 2:
        line.kind = Kind.META
    return line


# --- the page -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """Where the article is in a copied page: line indices into the text's lines."""

    lines: list[Line]
    title: int | None  # the headline's line
    body: list[int]  # the body's non-blank lines, in order (the headline not among them)
    code: frozenset[int]  # the body lines that are code (kept verbatim)
    prose: int  # size of the prose in the body

    @property
    def size(self) -> int:
        """Size of the body (see :func:`size`)."""
        return sum(self.lines[index].size for index in self.body)

    @property
    def article(self) -> bool:
        """Whether the body is an article's worth of prose: two paragraphs at least, and
        :data:`MIN_CORE_PROSE` in all (a short news piece is three paragraphs)."""
        paragraphs = sum(1 for index in self.body if self.lines[index].kind is Kind.PROSE)
        return paragraphs >= 2 and self.prose >= MIN_CORE_PROSE

    @property
    def dropped(self) -> bool:
        """Whether any line other than the headline was left out."""
        filled = sum(1 for line in self.lines if line.kind is not Kind.BLANK)
        return len(self.body) + (self.title is not None) < filled


def _score(line: Line, repeated: bool, in_nav_run: bool) -> float:
    kind = line.kind
    if kind is Kind.PROSE:
        return 1.0 + min(line.size, 500) / 100
    if kind is Kind.CODE:
        return 0.8
    if kind is Kind.TABLE:
        return 0.2
    if kind is Kind.LEGAL:
        return -4.0
    if kind in (Kind.DATE, Kind.CONTACT, Kind.MENU):
        return -2.5
    if kind in EVIDENCE:
        return -1.0
    value = -0.3 if line.size < _SHORT else -0.2
    if repeated:
        value -= 0.3
    if in_nav_run:
        value -= 0.3
    return value


def _chunks(lines: Sequence[Line]) -> list[list[int]]:
    """Runs of consecutive non-blank lines (what the page drew as one block or list)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for line in lines:
        if line.kind is Kind.BLANK:
            if current:
                chunks.append(current)
                current = []
        else:
            current.append(line.index)
    if current:
        chunks.append(current)
    return chunks


def _columns(line: Line) -> bool:
    """Fields aligned with runs of spaces: a command's output, or inline items of a page."""
    return (
        line.kind in (Kind.TEXT, Kind.MENU)
        and len(line.text) >= 20
        and bool(_COLUMNS.search(line.text))
    )


def _mark_code_chunks(lines: list[Line]) -> None:
    """A block that is mostly code is code throughout (``# comment`` lines, ``@decorator``).

    Lines in aligned columns are code (a command's output) only beside code or other such
    lines: alone, they are a page's inline items copied with the spaces between them.
    """
    for chunk in _chunks(lines):
        aligned = [i for i in chunk if _columns(lines[i])]
        if len(aligned) >= 2 or (aligned and any(lines[i].kind is Kind.CODE for i in chunk)):
            for i in aligned:
                lines[i].kind = Kind.CODE
        kinds = [lines[i].kind for i in chunk]
        code = kinds.count(Kind.CODE)
        if code and Kind.PROSE not in kinds and code * 2 >= len(chunk):
            for i in chunk:
                line = lines[i]
                # Comments and decorators are code; a button's words ("Try it »") are not.
                if line.kind in (Kind.TEXT, Kind.RULE, Kind.COUNTER, Kind.MENU, Kind.META) and (
                    line.text.isascii() or _CODE_SYMBOLS.search(line.text)
                ):
                    line.kind = Kind.CODE
    filled = [line for line in lines if line.kind is not Kind.BLANK]
    for before, line, after in zip(filled, filled[1:], filled[2:], strict=False):
        if before.kind is Kind.CODE and after.kind is Kind.CODE and line.kind is Kind.TEXT:
            line.kind = Kind.CODE


def _mark_wrapped_paragraphs(lines: list[Line]) -> None:
    """Lines of a paragraph wrapped at a fixed width are prose, although none is a sentence.

    Wrapped: all lines but the last about as long as the longest (40 to 120), most of them
    ending inside a sentence, and the whole ending as a sentence does. A list of titles ends
    as no sentence does; a list of sentences ends each line with one.
    """
    for chunk in _chunks(lines):
        group = [lines[i] for i in chunk]
        if len(group) < 2 or any(line.kind not in (Kind.TEXT, Kind.PROSE) for line in group):
            continue
        width = max(line.size for line in group)
        if not 40 <= width <= 120 or any(line.size < 0.6 * width for line in group[:-1]):
            continue
        inside = sum(1 for line in group[:-1] if not _ENDS.search(line.text))
        if inside * 2 < len(group) - 1 or not _ENDS.search(group[-1].text):
            continue
        for line in group:
            line.kind = Kind.PROSE


def _runs(lines: Sequence[Line], test: set[int]) -> list[list[int]]:
    """Runs of consecutive lines (one block: no blank line between) all in ``test``."""
    runs: list[list[int]] = []
    current: list[int] = []
    for line in lines:
        if line.index in test:
            current.append(line.index)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _tables_of_contents(lines: list[Line], isolated: set[int]) -> set[int]:
    """Lines of runs most of whose lines come back later as the article's own headings.

    A heading stands alone (a paragraph or code around it, not a list): so a top menu whose
    items recur in the footer's menu is not taken for a table of contents.
    """
    short = {
        line.index
        for line in lines
        if line.kind in (Kind.TEXT, Kind.META, Kind.COUNTER) and line.size <= 120
    }
    last_alone: dict[str, int] = {}
    for index in sorted(isolated):
        if lines[index].key:
            last_alone[lines[index].key] = index
    found: set[int] = set()
    for chunk in _chunks(lines):
        run = [i for i in chunk if i in short]
        if len(run) < 2 or len(run) < len(chunk):
            continue
        matched = [i for i in run if last_alone.get(lines[i].key, -1) > run[-1]]
        if len(matched) >= 2 and len(matched) * 2 >= len(run) - 1:
            first = matched[0]
            # The short lines just above the first entry are the table's own heading
            # ("Contents"), with its button ("hide") when there is one.
            start = run.index(first)
            for _ in range(2):
                if start > 0 and lines[run[start - 1]].size <= _SHORT:
                    start -= 1
            found.update(run[start : run.index(matched[-1]) + 1])
    return found


def _core(scores: Sequence[tuple[int, float]]) -> tuple[int, int, float] | None:
    """The stretch of lines with the highest total score (Kadane): first, last, total."""
    best: tuple[int, int, float] | None = None
    start = None
    total = 0.0
    for index, score in scores:
        if start is None or total <= 0:
            start, total = index, 0.0
        total += score
        if total > 0 and (best is None or total > best[2]):
            best = (start, index, total)
    return best


def _breadcrumb_titles(lines: Sequence[Line]) -> set[str]:
    """The last item of each breadcrumb: where a page names itself."""
    titles: set[str] = set()
    for line in lines:
        if line.kind is Kind.MENU:
            parts = [part.strip() for part in _SEPARATOR.split(line.text) if part.strip()]
            if parts and _SEPARATOR.search(line.text):
                titles.add(key(parts[-1]))
    return titles


def read_page(texts: Sequence[str]) -> Page | None:
    """The article in a copied page; None for a text of blank lines only."""
    lines = [classify(index, raw) for index, raw in enumerate(texts)]
    _mark_code_chunks(lines)
    _mark_wrapped_paragraphs(lines)
    filled = [line for line in lines if line.kind is not Kind.BLANK]
    if not filled:
        return None
    counts = Counter(line.key for line in filled if line.kind not in (Kind.PROSE, Kind.CODE))
    chunks = _chunks(lines)
    leads_body = _leading_body(lines)

    def listy(line: Line) -> bool:
        return line.kind in (Kind.TEXT, Kind.COUNTER) and line.size < 120

    # A line alone in its block (or heading a paragraph or code) stands as a heading would.
    isolated: set[int] = set()
    for chunk in chunks:
        listed_here = sum(1 for i in chunk if listy(lines[i]))
        for i in chunk:
            if listed_here - listy(lines[i]) == 0 or i in leads_body:
                isolated.add(i)
    contents = _tables_of_contents(lines, isolated)
    # Menu items: short lines, no sentence among them, one under another.
    nav_runs: set[int] = set()
    for chunk in chunks:
        run: list[int] = []
        for i in [*chunk, -1]:
            line = lines[i] if i >= 0 else None
            if (
                line is not None
                and line.kind is Kind.TEXT
                and (line.size < _NAV or (line.size < _SHORT and _words(line.text) <= 2))
                and not _ENDS.search(line.text)
            ):
                run.append(i)
                continue
            if len(run) >= 3:
                nav_runs.update(run)
            run = []
    scores = [
        (
            line.index,
            0.0
            if line.index in contents
            else _score(line, counts[line.key] > 1, line.index in nav_runs),
        )
        for line in filled
    ]
    core = _core(scores)
    if core is None:
        # Nothing reads as an article: the text is taken as it is, headline first.
        body = [line.index for line in filled[1:]]
        code = frozenset(i for i in body if lines[i].kind is Kind.CODE)
        return Page(lines, filled[0].index, body, code, 0)
    first, last, _ = core
    before = [line for line in filled if line.index < first]
    after = [line for line in filled if line.index > last]

    def chrome(group: Sequence[Line], menus: bool) -> bool:
        # A bare link is no evidence: a clean article may end with its source. Short lines
        # in a run are a menu above an article, but may be its last list below it.
        return any(line.kind in EVIDENCE - {Kind.LINK} for line in group) or (
            menus and any(line.index in nav_runs for line in group)
        )

    kept: list[int] = []
    title: int | None
    if not chrome(before, menus=True):
        title = filled[0].index
        kept.extend(line.index for line in before[1:])
    else:
        title = _headline(lines, before, first, contents, nav_runs)
        kept.extend(_between(lines, title, first, contents))
    if chrome(after, menus=False):
        end = _closing(lines, _announced(lines, last))
    else:
        end = filled[-1].index
    kept.extend(_inside(lines, filled, title, first, end, contents, leads_body))
    if title is not None and title in kept:
        kept.remove(title)
    kept.sort()
    code = frozenset(i for i in kept if lines[i].kind is Kind.CODE)
    prose = sum(lines[i].size for i in kept if lines[i].kind is Kind.PROSE)
    return Page(lines, title, kept, code, prose)


def _inside(
    lines: Sequence[Line],
    filled: Sequence[Line],
    title: int | None,
    first: int,
    end: int,
    contents: set[int],
    leads_body: set[int],
) -> list[int]:
    """The lines kept from the core's first line to ``end``: all but legal notices, and lines
    that repeat the chrome around the article."""
    outside = {
        line.key
        for line in filled
        if (line.index < (title if title is not None else first) or line.index > end)
        and line.index not in contents
        and line.kind is not Kind.PROSE
    }
    outside_long = {k for k in outside if size(k) >= 20}
    # A short line said twice inside the article, heading nothing, is an ad label or a button:
    # headings are not repeated (those a table of contents lists aside), and a label that
    # comes back ("Example") heads its code or paragraph.
    listed = {lines[i].key for i in contents}
    inside = Counter(
        line.key
        for line in filled
        if first <= line.index <= end and line.kind is Kind.TEXT and line.size < _SHORT
    )
    # A button drawn above and below each listing ("Copy code") frames code; a label that
    # heads its listings ("Example") only comes before them.
    after_code = {
        line.key
        for previous, line in itertools.pairwise(filled)
        if previous.kind is Kind.CODE and line.kind is Kind.TEXT and inside[line.key] > 1
    }
    framing = {
        line.key
        for line, following in itertools.pairwise(filled)
        if following.kind is Kind.CODE and line.key in after_code
    }
    # "Read also:" over a title the page lists outside the article, on two lines.
    referred: set[int] = set()
    for label, listed_title in itertools.pairwise(filled):
        if (
            first <= label.index <= end
            and label.kind is Kind.TEXT
            and label.size < _SHORT
            and label.text.endswith((":", "："))
            and listed_title.kind is Kind.TEXT
            and listed_title.key in outside_long
        ):
            referred.update((label.index, listed_title.index))
    kept: list[int] = []
    for line in filled:
        if line.index < first or line.index > end or line.index == title:
            continue
        if line.kind is Kind.LEGAL or line.index in referred:
            continue
        if line.kind is Kind.TEXT and line.key in framing:
            continue
        if line.kind not in (Kind.PROSE, Kind.CODE) and _repeats_chrome(
            line, outside, outside_long, leads_body
        ):
            continue
        if (
            inside[line.key] > 1
            and line.key not in listed
            and line.kind is Kind.TEXT
            and line.index not in leads_body
        ):
            continue
        kept.append(line.index)
    return kept


def _leading_body(lines: Sequence[Line]) -> set[int]:
    """The lines whose next non-blank line is a paragraph, code or a table."""
    found: set[int] = set()
    body_next = False
    for line in reversed(lines):
        if line.kind is Kind.BLANK:
            continue
        if body_next:
            found.add(line.index)
        body_next = line.kind in (Kind.PROSE, Kind.CODE, Kind.TABLE)
    return found


def _tails(text: str) -> Iterator[str]:
    """What follows a short label: after each of the first three spaces, and after a colon."""
    at = 0
    for _ in range(3):
        at = text.find(" ", at) + 1
        if not at:
            break
        yield text[at:].strip()
    colon = re.search(r"[:：]", text)
    if colon:
        yield text[colon.end() :].strip()


def _repeats_chrome(line: Line, outside: set[str], long: set[str], leads_body: set[int]) -> bool:
    """An ad label that recurs outside the article (a heading heads a paragraph; an ad label
    leaves the article to go on), or "read also: <a title listed outside>"."""
    if any(tail in long for tail in _tails(line.key)):
        return True
    return line.key in outside and line.size < _SHORT and line.index not in leads_body


def _headline(
    lines: Sequence[Line],
    before: Sequence[Line],
    first: int,
    contents: set[int],
    nav_runs: set[int],
) -> int | None:
    """The headline among the lines before the core (see the module's docstring)."""
    crumbs = _breadcrumb_titles(lines)
    # Buttons, author and section names come again under the article; a headline rarely does.
    below = {line.key for line in lines[first:] if line.kind is not Kind.BLANK}
    last_crumb = max((line.index for line in before if line.kind is Kind.MENU), default=-1)
    # Where the site's header ends: its breadcrumb, else its top menu. The headline opens what
    # follows; captions, bylines and standfirsts come after it.
    header = last_crumb
    if header < 0:
        header = next((run[-1] for run in _runs(lines[:first], nav_runs) if len(run) >= 3), -1)
    candidates = [
        line
        for line in before[-60:]
        if line.kind is Kind.TEXT
        and line.index not in contents
        and line.index not in nav_runs
        and 2 <= line.size <= 250
    ]
    if not candidates:
        return None
    text_like = {line.index for line in before if line.kind is Kind.TEXT}
    in_list: set[int] = set()
    for run in _runs(lines[: first + 1], text_like):
        if len(run) < 3:
            continue
        # An item of a list is about as long as two others at least; a headline over its
        # byline and buttons is not.
        for i in run:
            alike = sum(
                1
                for j in run
                if j != i and lines[i].size <= 1.5 * lines[j].size <= 2.25 * lines[i].size
            )
            if alike >= 2:
                in_list.add(i)
    opening = next(
        (
            line.index
            for line in candidates
            if line.index > header and line.size >= 12 and line.index not in in_list
        ),
        None,
    )
    best: tuple[float, int] | None = None
    rank = 0
    for line in reversed(candidates):
        score = min(line.size, 120) / 40 - 0.25 * rank
        if line.size >= _SHORT:
            rank += 1
        if any(
            line.key == crumb or (len(crumb) >= 10 and line.key.startswith(crumb))
            for crumb in crumbs
        ):
            score += 2.0
        elif line.key in below:
            score -= 0.75
        if line.index in in_list:
            score -= 1.5
        if line.size < 12:
            score -= 1.0
        if line.index < last_crumb:
            score -= 1.0
        if line.index == opening:
            score += 1.5
        if best is None or score > best[0]:
            best = (score, line.index)
    if best is None:
        return None
    chosen = lines[best[1]]
    above = _previous(lines, chosen.index)
    # A headline over a longer standfirst: the standfirst scores higher by its size alone.
    if (
        above is not None
        and above.kind is Kind.TEXT
        and chosen.size >= _DECK
        and 20 <= above.size < chosen.size
        and above.index not in in_list
    ):
        return above.index
    return chosen.index


def _previous(lines: Sequence[Line], index: int) -> Line | None:
    for line in reversed(lines[:index]):
        if line.kind is not Kind.BLANK:
            return line
    return None


def _between(lines: Sequence[Line], title: int | None, first: int, contents: set[int]) -> list[int]:
    """What to keep between the headline and the core: contents, standfirst, paragraphs, code."""
    if title is None:
        return []
    kept: list[int] = []
    deck_possible = True
    listed = {lines[i].key for i in contents}
    for line in lines[title + 1 : first]:
        if line.kind is Kind.BLANK:
            continue
        body = line.index in contents or line.key in listed or line.kind in (Kind.PROSE, Kind.CODE)
        deck = (
            deck_possible
            and line.kind is Kind.TEXT
            and line.size >= _DECK
            and not _ENDS.search(line.text)
        )
        if body or deck:
            kept.append(line.index)
        deck_possible = False
    return kept


def _closing(lines: Sequence[Line], end: int) -> int:
    """The end, moved over a short closing sentence or two ("Thanks for reading!").

    A question is not taken: "Was this page helpful?" is the site's.
    """
    taken = 0
    for line in lines[end + 1 :]:
        if line.kind is Kind.BLANK:
            continue
        if taken == 2 or line.kind is not Kind.TEXT or not re.search(r"[.!…。！]$", line.text):
            break
        end = line.index
        taken += 1
    return end


def _announced(lines: Sequence[Line], last: int) -> int:
    """The core's end, or the end of the block its last line announces with a colon."""
    if not lines[last].text.endswith((":", "：")):
        return last
    end = last
    for line in lines[last + 1 :]:
        if line.kind is Kind.BLANK:
            if end > last:
                break
            continue
        if line.kind in EVIDENCE - {Kind.LINK}:
            break
        end = line.index
    return end
