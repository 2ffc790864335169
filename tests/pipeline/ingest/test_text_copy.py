"""The plain-text web-preview parser: real copies, one fixture per layout rule, mutations."""

from __future__ import annotations

import inspect
import itertools
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ParseError
from pipeline.ingest import text_copy
from pipeline.ingest.model import (
    ChannelInfo,
    Event,
    LinkPreview,
    Note,
    ParsedPost,
    ParseOptions,
    Skipped,
)

MEDIA = "This media is not supported in your browser"
OPEN = "Please open Telegram to view this post"
VIEW = "VIEW IN TELEGRAM"


def parse_text(tmp_path: Path, text: str, channel: str | None = None) -> list[Event]:
    path = tmp_path / "copy.txt"
    path.write_text(text, encoding="utf-8")
    return list(text_copy.parse(path, ParseOptions(channel=channel)))


def posts_of(events: list[Event]) -> list[ParsedPost]:
    return [event for event in events if isinstance(event, ParsedPost)]


def reactions_of(post: ParsedPost) -> dict[str, int]:
    return {reaction.key: reaction.count for reaction in post.reactions}


def notices_of(post: ParsedPost) -> list[str]:
    assert all(item.kind == "unsupported" for item in post.media)
    return [item.extra["notice"] for item in post.media]


def repeated_paragraphs(text: str) -> list[str]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return sorted({line for line in lines if lines.count(line) > 1})


# --- the real copies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Real:
    lines: tuple[int, int]  # the full first copy of the body, 1-based, inclusive
    first: str
    reactions: dict[str, int]
    forwarded: str | None = None
    notices: tuple[str, ...] = ()
    preview_site: str | None = None


# Read by eye from the files: each post's full text, where it is, its reaction line.
NN = [
    Real((1, 14), "🎧 Рок-н-ролл прямо из мозга!", {"🔥": 7, "🤩": 2, "❤": 1, "😢": 1},
         notices=(OPEN,), preview_site="YouTube"),
    Real((34, 47), "SeamlessM4T: первая универсальная мультимодальная языковая модель",
         {"🔥": 24, "👍": 8, "❤": 4, "😢": 1}, notices=(MEDIA, OPEN)),
    Real((63, 79), "🔧 Как файнтюнить (образно) языковые модели на что угодно?",
         {"👍": 38, "🔥": 22, "❤": 2}),
    Real((97, 103), "Tesla готовится к первому суду по ДТП с применением автопилота и "
                    "летальным исходом",
         {"👍": 30, "🔥": 8, "😱": 3, "😢": 3, "❤": 1}),
    Real((111, 118), "Explainable AI для self-supervised learning", {"👍": 50, "🔥": 8, "❤": 2}),
    Real((127, 134), "RELAX: Representation Learning Explainability",
         {"🔥": 11, "👍": 7, "❤": 5, "🤩": 1}),
    Real((144, 163), "Мы открываем набор на осенний семестр школы глубокого обучения "
                     "Deep Learning School!",
         {"👍": 18, "❤": 5, "😢": 5, "🔥": 4}, forwarded="DLStories"),
    Real((184, 191), "Burning Man 2023",
         {"🔥": 54, "❤": 10, "👍": 8, "😁": 3, "😢": 1, "🎉": 1, "🤩": 1}),
    Real((202, 208), "☁️Погода наконец-то перестанет нас дурить!",
         {"👍": 24, "🔥": 11, "❤": 6, "😢": 3}, notices=(MEDIA, OPEN)),
    Real((218, 220), "Довольно интересная обзорная статья по RL основанному на физике:",
         {"❤": 6, "🤩": 3, "👍": 2, "🔥": 2}, forwarded="Агенты ИИ | AGI_and_RL"),
    Real((224, 243), "Как найти аномалии в данных используя автокодировщики?",
         {"🔥": 19, "👍": 11, "❤": 2}, notices=(OPEN,)),
]  # fmt: skip
AI = [
    Real((13, 22), "Self-Supervised Learning based on Heat Equation", {}),
    Real((25, 37), "DINOv2: Learning Robust Visual Features without Supervision", {},
         notices=(MEDIA,)),
    Real((38, 51), "Поваренная книга Self-supervised Learning (#SSL) от Meta.", {}),
    Real((52, 68), "Связь между self-supervised learning и теорией информации", {},
         notices=(OPEN,)),
    Real((71, 81), "Дежа вю у моделей self-supervised learning (#SSL)", {}),
    Real((84, 93), "Materialistic: Selecting Similar Materials in Images", {}, notices=(MEDIA,)),
    Real((94, 108), "Ай-ЖЕПА: умная модель AI, которая учится понимать мир как люди", {}),
    Real((109, 130), "Deep TDA работает лучше, чем традиционные алгоритмы снижения "
                     "размерности🔬🧮", {}),
    Real((131, 145), "Explainable AI для self-supervised learning", {}),
    Real((146, 160), "RELAX: Representation Learning Explainability", {}),
]  # fmt: skip
DL = [
    Real((1, 5), "Назовите основную особенность рекуррентных нейронных сетей", {"👍": 11}),
    Real((11, 15), "За что отвечает температура в softmax?", {"👍": 7, "❤": 3}),
    Real((21, 24), "Можете ли вы объяснить, как GAN генерируют изображения?", {"❤": 7, "👍": 1}),
    Real((29, 33), "Объясните механизм multihead attention", {}),
    Real((38, 45), "В чём разница между обнаружением объектов (object detection) и "
                   "сегментацией изображения?",
         {"❤": 1}),
    Real((54, 64), "Коротко опишите процесс обучения нейронной сети", {}),
]  # fmt: skip
REAL = {
    "nn_for_science-compact.txt": NN,
    "ai_dlya_vseh-spaced.txt": AI,
    "dl_interview-qa.txt": DL,
}
REAL_POSTS = [(name, index) for name, table in REAL.items() for index in range(len(table))]

