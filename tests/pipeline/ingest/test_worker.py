"""The parser process: it loads the parsers and the dedup maths, never the store."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_startup import loaded_after

# The store's libraries: a parser process that loaded them paid ~20 MB and 0.2 s for nothing.
STORE = ("sqlalchemy", "aiosqlite", "asyncpg", "alembic", "pydantic_settings")


def test_the_parser_process_never_loads_the_store(tmp_path: Path) -> None:
    code = (
        "import pipeline.ingest.worker\n"
        "from pipeline.ingest.formats import FORMATS, parser_for\n"
        "for name in FORMATS: parser_for(name)"
    )
    loaded = loaded_after(code, tmp_path)
    assert "numpy" in loaded  # the probe sees what the worker imports
    assert sorted(loaded.intersection(STORE)) == []
