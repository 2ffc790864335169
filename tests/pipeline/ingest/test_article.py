"""The long-form article parser (format ``article``): one draft post per page or text file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.ingest import article
from pipeline.ingest.model import Event, Note, ParsedPost, ParseOptions
from pipeline.ingest.textutil import utf16_len, utf16_slice
from tests.pipeline.ingest.mutations import mutated

T = TypeVar("T")

FIXTURES = Path(__file__).parent / "fixtures" / "article"
WEB_FIXTURES = Path(__file__).parent / "fixtures" / "web_html"


def parse_one(path: Path, **options: str) -> ParsedPost:
    events = list(article.parse(path, ParseOptions(**options)))
    assert len(events) == 1
    post = events[0]
    assert isinstance(post, ParsedPost)
    return post


def spans(post: ParsedPost) -> list[tuple[str, str]]:
    return [(e.type, utf16_slice(post.text, e.offset, e.length)) for e in post.entities]


def check_well_formed(events: list[Event]) -> None:
    assert len(events) == 1
    post = events[0]
    assert isinstance(post, ParsedPost)
    assert post.message_id is None
    assert post.text == post.text.strip()
    assert len(post.text) >= article.MIN_TEXT
    size = utf16_len(post.text)
    for entity in post.entities:
        assert entity.length > 0
        assert entity.offset >= 0
        assert entity.offset + entity.length <= size
        if entity.type == "text_link":
            assert (entity.url or "").startswith(("http://", "https://", "tg:"))
    assert post.entities == sorted(post.entities, key=lambda e: (e.offset, -e.length))
    for stamp in (post.date, post.edited):
        if stamp is not None:
            offset = stamp.utcoffset()
            assert offset is not None
            assert offset.total_seconds() == 0
    assert post.title is None or post.title == post.title.strip()


# --- a news page with everything around the article ------------------------------------------


@pytest.fixture(scope="module")
def news() -> ParsedPost:
    return parse_one(FIXTURES / "news_page.html")


def test_news_page_headline_date_author(news: ParsedPost) -> None:
    assert news.title == "Нейросеть научили читать старые рукописи"
    # article:published_time 09:30+03:00, modified 12:05+03:00.
    assert news.date == datetime(2024, 3, 14, 6, 30, tzinfo=UTC)
    assert news.edited == datetime(2024, 3, 14, 9, 5, tzinfo=UTC)
    assert news.author == "Анна Смирнова"
    assert news.message_id is None
    assert news.media == []
    assert news.reactions == []


def test_news_page_body_is_the_article_only(news: ParsedPost) -> None:
    paragraphs = news.text.split("\n\n")
    assert paragraphs[0].startswith("Исследователи из Казанского университета")
    assert paragraphs[2] == "Как устроена модель"
    assert paragraphs[4] == (
        "• точность на чистовых документах — 96%;\n"
        "• на черновиках и повреждённых страницах — около 85%;\n"
        "• скорость — примерно 300 страниц в час на одной видеокарте."
    )
    assert paragraphs[-1].endswith("помочь с расшифровкой на сайте проекта.")
    assert len(paragraphs) == 9
    for noise in (
        "cookie",  # cookie banner
        "Новости",  # navigation menu
        "Курсы программирования",  # inline ad
        "Реклама",  # ad labels
        "ВКонтакте",  # share buttons
        "Читайте также",  # related list
        "Языковые модели помогут",  # related item
        "Самое популярное",  # sidebar
        "Подпишитесь на рассылку",  # newsletter box
        "Отличная новость",  # comment
        "Все права защищены",  # footer
        "Страница приходской книги",  # figure caption
        "Нейросеть научили",  # the headline is the title, not the body
    ):
        assert noise not in news.text


def test_news_page_entities(news: ParsedPost) -> None:
    assert spans(news) == [
        (
            "bold",
            "Исследователи из Казанского университета обучили нейросеть распознавать почерк "
            "XVIII века.",
        ),
        ("italic", "сорока тысяч строк"),
        ("text_link", "Национального архива"),
        ("bold", "Как устроена модель"),
        ("bold", "96%"),
        (
            "blockquote",
            "Мы не пытались заменить архивиста. Мы хотели, чтобы он тратил время на спорные "
            "места, а не на переписывание очевидного.",
        ),
        ("bold", "Что дальше"),
        ("text_link", "GitHub"),
    ]
    links = [e.url for e in news.entities if e.type == "text_link"]
    assert links == ["https://archive.example/fonds/12", "https://github.com/example/manuscripts"]


# --- a blog post inside <article> ------------------------------------------------------------


@pytest.fixture(scope="module")
def blog() -> ParsedPost:
    return parse_one(FIXTURES / "blog_post.html")


def test_blog_post(blog: ParsedPost) -> None:
    assert blog.title == "Why our cron jobs ran twice"
    assert blog.date == datetime(2023, 11, 5, 18, 40, tzinfo=UTC)
    assert blog.edited is None
    assert blog.author == "Dana Reyes"
    assert blog.text.startswith("For three weeks in October, every nightly report landed")
    assert "The crontab is baked into the image and has a single line:" in blog.text
    assert "1. We blamed the mail provider and opened a ticket with them.\n2. We added" in blog.text
    for noise in ("Thanks for reading", "Share on X", "Related posts", "Previous:", "Archive", "©"):
        assert noise not in blog.text


def test_blog_post_entities(blog: ParsedPost) -> None:
    assert spans(blog) == [
        ("italic", "twice"),
        ("bold", "The setup"),
        ("code", "cron"),
        ("pre", "0 2 * * * /app/bin/nightly --report --export"),
        ("text_link", "separate streams"),
        ("bold", "What we tried first"),
        ("code", "/tmp"),
        ("bold", "both"),
        ("bold", "The fix"),
        ("strikethrough", "a week of work"),
        ("underline", "anything that must happen once must have one owner"),
    ]
    # The code block keeps its own line, set apart like a paragraph.
    assert "single line:\n\n0 2 * * * /app/bin/nightly --report --export\n\nUntil" in blog.text


# --- an old page without <article>: found by text density -------------------------------------


def test_page_without_article_element(tmp_path: Path) -> None:
    post = parse_one(FIXTURES / "forum_density.html")
    assert post.title == "Как мы перевезли библиотеку на новый сервер"
    assert post.date is None  # only a date without a time on the page
    paragraphs = post.text.split("\n\n")
    assert len(paragraphs) == 5
    assert paragraphs[0].startswith("Когда старому серверу районной библиотеки")
    assert paragraphs[-1].startswith("Итог: переезд занял три недели")
    for noise in ("Администрирование", "Zsh за пять минут", "Хостинг", "Опрос", "Debian",
                  "Классика", "Оценка", "Перепечатка"):  # fmt: skip
        assert noise not in post.text
    # No base address on the page: a relative link cannot become a usable text_link.
    assert spans(post) == [("bold", "Каталог")]


def test_relative_links_resolve_against_the_page_url() -> None:
    html = (FIXTURES / "forum_density.html").read_text(encoding="utf-8")
    post = article.parse_article_html(
        html,
        "https://linux-club.example/articles/1022.html",
        url="https://linux-club.example/articles/1022.html",
    )
    [link] = [e for e in post.entities if e.type == "text_link"]
    assert utf16_slice(post.text, link.offset, link.length) == "отдельной статье про перекодировку"
    assert link.url == "https://linux-club.example/articles/987.html"


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("HTTP://Example.org/A", "http://Example.org/A"),  # Telegram's scheme: lower case
        ("tg://resolve?domain=durov", "tg://resolve?domain=durov"),
        ("http:>Автор: <b>petrovich</b>", None),  # a broken href: a scheme and no host
        ("http:/example.org", None),
        ("mailto:team@example.org", None),
        ("javascript:alert(1)", None),
    ],
)
def test_only_links_telegram_can_open_become_text_links(href: str, url: str | None) -> None:
    paragraph = "Подробности о релизе и обо всех изменениях в этой версии — в полном списке. " * 4
    html = (
        "<html><head><title>Релиз</title></head><body><article><h1>Релиз</h1>"
        f'<p><a href="{href}">Список изменений</a>. {paragraph}</p><p>{paragraph}</p>'
        "</article></body></html>"
    )
    post = article.parse_article_html(html, "page.html")
    links = [e.url for e in post.entities if e.type == "text_link"]
    assert links == ([url] if url else [])


# --- plain text -------------------------------------------------------------------------------


def test_plain_text_article() -> None:
    post = parse_one(FIXTURES / "plain_article.txt")
    assert post.title == "Почему мы перестали писать микросервисы для всего"
    assert post.date is None
    assert post.author is None
    paragraphs = post.text.split("\n\n")
    # Lines wrapped at a fixed width are joined back into paragraphs.
    assert paragraphs[0] == (
        "Три года назад мы разрезали монолит на двадцать два сервиса. Решение казалось очевидным: "
        "команды росли, релизы тормозили друг друга, а любая правка в биллинге требовала "
        "согласования с половиной компании. Сегодня сервисов снова девять, и я хочу рассказать, "
        "как мы к этому пришли."
    )
    assert paragraphs[1] == "Что пошло не так"
    assert paragraphs[3] == (
        "Мы посчитали, во что это обходится:\n"
        "• около 30% времени разработчиков уходило на согласование контрактов;\n"
        "• время от коммита до продакшена выросло с часа до полутора дней;\n"
        "• на каждый инцидент приходилось в среднем пять участников вместо двух."
    )
    assert "https://engineering.example.com/2024/merging-services" in post.text
    assert spans(post) == [("bold", "Что пошло не так"), ("bold", "Что мы сделали")]


@pytest.mark.parametrize(
    ("text", "title", "body"),
    [
        ("Title\n=====\n\n" + "Body sentence one. Body two. " * 10, "Title", None),
        ("# Markdown title\n\n" + "Body sentence one. Body two. " * 10, "Markdown title", None),
        (
            "T\n\nIntro paragraph that is long enough. " * 1
            + "x" * 200
            + "\n\nSection\n-------\n\n1) first\n2) second",
            "T",
            "Section\n\n1. first\n2. second",
        ),
        (
            "Short lines\n\nOne.\nTwo.\nThree.\n\n" + "A paragraph of prose. " * 10,
            "Short lines",
            "One.\nTwo.\nThree.",
        ),
        # Lines of dialogue are not a list.
        (
            "Разговор\n\n— Где сервер?\n— В музее.\n\n" + "Абзац обычного текста. " * 10,
            "Разговор",
            "— Где сервер?\n— В музее.",
        ),
    ],
)
def test_plain_text_rules(tmp_path: Path, text: str, title: str, body: str | None) -> None:
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    post = parse_one(path)
    assert post.title == title
    if body is not None:
        assert body in post.text


def test_plain_text_in_cp1251(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    text = (FIXTURES / "plain_article.txt").read_text(encoding="utf-8")
    path.write_bytes(text.encode("cp1251"))
    assert parse_one(path).title == "Почему мы перестали писать микросервисы для всего"


# --- metadata rules ---------------------------------------------------------------------------

BODY = "<p>" + "Long enough article body sentence. " * 10 + "</p>"


def page(head: str, body: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}<article>{BODY}</article></body></html>"


@pytest.mark.parametrize(
    ("html", "title"),
    [
        (page('<meta property="og:title" content="From OG">', "<h1>From H1</h1>"), "From OG"),
        (
            page(
                '<meta property="og:title" content="Story | Daily Site">'
                '<meta property="og:site_name" content="Daily Site">'
            ),
            "Story",
        ),
        (
            page(
                '<meta property="og:title" content="Daily Site — Story">'
                '<meta property="og:site_name" content="Daily Site">'
            ),
            "Story",
        ),
        # Without the site's name an og:title is taken as written.
        (page('<meta property="og:title" content="Q&amp;A - part 2">'), "Q&A - part 2"),
        (page('<meta name="twitter:title" content="From Twitter">'), "From Twitter"),
        (page("<title>Page | Site</title>", "<h1>The Headline</h1>"), "The Headline"),
        (page("<title>The headline of it all | Site</title>"), "The headline of it all"),
        (page("<title>Long headline here :: Клуб</title>"), "Long headline here"),
        (page("<title>Just a title</title>"), "Just a title"),
        (page("<title>Go - a language</title>"), "Go - a language"),
    ],
)
def test_headline(html: str, title: str) -> None:
    assert article.parse_article_html(html, "page").title == title


@pytest.mark.parametrize(
    ("head", "timezone", "date"),
    [
        ('<meta property="article:published_time" content="2024-01-02T10:00:00+02:00">', "UTC",
         datetime(2024, 1, 2, 8, 0, tzinfo=UTC)),
        ('<meta property="article:published_time" content="2024-01-02T10:00:00Z">', "UTC",
         datetime(2024, 1, 2, 10, 0, tzinfo=UTC)),
        # Without an offset the --timezone option says where the time was written.
        ('<meta property="article:published_time" content="2024-01-02T10:00:00">', "Europe/Moscow",
         datetime(2024, 1, 2, 7, 0, tzinfo=UTC)),
        ('<meta itemprop="datePublished" content="2024-01-02T10:00:00+00:00">', "UTC",
         datetime(2024, 1, 2, 10, 0, tzinfo=UTC)),
        ('<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", '
         '"datePublished": "2024-05-06T07:08:09+00:00"}]}</script>', "UTC",
         datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ('<meta property="article:published_time" content="2024-01-02">', "UTC", None),
        ('<meta property="article:published_time" content="last Tuesday">', "UTC", None),
        ('<script type="application/ld+json">{not json</script>', "UTC", None),
        ("", "UTC", None),
    ],
)  # fmt: skip
def test_publication_date(head: str, timezone: str, date: datetime | None) -> None:
    post = article.parse_article_html(page(head + "<title>T</title>"), "page", timezone=timezone)
    assert post.date == date


def test_naive_publication_time_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    head = '<meta property="article:published_time" content="2024-01-02T10:00:00"><title>T</title>'
    path.write_text(page(head), encoding="utf-8")
    note, post = article.parse(path, ParseOptions(timezone="Asia/Yekaterinburg"))
    assert note == Note("the publication time has no time zone; read as Asia/Yekaterinburg")
    assert isinstance(post, ParsedPost)
    assert post.date == datetime(2024, 1, 2, 5, 0, tzinfo=UTC)


def test_unknown_timezone_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unknown time zone"):
        article.parse_article_html(page("<title>T</title>"), "page", timezone="Nowhere/Land")


def test_nested_lists_tables_quotes_and_line_breaks() -> None:
    body = "<p>" + "Intro sentence for the article body. " * 6 + "</p>"
    html = (
        "<html><head><title>Lists and tables | Site</title></head><body><article>"
        f"<h1>Lists and tables</h1>{body}"
        "<ul><li>first item<ul><li>nested one</li><li>nested two</li></ul></li>"
        '<li>second <a href="https://example.org/x">link</a></li></ul>'
        "<table><tr><th>Name</th><th>Value</th></tr><tr><td>alpha</td><td>1</td></tr></table>"
        "<blockquote><p>Quoted one.</p><p>Quoted two.</p></blockquote>"
        "<p>Line one<br>line two</p><h3>Sub <em>heading</em></h3>"
        "<p>" + "Closing words of the piece here. " * 5 + "</p></article></body></html>"
    )
    post = article.parse_article_html(html, "lists")
    assert post.title == "Lists and tables"
    blocks = post.text.split("\n\n")
    assert blocks[1:6] == [
        "• first item\n  • nested one\n  • nested two\n• second link",
        "Name | Value\nalpha | 1",
        "Quoted one.\nQuoted two.",
        "Line one\nline two",
        "Sub heading",
    ]
    assert spans(post) == [
        ("text_link", "link"),
        ("blockquote", "Quoted one.\nQuoted two."),
        ("bold", "Sub heading"),
        ("italic", "heading"),
    ]


def test_br_runs_become_paragraphs() -> None:
    text = "<br><br>".join(f"Paragraph {n} has a few sentences. It goes on. " * 3 for n in range(4))
    html = f"<html><head><title>Breaks</title></head><body><div>{text}</div></body></html>"
    post = article.parse_article_html(html, "breaks")
    assert post.text.count("\n\n") == 3
    assert post.text.split("\n\n")[1].startswith("Paragraph 1 has")


def test_long_bodies_are_kept_whole() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}. " + "Words in a sentence. " * 40 + "</p>" for n in range(60)
    )
    html = f"<html><head><title>Long read</title></head><body><article>{paragraphs}</article>"
    post = article.parse_article_html(html, "long")
    assert len(post.text) > 50_000
    assert post.text.count("\n\n") == 59
    assert post.text.endswith("Words in a sentence.")


# --- not articles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("login.html", "not an article: the page is a login form"),
        ("app_shell.html", "not an article: its main text is only 46 characters"),
        ("teaser.html", "not an article: its main text is only"),
    ],
)
def test_pages_that_are_not_articles(name: str, reason: str) -> None:
    path = FIXTURES / name
    with pytest.raises(ParseError) as caught:
        parse_one(path)
    assert caught.value.file == str(path)
    assert caught.value.reason.startswith(reason)


def test_telegram_pages_are_not_articles() -> None:
    with pytest.raises(ParseError, match="not an article: this is a Telegram export"):
        parse_one(WEB_FIXTURES / "dev_digest.html")


def test_empty_page_and_short_text(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>", encoding="utf-8")
    with pytest.raises(ParseError, match="not an article: the page has no readable main text"):
        parse_one(empty)
    short = tmp_path / "short.txt"
    short.write_text("A title\n\nOne short line.", encoding="utf-8")
    with pytest.raises(ParseError, match="not an article: the text is only 15 characters"):
        parse_one(short)


def test_json_is_not_an_article(exports_dir: Path) -> None:
    with pytest.raises(ParseError, match="not an article: this is JSON data"):
        parse_one(exports_dir / "desktop" / "pachum-small-result.json")


@pytest.mark.parametrize(
    "name",
    [
        "desktop/trantor_library-messages.html",
        "desktop/uponthepathofsalaf-messages.html",
        "desktop/cybersecnews-2018-messages2.html",
    ],
)
def test_desktop_exports_are_not_articles(exports_dir: Path, name: str) -> None:
    with pytest.raises(ParseError, match="not an article: this is a Telegram export"):
        parse_one(exports_dir / name)


# --- sniffing ---------------------------------------------------------------------------------


def head_of(path: Path) -> str:
    return path.read_bytes()[:65536].decode("utf-8", "replace")


@pytest.mark.parametrize(
    "name",
    ["news_page.html", "blog_post.html", "forum_density.html", "plain_article.txt",
     # Pages that turn out not to be articles are still claimed, so the user hears why.
     "login.html", "app_shell.html", "teaser.html"],
)  # fmt: skip
def test_sniff_claims_pages_and_prose(name: str) -> None:
    assert article.sniff(FIXTURES / name, head_of(FIXTURES / name))


def test_sniff_leaves_every_real_export_to_its_own_parser(exports_dir: Path) -> None:
    files = sorted(p for p in exports_dir.rglob("*") if p.is_file() and p.name != "README.md")
    assert len(files) >= 9
    assert [p.name for p in files if article.sniff(p, head_of(p))] == []


@pytest.mark.parametrize(
    "head",
    [
        head_of(WEB_FIXTURES / "dev_digest.html"),
        '{"name": "Channel", "messages": []}',
        "Short note.\n\nNothing more.",
        # A copy of a channel page: prose, but with the layout of one.
        ("Post title\n" + "Long prose sentence in the body of a post. " * 20 + "\n👍38🔥22❤2\n")
        * 3,
        ("Канал\n12.8K subscribers\n" + "Длинное предложение в описании канала. " * 40),
        ("Post\n" + "Forwarded from Someone\n" + "Sentence of the post body here. " * 40),
        # A body shown twice, as the text copies do.
        ("Title\n" + ("The same long line of the post body, repeated by the copy. " * 3 + "\n") * 2
         + "More sentences follow here. " * 40),
        # Lists and code without prose.
        "\n".join(f"item {n}: value {n * 7}" for n in range(300)),
    ],
)  # fmt: skip
def test_sniff_refuses_non_prose(head: str) -> None:
    assert not article.sniff(Path("x.txt"), head)


# --- robustness -------------------------------------------------------------------------------

_SEEDS = {
    "news": (FIXTURES / "news_page.html").read_bytes(),
    "forum": (FIXTURES / "forum_density.html").read_bytes(),
    "plain": (FIXTURES / "plain_article.txt").read_bytes(),
}


def outcome(run: Callable[[], T]) -> tuple[T, None] | tuple[None, ParseError]:
    """What ``run`` returned, or the ParseError it raised (any other exception propagates)."""
    try:
        return run(), None
    except ParseError as exc:
        return None, exc


_INSERTS = [
    b"<",
    b"</p>",
    b"<br><br>",
    b"<article>",
    b'<a href="',
    b"<pre>",
    b"<ul><li>",
    b"\n\n",
    b"# ",
    b"- ",
    b"\xd0",
    b"\x00",
    b"<!--",
    b"\xf0\x9f\x98\x80",
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(_SEEDS, _INSERTS))
def test_mutated_articles_give_one_post_or_parse_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("mutated") / "article.html"
    path.write_bytes(data)
    events, error = outcome(lambda: list(article.parse(path, ParseOptions())))
    if error is not None:
        assert error.file == str(path)
        event("ParseError")
        return
    event("post")
    assert events is not None
    check_well_formed(events)


LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 5
_TOKENS = [
    *"<>/=\"' abcK1.&;#\n",
    "<p>", "</p>", "<article>", "<h1>", "</h1>", "<br>", "<b>", "</b>", '<a href="http://x/">',
    "</a>", "<ul><li>", "<pre>", "<blockquote>", "<table><tr><td>", "<title>",
    '<meta property="og:title" content="', LOREM, "<script>", "<nav>",
]  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(
    start=st.sampled_from(["", "<html><body><article><p>" + LOREM, LOREM + "\n\n"]),
    text=st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join),
)
def test_random_markup_gives_a_post_or_parse_error(start: str, text: str) -> None:
    post, error = outcome(lambda: article.parse_article_html(start + text, "memory"))
    if error is not None:
        assert error.file == "memory"
        event("ParseError")
        return
    event("post")
    assert post is not None
    check_well_formed([post])


def test_a_control_character_in_a_page_split_by_breaks_is_dropped(tmp_path: Path) -> None:
    # Found by the mutation test above: lxml's HTML parser keeps U+001F in text, then
    # refuses to have it set back when paragraphs are rebuilt from <br><br>.
    body = "<br>\n<br>\n".join(
        f"\x1fАбзац номер {n}: достаточно длинный текст о переезде библиотеки на новый "
        f"сервер, с подробностями, цифрами {n * 17} и выводами для читателей."
        for n in range(4)
    )
    path = tmp_path / "page.html"
    path.write_text(
        f"<html><head><title>Переезд</title></head><body><div class='text'>{body}</div>"
        "</body></html>",
        encoding="utf-8",
    )
    events, error = outcome(lambda: list(article.parse(path, ParseOptions())))
    assert error is None
    (post,) = [e for e in events or [] if isinstance(e, ParsedPost)]
    assert "\x1f" not in post.text
    assert "Абзац номер 3" in post.text