_cache: dict[Path, list[Event]] = {}


def real_events(exports_dir: Path, name: str) -> list[Event]:
    path = exports_dir / "text" / name
    if path not in _cache:
        _cache[path] = list(text_copy.parse(path, ParseOptions()))
    return _cache[path]


@pytest.mark.parametrize(("name", "count"), [("nn_for_science-compact.txt", 11),
                                             ("ai_dlya_vseh-spaced.txt", 10),
                                             ("dl_interview-qa.txt", 6)])  # fmt: skip
def test_real_copy_post_count(exports_dir: Path, name: str, count: int) -> None:
    events = real_events(exports_dir, name)
    assert len(posts_of(events)) == count
    assert not [event for event in events if isinstance(event, Skipped)]
    assert isinstance(events[0], ChannelInfo)


@pytest.mark.parametrize(("name", "index"), REAL_POSTS)
def test_real_copy_every_post(exports_dir: Path, name: str, index: int) -> None:
    expected = REAL[name][index]
    post = posts_of(real_events(exports_dir, name))[index]
    assert reactions_of(post) == expected.reactions
    assert post.forwarded_from == expected.forwarded
    assert post.text.split("\n")[0] == expected.first
    assert repeated_paragraphs(post.text) == []
    assert tuple(notices_of(post)) == expected.notices
    assert post.message_id is None
    assert post.date is None
    assert post.entities == []
    # The body is the full first copy exactly: nothing of the preview copy doubled, nothing lost.
    file_lines = (exports_dir / "text" / name).read_text(encoding="utf-8").split("\n")
    first, last = expected.lines
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(file_lines[first - 1 : last])).strip()
    assert post.text == body
    if expected.preview_site is None:
        assert post.link_preview is None
    else:
        assert post.link_preview is not None
        assert post.link_preview.site == expected.preview_site


def test_real_link_preview_is_not_body(exports_dir: Path) -> None:
    post = posts_of(real_events(exports_dir, "nn_for_science-compact.txt"))[0]
    assert post.link_preview == LinkPreview(
        url=None,
        site="YouTube",
        title="Neuroscientists recreate Pink Floyd song from recorded brain waves",
        description=(
            "Neuroscientists were able to recreate 'Another Brick in the Wall, Part 1' using AI "
            "to decipher the brain’s electrical activity. The reconstructed Pink Floyd song "
            "represents a breakthrough that could restore the musicality of natural speech to "
            "patients with…"
        ),
    )
    assert "YouTube" not in post.text
    assert "Neuroscientists" not in post.text


