"""What dedup compares: folding, boilerplate lines, tokens, the comparability floor, hashes."""

from __future__ import annotations

import pytest

from pipeline.dedup import text
from pipeline.dedup.text import comparable_text, content_hash, is_comparable, tokens

# --- folding: texts that must read the same ------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Hello, World!", "hello world"),
        ("ПРИВЕТ, МИР!", "привет мир"),
        ("Straße", "STRASSE"),  # casefold, not lower(): ß folds to ss
        ("ΟΔΟΣ", "οδος"),  # Greek final sigma folds with capital sigma
        ("ＨＥＬＬＯ　ｗｏｒｌｄ", "hello world"),  # NFKC: full-width letters and space
        ("ﬁne print", "fine print"),  # NFKC: ligature
        ("ｶﾀｶﾅ", "カタカナ"),  # NFKC: half-width katakana
        ("a\u00a0b", "a b"),  # no-break space
        ("cafe\u0301", "caf\u00e9"),  # decomposed and precomposed accent
        ("приве\u0301т мир", "привет мир"),  # Russian stress mark (no precomposed form)
        ("İstanbul", "istanbul"),  # casefold leaves a combining dot above
        ("بِسْمِ اللَّهِ الرَّحْمَنِ الرَّحِيمِ", "بسم الله الرحمن الرحيم"),  # Arabic harakat
        ("Ракета 🚀 взлетела 🔥🔥", "ракета взлетела"),  # emoji are not words
        ("one  two\n\n\nthree\t four", "one two three four"),  # whitespace and line breaks
        ("line1\r\nline2", "line1\nline2"),
        ("«Цитата» — (в скобках)...", "цитата в скобках"),  # punctuation
        ("see https://example.com/a?b=1 now", "see now"),
        ("see HTTPS://EXAMPLE.COM/A now", "see now"),
        ("join t.me/somechannel today", "join today"),
        ("visit www.example.org today", "visit today"),
        ("read telegram.me/chan/12 later", "read later"),
    ],
)
def test_folds_to_the_same_tokens(left: str, right: str) -> None:
    assert tokens(left) == tokens(right)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Привет, мир! 🚀", ["привет", "мир"]),
        ("2018-0723", ["2018", "0723"]),
        ("snake_case x_y", ["snake", "case", "x", "y"]),  # underscore separates words
        ("①②", ["12"]),
        ("Ⅻ", ["xii"]),
        ("1️⃣ First", ["1", "first"]),  # keycap: variation selector and enclosing mark dropped
        ("Issue #1234 fixed", ["issue", "1234", "fixed"]),  # all digits: not a hashtag
        ("press@company.com wrote", ["press", "company", "com", "wrote"]),
        ("बिल्ली", ["बलल"]),  # Indic vowel signs and virama are marks: removed, word kept
        ("", []),
        ("👍", []),
        ("...", []),
    ],
)
def test_tokens(source: str, expected: list[str]) -> None:
    assert tokens(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("我爱北京天安门", ["我", "爱", "北", "京", "天", "安", "门"]),
        ("日本語のテキスト", ["日", "本", "語", "の", "テ", "キ", "ス", "ト"]),
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),
        ("我爱Python编程", ["我", "爱", "python", "编", "程"]),  # Latin inside stays one word
        ("ﾃｽﾄ", ["テ", "ス", "ト"]),
        ("\uf900\uf901", ["\u8c48", "\u66f4"]),  # compatibility ideographs: NFKC maps them
        ("\ufa0e\ufa0f", ["\ufa0e", "\ufa0f"]),  # ...except these, in the block as they are
    ],
)
def test_scripts_without_spaces_are_one_word_per_character(
    source: str, expected: list[str]
) -> None:
    assert tokens(source) == expected


def test_astral_ideographs_stay_one_word() -> None:
    # Documented: ranges outside the BMP are left out of the per-character class.
    assert tokens("𠀀𠀁 text") == ["𠀀𠀁", "text"]


def test_comparable_text_is_folded_not_tokenised() -> None:
    # Punctuation and emoji stay in comparable_text; only tokens() drops them.
    assert comparable_text("Привет, МИР! 🚀") == "привет, мир! 🚀"
    assert comparable_text("A\n\nB") == "a\nb"  # empty lines dropped


def test_comparable_text_removes_links_but_keeps_the_line() -> None:
    assert comparable_text("Paper: https://arxiv.org/abs/1706.03762 (2017)") == "paper:   (2017)"


# --- boilerplate lines ---------------------------------------------------------------------

BODY = "Исследователи представили новую модель для перевода текста"


