"""Web pages copied as plain text: detected as articles, the site's chrome left out.

The pages under ``fixtures/article/page_copies/`` are labelled line by line (``T|`` headline,
``B|`` body, ``C|`` chrome); ``bench/page_copy_bench.py`` prints the same figures as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bench.page_copy_bench import Figures, load, measure, pages
from pipeline.errors import ParseError
from pipeline.ingest import article, page_copy
from pipeline.ingest.formats import detect_format
from pipeline.ingest.model import ParsedPost, ParseOptions
from pipeline.ingest.page_copy import Kind
from pipeline.ingest.textutil import utf16_slice
from tests.pipeline.ingest.mutations import mutated
from tests.pipeline.ingest.test_article import check_well_formed, outcome, parse_one

PAGES = [*pages("design"), *pages("held_out")]


@pytest.fixture(scope="module")
def figures() -> dict[str, Figures]:
    return {path.stem: measure(path) for path in PAGES}


def test_there_are_pages_of_several_sites_and_languages() -> None:
    assert len(pages("design")) >= 5
    assert len(pages("held_out")) >= 2
    assert {path.stem.split("_")[0] for path in PAGES} >= {"zh", "ru", "en", "de", "ja"}


@pytest.mark.parametrize("path", PAGES, ids=[path.stem for path in PAGES])
def test_page_is_an_article_with_its_headline_and_whole_body(
    path: Path, figures: dict[str, Figures]
) -> None:
    found = figures[path.stem]
    assert found.format == "article"
    assert found.title == found.headline
    assert found.missing == []


@pytest.mark.parametrize("set_name", ["design", "held_out"])
def test_chrome_dropped(set_name: str, figures: dict[str, Figures]) -> None:
    found = [figures[path.stem] for path in pages(set_name)]
    chrome = sum(f.chrome for f in found)
    dropped = sum(f.chrome_dropped for f in found)
    assert dropped >= 0.95 * chrome, [f.leaked for f in found]
    assert all(f.chrome_dropped >= 0.9 * f.chrome for f in found), [f.leaked for f in found]


def copied(tmp_path: Path, name: str) -> Path:
    """A labelled page as the user has it: the copied text alone."""
    path = tmp_path / f"{name}.txt"
    path.write_text(load(next(p for p in PAGES if p.stem == name)).text, encoding="utf-8")
    return path


def spans(post: ParsedPost, type: str) -> list[str]:
    return [utf16_slice(post.text, e.offset, e.length) for e in post.entities if e.type == type]


def test_chinese_blog_keeps_contents_headings_and_code(tmp_path: Path) -> None:
    post = parse_one(copied(tmp_path, "zh_tech_blog"))
    assert post.title == "Python 装饰器从入门到实践"
    paragraphs = post.text.split("\n\n")
    assert paragraphs[0] == (
        "文章目录\n一、为什么需要装饰器\n二、最简单的装饰器\n三、带参数的装饰器\n"
        "四、保留函数元信息：functools.wraps\n五、类装饰器与实际应用\n六、总结"
    )
    assert paragraphs[1] == "一、为什么需要装饰器"
    assert paragraphs[-1].startswith("装饰器并不神秘。")
    code = spans(post, "pre")
    assert len(code) == 3
    # One block per listing, blank lines and indentation as written.
    assert code[0].startswith(
        "import time\n\ndef timer(func):\n    def wrapper(*args, **kwargs):\n"
    )
    assert code[0].endswith("@timer\ndef slow_add(a, b):\n    time.sleep(0.5)\n    return a + b")
    for chrome in ("阅读量", "版权声明", "上一篇", "最新文章", "客服邮箱", "京ICP备", "新人专享"):
        assert chrome not in post.text


def test_tables_keep_their_cells(tmp_path: Path) -> None:
    post = parse_one(copied(tmp_path, "en_docs"))
    assert "Name | Default | Meaning\nTGFLOW_BOT_TOKEN | none | The token BotFather gave you." in (
        post.text
    )


def test_a_clean_text_is_kept_whole() -> None:
    text = (
        "A title\n\nFirst paragraph, long enough to be read as a sentence of prose here.\n\n"
        "Short list:\none\ntwo\nthree\n\nLast words."
    )
    page = page_copy.read_page(text.split("\n"))
    assert page is not None
    assert page.title == 0
    assert [page.lines[i].text for i in page.body] == [
        "First paragraph, long enough to be read as a sentence of prose here.",
        "Short list:", "one", "two", "three", "Last words.",
    ]  # fmt: skip
    assert not page.dropped


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES, ids=[path.stem for path in PAGES])
def test_page_copies_are_detected_as_articles(tmp_path: Path, path: Path) -> None:
    assert detect_format(copied(tmp_path, path.stem)) == "article"


def test_channel_preview_copies_are_still_text(exports_dir: Path) -> None:
    copies = sorted((exports_dir / "text").glob("*.txt"))
    assert len(copies) >= 3
    assert {path.name: detect_format(path) for path in copies} == dict.fromkeys(
        (path.name for path in copies), "text"
    )


LONG = (
    "Это длинный абзац поста с несколькими предложениями, чтобы он походил на статью. "
    "Во втором предложении тоже есть смысл, и оно заканчивается точкой. "
)


@pytest.mark.parametrize(
    "text",
    [
        # Posts closed by reaction lines, around a site-like header.
        "Главная\nНовости\nКонтакты\n\nЗаголовок поста\n" + LONG * 4 + "\n👍38🔥22❤2\n\n"
        "Второй пост\n" + LONG * 3 + "\n👍5\n",
        # A forwarded post and media notices.
        "Forwarded from Someone\n" + LONG * 5 + "\nThis media is not supported in your browser\n"
        "VIEW IN TELEGRAM\n" + LONG * 3 + "\n",
        # A channel header, then posts.
        "AI Для Всех\n12.8K subscribers\n128 photos\nDownload Telegram\n\n" + LONG * 6 + "\n",
    ],
    ids=["reactions", "forward", "header"],
)
def test_a_channel_copy_with_prose_is_text_not_an_article(tmp_path: Path, text: str) -> None:
    path = tmp_path / "copy.txt"
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) == "text"


@pytest.mark.parametrize(
    "text",
    [
        "Short note.\n\nNothing more.\n",
        "date,channel,views\n" + "".join(f"2024-03-{d:02},@news,{d * 113}\n" for d in range(1, 29)),
        "".join(
            f"2024-03-12 10:{m:02}:07,512 INFO [worker-{m % 4}] job {1800 + m} finished in 0.{m}s\n"
            for m in range(60)
        ),
        # A site's front page: menus, headlines and times, no article.
        "Главная\nНовости\nСпорт\nКультура\n"
        + "".join(f"{h}:15\nЗаголовок новости номер {h} о событиях дня\n" for h in range(8, 20))
        + "© 2024 Пример Медиа\n",
        "".join(f"https://example.org/articles/{n}\n" for n in range(40)),
    ],
    ids=["note", "csv", "log", "front-page", "links"],
)
def test_text_that_is_neither_gets_the_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        detect_format(path)
    assert "not a channel export or article tgpipe can read" in str(caught.value)


# --- lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("14 марта 2024, 09:30", Kind.DATE),
        ("Обновлено 14 марта 2024, 12:05", Kind.DATE),
        ("November 5, 2023 · 8 min read", Kind.DATE),
        ("于 2024-03-12 21:05:33 发布", Kind.DATE),
        ("投稿日 2024年03月08日", Kind.DATE),
        ("12.03.2024, 14:05 Uhr", Kind.DATE),
        ("Publicado el 3 de marzo de 2024 por Lucía Fernández", Kind.DATE),
        ("вчера в 18:42", Kind.DATE),
        ("3 hours ago", Kind.DATE),
        ("阅读量 3.2k", Kind.COUNTER),
        ("23 篇文章", Kind.COUNTER),
        ("Комментарии (48)", Kind.COUNTER),
        ("+24", Kind.COUNTER),
        ("Python3 列表", Kind.TEXT),  # digits of a name are no count
        ("1) first", Kind.TEXT),  # an item of a numbered list
        ("© 2024 Relay Labs, Inc. All rights reserved.", Kind.LEGAL),
        ("京ICP备19004658号", Kind.LEGAL),
        ("Copyright © 2013-2024 Example All Rights Reserved.", Kind.LEGAL),
        ("E-mail: news@example.ru", Kind.CONTACT),
        ("Телефон редакции: +7 (843) 200-00-00", Kind.CONTACT),
        ("https://example.org/a/b", Kind.LINK),
        ("Главная → Наука → Нейросеть научили читать рукописи", Kind.MENU),
        ("-> 首页 -> Python -> 正文 ->", Kind.MENU),
        ("Impressum | Datenschutz | Kontakt", Kind.MENU),
        ("分类专栏： Python 进阶 文章标签： python 装饰器", Kind.META),
        ("·", Kind.RULE),
        ("    return wrapper", Kind.CODE),
        ("$ kubectl get pods", Kind.CODE),
        ("fn main() {", Kind.CODE),
        ("OnCalendar=*-*-* 03:15:00", Kind.CODE),
        ("borg init --encryption=repokey-blake2 backup@nas:/srv/borg", Kind.CODE),
        ("在写业务代码的时候，我们经常会遇到这样的需求：给很多函数统一加上日志。", Kind.PROSE),
        ("Rustを書き始めると、最初につまずくのが所有権とボローチェッカーです。", Kind.PROSE),
        ("Nobody on the team could reproduce it, and the logs looked clean.", Kind.PROSE),
        ("Как устроена модель", Kind.TEXT),
        ("Python 装饰器从入门到实践", Kind.TEXT),
    ],
)
def test_line_kinds(line: str, kind: Kind) -> None:
    assert page_copy.classify(0, line).kind is kind


def test_paragraphs_about_copyright_are_prose() -> None:
    paragraph = (
        "The copyright on the earliest version of the character expired this year, and the "
        "studio can no longer stop others from drawing him as he looked in 1928, which is why "
        "so many projects appeared in January."
    )
    assert page_copy.classify(0, paragraph).kind is Kind.PROSE


@pytest.mark.parametrize(
    ("text", "size"),
    [("Rust", 4), ("所有権", 9), ("はじめに", 8), ("이벤트 루프", 11), ("Python 装饰器", 16)],
)
def test_cjk_characters_count_more_than_letters(text: str, size: int) -> None:
    assert page_copy.size(text) == size


def test_parse_reads_the_whole_copy(tmp_path: Path) -> None:
    (post,) = list(article.parse(copied(tmp_path, "ru_news"), ParseOptions()))
    assert isinstance(post, ParsedPost)
    assert post.title == "Нейросеть научили читать рукописи XVIII века"
    assert post.text.startswith("Алгоритм расшифровывает почерк писцов")
    assert post.text.endswith("могут помочь с расшифровкой на сайте проекта.")


# --- robustness -------------------------------------------------------------------------------

_SEEDS = {path.stem: load(path).text.encode("utf-8") for path in PAGES[::3]}
_INSERTS = [b"\n\n", b"\n", b"    ", b"\t", b"> ", " · ".encode(), "©".encode(), b"12:30\n"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(_SEEDS, _INSERTS))
def test_mutated_page_copies_give_one_post_or_parse_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("mutated") / "page.txt"
    path.write_bytes(data)
    events, error = outcome(lambda: list(article.parse(path, ParseOptions())))
    if error is not None:
        assert error.file == str(path)
        return
    assert events is not None
    check_well_formed(events)
