"""A long-form article saved from a web page (HTML) or kept as plain text: one draft post.

Finding the article inside a page (leaving out menus, ads, "related" lists, cookie banners,
share buttons, comments and footers) is done by trafilatura, which is measured on thousands of
real sites and keeps headings, lists, quotes, code, emphasis and links in its XML output. This
module turns that XML into Telegram text with Bot API entities itself, and takes the headline
and publication time from the page's own metadata.

A plain-text article is its first line (the headline) and the paragraphs after it. A web
page copied as text (select all, copy) brings the site's menus, bylines, lists and footers
along: :mod:`pipeline.ingest.page_copy` finds the headline and the body among them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import lxml.html  # type: ignore[import-untyped, unused-ignore]
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from pipeline.errors import ParseError
from pipeline.ingest import page_copy
from pipeline.ingest.model import Entity, Event, Note, ParsedPost, ParseOptions
from pipeline.ingest.source import read_text
from pipeline.ingest.textutil import EntityBuilder, element_line, utf16_len

FORMAT = "article"

logger = logging.getLogger(__name__)

# lxml ships no type information; its elements are handled as Any behind this name.
_El = Any

# Less main text than this is a teaser, a form or an empty shell, not an article.
MIN_TEXT = 200
# A plain-text file is claimed as an article only with at least this much prose in it.
MIN_PROSE = 800

# Telegram exports are parsed by their own parsers, never as articles.
TELEGRAM_MARKERS = (
    "tgme_widget_message",
    "tgme_channel_info",
    "<title>Exported Data</title>",
    'class="page_wrap"',
    'class="message default',
    'class="message service"',
)

_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    r"<(?:!doctype\s+html|html|head|body|meta|title|article|main|div|p|section|h1)\b",
    re.IGNORECASE | re.DOTALL,
)
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||::|—|–|-|·|•|»|«|/)\s+")
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# Dashes are not list markers: Russian prose opens lines of dialogue with "— ".
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·▪●◦]|(\d{1,3})[.)])\s+(.*)$")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*(?:={3,}|-{3,})\s*$")
_SENTENCE_END = re.compile(r"[.!?…][\"»”')\]]?(?:\s|$)")

# Lines that only a copy of a Telegram channel page has; such text belongs to the text parser.
_TELEGRAM_TEXT_CUES = re.compile(
    r"^(?:VIEW IN TELEGRAM|Please open Telegram to view this post|Download Telegram"
    r"|This media is not supported in your browser|Forwarded from .+"
    r"|\d+(?:[.,]\d+)?[KM]? (?:subscribers?|members?|подписчик\w*))$",
    re.IGNORECASE,
)
# A reaction line such as "👍38🔥22❤2": symbols and counts only.
_REACTION_LINE = re.compile(r"^(?:[^\x00-\x7f\w\s]+\s*\d+(?:[.,]\d+)?[KkMm]?\s*)+$")

_DATE_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "date_published",
    "publishdate",
    "pubdate",
    "dc.date.issued",
    "dcterms.issued",
    "sailthru.date",
    "parsely-pub-date",
)
_MODIFIED_KEYS = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")

_BLOCKISH = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "ul",
    }
)  # fmt: skip
_BREAK_PARENTS = frozenset(
    {"div", "td", "section", "article", "main", "body", "blockquote", "font", "center"}
)
_QUOTE_BLOCKS = frozenset({"p", "list", "head", "quote", "code", "table"})
# Blocks trafilatura leaves inside inline content (a <br> in a table cell becomes a <p>).
_NESTED_BLOCKS = frozenset({"p", "head", "quote", "item"})
_HI = {"#b": "bold", "#i": "italic", "#u": "underline", "#t": "code"}


# --- sniffing ---------------------------------------------------------------------------------


def looks_like_html(head: str) -> bool:
    if _HTML_START.match(head):
        return True
    sample = head[:4096].lower()
    return "<html" in sample or "<body" in sample


def is_telegram_export(head: str) -> bool:
    return any(marker in head for marker in TELEGRAM_MARKERS)


def _telegram_layout(lines: list[str], repeated_titles: bool = False) -> bool:
    """Whether the lines have the layout only a copy of a Telegram channel page has: reaction
    lines, "VIEW IN TELEGRAM"/"Forwarded from"/"N subscribers" lines, or a long line repeated
    (copies of channel pages show each body twice). With ``repeated_titles``, a repeated line
    that is not a sentence does not count: a copied web page lists its own headline again."""
    seen: set[str] = set()
    for line in lines:
        if not line:
            continue
        if _TELEGRAM_TEXT_CUES.match(line) or _REACTION_LINE.match(line):
            return True
        if len(line) >= 60:
            if line in seen and not (repeated_titles and not _SENTENCE_END.search(line)):
                return True
            seen.add(line)
    return False


def looks_like_prose(text: str) -> bool:
    """Long running prose and none of the layout a copy of a Telegram channel page has.

    The text-copy parser also reads plain text, so this stays strict: no Telegram layout (see
    above) and most of the characters in long paragraphs made of sentences.
    """
    body = text.strip()
    if len(body) < MIN_PROSE or body[0] in "{[<":
        return False
    lines = [line.strip() for line in body.split("\n")]
    if _telegram_layout(lines):
        return False
    units = re.split(r"\n\s*\n", body) if re.search(r"\n\s*\n", body) else lines
    prose = sum(
        len(unit) for unit in units if len(unit) >= 150 and len(_SENTENCE_END.findall(unit)) >= 2
    )
    return prose >= MIN_PROSE and prose >= 0.6 * len(body)


def looks_like_page_copy(text: str) -> bool:
    """A web page copied as text: an article's worth of prose with the site's chrome around
    it (see :mod:`pipeline.ingest.page_copy`), and no Telegram layout."""
    body = text.strip()
    if not body or body[0] in "{[<":
        return False
    lines = body.split("\n")
    if _telegram_layout([line.strip() for line in lines], repeated_titles=True):
        return False
    page = page_copy.read_page(lines)
    return page is not None and page.article


def sniff(path: Path, head: str) -> bool:
    """HTML that is not a Telegram export, or plain text that is long prose or a copied web
    page (see above)."""
    if is_telegram_export(head):
        return False
    if looks_like_html(head):
        return True
    return looks_like_prose(head) or looks_like_page_copy(head)


# --- assembling text with entities ------------------------------------------------------------


@dataclass(slots=True)
class _Piece:
    """A stretch of finished text with its entities (offsets relative to the stretch)."""

    text: str
    entities: list[Entity] = field(default_factory=list)


def _shift(entity: Entity, by: int) -> Entity:
    return Entity(
        entity.type, entity.offset + by, entity.length, entity.url, entity.language,
        entity.custom_emoji_id, entity.user_id,
    )  # fmt: skip


def _join(pieces: list[_Piece], separator: str) -> _Piece:
    text_parts: list[str] = []
    entities: list[Entity] = []
    offset = 0
    for number, piece in enumerate(p for p in pieces if p.text):
        if number:
            text_parts.append(separator)
            offset += utf16_len(separator)
        text_parts.append(piece.text)
        entities.extend(_shift(entity, offset) for entity in piece.entities)
        offset += utf16_len(piece.text)
    return _Piece("".join(text_parts), entities)


def _prefixed(prefix: str, piece: _Piece) -> _Piece:
    shift = utf16_len(prefix)
    return _Piece(prefix + piece.text, [_shift(entity, shift) for entity in piece.entities])


def _wrapped(piece: _Piece, type: str, **attrs: Any) -> _Piece:
    if not piece.text:
        return piece
    outer = Entity(type, 0, utf16_len(piece.text), **attrs)
    return _Piece(piece.text, [outer, *piece.entities])


class _Inline:
    """Inline text with whitespace collapsed as a browser would, outside code.

    A space is held back until more text follows, so no line and no entity ends in one.
    """

    def __init__(self) -> None:
        self.builder = EntityBuilder()
        self.last = "\n"
        self.space = False

    def _emit(self, piece: str) -> None:
        self.builder.text(piece)
        self.last = piece[-1]

    def _flush(self) -> None:
        if self.space and self.last not in (" ", "\n"):
            self._emit(" ")
        self.space = False

    def text(self, piece: str, verbatim: bool = False) -> None:
        if verbatim:
            if piece:
                self._flush()
                self._emit(piece)
            return
        piece = _SPACE_RUN.sub(" ", piece)
        core = piece.strip(" ")
        if not core:
            self.space = self.space or bool(piece)
            return
        self.space = self.space or piece.startswith(" ")
        self._flush()
        self._emit(core)
        self.space = piece.endswith(" ")

    def open(self, type: str, **attrs: object) -> None:
        self._flush()
        self.builder.open(type, **attrs)

    def close(self) -> None:
        self.builder.close()

    def newline(self) -> None:
        self.space = False
        self._emit("\n")

    def end_line(self) -> None:
        """Where a block inside the inline content starts or ends: a new line, once."""
        if self.last != "\n":
            self.newline()

    def piece(self) -> _Piece:
        text, entities = self.builder.build()
        return _Piece(text, entities)


def _link_target(target: str, base: str | None) -> str | None:
    try:
        url = urljoin(base, target.strip()) if base else target.strip()
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    # "http:foo" (a broken href) has the scheme but no host: no link Telegram would open.
    if scheme in ("http", "https") and parts.netloc and url.lower().startswith(f"{scheme}://"):
        return f"{scheme}{url[len(scheme) :]}"  # the scheme in lower case, as Telegram's own
    return url if scheme == "tg" else None


def _inline(
    el: _El, base: str | None, verbatim: bool = False, skip: frozenset[str] = frozenset()
) -> _Piece:
    """The inline content of one trafilatura block element, leaving out ``skip`` elements."""
    out = _Inline()
    stack: list[tuple[_El, bool, bool]] = []
    out.text(el.text or "", verbatim)
    stack.extend((child, False, False) for child in reversed(el))
    code_depth = 0
    while stack:
        node, closing, opened = stack.pop()
        tag = node.tag if isinstance(node.tag, str) else ""
        if closing:
            if opened:
                out.close()
            if tag == "code":
                code_depth -= 1
            if tag in _NESTED_BLOCKS:
                out.end_line()
            out.text(node.tail or "", verbatim)
            continue
        entity: str | None = None
        attrs: dict[str, object] = {}
        if not tag or tag in ("graphic", "note") or tag in skip:
            out.text(node.tail or "", verbatim)
            continue
        if tag == "lb":
            out.newline()
            out.text(node.tail or "", verbatim)
            continue
        if tag in _NESTED_BLOCKS:
            out.end_line()
        if tag == "hi":
            entity = _HI.get(str(node.get("rend") or ""))
        elif tag == "del":
            entity = "strikethrough"
        elif tag == "code":
            entity = "code" if not verbatim and not code_depth else None
            code_depth += 1
        elif tag == "ref":
            url = _link_target(str(node.get("target") or ""), base)
            if url:
                entity, attrs = "text_link", {"url": url}
        if entity:
            out.open(entity, **attrs)
        stack.append((node, True, entity is not None))
        out.text(node.text or "", verbatim or code_depth > 0)
        stack.extend((child, False, False) for child in reversed(node))
    return out.piece()


def _list(el: _El, base: str | None, depth: int = 0) -> _Piece:
    ordered = str(el.get("rend") or "").lower() == "ol"
    lines: list[_Piece] = []
    number = 0
    for item in el:
        if item.tag != "item":
            continue
        number += 1
        marker = f"{number}. " if ordered else "• "
        body = _inline(item, base, skip=frozenset({"list"}))
        if body.text:
            lines.append(_prefixed("  " * depth + marker, body))
        lines.extend(_list(child, base, depth + 1) for child in item if child.tag == "list")
    return _join(lines, "\n")


def _table(el: _El, base: str | None) -> _Piece:
    rows: list[_Piece] = []
    for row in el.iter("row"):
        # A row is one line: the lines of a cell are joined by spaces (same length, so the
        # entities stay where they are).
        cells = [
            _Piece(piece.text.replace("\n", " "), piece.entities)
            for piece in (_inline(cell, base) for cell in row if cell.tag == "cell")
        ]
        joined = _join([cell for cell in cells if cell.text], " | ")
        if joined.text:
            rows.append(joined)
    return _join(rows, "\n")


def _blocks(container: _El, base: str | None) -> list[_Piece]:
    """The blocks (paragraphs, headings, lists, quotes, code, tables) under ``container``."""
    pieces: list[_Piece] = []
    loose = (container.text or "").strip()
    if loose:
        pieces.append(_Piece(_SPACE_RUN.sub(" ", loose)))
    for child in container:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in ("p", "item", "cell"):
            pieces.append(_inline(child, base))
        elif tag == "head":
            pieces.append(_wrapped(_inline(child, base), "bold"))
        elif tag == "list":
            pieces.append(_list(child, base))
        elif tag == "quote":
            structured = len(child) > 0 and all(c.tag in _QUOTE_BLOCKS for c in child)
            inner = _blocks(child, base) if structured else [_inline(child, base)]
            pieces.append(_wrapped(_join(inner, "\n"), "blockquote"))
        elif tag == "code":
            code = _inline(child, base, verbatim=True)
            pieces.append(_wrapped(_Piece(code.text, []), "pre"))
        elif tag == "table":
            pieces.append(_table(child, base))
        elif tag in ("div", "main", "section"):
            pieces.extend(_blocks(child, base))
        elif tag and tag not in ("graphic", "lb"):
            pieces.append(_inline(child, base))
        tail = (child.tail or "").strip()
        if tail:
            pieces.append(_Piece(_SPACE_RUN.sub(" ", tail)))
    return [piece for piece in pieces if piece.text]


# --- HTML pages -------------------------------------------------------------------------------


def _meta(doc: _El) -> dict[str, str]:
    """``<meta>`` values by lower-cased property/name/itemprop; the first one wins."""
    values: dict[str, str] = {}
    for meta in doc.iter("meta"):
        content = str(meta.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = str(meta.get(attr) or "").strip().lower()
            if key:
                values.setdefault(key, content)
    return values


def _json_ld_values(doc: _El, key: str) -> list[str]:
    found: list[str] = []
    for script in doc.iter("script"):
        if "ld+json" not in str(script.get("type") or "").lower():
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        stack: list[Any] = [data]
        while stack and len(found) < 5:
            value = stack.pop()
            if isinstance(value, dict):
                if isinstance(value.get(key), str):
                    found.append(value[key])
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
    return found


def _when(raw: str | None, zone: tzinfo) -> tuple[datetime | None, bool]:
    """An ISO 8601 date and time in UTC, and whether it was written without a zone.

    None for a date without a time (a time of day would be invented) or an unreadable value.
    """
    if not raw or len(raw.strip()) <= 10:
        return None, False
    try:
        value = datetime.fromisoformat(raw.strip())
        naive = value.tzinfo is None
        if naive:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC), naive
    except (ValueError, OverflowError):
        logger.debug("unreadable article date %r", raw)
        return None, False


def _dates(
    doc: _El, meta: dict[str, str], zone: tzinfo
) -> tuple[datetime | None, datetime | None, bool]:
    """Publication and modification time from the page's metadata, and whether either was
    read in ``zone`` for want of one of its own."""
    naive = False

    def first(candidates: list[str | None]) -> datetime | None:
        nonlocal naive
        for raw in candidates:
            value, without_zone = _when(raw, zone)
            if value is not None:
                naive = naive or without_zone
                return value
        return None

    published = first([meta.get(key) for key in _DATE_KEYS]) or first(
        list(_json_ld_values(doc, "datePublished"))
    )
    modified = first([meta.get(key) for key in _MODIFIED_KEYS]) if published else None
    return published, modified, naive


def _clean_title(text: str | None) -> str | None:
    if not text:
        return None
    return _SPACE_RUN.sub(" ", text).strip() or None


def _strip_site(title: str, site: str | None, guess: bool) -> str:
    """``Headline | Site`` -> ``Headline``.

    With the site's name known, that name is cut from either end. Otherwise, when ``guess``,
    a short last part after a separator is taken for the site's name (titles of pages are
    written "headline - site" far more often than the other way round).
    """
    matches = list(_TITLE_SEPARATOR.finditer(title))
    if not matches:
        return title
    first, last = matches[0], matches[-1]
    if site:
        if title[last.end() :].strip().casefold() == site.casefold():
            return title[: last.start()].strip()
        if title[: first.start()].strip().casefold() == site.casefold():
            return title[first.end() :].strip()
    if guess:
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if head and len(tail) < len(head) and len(tail) <= 40:
            return head
    return title


def _headline(doc: _El, meta: dict[str, str]) -> str | None:
    site = _clean_title(meta.get("og:site_name") or meta.get("application-name"))
    for key in ("og:title", "twitter:title"):
        value = _clean_title(meta.get(key))
        if value:
            return _strip_site(value, site, guess=False)
    scopes = [*doc.iter("article"), *doc.iter("main")]
    for scope in scopes:
        for h1 in scope.iter("h1"):
            value = _clean_title(element_line(h1))
            if value:
                return value
    headings = [_clean_title(element_line(h1)) for h1 in doc.iter("h1")]
    headings = [value for value in headings if value]
    if len(headings) == 1:
        return headings[0]
    title = next(iter(doc.iter("title")), None)
    value = _clean_title(element_line(title) if title is not None else None)
    if value:
        return _strip_site(value, site, guess=True)
    return None


def _base_url(doc: _El, meta: dict[str, str], url: str | None) -> str | None:
    if url:
        return url
    for base in doc.iter("base"):
        href = str(base.get("href") or "").strip()
        if href.startswith(("http://", "https://")):
            return href
    for link in doc.iter("link"):
        if "canonical" in str(link.get("rel") or "").lower():
            href = str(link.get("href") or "").strip()
            if href.startswith(("http://", "https://")):
                return href
    og_url = meta.get("og:url", "")
    return og_url if og_url.startswith(("http://", "https://")) else None


# Control characters lxml's HTML parser lets into text but refuses to have set back.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(text: str | None) -> str | None:
    return _NOT_XML.sub("", text) if text else text


def _paragraphs_from_breaks(doc: _El) -> None:
    """Turn text split by ``<br><br>`` (old and forum pages) into ``<p>`` paragraphs.

    Trafilatura keeps a run of line breaks as a single one; the blank line between
    paragraphs would otherwise be lost. A ``<p>`` split so becomes several paragraphs.
    """
    for parent in list(doc.iter(*_BREAK_PARENTS, "p")):
        children = list(parent)
        if any(isinstance(c.tag, str) and c.tag in _BLOCKISH for c in children):
            continue
        groups: list[tuple[str, list[_El]]] = []
        text: str = parent.text or ""
        nodes: list[_El] = []
        index = 0
        while index < len(children):
            child = children[index]
            end = index
            while (
                end + 1 < len(children)
                and children[end].tag == "br"
                and children[end + 1].tag == "br"
                and not (children[end].tail or "").strip()
            ):
                end += 1
            if end > index:
                groups.append((text, nodes))
                text, nodes = children[end].tail or "", []
                index = end + 1
                continue
            nodes.append(child)
            index += 1
        groups.append((text, nodes))
        if len(groups) < 2:
            continue
        if parent.tag == "p":
            _split_paragraph(parent, groups)
            continue
        for child in children:
            tail = child.tail
            parent.remove(child)
            child.tail = _xml_safe(tail)
        parent.text = None
        for group_text, group_nodes in groups:
            paragraph = etree.SubElement(parent, "p")
            paragraph.text = _xml_safe(group_text)
            for node in group_nodes:
                paragraph.append(node)


def _split_paragraph(paragraph: _El, groups: list[tuple[str, list[_El]]]) -> None:
    """Put one paragraph per group where ``paragraph`` was (a ``<p>`` holds no ``<p>``)."""
    container = paragraph.getparent()
    if container is None:
        return
    at = container.index(paragraph)
    tail = paragraph.tail
    container.remove(paragraph)
    for offset, (group_text, group_nodes) in enumerate(groups):
        part = etree.Element("p", dict(paragraph.attrib))
        part.text = _xml_safe(group_text)
        for node in group_nodes:
            node_tail = node.tail
            part.append(node)
            node.tail = _xml_safe(node_tail)
        container.insert(at + offset, part)
    container[at + len(groups) - 1].tail = _xml_safe(tail)


def _not_article(origin: str, why: str) -> ParseError:
    return ParseError(origin, None, f"not an article: {why}")


def parse_article_html(
    html: str, origin: str, url: str | None = None, timezone: str = "UTC"
) -> ParsedPost:
    """The article in one HTML page held in memory, as a draft post.

    ``origin`` names the page in errors (path or URL); ``url`` is the page's address, used to
    make relative links absolute (else the page's canonical URL is used, if it has one).
    ``timezone`` is where a publication time written without a zone is read.
    """
    return _article_from_html(html, origin, url, timezone)[0]


def _article_from_html(
    html: str, origin: str, url: str | None, timezone: str
) -> tuple[ParsedPost, bool]:
    """The draft post, and whether its dates were read in ``timezone`` for want of a zone."""
    if is_telegram_export(html[:65536]):
        raise _not_article(origin, "this is a Telegram export or web preview page")
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8")
        doc = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(origin, None, f"not readable as HTML: {exc}") from None
    zone = _zone(timezone, origin)
    meta = _meta(doc)
    title = _headline(doc, meta)
    base = _base_url(doc, meta, url)
    published, modified, naive = _dates(doc, meta, zone)
    author = next(
        (meta[key] for key in _AUTHOR_KEYS if meta.get(key) and "://" not in meta[key]), None
    )
    has_password = any(
        str(field.get("type") or "").lower() == "password" for field in doc.iter("input")
    )
    _paragraphs_from_breaks(doc)
    # Imported here: loading it takes a good part of a second and sniffing never needs it.
    import trafilatura

    try:
        xml = trafilatura.extract(
            doc,
            url=base,
            output_format="xml",
            include_formatting=True,
            include_links=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            with_metadata=True,
            deduplicate=False,
        )
    except MemoryError:
        raise
    except Exception as exc:
        # Trafilatura is third-party code run on arbitrary pages; whatever it trips over is
        # reported as this file's problem rather than crashing the import.
        logger.debug("trafilatura failed on %s", origin, exc_info=True)
        raise _not_article(origin, f"no main text could be extracted ({exc})") from None
    body = _Piece("")
    if xml:
        try:
            tree = etree.fromstring(xml.encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            raise _not_article(origin, f"unreadable extraction result ({exc})") from None
        author = author or _clean_title(tree.get("author"))
        title = title or _clean_title(tree.get("title"))
        main = tree.find("main")
        blocks = _blocks(main, base) if main is not None else []
        if blocks and title and " ".join(blocks[0].text.split()).casefold() == title.casefold():
            blocks = blocks[1:]
        body = _join(blocks, "\n\n")
    if len(body.text) < MIN_TEXT:
        if has_password:
            why = "the page is a login form"
        elif not body.text:
            why = "the page has no readable main text"
        else:
            why = f"its main text is only {len(body.text)} characters"
        raise _not_article(origin, why)
    edited = modified if published and modified and modified > published else None
    post = ParsedPost(
        message_id=None,
        text=body.text,
        entities=sorted(body.entities, key=lambda e: (e.offset, -e.length)),
        date=published,
        edited=edited,
        author=author,
        title=title,
    )
    return post, naive


# --- plain text -------------------------------------------------------------------------------


def _unwrap(lines: list[str]) -> list[str]:
    """Join a paragraph's lines when they were wrapped at a fixed width."""
    if len(lines) < 2 or any(_LIST_ITEM.match(line) or _MD_HEADING.match(line) for line in lines):
        return lines
    width = max(len(line) for line in lines)
    if width > 120 or width < 40:
        return lines
    if all(len(line) >= 0.6 * width for line in lines[:-1]):
        return [" ".join(line.strip() for line in lines)]
    return lines


def _text_blocks(lines: list[str], page: page_copy.Page) -> list[tuple[bool, list[str]]]:
    """The body's lines in blocks, as the text separated them by blank lines; runs of code
    are blocks of their own, blank lines inside kept, indentation kept."""
    blocks: list[tuple[bool, list[str]]] = []
    previous: int | None = None
    for index in page.body:
        code = index in page.code
        gap = previous is not None and any(not lines[i].strip() for i in range(previous + 1, index))
        previous = index
        if blocks and blocks[-1][0] == code and (code or not gap):
            if gap:
                blocks[-1][1].append("")
            blocks[-1][1].append(lines[index].rstrip())
        else:
            blocks.append((code, [lines[index].rstrip()]))
    return blocks


def _code_piece(block: list[str]) -> _Piece:
    indents = [len(line) - len(line.lstrip()) for line in block if line.strip()]
    cut = min(indents, default=0)
    text = "\n".join(line[cut:] for line in block).strip("\n")
    return _wrapped(_Piece(text), "pre")


def parse_article_text(text: str, origin: str) -> ParsedPost:
    """A plain-text article: headline on the first line, then paragraphs. A web page copied as
    text is read the same way once the site's chrome is left out (see
    :mod:`pipeline.ingest.page_copy`)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    page = page_copy.read_page(lines)
    if page is None:
        raise _not_article(origin, "the file has no text")
    title: str | None = None
    if page.title is not None:
        heading = _MD_HEADING.match(lines[page.title])
        title = (heading.group(1) if heading else lines[page.title]).strip()
    paragraphs: list[tuple[bool, list[str]]] = []
    for code, block in _text_blocks(lines, page):
        if code:
            paragraphs.append((True, block))
            continue
        current: list[str] = []
        for line in block:
            if _UNDERLINE.match(line):
                # A setext underline makes the line above it a heading; alone it is a rule.
                if current:
                    heading_line = current.pop()
                    if current:
                        paragraphs.append((False, current))
                    paragraphs.append((False, ["# " + heading_line]))
                    current = []
                continue
            current.append(line)
        if current:
            paragraphs.append((False, current))
    pieces: list[_Piece] = []
    for code, paragraph in paragraphs:
        if code:
            pieces.append(_code_piece(paragraph))
            continue
        rendered: list[_Piece] = []
        # Lines of a copied page are the page's own blocks, never a paragraph wrapped at a width.
        for line in _unwrap(paragraph) if not page.dropped else paragraph:
            heading = _MD_HEADING.match(line)
            item = _LIST_ITEM.match(line)
            if heading:
                rendered.append(_wrapped(_Piece(heading.group(1).strip()), "bold"))
            elif item:
                marker = f"{item.group(1)}. " if item.group(1) else "• "
                rendered.append(_Piece(marker + item.group(2).strip()))
            elif "\t" in line.strip():
                rendered.append(
                    _Piece(" | ".join(cell.strip() for cell in line.strip().split("\t")))
                )
            else:
                rendered.append(_Piece(line.strip()))
        pieces.append(_join(rendered, "\n"))
    body = _stripped(_join(pieces, "\n\n"))
    if len(body.text) < MIN_TEXT:
        raise _not_article(origin, f"the text is only {len(body.text)} characters")
    entities = sorted(body.entities, key=lambda e: (e.offset, -e.length))
    return ParsedPost(message_id=None, text=body.text, entities=entities, title=title)


def _stripped(piece: _Piece) -> _Piece:
    """The piece without surrounding whitespace (code may start indented), entities cut to it."""
    text = piece.text.strip()
    lead = utf16_len(piece.text[: len(piece.text) - len(piece.text.lstrip())])
    limit = utf16_len(text)
    entities: list[Entity] = []
    for entity in piece.entities:
        start = max(entity.offset - lead, 0)
        end = min(entity.offset + entity.length - lead, limit)
        if end > start:
            entities.append(
                Entity(entity.type, start, end - start, entity.url, entity.language,
                       entity.custom_emoji_id, entity.user_id)
            )  # fmt: skip
    return _Piece(text, entities)


# --- the parser -------------------------------------------------------------------------------


def _zone(name: str, origin: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError(origin, None, f"unknown time zone {name!r}") from None


def parse(path: Path, options: ParseOptions) -> Iterator[Event]:
    origin = str(path)
    text = read_text(path)
    if text.lstrip()[:1] in ("{", "["):
        raise _not_article(origin, "this is JSON data (a Desktop JSON export?)")
    if looks_like_html(text[:65536]):
        post, naive = _article_from_html(text, origin, None, options.timezone)
        if naive:
            yield Note(f"the publication time has no time zone; read as {options.timezone}")
    else:
        post = parse_article_text(text, origin)
    logger.info("%s: article %r, %d characters", origin, post.title, len(post.text))
    yield post