@pytest.mark.parametrize(
    ("name", "index", "line"),
    [
        # Lines the preview copy lost: they exist only in the full copy.
        ("nn_for_science-compact.txt", 0, "🎵 Послушать"),
        ("nn_for_science-compact.txt", 0, "🤓 Источник"),
        ("nn_for_science-compact.txt", 1, "🐙 GitHub"),
        ("nn_for_science-compact.txt", 8, "👌 Блог-пост"),
        ("nn_for_science-compact.txt", 10, "🖥 Ссылка"),
        # The preview copy cut these short ("- Meta", "...представления."): the full line stays.
        (
            "nn_for_science-compact.txt",
            1,
            "- Metaхвастается сообщает, что SeamlessM4T опережает существующие решения по "
            "точности и аккуратности перевода",
        ),
        (
            "dl_interview-qa.txt",
            3,
            "На практике мы делим весь эмбеддинг и прогоняем каждую часть через разные матрицы. "
            "Так мы получаем разнообразные представления.Плюсом к этому идёт возможность "
            "распараллелить процесс. В итоге результаты всех независимых механизмов внимания "
            "объединяются и проходят через линейный слой для получения финального представления.",
        ),
    ],
)
def test_real_lines_only_one_copy_has_are_kept(
    exports_dir: Path, name: str, index: int, line: str
) -> None:
    lines = posts_of(real_events(exports_dir, name))[index].text.split("\n")
    assert lines.count(line) == 1


def test_real_channel_header(exports_dir: Path) -> None:
    info = real_events(exports_dir, "ai_dlya_vseh-spaced.txt")[0]
    assert info == ChannelInfo(
        title="AI Для Всех",
        username=None,
        subscribers=12800,
        description=(
            "Канал, в котором мы говорим про искусственный интеллект простыми словами\n\n"
            "Главный редактор и по рекламе: @crimeacs\n\n"
            "Иногда пишут в канал: @GingerSpacetail, @innovationitsme"
        ),
    )


def test_real_username_from_signature(exports_dir: Path) -> None:
    events = real_events(exports_dir, "nn_for_science-compact.txt")
    assert events[0] == ChannelInfo(username="nn_for_science")
    assert Note("channel username @nn_for_science read from the signature of 6 of 9 posts") in (
        events
    )
    # Two reposts carrying that signature are not enough to name another channel.
    other = real_events(exports_dir, "ai_dlya_vseh-spaced.txt")[0]
    assert isinstance(other, ChannelInfo)
    assert other.username is None
    assert real_events(exports_dir, "dl_interview-qa.txt")[0] == ChannelInfo()


def test_real_shared_posts_read_alike(exports_dir: Path) -> None:
    """The two posts both channels carry come out with the same text, blank lines aside."""
    nn = posts_of(real_events(exports_dir, "nn_for_science-compact.txt"))
    ai = posts_of(real_events(exports_dir, "ai_dlya_vseh-spaced.txt"))
    for mine, theirs in ((nn[4], ai[8]), (nn[5], ai[9])):
        assert mine.text == theirs.text.replace("\n\n", "\n")


@pytest.mark.parametrize(
    ("names", "channels"),
    [
        (["nn_for_science-compact.txt", "ai_dlya_vseh-spaced.txt"],
         [ChannelInfo(username="nn_for_science"), "AI Для Всех"]),
        (["dl_interview-qa.txt", "ai_dlya_vseh-spaced.txt", "dl_interview-qa.txt"],
         [ChannelInfo(), "AI Для Всех"]),
        (["ai_dlya_vseh-spaced.txt", "nn_for_science-compact.txt"], ["AI Для Всех"]),
        (["ai_dlya_vseh-spaced.txt", "ai_dlya_vseh-spaced.txt"], ["AI Для Всех"]),
        (["dl_interview-qa.txt", "nn_for_science-compact.txt"], [ChannelInfo()]),
    ],
)  # fmt: skip
def test_real_copies_pasted_together(
    exports_dir: Path, tmp_path: Path, names: list[str], channels: list[ChannelInfo | str]
) -> None:
    """Copies of different layouts pasted into one file: each keeps its own posts; a channel
    header further down starts that channel (repeated headers are not repeated events)."""
    text = "\n".join((exports_dir / "text" / name).read_text(encoding="utf-8") for name in names)
    events = parse_text(tmp_path, text)
    expected: list[ParsedPost] = []
    for name in names:
        expected.extend(posts_of(real_events(exports_dir, name)))
    assert [post.text for post in posts_of(events)] == [post.text for post in expected]
    assert [reactions_of(post) for post in posts_of(events)] == [
        reactions_of(post) for post in expected
    ]
    infos = [event for event in events if isinstance(event, ChannelInfo)]
    assert [
        info.title if isinstance(want, str) else info
        for info, want in zip(infos, channels, strict=True)
    ] == channels
    check_well_formed(events)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_copies_are_sniffed(exports_dir: Path, name: str) -> None:
    path = exports_dir / "text" / name
    assert text_copy.sniff(path, path.read_text(encoding="utf-8")[:65536])


