"""Similarity of two posts: shingle Jaccard, the truncated-copy score, and the numbers veto."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from pipeline.dedup.similarity import (
    DEFAULT_THRESHOLD,
    Text,
    numbers,
    numbers_agree,
    similarity,
)
from pipeline.dedup.text import tokens
from pipeline.ingest.formats import detect_format, parser_for
from pipeline.ingest.model import ParsedPost, ParseOptions
from tests.pipeline.dedup.samples import ARABIC, CHINESE, ENGLISH, RUSSIAN, SPORTS

# The default TGPIPE_DEDUP_THRESHOLD: what "the same content" means in the store.
THRESHOLD = DEFAULT_THRESHOLD

TEXTS = [ENGLISH, RUSSIAN, CHINESE, ARABIC]
IDS = ["en", "ru", "zh", "ar"]


def text(source: str) -> Text:
    return Text(tuple(tokens(source)))


def words_text(words: Sequence[str]) -> Text:
    return Text(tuple(words))


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["new", "cve", "2018", "0723"], ("20180723",)),  # groups written apart join
        (["v1", "x64", "3rd", "2"], ("1", "64", "3", "2")),  # digit runs inside words
        (["a1b22c333"], ("1", "22", "333")),
        (["november", "2018"], ("m11", "2018")),
        (["2018", "december"], ("2018", "m12")),  # in order
        (["nov", "dec", "jan"], ("m11", "m12", "m1")),
        (["may", "june"], ("m5", "m6")),
        (["ноября", "2018"], ("m11", "2018")),
        (["ноябрь", "декабрь", "январе"], ("m11", "m12", "m1")),
        (["май", "мая", "маю", "мае"], ("m5", "m5", "m5", "m5")),
        (["март", "марта", "марте"], ("m3", "m3", "m3")),
        (["июнь", "июня", "июле", "августа", "сентябрем"], ("m6", "m6", "m7", "m8", "m9")),
        (["ма", "мама", "марка", "маяк"], ()),  # stems alone or in other words are not months
        (["monthly", "novembers", "octopus"], ()),
        (["android", "security", "bulletin"], ()),
        ([], ()),
    ],
)
def test_numbers(words: list[str], expected: tuple[str, ...]) -> None:
    assert numbers(words) == expected


def test_numbers_of_folded_text() -> None:
    # Digit groups standing apart join into one number: every copy folds them the same way.
    assert numbers(tokens("Android Security Bulletin November 2018: v1.8.1014")) == (
        "m11", "2018", "1", "81014",
    )  # fmt: skip
    assert numbers(tokens("Цена 10 000 рублей")) == numbers(tokens("Цена 10000 рублей"))
    assert numbers(tokens("Итоги 15 Мая 2019 года")) == ("15", "m5", "2019")


SENTENCE = ("xss", "in", "the", "web", "panel", "a", "different", "flaw", "than")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((), (), True),
        (("price", "10", "rub"), ("price", "rub"), True),  # a copy may lose a number
        (("1", "2", "3"), ("1", "3"), True),
        (("total", "2023", "and", "20231113"), ("total", "2023", "and", "2023"), True),  # cut short
        (("price", "10", "000", "rub"), ("price", "10000", "rub"), True),  # grouped differently
        (("apt", "10", "members"), ("apt10", "members"), True),
        (("cve", "2018", "0723", "fixed"), ("cve", "2018", "0724", "fixed"), False),
        (("bulletin", "november", "2018"), ("bulletin", "december", "2018"), False),
        (("total", "2023", "more"), ("total", "2024", "more"), False),
        # Numbers are compared where they stand: as bare sequences [10, 10] and [15, 10]
        # would align as "15 added, one 10 lost".
        (("windows", "10", "users", "of", "10"), ("windows", "15", "users", "of", "10"), False),
        # The real pair (cybersecnews 1782/1783): the same sentence between two swapped ids.
        (
            ("cve", "2018", "0724", *SENTENCE, "cve", "2018", "0723"),
            ("cve", "2018", "0723", *SENTENCE, "cve", "2018", "0724"),
            False,
        ),
    ],
)
def test_numbers_agree(a: tuple[str, ...], b: tuple[str, ...], expected: bool) -> None:
    assert numbers_agree(a, b) is expected
    assert numbers_agree(b, a) is expected


# --- similarity ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", [*TEXTS, SPORTS], ids=[*IDS, "en-sports"])
def test_equal_texts_score_one(source: str) -> None:
    assert similarity(text(source), text(source)) == 1.0
    # Equal after folding is equal.
    assert similarity(text(source), text(f"🔥 {source.upper()}\n\nПодпишись на @chan")) == 1.0


@pytest.mark.parametrize("source", TEXTS, ids=IDS)
@pytest.mark.parametrize("kept", [0.7, 0.5])
def test_truncated_copy_scores_as_its_original(source: str, kept: float) -> None:
    words = tokens(source)
    cut = words[: int(len(words) * kept)]
    # Its shingles are exactly those of the original's beginning.
    assert similarity(words_text(cut), words_text(words)) == 1.0
    assert similarity(words_text(words), words_text(cut)) == 1.0


def cut_mid_word(source: str, kept: float) -> str:
    """A preview: the first ``kept`` of the characters, ending inside a word, then "…"."""
    end = int(len(source) * kept)
    while not (source[end - 1].isalpha() and source[end].isalpha()):
        end += 1
    return source[:end] + "…"


@pytest.mark.parametrize("source", [ENGLISH, RUSSIAN, ARABIC], ids=["en", "ru", "ar"])
def test_preview_cut_mid_word_is_similar(source: str) -> None:
    cut = text(cut_mid_word(source, 0.7))
    last = len(cut.words) - 1
    assert cut.words[:last] == tuple(tokens(source)[:last])
    assert cut.words[last] != tokens(source)[last]  # the broken word
    score = similarity(cut, text(source))
    assert THRESHOLD <= score < 1.0


def test_chinese_preview_keeps_every_character_word() -> None:
    # One word per character: a cut never breaks a word.
    assert similarity(text(CHINESE[:40] + "…"), text(CHINESE)) == 1.0


def edit(words: list[str], share: float) -> list[str]:
    """Replace every n-th word (``share`` of them), away from the numbers."""
    step = round(1 / share)
    return [f"edited{i}" if i % step == step // 2 else w for i, w in enumerate(words)]


@pytest.mark.parametrize("source", TEXTS, ids=IDS)
def test_light_edit_is_similar(source: str) -> None:
    words = tokens(source)
    edited = edit(words, 0.05)
    assert edited != words
    assert sum(a != b for a, b in zip(words, edited, strict=True)) <= max(1, len(words) // 15)
    score = similarity(words_text(edited), words_text(words))
    assert THRESHOLD <= score < 1.0


@pytest.mark.parametrize("source", TEXTS, ids=IDS)
def test_heavy_edit_is_not_similar(source: str) -> None:
    words = tokens(source)
    # A third of the words rewritten: about a fifth of the word pairs survive.
    assert similarity(words_text(edit(words, 0.34)), words_text(words)) < THRESHOLD / 2


@pytest.mark.parametrize(
    ("left", "right"),
    [(ENGLISH, SPORTS), (ENGLISH, RUSSIAN), (RUSSIAN, CHINESE), (CHINESE, ARABIC)],
)
def test_unrelated_texts_are_not_similar(left: str, right: str) -> None:
    assert similarity(text(left), text(right)) < 0.1


def test_word_order_counts() -> None:
    words = tokens(ENGLISH)
    assert similarity(words_text(words[::-1]), words_text(words)) < 0.1


# Found by the import-order invariant: an intro and a CVE notice in one order, the other
# notice (one number apart) and the intro in the other. difflib aligned them differently by
# argument order, so the number veto held one way and not the other.
REPOST = (
    "Коллеги из соседнего канала пишут об этом подробнее, чем все остальные, поэтому публикуем "
    "их текст целиком и без сокращений:\n\n🔥 также New vulnerability CVE-2021-1235 in a popular "
    "VPN appliance allows an unauthenticated attacker to read arbitrary files from the device. "
    "The vendor has published fixed firmware and recommends updating immediately; there is "
    "также workaround. Scans for vulnerable dev\n\nПодписывайтесь на @chan"
)
OTHER_CVE = (
    "New vulnerability CVE-2021-1234 in a popular VPN appliance allows an unauthenticated "
    "также to read arbitrary files from the device. The vendor has published fixed firmware and "
    "recommends updating immediately; there is no также Scans for vulnera\n\nКоллеги из "
    "соседнего канала пишут об этом подробнее, чем все остальные, поэтому публикуем их текст "
    "целиком и без сокращений:\n\nПодписывайтесь на @chan"
)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (ENGLISH, SPORTS),
        (RUSSIAN, ENGLISH),
        (CHINESE, CHINESE[:40]),
        (ARABIC, ARABIC.replace("جديدة", "قديمة")),
        (REPOST, OTHER_CVE),
    ],
)
def test_similarity_is_symmetric(left: str, right: str) -> None:
    assert similarity(text(left), text(right)) == similarity(text(right), text(left))


CVE = (
    "ATENTION‼ New - CVE-2018-{0}\n\nCross-site scripting (XSS) vulnerability in Q'center "
    "Virtual Appliance 1.8.1014 and earlier versions could allow remote attackers to inject "
    "Javascript code in the compromised application, a different vulnerability than "
    'CVE-2018-{1}.\n\n📖 Read\n\nvia "National Vulnerability Database".'
)
BULLETIN = (
    "🔐 Android Security Bulletin {} 2018: What you need to know 🔐\n\nAnother month where "
    "Android finds itself with a mixture of Critical and High vulnerabilities. Jack Wallen "
    "offers highlights."
)
DIGEST = (
    "Дайджест новостей машинного обучения за {}: новые модели, статьи и инструменты, "
    "которые стоит посмотреть."
)
RELEASE = (
    "Released version {} of the library with faster parsing, better error messages and "
    "support for the new export format."
)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (CVE.format("0723", "0724"), CVE.format("0724", "0723")),
        (CVE.format("0723", "0722"), CVE.format("0724", "0722")),
        (BULLETIN.format("November"), BULLETIN.format("December")),
        (BULLETIN.format("Nov"), BULLETIN.format("Dec")),
        (DIGEST.format("ноябрь"), DIGEST.format("декабрь")),
        (DIGEST.format("мая"), DIGEST.format("июня")),
        (RELEASE.format("2.4.1"), RELEASE.format("2.4.2")),
    ],
)
def test_template_posts_differing_only_in_a_number_score_zero(left: str, right: str) -> None:
    # Without the veto these would be near duplicates: almost every shingle is shared.
    assert similarity(text(left), text(left)) == 1.0
    assert similarity(text(left), text(right)) == 0.0
    assert similarity(text(right), text(left)) == 0.0


@pytest.mark.parametrize("floor", [0.3, THRESHOLD, 0.9])
@pytest.mark.parametrize(
    ("left", "right"),
    [
        (CVE.format("0723", "0722"), CVE.format("0724", "0722")),  # vetoed
        (RELEASE.format("2.4.1"), RELEASE.format("2.4.1") + " Thanks to 12 contributors!"),
        (ENGLISH, ENGLISH.replace("a", "o", 3)),
    ],
)
def test_a_floor_spares_the_veto_only_where_the_caller_drops_the_score(
    left: str, right: str, floor: float
) -> None:
    # The clusterer keeps scores from its threshold on: below it, the veto's verdict cannot
    # matter, and for what it keeps the answer is the same as without a floor.
    a, b = text(left), text(right)
    floored, full = similarity(a, b, floor=floor), similarity(a, b)
    assert (floored >= floor) == (full >= floor)
    if full >= floor:
        assert floored == full


def test_the_veto_is_not_checked_below_the_floor() -> None:
    a, b = text(CVE.format("0723", "0722")), text(CVE.format("0724", "0722"))
    assert similarity(a, b) == 0.0
    assert 0.6 < similarity(a, b, floor=0.99) < 0.99  # the score as it is, not vetoed


def test_a_copy_that_lost_a_number_is_still_similar() -> None:
    full = text(RELEASE.format("2.4.1") + " Thanks to 12 contributors!")
    cut = text(RELEASE.format("2.4.1"))
    assert similarity(cut, full) >= THRESHOLD


def test_too_short_for_a_shingle_scores_zero() -> None:
    # No shingles, nothing to compare (such texts are never compared by content anyway).
    assert similarity(Text(("alone",)), Text(("alone",))) == 0.0
    assert similarity(Text(()), text(ENGLISH)) == 0.0


def test_shingles_are_the_distinct_word_pairs() -> None:
    assert Text(()).shingles == Text(("one",)).shingles == frozenset()
    assert len(Text(("a", "b", "a", "b", "c")).shingles) == 3  # ab, ba, ab, bc
    pair = Text(("hello", "world")).shingles
    assert len(pair) == 1
    assert pair < Text(("say", "hello", "world", "again")).shingles
    assert pair.isdisjoint(Text(("world", "hello")).shingles)  # order counts


def test_text_precomputes_numbers_and_shingles() -> None:
    found = text(BULLETIN.format("November"))
    assert found.numbers == ("m11", "2018")
    assert len(found.shingles) == len(found.words) - 1  # no repeated pair in this text


# --- real posts ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cybersec(exports_dir: Path) -> dict[int, Text]:
    """Texts of the 2018 security news export by message id."""
    path = exports_dir / "desktop" / "cybersecnews-2018-messages2.html"
    parser = parser_for(detect_format(path))
    return {
        event.message_id: text(event.text)
        for event in parser.parse(path, ParseOptions())
        if isinstance(event, ParsedPost) and event.message_id is not None
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [(1782, 1783), (1184, 1521)],
    ids=["CVE-2018-0724/0723", "bulletin-november/december"],
)
def test_real_template_posts_are_distinct(cybersec: dict[int, Text], a: int, b: int) -> None:
    assert similarity(cybersec[a], cybersec[b]) == 0.0


def test_real_duplicate_is_similar(cybersec: dict[int, Text]) -> None:
    # "APT 10" / "APT10": the same article announced twice.
    score = similarity(cybersec[1738], cybersec[1760])
    assert THRESHOLD <= score < 1.0
    assert cybersec[1738].numbers == cybersec[1760].numbers == ("2", "10")


def test_real_truncated_copy(cybersec: dict[int, Text]) -> None:
    words = cybersec[1738].words
    cut = Text(words[: int(len(words) * 0.7)])
    assert similarity(cut, cybersec[1738]) == 1.0
    assert similarity(cut, cybersec[1760]) >= THRESHOLD
