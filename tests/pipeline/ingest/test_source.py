"""Encoding detection: which bytes are which text, judged on the text, not on the markup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ParseError
from pipeline.ingest.source import detect_encoding, read_text

FIXTURES = Path(__file__).parent / "fixtures"


def json_export(texts: list[str], name: str) -> str:
    """A Desktop JSON export of one channel, laid out as tdesktop writes it."""
    messages = [
        {
            "id": number,
            "type": "message",
            "date": "2024-03-01T10:15:00",
            "date_unixtime": "1709277300",
            "from": name,
            "from_id": "channel1500000001",
            "photo": f"photos/photo_{number}@01-03-2024_10-15-00.jpg",
            "photo_file_size": 84213,
            "width": 1280,
            "height": 960,
            "text": text,
            "text_entities": [{"type": "plain", "text": text}],
        }
        for number, text in enumerate(texts, 1)
    ]
    data = {"name": name, "type": "public_channel", "id": 1500000001, "messages": messages}
    return json.dumps(data, ensure_ascii=False, indent=1)


def html_page(texts: list[str]) -> str:
    """Desktop HTML markup around ``texts``; its letters are nearly all markup."""
    blocks = "".join(
        f'<div class="message default clearfix" id="message{number}"><div class="pull_left '
        f'userpic_wrap"><div class="userpic userpic2" style="width: 42px; height: 42px">'
        f'<div class="initials" style="line-height: 42px">N</div></div></div><div class="body">'
        f'<div class="pull_right date details" title="01.03.2024 10:15:00 UTC+03:00">10:15'
        f'</div><div class="text">{text}</div></div></div>'
        for number, text in enumerate(texts, 1)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"/><title>Exported Data</title>'
        '<link href="css/style.css" rel="stylesheet"/></head><body onload="CheckLocation();">'
        f'<div class="page_wrap"><div class="history">{blocks}</div></div></body></html>'
    )


RUSSIAN = ["Сегодня открылся парк.", "Фото с открытия", "Спасибо!"]
FRENCH = ["Voilà le café d'été.", "Très bien, à bientôt!", "Où est la fenêtre?"]
GERMAN = ["Schöne Grüße aus München.", "Für alle Mädchen und Jungen."]
PORTUGUESE = ["O livro é bom e a casa é grande, não é?", "Até já, é já amanhã."]


@pytest.mark.parametrize(
    ("text", "encoding", "detected"),
    [
        (json_export(RUSSIAN, "Новости района"), "cp1251", "cp1251"),
        (json_export(RUSSIAN, "Rayon news"), "cp1251", "cp1251"),
        (html_page(RUSSIAN), "cp1251", "cp1251"),
        (html_page(["Новости: 5 fresh items from Moscow, see https://example.org/news"]),
         "cp1251", "cp1251"),
        ("Завтра отключат воду.\nС 10 до 14 часов.\n", "cp1251", "cp1251"),
        (html_page(["Українські новини: їжак, ґанок, є"]), "cp1251", "cp1251"),
        (json_export(RUSSIAN, "Новости района"), "utf-8", "utf-8"),
        (html_page(FRENCH), "utf-8", "utf-8"),
        (html_page(FRENCH), "utf-16", "utf-16"),
        (html_page(FRENCH), "cp1252", None),
        (json_export(GERMAN, "Nachrichten"), "cp1252", None),
        (json_export(PORTUGUESE, "Notícias"), "cp1252", None),
        ("-- « » — …\n", "cp1251", None),  # no letters to tell by
    ],
    ids=[
        "ru-json", "ru-json-latin-name", "ru-html", "ru-html-mixed", "ru-text", "uk-html",
        "utf8-json", "utf8-html", "utf16-html", "fr-cp1252-html", "de-cp1252-json",
        "pt-cp1252-json", "punctuation-only",
    ],
)  # fmt: skip
def test_detect_encoding(text: str, encoding: str, detected: str | None) -> None:
    data = text.encode(encoding)
    if detected is None:
        with pytest.raises(ParseError, match="unknown text encoding"):
            detect_encoding(data, "export.json")
    else:
        assert detect_encoding(data, "export.json") == detected


@pytest.mark.parametrize("name", ["result.json", "messages.html"])
def test_a_cp1251_export_reads_as_its_utf8_original(tmp_path: Path, name: str) -> None:
    original = FIXTURES / "russian" / name
    path = tmp_path / name
    path.write_bytes(original.read_text(encoding="utf-8").encode("cp1251"))
    assert read_text(path) == read_text(original)