# --- one fixture per rule ------------------------------------------------------------------


@dataclass(frozen=True)
class P:
    """An expected post: full text and what else the rule is about."""

    text: str
    reactions: dict[str, int] | None = None
    forwarded: str | None = None
    notices: tuple[str, ...] = ()
    preview: LinkPreview | None = None


L1 = "The first paragraph is long enough to count."
L2 = "The second paragraph is long enough as well."
M1 = "Another post begins with this long line here."
M2 = "And it goes on with a second long line too."

RULES = [
    pytest.param(f"Alpha\n{L1}\n👍5\nBeta\n{L2}\n🔥2❤1",
                 [P(f"Alpha\n{L1}", {"👍": 5}), P(f"Beta\n{L2}", {"🔥": 2, "❤": 1})],
                 id="reaction-line-closes-post"),
    pytest.param(f"Alpha\n{L1}\nForwarded from Агенты ИИ | AGI_and_RL\n{M1}\n👍1",
                 [P(f"Alpha\n{L1}"), P(M1, {"👍": 1}, forwarded="Агенты ИИ | AGI_and_RL")],
                 id="forwarded-from-opens-post"),
    pytest.param(f"👍1\nForwarded from DLStories\n{MEDIA}\n{VIEW}\n{M1}\n❤2",
                 [P(M1, {"❤": 2}, forwarded="DLStories", notices=(MEDIA,))],
                 id="forward-header-then-media-is-one-post"),
    pytest.param(f"Alpha\n{L1}\n{MEDIA}\n{VIEW}\nBeta\n{L2}\n👍3",
                 [P(f"Alpha\n{L1}"), P(f"Beta\n{L2}", {"👍": 3}, notices=(MEDIA,))],
                 id="media-notice-belongs-to-next-post"),
    pytest.param(f"Alpha\n{L1}\n{VIEW}\nBeta\n{L2}\n👍3",
                 [P(f"Alpha\n{L1}"), P(f"Beta\n{L2}", {"👍": 3}, notices=(VIEW,))],
                 id="lone-view-in-telegram-opens-next-post"),
    pytest.param(f"Alpha\n{L1}\n👍1\n{MEDIA}\n{VIEW}\n🔥4",
                 [P(f"Alpha\n{L1}", {"👍": 1}), P("", {"🔥": 4}, notices=(MEDIA,))],
                 id="media-only-post"),
    pytest.param(f"Alpha\n{L1}\n{OPEN}\n{VIEW}\n👍2\n{OPEN}\n{VIEW}\n❤9",
                 [P(f"Alpha\n{L1}", {"👍": 2}, notices=(OPEN,)), P("", {"❤": 9}, notices=(OPEN,))],
                 id="please-open-telegram"),
    pytest.param(f"Alpha\n{L1}\n{OPEN}\n{VIEW}\nGitHub\nowner/repo: a tool\nIt does things.\n👍4",
                 [P(f"Alpha\n{L1}", {"👍": 4}, notices=(OPEN,),
                    preview=LinkPreview(None, "GitHub", "owner/repo: a tool", "It does things."))],
                 id="link-preview-after-notice"),
    pytest.param(f"Alpha https://github.com/owner/repo\n{L1}\n📖 Статья\nGitHub\nowner/repo\n👍4",
                 [P(f"Alpha https://github.com/owner/repo\n{L1}\n📖 Статья", {"👍": 4},
                    preview=LinkPreview("https://github.com/owner/repo", "GitHub",
                                        "owner/repo", None))],
                 id="link-preview-after-footer-with-url"),
    pytest.param(f"Alpha\n{L1}\n{L2}\n📖 Статья\n{L1}\n{L2}\n📖 Статья\n👍7",
                 [P(f"Alpha\n{L1}\n{L2}\n📖 Статья", {"👍": 7})],
                 id="doubled-body-folded"),
    pytest.param(f"Alpha\n{L1}\n{L2} And a tail.\n🐙 GitHub\nПодпишись на @chan_name\n"
                 f"{L1}\n{L2}\nПодпишись на @chan_name\n👍7",
                 [P(f"Alpha\n{L1}\n{L2} And a tail.\n🐙 GitHub\nПодпишись на @chan_name",
                    {"👍": 7})],
                 id="fold-keeps-longer-line-and-lines-one-copy-lost"),
    pytest.param(f"Alpha\n{L1}\n{L2}\n{L1}\n📎 Только в копии\n{L2}\n👍7",
                 [P(f"Alpha\n{L1}\n📎 Только в копии\n{L2}", {"👍": 7})],
                 id="fold-keeps-line-only-preview-copy-has"),
    pytest.param(f"Title\nКоротко:\n{L1}\n{L2}\n🖥 Ссылка\nКоротко:\n{L1}\n{L2}\n👍1",
                 [P(f"Title\nКоротко:\n{L1}\n{L2}\n🖥 Ссылка", {"👍": 1})],
                 id="copy-starting-with-short-line"),
    pytest.param(f"Q one?\n{L1}\n#глубокое_обучение\n{L1}\n#глубокое_обучение\n"
                 f"Q two?\n{M1}\n#NLP #глубокое_обучение\n{M1}\n#NLP #глубокое_обучение\n❤1\n"
                 f"Q three?\n{M2}\n#NLP\n{M2}\n#NLP",
                 [P(f"Q one?\n{L1}\n#глубокое_обучение"),
                  P(f"Q two?\n{M1}\n#NLP #глубокое_обучение", {"❤": 1}),
                  P(f"Q three?\n{M2}\n#NLP")],
                 id="hashtag-lines-and-posts-without-reactions"),
    pytest.param(f"Q one?\n{L1}\n{L2}\n{L1}\n{L2}\nQ two?\n{M1}\n{M1}\n👍2",
                 [P(f"Q one?\n{L1}\n{L2}"), P(f"Q two?\n{M1}", {"👍": 2})],
                 id="doubled-post-ends-where-copy-stops-matching"),
    pytest.param(f"{MEDIA}\n{VIEW}\nT1\n\n{L1}\n\n📖 Статья\n@karray\nT2\n\n{L2}\n\n"
                 f"Статья | Код | Демо\n\n@karray\nT3\n\n{M1}\n\n🐕 Анонс\nT4\n\n{M2}",
                 [P(f"T1\n\n{L1}\n\n📖 Статья\n@karray", notices=(MEDIA,)),
                  P(f"T2\n\n{L2}\n\nСтатья | Код | Демо\n\n@karray"),
                  P(f"T3\n\n{M1}\n\n🐕 Анонс"), P(f"T4\n\n{M2}")],
                 id="blank-line-style-title-after-footer"),
    pytest.param(f"{MEDIA}\n{VIEW}\nT1\n\n{L1}\n\n📕Статья\n{OPEN}\n{VIEW}\nT2\n\n{L2}",
                 [P(f"T1\n\n{L1}\n\n📕Статья", notices=(MEDIA, OPEN)), P(f"T2\n\n{L2}")],
                 id="blank-line-style-notice-between-footer-and-title"),
    pytest.param(f"T1\n\n📖 Статья\n\n{L1}\n\n📌 Итоги\nпункт один\nпункт два\n\n{L2}\n👍2",
                 [P(f"T1\n\n📖 Статья\n\n{L1}\n\n📌 Итоги\nпункт один\nпункт два\n\n{L2}",
                    {"👍": 2})],
                 id="blank-line-style-label-inside-post-does-not-split"),
    pytest.param(f"Alpha\n{L1}\n👍1\nLast\n{L2}\n",
                 [P(f"Alpha\n{L1}", {"👍": 1}), P(f"Last\n{L2}")],
                 id="last-post-at-eof-without-reactions"),
    pytest.param(f"Alpha\n{L1}\n👍1\n🔥2\nBeta\n{L2}\n❤3",
                 [P(f"Alpha\n{L1}", {"👍": 1}), P(f"Beta\n{L2}", {"❤": 3})],
                 id="reaction-line-without-post-is-skipped"),
    pytest.param(f"Alpha\n{L1}\n👍1.2K🔥12K❤️5 👨‍👩‍👧 3\n",
                 [P(f"Alpha\n{L1}", {"👍": 1200, "🔥": 12000, "❤️": 5, "👨‍👩‍👧": 3})],
                 id="reaction-counts-and-multi-code-point-keys"),
    pytest.param(f"Short post\nПодпишись на @chan_name\nNext post title\n{M1}\n👍1",
                 [P("Short post\nПодпишись на @chan_name"), P(f"Next post title\n{M1}", {"👍": 1})],
                 id="signature-ends-post-with-no-copy"),
    pytest.param(f"{L1}\n@karray\n{L1}\n@karray\n{M1}\n{M2}\n{M1}\n👍1",
                 [P(f"{L1}\n@karray"), P(f"{M1}\n{M2}", {"👍": 1})],
                 id="copy-ends-at-unmatched-line-after-signature"),
    pytest.param(f"Alpha\n{L1}\nDownload Telegram\n👍1",
                 [P(f"Alpha\n{L1}", {"👍": 1})],
                 id="page-chrome-ignored"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), RULES)