@pytest.mark.parametrize(
    "footer",
    [
        "Подпишись на @nn_for_science",
        "Подписывайтесь на наш канал: https://t.me/somechannel",
        "Подпишись на канал 👉 @channel",
        "@channel",
        "@channel @other_channel",
        "#новости #ai",
        "https://example.com/article/42",
        "t.me/somechannel",
        "Источник: @ria_news",
        "Автор: @ivan_petrov",
        "via @techcrunch",
        "Source: https://www.reuters.com/tech/x",
        "Subscribe to our channel: https://t.me/x",
        "Follow us on Telegram: @chan",
        "Join us @chan",
        "订阅我们的频道 @chan",
        "关注我们 @chan",
        "来源：@xxx",
        "SUBSCRIBE → @Channel_Name",  # case folded before the check
    ],
)
def test_boilerplate_footer_is_dropped(footer: str) -> None:
    assert tokens(f"{BODY}\n{footer}") == tokens(BODY)
    assert tokens(f"{BODY}\n\n{footer}\n") == tokens(BODY)


@pytest.mark.parametrize(
    "footer",
    ["Подпишись на @nn_for_science", "@channel", "#news", "https://example.com/x"],
)
def test_boilerplate_is_dropped_on_any_line(footer: str) -> None:
    assert tokens(f"{footer}\n{BODY}\n{footer}") == tokens(BODY)


def test_a_number_sign_line_is_content() -> None:
    # "#1234" is no hashtag to Telegram (all digits): an issue or episode number, compared.
    assert tokens(f"{BODY}\n#1234") == [*tokens(BODY), "1234"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Naming a channel is not enough: the line must say nothing else.
        ("Встреча с @alice на конференции", ["встреча", "с", "alice", "на", "конференции"]),
        ("Read the paper: https://arxiv.org/abs/1", ["read", "the", "paper"]),
        ("#python tips for beginners", ["tips", "for", "beginners"]),  # tags are not compared
        ("via @foo and more stuff", ["via", "foo", "and", "more", "stuff"]),
        # Without a mention or link, call words are ordinary words.
        ("Подпишись на канал", ["подпишись", "на", "канал"]),
        ("Learn C# today", ["learn", "c", "today"]),
        ("# Heading", ["heading"]),  # markdown heading, not a hashtag
        ("write to a@b.com", ["write", "to", "a", "b", "com"]),  # "@b" is too short to name
    ],
)
def test_content_lines_are_kept(line: str, expected: list[str]) -> None:
    assert tokens(line) == expected


def test_only_boilerplate_leaves_nothing() -> None:
    assert comparable_text("Подпишись на @chan\nhttps://t.me/chan\n#tag") == ""
    assert tokens("Подпишись на @chan\nhttps://t.me/chan\n#tag") == []


# --- comparability and hashes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], False),
        (["photo", "of", "the", "day"], False),  # 4 words but 13 characters
        (["abcdef"] * 4, True),  # exactly MIN_TOKENS words and MIN_TOKEN_CHARS characters
        (["abcdef"] * 3 + ["abcde"], False),  # one character short
        (["abcdefghijklmnop"] * 3, False),  # long enough but 3 words
        (list("我爱北京天安门") * 3, False),  # 21 characters
        (list("我爱北京天安门") * 4, True),  # 28 one-character words
    ],
)
def test_is_comparable(words: list[str], expected: bool) -> None:
    assert is_comparable(words) is expected


def test_comparability_floor_constants() -> None:
    # The cases above are written against these values.
    assert (text.MIN_TOKENS, text.MIN_TOKEN_CHARS) == (4, 24)


@pytest.mark.parametrize("source", ["👍", ".", "Photo of the day", "", "Подпишись на @chan"])
def test_short_posts_are_not_comparable(source: str) -> None:
    assert not is_comparable(tokens(source))


def test_content_hash_is_stable() -> None:
    # Stored in posts.content_hash: a change here silently splits existing duplicates.
    assert content_hash(["hello", "world"]) == "f0e4a9f7eee05a2ee2264ae351dbee2e"


def test_content_hash_follows_words() -> None:
    left = tokens("Новость дня: курс рубля вырос 🚀\nПодпишись на @chan")
    right = tokens("НОВОСТЬ ДНЯ — курс   рубля вырос")
    assert content_hash(left) == content_hash(right)
    assert content_hash(left) != content_hash(tokens("Новость дня: курс рубля упал"))
    # Word boundaries count, not just the characters.
    assert content_hash(["ab", "c"]) != content_hash(["a", "bc"])
    assert content_hash(["a", "b"]) != content_hash(["b", "a"])
    digest = content_hash(left)
    assert len(digest) == 32
    assert int(digest, 16) >= 0  # hex


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["cve", "2018", "0723"], ["2018", "0723"]),
        (["x64", "v1", "3rd"], ["64", "1", "3"]),
        (["november", "2018"], ["2018"]),  # no month names at this level
        (["alpha", "beta"], []),
    ],
)
def test_text_numbers(words: list[str], expected: list[str]) -> None:
    assert text.numbers(words) == expected
