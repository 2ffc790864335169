"""Markup becoming text: the shared element_text / element_line, and every place a parser of
HTML (Desktop export, saved web preview, article) turns markup into a post's text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html  # type: ignore[import-untyped, unused-ignore]
import pytest

from pipeline.ingest.formats import detect_format, parser_for
from pipeline.ingest.importer import import_paths
from pipeline.ingest.model import ChannelInfo, Event, ParsedPost, ParseOptions
from pipeline.ingest.textutil import element_line, element_text
from pipeline.posts import list_posts
from pipeline.store.db import SessionFactory, unit_of_work
from tests.pipeline.dedup.exports import desktop_html_page as page
from tests.pipeline.ingest.test_desktop_html import message, text_block


@pytest.mark.parametrize(
    ("markup", "text", "line"),
    [
        ("<div>\n  What is<br><br>join us\n </div>", "What is\n\njoin us", "What is join us"),
        ("<div>a<br/>b<br>\n<br>c</div>", "a\nb\n\nc", "a b c"),
        ("<div><div>a</div>\n  <div>b</div></div>", "a\nb", "a b"),
        ("<div><p>a</p><p>b</p>c</div>", "a\nb\nc", "a b c"),
        ("<div>x <b>bold</b>\n  y</div>", "x bold y", "x bold y"),
        ("<div>a<pre>  one\n  two</pre>b</div>", "a\n  one\n  two\nb", "a one two b"),
        ("<div>a<!-- note -->b<script>var x</script><style>p {}</style> c</div>", "ab c", "ab c"),
        ("<div>  \n </div>", "", ""),
    ],
)
def test_element_text(markup: str, text: str, line: str) -> None:
    element = lxml.html.fragment_fromstring(markup)
    assert (element_text(element), element_line(element)) == (text, line)


def test_element_text_skips_what_it_is_told_to() -> None:
    answer = lxml.html.fragment_fromstring(
        '<div class="answer">- Tea<br>with milk <span class="details">3 votes</span></div>'
    )
    assert element_text(answer, skip=lambda el: el.get("class") == "details") == (
        "- Tea\nwith milk"
    )


# --- every place, in every parser of HTML ---------------------------------------------------


def desktop(inner: str) -> str:
    """A Desktop HTML export page of one message (id 7) with ``inner`` in its body."""
    return page(message(7, inner, sender="Chat"))


def desktop_media(block: str) -> str:
    return desktop(f'<div class="media_wrap clearfix">{block}</div>')


def desktop_generic(kind: str, title: str, description: str = "", status: str = "") -> str:
    parts = [f'<div class="title bold">{title}</div>']
    if description:
        parts.append(f'<div class="description">{description}</div>')
    if status:
        parts.append(f'<div class="status details">{status}</div>')
    body = "".join(parts)
    return desktop_media(
        f'<div class="media clearfix pull_left media_{kind}"><div class="fill pull_left"></div>'
        f'<div class="body">{body}</div></div>'
    )


DESKTOP_POLL = desktop_media(
    '<div class="media_poll">\n<div class="question bold">\nOur plan is<br><br>join us\n</div>'
    '\n<div class="details">\nAnonymous poll\n</div>'
    '\n<div class="answer">\n- Yes,<br>gladly <span class="details">3 votes</span>\n</div>'
    '\n<div class="answer">\n- No <span class="details">1 vote, chosen vote</span>\n</div>'
    '\n<div class="total details">\n4 votes\n</div>\n</div>'
)


def web(message_html: str, header: str = "") -> str:
    """A saved t.me/s page of one post (chan/7)."""
    return (
        "<!DOCTYPE html><html><head><title>Chan – Telegram</title></head><body>"
        f'{header}<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        '<div class="tgme_widget_message js-widget_message" data-post="chan/7">'
        f'<div class="tgme_widget_message_bubble">{message_html}'
        '<div class="tgme_widget_message_footer"><div class="tgme_widget_message_info">'
        '<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" '
        'href="https://t.me/chan/7"><time datetime="2024-05-01T09:15:00+00:00" class="time">'
        "09:15</time></a></span></div></div></div></div></div></body></html>"
    )


WEB_TEXT = '<div class="tgme_widget_message_text js-message_text" dir="auto">Hi there</div>'
WEB_POLL = web(
    '<div class="tgme_widget_message_poll js-poll"><div class="tgme_widget_message_poll_question">'
    'Our plan is<br/><br/>join us</div><div class="tgme_widget_message_poll_type">Anonymous poll'
    '</div><a class="tgme_widget_message_poll_options" href="https://t.me/chan/7">'
    '<div class="tgme_widget_message_poll_option">'
    '<div class="tgme_widget_message_poll_option_percent">75%</div>'
    '<div class="tgme_widget_message_poll_option_value">'
    '<div class="tgme_widget_message_poll_option_text">Yes,<br/>gladly</div></div></div></a></div>'
)
WEB_PREVIEW = web(
    WEB_TEXT + '<a class="tgme_widget_message_link_preview" href="https://example.org/a">'
    '<div class="link_preview_site_name accent_color">Example</div>'
    '<div class="link_preview_title">Title<br/>continued</div>'
    '<div class="link_preview_description">First line<br/><br/>second paragraph</div></a>'
)
WEB_HEADER = (
    '<div class="tgme_channel_info"><div class="tgme_channel_info_header">'
    '<div class="tgme_channel_info_header_title"><span dir="auto">Chan</span></div>'
    '<div class="tgme_channel_info_header_username"><a href="https://t.me/chan">@chan</a></div>'
    '</div><div class="tgme_channel_info_description">About us<br/><br/>Write to @me</div></div>'
)

FILLER = " ".join(["This paragraph is here so that the page reads as an article of some size."] * 5)


def article(body: str, title: str = "Headline") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        '<nav><a href="/">Home</a> <a href="/about">About</a></nav>'
        f"<article><h1>{title}</h1><p>{FILLER}</p>{body}<p>{FILLER}</p></article>"
        "<footer>© Example</footer></body></html>"
    )


def after_filler(post: ParsedPost) -> str:
    """What the article says between its two filler paragraphs."""
    return post.text.split(FILLER)[1].strip()


def first_media(key: str) -> Callable[[ParsedPost], object]:
    return lambda post: post.media[0].extra[key]


def channel_description(events: list[Event]) -> str | None:
    (info,) = [e for e in events if isinstance(e, ChannelInfo) and e.description]
    return info.description


PLACES: list[Any] = [
    # Telegram Desktop HTML export
    pytest.param(desktop(text_block("Our plan is<br><br>join us")), lambda p: p.text,
                 "Our plan is\n\njoin us", id="desktop-text"),
    pytest.param(desktop(
        '<div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" '
        'href="photos/1.jpg"><img class="photo" src="photos/1_thumb.jpg"/></a></div>'
        + text_block("A caption<br>on two lines")), lambda p: p.text,
        "A caption\non two lines", id="desktop-caption"),
    pytest.param(desktop(
        '<div class="forwarded body"><div class="from_name">\nOther<br>Channel '
        '<span class="date details" title="01.05.2024 08:00:00 UTC+03:00"> 01.05.2024</span>'
        f"\n</div>{text_block('Forwarded<br>text')}</div>"),
        lambda p: (p.forwarded_from, p.text), ("Other Channel", "Forwarded\ntext"),
        id="desktop-forwarded"),
    pytest.param(DESKTOP_POLL, first_media("question"), "Our plan is\n\njoin us",
                 id="desktop-poll-question"),
    pytest.param(DESKTOP_POLL, lambda p: [a["text"] for a in p.media[0].extra["answers"]],
                 ["Yes,\ngladly", "No"], id="desktop-poll-answers"),
    pytest.param(desktop_generic("contact", "Ann<br>Lee", status="+1 555 0100"),
                 lambda p: (p.media[0].extra["name"], p.media[0].extra["phone"]),
                 ("Ann Lee", "+1 555 0100"), id="desktop-contact"),
    pytest.param(desktop_generic("venue", "Red<br>Square", "Moscow,<br>Russia"),
                 lambda p: (p.media[0].extra["title"], p.media[0].extra["address"]),
                 ("Red Square", "Moscow,\nRussia"), id="desktop-venue"),
    pytest.param(desktop_generic("location", "Location", status="55.7539,<br>37.6208"),
                 lambda p: (p.media[0].extra["latitude"], p.media[0].extra["longitude"]),
                 (55.7539, 37.6208), id="desktop-location"),
    pytest.param(desktop_generic("game", "Snake", "Eat apples.<br><br>Grow long."),
                 first_media("description"), "Eat apples.\n\nGrow long.", id="desktop-game"),
    pytest.param(desktop_generic("invoice", "Ticket", "Row 5<br>Seat 12", "10 USD"),
                 first_media("description"), "Row 5\nSeat 12", id="desktop-invoice"),
    pytest.param(desktop_generic("file", "report.pdf", "Not included,<br>change settings"),
                 first_media("note"), "Not included,\nchange settings", id="desktop-media-note"),
    pytest.param(desktop_media(
        '<div class="media_giveaway"><div class="title">Giveaway</div>'
        '<div class="description">3 winners<br>on Friday</div></div>'),
        first_media("text"), "Giveaway\n3 winners\non Friday", id="desktop-giveaway"),
    pytest.param(desktop(text_block("x") + '<div class="signature details">Ann<br>Lee</div>'),
                 lambda p: p.author, "Ann Lee", id="desktop-signature"),
    # A saved t.me/s page
    pytest.param(web('<div class="tgme_widget_message_text js-message_text">Our plan is<br/><br/>'
                     "join us</div>"), lambda p: p.text, "Our plan is\n\njoin us", id="web-text"),
    pytest.param(WEB_POLL, first_media("question"), "Our plan is\n\njoin us",
                 id="web-poll-question"),
    pytest.param(WEB_POLL, lambda p: [o["text"] for o in p.media[0].extra["options"]],
                 ["Yes,\ngladly"], id="web-poll-options"),
    pytest.param(WEB_PREVIEW, lambda p: (p.link_preview.title, p.link_preview.description),
                 ("Title continued", "First line\n\nsecond paragraph"), id="web-link-preview"),
    pytest.param(web('<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from'
                     '&nbsp;<span class="tgme_widget_message_forwarded_from_name">Ann<br/>Lee'
                     "</span></div>" + WEB_TEXT), lambda p: p.forwarded_from, "Ann Lee",
                 id="web-forwarded-from"),
    pytest.param(web(WEB_TEXT + '<span class="tgme_widget_message_from_author">Ann<br/>Lee</span>'),
                 lambda p: p.author, "Ann Lee", id="web-signature"),
    pytest.param(web(WEB_TEXT, header=WEB_HEADER), channel_description,
                 "About us\n\nWrite to @me", id="web-channel-description"),
    # An article saved from the web
    pytest.param(article("", title="Two-line<br>headline"), lambda p: p.title,
                 "Two-line headline", id="article-headline"),
    pytest.param(article("<p>One line<br>and the next</p>"), after_filler,
                 "One line\nand the next", id="article-line-break"),
    pytest.param(article("<p>One paragraph<br><br>and another</p>"), after_filler,
                 "One paragraph\n\nand another", id="article-paragraph-break"),
    pytest.param(article("<ul><li>first<br>item</li><li>second</li></ul>"),
                 after_filler, "• first\nitem\n• second", id="article-list"),
    pytest.param(article("<blockquote>quoted<br>twice</blockquote>"), after_filler,
                 "quoted\ntwice", id="article-quote"),
    pytest.param(article("<table><tr><td>cell<br>two</td><td>b</td></tr></table>"),
                 after_filler, "cell two | b", id="article-table-cell"),
]  # fmt: skip


@pytest.mark.parametrize(("markup", "get", "expected"), PLACES)
def test_line_breaks_survive_every_place(
    tmp_path: Path, markup: str, get: Any, expected: object
) -> None:
    path = tmp_path / ("messages.html" if "page_wrap" in markup else "page.html")
    path.write_text(markup, encoding="utf-8")
    events: list[Event] = list(parser_for(detect_format(path)).parse(path, ParseOptions()))
    if get is channel_description:
        assert get(events) == expected
        return
    (post,) = [e for e in events if isinstance(e, ParsedPost)]
    assert get(post) == expected


async def test_a_poll_keeps_its_line_breaks_in_the_store(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    path = tmp_path / "messages.html"
    path.write_text(DESKTOP_POLL, encoding="utf-8")
    await import_paths(session_factory, [path])
    async with unit_of_work(session_factory) as session:
        (post,) = await list_posts(session)
    (poll,) = post.media
    assert poll["extra"]["question"] == "Our plan is\n\njoin us"
    assert [answer["text"] for answer in poll["extra"]["answers"]] == ["Yes,\ngladly", "No"]