def test_layout_rules(tmp_path: Path, text: str, expected: list[P]) -> None:
    events = parse_text(tmp_path, text)
    assert isinstance(events[0], ChannelInfo)
    posts = posts_of(events)
    got = [
        P(
            post.text,
            reactions_of(post) or None,
            post.forwarded_from,
            tuple(notices_of(post)),
            post.link_preview,
        )
        for post in posts
    ]
    assert got == expected
    for post in posts:
        assert (post.message_id, post.date) == (None, None)


def test_channel_header_further_down(tmp_path: Path) -> None:
    text = f"Alpha\n{L1}\n👍1\nOther Channel\n5 subscribers\nDownload Telegram\nBeta\n{L2}\n👍2"
    events = parse_text(tmp_path, text)
    assert [(type(e).__name__, getattr(e, "text", None)) for e in events] == [
        ("ChannelInfo", None),
        ("ParsedPost", f"Alpha\n{L1}"),
        ("ChannelInfo", None),
        ("ParsedPost", f"Beta\n{L2}"),
    ]
    assert events[0] == ChannelInfo()
    assert events[2] == ChannelInfo(title="Other Channel", subscribers=5)


def test_orphan_reaction_line_is_reported(tmp_path: Path) -> None:
    events = parse_text(tmp_path, f"Alpha\n{L1}\n👍1\n🔥2\nBeta\n{L2}\n❤3")
    assert Skipped(None, "reaction line without a post (line 4)") in events


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("👍38🔥22❤2", {"👍": 38, "🔥": 22, "❤": 2}),
        ("❤️5", {"❤️": 5}),  # VS16 kept: the key is the emoji as written
        ("❤5❤️2", {"❤": 5, "❤️": 2}),
        ("❤️‍🔥4👍🏽12", {"❤️‍🔥": 4, "👍🏽": 12}),  # ZWJ sequence, skin tone
        ("👨‍👩‍👧3", {"👨‍👩‍👧": 3}),
        ("👍381️⃣2", {"👍": 38, "1️⃣": 2}),  # keycap after a count
        ("#️⃣7", {"#️⃣": 7}),
        ("🇺🇦7🏴󠁧󠁢󠁳󠁣󠁴󠁿1", {"🇺🇦": 7, "🏴󠁧󠁢󠁳󠁣󠁴󠁿": 1}),  # flags, tag sequence
        ("👍1.2K🔥12K😱3M", {"👍": 1200, "🔥": 12000, "😱": 3_000_000}),
        ("👍1,5K", {"👍": 1500}),
        ("👍1,234", {"👍": 1234}),
        ("👍 38  🔥 22", {"👍": 38, "🔥": 22}),
        ("⭐️12", {"⭐️": 12}),
        ("👍3👍4", {"👍": 7}),
        ("👍", None),
        ("38", None),
        ("👍4.5", None),  # a decimal without K/M is a rating, not a count
        ("Text 👍5", None),
        ("👍5 text", None),
        ("👍5Kb", None),
        ("", None),
    ],
)
def test_reaction_lines(line: str, expected: dict[str, int] | None) -> None:
    reactions = text_copy.parse_reaction_line(line)
    got = None if reactions is None else {r.key: r.count for r in reactions}
    assert got == expected


@pytest.mark.parametrize(
    ("number", "suffix", "expected"),
    [("38", None, 38), ("12.8", "K", 12800), ("1,2", "k", 1200), ("2", "M", 2_000_000),
     ("1 234", None, 1234), ("4.5", None, None), ("1.2.3", "K", None)],
)  # fmt: skip
def test_counts(number: str, suffix: str | None, expected: int | None) -> None:
    assert text_copy.parse_count(number, suffix) == expected


# --- channel -------------------------------------------------------------------------------

HEADER = (
    "Some Channel\n@some_channel\n1.2K subscribers\n10 photos\n2 videos\n\n"
    "About us.\n\nAds: @someone\nDownload Telegram\n"
)


@pytest.mark.parametrize(
    ("text", "channel", "expected"),
    [
        (HEADER + f"Alpha\n{L1}\n👍1", None,
         ChannelInfo("Some Channel", "some_channel", None, 1200, "About us.\n\nAds: @someone")),
        (HEADER + f"Alpha\n{L1}\n👍1", "Other name",
         ChannelInfo("Some Channel", "some_channel", None, 1200, "About us.\n\nAds: @someone")),
        ("Chan\n12 800 subscribers\n" + f"Alpha\n{L1}\n👍1", None,
         ChannelInfo("Chan", None, None, 12800, None)),
        (f"Alpha\n{L1}\n👍1", "My Channel", ChannelInfo(title="My Channel")),
        (f"Alpha\n{L1}\n👍1", "@My_Channel", ChannelInfo(username="my_channel")),
        (f"Alpha\n{L1}\n👍1", "https://t.me/s/my_channel", ChannelInfo(username="my_channel")),
        (f"A\n{L1}\nПодпишись на @Chan_Name\n👍1\nB\n{L2}\nПодпишись на @chan_name\n👍1",
         None, ChannelInfo(username="chan_name")),
        (f"A\n{L1}\nПодпишись на @other\n👍1\nB\n{L2}\n👍1\nC\n{M1}\n👍1\nD\n{M2}\n👍1",
         None, ChannelInfo()),
        (f"Forwarded from X\nA\n{L1}\nПодпишись на @xchan\n👍1\n"
         f"Forwarded from X\nB\n{L2}\nПодпишись на @xchan\n👍1\nC\n{M1}\n👍1",
         None, ChannelInfo()),
    ],
    ids=["header", "header-wins-over-channel-option", "header-without-description",
         "channel-option-title", "channel-option-username", "channel-option-link",
         "signature-majority", "signature-minority", "signature-only-on-reposts"],
)  # fmt: skip
def test_channel(tmp_path: Path, text: str, channel: str | None, expected: ChannelInfo) -> None:
    events = parse_text(tmp_path, text, channel)
    assert events[0] == expected
    assert [type(event) for event in events].count(ChannelInfo) == 1


def test_header_is_not_a_post(tmp_path: Path) -> None:
    posts = posts_of(parse_text(tmp_path, HEADER + f"Alpha\n{L1}\n👍1"))
    assert [post.text for post in posts] == [f"Alpha\n{L1}"]


# --- sniff and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (f"Alpha\n{L1}\n👍38🔥22❤2\n", True),
        (f"Forwarded from DLStories\n{L1}\n", True),
        (f"{L1}\n{VIEW}\n", True),
        (f"{MEDIA}\n{L1}\n", True),
        (f"{L1}\n{OPEN}\n", True),
        ("AI Для Всех\n12.8K subscribers\nAbout\n", True),
        ("Article title\n\nA paragraph of an article.\n\nAnother one, with 5 👍 inside.\n", False),
        ("A note\nwith a rating 👍4.5\n", False),
        ("<!DOCTYPE html><html><body><div>👍5</div></body></html>", False),
        ('{"name": "x", "messages": []}', False),
        ('[{"text": "👍5"}]', False),
        ("", False),
    ],
)
def test_sniff(head: str, expected: bool) -> None:
    assert text_copy.sniff(Path("x.txt"), head) is expected


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02binary", "binary file"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "this is HTML"),
        (b'{"messages": []}', "this is JSON"),
        (b"Article title\n\nFirst paragraph.\n\nSecond.\n", "no posts found"),
        (b"Chan\n10 subscribers\nDesc\nDownload Telegram\n", "no posts found"),
        ("👍1\n🔥2\n".encode(), "no posts found"),
        (b"\n\n\n", "empty file"),
    ],
    ids=["empty", "binary", "html", "json", "plain-article", "header-only",
         "reactions-only", "blank"],
)  # fmt: skip
def test_parse_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "copy.txt"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        list(text_copy.parse(path, ParseOptions()))
    assert caught.value.file == str(path)
    assert reason in caught.value.reason


def test_parse_is_lazy(tmp_path: Path) -> None:
    events = text_copy.parse(tmp_path / "missing.txt", ParseOptions())
    assert inspect.isgenerator(events)
    with pytest.raises(ParseError, match="cannot read"):
        next(events)


def test_cp1251_copy(tmp_path: Path) -> None:
    path = tmp_path / "copy.txt"
    path.write_bytes(
        f"Привет, это длинная строка текста\n{VIEW}\nЕщё одна строка\n".encode("cp1251")
    )
    posts = posts_of(list(text_copy.parse(path, ParseOptions())))
    assert [post.text for post in posts] == [
        "Привет, это длинная строка текста",
        "Ещё одна строка",
    ]


# --- mutations -----------------------------------------------------------------------------

FIXTURES = [str(param.values[0]) for param in RULES] + [HEADER + f"Alpha\n{L1}\n👍1"]


def check_well_formed(events: list[Event]) -> None:
    assert events
    assert isinstance(events[0], ChannelInfo)
    channels = [index for index, event in enumerate(events) if isinstance(event, ChannelInfo)]
    for before, after in itertools.pairwise(channels):
        assert after - before > 1  # every channel has something below it
        assert events[before] != events[after]
    assert channels[-1] < len(events) - 1
    for event in events:
        if isinstance(event, ChannelInfo):
            assert event.subscribers is None or event.subscribers >= 0
            continue
        assert isinstance(event, ParsedPost | Skipped | Note)
        if isinstance(event, Skipped):
            assert event.message_id is None
            assert event.reason
            continue
        if isinstance(event, Note):
            assert event.message
            continue
        assert event.message_id is None
        assert event.date is None
        assert event.entities == []
        assert event.text == event.text.strip()
        assert "\n\n\n" not in event.text
        assert event.text or event.media
        keys = [reaction.key for reaction in event.reactions]
        assert len(keys) == len(set(keys))
        for reaction in event.reactions:
            assert reaction.key
            assert isinstance(reaction.count, int)
            assert reaction.count >= 0
        assert all(item.kind == "unsupported" for item in event.media)
        if event.link_preview is not None:
            assert event.link_preview.site
            assert event.link_preview.title


def run_mutated(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.txt"
        path.write_bytes(data)
        text_copy.sniff(path, data[:65536].decode("utf-8", errors="ignore"))
        error: ParseError | None = None
        try:
            events = list(text_copy.parse(path, ParseOptions()))
        except ParseError as exc:
            error = exc
        if error is None:
            check_well_formed(events)
        else:
            assert error.file == str(path)
            assert error.reason


def sources(exports_dir: Path) -> list[str]:
    real = [(exports_dir / "text" / name).read_text(encoding="utf-8") for name in sorted(REAL)]
    return real + FIXTURES


@st.composite
def line_mutations(draw: st.DrawFn, texts: list[str]) -> str:
    lines = draw(st.sampled_from(texts)).split("\n")
    operation = draw(st.sampled_from(["shuffle", "drop", "duplicate", "truncate", "mix"]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    if operation in ("shuffle", "mix"):
        if draw(st.booleans()):
            rng.shuffle(lines)
        else:  # shuffle a window: nearby posts trade lines
            start = rng.randrange(len(lines))
            window = lines[start : start + rng.randint(2, 12)]
            rng.shuffle(window)
            lines[start : start + len(window)] = window
    if operation in ("drop", "mix"):
        lines = [line for line in lines if rng.random() > 0.2]
    if operation in ("duplicate", "mix"):
        lines = [twice for line in lines for twice in [line] * (1 + (rng.random() < 0.2))]
    text = "\n".join(lines)
    if operation == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_line_mutations_never_crash(exports_dir: Path, data: st.DataObject) -> None:
    text = data.draw(line_mutations(sources(exports_dir)))
    run_mutated(text.encode("utf-8"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_byte_mutations_never_crash(exports_dir: Path, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(sources(exports_dir))).encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["truncate", "delete", "flip", "insert"]))
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if operation == "truncate":
            del raw[at:]
        elif operation == "delete":
            del raw[at : at + data.draw(st.integers(1, 64))]
        elif operation == "flip" and raw:
            raw[at] ^= data.draw(st.integers(1, 255))
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    run_mutated(bytes(raw))


TOKENS = ["\n", "\n\n", " ", "a", "Б", "1", ".", "K", "#tag", "@karray", "👍", "❤️", "\u200d",
          "1️⃣", "📖 Статья", " | ", "Forwarded from ", MEDIA, OPEN, VIEW, "Download Telegram",
          "12.8K subscribers", L1, L2]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=60))
def test_generated_text_never_crashes(tokens: list[str]) -> None:
    run_mutated("".join(tokens).encode("utf-8"))
